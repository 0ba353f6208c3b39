"""The browser tests wait on what Playwright's callbacks collect through the page.

Playwright's sync API runs a test's route handlers and `page.on` listeners only while the test is
inside a Playwright call. conftest.wait_for sleeps between checks unless it is given the page, so
a check that reads only what such a callback fills (a list of held routes, of requests heard)
never sees a change made after the wait began. This reads the browser tests and names every
wait_for without `page=` whose check reads a name a callback fills and does not call Playwright.
"""

from __future__ import annotations

import ast
import itertools

import pytest

from tests.builders import ROOT

BROWSER_TESTS = sorted((ROOT / "tests" / "e2e").glob("test_web_*.py"))
REGISTERS = {"route", "route_web_socket", "on", "once", "on_message", "on_close"}
FILLS = {"append", "extend", "insert", "add", "remove", "pop", "clear", "update", "discard"}


def _filled(handler: ast.AST) -> set[str]:
    """The names a callback fills: `held.append` handed over as it is, `x.append(…)` or
    `x[i] = …` in its body."""
    if isinstance(handler, ast.Attribute) and isinstance(handler.value, ast.Name):
        return {handler.value.id} if handler.attr in FILLS else set()
    names: set[str] = set()
    for node in ast.walk(handler):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in FILLS
            and isinstance(node.func.value, ast.Name)
        ):
            names.add(node.func.value.id)
        elif (
            isinstance(node, ast.Subscript)
            and isinstance(node.ctx, ast.Store)
            and isinstance(node.value, ast.Name)
        ):
            names.add(node.value.id)
    return names


def _defs(function: ast.AST) -> dict[str, ast.AST]:
    return {
        node.name: node
        for node in ast.walk(function)
        if isinstance(node, ast.FunctionDef) and node is not function
    }


def _fed(function: ast.AST, helpers: dict[str, set[int]]) -> set[str]:
    """The names in `function` that its callbacks fill, and those bound to what a helper that
    registers callbacks returns filled (`keys = ratings_sent(page, …)`)."""
    nested = _defs(function)
    fed: set[str] = set()
    for node in ast.walk(function):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        if node.func.attr in REGISTERS and node.args:
            handler = node.args[-1]
            if isinstance(handler, ast.Name) and handler.id in nested:
                handler = nested[handler.id]
            fed |= _filled(handler)
    for node in ast.walk(function):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            called = node.value.func
            name = called.id if isinstance(called, ast.Name) else getattr(called, "attr", None)
            if name not in helpers:
                continue
            for target in node.targets:
                bound = target.elts if isinstance(target, ast.Tuple) else [target]
                for i, each in enumerate(bound):
                    if isinstance(each, ast.Name) and i in helpers[name]:
                        fed.add(each.id)
    return fed


def _returned_fed(function: ast.FunctionDef) -> set[int]:
    """Which of a helper's returned values (by position) its callbacks fill."""
    fed = _fed(function, {})
    positions: set[int] = set()
    for node in ast.walk(function):
        if isinstance(node, ast.Return) and node.value is not None:
            values = node.value.elts if isinstance(node.value, ast.Tuple) else [node.value]
            positions |= {
                i for i, v in enumerate(values) if isinstance(v, ast.Name) and v.id in fed
            }
    return positions


def sleeping_waits_on_callbacks(source: str, helpers: dict[str, set[int]]) -> list[str]:
    """Each `wait_for(check)` without `page=` whose check reads a callback-filled name and
    calls no Playwright wait of its own, as "line: check"."""
    tree = ast.parse(source)
    found = []
    for function in tree.body:
        if not isinstance(function, ast.FunctionDef):
            continue
        fed = _fed(function, helpers)
        nested = _defs(function)
        for node in ast.walk(function):
            if not (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "wait_for"
                and node.args
                and not any(keyword.arg == "page" for keyword in node.keywords)
            ):
                continue
            check = node.args[0]
            body = nested.get(check.id, check) if isinstance(check, ast.Name) else check
            read = {n.id for n in ast.walk(body) if isinstance(n, ast.Name)}
            pumps = any(
                isinstance(n, ast.Attribute) and n.attr.startswith("wait_for_")
                for n in ast.walk(body)
            )
            if read & fed and not pumps:
                found.append(f"{node.lineno}: {ast.get_source_segment(source, check)}")
    return found


def module_helpers(sources: list[str]) -> dict[str, set[int]]:
    """The module-level helpers (not tests) that return what their callbacks fill."""
    helpers: dict[str, set[int]] = {}
    for source in sources:
        for function in ast.parse(source).body:
            if (
                isinstance(function, ast.FunctionDef)
                and not function.name.startswith("test_")
                and (positions := _returned_fed(function))
            ):
                helpers[function.name] = positions
    return helpers


HELPERS = module_helpers([path.read_text() for path in BROWSER_TESTS])


@pytest.mark.parametrize("path", BROWSER_TESTS, ids=lambda path: path.name)
def test_no_browser_test_sleeps_while_it_waits_on_what_a_callback_collects(path: object) -> None:
    assert sleeping_waits_on_callbacks(path.read_text(), HELPERS) == []  # type: ignore[attr-defined]


SAMPLE = """
def sent(page):
    keys = []
    page.route("**/ratings", lambda route: (keys.append(1), route.continue_()))
    return keys

def test_sample(page, web):
    held = []
    heard = []
    page.route("**/talks/*", held.append)
    page.on("request", lambda request: heard.append(request))
    keys = sent(page)

    def reads():
        return [route for route in held if route.request.url]

    assert wait_for(lambda: held)
    assert wait_for(reads, seconds=30)
    assert wait_for(lambda: len(heard) > 1)
    assert wait_for(lambda: len(keys) == 2)
    assert wait_for(lambda: held, page=page)
    assert wait_for(lambda: page.wait_for_timeout(50) or held)
    assert wait_for(lambda: web.count("t") == 1)
"""


def test_the_check_names_the_waits_that_sleep_on_a_route_s_or_a_listener_s_list() -> None:
    found = sleeping_waits_on_callbacks(SAMPLE, module_helpers([SAMPLE]))
    assert found == [
        "17: lambda: held",
        "18: reads",
        "19: lambda: len(heard) > 1",
        "20: lambda: len(keys) == 2",
    ]


# What the page shows only in answer to the test's own action, never by a read of its own later:
# an expect of it takes conftest.REACTION_MS, which no later poll can pass in its place.
ANSWERS = {("get_by_test_id", "admin-message")}
REACTIONS = {"to_be_focused"}


def _an_answer(node: ast.AST, bound: set[str]) -> bool:
    """`….get_by_test_id("admin-message")`, or a name bound to it in the test."""
    if isinstance(node, ast.Name):
        return node.id in bound
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and len(node.args) == 1
        and isinstance(node.args[0], ast.Constant)
        and (node.func.attr, node.args[0].value) in ANSWERS
    )


def reactions_on_the_default_timeout(source: str) -> list[ast.Call]:
    """Each positive `expect(…)` assertion on the organisers' message, each
    `to_be_focused()`, and the first after an Edit button's click, given no timeout of its
    own."""
    found = []
    for function in ast.parse(source).body:
        if not isinstance(function, ast.FunctionDef):
            continue
        bound = {
            target.id
            for node in ast.walk(function)
            if isinstance(node, ast.Assign) and _an_answer(node.value, set())
            for target in node.targets
            if isinstance(target, ast.Name)
        }
        for node in ast.walk(function):
            if not (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Call)
                and isinstance(node.func.value.func, ast.Name)
                and node.func.value.func.id == "expect"
                and node.func.value.args
                and not node.func.attr.startswith("not_")
                and not any(keyword.arg == "timeout" for keyword in node.keywords)
            ):
                continue
            if node.func.attr in REACTIONS or _an_answer(node.func.value.args[0], bound):
                found.append(node)
        found += _first_expects_after_an_edit(function)
    return sorted(found, key=lambda node: node.lineno)


def _a_call_of(node: ast.AST, method: str) -> bool:
    """`….<method>(…)` called on what a call answered (a locator: `page.get_by_…(…).<method>`)."""
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == method
        and isinstance(node.func.value, ast.Call)
    )


def _an_edit_click(node: ast.AST) -> bool:
    """`….get_by_role("button", name="Edit …" or f"Edit …").click()`: a talk's form opened."""
    if not _a_call_of(node, "click"):
        return False
    for keyword in node.func.value.keywords:
        if keyword.arg != "name":
            continue
        first = (
            keyword.value.values[0] if isinstance(keyword.value, ast.JoinedStr) else keyword.value
        )
        return isinstance(first, ast.Constant) and str(first.value).startswith("Edit ")
    return False


def _first_expects_after_an_edit(function: ast.FunctionDef) -> list[ast.Call]:
    """The first positive `expect(…)` assertion after each click on an Edit button, given no
    timeout of its own: the form that click opens, or what the test's next action in it brings
    (a save's word), is the page's answer to the test."""
    found = []
    opened = False
    calls = sorted(
        (node for node in ast.walk(function) if isinstance(node, ast.Expr)),
        key=lambda node: (node.lineno, node.col_offset),
    )
    for statement in calls:
        call = statement.value
        if _an_edit_click(call):
            opened = True
        elif (
            opened
            and isinstance(call, ast.Call)
            and isinstance(call.func, ast.Attribute)
            and isinstance(call.func.value, ast.Call)
            and isinstance(call.func.value.func, ast.Name)
            and call.func.value.func.id == "expect"
            and not call.func.attr.startswith("not_")
        ):
            opened = False
            if not any(keyword.arg == "timeout" for keyword in call.keywords):
                found.append(call)
    return found


@pytest.mark.parametrize("path", BROWSER_TESTS, ids=lambda path: path.name)
def test_a_wait_for_the_page_s_answer_to_the_test_s_action_is_given_time_on_a_loaded_machine(
    path: object,
) -> None:
    source = path.read_text()  # type: ignore[attr-defined]
    found = reactions_on_the_default_timeout(source)
    assert [f"{n.lineno}: {ast.get_source_segment(source, n)}" for n in found] == []


REACTION_SAMPLE = """
def test_sample(page, organiser):
    message = page.get_by_test_id("admin-message")
    expect(message).to_have_text("Saved")
    expect(organiser.get_by_test_id("admin-message")).to_contain_text("Saved")
    expect(page.get_by_role("button", name="Edit")).to_be_focused()
    expect(message).to_have_text("Deleted", timeout=REACTION_MS)
    expect(page.get_by_role("heading")).to_be_focused(timeout=REACTION_MS)
    expect(message).not_to_contain_text("Imported")
    expect(page.get_by_test_id("total")).to_have_text("1 rating")
    organiser.get_by_role("button", name=f"Edit {title}").click()
    expect(organiser.get_by_label("Starts")).to_have_value("2026-10-25T02:30")
    expect(organiser.get_by_label("Ends")).to_have_value("2026-10-25T03:30")
    organiser.get_by_role("button", name="Edit Keynote").click()
    expect(organiser.get_by_label("Title")).to_have_value("Keynote", timeout=REACTION_MS)
"""


def test_the_check_names_the_waits_for_an_answer_left_at_playwright_s_default() -> None:
    found = reactions_on_the_default_timeout(REACTION_SAMPLE)
    assert [node.lineno for node in found] == [4, 5, 6, 12]


def _a_search_typed(node: ast.AST) -> bool:
    """`….fill(…)` on the talks' search box (by its role or its label)."""
    if not _a_call_of(node, "fill"):
        return False
    named = [*node.func.value.args, *(keyword.value for keyword in node.func.value.keywords)]
    return any(isinstance(arg, ast.Constant) and arg.value == "Search talks" for arg in named)


def clicks_before_the_search_applies(source: str) -> list[int]:
    """The lines of each click that follows a search typed in the talks' search box with no
    wait between them: the list is filtered 120 ms after the typing, and a click in between
    lands where a row or a card was before it moved (the form it was to open never opened)."""
    found = []
    for function in ast.parse(source).body:
        if not isinstance(function, ast.FunctionDef):
            continue
        statements = sorted(
            (node for node in ast.walk(function) if isinstance(node, ast.Expr)),
            key=lambda node: (node.lineno, node.col_offset),
        )
        for typed, then in itertools.pairwise(statements):
            call = then.value
            if (
                _a_search_typed(typed.value)
                and isinstance(call, ast.Call)
                and isinstance(call.func, ast.Attribute)
                and call.func.attr == "click"
            ):
                found.append(then.lineno)
    return found


@pytest.mark.parametrize("path", BROWSER_TESTS, ids=lambda path: path.name)
def test_a_click_waits_for_the_search_typed_before_it_to_apply(path: object) -> None:
    source = path.read_text()  # type: ignore[attr-defined]
    assert clicks_before_the_search_applies(source) == []


SEARCH_SAMPLE = """
def test_sample(page, organiser):
    organiser.get_by_role("searchbox", name="Search talks").fill(stem)
    organiser.get_by_role("button", name=f"Edit {stem}").click()
    page.get_by_label("Search talks").fill(title)
    page.get_by_role("link", name=title).click()
    page.get_by_label("Search talks").fill(title)
    expect(page.locator(".talk-card")).to_have_count(1)
    page.get_by_role("link", name=title).click()
    page.get_by_label("Title").fill(title)
    page.get_by_role("button", name="Save").click()
"""


def test_the_check_names_a_click_right_after_a_search_is_typed() -> None:
    assert clicks_before_the_search_applies(SEARCH_SAMPLE) == [4, 6]
