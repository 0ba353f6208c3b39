"""The organisers' page through what a review of an organiser's day found: an import pressed twice
or left while it runs, a talk added back over another organiser's, a talk deleted with its own
form open, a download after a refused one, a token refused mid-import, and an import's refusals
on a phone. Playwright in Debian's chromium against the local runtime, like test_web_app (whose
fixtures and helpers these tests share)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import Dialog, Page, Route, expect
from playwright.sync_api import Error as PlaywrightError

from tests.builders import unique_talk_id
from tests.e2e import test_web_app
from tests.e2e.conftest import REACTION_MS
from tests.e2e.test_web_admin import import_file, search_talks, sign_in
from tests.e2e.test_web_app import WebStack

# test_web_app's fixtures: its runtime (one for this module), the browser, a phone and its page.
web = test_web_app.web
browser = test_web_app.browser
phone = test_web_app.phone
page = test_web_app.page
PROJECTOR_BATCH_WINDOW = "0"
CHROMIUM_MORE_ARGS = test_web_app.CHROMIUM_MORE_ARGS

pytestmark = pytest.mark.browser


def slow_network(page: Page, latency_ms: int) -> None:
    """Every request of the page takes `latency_ms` more (a hall's Wi-Fi)."""
    cdp = page.context.new_cdp_session(page)
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": latency_ms, "downloadThroughput": -1, "uploadThroughput": -1},
    )


def new_talks_chosen(web: WebStack, page: Page, stem: str, n: int) -> list[str]:
    """An organiser signed in who chose a programme file adding `n` talks; their ids (removed
    after the module)."""
    ids = [f"day-{stem}-{i}" for i in range(n)]
    web.created.extend(ids)
    lines = [
        "id,title,room",
        *(f"{talk_id},Day talk {stem} {i},Hall D" for i, talk_id in enumerate(ids)),
    ]
    sign_in(web, page)
    import_file(page, "\n".join(lines) + "\n")
    return ids


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def stored(web: WebStack, talk_id: str) -> dict[str, Any] | None:
    answer = web.runtime.request("GET", f"/talks/{talk_id}")
    return answer.json if answer.status == 200 else None


def test_an_import_pressed_twice_on_a_slow_network_imports_once_and_says_so(
    web: WebStack, page: Page
) -> None:
    # Given a file of two new talks, read and shown, on a slow network
    stem = unique_talk_id()[-6:]
    ids = new_talks_chosen(web, page, stem, 2)
    apply = page.get_by_role("button", name="Import: add 2, change 0")
    expect(apply).to_be_visible()
    slow_network(page, 600)
    # When the organiser presses Import, and the form is sent again while it checks
    apply.click()
    page.locator("form.talk-form").evaluate("(form) => form.requestSubmit()")
    # Then it is imported once, and said so (it was imported twice, the second time refused
    # for "someone else's" change, and said as nothing imported)
    message = page.get_by_test_id("admin-message")
    expect(message).to_have_text("Imported: 2 added, 0 changed, 0 unchanged.", timeout=15_000)
    assert all(stored(web, talk_id) is not None for talk_id in ids)


def test_an_import_ending_leaves_open_the_form_the_organiser_opened_meanwhile(
    web: WebStack, page: Page
) -> None:
    # Given a talk, and a file of three new talks imported on a slow network
    stem = unique_talk_id()[-6:]
    talk = web.add_talk(title=f"Edited meanwhile {stem}")
    ids = new_talks_chosen(web, page, stem, 3)
    slow_network(page, 500)
    page.get_by_role("button", name="Import: add 3, change 0").click()
    expect(page.get_by_role("button", name="Importing…")).to_be_visible()
    # When the organiser opens another talk's form while it runs, and types in it
    page.get_by_role("button", name=f"Edit {talk['title']}").click()
    title = page.get_by_label("Title")
    title.fill(f"Typed while importing {stem}")
    # Then the import ends, said above their form (not in the form's own line, as if of the
    # talk they edit), and the form stays open with what they typed, the keyboard still in it
    # (it was closed, the typing lost without a word)
    said = page.get_by_test_id("import-message")
    expect(said).to_have_text("Imported: 3 added, 0 changed, 0 unchanged.", timeout=15_000)
    form = page.locator("form.talk-form")
    expect(form.get_by_test_id("admin-message")).not_to_contain_text("Imported")
    assert said.evaluate("(line) => line.nextElementSibling.contains(document.activeElement)")
    expect(page.locator(".admin-talks tbody tr", has_text=f"Day talk {stem} 2")).to_have_count(1)
    # (the list read again after the import: it took the keyboard to the import's button, so
    # what was typed next went nowhere)
    page.keyboard.type(" too")
    expect(title).to_have_value(f"Typed while importing {stem} too")
    expect(title).to_be_focused(timeout=REACTION_MS)
    assert all(stored(web, talk_id) is not None for talk_id in ids)
    # And the import's line goes with the form
    form.get_by_role("button", name="Cancel").click()
    expect(said).to_have_count(0)


def test_cancel_while_an_import_runs_stops_it_and_says_what_went_in(
    web: WebStack, page: Page
) -> None:
    # Given a file of three new talks, the first one's PUT held on its way
    stem = unique_talk_id()[-6:]
    ids = new_talks_chosen(web, page, stem, 3)
    held: list[Route] = []

    def hold_the_first(route: Route) -> None:
        if route.request.method == "PUT" and not held:
            held.append(route)
            return
        route.continue_()

    page.route("**/talks/day-*", hold_the_first)
    page.get_by_role("button", name="Import: add 3, change 0").click()
    expect(page.get_by_role("button", name="Importing…")).to_be_visible()
    deadline_ms = 0
    while not held and deadline_ms < 10_000:
        page.wait_for_timeout(50)
        deadline_ms += 50
    assert held
    # (and no second import can be opened meanwhile: its rows would be sent twice)
    expect(page.get_by_role("button", name="Import a programme (CSV)")).to_be_disabled()
    # When the organiser presses Cancel, and the first row's answer then comes
    page.get_by_role("button", name="Cancel").click()
    held[0].continue_()
    # Then the import stops there, saying what went in and what did not (the rest went on
    # being sent after Cancel)
    expect(page.get_by_test_id("admin-message")).to_have_text(
        "Import stopped at Cancel: 1 added, 0 changed, 0 unchanged. 2 not imported "
        "(choose the file again to import them).",
        timeout=15_000,
    )
    assert [stored(web, talk_id) is not None for talk_id in ids] == [True, False, False]


def test_a_talk_added_back_after_its_removal_does_not_overwrite_one_added_meanwhile(
    web: WebStack, page: Page
) -> None:
    # Given an organiser editing a talk's track, which another organiser removes
    stem = unique_talk_id()[-6:]
    talk = web.add_talk(title=f"Removed meanwhile {stem}", room="Hall A")
    sign_in(web, page)
    page.get_by_role("button", name=f"Edit {talk['title']}").click()
    page.get_by_label("Track").fill("Mine")
    assert web.as_organiser("DELETE", f"/talks/{talk['id']}").status == 204
    page.get_by_role("button", name="Save").click()
    message = page.get_by_test_id("admin-message")
    expect(message).to_contain_text(
        "was removed by someone else while you edited it", timeout=REACTION_MS
    )
    # When the other organiser adds a talk under its id, and the first presses Save again
    theirs = web.add_talk(talk["id"], title=f"Theirs {stem}", room="Hall Z")
    page.get_by_role("button", name="Save").click()
    # Then nothing of theirs is overwritten (it was: the form's old title, no precondition),
    # and the form says someone else saved the talk
    expect(message).to_contain_text("Someone else saved", timeout=REACTION_MS)
    now = stored(web, talk["id"])
    assert now is not None
    assert (now["title"], now["room"], now["revision"]) == (
        f"Theirs {stem}",
        "Hall Z",
        theirs["revision"],
    )


def test_deleting_a_talk_whose_form_is_open_closes_its_form(web: WebStack, page: Page) -> None:
    # Given an organiser editing a talk's room
    stem = unique_talk_id()[-6:]
    talk = web.add_talk(title=f"Deleted with its form open {stem}", room="Hall A")
    sign_in(web, page)
    page.get_by_role("button", name=f"Edit {talk['title']}").click()
    page.get_by_label("Room").fill("Hall B")
    # When they delete that talk from its row
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name=f"Delete {talk['title']}").click()
    # Then the page says it is deleted, and its form is gone with it (left open, its Save said
    # the talk was "removed by someone else")
    expect(page.get_by_test_id("admin-message")).to_have_text(
        f"Deleted “{talk['title']}”.", timeout=REACTION_MS
    )
    expect(page.get_by_role("heading", name=f"Edit “{talk['title']}”")).to_have_count(0)
    expect(page.get_by_label("Room")).to_have_count(0)
    assert stored(web, talk["id"]) is None


def test_a_download_after_a_refused_one_says_it_was_downloaded(web: WebStack, page: Page) -> None:
    # Given an organiser whose first download was refused (the talks could not be read)
    web.add_talk(title=f"Downloaded {unique_talk_id()[-6:]}")
    sign_in(web, page)
    page.route(
        "**/talks?*",
        lambda route: route.fulfill(
            status=503,
            content_type="application/problem+json",
            headers={"Retry-After": "5"},
            body='{"type": "urn:talkrate:problem:unavailable", "title": "Service unavailable", '
            '"status": 503, "detail": "down"}',
        ),
    )
    page.get_by_role("button", name="Download results (CSV)").click()
    message = page.get_by_test_id("admin-message")
    expect(message).not_to_have_text("")
    refused = message.text_content()
    page.unroute("**/talks?*")
    # When the next download goes through
    with page.expect_download() as download:
        page.get_by_role("button", name="Download results (CSV)").click()
    # Then the line says so, in the refusal's place (it kept saying nothing was downloaded)
    name = download.value.suggested_filename
    expect(message).to_have_text(f"Downloaded the results: {name}.", timeout=REACTION_MS)
    assert refused != message.text_content()


def refuse_the_second_put(page: Page) -> None:
    """The second PUT of a talk of the file (ids day-…) refused for its token (403), the others
    sent on."""
    puts: list[str] = []

    def refuse_the_second(route: Route) -> None:
        if route.request.method != "PUT":
            route.continue_()
            return
        puts.append(route.request.url)
        if len(puts) == 2:
            route.fulfill(
                status=403,
                content_type="application/problem+json",
                body='{"type": "urn:talkrate:problem:forbidden", "title": "Forbidden", '
                '"status": 403, "detail": "refused"}',
            )
            return
        route.continue_()

    page.route("**/talks/day-*", refuse_the_second)


def test_a_token_refused_mid_import_says_what_went_in_before(web: WebStack, page: Page) -> None:
    # Given a file of three new talks, the second one's PUT refused for its token
    stem = unique_talk_id()[-6:]
    ids = new_talks_chosen(web, page, stem, 3)
    refuse_the_second_put(page)
    page.get_by_role("button", name="Import: add 3, change 0").click()
    # Then the page asks for the token again, and says what went in before the refusal (it
    # said only that the token was refused)
    message = page.get_by_test_id("admin-message")
    expect(message).to_contain_text(
        "Your organiser token was refused: sign in again.", timeout=REACTION_MS
    )
    expect(message).to_contain_text(
        "The import stopped there: 1 added, 0 changed; 2 not sent.", timeout=REACTION_MS
    )
    assert [stored(web, talk_id) is not None for talk_id in ids] == [True, False, False]


def test_a_token_refused_mid_import_says_the_file_s_paused_talks_too(
    web: WebStack, page: Page
) -> None:
    # Given a paused talk, and a file naming it with three new talks, the second new one's PUT
    # refused for its token
    stem = unique_talk_id()[-6:]
    paused = web.add_talk(title=f"Day paused {stem}", ratingsPaused=True)
    ids = [f"day-{stem}-{i}" for i in range(3)]
    web.created.extend(ids)
    lines = [
        "id,title,room",
        f"{paused['id']},{paused['title']},",
        *(f"{talk_id},Day talk {stem} {i},Hall D" for i, talk_id in enumerate(ids)),
    ]
    sign_in(web, page)
    import_file(page, "\n".join(lines) + "\n")
    refuse_the_second_put(page)
    page.get_by_role("button", name="Import: add 3, change 0").click()
    # Then, after what went in, the page says the file's paused talk is paused, as it does
    # after Cancel (before: not said), and how to open it once signed in again
    message = page.get_by_test_id("admin-message")
    expect(message).to_have_text(
        "Your organiser token was refused: sign in again. The import stopped there: 1 added, "
        f"0 changed; 2 not sent. 1 talk is paused (ratings refused): \u201c{paused['title']}\u201d "
        "\u2014 once you are signed in again, \u201cResume ratings\u201d in its row opens it again.",
        timeout=REACTION_MS,
    )
    assert [stored(web, talk_id) is not None for talk_id in ids] == [True, False, False]


def test_an_import_s_refusals_keep_codes_and_times_whole_on_a_phone(
    web: WebStack, page: Page
) -> None:
    # Given an organiser on a 390 px phone, and a file whose line names a language code and a
    # time the import refuses (an end before its start)
    page.set_viewport_size({"width": 390, "height": 844})
    stem = unique_talk_id()[-6:]
    text = (
        "id,title,language,startsAt,endsAt\n"
        f"day-{stem},Refused {stem},en-GB,2026-12-08T09:00:00+01:00,2026-12-08T08:00:00+01:00\n"
    )
    sign_in(web, page)
    import_file(page, text)
    refusal = page.locator("ul.import-errors li")
    expect(refusal).to_have_count(1)
    # Then each time the refusal quotes is kept on one line (it broke at a hyphen, "2026-12-"
    # over "08T09:00…", the value to copy read as two)
    quoted = refusal.locator("span.language-code").all_text_contents()
    times = [q for q in quoted if q.startswith("2026-12-08")]
    assert times, (refusal.text_content(), quoted)
    whole = refusal.locator("span.language-code").evaluate_all(
        "(spans) => spans.map((s) => s.getClientRects().length)"
    )
    assert set(whole) == {1}, whole


class Questions:
    """The page's questions (window.confirm, and the browser's own before a reload), each
    answered as the test sets `keep` (True: the organiser keeps the form, Cancel)."""

    def __init__(self, page: Page) -> None:
        self.asked: list[tuple[str, str]] = []
        self.keep = True
        page.on("dialog", self.answer)

    def answer(self, dialog: Dialog) -> None:
        self.asked.append((dialog.type, dialog.message))
        if self.keep:
            dialog.dismiss()
        else:
            dialog.accept()


def test_a_talk_form_typed_in_is_not_dropped_without_asking(web: WebStack, page: Page) -> None:
    # Given two talks, and an organiser who typed a new title into the first one's form
    stem = unique_talk_id()[-6:]
    first = web.add_talk(title=f"Typed into {stem}", room="Hall D")
    second = web.add_talk(title=f"Other talk {stem}", room="Hall D")
    questions = Questions(page)
    sign_in(web, page)
    search_talks(page, stem, 2)
    page.get_by_role("button", name=f"Edit {first['title']}").click()
    title = page.get_by_label("Title")
    title.press("End")
    page.keyboard.type(" (renamed)")
    asked = f"Discard your changes to “\u2068{first['title']}\u2069”? They have not been saved."
    # When they press another talk's Edit, Add a talk, Import, Sign out and the header's
    # Programme link, and each time keep the form
    for press in (
        page.get_by_role("button", name=f"Edit {second['title']}"),
        page.get_by_role("button", name="Add a talk"),
        page.get_by_role("button", name="Import a programme (CSV)"),
        page.get_by_role("button", name="Sign out"),
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Programme"),
    ):
        press.click()
        # Then each asks before dropping the form (it was dropped, the typing lost without a
        # word), and the form stays as it was, on the organisers' page
        assert questions.asked[-1:] == [("confirm", asked)], (press, questions.asked)
        expect(title).to_have_value(f"{first['title']} (renamed)", timeout=REACTION_MS)
        assert page.url.startswith(web.url("/app/admin"))
    # And a reload asks the browser's own question
    with pytest.raises(PlaywrightError):
        page.reload(timeout=2000)
    assert questions.asked[-1][0] == "beforeunload", questions.asked
    expect(title).to_have_value(f"{first['title']} (renamed)")
    # And the other talk's form opens once the organiser says to drop theirs
    questions.keep = False
    page.get_by_role("button", name=f"Edit {second['title']}").click()
    expect(title).to_have_value(second["title"], timeout=REACTION_MS)
    assert len(questions.asked) == 7
    # And a form left as it was goes without a question
    page.get_by_role("button", name="Add a talk").click()
    expect(page.get_by_role("heading", name="Add a talk")).to_be_visible()
    assert len(questions.asked) == 7
    assert stored(web, first["id"])["title"] == first["title"]  # type: ignore[index]


def test_back_from_a_talk_form_typed_in_asks_and_keeps_it(web: WebStack, page: Page) -> None:
    # Given an organiser who came to their page from the programme (Back leads there), and
    # typed the room of a talk they add
    questions = Questions(page)
    sign_in(web, page)
    header = page.get_by_role("navigation", name="Main")
    header.get_by_role("link", name="Programme").click()
    header.get_by_role("link", name="Organisers").click()
    page.get_by_role("button", name="Add a talk").click()
    room = page.get_by_label("Room")
    room.click()
    page.keyboard.type("Hall Q")
    # When they go Back (a phone's back gesture) and keep the form
    page.go_back()
    # Then they were asked, and stay on their page with the form as it was
    expect(room).to_have_value("Hall Q")
    assert questions.asked == [
        ("confirm", "Discard the talk you were adding? It has not been added.")
    ]
    assert page.url == web.url("/app/admin")
    # And Back again, the form dropped, leads to the programme
    questions.keep = False
    page.go_back()
    expect(page.get_by_role("heading", name="Programme")).to_be_visible()
    assert len(questions.asked) == 2


def test_an_import_s_preview_names_the_room_clashes_it_would_leave(
    web: WebStack, page: Page
) -> None:
    # Given a keynote in a room from 09:00 to 10:00, and a file adding a talk to that room
    # from 09:30 (a time copied from the row above), and one elsewhere
    stem = unique_talk_id()[-6:]
    hall = f"Hall {stem}"
    keynote = web.add_talk(
        title=f"Keynote {stem}",
        room=hall,
        startsAt="2031-06-02T09:00:00Z",
        endsAt="2031-06-02T10:00:00Z",
    )
    ids = [f"day-{stem}-{i}" for i in range(2)]
    web.created.extend(ids)
    text = (
        "id,title,room,startsAt,endsAt\n"
        f"{ids[0]},Overlapping {stem},{hall},2031-06-02T09:30:00Z,2031-06-02T10:30:00Z\n"
        f"{ids[1]},Elsewhere {stem},Annex {stem},2031-06-02T09:30:00Z,2031-06-02T10:30:00Z\n"
    )
    sign_in(web, page)
    # When the organiser chooses it
    import_file(page, text)
    expect(page.get_by_role("button", name="Import: add 2, change 0")).to_be_visible()
    # Then the preview names the clash before anything is imported, as `admin import
    # --dry-run` does (the page said it only once the talks were in)
    clashes = page.get_by_test_id("import-clashes")
    expect(clashes).to_contain_text(f"Check the times before importing: room clash in {hall}, ")
    expect(clashes).to_contain_text(f"“Overlapping {stem}” and “{keynote['title']}”")
    expect(clashes).not_to_contain_text(f"Elsewhere {stem}")
    assert all(stored(web, talk_id) is None for talk_id in ids)
    # And a file that clashes with nothing says none
    page.get_by_label("Programme file (CSV)").set_input_files(
        files=[
            {
                "name": "programme.csv",
                "mimeType": "text/csv",
                "buffer": text.replace(hall, f"Hall B {stem}").encode(),
            }
        ]
    )
    expect(page.get_by_role("button", name="Import: add 2, change 0")).to_be_visible()
    expect(page.get_by_text(f"Overlapping {stem}")).to_be_visible()
    expect(clashes).to_have_count(0)


def test_each_row_says_whether_its_talk_takes_ratings_now_and_follows_the_clock(
    web: WebStack, page: Page
) -> None:
    # Given talks whose rating closed days ago, that ended within the grace, that run now,
    # that start in a few seconds, and one without times
    stem = unique_talk_id()[-6:]
    now = datetime.now(UTC)

    def talk(name: str, starts: timedelta | None, ends: timedelta | None) -> dict[str, Any]:
        times = (
            {}
            if starts is None or ends is None
            else {"startsAt": iso(now + starts), "endsAt": iso(now + ends)}
        )
        return web.add_talk(title=f"{name} {stem}", room=f"Hall {stem}", **times)

    closed = talk("Closed", -timedelta(days=3), -timedelta(days=3) + timedelta(hours=1))
    graced = talk("Graced", -timedelta(hours=3), -timedelta(hours=2))
    running = talk("Running", -timedelta(minutes=10), timedelta(minutes=50))
    soon = talk("Soon", timedelta(seconds=12), timedelta(hours=1))
    untimed = talk("Untimed", None, None)
    # When an organiser looks at their page
    sign_in(web, page)
    search_talks(page, stem, 5)

    def state(of: dict[str, Any]) -> Any:
        row = page.locator(".admin-talks tbody tr", has=page.get_by_role("link", name=of["title"]))
        return row.get_by_test_id("rating-state")

    # Then each row says, under its times, whether it takes ratings now (the page said it
    # nowhere: only the talk page told attendees)
    expect(state(closed)).to_have_text("Rating closed")
    expect(state(graced)).to_contain_text("Rating open until ")
    closes = datetime.fromisoformat(graced["ratingClosesAt"])
    assert closes > now
    expect(state(running)).to_have_text("Rating open")
    expect(state(soon)).to_have_text("Rating opens at its start")
    expect(state(untimed)).to_have_text("Rating always open (no times set)")
    # And the talk about to start says it is open once it starts, without a reload
    expect(state(soon)).to_have_text("Rating open", timeout=30_000)


def test_a_saved_talk_s_not_in_the_list_note_goes_once_the_list_shows_it(
    web: WebStack, page: Page
) -> None:
    # Given an organiser who searched for a talk, renamed it so the search leaves it out, and
    # was told so
    stem = unique_talk_id()[-6:]
    talk = web.add_talk(title=f"Talk 5 {stem}", room=f"Hall {stem}")
    sign_in(web, page)
    search_talks(page, f"Talk 5 {stem}", 1)
    page.get_by_role("button", name=f"Edit {talk['title']}").click()
    page.get_by_label("Title").fill(f"Cloud patterns {stem}")
    page.get_by_role("button", name="Save").click()
    message = page.get_by_test_id("admin-message")
    expect(message).to_have_text(
        f"Saved “Cloud patterns {stem}”. It does not match the search “Talk 5 {stem}”, so the "
        "list does not show it.",
        timeout=REACTION_MS,
    )
    # When they search for its new title
    search_talks(page, f"Cloud patterns {stem}", 1)
    # Then the page no longer says the list does not show it (it said so, the talk right under it)
    expect(message).to_have_text(f"Saved “Cloud patterns {stem}”.", timeout=REACTION_MS)


def test_the_import_form_says_a_spreadsheet_s_semicolons_or_tabs_are_read(
    web: WebStack, page: Page
) -> None:
    # Given an organiser whose spreadsheet (Excel in a European language) saves ;-separated
    # files, with a byte-order mark
    stem = unique_talk_id()[-6:]
    ids = [f"day-{stem}-0"]
    web.created.extend(ids)
    sign_in(web, page)
    # When they open the import form
    page.get_by_role("button", name="Import a programme (CSV)").click()
    # Then the file's field says such a file is read (it named only the results file's columns)
    field = page.get_by_label("Programme file (CSV)")
    expect(field).to_have_accessible_description(
        re.compile("cells separated by commas, semicolons or tabs")
    )
    # And such a file is read
    text = f"\ufeffid;title;speakers;room;\r\n{ids[0]};Semicolons {stem};Ana Souza;Hall {stem};\r\n"
    field.set_input_files(
        files=[{"name": "export.csv", "mimeType": "text/csv", "buffer": text.encode()}]
    )
    expect(page.get_by_role("button", name="Import: add 1, change 0")).to_be_visible()


def test_a_talk_s_qr_code_download_is_said(web: WebStack, page: Page) -> None:
    # Given a talk, and an organiser on their page
    stem = unique_talk_id()[-6:]
    talk = web.add_talk(title=f"Scan me {stem}", room=f"Hall {stem}")
    sign_in(web, page)
    search_talks(page, stem, 1)
    # When they download its QR code
    with page.expect_download() as download:
        page.get_by_role("button", name=f"Download the QR code of {talk['title']}").click()
    # Then the page says so, naming the file, as it says the results' download (it said nothing)
    name = download.value.suggested_filename
    assert name == f"talkrate-qr-{talk['id']}.svg"
    expect(page.get_by_test_id("admin-message")).to_have_text(
        f"Downloaded the QR code of “{talk['title']}”: {name}.", timeout=REACTION_MS
    )


def test_signing_out_says_so_politely(web: WebStack, page: Page) -> None:
    # Given an organiser signed in on their page
    sign_in(web, page)
    # When they press Sign out
    page.get_by_role("button", name="Sign out").click()
    # Then the page says they signed out, and that this tab no longer keeps the token, on its
    # polite status line (it showed the sign-in form alone, as if the page had lost them)
    status = page.get_by_role("status").filter(has_text="Signed out")
    expect(status).to_have_text("Signed out: your organiser token is no longer kept in this tab.")
    expect(status).to_have_attribute("data-testid", "admin-message")
    assert status.evaluate(
        "(node) => node.getAttribute('role') === 'status' && !node.matches('[role=alert], [aria-live=assertive]')"
    )
    # And the token's field has the keyboard, empty, as the pressed button is gone; the tab
    # keeps no token
    field = page.get_by_label("Organiser token")
    expect(field).to_be_focused(timeout=REACTION_MS)
    expect(field).to_have_value("")
    assert page.evaluate("sessionStorage.getItem('talkrate.organiser')") is None
    # And signing in again says nothing of it
    field.fill(web.token)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Add a talk")).to_be_focused(timeout=REACTION_MS)
    expect(page.get_by_test_id("admin-message")).to_be_empty(timeout=REACTION_MS)
