"""The switches the browser tests start Chromium with (test_web_app.CHROMIUM_ARGS) do what their
comments say: Playwright's own disabled features are kept, and a browser context starts no
renderer for the address bar's popups, which no test shows."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from contextlib import suppress

import psutil
import pytest
from playwright.sync_api import sync_playwright

from tests.e2e.test_web_app import (
    CHROMIUM,
    CHROMIUM_ARGS,
    PLAYWRIGHT_DISABLED_FEATURES,
    UNSHOWN_FEATURES,
    chromium_args,
)

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


def _launched(
    args: Sequence[str], seconds: float, enough: Callable[[list[list[str]]], bool]
) -> tuple[list[list[str]], list[list[str]]]:
    """Start Chromium with `args`, open two contexts of a page each, each kept open `seconds`
    or until the renderers seen are `enough`, and answer the browser process's
    `--disable-features` switches (each a list of names, in the order given) and the command
    lines of the renderers it started meanwhile."""
    seen: dict[int, list[str]] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=list(args))
        try:
            descendants = psutil.Process().children(recursive=True)
            [main] = [p for p in descendants if p.name() == "chromium" and _is_browser(p)]
            for _ in range(2):
                context = browser.new_context()
                page = context.new_page()
                page.set_content("<p>a page</p>")
                deadline = time.monotonic() + seconds
                while time.monotonic() < deadline and not enough(_renderers(seen)):
                    for process in main.children(recursive=True):
                        with suppress(psutil.NoSuchProcess):
                            seen[process.pid] = process.cmdline()
                    page.wait_for_timeout(100)
                context.close()
            switches = [
                arg.removeprefix("--disable-features=").split(",")
                for arg in main.cmdline()
                if arg.startswith("--disable-features=")
            ]
        finally:
            browser.close()
    return switches, _renderers(seen)


def _renderers(seen: dict[int, list[str]]) -> list[list[str]]:
    return [line for line in seen.values() if "--type=renderer" in line]


def _address_bar(renderers: list[list[str]]) -> list[list[str]]:
    return [line for line in renderers if "--top-chrome-webui" in line]


def _is_browser(process: psutil.Process) -> bool:
    return not any(arg.startswith("--type=") for arg in process.cmdline())


def test_the_suite_s_chromium_keeps_playwright_s_switch_and_starts_no_address_bar() -> None:
    # Given Chromium started as the browser tests start it, with two contexts opened
    # (each kept open 2 s: without the switch, the address bar's renderer comes with the
    # window's first page, well within it: the test below waits for it)
    switches, renderers = _launched(CHROMIUM_ARGS, 2.0, lambda _: False)
    # Then Playwright's own switch is the list the suite repeats (an upgraded Playwright that
    # changed it fails here), and the switch Chromium reads, the last, holds it and the suite's
    playwright_s, *_, read = switches
    assert playwright_s == list(PLAYWRIGHT_DISABLED_FEATURES), (
        "Playwright's --disable-features changed: copy it to PLAYWRIGHT_DISABLED_FEATURES"
    )
    assert read == [*PLAYWRIGHT_DISABLED_FEATURES, *UNSHOWN_FEATURES]
    # And the pages got renderers, none of them the address bar's (a top-chrome WebUI)
    assert renderers
    assert not _address_bar(renderers)


def test_without_the_suite_s_switch_each_context_starts_the_address_bar_s_renderer() -> None:
    # (what the test above looks for is there to be found)
    plain = [arg for arg in CHROMIUM_ARGS if not arg.startswith("--disable-features=")]
    _, renderers = _launched(plain, 20.0, lambda seen: bool(_address_bar(seen)))
    assert _address_bar(renderers)


def test_a_module_s_own_disabled_features_join_the_one_switch() -> None:
    # Given a module whose browser turns one more feature off, beside another switch of its own
    more = ("--disable-features=BackForwardCache", "--host-resolver-rules=MAP a.test 127.0.0.1")
    # When the browser fixture puts its switches together
    args = chromium_args(more)
    # Then Chromium gets one --disable-features (it reads only the last): Playwright's list, the
    # address bar's popups and the module's feature, with every other switch as given
    [switch] = [arg for arg in args if arg.startswith("--disable-features=")]
    assert switch.removeprefix("--disable-features=").split(",") == [
        *PLAYWRIGHT_DISABLED_FEATURES,
        *UNSHOWN_FEATURES,
        "BackForwardCache",
    ]
    assert args[-1] == switch
    assert [arg for arg in args if arg != switch] == [
        *(arg for arg in CHROMIUM_ARGS if arg != CHROMIUM_ARGS[-1]),
        "--host-resolver-rules=MAP a.test 127.0.0.1",
    ]
    # And a module with none of its own starts the suite's switches unchanged
    assert chromium_args(()) == CHROMIUM_ARGS
