"""The organisers' page at a conference's size: its search narrows the table by the programme's
rule and says how many talks match, through adds, edits and deletes, from the keyboard too; its
counts follow the live channel; the talk column takes a laptop's width; a programme file is
imported as `talkrate admin import` reads it, after the page says what it would change.
Playwright in Debian's chromium against the local runtime, like test_web_app (whose fixtures
and helpers these tests share)."""

from __future__ import annotations

import base64
import csv
import io
import json
import re
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus
from zoneinfo import ZoneInfo

import click
import pytest
from playwright.sync_api import Browser, Locator, Page, Request, Route, expect

from talkrate_cli import programme
from talkrate_cli.errors import CliError
from talkrate_cli.programme import write_results
from tests.builders import unique_talk_id
from tests.e2e import test_web_app
from tests.e2e.conftest import REACTION_MS, wait_for
from tests.e2e.test_web_app import LIVE_WITHIN_MS, WebStack
from tests.export_cells import FORMULA_CELLS, HAND_TYPED_CELLS, formula_starts
from tests.programme_faults import FILE_FAULTS, QUOTED_ROW_FAULTS

# test_web_app's fixtures: its runtime (one for this module), the browser, a phone and its page.
web = test_web_app.web
browser = test_web_app.browser
phone = test_web_app.phone
page = test_web_app.page
# Its runtime projects each rating as it comes (see test_web_app.PROJECTOR_BATCH_WINDOW).
PROJECTOR_BATCH_WINDOW = "0"
# Its browser without site isolation (see test_web_app.CHROMIUM_MORE_ARGS).
CHROMIUM_MORE_ARGS = test_web_app.CHROMIUM_MORE_ARGS

pytestmark = pytest.mark.browser


def sign_in(web: WebStack, page: Page, path: str = "/app/admin") -> None:
    page.goto(web.url(path))
    page.get_by_label("Organiser token").fill(web.token)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_role("button", name="Add a talk", exact=True)).to_be_visible()


def rows(page: Page) -> list[str]:
    """The titles of the table's rows, as shown."""
    titles: list[str] = page.locator(".admin-talks tbody tr th a").all_text_contents()
    return titles


def count(page: Page) -> int:
    """How many talks the whole table holds, from its "N talks" line."""
    line = page.get_by_role("status").filter(has_text=re.compile(r"^\d+ talks?$"))
    expect(line).to_be_visible()
    return int(line.inner_text().split()[0])


def search_talks(page: Page, text: str, shown: int) -> None:
    """Type a search and wait until the table holds only its rows: the search applies 120 ms
    after the typing stops, and a click in between can land on a row that then moves away."""
    page.get_by_role("searchbox", name="Search talks", exact=True).fill(text)
    expect(page.locator(".admin-talks tbody tr")).to_have_count(shown)


def test_a_row_s_buttons_name_its_title_in_the_talk_s_language(web: WebStack, page: Page) -> None:
    # Given a talk whose title is in Hebrew (its language given), in the organisers' table
    title = f"בדיקות אינטגרציה מודרניות {unique_talk_id()}"
    web.add_talk(title=title, language="he")
    sign_in(web, page, f"/app/admin?q={quote(title)}")
    # When a screen reader names the row's Edit, Delete and QR code buttons
    shown = {"Edit": "Edit", "Delete": "Delete", "Download the QR code of": "QR code"}
    for word, visible in shown.items():
        button = page.get_by_role("button", name=f"{word} {title}", exact=True)
        expect(button).to_have_text(visible)
        # Then the name's title is read from an element that carries the talk's language (a
        # name of plain text read "Edit" and the Hebrew title in one English voice), its word
        # from one in the page's English
        parts = button.evaluate(
            """(button) => (button.getAttribute('aria-labelledby') || '').split(' ')
              .filter(Boolean).map((id) => {
                const part = document.getElementById(id);
                return [part.textContent, part.closest('[lang]').getAttribute('lang')];
              })"""
        )
        assert parts == [[word, "en"], [title, "he"]]


def test_a_row_s_header_is_named_by_its_title_alone(web: WebStack, page: Page) -> None:
    # Given a talk with speakers, in the organisers' table
    title = f"Named by its title {unique_talk_id()}"
    web.add_talk(title=title, speakers=["Ada Example", "Grace Example"])
    sign_in(web, page, f"/app/admin?q={quote(title)}")
    # Then its row's header, which a screen reader says at each of the row's cells, is its
    # title (it was the title, the speakers, the id and "Download the QR code of" the title)
    expect(page.get_by_role("rowheader", name=title, exact=True)).to_have_count(1)
    expect(page.get_by_role("rowheader", name=title, exact=True)).to_contain_text("Ada Example")


def test_an_attendee_s_pages_never_fetch_the_organisers_page_which_loads_when_opened(
    web: WebStack, page: Page
) -> None:
    talk = web.add_talk(title=f"Fetched lightly {unique_talk_id()}")
    fetched: list[str] = []
    page.on("request", lambda r: fetched.append(r.url))
    # When an attendee opens the programme and a talk's page
    page.goto(web.url("/app/"))
    expect(page.get_by_role("link", name=talk["title"], exact=True)).to_be_visible()
    page.goto(web.url(f"/app/talks/{talk['id']}"))
    expect(page.get_by_role("heading", name=talk["title"], exact=True)).to_be_visible()
    # Then the organisers' page was not fetched (the app's other modules were)
    scripts = [url for url in fetched if url.endswith(".js")]
    assert any(url.endswith("/app/js/pages/talk.js") for url in scripts), scripts
    assert not any(url.endswith("/pages/admin.js") for url in scripts), scripts
    # And opening the organisers' page fetches it, and it works
    page.goto(web.url("/app/admin"))
    expect(page.get_by_label("Organiser token")).to_be_visible()
    assert any(url.endswith("/app/js/pages/admin.js") for url in fetched)


def test_an_organisers_page_that_cannot_be_fetched_says_so(web: WebStack, page: Page) -> None:
    # Given a connection that drops the organisers' page's module
    page.route("**/js/pages/admin.js", lambda route: route.abort())
    # When an organiser opens the page
    page.goto(web.url("/app/admin"))
    # Then it says so, instead of an empty page
    expect(page.get_by_role("alert")).to_have_text(
        "The organisers' page could not be loaded: check the connection and reload."
    )


def test_signing_in_asks_whether_the_token_is_the_organiser_s_and_writes_nothing(
    web: WebStack, page: Page
) -> None:
    # Given the page's requests to the API, watched
    sent: list[tuple[str, str]] = []
    page.on("request", lambda r: sent.append((r.method, r.url.removeprefix(web.url("")))))
    # When an organiser signs in with a wrong token, then with the right one
    test_web_app.sign_in_after_a_wrong_token(web, page)
    expect(page.get_by_role("button", name="Add a talk", exact=True)).to_be_visible()
    # Then each check was a read of GET /organiser (audited "admin read"), never a write
    checks = [(method, path) for method, path in sent if not path.startswith("/app")]
    assert checks.count(("GET", "/organiser")) == 2, checks
    assert [c for c in checks if c[0] != "GET"] == []


def test_an_organiser_s_search_narrows_the_table_by_the_programme_s_rule_and_says_how_many(
    web: WebStack, page: Page
) -> None:
    # Given a programme with a talk by Zoë Çelik in Zürich, one with no accent in its title,
    # one in a room of the same stem, and others
    stem = unique_talk_id()[-6:]
    web.add_talk(title=f"Grüezi aus Zürich {stem}", speakers=["Zoë Çelik"], track="Data")
    web.add_talk(title=f"Zurich plain {stem}", track="Data")
    web.add_talk(title="Held in a room", room=f"Saal {stem}")
    for n in range(3):
        web.add_talk(title=f"Another talk {n}")
    # And an organiser signed in, with every talk in the table
    sign_in(web, page)
    total = count(page)
    assert len(rows(page)) == total >= 6
    # When they reach the search from the keyboard and type the names without their accents
    page.get_by_role("button", name="Sign out", exact=True).focus()
    page.keyboard.press("Tab")
    search = page.get_by_role("searchbox", name="Search talks", exact=True)
    expect(search).to_be_focused(timeout=REACTION_MS)
    page.keyboard.type(f"celik zurich {stem}")
    # Then the table keeps the one talk where every word is found, and says so to everyone
    expect(page.locator(".admin-talks tbody tr")).to_have_count(1)
    assert rows(page) == [f"Grüezi aus Zürich {stem}"]
    expect(page.get_by_role("status").filter(has_text=f"1 of {total} talks")).to_be_visible()
    # When the organiser types a word in capitals with its accent
    search.fill(f"ZÜRICH {stem}")
    # Then both Zurich talks are found, as the programme finds them
    expect(page.locator(".admin-talks tbody tr")).to_have_count(2)
    expect(page.get_by_role("status").filter(has_text=f"2 of {total} talks")).to_be_visible()
    # And a room is searched too
    search.fill(f"saal {stem}")
    expect(page.locator(".admin-talks tbody tr")).to_have_count(1)
    assert rows(page) == ["Held in a room"]
    # And a reload keeps the search (it is in the page's address)
    page.reload()
    expect(search).to_have_value(f"saal {stem}")
    expect(page.locator(".admin-talks tbody tr")).to_have_count(1)
    # When nothing matches, the page says so and leads back to every talk
    search.fill("zzzz-nothing-like-it")
    expect(page.get_by_role("status").filter(has_text="No talk matches")).to_contain_text(
        "No talk matches “zzzz-nothing-like-it”."
    )
    expect(page.locator(".admin-talks tbody tr")).to_have_count(0)
    page.get_by_role("button", name="Show all talks", exact=True).click()
    expect(page.locator(".admin-talks tbody tr")).to_have_count(total)
    expect(search).to_have_value("")
    expect(search).to_be_focused(timeout=REACTION_MS)


def test_the_search_keeps_narrowing_the_table_after_an_add_an_edit_and_a_delete(
    web: WebStack, page: Page
) -> None:
    # Given an organiser whose search finds two talks of a stem
    stem = f"Kept{unique_talk_id()[-6:]}"
    first = web.add_talk(title=f"First {stem}", room="Hall A")
    second = web.add_talk(title=f"Second {stem}")
    web.add_talk(title="Unrelated to the search")
    sign_in(web, page)
    total = count(page)
    search = page.get_by_role("searchbox", name="Search talks", exact=True)
    search.fill(stem.lower())
    table = page.locator(".admin-talks tbody tr")
    expect(table).to_have_count(2)
    status = page.get_by_role("status").filter(has_text=re.compile(r"^\d+ of \d+ talks$"))
    expect(status).to_have_text(f"2 of {total} talks")
    # When they change one talk's room
    page.get_by_role("button", name=f"Edit {first['title']}", exact=True).click()
    page.get_by_label("Room", exact=True).fill("Hall Z")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_test_id("admin-message")).to_have_text(
        f"Saved “{first['title']}”.", timeout=REACTION_MS
    )
    # Then the table is still the search's, the talk's new room in it, its Edit focused
    expect(table).to_have_count(2)
    expect(table.filter(has_text=first["title"])).to_contain_text("Hall Z")
    expect(page.get_by_role("button", name=f"Edit {first['title']}", exact=True)).to_be_focused(
        timeout=REACTION_MS
    )
    expect(status).to_have_text(f"2 of {total} talks")
    # When they add a talk the search finds
    page.get_by_role("button", name="Add a talk", exact=True).click()
    page.get_by_label("Title", exact=True).fill(f"Third {stem}")
    page.get_by_role("button", name="Add the talk", exact=True).click()
    expect(page.get_by_test_id("admin-message")).to_have_text(
        f"Added “Third {stem}”.", timeout=REACTION_MS
    )
    # Then it is in the table and counted
    expect(table).to_have_count(3)
    expect(status).to_have_text(f"3 of {total + 1} talks")
    # When they rename a talk so that the search no longer finds it
    page.get_by_role("button", name=f"Edit {second['title']}", exact=True).click()
    page.get_by_label("Title", exact=True).fill("Renamed away")
    page.get_by_role("button", name="Save", exact=True).click()
    # Then the page says where it went, and the keyboard is on the search, not the page's top
    expect(page.get_by_test_id("admin-message")).to_have_text(
        f"Saved “Renamed away”. It does not match the search “{stem.lower()}”, "
        "so the list does not show it.",
        timeout=REACTION_MS,
    )
    expect(table).to_have_count(2)
    expect(status).to_have_text(f"2 of {total + 1} talks")
    expect(search).to_be_focused(timeout=REACTION_MS)
    # When they delete a talk the search shows
    asked: list[str] = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept()))
    page.get_by_role("button", name=f"Delete {first['title']}", exact=True).click()
    expect(page.get_by_test_id("admin-message")).to_have_text(
        f"Deleted “{first['title']}”.", timeout=REACTION_MS
    )
    # (asked in an organiser's words what becomes of its ratings, not of "the event store")
    assert [text.replace("\u2068", "").replace("\u2069", "") for text in asked] == [
        f"Delete “{first['title']}”? It leaves the programme and takes no more ratings. The "
        "ratings it has are kept: adding a talk with the same id again brings them back."
    ]
    # Then the search still holds, over one talk fewer
    expect(table).to_have_count(1)
    assert rows(page) == [f"Third {stem}"]
    expect(status).to_have_text(f"1 of {total} talks")
    expect(search).to_have_value(stem.lower())


# Whether a quoted text's closing quote stands right of every letter of the text it closes, in an
# element whose words hold `text` between “ and ” (found across its text nodes).
CLOSED_AFTER = """(element, text) => {
  const nodes = [];
  const walker = document.createTreeWalker(element, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) nodes.push(walker.currentNode);
  const whole = nodes.map((n) => n.data).join("");
  const start = whole.indexOf(`“${text}”`) + 1;
  const box = (at) => {
    let i = at;
    const node = nodes.find((n) => (i < n.data.length ? true : ((i -= n.data.length), false)));
    const range = document.createRange();
    range.setStart(node, i);
    range.setEnd(node, i + 1);
    return range.getBoundingClientRect();
  };
  const letters = [...text].map((_, i) => box(start + i)).filter((b) => b.width > 0);
  const close = box(start + text.length);
  return close.top >= Math.max(...letters.map((b) => b.top)) - 1
    && close.left >= Math.max(...letters.map((b) => b.right)) - 1;
}"""


def test_a_talk_saved_with_an_override_is_quoted_whole_and_not_saved_again_with_it(
    web: WebStack, page: Page
) -> None:
    # Given a talk saved before the API refused direction controls, a right-to-left override
    # (U+202E) in its title, as pasted
    title = f"Keynote {unique_talk_id()[-6:]} \u202eflipped"
    web.saved_before(title=title)
    sign_in(web, page)
    search_talks(page, title[:14], 1)
    # When an organiser edits it
    page.get_by_role("button", name=f"Edit {title}", exact=True).click()
    heading = page.get_by_role("heading", name=re.compile("^Edit "))
    expect(heading).to_be_visible(timeout=REACTION_MS)
    # Then the form's heading closes its quote after the title, not inside it
    assert heading.evaluate(CLOSED_AFTER, title) is True
    # When they change its room and save it
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.method) if "/talks/" in r.url else None)
    page.get_by_label("Room", exact=True).fill("Hall Q")
    page.get_by_role("button", name="Save", exact=True).click()
    # Then the page refuses it as the API would, naming the field and the character, and
    # sends nothing
    refusal = (
        "Must not hold U+202E RIGHT-TO-LEFT OVERRIDE (character 16), an invisible control "
        "that can reorder the text around it where it is shown."
    )
    message = page.get_by_test_id("admin-message")
    expect(message).to_have_text(f"Not saved: Title: {refusal}", timeout=REACTION_MS)
    field = page.get_by_label("Title", exact=True)
    expect(field).to_have_attribute("aria-invalid", "true")
    expect(field).to_have_accessible_description(refusal)
    assert "PUT" not in sent
    # When they cancel and delete the talk instead
    page.get_by_role("button", name="Cancel", exact=True).click()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name=f"Delete {title}", exact=True).click()
    # Then the line saying so closes its quote after the title too
    expect(message).to_have_text(f"Deleted “{title}”.", timeout=REACTION_MS)
    assert message.evaluate(CLOSED_AFTER, title) is True


def test_an_organiser_gives_changes_and_clears_a_talk_s_language_in_its_form(
    web: WebStack, page: Page
) -> None:
    # Given a talk in Hebrew
    title = f"\u05e9\u05dc\u05d5\u05dd {unique_talk_id()[-6:]}"
    talk = web.add_talk(title=title, speakers=["\u05e0\u05d5\u05e2\u05d4"], language="he")
    sign_in(web, page)
    search_talks(page, title, 1)
    row_title = page.locator(".admin-talks tbody tr th a.talk-title")
    expect(row_title).to_have_attribute("lang", "he")

    def edit() -> Locator:
        page.get_by_role("button", name=f"Edit {title}", exact=True).click()
        return page.get_by_label("Language", exact=True)

    # When an organiser edits it
    field = edit()
    # Then its language is a field of its own, saying what it takes, read left to right, not
    # filled in from elsewhere; the title and the speakers' fields are in that language
    expect(field).to_have_value("he", timeout=REACTION_MS)
    expect(field).to_have_accessible_description(re.compile(r"such as he, ar, fa, en-GB or pt-BR"))
    expect(field).to_have_attribute("dir", "ltr")
    expect(field).to_have_attribute("autocomplete", "off")
    expect(page.get_by_label("Title", exact=True)).to_have_attribute("lang", "he")
    expect(page.get_by_label("Speakers (one per line)")).to_have_attribute("lang", "he")
    # When they write the language's name instead of its code and save
    field.fill("Hebrew")
    page.get_by_role("button", name="Save", exact=True).click()
    # Then the service's refusal is said at the field, and nothing is saved
    expect(field).to_have_attribute("aria-invalid", "true")
    expect(field).to_have_accessible_description(re.compile("BCP 47 language tag"))
    expect(page.get_by_test_id("admin-message")).to_contain_text(
        "Not saved: Language: Must be", timeout=REACTION_MS
    )
    assert web.runtime.request("GET", f"/talks/{talk['id']}").json["language"] == "he"
    # And the title's and the speakers' fields are in no language, not in "Hebrew" (no code a
    # screen reader has a voice for), nor in one this is not
    for name in ("Title", "Speakers (one per line)"):
        expect(page.get_by_label(name, exact=True)).not_to_have_attribute("lang", re.compile(".*"))
    field.fill("not a tag!!")
    field.blur()
    expect(page.get_by_label("Title", exact=True)).not_to_have_attribute("lang", re.compile(".*"))
    # When they write another tag, in any case, and save
    field.fill("EN-gb")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_test_id("admin-message")).to_contain_text("Saved", timeout=REACTION_MS)
    # Then the talk is in it, on the table too, its other fields as they were
    stored = web.runtime.request("GET", f"/talks/{talk['id']}").json
    assert (stored["language"], stored["title"], stored["speakers"]) == (
        "en-GB",
        title,
        talk["speakers"],
    )
    expect(row_title).to_have_attribute("lang", "en-GB")
    # And emptied, the talk has none, and the table's title none
    edit().fill("")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_test_id("admin-message")).to_contain_text("Saved", timeout=REACTION_MS)
    assert web.runtime.request("GET", f"/talks/{talk['id']}").json["language"] is None
    expect(row_title).not_to_have_attribute("lang", re.compile(".*"))


def typo_fixed_in_the_form(web: WebStack, page: Page, title: str) -> str:
    """Sign in, find the talk, open its form and fix "Kuberentes" in its title (not saved yet);
    the title as fixed."""
    sign_in(web, page)
    search_talks(page, title, 1)
    page.get_by_role("button", name=f"Edit {title}", exact=True).click()
    fixed = title.replace("Kuberentes", "Kubernetes")
    page.get_by_label("Title", exact=True).fill(fixed)
    return fixed


def test_fixing_a_title_leaves_the_talk_s_times_to_the_second(web: WebStack, page: Page) -> None:
    # Given a talk whose end an organiser set to the second (a talk running late, extended)
    title = f"Kuberentes in practice {unique_talk_id()[-6:]}"
    talk = web.add_talk(title=title, startsAt="2031-06-02T09:00:00Z", endsAt="2031-06-02T09:44:30Z")
    # When another organiser fixes the title's typo on the page
    fixed = typo_fixed_in_the_form(web, page, title)
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_test_id("admin-message")).to_contain_text(
        f"Saved “{fixed}”.", timeout=REACTION_MS
    )
    # Then the title is fixed and the times are as they were, to the second
    stored = web.runtime.request("GET", f"/talks/{talk['id']}").json
    assert (stored["title"], stored["startsAt"], stored["endsAt"]) == (
        fixed,
        "2031-06-02T09:00:00Z",
        "2031-06-02T09:44:30Z",
    )


def saved_by_another_organiser(web: WebStack, talk_id: str, **changes: str) -> None:
    """Another organiser's save of the talk (its title, room and times as read, with `changes`),
    made over the revision they read, as the page's form is open."""
    read = web.runtime.request("GET", f"/talks/{talk_id}")
    fields = {k: read.json[k] for k in ("title", "room", "startsAt", "endsAt")} | changes
    other = web.runtime.request(
        "PUT",
        f"/talks/{talk_id}",
        json.dumps(fields),
        {"Authorization": f"Bearer {web.token}", "If-Match": read.headers["etag"]},
    )
    assert other.status == 200, other.body


def test_a_title_fixed_while_someone_extended_the_talk_keeps_both_changes(
    web: WebStack, page: Page
) -> None:
    # Given an organiser fixing a talk's title on the page
    title = f"Kuberentes late {unique_talk_id()[-6:]}"
    talk = web.add_talk(
        title=title, room="Hall A", startsAt="2031-06-02T09:00:00Z", endsAt="2031-06-02T09:45:00Z"
    )
    fixed = typo_fixed_in_the_form(web, page, title)
    # When another organiser extends the talk, running late, meanwhile
    saved_by_another_organiser(web, talk["id"], endsAt="2031-06-02T10:05:00Z")
    # Then the save is stopped, and the form takes their end under this organiser's title
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_test_id("admin-message")).to_contain_text(
        f"Someone else saved “{title}” while you edited it (they changed the end): nothing was "
        "saved.",
        timeout=REACTION_MS,
    )
    expect(page.get_by_label("Title", exact=True)).to_have_value(fixed)
    # And saving again keeps both: the title fixed, the talk extended
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_test_id("admin-message")).to_contain_text(
        f"Saved “{fixed}”.", timeout=REACTION_MS
    )
    stored = web.runtime.request("GET", f"/talks/{talk['id']}").json
    assert (stored["title"], stored["room"], stored["endsAt"]) == (
        fixed,
        "Hall A",
        "2031-06-02T10:05:00Z",
    )


def test_a_save_stopped_by_someone_else_whose_version_cannot_be_read_reads_it_by_itself(
    web: WebStack, page: Page
) -> None:
    # Given an organiser fixing a talk's title on the page, on a network that drops the read of
    # the talk the page makes after its save is stopped (412), before a busy service (503)
    # (the page's timers on a clock the test moves)
    title = f"Kuberentes late {unique_talk_id()[-6:]}"
    talk = web.add_talk(
        title=title, room="Hall A", startsAt="2031-06-02T09:00:00Z", endsAt="2031-06-02T09:45:00Z"
    )
    page.clock.install()
    fixed = typo_fixed_in_the_form(web, page, title)
    seen: list[str] = []
    reads_fail = True

    def flaky(route: Route) -> None:
        if route.request.method == "PUT":
            answer = route.fetch()
            seen.append(f"PUT {answer.status}")
            route.fulfill(response=answer)
        elif not reads_fail:
            seen.append("GET")
            route.continue_()
        elif "GET dropped" not in seen:
            seen.append("GET dropped")
            route.abort("connectionreset")
        else:
            seen.append("GET 503")
            route.fulfill(
                status=503,
                content_type="application/problem+json",
                body=json.dumps({"type": "about:blank", "title": "Busy", "status": 503}),
            )

    page.route(f"**/talks/{talk['id']}", flaky)
    # When another organiser moves the talk to Hall B meanwhile, and this one saves
    saved_by_another_organiser(web, talk["id"], room="Hall B")
    message = page.get_by_test_id("admin-message")
    clock_stands_still(page)
    page.get_by_role("button", name="Save", exact=True).click()
    # Then the page says their version could not be read and that it reads it again itself,
    # the form is as the organiser left it, and the keyboard is at the form's heading
    expect(message).to_contain_text(
        f"Someone else saved “{title}” while you edited it: nothing was saved. Their version "
        "could not be read (the service cannot be reached): reading it again in 1 s.",
        timeout=REACTION_MS,
    )
    expect(message).to_contain_text(
        "The form keeps yours as you left it until theirs is shown", timeout=REACTION_MS
    )
    expect(page.get_by_label("Room", exact=True)).to_have_value("Hall A")
    expect(page.get_by_role("heading", name=f"Edit “{title}”", exact=True)).to_be_focused(
        timeout=REACTION_MS
    )
    # And while their version cannot be read, nothing is saved: a read again fails (503) and
    # says when the next comes, later each time; the Save pressed meanwhile sends nothing
    page.clock.run_for(1_000)
    expect(message).to_contain_text(
        "(the service is busy): reading it again in 2 s.", timeout=REACTION_MS
    )
    page.get_by_role("button", name="Save", exact=True).click()
    expect(message).to_contain_text(
        "Not saved yet: their version is read first", timeout=REACTION_MS
    )
    expect(message).to_contain_text(
        re.compile(r"reading it again in [248] s\."), timeout=REACTION_MS
    )
    assert [s for s in seen if s.startswith("PUT")] == ["PUT 412"]
    expect(page.get_by_label("Room", exact=True)).to_have_value("Hall A")
    # When the organiser fills in the track meanwhile, the service answers again, and the
    # organiser does nothing more
    page.get_by_label("Track", exact=True).fill("Cloud")
    reads_fail = False
    page.clock.run_for(8_000)
    # Then the page reads their version by itself, and the form takes their room under this
    # organiser's title and the track typed while it waited
    expect(message).to_contain_text(
        "(they changed the room): nothing was saved. The form now shows their version with "
        "your changes to the title and the track",
        timeout=REACTION_MS,
    )
    expect(page.get_by_label("Room", exact=True)).to_have_value("Hall B")
    expect(page.get_by_label("Title", exact=True)).to_have_value(fixed)
    expect(page.get_by_label("Track", exact=True)).to_have_value("Cloud")
    # And the next save keeps all three changes, sent once, over their version
    page.get_by_role("button", name="Save", exact=True).click()
    expect(message).to_contain_text(f"Saved “{fixed}”.", timeout=REACTION_MS)
    assert [s for s in seen if s.startswith("PUT")] == ["PUT 412", "PUT 200"]
    assert seen[1:3] == ["GET dropped", "GET 503"], seen
    assert seen[-2:] == ["GET", "PUT 200"], seen
    stored = web.runtime.request("GET", f"/talks/{talk['id']}").json
    assert (stored["title"], stored["room"], stored["track"]) == (fixed, "Hall B", "Cloud")


class HallWifi:
    """The page's network after a save of a talk stopped by another organiser's: the talk's
    reads (GET /talks/{id}) answered 503 while `reads_fail`; the programme's list (GET
    /talks?...) left unanswered while `list_held`, until `release`. What went: each PUT's status
    and If-Match, and how many reads of the talk."""

    def __init__(self, page: Page, talk_id: str) -> None:
        self.reads_fail = True
        self.list_held = False
        self.held: list[Route] = []
        self.puts: list[tuple[int, str | None]] = []
        self.reads = 0
        page.route(f"**/talks/{talk_id}", self.talk)
        page.route("**/talks?*", self.programme)

    def talk(self, route: Route) -> None:
        if route.request.method == "PUT":
            answer = route.fetch()
            self.puts.append((answer.status, route.request.headers.get("if-match")))
            route.fulfill(response=answer)
        elif route.request.method != "GET":
            route.continue_()
        else:
            self.reads += 1
            if not self.reads_fail:
                route.continue_()
                return
            route.fulfill(
                status=503,
                content_type="application/problem+json",
                body=json.dumps({"type": "about:blank", "title": "Busy", "status": 503}),
            )

    def programme(self, route: Route) -> None:
        if self.list_held:
            self.held.append(route)
        else:
            route.continue_()

    def release(self) -> None:
        self.list_held = False
        while self.held:
            self.held.pop(0).continue_()


def clock_stands_still(page: Page) -> None:
    """The page's clock (installed) jumps two seconds on and stands still: from now only the
    test moves it (a read again 1 s on is made when the test says, not when the machine gets to
    it)."""
    now_ms: float = page.evaluate("Date.now()")
    page.clock.pause_at(now_ms / 1000 + 2)


def title_fixed_and_saved_by_another(web: WebStack, page: Page) -> tuple[dict[str, Any], str]:
    """A talk in Hall A whose title an organiser fixes in its form (not saved yet), while
    another organiser changes its title too and moves it to Hall B; the talk, as added, and the
    title as fixed in the form."""
    stem = unique_talk_id()[-6:]
    title = f"Kuberentes at the hall {stem}"
    talk = web.add_talk(title=title, room="Hall A")
    sign_in(web, page)
    page.get_by_role("button", name=f"Edit {title}", exact=True).click()
    fixed = title.replace("Kuberentes", "Kubernetes")
    page.get_by_label("Title", exact=True).fill(fixed)
    saved_by_another_organiser(
        web, talk["id"], title=f"Kubernetes, at the hall {stem}", room="Hall B"
    )
    return talk, fixed


def test_a_save_pressed_as_their_version_is_shown_goes_over_it_after_saying_what_both_changed(
    web: WebStack, page: Page
) -> None:
    # Given an organiser fixing a talk's title while another organiser changes the title too
    # and the room, on a hall's Wi-Fi: the read of their version after the stopped save fails
    # (503), and the programme's list, once it is read, takes long
    talk, fixed = title_fixed_and_saved_by_another(web, page)
    theirs = web.runtime.request("GET", f"/talks/{talk['id']}").headers["etag"]
    network = HallWifi(page, talk["id"])
    message = page.get_by_test_id("admin-message")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(message).to_contain_text(
        "could not be read (the service is busy): reading it again in 1 s.", timeout=REACTION_MS
    )
    # When the service answers again, the programme's list still on its way
    network.list_held = True
    network.reads_fail = False
    # Then as the form shows their version, under this organiser's title, the page says both
    # changed the title
    expect(page.get_by_label("Room", exact=True)).to_have_value("Hall B", timeout=10_000)
    expect(message).to_contain_text(
        "you both changed the title, and the form keeps yours", timeout=REACTION_MS
    )
    expect(page.get_by_label("Title", exact=True)).to_have_value(fixed)
    # When the organiser saves at once, the list still on its way
    page.get_by_role("button", name="Save", exact=True).click()
    # Then the save goes over their version: their room, this organiser's title
    expect(message).to_contain_text(f"Saved “{fixed}”.", timeout=REACTION_MS)
    assert network.puts == [(412, f'"{talk["revision"]}"'), (200, theirs)]
    stored = web.runtime.request("GET", f"/talks/{talk['id']}").json
    assert (stored["title"], stored["room"]) == (fixed, "Hall B")
    # And when the list comes, the page still says it is saved
    network.release()
    expect(page.get_by_role("button", name=f"Edit {fixed}", exact=True)).to_be_focused(
        timeout=REACTION_MS
    )
    expect(message).to_have_text(f"Saved “{fixed}”.", timeout=REACTION_MS)


@pytest.mark.parametrize(
    ("closing", "when"),
    [("Cancel", "reading again"), ("Sign out", "reading again"), ("Cancel", "shown")],
)
def test_a_form_closed_after_its_save_was_stopped_leaves_no_word_of_a_read_or_a_save_to_come(
    web: WebStack, page: Page, closing: str, when: str
) -> None:
    # Given an organiser's save stopped by another organiser's, whose version the page reads
    # again by itself (the service busy), or has shown (the programme's list on its way)
    # (the page's timers on a clock the test moves)
    page.clock.install()
    talk, _ = title_fixed_and_saved_by_another(web, page)
    network = HallWifi(page, talk["id"])
    message = page.get_by_test_id("admin-message")
    clock_stands_still(page)
    page.get_by_role("button", name="Save", exact=True).click()
    expect(message).to_contain_text("reading it again in 1 s.", timeout=REACTION_MS)
    page.clock.run_for(1_000)
    expect(message).to_contain_text("reading it again in 2 s.", timeout=REACTION_MS)
    if when == "shown":
        network.list_held = True
        network.reads_fail = False
        page.clock.run_for(2_000)
        expect(page.get_by_label("Room", exact=True)).to_have_value("Hall B")
    # When the organiser closes the form (Cancel, or signing out, saying yes when asked
    # whether to drop the changes the form holds)
    asked: list[str] = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept()))
    page.get_by_role("button", name=closing, exact=True).click()
    assert len(asked) == (closing == "Sign out"), asked
    reads = network.reads
    # Then the page no longer says it reads their version or that the form can be saved again
    # (signed out, it says that alone)
    left = (
        "Signed out: your organiser token is no longer kept in this tab."
        if closing == "Sign out"
        else ""
    )
    expect(message).to_have_text(left, timeout=REACTION_MS)
    # And it stays so, the list read and the next reads' times past (ten seconds of the page's
    # clock; then the page done with every read it made (reads_answered's count, polled: its
    # frames stand still with the clock), and every request it made so far heard): no read
    network.release()
    page.clock.run_for(10_000)
    done = "window.__reads.done === window.__reads.started"
    assert wait_for(lambda: page.evaluate(done), seconds=10, page=page)
    test_web_app.requests_made_so_far_heard(page)
    expect(message).to_have_text(left, timeout=REACTION_MS)
    assert network.reads == reads


def answer_lost_once(page: Page, method: str, pattern: str) -> list[int]:
    """The page's first `method` to `pattern` reaches the API (which applies it), and its
    answer is lost on the way back (as a dropped connection's); later ones go through. The
    statuses the API gave."""
    given: list[int] = []

    def once(route: Route) -> None:
        if route.request.method != method:
            route.continue_()
        elif not given:
            given.append(route.fetch().status)
            route.abort("connectionreset")
        else:
            answer = route.fetch()
            given.append(answer.status)
            route.fulfill(response=answer)

    page.route(pattern, once)
    return given


def programme_titles(web: WebStack) -> list[str]:
    """Every talk's title, as the API lists them (100 a page)."""
    titles: list[str] = []
    while items := web.runtime.request("GET", f"/talks?limit=100&offset={len(titles)}").json[
        "items"
    ]:
        titles += [talk["title"] for talk in items]
    return titles


@pytest.mark.parametrize("form", ["edit", "add"])
def test_a_save_whose_answer_was_lost_and_is_sent_again_is_said_saved(
    web: WebStack, page: Page, form: str
) -> None:
    # Given an organiser's form, filled in, on a network that loses the save's answer
    stem = unique_talk_id()[-6:]
    title = f"Kuberentes retried {stem}"
    talk = web.add_talk(title=title, room="Hall A")
    if form == "edit":
        fixed = typo_fixed_in_the_form(web, page, title)
        button, said = "Save", f"Saved “{fixed}”"
        given = answer_lost_once(page, "PUT", f"**/talks/{talk['id']}")
    else:
        sign_in(web, page)
        fixed = f"Added over a lossy network {stem}"
        page.get_by_role("button", name="Add a talk", exact=True).click()
        page.get_by_label("Title", exact=True).fill(fixed)
        button, said = "Add the talk", f"Added “{fixed}”"
        given = answer_lost_once(page, "POST", "**/talks")
    # When it is saved, the answer never comes, and the organiser saves again
    page.get_by_role("button", name=button, exact=True).click()
    expect(page.get_by_test_id("admin-message")).to_contain_text(
        "cannot be reached", timeout=REACTION_MS
    )
    page.get_by_role("button", name=button, exact=True).click()
    # Then the page says it is saved, not that someone else changed the talk or holds its id:
    # an edit's second save was refused (the first was applied), and found applied; an add's
    # went with the first's Idempotency-Key, and was answered as the first was (201)
    expect(page.get_by_test_id("admin-message")).to_contain_text(
        f"{said} (an earlier try had gone through)." if form == "edit" else f"{said}.",
        timeout=REACTION_MS,
    )
    assert given == ([200, 412] if form == "edit" else [201, 201])
    if form == "add":  # (an edit's search, the old title, no longer finds it: said so)
        expect(page.get_by_role("button", name=f"Edit {fixed}", exact=True)).to_be_focused(
            timeout=REACTION_MS
        )
    # And the talk is stored once, as the form said
    titles = programme_titles(web)
    assert titles.count(fixed) == 1
    assert (title in titles) == (form == "add")  # an edit renamed it, an add left it


def test_a_save_refused_for_the_token_keeps_the_form_and_saves_once_signed_in_again(
    web: WebStack, page: Page
) -> None:
    # Given an organiser who changed a talk's room in its form, while the organiser token the
    # page signed in with was replaced (its save goes with one the API no longer takes)
    title = f"Token replaced {unique_talk_id()[-6:]}"
    talk = web.add_talk(title=title, room="Hall A")
    sign_in(web, page)
    page.get_by_role("button", name=f"Edit {title}", exact=True).click()
    form_open(page, title)
    page.get_by_label("Room", exact=True).fill("Room 42")

    def replaced(route: Route) -> None:
        if route.request.method != "PUT":
            route.continue_()
            return
        route.continue_(headers={**route.request.headers, "authorization": "Bearer replaced"})

    page.route(f"**/talks/{talk['id']}", replaced)
    # When they press Save
    page.get_by_role("button", name="Save", exact=True).click()
    # Then the page says it was not saved and asks for the token where they are, the form and
    # what they typed kept (it went back to the sign-in form, the change gone)
    message = page.get_by_test_id("admin-message")
    expect(message).to_contain_text(
        "Not saved: your organiser token was refused", timeout=REACTION_MS
    )
    expect(page.get_by_label("Room", exact=True)).to_have_value("Room 42")
    page.unroute(f"**/talks/{talk['id']}", replaced)
    # When they give the organisers' token and press Save again
    page.get_by_label("Organiser token").fill(web.token)
    page.get_by_role("button", name="Sign in again", exact=True).click()
    expect(message).to_contain_text(
        "Signed in again: press Save to send your changes.", timeout=REACTION_MS
    )
    # (the keyboard on Save, ready to send them)
    expect(page.get_by_role("button", name="Save", exact=True)).to_be_focused(timeout=REACTION_MS)
    page.keyboard.press("Enter")
    # Then it is saved, their change with it
    expect(message).to_contain_text(f"Saved “{title}”", timeout=REACTION_MS)
    answer = web.runtime.request("GET", f"/talks/{talk['id']}")
    assert answer.json["room"] == "Room 42"


def token_asked_again(web: WebStack, page: Page, title: str) -> dict[str, Any]:
    """A talk (returned) whose form an organiser signed in opened and saved with a token the API
    no longer takes (replaced since): the page asks for the token again in the form."""
    talk = web.add_talk(title=title)
    sign_in(web, page)
    page.get_by_role("button", name=f"Edit {title}", exact=True).click()
    form_open(page, title)
    page.route(
        f"**/talks/{talk['id']}",
        lambda route: route.continue_(
            headers={**route.request.headers, "authorization": "Bearer replaced"}
        ),
    )
    page.get_by_role("button", name="Save", exact=True).click()
    return talk


def test_a_form_left_while_the_token_is_asked_for_again_goes_back_to_signing_in(
    web: WebStack, page: Page
) -> None:
    # Given an organiser asked for the token again by a talk's form (its save refused: the
    # token was replaced)
    title = f"Token asked {unique_talk_id()[-6:]}"
    token_asked_again(web, page, title)
    message = page.get_by_test_id("admin-message")
    expect(message).to_contain_text(
        "Not saved: your organiser token was refused", timeout=REACTION_MS
    )
    # When they cancel the form instead
    page.get_by_role("button", name="Cancel", exact=True).click()
    # Then the page signs in again, saying why (no prompt left above the table, promising a
    # Save there is no form for)
    expect(page.get_by_role("button", name="Sign in", exact=True)).to_be_visible()
    expect(message).to_have_text(
        "Your organiser token was refused: sign in again.", timeout=REACTION_MS
    )
    expect(page.get_by_label("Organiser token")).to_be_focused(timeout=REACTION_MS)


def ratings_cell(page: Page, title: str) -> Any:
    """The Ratings cell of the talk's row."""
    return page.locator(".admin-talks tbody tr").filter(has_text=title).locator("td.num").first


def form_open(page: Page, title: str) -> None:
    """The talk's form is open (a failure says what the page showed instead: its message, the
    live badge, the form's place and the table's rows)."""
    try:
        expect(page.get_by_role("heading", name=f"Edit “{title}”", exact=True)).to_be_visible()
    except AssertionError as error:
        shown = page.evaluate(
            """() => ({ message: document.querySelector("[data-testid=admin-message]")?.textContent,
                         badge: document.querySelector(".live-badge")?.dataset.state,
                         focused: document.activeElement?.outerHTML.slice(0, 200),
                         forms: [...document.querySelectorAll("main form")].map((f) => f.className),
                         rows: [...document.querySelectorAll(".admin-talks tbody tr th a")]
                           .map((a) => a.textContent) })"""
        )
        raise AssertionError(f"{error}\nthe page showed: {shown}") from None


def test_the_table_s_counts_follow_ratings_live_while_an_organiser_edits_another_talk(
    web: WebStack, page: Page
) -> None:
    # Given two talks of a stem, one rated once, and an organiser on the page with the other's
    # form open and a title half typed
    stem = f"Live{unique_talk_id()[-6:]}"
    rated = web.add_talk(title=f"Rated live {stem}")
    edited = web.add_talk(title=f"Edited meanwhile {stem}")
    web.rate(rated["id"], 4)
    assert wait_for(lambda: web.count(rated["id"]) == 1)
    sign_in(web, page)
    expect(page.locator(".live-badge")).to_have_attribute("data-state", "live")
    search_talks(page, stem, 2)
    expect(ratings_cell(page, rated["title"])).to_have_text("1")
    page.get_by_role("button", name=f"Edit {edited['title']}", exact=True).click()
    form_open(page, edited["title"])
    title = page.get_by_label("Title", exact=True)
    title.fill("Half typed")
    # When attendees rate the first talk
    web.rate(rated["id"], 5)
    web.rate(rated["id"], 3)
    # Then its count and average move on the page within 2 s, without a reload
    expect(ratings_cell(page, rated["title"])).to_have_text("3", timeout=LIVE_WITHIN_MS)
    row = page.locator(".admin-talks tbody tr").filter(has_text=rated["title"])
    expect(row.locator("td.num").nth(1)).to_have_text("4.00")
    # And the form is as the organiser left it, the keyboard still in it
    expect(title).to_have_value("Half typed")
    expect(title).to_be_focused(timeout=REACTION_MS)


def test_without_a_live_channel_the_table_s_counts_are_read_every_few_seconds(
    web: WebStack, page: Page
) -> None:
    # Given a deployment whose config names no live channel, and an organiser on the page
    page.route(
        "**/app/config.json",
        lambda route: route.fulfill(json={"live": None, "votingPolicy": "attendee"}),
    )
    # (its timers on a clock the test moves)
    talk = web.add_talk(title=f"Polled table {unique_talk_id()[-6:]}")
    page.clock.install()
    sign_in(web, page)
    expect(page.locator(".live-badge")).to_have_attribute("data-state", "polling")
    search_talks(page, talk["title"], 1)
    expect(ratings_cell(page, talk["title"])).to_have_text("0")
    # When an attendee rates the talk
    web.rate(talk["id"], 5)
    assert wait_for(lambda: web.count(talk["id"]) == 1)
    # Then the table shows it at its next 5 s poll, without a reload
    page.clock.run_for(5_000)
    expect(ratings_cell(page, talk["title"])).to_have_text("1")
    expect(page.locator(".live-badge")).to_have_text("Updating every few seconds")


@pytest.mark.parametrize("width", [1280, 1440])
def test_on_a_laptop_the_talk_column_takes_the_width_the_others_leave(
    web: WebStack, browser: Browser, width: int
) -> None:
    # Given a talk with a long title, track and room, times, and an organiser on a laptop
    stem = unique_talk_id()[-6:]
    web.add_talk(
        title=f"Observability on a budget: tracing serverless Python end to end {stem}",
        speakers=["Kwame Mensah", "Lucía Fernández"],
        track="Platform Engineering and Developer Experience",
        room="Grand Ballroom, East Wing, Level 2",
        startsAt="2031-06-02T09:00:00Z",
        endsAt="2031-06-02T09:45:00Z",
    )
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    sign_in(web, page)
    page.get_by_role("searchbox", name="Search talks", exact=True).fill(stem)
    expect(page.locator(".admin-talks tbody tr")).to_have_count(1)
    # Then the talk column is the table's widest by far: 400 px and more (it was about 170 to
    # 235 of 928), and the page does not scroll sideways
    widths = page.evaluate(
        "() => [...document.querySelectorAll('.admin-talks thead th')]"
        ".map((th) => th.getBoundingClientRect().width)"
    )
    talk, others = widths[0], widths[1:]
    assert talk >= 400, widths
    assert all(talk >= 2 * other for other in others), widths
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    # And the times are one column, the day over the hours
    when = page.locator(".admin-talks tbody td.when")
    expect(when).to_contain_text("\N{EN DASH}")
    context.close()


@pytest.mark.parametrize("width", [768, 900, 1000])
def test_on_a_tablet_the_table_is_whole_and_breaks_no_word(
    web: WebStack, browser: Browser, width: int
) -> None:
    # Given a timed talk of the track "Languages" in a room of one long word, and an organiser
    # on a tablet held upright (or a laptop's page zoomed 175%)
    stem = unique_talk_id()[-6:]
    web.add_talk(
        title=f"Tablet {stem}", track="Languages", room="Konferenzraumgebäude-Nordflügel",
        startsAt="2031-06-02T09:00:00Z", endsAt="2031-06-02T09:45:00Z",
    )  # fmt: skip
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    sign_in(web, page)
    page.get_by_role("searchbox", name="Search talks", exact=True).fill(stem)
    expect(page.locator(".admin-talks tbody tr")).to_have_count(1)
    # Then the talk's Delete is in view, nothing scrolls sideways, and its track is one word
    # (at 768 px the table took 802: Delete was cut off, and the track read "Lang/uage/s")
    delete = page.get_by_role("button", name=f"Delete Tablet {stem}", exact=True)
    box = delete.bounding_box()
    assert box is not None
    assert box["x"] + box["width"] <= width, box
    assert page.evaluate(
        "() => { const s = document.querySelector('.table-scroll');"
        " return s.scrollWidth <= s.clientWidth }"
    )
    track = page.locator(".admin-talks tbody td[data-label=Track]")
    lines = track.evaluate(
        "(cell) => { const r = document.createRange(); r.selectNodeContents(cell);"
        " return new Set([...r.getClientRects()].map((x) => Math.round(x.top))).size }"
    )
    assert lines == 1, lines
    context.close()


def test_on_a_phone_each_talk_is_a_card_with_its_times_under_one_label(
    web: WebStack, page: Page
) -> None:
    # Given a timed talk, and an organiser on a phone
    stem = unique_talk_id()[-6:]
    web.add_talk(
        title=f"Carded {stem}", startsAt="2031-06-02T09:00:00Z", endsAt="2031-06-02T09:45:00Z"
    )
    sign_in(web, page)
    page.get_by_role("searchbox", name="Search talks", exact=True).fill(stem)
    expect(page.locator(".admin-talks tbody tr")).to_have_count(1)
    # Then its start and end read under one label, and nothing is off the screen
    when = page.locator(".admin-talks tbody td.when")
    assert when.evaluate("(e) => getComputedStyle(e, '::before').content") == '"When: "'
    expect(when).to_have_text(re.compile(r"^\S.* \d\d:\d\d.* " "\N{EN DASH}" r" \d\d:\d\d.*$"))
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


# --- Importing a programme file: the page's rules are the command line's ---

CATALOG = [
    {
        "id": "kept",
        "title": "Kept as it is",
        "speakers": ["Smith; Jr.", "C:\\x\\", "-Ann"],
        "track": "=Main",
        "room": "'Hall",
        "startsAt": "2031-06-02T09:00:00Z",
        "endsAt": "2031-06-02T09:45:00Z",
        "language": "en-GB",
        "revision": 7,
    },
    {
        "id": "moved",
        "title": "Moved",
        "speakers": [],
        "endsAt": "2031-06-02T10:00:00Z",
        "ratingsPaused": True,
    },
    {"id": "ber-caf", "title": "Über Café", "speakers": ["Zoë"], "revision": 3},
    {"id": "left-alone", "title": "Not in any file", "speakers": []},
]
H = "id,title,speakers,track,room,startsAt,endsAt"
# Files as organisers make them, each read against CATALOG: (name, the file's text).
FILES = [
    ("the CLI's header, CRLF and BOM", "\ufeff" + H + "\r\nnew-one,A new talk,Ana; Bo,,,,\r\n"),
    (
        "semicolons",
        'id;title;speakers;room\nkept;Kept as it is;"Smith\\; Jr.; C:\\\\x\\\\; \'-Ann";x\n',
    ),
    ("tabs, spaced names in capitals", " Id \t TITLE \tRoom\nmoved\tMoved\tHall C\n"),
    (
        "guards after separators inside cells, and apostrophes of the text's own",
        "id;title;speakers\n"
        "g;\"Rock;''=x, ''y; ' ''\"\"-1; 'n'roll\";\"Bo; ''@alice, '@bob, 'Quoted' Ann\"\n",
    ),
    (
        "title only: the id an earlier import gave",
        'title\nÜber Café\n"Brand new, with a comma"\n\N{HEBREW LETTER SHIN}\N{HEBREW LETTER YOD}\N{HEBREW LETTER HET}\N{HEBREW LETTER HE}\n',
    ),
    (
        "times as the same instants",
        "id,title,startsAt,endsAt\nkept,Kept as it is,"
        "2031-06-02T11:00+02:00,2031-06-02 09:45:00.000z\n",
    ),
    ("a line break in a quoted title", H + '\nx,"Two\nlines",,,,,\n'),
    ("a lone CR ends lines", "id,title\rcr-one,CR\r"),
    (
        "an export's ratingsPaused column, some cells saying other than the talk",
        "id;title;count;ratingsPaused\nkept;Kept as it is;3;TRUE\nmoved;Moved;0;false\n"
        "ber-caf;Über Café;1;\nnew-p;New paused;;true\nnew-q;New;;yes\n",
    ),
    ("columns left without a name", "\ufeffid;title;;\r\nghost;Ghost columns;;\r\n;;;\r\n"),
    ("a cell under no column name", "id,,title,\nx,,X,\ny,oops,Y,\n"),
    ("blank lines and empty rows", H + "\n\n,,,,,,\nb,B,,,,,\n"),
    ("a start after the catalog's end", "id,title,startsAt\nmoved,Moved,2031-06-02T11:00Z\n"),
    ("no zone", H + "\nz,Z,,,,2031-06-02T09:00,\n"),
    ("not a time", H + "\nz,Z,,,,2031-02-30T09:00Z,\n"),
    ("a year too far", H + "\nz,Z,,,,9999-12-31T23:00-05:00,\n"),
    ("an end before its start", H + "\nz,Z,,,,2031-06-02T09:00Z,2031-06-02T08:00Z\n"),
    ("a title too long", "title\n" + "é" * 301 + "\n"),
    ("an invisible room", "title,room\nT,\u200b\n"),
    ("a C1 control in a title", "title\nGo\u009b2J\n"),
    ("an override in a title", "id,title\nx,Keynote \u202eflipped\n"),
    ("an isolate in a speaker", 'id;title;speakers\nx;X;"Ana; \u2067Bo"\n'),
    ("an isolate after spaces", "id,title\nx,  \u2066Hi\n"),
    ("a pop after a mark", "title,room\n\u05e9\u05dc\u05d5\u05dd C++\u200f,Hall \u202c\n"),
    (
        "marks in right-to-left text",
        "title,track\n\u05e9\u05dc\u05d5\u05dd C++\u200f,\u0645\u0633\u0627\u0631 \u061c\u0661\n",
    ),
    (
        "a language column, its tags in any case",
        "id,title,language\nkept,Kept as it is,EN-gb\nmoved,Moved,\nnew-he,\u05e9\u05dc\u05d5\u05dd,he\n",
    ),
    (
        "a language changed and one cleared",
        "id,title,language\nkept,Kept as it is,\nmoved,Moved,fa\n",
    ),
    ("a language's name for its code", "id,title,language\nx,X,Hebrew\n"),
    ("a language too long", "id,title,language\nx,X,de-CH-1996-u-co-phonebk-x-abc-defghi\n"),
    ("a language's Kelvin sign", "id,title,language\nx,X,\u212aa\n"),
    ("21 speakers", "title,speakers\nT," + ";".join(f"S{n}" for n in range(21)) + "\n"),
    ("a cell more", "id;title;speakers;track\nt;T;Ana;Bo;Main\n"),
    ("a cell fewer", H + "\nt,T\n"),
    ("an id twice", "id,title\na,A\nb,B\na,C\n"),
    ("a title twice without ids", "title\nSame\nSame\n"),
    ("an id a talk cannot have", "id,title\nbad id!,T\n"),
    ("unknown columns", "title,starts_at,Notes\nT,x,y\n"),
    ("a column twice", "title,room,Room\nT,a,b\n"),
    ("no title column", "id,name\nx,y\n"),
    ("Excel's separator line", "sep=;\r\nid;title;speakers\r\nsep-x;A, B;Ana, Bo\r\n"),
    ("Excel's separator line, tabs, a row refused", "SEP=\t\nid\ttitle\n\nx\t\n"),
    ("a separator line and nothing more", "\ufeffsep=,\n"),
    ("a separator line naming another", "sep=|\nid|title\nx|T\n"),
    # A double quote never closed: near the end, the rest of the file is one cell (a line
    # break in a title); far from it, a cell past Python's csv field limit and the end of what
    # is read (named by the line its quote opened on, past blank lines and a cell of two lines)
    ("a double quote never closed near the end", 'id,title\nx,"Unclosed\ny,Y\n'),
    ("a double quote never closed, cells too few", 'id,title,room\nx,"Unclosed\ny,Y,R\n'),
    (
        "a double quote never closed far from the end",
        'id,title\na,A\n\n\nx,"Unclosed\n' + "y,Y\n" * 40_000,
    ),
    (
        "a double quote never closed after a cell of two lines",
        'id,title,room\na,"A\nB",R\n\nc,C,"open\n' + "y,Y,Z\n" * 40_000,
    ),
    # ... and faults in the cells before it, said besides (those after it are not known)
    *[(f"a double quote never closed, {each.id}", each.values[0]) for each in QUOTED_ROW_FAULTS],
    # A header line that cannot be read: a cell past the limit, or a quote never closed
    ("a header cell past the field limit", 'id,"title' + "z" * 140_000 + '"\nx,X\n'),
    ("a header's double quote never closed", 'id,"title\n' + "x,X\n" * 40_000),
    ("a separator line, then a header past the limit", "sep=;\nid;title" + "z" * 140_000 + "\n"),
    ("a cell one character past the field limit", "id,title\nb,\nx," + "z" * 131_073 + "\nc,C\n"),
    ("a cell at the field limit", "title\n" + "z" * 131_072 + "\n"),
    # Past it outside quotes: said as too long, and the lines after it read
    ("a title past the field limit", "id,title\na," + "z" * 200_000 + "\nbad id,B\n"),
    ("a speakers cell past the field limit", "title,speakers\nT," + "z" * 200_000 + ",\n"),
    ("a header past the field limit", "id,title" + "z" * 140_000 + "\nx,X\n"),
    ("JSON", '[{"id": "x"}]\n'),
    ("empty", ""),
    # Lines wrong in several ways: each way named, in the command line's order
    (
        "a BOM, semicolons, a start and an end naming no zone",
        "\ufeffid;title;startsAt;endsAt\r\nnz;No zone;2031-06-02T09:00;2031-06-02T09:45\r\n",
    ),
    (
        "an end before its start, neither naming a zone",
        H + "\nz,Z,,,,2031-06-02T10:00,2031-06-02T09:00\n",
    ),
    (
        "a line wrong in every cell",
        H + ",language\n"
        'bad id!,,"Ana; \u2067Bo",Main\u009b,\u200b,2031-06-02T10:00,2031-02-30T09:00Z,Hebrew\n',
    ),
    (
        "too long, too many, and not a tag",
        "title,speakers,language\n"
        + "é" * 301
        + ","
        + ";".join(["S"] * 20 + ["x" * 121])
        + ",de-CH-1996-u-co-phonebk-x-abc-defghi\n",
    ),
    ("two speakers too long by as much", "title,speakers\nT," + "x" * 121 + ";" + "y" * 121 + "\n"),
    ("an unnamed column's text on an id twice", "id,title,\na,A,\na,B,x\n"),
    (
        "a line refused after one the catalog refuses",
        "id,title,startsAt\nmoved,Moved,2031-06-02T11:00Z\nz,,2031-06-02T11:00\n",
    ),
]


def cli_dry_run(
    text: str, catalog: list[dict[str, Any]], folder: Path, zone: str | None = None
) -> dict[str, Any]:
    """What `talkrate admin import FILE --dry-run` makes of the file (where the venue's time
    zone is `zone`): every refusal it names, in its words and order, or the talks it would add,
    change and leave, with the fields of each row."""
    path = folder / "programme.csv"
    path.write_bytes(text.encode())
    by_id = {talk["id"]: talk for talk in catalog}
    try:
        with click.open_file(str(path), encoding="utf-8-sig") as source:
            rows, problems = programme.read_programme(source, ZoneInfo(zone) if zone else None)
        rows = programme.to_send(rows, problems, by_id)
    except programme.BadRows as refused:
        return {"errors": [str(problem) for problem in refused.problems]}
    except CliError as error:
        return {"errors": [str(error)]}
    # As `admin import` sorts them (its _import_rows, without sending anything)
    outcome: dict[str, list[str]] = {"created": [], "updated": [], "unchanged": []}
    for row in rows:
        current = by_id.get(row.talk_id)
        kind = "created" if current is None else "updated"
        if current is not None and programme.same_talk(row.fields, current):
            kind = "unchanged"
        outcome[kind].append(row.talk_id)
    in_file = {row.talk_id for row in rows}
    return {
        "created": outcome["created"],
        "updated": outcome["updated"],
        "unchanged": outcome["unchanged"],
        "notInFile": sorted(i for i in by_id if i not in in_file),
        "fields": {row.talk_id: row.fields for row in rows},
        # (what it says after its summary: the file's paused talks, and the ratingsPaused
        # cells it does not apply)
        "paused": programme.paused_talks(rows, by_id),
        "ratingsPausedNotApplied": [
            row.document() for row in programme.pause_not_applied(rows, by_id)
        ],
    }


PAGE_DRY_RUN = """async ([text, catalog, zone]) => {
  const m = await import('/app/js/programme-file.js');
  let plan;
  try {
    plan = m.planImport(m.readProgramme(text, zone || null), catalog);
  } catch (error) {
    return { errors: [error.message] };
  }
  if (plan.errors.length) return { errors: plan.errors.map((error) => error.message) };
  const ids = (rows) => rows.map((row) => row.talkId);
  const rows = [...plan.created, ...plan.updated, ...plan.unchanged];
  return {
    created: ids(plan.created), updated: ids(plan.updated), unchanged: ids(plan.unchanged),
    notInFile: plan.notInFile,
    fields: Object.fromEntries(rows.map((row) => [row.talkId, row.fields])),
    paused: (plan.paused || []).map((row) => row.talkId),
    ratingsPausedNotApplied: (plan.pausedNotApplied || []).map((row) =>
      ({ line: row.line, talk: row.talkId, inFile: row.inFile, ratingsPaused: row.paused })),
  };
}"""


def test_the_page_reads_a_programme_file_as_the_command_line_s_dry_run_does(
    web: WebStack, page: Page, tmp_path: Path
) -> None:
    # Given files of every kind an organiser brings (each export, other separators, line ends,
    # and each refusal the command line makes), read against the same catalog
    page.goto(web.url("/app/"))
    for name, text in FILES:
        # When the command line's dry run reads it, and the organisers' page
        expected = cli_dry_run(text, CATALOG, tmp_path)
        made = page.evaluate(PAGE_DRY_RUN, [text, CATALOG])
        # Then both say the same: the same refusals in the same words and order (every problem
        # of every line), or the same talks to add, change and leave, each row with the same
        # fields
        if "fields" in expected:
            expected["updated"] = sorted(expected["updated"])
            made["updated"] = sorted(made["updated"])
        assert made == expected, name


PAGE_CLASHES = """async ([talks, ids]) => {
  const m = await import('/app/js/clashes.js');
  return m.roomClashes(talks, ids).map((c) => ({
    room: c.room, ids: c.talks.map((t) => t.id),
    startsAt: new Date(c.starts).toISOString().replace('.000Z', 'Z'),
    endsAt: new Date(c.ends).toISOString().replace('.000Z', 'Z'),
  }));
}"""


def clash_programme() -> list[dict[str, Any]]:
    """Talks of every kind of clash: 2,000 in a placeholder room at one hour, a chain of three
    (the first and the last apart), one inside a long one, rooms typed in other letters and
    spacing, times in another zone, talks that touch without overlapping, talks without a room
    or times."""
    from tests.unit.test_cli_clashes import talk

    short = talk("short", "Hall B", None, None)
    short |= {"startsAt": "2026-12-02T14:00:00+02:00", "endsAt": "2026-12-02T14:30:00+02:00"}
    return [
        *(talk(f"tba-{n}", "TBA", "09:00", "10:00") for n in range(2000)),
        talk("a", "Salle Ève", "09:00", "10:00"),
        talk("b", "  salle   e\N{COMBINING GRAVE ACCENT}ve", "09:30", "11:00"),
        talk("c", "SALLE ÈVE", "10:30", "12:00"),
        talk("touch", "Salle Ève", "12:00", "13:00"),
        talk("long", "Hall B", "09:00", "18:00"),
        short,
        talk("pair-1", "Hall C", "09:00", "10:00"),
        talk("pair-2", "Hall C", "09:59", "10:30"),
        talk("roomless", None, "09:00", "10:00"),
        talk("timeless", "Hall C", None, None),
        talk("backwards", "Hall C", "10:00", "09:00"),
    ]


def test_the_page_finds_room_clashes_as_the_command_line_does(web: WebStack, page: Page) -> None:
    # Given a programme of every kind of clash, 2,000 talks at once in one room among them
    from talkrate_cli.clashes import room_clashes, room_key

    talks = clash_programme()
    page.goto(web.url("/app/"))
    for changed in (
        [t["id"] for t in talks],  # an import of all of them
        ["tba-1999", "c"],
        ["short", "pair-2", "touch", "roomless", "timeless"],
    ):
        # When the command line looks for the clashes of the changed talks, and the page
        expected = [
            {
                "room": room_key(c.room),
                "ids": [t["id"] for t in c.talks],
                **{k: c.document()[k] for k in ("startsAt", "endsAt")},
            }
            for c in room_clashes(talks, changed)
        ]
        made = page.evaluate(PAGE_CLASHES, [talks, changed])
        # Then both find the same clashes, each the same talks in the same order over the same
        # span, in the same order: the 2,000 talks one clash
        assert [{**c, "room": room_key(c["room"])} for c in made] == expected, changed
    # (the talk that starts as another ends, and those without a room or times, clash with none)
    assert [c["ids"] for c in made] == [["pair-2", "pair-1"], ["short", "long"]]
    everything = page.evaluate(PAGE_CLASHES, [talks, [t["id"] for t in talks]])
    assert [len(c["ids"]) for c in everything] == [2000, 3, 2, 2]


# Files whose start is refused beside an end: (name, the venue's zone, the file)
REFUSED_STARTS = [
    (
        "a start in the hour the venue's clocks skip, before its end as written",
        "Europe/Berlin",
        H + "\nz,Z,,,,2027-03-28T02:30,2027-03-28T03:30\n",
    ),
    (
        "a start naming no zone beside an end naming one, no venue's zone",
        None,
        H + "\nz,Z,,,,2031-06-02T10:00,2031-06-02T09:00Z\n",
    ),
    (
        "a start naming no zone beside an end naming one, in the venue's zone",
        "Europe/Berlin",
        H + "\nz,Z,,,,2031-06-02T10:00,2031-06-02T07:30Z\n",
    ),
]


def test_the_page_compares_an_end_with_a_start_as_the_command_line_s_dry_run_does(
    web: WebStack, page: Page, tmp_path: Path
) -> None:
    # Given files whose start is refused (in the venue's zone, or where none is named), or read
    page.goto(web.url("/app/"))
    for name, zone, text in REFUSED_STARTS:
        # When the command line's dry run reads it, and the organisers' page
        expected = cli_dry_run(text, CATALOG, tmp_path, zone)
        made = page.evaluate(PAGE_DRY_RUN, [text, CATALOG, zone])
        # Then both say the same, and a refused start is its line's one problem: the end is
        # not compared with it as written
        assert made == expected, name
        if "skip" in name or "no venue" in name:
            assert len(made["errors"]) == 1, name
        else:
            assert made["errors"][-1].startswith("line 2: endsAt 2031-06-02T07:30Z is not after")


# Files from spreadsheets that the organisers' page refused before, each with the one talk it
# holds: (FILES' name, the talk's id, its fields)
SPREADSHEET_FILES = [
    # Excel, when a cell right of the programme was ever touched: a ";" more after the last
    # column, on every line (refused: "unknown columns ['']")
    ("columns left without a name", "ghost", {"title": "Ghost columns"}),
    # Some tools, for Excel: a first line "sep=;" naming the separator, cells holding commas
    # (refused: "the CSV needs a header line")
    ("Excel's separator line", "sep-x", {"title": "A, B", "speakers": ["Ana, Bo"]}),
]


@pytest.mark.parametrize(("name", "talk_id", "fields"), SPREADSHEET_FILES)
def test_the_page_reads_a_file_as_a_spreadsheet_saves_it(
    web: WebStack, page: Page, name: str, talk_id: str, fields: dict[str, Any]
) -> None:
    # Given a programme file as a spreadsheet (or a tool writing for one) saves it
    text = dict(FILES)[name]
    page.goto(web.url("/app/"))
    # When the organisers' page reads it
    made = page.evaluate(PAGE_DRY_RUN, [text, CATALOG])
    # Then it would add the talk of its one row, its cells split as the file says
    assert made.get("created") == [talk_id], made
    assert made["fields"][talk_id] == fields


def test_the_page_reads_back_both_exports_unchanged(
    web: WebStack, page: Page, tmp_path: Path
) -> None:
    # Given the catalog's talks with their results, exported by the page and by the command line
    talks = [
        talk | {"summary": {"count": 2, "avg": 4.5, "ratings": {"4": 1, "5": 1}}}
        for talk in CATALOG
    ]
    page.goto(web.url("/app/"))
    prior = {"mean": 3.0, "weight": 10.0}
    from_page = "\ufeff" + page.evaluate(
        "async ([talks, prior]) =>"
        " (await import('/app/js/programme-file.js')).resultsCsv(talks, prior)",
        [talks, prior],
    )
    from_cli = io.StringIO(newline="")
    write_results(from_cli, talks, prior, line_end="\r\n")
    for text in (from_page, "\ufeff" + from_cli.getvalue()):
        # When either file is read back by the page, as by the command line
        made = page.evaluate(PAGE_DRY_RUN, [text, CATALOG])
        # Then every talk is unchanged (formula guards, escaped speakers, BOM and CRLF undone)
        assert made == cli_dry_run(text, CATALOG, tmp_path)
        assert sorted(made["unchanged"]) == sorted(talk["id"] for talk in CATALOG)


def test_the_page_takes_out_only_the_guards_an_export_puts_as_the_command_line_does(
    web: WebStack, page: Page, tmp_path: Path
) -> None:
    # Given a file typed by hand (or exported before the guards inside a cell), each cell a
    # title and a room, and its speakers' cell the speakers
    out = io.StringIO()
    rows = [[f"h{n}", cell, cell, cell] for n, (_, cell, _) in enumerate(HAND_TYPED_CELLS)]
    csv.writer(out).writerows([["id", "title", "speakers", "room"], *rows])
    page.goto(web.url("/app/"))
    # When the organisers' page reads it, and the command line's dry run
    made = page.evaluate(PAGE_DRY_RUN, [out.getvalue(), CATALOG])
    # Then both read each cell as the text it means (a single "'" after a separator is the
    # text's own, as "Vim: ':wq', '=G'" and the speaker "'-) Bob" after "Ann" hold it)
    assert made == cli_dry_run(out.getvalue(), CATALOG, tmp_path)
    for n, (name, _, text) in enumerate(HAND_TYPED_CELLS):
        fields = made["fields"][f"h{n}"]
        assert (fields["title"], fields["room"]) == (text, text), name
    assert made["fields"]["h1"]["speakers"] == ["Ann", "'-) Bob"]


def test_a_results_file_of_talks_holding_formulas_starts_none_and_imports_back_unchanged(
    web: WebStack, page: Page, tmp_path: Path
) -> None:
    # Given talks whose title, speakers and room hold a formula after a ";", "," or space, as a
    # CFP's "Scaling teams;=2+3;" by "Mallory;=4+4;" (the API takes them)
    stem = unique_talk_id()[-6:]
    ids = []
    for n, (_, title, speakers, _, _) in enumerate(FORMULA_CELLS):
        ids.append(
            web.add_talk(f"cfp-{n}-{stem}", title=title, speakers=speakers, room=title)["id"]
        )
    # When an organiser downloads the results
    sign_in(web, page)
    with page.expect_download() as download:
        page.get_by_role("button", name="Download results (CSV)", exact=True).click()
    lines = Path(download.value.path()).read_bytes().decode("utf-8-sig").split("\r\n")
    ours = "\r\n".join([lines[0], *(line for line in lines if line.startswith(tuple(ids)))])
    # Then, however a spreadsheet splits its lines, no cell of those talks starts a formula
    assert len(ours.split("\r\n")) == len(ids) + 1
    assert formula_starts(ours) == []
    # And the page reads them back as the command line does, every talk as it was
    catalog = [web.runtime.request("GET", f"/talks/{talk_id}").json for talk_id in ids]
    made = page.evaluate(PAGE_DRY_RUN, [ours, catalog])
    assert sorted(made["unchanged"]) == sorted(ids), made
    assert made == cli_dry_run(ours, catalog, tmp_path)
    # And importing the file on the page changes nothing
    import_file(page, "\ufeff" + ours + "\r\n")
    expect(page.locator("form.card")).to_contain_text(
        f"Nothing to change: every talk of the file is as the programme has it "
        f"(0 to add, 0 to change, {len(ids)} unchanged;"
    )


# Talks saved before a rule the API has now, each holding a value it refuses (the last one a
# track it takes, trimmed), and files that lack or have that value's column:
# (name, the file's text, what the import says of it: a refusal's words, or None)
LEGACY_CATALOG = [
    {"id": "rtl-room", "title": "Room", "speakers": [], "room": "Room \u202eb", "revision": 2},
    {"id": "rtl-speaker", "title": "Speaker", "speakers": ["Ana", "  \u2067Bo"], "revision": 2},
    {"id": "c1-track", "title": "Track", "speakers": [], "track": "Main\u009b2J", "revision": 2},
    {"id": "blank-room", "title": "Blank", "speakers": [], "room": "\u200b", "revision": 2},
    {"id": "early", "title": "Early", "speakers": [], "startsAt": "1969-12-31T23:00:00Z"},
    {"id": "spaced", "title": "Spaced", "speakers": [], "track": " Main ", "revision": 2},
    {"id": "two", "title": "Two", "speakers": [], "track": "M\u009b", "room": "\u202eb"},
]
LEGACY_FILES = [
    ("an override in the room", "id,title\nrtl-room,New\n", "stored room holds U+202E"),
    (
        "an isolate in a speaker, after spaces",
        "id;title;track\nrtl-speaker;Speaker;Main\n",
        "stored speaker 2 holds U+2067 RIGHT-TO-LEFT ISOLATE (character 1)",
    ),
    ("a C1 control in the track", "id,title,room\nc1-track,Track,Hall\n", "track holds a control"),
    ("nothing visible in the room", "id,title\nblank-room,B\n", "'\\u200b' holds no visible"),
    ("a start before 1970", "id,title,endsAt\nearly,E,2031-06-02T10:00Z\n", "between the years"),
    ("a C1 control in the track and an override in the room", "id,title\ntwo,2\n", "room holds"),
    ("the column, with a clean value", "id,title,room\nrtl-room,New,Room b\n", None),
    ("the row changing nothing", "id,title\nrtl-room,Room\n", None),
    ("a track taken once trimmed", "id,title\nspaced,New\n", None),
]


def test_the_page_judges_a_talk_s_stored_values_as_the_command_line_s_dry_run_does(
    web: WebStack, page: Page, tmp_path: Path
) -> None:
    page.goto(web.url("/app/"))
    for name, text, said in LEGACY_FILES:
        # Given a talk holding a value from before a rule the API has now, and a file changing
        # it (a PUT replaces the whole talk: a column the file lacks is sent as stored)
        # When the command line's dry run reads the file, and the organisers' page
        expected = cli_dry_run(text, LEGACY_CATALOG, tmp_path)
        made = page.evaluate(PAGE_DRY_RUN, [text, LEGACY_CATALOG])
        # Then both refuse it in the same words when it would send the value, or both take it
        assert made == expected, name
        assert (said is None) == ("errors" not in made), (name, made)
        if said is not None:
            assert any(said in error for error in made["errors"]), name
            assert all(e.endswith("or edit the talk first") for e in made["errors"]), name


def import_file(page: Page, text: str) -> None:
    """Open the import form and choose a file of this text (UTF-8)."""
    page.get_by_role("button", name="Import a programme (CSV)", exact=True).click()
    page.get_by_label("Programme file (CSV)").set_input_files(
        files=[{"name": "programme.csv", "mimeType": "text/csv", "buffer": text.encode()}]
    )


def test_an_organiser_imports_a_programme_file_after_seeing_what_it_would_change(
    web: WebStack, page: Page
) -> None:
    # Given two talks of the programme, and a spreadsheet (BOM, CRLF, as exported) that moves
    # the first to another room, keeps the second and adds a third with two speakers
    stem = unique_talk_id()[-6:]
    moved = web.add_talk(title=f"Moved room {stem}", room="Hall A")
    kept = web.add_talk(title=f"Kept {stem}", room="Hall B")
    new_id = f"added-{stem}"
    text = (
        "\ufeffid,title,speakers,room\r\n"
        f"{moved['id']},{moved['title']},,Hall C\r\n"
        f"{kept['id']},{kept['title']},,Hall B\r\n"
        f"{new_id},Added {stem},Ana; Bo,Hall A\r\n"
    )
    sign_in(web, page)
    # When they choose it on the page
    import_file(page, text)
    # Then the page says what the import would do, line by line, and nothing has changed yet
    expect(page.get_by_role("heading", name="What the import would do", exact=True)).to_be_focused(
        timeout=REACTION_MS
    )
    form = page.locator("form.card")
    expect(form).to_contain_text("1 to add, 1 to change, 1 unchanged")
    expect(form.get_by_role("listitem").filter(has_text=new_id)).to_have_text(
        f"Line 4: Added {stem} ({new_id})"
    )
    expect(form.get_by_role("listitem").filter(has_text=moved["id"])).to_have_text(
        f"Line 2: {moved['title']} ({moved['id']}): the room"
    )
    assert web.runtime.request("GET", f"/talks/{new_id}").status == 404
    # When they confirm
    page.get_by_role("button", name="Import: add 1, change 1", exact=True).click()
    # Then the outcome is said, the talks are as the file has them, and the table shows them
    expect(page.get_by_test_id("admin-message")).to_have_text(
        "Imported: 1 added, 1 changed, 1 unchanged.", timeout=REACTION_MS
    )
    web.created.append(new_id)
    added = web.runtime.request("GET", f"/talks/{new_id}").json
    assert (added["title"], added["speakers"], added["room"]) == (
        f"Added {stem}",
        ["Ana", "Bo"],
        "Hall A",
    )
    assert web.runtime.request("GET", f"/talks/{moved['id']}").json["room"] == "Hall C"
    expect(page.get_by_role("button", name="Import a programme (CSV)", exact=True)).to_be_focused(
        timeout=REACTION_MS
    )
    page.get_by_role("searchbox", name="Search talks", exact=True).fill(stem)
    expect(page.locator(".admin-talks tbody tr")).to_have_count(3)


def test_an_import_says_which_of_its_talks_are_paused_and_a_ratings_paused_column_not_applied(
    web: WebStack, page: Page
) -> None:
    # Given two talks whose ratings the organisers paused (one the file moves to another room,
    # one it keeps), one open, and an export read back (its results and ratingsPaused columns)
    # whose cells say "false" of a paused talk and "true" of the open one
    stem = unique_talk_id()[-6:]
    moved = web.add_talk(title=f"Paused moved {stem}", room="Hall A", ratingsPaused=True)
    kept = web.add_talk(title=f"Paused kept {stem}", ratingsPaused=True)
    still = web.add_talk(title=f"Open {stem}")
    new_id = f"added-open-{stem}"
    text = (
        "\ufeffid;title;room;count;ratingsPaused\r\n"
        f"{moved['id']};{moved['title']};Hall C;4;true\r\n"
        f"{kept['id']};{kept['title']};;0;false\r\n"
        f"{still['id']};{still['title']};;2;true\r\n"
        f"{new_id};Added open {stem};Hall A;;false\r\n"
    )
    sign_in(web, page)
    # When they choose it on the page
    import_file(page, text)
    # Then what the import would do says, as `admin import --dry-run` does, that the paused
    # talks would stay so and how to open them, and that the column would not be applied
    form = page.locator("form.card")
    expect(form).to_contain_text("1 to add, 1 to change, 2 unchanged")
    paused_words = (
        f"(ratings refused): \u201c{moved['title']}\u201d, \u201c{kept['title']}\u201d \u2014 "
        "\u201cResume ratings\u201d in their rows opens them again."
    )
    expect(page.get_by_test_id("import-paused")).to_have_text(
        f"2 talks would stay paused {paused_words}"
    )
    not_applied = (
        "applied (an import never pauses or resumes ratings: \u201cPause ratings\u201d and "
        "\u201cResume ratings\u201d in a talk's row do); it differs from the talk for "
        f"\u201c{kept['title']}\u201d (false in the file, the talk paused), "
        f"\u201c{still['title']}\u201d (true in the file, the talk not paused)."
    )
    expect(page.get_by_test_id("import-pause-not-applied")).to_have_text(
        f"The file's ratingsPaused column would not be {not_applied}"
    )
    # When they import it
    page.get_by_role("button", name="Import: add 1, change 1", exact=True).click()
    web.created.append(new_id)
    # Then the outcome says the same of what was done, and no talk's pause changed
    expect(page.get_by_test_id("admin-message")).to_have_text(
        f"Imported: 1 added, 1 changed, 2 unchanged. 2 talks are paused {paused_words} "
        f"The file's ratingsPaused column is not {not_applied}",
        timeout=REACTION_MS,
    )
    paused = {
        talk_id: web.runtime.request("GET", f"/talks/{talk_id}").json["ratingsPaused"]
        for talk_id in (moved["id"], kept["id"], still["id"], new_id)
    }
    assert paused == {moved["id"]: True, kept["id"]: True, still["id"]: False, new_id: False}
    # And the paused talks' rows say so, their "Resume ratings" opening one again
    page.get_by_role("searchbox", name="Search talks", exact=True).fill(stem)
    expect(page.locator(".admin-talks tbody tr")).to_have_count(4)
    row = page.locator(".admin-talks tbody tr").filter(has_text=moved["title"])
    expect(row.get_by_test_id("rating-state")).to_have_text("Rating paused")
    row.get_by_role("button", name=f"Resume ratings {moved['title']}", exact=True).click()
    expect(
        row.get_by_role("button", name=f"Pause ratings {moved['title']}", exact=True)
    ).to_be_visible()
    assert web.runtime.request("GET", f"/talks/{moved['id']}").json["ratingsPaused"] is False


def test_an_import_s_paused_talks_hidden_by_the_search_are_said_so_with_a_way_to_them(
    web: WebStack, page: Page
) -> None:
    # Given two paused talks and an open one, and the organisers' list searched for the open
    # one alone (the paused talks' rows hidden)
    stem = unique_talk_id()[-6:]
    first = web.add_talk(title=f"Paused first {stem}", ratingsPaused=True)
    second = web.add_talk(title=f"Paused second {stem}", ratingsPaused=True)
    still = web.add_talk(title=f"Open {stem}", room="Hall A")
    sign_in(web, page)
    search_talks(page, f"Open {stem}", 1)
    # When a file naming the three, moving the open one, is imported
    text = (
        "id,title,room\n"
        f"{first['id']},{first['title']},\n"
        f"{second['id']},{second['title']},\n"
        f"{still['id']},{still['title']},Hall B\n"
    )
    import_file(page, text)
    page.get_by_role("button", name="Import: add 0, change 1").click()
    # Then its line says the search hides their rows, where it points to their "Resume
    # ratings" (before: a pointer to rows nowhere on the page), with a way to them
    message = page.get_by_test_id("admin-message")
    expect(message).to_contain_text(
        "\u201cResume ratings\u201d in their rows opens them again. The search hides them: "
        "Show all talks.",
        timeout=REACTION_MS,
    )
    # When the search shows one of them
    search_talks(page, f"second {stem}", 1)
    # Then the line says how many it hides now
    hidden = page.get_by_test_id("import-paused-hidden")
    expect(hidden).to_have_text(" The search hides 1 of them: Show all talks.")
    # When the organiser presses "Show all talks"
    hidden.get_by_role("button", name="Show all talks").click()
    # Then the search is cleared, every talk shown, and the keyboard is on the first hidden
    # one's "Resume ratings"; the line no longer speaks of the search
    expect(page.get_by_role("searchbox", name="Search talks")).to_have_value("")
    resume = page.get_by_role("button", name=f"Resume ratings {first['title']}")
    expect(resume).to_be_focused(timeout=REACTION_MS)
    expect(hidden).to_have_count(0)
    expect(message).to_contain_text("in their rows opens them again.", timeout=REACTION_MS)
    assert "The search" not in (message.text_content() or "")
    # And that button opens it again
    resume.press("Enter")
    expect(page.get_by_role("button", name=f"Pause ratings {first['title']}")).to_be_visible()
    assert web.runtime.request("GET", f"/talks/{first['id']}").json["ratingsPaused"] is False


def test_a_clash_past_midnight_says_the_day_its_overlap_ends(web: WebStack, page: Page) -> None:
    # Given a late session in a room from 22:00 to 02:00, and a talk elsewhere 23:30 to 01:00
    stem = unique_talk_id()[-6:]
    hall = f"Night hall {stem}"
    web.add_talk(
        title=f"Late session {stem}",
        room=hall,
        startsAt="2031-06-02T22:00:00Z",
        endsAt="2031-06-03T02:00:00Z",
    )
    owl = web.add_talk(
        title=f"Owl talk {stem}",
        room=f"Annex {stem}",
        startsAt="2031-06-02T23:30:00Z",
        endsAt="2031-06-03T01:00:00Z",
    )
    sign_in(web, page)
    # When an organiser moves the talk into the late session's room
    page.get_by_role("button", name=f"Edit {owl['title']}", exact=True).click()
    page.get_by_label("Room", exact=True).fill(hall)
    page.get_by_role("button", name="Save", exact=True).click()
    # Then the warning's overlap names the day it ends on (it read as ending before it began)
    warning = page.get_by_test_id("admin-message").get_by_test_id("overlap-warning")
    expect(warning).to_contain_text(f"room clash in {hall}, ", timeout=REACTION_MS)
    said = warning.text_content() or ""
    overlap = said.split(f"room clash in {hall}, ", 1)[1].split(": ", 1)[0]
    ends = overlap.split("\N{EN DASH}", 1)[1]
    assert "Jun 3, 2031" in ends, overlap  # (a date that far off is written with its year)


def test_a_talk_saved_or_imported_over_another_in_its_room_is_saved_with_a_warning(
    web: WebStack, page: Page
) -> None:
    # Given a keynote in a room from 09:00 to 10:00, and a workshop at the same time elsewhere
    stem = unique_talk_id()[-6:]
    hall = f"Hall {stem}"
    nine = {"startsAt": "2031-06-02T09:00:00Z", "endsAt": "2031-06-02T10:00:00Z"}
    web.add_talk(title=f"Keynote {stem}", room=hall, **nine)
    workshop = web.add_talk(
        title=f"Workshop {stem}",
        room=f"Annex {stem}",
        startsAt="2031-06-02T09:30:00Z",
        endsAt="2031-06-02T10:30:00Z",
    )
    sign_in(web, page)
    message = page.get_by_test_id("admin-message")
    # When an organiser moves the workshop into the keynote's room (typed in other letters, two
    # spaces between its words: compared as the command line compares rooms)
    page.get_by_role("button", name=f"Edit {workshop['title']}", exact=True).click()
    page.get_by_label("Room", exact=True).fill(f"hall  {stem} ")
    page.get_by_role("button", name="Save", exact=True).click()
    # Then it is saved, and the page warns that the two overlap in that room
    expect(message).to_contain_text(f"Saved “Workshop {stem}”.", timeout=REACTION_MS)
    warning = message.get_by_test_id("overlap-warning")
    expect(warning).to_contain_text(f"Check the times: room clash in hall {stem}, ")
    expect(warning).to_contain_text(f": “Workshop {stem}” and “Keynote {stem}”.")
    assert web.runtime.request("GET", f"/talks/{workshop['id']}").json["room"] == f"hall  {stem}"
    # When they import a file adding a talk in that room from 09:15, and one in another room
    new_id, apart_id = f"overlap-{stem}", f"apart-{stem}"
    text = (
        "id,title,room,startsAt,endsAt\n"
        f"{new_id},Lightning {stem},{hall},2031-06-02T09:15:00Z,2031-06-02T09:45:00Z\n"
        f"{apart_id},Apart {stem},Room {stem},2031-06-02T09:15:00Z,2031-06-02T09:45:00Z\n"
    )
    import_file(page, text)
    page.get_by_role("button", name=re.compile(r"^Import: add 2")).click()
    web.created += [new_id, apart_id]
    # Then both are imported, and the page warns of the one clash of the three talks of the
    # hall, the new one first, as the command says it; not of the other
    expect(message).to_contain_text("Imported: 2 added", timeout=REACTION_MS)
    warning = message.get_by_test_id("overlap-warning")
    expect(warning).to_contain_text(f"room clash in {hall}, ")
    expect(warning).to_contain_text(
        f": 3 talks overlap: “Lightning {stem}”, “Keynote {stem}” and “Workshop {stem}”."
    )
    expect(warning).not_to_contain_text(f"Apart {stem}")
    assert web.runtime.request("GET", f"/talks/{new_id}").status == 200
    # When they save a talk that overlaps nothing in its room
    page.get_by_role("button", name=f"Edit Apart {stem}", exact=True).click()
    page.get_by_label("Title", exact=True).fill(f"Apart, renamed {stem}")
    page.get_by_role("button", name="Save", exact=True).click()
    # Then nothing is said of overlaps
    expect(message).to_have_text(f"Saved “Apart, renamed {stem}”.", timeout=REACTION_MS)


class SlowListAfterWrite:
    """A hall's slow Wi-Fi after a save: once the page wrote a talk (PUT), its reads of the
    programme's list (GET /talks?...) wait until `release`, then go to the service as it is
    then, or are lost (`lost`) with every later one; else later reads go at once."""

    def __init__(self, page: Page) -> None:
        self.written = False
        self.held: list[Route] = []
        self.released = False
        self.lost = False
        # Every request the page made since its save, as the browser saw them: a read that
        # never reached the routes is named when the wait gives up
        self.requested: list[str] = []
        page.on("request", self.seen)
        page.route("**/talks/*", self.talk)
        page.route("**/talks?*", self.programme)

    def seen(self, request: Request) -> None:
        if self.written:
            self.requested.append(f"{request.method} {request.url}")

    def talk(self, route: Route) -> None:
        self.written = self.written or route.request.method == "PUT"
        route.continue_()

    def programme(self, route: Route) -> None:
        if self.lost:
            route.abort("internetdisconnected")
        elif self.written and not self.released:
            self.held.append(route)
        else:
            route.continue_()

    def wait_for_a_read(self, page: Page) -> None:
        """Until the page asked for the list (the route's handler runs while the page waits).
        The page asks in the task that says what it saved (admin.js: done, readListAfter), so
        the read always comes; 30 s, as on a busy machine (load 20) the request passes through
        the browser and the app's service worker, once it controls the page, slowly, and 10 s
        was once not enough."""
        deadline = time.monotonic() + 30
        while not self.held and time.monotonic() < deadline:
            page.wait_for_timeout(100)
        controlled = page.evaluate("Boolean(navigator.serviceWorker?.controller)")
        assert self.held, (
            f"the page did not read the list (a service worker in charge: {controlled}; "
            f"its requests since the save: {self.requested})"
        )

    def release(self, lost: bool = False) -> None:
        self.released = True
        self.lost = lost
        while self.held:
            held = self.held.pop(0)
            if lost:
                held.abort("internetdisconnected")
            else:
                held.continue_()


@pytest.mark.parametrize(
    ("closed_by", "read"), [("a save", "answered"), ("an import", "answered"), ("a save", "lost")]
)
def test_a_list_read_that_comes_back_after_another_form_opened_says_nothing_there(
    web: WebStack, page: Page, closed_by: str, read: str
) -> None:
    # Given a keynote in a room from 09:00 to 10:00, and a workshop at the same time elsewhere
    stem = unique_talk_id()[-6:]
    hall = f"Hall {stem}"
    nine = {"startsAt": "2031-06-02T09:00:00Z", "endsAt": "2031-06-02T10:00:00Z"}
    web.add_talk(title=f"Keynote {stem}", room=hall, **nine)
    workshop = web.add_talk(title=f"Workshop {stem}", room=f"Annex {stem}", **nine)
    sign_in(web, page)
    message = page.get_by_test_id("admin-message")
    network = SlowListAfterWrite(page)
    # When an organiser moves the workshop into the keynote's room (by its form, or by a
    # file), and the list read after it, which would say the two overlap, takes long
    if closed_by == "a save":
        page.get_by_role("button", name=f"Edit {workshop['title']}", exact=True).click()
        page.get_by_label("Room", exact=True).fill(hall)
        page.get_by_role("button", name="Save", exact=True).click()
        expect(message).to_have_text(f"Saved “Workshop {stem}”.", timeout=REACTION_MS)
    else:
        import_file(page, f"id,title,room\n{workshop['id']},{workshop['title']},{hall}\n")
        page.get_by_role("button", name=re.compile(r"^Import: add 0, change 1")).click()
        expect(message).to_have_text(
            re.compile(r"^Imported: 0 added, 1 changed"), timeout=REACTION_MS
        )
    network.wait_for_a_read(page)
    # And meanwhile opens another form, to add a talk
    page.get_by_role("button", name="Add a talk", exact=True).click()
    heading = page.get_by_role("heading", name="Add a talk", exact=True)
    expect(heading).to_be_focused(timeout=REACTION_MS)
    # And the list comes, with a talk saved meanwhile (which only a read shows), or its read
    # is lost (which the list's own line says)
    if read == "answered":
        later = web.saved_before(title=f"Listed by the read {stem}")
        network.release()
        expect(page.get_by_role("link", name=later["title"], exact=True)).to_be_visible()
    else:
        network.release(lost=True)
        expect(page.get_by_test_id("admin-stale")).to_contain_text("cannot be reached")
    # Then the new form's message says nothing of the save (its overlap, the lost read), and
    # its heading keeps the keyboard
    expect(message).to_have_text("", timeout=REACTION_MS)
    expect(page.get_by_test_id("overlap-warning")).to_have_count(0)
    expect(heading).to_be_focused(timeout=REACTION_MS)
    assert web.runtime.request("GET", f"/talks/{workshop['id']}").json["room"] == hall


def test_a_delete_done_while_a_save_s_list_read_waits_says_only_that_it_deleted(
    web: WebStack, page: Page
) -> None:
    # Given a keynote in a room from 09:00 to 10:00, a workshop at the same time elsewhere, and
    # a talk to delete
    stem = unique_talk_id()[-6:]
    hall = f"Hall {stem}"
    nine = {"startsAt": "2031-06-02T09:00:00Z", "endsAt": "2031-06-02T10:00:00Z"}
    web.add_talk(title=f"Keynote {stem}", room=hall, **nine)
    workshop = web.add_talk(title=f"Workshop {stem}", room=f"Annex {stem}", **nine)
    doomed = web.add_talk(title=f"Cancelled {stem}", room=f"Room {stem}")
    sign_in(web, page)
    message = page.get_by_test_id("admin-message")
    network = SlowListAfterWrite(page)
    # When an organiser moves the workshop into the keynote's room, and the list read after
    # it, which would say the two overlap, takes long
    page.get_by_role("button", name=f"Edit {workshop['title']}", exact=True).click()
    page.get_by_label("Room", exact=True).fill(hall)
    page.get_by_role("button", name="Save", exact=True).click()
    expect(message).to_have_text(f"Saved “Workshop {stem}”.", timeout=REACTION_MS)
    network.wait_for_a_read(page)
    # And meanwhile deletes another talk
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name=f"Delete {doomed['title']}", exact=True).click()
    expect(message).to_have_text(f"Deleted “{doomed['title']}”.", timeout=REACTION_MS)
    # (on a row's Edit button: the talk it edits)
    focused = page.evaluate("document.activeElement.dataset.edit || ''")
    assert focused
    # And the list comes, with a talk saved meanwhile (which only a read shows)
    later = web.saved_before(title=f"Listed by the read {stem}")
    network.release()
    expect(page.get_by_role("link", name=later["title"], exact=True)).to_be_visible()
    # Then the delete's words say nothing of the save's overlap, and the keyboard stays where
    # the delete left it
    expect(message).to_have_text(f"Deleted “{doomed['title']}”.", timeout=REACTION_MS)
    expect(page.get_by_test_id("overlap-warning")).to_have_count(0)
    assert page.evaluate("document.activeElement.dataset.edit") == focused
    assert web.runtime.request("GET", f"/talks/{doomed['id']}").status == 404


class ListReadsFail:
    """A hall's Wi-Fi that drops the page's reads of the programme's list (GET /talks?...)
    while `failing`; the reads dropped so far."""

    def __init__(self, page: Page) -> None:
        self.failing = True
        self.dropped = 0
        page.route("**/talks?*", self.programme)

    def programme(self, route: Route) -> None:
        if self.failing:
            self.dropped += 1
            route.abort("internetdisconnected")
        else:
            route.continue_()


@pytest.mark.parametrize("action", ["a save", "a delete"])
def test_an_action_whose_list_read_fails_keeps_its_words_and_the_list_reads_itself_again(
    web: WebStack, page: Page, action: str
) -> None:
    # Given a keynote in a room from 09:00 to 10:00 and a workshop at the same time elsewhere,
    # and a signed-in organiser (the page's timers on a clock the test moves)
    stem = unique_talk_id()[-6:]
    hall = f"Hall {stem}"
    nine = {"startsAt": "2031-06-02T09:00:00Z", "endsAt": "2031-06-02T10:00:00Z"}
    keynote = web.add_talk(title=f"Keynote {stem}", room=hall, **nine)
    workshop = web.add_talk(title=f"Workshop {stem}", room=f"Annex {stem}", **nine)
    page.clock.install()
    sign_in(web, page)
    expect(page.locator(".live-badge")).to_have_attribute("data-state", "live")
    message = page.get_by_test_id("admin-message")
    stale = page.get_by_test_id("admin-stale")
    # When the organiser moves the workshop into the keynote's room, or deletes the keynote,
    # and the list read after it is dropped
    clock_stands_still(page)
    if action == "a save":
        page.get_by_role("button", name=f"Edit {workshop['title']}", exact=True).click()
        page.get_by_label("Room", exact=True).fill(hall)
        network = ListReadsFail(page)
        page.get_by_role("button", name="Save", exact=True).click()
        said = f"Saved “Workshop {stem}”."
    else:
        network = ListReadsFail(page)
        page.once("dialog", lambda dialog: dialog.accept())
        page.get_by_role("button", name=f"Delete {keynote['title']}", exact=True).click()
        said = f"Deleted “Keynote {stem}”."
    # Then the page still says what was done (it was), and the list's own line says the list
    # could not be read and when it reads it again
    expect(stale).to_contain_text("The service cannot be reached.", timeout=REACTION_MS)
    expect(message).to_have_text(said, timeout=REACTION_MS)
    expect(stale).to_contain_text("Reading it again in 1 s.")
    # When the read again a second later is dropped too, Then the next waits longer
    page.clock.run_for(1000)
    expect(stale).to_contain_text("Reading it again in 2 s.")
    expect(message).to_have_text(said, timeout=REACTION_MS)
    # When the network is back and that read comes, Then the list's line goes, and a save's
    # overlap is said after its words
    network.failing = False
    page.clock.run_for(2000)
    expect(stale).to_be_hidden()
    if action == "a save":
        expect(message.get_by_test_id("overlap-warning")).to_contain_text(
            f": “Workshop {stem}” and “Keynote {stem}”."
        )
        expect(message).to_contain_text(said, timeout=REACTION_MS)
        assert web.runtime.request("GET", f"/talks/{workshop['id']}").json["room"] == hall
    else:
        expect(message).to_have_text(said, timeout=REACTION_MS)
        assert web.runtime.request("GET", f"/talks/{keynote['id']}").status == 404
    assert network.dropped >= 2


def test_the_list_s_line_says_when_it_reads_again_at_every_failure_the_table_s_own_too(
    web: WebStack, page: Page
) -> None:
    # Given a signed-in organiser who deleted a talk while the hall's Wi-Fi drops the page's
    # reads of the list (the page's timers on a clock the test moves)
    doomed = web.add_talk(title=f"Doomed {unique_talk_id()[-6:]}")
    web.add_talk(title=f"Kept {unique_talk_id()[-6:]}")
    page.clock.install()
    sign_in(web, page)
    expect(page.locator(".live-badge")).to_have_attribute("data-state", "live")
    stale = page.get_by_test_id("admin-stale")
    # (each text the line takes, as a screen reader hears a status line change)
    stale.evaluate(
        """(line) => {
            window.__staleTexts = [];
            new MutationObserver(() => window.__staleTexts.push(line.textContent))
                .observe(line, { childList: true, characterData: true, subtree: true });
        }"""
    )
    clock_stands_still(page)
    network = ListReadsFail(page)
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name=f"Delete {doomed['title']}", exact=True).click()
    # Then at each failure the list's line says when it reads again: 1, 2, 4, 8, 16 s, then
    # every 30 s, and so it does still when the table's own read (the page looked at again)
    # fails in between
    # (each move made once the page is done with every read it made, the failed ones included
    # (reads_answered's count, polled: its frames stand still with the clock): the last waits
    # say the same words, so only that tells the page has set the timer the move is to run; a
    # move made before it did ran nothing, and the clock stands still: seen with the page's
    # failed reads handled 1.5 s late)
    done = "window.__reads.done === window.__reads.started"
    waits = [1, 2, 4, 8, 16, 30, 30]
    for wait in waits:
        expect(stale).to_contain_text(f"Reading it again in {wait} s.")
        dropped = network.dropped
        test_web_app.the_page_reads_again(page)
        assert test_web_app.waited_on(page, lambda n=dropped: network.dropped > n)
        expect(stale).to_contain_text("The service cannot be reached.")
        expect(stale).to_contain_text(f"Reading it again in {wait} s.")
        assert wait_for(lambda: page.evaluate(done), seconds=10, page=page)
        dropped = network.dropped
        page.clock.run_for(wait * 1000)
    # And the line changed once a wait, and not at a failure in between (its words, then its
    # wait, each written at every failure, were two announcements a read, four with the
    # table's own: it spoke every few seconds through an outage)
    texts = page.evaluate("window.__staleTexts")
    assert len(texts) == len(set(waits)), texts
    assert all(
        text.endswith(f"Reading it again in {wait} s.")
        for text, wait in zip(texts, sorted(set(waits)), strict=True)
    ), texts
    # When the network is back and the next read comes, Then the line goes
    assert test_web_app.waited_on(page, lambda: network.dropped > dropped)
    assert wait_for(lambda: page.evaluate(done), seconds=10, page=page)
    network.failing = False
    page.clock.run_for(30_000)
    expect(stale).to_be_hidden()
    expect(page.get_by_test_id("admin-message")).to_have_text(
        f"Deleted “{doomed['title']}”.", timeout=REACTION_MS
    )


def searched(page: Page, typed: str) -> None:
    """The organiser types `typed` in the search, and the table shows what it finds (its
    120 ms pause after the typing run on the page's clock, which stands still)."""
    page.get_by_role("searchbox", name="Search talks", exact=True).fill(typed)
    page.clock.run_for(200)
    # (drawn: the address keeps the search, ?q=, or none)
    expect(page).to_have_url(
        re.compile(rf"\?q={re.escape(quote_plus(typed))}$" if typed else r"^[^?]*$")
    )


def test_with_no_talk_listed_the_list_s_failure_and_its_next_read_stay_said_whatever_is_searched(
    web: WebStack, page: Page
) -> None:
    # Given an organiser who signs in while the hall's Wi-Fi drops the page's reads of the list
    # (the page's timers on a clock the test moves), so that no talk is listed
    page.clock.install()
    network = ListReadsFail(page)
    sign_in(web, page)
    clock_stands_still(page)
    # Then one line says the list could not be read, and the count says nothing of it
    failed = page.get_by_role("status").filter(has_text="The service cannot be reached.")
    expect(failed).to_have_count(1)
    expect(failed).to_contain_text("The list could not be read.")
    counted = page.get_by_test_id("admin-count")
    # When they type a search, and clear it, Then that line still says it, and the count
    # line does not say that there are no talks (the count line said the failure, and a search
    # wrote "0 talks" over it)
    for typed in ["nothing is called this", ""]:
        searched(page, typed)
        expect(failed).to_have_count(1)
        expect(counted).not_to_contain_text("talk")
    # When they add a talk, whose list read after it is dropped too
    title = f"Added with nothing listed {unique_talk_id()[-6:]}"
    page.get_by_role("button", name="Add a talk", exact=True).click()
    page.get_by_label("Title", exact=True).fill(title)
    page.get_by_role("button", name="Add the talk", exact=True).click()
    expect(page.get_by_test_id("admin-message")).to_have_text(
        f"Added “{title}”.", timeout=REACTION_MS
    )
    # Then the line says when the list is read again, and keeps saying it as they search
    expect(failed).to_have_count(1)
    expect(failed).to_contain_text("Reading it again in 1 s.")
    for typed in ["nothing is called this", ""]:
        searched(page, typed)
        expect(failed).to_contain_text("Reading it again in 1 s.")
    # When the read a second later is dropped too, Then the line says the next wait, searched
    # or not
    page.clock.run_for(1000)
    expect(failed).to_contain_text("Reading it again in 2 s.")
    searched(page, "still nothing")
    expect(failed).to_contain_text("Reading it again in 2 s.")
    # When the network is back and that read comes, Then the line goes, the list is shown
    # and counted
    network.failing = False
    searched(page, "")
    page.clock.run_for(2000)
    expect(failed).to_have_count(0)
    expect(page.get_by_role("link", name=title, exact=True)).to_be_visible()
    expect(counted).to_have_text(re.compile(r"^\d+ talks$"))


def test_a_file_with_refused_lines_names_each_line_and_imports_nothing(
    web: WebStack, page: Page
) -> None:
    # Given a spreadsheet whose third line has a time without a zone and fourth a cell too many
    stem = unique_talk_id()[-6:]
    text = (
        "id,title,startsAt\n"
        f"fine-{stem},Fine,2031-06-02T09:00Z\n"
        f"nozone-{stem},No zone,2031-06-02T09:00\n"
        f"extra-{stem},Extra,2031-06-02T09:00Z,surplus\n"
    )
    sign_in(web, page)
    # When an organiser chooses it
    import_file(page, text)
    # Then the page names each refused line in the command line's words, offers no import,
    # and nothing is added
    expect(
        page.get_by_role("heading", name="This file cannot be imported", exact=True)
    ).to_be_focused(timeout=REACTION_MS)
    problems = page.locator(".import-errors li")
    expect(problems).to_have_text(
        [
            "line 3: startsAt 2031-06-02T09:00 names no time zone (write it as "
            "2031-06-02T09:00Z for UTC, or with its offset, 2031-06-02T09:00+01:00)",
            "line 4: 4 cells where the header has 3; a cell holding the separator ',' must be "
            "in double quotes",
        ]
    )
    expect(page.get_by_role("button", name=re.compile("^Import:"))).to_be_hidden()
    assert web.runtime.request("GET", f"/talks/fine-{stem}").status == 404


def test_a_line_with_several_problems_is_refused_for_each_in_the_dry_run_s_words(
    web: WebStack, page: Page, tmp_path: Path
) -> None:
    from tests.e2e.test_cli import Cli

    # Given a spreadsheet saved by Excel in a European language (a BOM, ";" between cells, CRLF)
    # whose first talk's start and end name no time zone, and whose second has an id a talk
    # cannot have, no title, and an end before its start
    stem = unique_talk_id()[-6:]
    text = (
        "\ufeffid;title;startsAt;endsAt\r\n"
        f"nozone-{stem};No zone;2031-06-02T09:00;2031-06-02T09:45\r\n"
        f"bad id {stem};;2031-06-02T10:00Z;2031-06-02T09:00Z\r\n"
        f"fine-{stem};Fine;2031-06-02T09:00Z;2031-06-02T09:45Z\r\n"
    )
    path = tmp_path / "programme.csv"
    path.write_bytes(text.encode())
    cli = Cli.of(web.runtime, tmp_path, web.token)
    sign_in(web, page)
    # When an organiser chooses it on the page, and another reads it with the command line
    import_file(page, text)
    dry = cli.run("admin", "import", "--dry-run", str(path))
    # Then the page names every problem of every line, in the command line's words and order
    # (it named only the start naming no zone, and the end once that was fixed)
    expect(
        page.get_by_role("heading", name="This file cannot be imported", exact=True)
    ).to_be_focused(timeout=REACTION_MS)
    said = [line.removeprefix("talkrate: ") for line in dry.stderr.strip().splitlines()]
    assert dry.returncode == 2, dry.stderr
    assert said[-1] == "2 lines of the file cannot be imported (nothing was imported)"
    no_zone = "names no time zone (write it as 2031-06-02T09:{0}Z for UTC, or with its offset, "
    assert said[:2] == [
        f"line 2: startsAt 2031-06-02T09:00 {no_zone.format('00')}2031-06-02T09:00+01:00)",
        f"line 2: endsAt 2031-06-02T09:45 {no_zone.format('45')}2031-06-02T09:45+01:00)",
    ]
    assert [line[:7] for line in said[2:-1]] == ["line 3:"] * 3
    expect(page.locator(".import-errors li")).to_have_text(said[:-1])
    # And the page asks for the two lines to be fixed, offers no import, and nothing is added
    expect(page.locator("form.card")).to_contain_text("Fix these lines of the file")
    expect(page.get_by_role("button", name=re.compile("^Import:"))).to_be_hidden()
    assert web.runtime.request("GET", f"/talks/fine-{stem}").status == 404
    # When the file holds only the first talk, its start and end naming no zone
    first = "".join(text.splitlines(keepends=True)[:2])
    page.get_by_label("Programme file (CSV)").set_input_files(
        files=[{"name": "programme.csv", "mimeType": "text/csv", "buffer": first.encode()}]
    )
    # Then both are named, and the one line is asked to be fixed
    expect(page.locator(".import-errors li")).to_have_text(said[:2])
    expect(page.locator("form.card")).to_contain_text("Fix this line of the file")


def test_a_file_fixed_after_its_refusal_and_chosen_again_is_read_again(
    web: WebStack, page: Page, tmp_path: Path
) -> None:
    # Given a spreadsheet on disk whose start names no time zone, chosen on the page
    stem = unique_talk_id()[-6:]
    path = tmp_path / "programme.csv"
    path.write_text(f"id,title,startsAt\nfix-{stem},Fixed {stem},2031-06-02 09:00\n")
    sign_in(web, page)
    page.get_by_role("button", name="Import a programme (CSV)", exact=True).click()
    chooser = page.get_by_label("Programme file (CSV)")
    chooser.set_input_files(str(path))  # (by its path, as a file dialog's choice is given)
    expect(
        page.get_by_role("heading", name="This file cannot be imported", exact=True)
    ).to_be_focused(timeout=REACTION_MS)
    read_at = page.locator("#import-read")
    first = read_at.all_inner_texts()
    read_in = page.evaluate("Math.floor(Date.now() / 1000)")  # (the second it was read in)
    # When the organiser fixes the line, saves the file, and chooses it again as the page says
    path.write_text(f"id,title,startsAt\nfix-{stem},Fixed {stem},2031-06-02T09:00Z\n")
    # (in a later second of the page's clock: the time it is said read at, to the second, moves)
    page.wait_for_function("(second) => Date.now() >= (second + 1) * 1000", arg=read_in)
    chooser.set_input_files(str(path))
    # Then it is read again: the page says what the import would do, names the file it read,
    # and a screen reader hears that file with the input (which now holds none)
    expect(page.get_by_role("heading", name="What the import would do", exact=True)).to_be_focused(
        timeout=REACTION_MS
    )
    expect(page.locator("form.card")).to_contain_text("1 to add, 0 to change")
    expect(read_at).to_have_text(re.compile(r"^programme\.csv, read at .+\.$"))
    assert first[0].startswith("programme.csv, read at ")
    assert read_at.inner_text() != first[0]  # (said read later: read again, not kept)
    expect(chooser).to_have_accessible_description(re.compile(r"^programme\.csv, read at "))
    # And it imports
    page.get_by_role("button", name="Import: add 1, change 0", exact=True).click()
    web.created.append(f"fix-{stem}")
    expect(page.get_by_test_id("admin-message")).to_have_text(
        "Imported: 1 added, 0 changed, 0 unchanged.", timeout=REACTION_MS
    )
    assert web.runtime.request("GET", f"/talks/fix-{stem}").json["startsAt"] == (
        "2031-06-02T09:00:00Z"
    )


def test_a_file_that_would_send_a_stored_override_is_refused_whole_and_changes_nothing(
    web: WebStack, page: Page
) -> None:
    # Given three talks, the second saved before direction controls were refused (an override
    # in its room), and a file of the three ids with new titles and no room column
    stem = unique_talk_id()[-6:]
    first = web.add_talk(title=f"First {stem}", room="Hall A")
    legacy = web.saved_before(title=f"Legacy {stem}", room="Room \u202eb")
    last = web.add_talk(title=f"Last {stem}", room="Hall C")
    talks = [first, legacy, last]
    text = "id,title\n" + "".join(f"{t['id']},Renamed {t['title']}\n" for t in talks)
    sign_in(web, page)
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.method) if "/talks/" in r.url else None)
    # When an organiser chooses it
    import_file(page, text)
    # Then the page refuses the whole file before sending anything (it offered to change the
    # three, and the API refused the second after the first was changed), naming the line,
    # the field, the stored value and what to do
    expect(
        page.get_by_role("heading", name="This file cannot be imported", exact=True)
    ).to_be_focused(timeout=REACTION_MS)
    expect(page.locator(".import-errors li")).to_have_text(
        [
            "line 3: the talk's stored room holds U+202E RIGHT-TO-LEFT OVERRIDE (character 6), an "
            "invisible control that can reorder the text around it where it is shown; the file "
            "has no room column, so the import would send it as stored, and the API now refuses "
            "it: add a room column with a value the API takes, or edit the talk first"
        ]
    )
    expect(page.get_by_role("button", name=re.compile("^Import:"))).to_be_hidden()
    assert "PUT" not in sent
    for talk in talks:
        assert web.runtime.request("GET", f"/talks/{talk['id']}").json["title"] == talk["title"]
    # When they choose the file again with a room column, the room as it should be
    rooms = {first["id"]: "Hall A", legacy["id"]: "Room b", last["id"]: "Hall C"}
    again = "id,title,room\n" + "".join(
        f"{t['id']},Renamed {t['title']},{rooms[t['id']]}\n" for t in talks
    )
    page.get_by_label("Programme file (CSV)").set_input_files(
        files=[{"name": "programme.csv", "mimeType": "text/csv", "buffer": again.encode()}]
    )
    page.get_by_role("button", name="Import: add 0, change 3", exact=True).click()
    # Then all three are imported
    expect(page.get_by_test_id("admin-message")).to_have_text(
        "Imported: 0 added, 3 changed, 0 unchanged.", timeout=REACTION_MS
    )
    changed = web.runtime.request("GET", f"/talks/{legacy['id']}").json
    assert (changed["title"], changed["room"]) == (f"Renamed {legacy['title']}", "Room b")


@pytest.mark.parametrize("encoding", ["latin-1", "utf-16-le", "utf-16-be"])
def test_a_file_that_is_not_utf8_is_refused_saying_how_to_save_it(
    web: WebStack, page: Page, encoding: str
) -> None:
    # Given a programme saved in another encoding (UTF-16 without its byte-order mark: a NUL
    # after each letter, which UTF-8 reads)
    sign_in(web, page)
    page.get_by_role("button", name="Import a programme (CSV)", exact=True).click()
    # When an organiser chooses it
    page.get_by_label("Programme file (CSV)").set_input_files(
        files=[
            {
                "name": "programme.csv",
                "mimeType": "text/csv",
                # (the letters ASCII but in Latin-1: UTF-16 of them is valid UTF-8)
                "buffer": f"id,title\ncafe-talk,{'Café' if encoding == 'latin-1' else 'Cafe'}\n".encode(
                    encoding
                ),
            }
        ]
    )
    # Then the page says how to save it, as the command line does
    expect(page.locator(".import-errors li")).to_have_text(
        ["programme.csv is not UTF-8 text: save it from the spreadsheet as 'CSV UTF-8'"]
    )


@pytest.mark.parametrize(("content", "said"), FILE_FAULTS)
def test_a_file_s_fault_is_said_once_in_its_own_words(
    web: WebStack, page: Page, content: bytes, said: str
) -> None:
    # Given a programme file with one fault: a quote never closed in a row of too few cells, a
    # NUL in UTF-8 text, or a title of 200,000 characters without quotes
    sign_in(web, page)
    page.get_by_role("button", name="Import a programme (CSV)", exact=True).click()
    # When an organiser chooses it
    page.get_by_label("Programme file (CSV)").set_input_files(
        files=[{"name": "programme.csv", "mimeType": "text/csv", "buffer": content}]
    )
    # Then the page says that fault, once, as the command line says it
    expect(page.locator(".import-errors li")).to_have_text([said])


def test_a_programme_changed_after_the_file_was_read_is_shown_again_before_anything_is_sent(
    web: WebStack, page: Page
) -> None:
    # Given an organiser who has chosen a file moving a talk to Hall C
    talk = web.add_talk(title=f"Contested {unique_talk_id()[-6:]}", room="Hall A")
    sign_in(web, page)
    import_file(page, f"id,title,room\n{talk['id']},{talk['title']},Hall C\n")
    expect(page.locator("form.card")).to_contain_text("0 to add, 1 to change")
    # When another organiser moves it to Hall C first, and this one confirms
    answer = web.as_organiser(
        "PUT", f"/talks/{talk['id']}", {"title": talk["title"], "room": "Hall C"}
    )
    assert answer.status == 200, answer.body
    page.get_by_role("button", name="Import: add 0, change 1", exact=True).click()
    # Then nothing is sent: the page shows what the import would do now (nothing)
    expect(page.locator("form.card")).to_contain_text(
        "The programme changed since the file was read: this is what the import would do now."
    )
    expect(page.locator("form.card")).to_contain_text("Nothing to change")
    expect(page.get_by_role("button", name=re.compile("^Import:"))).to_be_hidden()


def test_signing_in_and_out_from_the_keyboard_leaves_the_focus_on_the_next_step(
    web: WebStack, page: Page
) -> None:
    # Given an organiser on the sign-in form, using the keyboard
    page.goto(web.url("/app/admin"))
    page.get_by_label("Organiser token").fill(web.token)
    # When they press Enter
    page.keyboard.press("Enter")
    # Then the focus is on the page's first action, not thrown back to the page's top
    expect(page.get_by_role("button", name="Add a talk", exact=True)).to_be_focused(
        timeout=REACTION_MS
    )
    # When they sign out
    page.get_by_role("button", name="Sign out", exact=True).focus()
    page.keyboard.press("Enter")
    # Then the focus is on the token's field, ready to sign in again
    expect(page.get_by_label("Organiser token")).to_be_focused(timeout=REACTION_MS)


def test_an_organiser_downloads_a_talk_s_qr_code_for_the_speaker_s_slides(
    web: WebStack, page: Page, tmp_path: Path
) -> None:
    import zxingcpp
    from PIL import Image

    # Given a talk whose id a URL must quote, and an organiser on their page
    stem = unique_talk_id("qr")
    web.add_talk(talk_id=f"{stem}:main", title=f"On the slides {stem}")
    sign_in(web, page)
    search_talks(page, stem, 1)
    # When they download the talk's QR code
    with page.expect_download() as download:
        page.get_by_role(
            "button", name=f"Download the QR code of On the slides {stem}", exact=True
        ).click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    # Then it is an SVG file named after the talk (its ":" made safe for a file name)
    assert saved.name == f"talkrate-qr-{stem}_main.svg"
    svg = saved.read_text()
    assert svg.startswith("<svg")
    assert 'width="1024"' in svg
    # And a phone's camera (a decoder that is not ours) reads it as the talk's page, the address
    # the room screen shows
    page.set_viewport_size({"width": 1100, "height": 1100})
    page.set_content(
        f'<img alt="code" src="data:image/svg+xml;base64,{base64.b64encode(svg.encode()).decode()}">'
    )
    picture = tmp_path / "qr.png"
    page.get_by_role("img", name="code", exact=True).screenshot(path=str(picture))
    found = zxingcpp.read_barcodes(Image.open(picture))
    assert [f.text for f in found] == [web.url(f"/app/talks/{stem}%3Amain")]


def every_talk(web: WebStack) -> list[dict[str, Any]]:
    """Every talk of the catalog, through the API."""
    talks: list[dict[str, Any]] = []
    while True:
        answer = web.runtime.request("GET", f"/talks?limit=100&offset={len(talks)}")
        assert answer.status == 200, answer.body
        talks += answer.json["items"]
        if not answer.json["items"] or len(talks) >= answer.json["total"]:
            return talks


# Each card's code's place on the page (left, top, right, bottom, in CSS pixels from the page's
# top, as a whole-page picture has them) and the address written under it.
CARDS_ON_THE_SHEET = """(cards) => cards.map((card) => {
  const box = card.querySelector("svg").getBoundingClientRect();
  const address = card.querySelector("[data-testid=qr-address]").innerText;
  return [box.left + scrollX, box.top + scrollY, box.right + scrollX, box.bottom + scrollY, address];
})"""


def centre(code: Any) -> tuple[float, float]:
    """The middle of a code a decoder found, in the picture's pixels."""
    corners = code.position
    points = [corners.top_left, corners.top_right, corners.bottom_left, corners.bottom_right]
    return sum(p.x for p in points) / 4, sum(p.y for p in points) / 4


def test_an_organiser_prints_every_talk_s_qr_code_on_one_sheet(
    web: WebStack, page: Page, tmp_path: Path
) -> None:
    import zxingcpp
    from PIL import Image

    # Given a programme of seven talks at least (more than an A4 page's six), one of them with
    # an id a URL must quote, in a room at a time
    stem = unique_talk_id("sheet")
    for slot in range(6):
        web.add_talk(title=f"Slot {slot} {stem}")
    web.add_talk(
        talk_id=f"{stem}:main",
        title=f"On the door {stem}",
        room="Hall 7",
        startsAt="2026-12-05T09:00:00Z",
        endsAt="2026-12-05T09:45:00Z",
    )
    talks = every_talk(web)
    # When an organiser follows the organisers' page's link to the sheet of QR codes
    sign_in(web, page)
    page.get_by_role("link", name="Print every QR code", exact=True).click()
    cards = page.locator(".qr-card")
    expect(cards).to_have_count(len(talks))
    # Then, opened at this computer's own address (as the local runtime prints it), it says
    # first that phones cannot follow these codes, on the screen only
    note = page.get_by_test_id("loopback-note")
    expect(note).to_contain_text("Phones cannot open 127.0.0.1:")
    expect(note).to_have_class(re.compile(r"\bno-print\b"))
    # And it holds one code per talk, each read by a phone's camera (a decoder that is not
    # ours) as its talk's page, with the short address of that page under it (the sheet taken
    # in one picture, each code found in its card's)
    page.set_viewport_size({"width": 1280, "height": 900})
    picture = tmp_path / "sheet.png"
    page.screenshot(path=str(picture), full_page=True)
    codes = zxingcpp.read_barcodes(Image.open(picture))
    found = []
    for left, top, right, bottom, shown in cards.evaluate_all(CARDS_ON_THE_SHEET):
        [code] = [
            c for c in codes if left <= centre(c)[0] <= right and top <= centre(c)[1] <= bottom
        ]
        found.append(code.text)
        assert "http://" + shown.replace("\n", "") == code.text
    assert len(found) == len(talks) == len(codes)
    # (the page quotes an id as encodeURIComponent does: these five it leaves as they are)
    pages = [web.url("/app/talks/" + quote(talk["id"], safe="!*'()")) for talk in talks]
    assert sorted(found) == sorted(pages)
    # And the talk's card names it, its room and its time
    mine = cards.filter(has_text=f"On the door {stem}")
    expect(mine).to_contain_text("Hall 7")
    expect(mine).to_contain_text(re.compile(r"Sat, Dec 5 \d{2}:\d{2}"))
    # And on A4 paper it is the cards alone, six to a page, none cut by a page break
    pdf = page.pdf(format="A4")
    assert len(re.findall(rb"/Type\s*/Page\b", pdf)) == -(-len(talks) // 6)
    page.emulate_media(media="print")
    expect(page.get_by_role("button", name="Print", exact=True)).to_be_hidden()
    expect(page.locator("header")).to_be_hidden()
    assert cards.first.evaluate("(card) => getComputedStyle(card).breakInside") == "avoid"


def test_the_organisers_table_whose_reads_fail_keeps_its_count_and_says_since_when_it_is_shown(
    web: WebStack, page: Page
) -> None:
    # Given a signed-in organiser, the table live, on a clock the test moves
    stem = unique_talk_id()
    web.add_talk(title=f"Listed over a lossy network {stem}")
    page.clock.install()
    sign_in(web, page)
    expect(page.locator(".live-badge")).to_have_attribute("data-state", "live")
    counted = page.get_by_test_id("admin-count")
    stale = page.get_by_test_id("admin-stale")
    expect(counted).to_have_text(re.compile(r"^\d+ talks$"))
    shown = counted.text_content()
    # When its reads start failing, and its minute's check comes
    page.route("**/talks?*", lambda route: route.abort("internetdisconnected"))
    page.clock.run_for(61_000)
    # Then the count stays, and a line of its own says why and since when the list is shown
    expect(stale).to_contain_text("The service cannot be reached.")
    expect(stale).to_contain_text(re.compile(r"The list shown was read at \d{1,2}:\d{2}"))
    expect(counted).to_have_text(shown or "")
    # And a search typed meanwhile keeps both
    page.get_by_role("searchbox", name="Search talks", exact=True).fill(stem)
    expect(counted).to_have_text(re.compile(r"^1 of \d+ talks$"))
    expect(stale).to_contain_text("cannot be reached")
    # When the reads go through again, and the next check comes, Then the line goes (the
    # clock jumped past it as a laptop's opened again: a read waits 15 s of the page's clock for
    # its answer, which running through the minute could take from it)
    page.unroute("**/talks?*")
    page.clock.fast_forward(65_000)
    expect(stale).to_be_hidden()


@pytest.mark.parametrize(
    ("title", "speakers", "said"),
    [
        # (it said "String should have at most 120 characters.", naming no field)
        (
            "Named at length",
            "Ann Example\n" + "B" * 130,
            "Not saved: Speakers: Each name can be at most 120 characters long.",
        ),
        # (it said "Title: String should have at least 1 character.")
        ("   ", "", "Not saved: Title: Cannot be empty."),
    ],
    ids=["speaker-too-long", "title-of-spaces"],
)
def test_a_talk_the_api_refuses_is_said_in_the_form_s_words(
    web: WebStack, page: Page, title: str, speakers: str, said: str
) -> None:
    # Given an organiser adding a talk the API refuses
    sign_in(web, page)
    page.get_by_role("button", name="Add a talk", exact=True).click()
    page.get_by_label("Title", exact=True).fill(title)
    page.get_by_label("Speakers (one per line)").fill(speakers)
    # And the form says the speakers' limits before anything is sent
    expect(page.get_by_label("Speakers (one per line)")).to_have_accessible_description(
        "Up to 20 names, each at most 120 characters."
    )
    page.get_by_role("button", name="Add the talk", exact=True).click()
    # Then the refusal names the field, in plain words
    expect(page.get_by_test_id("admin-message")).to_have_text(said, timeout=REACTION_MS)


def in_view(element: Locator) -> bool:
    """Whether the element is on the screen as it is scrolled now, whole."""
    box = element.bounding_box()
    size = element.page.viewport_size
    return box is not None and size is not None and 0 <= box["y"] <= size["height"] - box["height"]


def test_a_refused_save_is_said_beside_the_form_s_buttons_and_names_its_field(
    web: WebStack, browser: Browser
) -> None:
    # Given an organiser on a laptop adding a talk, scrolled down to the form's button (the
    # reason used to be written above the form, out of view: nothing seemed to happen)
    taken = web.add_talk(title=f"Taken id {unique_talk_id()[-6:]}")
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    sign_in(web, page)
    page.get_by_role("button", name="Add a talk", exact=True).click()
    title = page.get_by_label("Title", exact=True)
    title.fill("   ")
    page.get_by_label("Speakers (one per line)").fill("\n".join(f"Speaker {n}" for n in range(8)))
    # When the API refuses the save (a title of spaces)
    page.get_by_role("button", name="Add the talk", exact=True).click()
    # Then the reason is said beside the form's buttons, and under the title, which has the
    # keyboard, marked invalid and described by it
    message = page.get_by_test_id("admin-message")
    expect(message).to_have_text("Not saved: Title: Cannot be empty.", timeout=REACTION_MS)
    expect(title).to_be_focused(timeout=REACTION_MS)
    expect(title).to_have_attribute("aria-invalid", "true")
    expect(title).to_have_accessible_description("Cannot be empty.")
    assert in_view(page.locator("#talk-title-error"))
    # When they fix the title but set the end before the start
    title.fill("A new talk")
    page.get_by_label("Starts", exact=True).fill("2031-06-02T10:00")
    page.get_by_label("Ends", exact=True).fill("2031-06-02T09:00")
    page.get_by_role("button", name="Add the talk", exact=True).click()
    # Then the refusal of the title is gone, not left standing over a title now filled
    expect(message).to_have_text("", timeout=REACTION_MS)
    expect(title).not_to_have_attribute("aria-invalid", "true")
    expect(page.locator(".field-error")).to_have_count(0)
    # When they give the talk an id another talk has
    page.get_by_label("Ends", exact=True).fill("2031-06-02T11:00")
    id_field = page.get_by_label("Id (in the talk's address)")
    id_field.fill(taken["id"])
    page.get_by_role("button", name="Add the talk", exact=True).click()
    # Then it is said beside the buttons, and at the id, which has the keyboard
    expect(message).to_contain_text(
        "A talk with this id is already in the programme", timeout=REACTION_MS
    )
    expect(id_field).to_be_focused(timeout=REACTION_MS)
    expect(id_field).to_have_attribute("aria-invalid", "true")
    expect(id_field).to_have_accessible_description(
        "Another talk has this id. Latin letters, digits and . _ : ~ - (no spaces), starting "
        "with a letter or a digit."
    )
    assert in_view(page.locator("#talk-id-error"))
    # And when the network fails a save (no field to blame), the reason is in view
    page.route("**/talks", lambda route: route.abort("internetdisconnected"))
    page.get_by_role("button", name="Add the talk", exact=True).click()
    expect(message).to_contain_text("reach", timeout=REACTION_MS)
    assert in_view(message)
    page.unroute("**/talks")
    # And once the form closes, the page's message line is back above the table
    page.get_by_role("button", name="Cancel", exact=True).click()
    expect(page.get_by_role("heading", name="Add a talk", exact=True)).to_have_count(0)
    page.get_by_role("button", name="Add a talk", exact=True).click()
    page.get_by_role("button", name="Cancel", exact=True).click()
    assert page.evaluate(
        "document.querySelector('[data-testid=admin-message]').closest('form') === null"
    )
    context.close()


def test_a_new_talk_s_id_field_says_the_characters_it_takes(web: WebStack, page: Page) -> None:
    # Given an organiser adding a talk
    sign_in(web, page)
    page.get_by_role("button", name="Add a talk", exact=True).click()
    field = page.get_by_label("Id (in the talk's address)")
    takes = "Latin letters, digits and . _ : ~ - (no spaces), starting with a letter or a digit"
    # Then its field says which characters an id takes before any is refused
    expect(field).to_have_accessible_description(f"{takes}.")
    # When they type one it does not take, and press "Add the talk"
    sent: list[str] = []
    page.on("request", lambda request: sent.append(f"{request.method} {request.url}"))
    page.get_by_label("Title", exact=True).fill("An id with a space")
    field.fill("bad id/!!")
    page.get_by_role("button", name="Add the talk", exact=True).click()
    # Then the browser's refusal names them too (it adds the field's title to "Please match
    # the requested format"), and nothing is sent
    expect(field).to_have_attribute("title", takes)
    assert field.evaluate("(node) => node.validity.patternMismatch")
    expect(page.get_by_role("button", name="Add the talk", exact=True)).to_be_visible()
    assert not [line for line in sent if line.startswith(("POST", "PUT"))], sent


def test_a_talk_s_id_is_shown_kept_when_it_is_edited(web: WebStack, page: Page) -> None:
    # Given a talk an organiser opens to edit
    title = f"Kept id {unique_talk_id()[-6:]}"
    web.add_talk(title=title)
    sign_in(web, page)
    search_talks(page, title, 1)
    page.get_by_role("button", name=f"Edit {title}", exact=True).click()
    # Then its id field cannot be changed, looks it (it looked like the title's) and says why
    field = page.get_by_label("Id (in the talk's address)")
    expect(field).to_be_disabled(timeout=REACTION_MS)
    expect(field).to_have_accessible_description("Kept: the talk's address and QR code use it.")
    # (and no tooltip of the characters an id may hold: nothing is typed there)
    expect(field).not_to_have_attribute("title", re.compile(".*"))
    looks = field.evaluate("(node) => getComputedStyle(node).borderStyle")
    title_looks = page.get_by_label("Title", exact=True).evaluate(
        "(node) => getComputedStyle(node).borderStyle"
    )
    assert looks != title_looks


Box = tuple[float, float, float, float]  # left, top, right, bottom, in CSS pixels


def shown_value(page: Page, input_id: str) -> tuple[Box, list[Box]]:
    """Where a date and time field draws its value: the box that shows it (what is past it is
    cut) and each of its parts' (month, day, year, hour, minute, AM/PM). Read from the
    browser's own tree of the input through the DevTools protocol: a page's script cannot reach
    it, and the input's scrollWidth does not grow with a value it cuts."""
    cdp = page.context.new_cdp_session(page)
    try:
        nodes = [cdp.send("DOM.getDocument", {"depth": -1, "pierce": True})["root"]]
        field = None
        while nodes and field is None:
            node = nodes.pop()
            if (
                dict(
                    zip(
                        node.get("attributes", [])[::2],
                        node.get("attributes", [])[1::2],
                        strict=True,
                    )
                ).get("id")
                == input_id
            ):
                field = node
            nodes += node.get("children", []) + node.get("shadowRoots", [])
        assert field is not None, input_id
        inside, shows, parts = list(field.get("shadowRoots", [])), None, []
        while inside:
            node = inside.pop(0)
            attributes = node.get("attributes", [])
            named = dict(zip(attributes[::2], attributes[1::2], strict=True))
            if named.get("pseudo") == "-webkit-datetime-edit":
                shows = node["nodeId"]
            if named.get("role") == "spinbutton":
                parts.append(node["nodeId"])
            inside += node.get("children", [])

        def box(node_id: int) -> Box:
            quad = cdp.send("DOM.getBoxModel", {"nodeId": node_id})["model"]["border"]
            return (quad[0], quad[1], quad[4], quad[5])

        assert shows is not None, input_id
        return box(shows), [box(part) for part in parts]
    finally:
        cdp.detach()


@pytest.mark.parametrize(
    ("width", "text_size", "letters"), [(320, "200%", 0), (320, "200%", 0.1), (1280, "100%", 0)]
)
def test_the_form_s_times_show_their_whole_value_on_a_narrow_phone_with_text_enlarged(
    web: WebStack, browser: Browser, width: int, text_size: str, letters: float
) -> None:
    # Given a talk in December, in the evening (the widest digits, and PM), an organiser's
    # browser 320 px wide with its text at 200% (WCAG's reflow), or a laptop's; on the phone,
    # its font as DejaVu Sans or wider (its letters 0.1em wider: the date, which had 15 px to
    # spare, then ran under the picker's button, its year cut)
    title = f"Late in the year {unique_talk_id()[-6:]}"
    web.add_talk(title=title, startsAt="2031-12-12T19:45:00Z", endsAt="2031-12-12T20:30:00Z")
    context = browser.new_context(viewport={"width": width, "height": 800})
    page = context.new_page()
    try:
        sign_in(web, page)
        page.evaluate(f"document.documentElement.style.fontSize = '{text_size}'")
        if letters:
            test_web_app.wider_letters(page, letters)
        search_talks(page, title, 1)
        for form in (f"Edit {title}", "Add a talk"):
            # When they open the talk's form, or an empty one
            page.get_by_role("button", name=form, exact=True).click()
            expect(page.get_by_label("Starts", exact=True)).to_be_visible()
            for field in ("talk-starts", "talk-ends"):
                # Then each part of each time is drawn whole inside its field, none cut
                shows, parts = shown_value(page, field)
                assert len(parts) == 6, (form, field)
                cut = [
                    part
                    for part in parts
                    if part[0] < shows[0] - 0.5
                    or part[2] > shows[2] + 0.5
                    or part[1] < shows[1] - 0.5
                    or part[3] > shows[3] + 0.5
                ]
                assert cut == [], (form, field, shows, parts)
                if width == 1280:
                    # And on a laptop on one line, the field as tall as the title's, as before
                    assert len({round(part[1]) for part in parts}) == 1, (form, field, parts)
                    heights = page.evaluate(
                        """(id) => [document.getElementById(id), document.getElementById("talk-title")]
                             .map((input) => input.getBoundingClientRect().height)""",
                        field,
                    )
                    assert heights[0] == heights[1], (form, field, heights)
            page.get_by_role("button", name="Cancel", exact=True).click()
    finally:
        context.close()


def test_the_language_field_keeps_its_codes_whole_on_a_narrow_phone_with_text_enlarged(
    web: WebStack, browser: Browser
) -> None:
    # Given a talk, and an organiser's browser 320 px wide with its text at 200%
    title = f"Spoken in some language {unique_talk_id()[-6:]}"
    web.add_talk(title=title, language="en-GB")
    context = browser.new_context(viewport={"width": 320, "height": 800})
    page = context.new_page()
    try:
        sign_in(web, page)
        page.evaluate("document.documentElement.style.fontSize = '200%'")
        search_talks(page, title, 1)
        page.get_by_role("button", name=f"Edit {title}", exact=True).click()
        field = page.get_by_label("Language", exact=True)
        # When they write the language's name instead of its code and save
        field.fill("Hebrew")
        page.get_by_role("button", name="Save", exact=True).click()
        expect(field).to_have_attribute("aria-invalid", "true", timeout=REACTION_MS)
        expect(page.get_by_test_id("admin-message")).to_contain_text(
            "Language: Must be", timeout=REACTION_MS
        )
        # Then the field's hint, its refusal and the page's words keep each code on one line
        # ("pt-" over "BR" reads as two codes), and say them as before
        expect(page.locator("#talk-language-help")).to_contain_text("en-GB or pt-BR.")
        expect(page.locator("#talk-language-error")).to_contain_text("en-GB or pt-BR")
        broken = page.evaluate(
            test_web_app.BROKEN_WORDS,
            "#talk-language-help, #talk-language-error, [data-testid=admin-message]",
        )
        assert [word for word in broken if "-" in word] == []
        # And the field lines up with the form's other fields, as wide as the title's
        boxes = [
            page.get_by_label(name, exact=True).bounding_box() for name in ("Language", "Title")
        ]
        assert boxes[0] is not None
        assert boxes[1] is not None
        assert (boxes[0]["x"], boxes[0]["width"]) == (boxes[1]["x"], boxes[1]["width"])
    finally:
        context.close()


def narrow_organiser(browser: Browser, web: WebStack, letters: float, path: str) -> Page:
    """An organiser's page 320 px wide (WCAG's reflow width) with its text at 200%, signed in
    at `path`; its font DejaVu Sans, or one whose letters are `letters` em wider."""
    page = browser.new_context(viewport={"width": 320, "height": 800}).new_page()
    sign_in(web, page, path)
    page.evaluate("document.documentElement.style.fontSize = '200%'")
    if letters:
        test_web_app.wider_letters(page, letters)
    return page


def scrolls_sideways(page: Page) -> bool:
    return bool(
        page.evaluate("document.documentElement.scrollWidth > document.documentElement.clientWidth")
    )


@pytest.mark.parametrize("letters", [0, 0.1])
def test_a_form_s_heading_keeps_its_words_whole_and_a_quote_mark_with_its_word_on_a_narrow_phone(
    web: WebStack, browser: Browser, letters: float
) -> None:
    # Given a talk titled with the longest words of an ordinary English programme, and an
    # organiser on a 320 px phone with the text at 200%, in DejaVu Sans or in a font whose
    # letters are 0.1em wider
    title = test_web_app.EVERYDAY_LONG_WORDS
    track = f"Words {unique_talk_id()}"
    web.add_talk(title=title, track=track)
    page = narrow_organiser(browser, web, letters, f"/app/admin?q={quote(track)}")
    try:
        search_talks(page, track, 1)
        for button, heading in (
            (f"Edit {title}", f"Edit “{title}”"),
            ("Import a programme (CSV)", "Import a programme"),
            ("Add a talk", "Add a talk"),
        ):
            # When they open the talk's form, the import's, or an empty one
            page.get_by_role("button", name=button, exact=True).click()
            expect(page.get_by_role("heading", name=heading, exact=True)).to_be_focused(
                timeout=REACTION_MS
            )
            # Then no word of its heading is broken where a line of it holds the word whole,
            # a quote mark with its word ("“Testcontainers"), and none runs out of it; in
            # DejaVu Sans none is broken at all (each of the title's words was, at 36.8 px)
            assert page.evaluate(test_web_app.WORDS_IN_THEIR_BOX, ".talk-form h2") == []
            if not letters:
                assert page.evaluate(test_web_app.BROKEN_WORDS, ".talk-form h2") == []
            if "“" in heading:
                # And the opening quote mark is on the line of the title's first letter
                tops = page.evaluate(
                    """() => {
                         const heading = document.querySelector(".talk-form h2");
                         const top = (text, at) => {
                           const range = document.createRange();
                           range.setStart(text, at);
                           range.setEnd(text, at + 1);
                           return range.getClientRects()[0].top;
                         };
                         const quote = [...heading.childNodes].find((node) => node.data?.includes("“"));
                         return [top(quote, quote.data.indexOf("“")),
                                 top(heading.querySelector("span").firstChild, 0)];
                       }"""
                )
                assert tops[0] == tops[1], tops
            # And it is still a heading, bold and about as large as the text
            weight, size, text = page.evaluate(
                """[getComputedStyle(document.querySelector(".talk-form h2")).fontWeight,
                    getComputedStyle(document.querySelector(".talk-form h2")).fontSize,
                    getComputedStyle(document.body).fontSize].map(parseFloat)"""
            )
            assert weight >= 700, weight
            assert size >= 0.9 * text, (size, text)
            assert not scrolls_sideways(page)
            page.get_by_role("button", name="Cancel", exact=True).click()
    finally:
        page.context.close()


@pytest.mark.parametrize("letters", [0, 0.1])
def test_what_an_import_would_do_stays_inside_a_narrow_phone_with_text_enlarged(
    web: WebStack, browser: Browser, letters: float
) -> None:
    # Given a talk of the programme, and a file that changes its room and adds a talk, both
    # titled with long words; an organiser on a 320 px phone with the text at 200%, in DejaVu
    # Sans or in a font whose letters are 0.1em wider
    stem = unique_talk_id()[-6:]
    kept = web.add_talk(title=f"Modern Integration Testing with Testcontainers {stem}")
    new_id = f"observability-infrastructure-for-idempotency-{stem}"
    text = (
        "id,title,room\n"
        f"{kept['id']},{kept['title']},Hall C\n"
        f"{new_id},Observability Infrastructure for Idempotency Leaderboards,Hall A\n"
    )
    page = narrow_organiser(browser, web, letters, "/app/admin")
    try:
        # When they choose the file
        page.get_by_role("button", name="Import a programme (CSV)", exact=True).click()
        page.get_by_label("Programme file (CSV)").set_input_files(
            files=[
                {
                    "name": "programme-of-the-conference.csv",
                    "mimeType": "text/csv",
                    "buffer": text.encode(),
                }
            ]
        )
        expect(
            page.get_by_role("heading", name="What the import would do", exact=True)
        ).to_be_focused(timeout=REACTION_MS)
        expect(page.locator(".import-preview li")).to_have_count(2)
        # Then the page does not scroll sideways (the titles, in bold, ran out of the form: the
        # page was 331 px wide, 376 in the wider font), and every word of what the import would
        # do is inside its line, broken only where a line cannot hold it whole
        assert not scrolls_sideways(page)
        assert page.evaluate(test_web_app.WORDS_IN_THEIR_BOX, ".import-preview :is(p, li)") == []
    finally:
        page.context.close()


def test_the_sign_in_s_words_stay_inside_its_card_on_a_narrow_phone_in_a_wider_font(
    web: WebStack, browser: Browser
) -> None:
    # Given the organisers' page before signing in, 320 px wide with the text at 200%, in a font
    # whose letters are 0.1em wider than DejaVu Sans's
    page = browser.new_context(viewport={"width": 320, "height": 800}).new_page()
    try:
        page.goto(web.url("/app/admin"))
        expect(page.get_by_label("Organiser token")).to_be_visible()
        page.evaluate("document.documentElement.style.fontSize = '200%'")
        test_web_app.wider_letters(page, 0.1)
        # Then each word of the card is whole and inside its line ("deployment's" ran 33 px
        # past the hint's side, over the card's edge)
        test_web_app.refitted(page)
        assert page.evaluate(test_web_app.WORDS_IN_THEIR_BOX, ".card :is(label, p)") == []
        assert not scrolls_sideways(page)
    finally:
        page.context.close()


@pytest.mark.parametrize("letters", [0, 0.1])
def test_a_message_quoting_a_long_title_stays_inside_a_narrow_phone(
    web: WebStack, browser: Browser, letters: float
) -> None:
    # Given a talk titled with long words, and an organiser on a 320 px phone with the text at
    # 200%, in DejaVu Sans or in a font whose letters are 0.1em wider
    title = f"{test_web_app.EVERYDAY_LONG_WORDS} {unique_talk_id()[-6:]}"
    web.add_talk(title=title)
    page = narrow_organiser(browser, web, letters, "/app/admin")
    try:
        search_talks(page, title, 1)
        # When they save it, and the page says so, quoting its title
        page.get_by_role("button", name=f"Edit {title}", exact=True).click()
        page.get_by_role("button", name="Save", exact=True).click()
        message = page.get_by_test_id("admin-message")
        expect(message).to_have_text(f"Saved “{title}”.", timeout=REACTION_MS)
        # Then the message does not run out of its box, nor the page sideways ("Testcontainers"
        # ran past the notice's side, in the wider font the page scrolled)
        assert page.evaluate(test_web_app.WORDS_IN_THEIR_BOX, "[data-testid=admin-message]") == []
        assert not scrolls_sideways(page)
    finally:
        page.context.close()


def test_the_organisers_search_count_is_said_once_the_typing_pauses(
    web: WebStack, page: Page
) -> None:
    # Given four talks of a stem that each letter of "Seas" narrows by one, a search for the
    # stem typed, and the organisers' count line (a live region) said
    stem = unique_talk_id()
    for title in ["Sandwiches", "Sentinels", "Search engines", "Seaside walks"]:
        web.add_talk(title=f"{title} {stem}")
    page.clock.install()  # (time flows; the test moves it on past the pause)
    sign_in(web, page)
    counted = page.get_by_test_id("admin-count")
    search = page.get_by_role("searchbox", name="Search talks", exact=True)
    search.fill(f"{stem} S")
    expect(counted).to_have_text(re.compile(r"^4 of \d+ talks$"))
    total = (counted.text_content() or "").split(" of ")[1]
    page.evaluate(
        """(line) => {
          window.said = [];
          new MutationObserver(() => window.said.push(line.textContent))
            .observe(line, { childList: true, characterData: true, subtree: true });
        }""",
        counted.element_handle(),
    )
    # When the organiser types "eas" at a key each quarter of a second of the page's time, and
    # stops (the page's clock moved by the test: on a loaded machine a quarter of a second
    # between real keys became a pause of the typing now and then)
    page.clock.pause_at(page.evaluate("Date.now()") / 1000 + 1)
    for key in "eas":
        search.press(key)
        page.clock.run_for(250)
    # Then the table follows the keys, and the count is said once, once the typing paused (it
    # was said at each key: "3 of", "2 of", "1 of")
    expect(page.locator(".admin-talks tbody tr:visible")).to_have_count(1)
    page.clock.run_for(1500)  # (the page's timers of the next 1.5 s, run now)
    expect(counted).to_have_text(f"1 of {total}")
    assert page.evaluate("window.said") == [f"1 of {total}"]


def test_a_refused_token_is_said_at_its_field_and_each_time_it_is_refused_again(
    web: WebStack, page: Page
) -> None:
    # Given an organiser who mistypes the token twice at signing in
    page.goto(web.url("/app/admin"))
    field = page.get_by_label("Organiser token")
    message = page.get_by_test_id("admin-message")
    for _ in range(2):
        field.fill("not-the-token")
        page.get_by_role("button", name="Sign in", exact=True).click()
        # Then the field is marked refused, and a screen reader hears why at the field, with
        # its hint (the refusal stood apart from it, and the field said it was valid)
        expect(message).to_have_text("That organiser token is not right.", timeout=REACTION_MS)
        expect(field).to_have_attribute("aria-invalid", "true")
        expect(field).to_have_accessible_description(
            re.compile(r"^That organiser token is not right\. Printed by the service")
        )
    # Given, signed in, a talk's save refused for a token replaced since, and asked again
    token_asked_again(web, page, f"Asked twice {unique_talk_id()[-6:]}")
    again = page.get_by_label("Organiser token")
    expect(again).to_be_focused(timeout=REACTION_MS)
    problem = page.locator("#organiser-token-again-error")
    problem.evaluate(
        """(line) => {
            window.__refusals = 0;
            new MutationObserver(() => {
                if (line.textContent === "That organiser token is not right.") window.__refusals++;
            }).observe(line, { childList: true, characterData: true, subtree: true });
        }"""
    )
    # When they mistype it twice
    for n in (1, 2):
        again.fill(f"still-not-it-{n}")
        page.get_by_role("button", name="Sign in again", exact=True).click()
        # Then each refusal is said anew (the second wrote the same words over the first:
        # nothing changed, nothing was heard), at the field, which is marked refused
        assert wait_for(lambda n=n: page.evaluate("window.__refusals") == n, page=page)
        expect(again).to_have_attribute("aria-invalid", "true")
        expect(again).to_have_accessible_description("That organiser token is not right.")
