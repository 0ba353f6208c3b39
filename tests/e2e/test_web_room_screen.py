"""A room screen and the hall's leaderboard left running through a day, in Chromium through the
local runtime: the room screen follows the room's programme, from one talk to the next as the
next one starts; both keep their figures fresh through a live channel that stalls."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e import test_web_app as web_app
from tests.e2e.conftest import wait_for
from tests.e2e.test_web_access import silenceable_connections, until
from tests.e2e.test_web_app import ROOM, SCREEN, WebStack, clock_until, run_clock, total

# test_web_app's fixtures, found by pytest under their names (its runtime, with this module's
# batching window).
web = web_app.web
browser = web_app.browser
PROJECTOR_BATCH_WINDOW = "0"

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

# Every title the screen's heading has shown, in order (each change of its text, as drawn).
TITLES_SEEN = """
window.titlesSeen = [];
new MutationObserver(() => {
  const title = document.querySelector(".screen-head h1");
  const text = title ? title.textContent : null;
  if (text !== null && window.titlesSeen[window.titlesSeen.length - 1] !== text) window.titlesSeen.push(text);
}).observe(document, { childList: true, subtree: true, characterData: true });
"""


@pytest.fixture
def projector(browser: Browser) -> Iterator[Page]:
    """A 1080p room screen's page that fails the test on any script error."""
    context = browser.new_context(viewport=ROOM)
    page = context.new_page()
    page.add_init_script(TITLES_SEEN)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert errors == []


def at(seconds: float) -> str:
    """The service's time `seconds` from now, as the API takes it."""
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


def room_talk(web: WebStack, room: str, title: str, starts: float, ends: float) -> dict[str, Any]:
    """A talk of `room` from `starts` to `ends` seconds from now."""
    return web.add_talk(
        title=title, speakers=["Ada Example"], room=room, startsAt=at(starts), endsAt=at(ends)
    )


def test_a_room_screen_moves_on_to_the_room_s_next_talk_as_it_starts(
    web: WebStack, projector: Page
) -> None:
    # Given a room screen put up for a talk that ends in 6 s, the room's next talk starting 6 s
    # later (and a talk of another room starting meanwhile)
    room = f"Room {uuid.uuid4().hex[:8]}"
    first = room_talk(web, room, "The room's first talk", -1800, 6)
    room_talk(web, f"{room} annex", "Another room's talk", 2, 1800)
    second = room_talk(web, room, "The room's second talk", 12, 1800)
    projector.goto(web.url(SCREEN.format(id=first["id"])))
    heading = projector.get_by_role("heading", level=1)
    expect(heading).to_have_text("The room's first talk")
    upcoming = projector.get_by_test_id("next-talk")
    expect(upcoming).to_be_hidden()  # (while the talk lasts)
    # When nobody touches it past the first talk's end
    # Then it says which talk comes next in the room, and when
    start = datetime.fromisoformat(second["startsAt"]).strftime("%I:%M %p")
    expect(upcoming).to_have_text(
        f"Next here, {start} UTC: “The room's second talk”", timeout=10_000
    )
    expect(heading).to_have_text("The room's first talk")
    # And past the next one's start, it shows that talk, under its address, asking the room to
    # rate it, live
    expect(heading).to_have_text("The room's second talk", timeout=20_000)
    assert projector.url == web.url(SCREEN.format(id=second["id"]))
    expect(projector.get_by_test_id("qr-caption")).to_have_text("Scan to rate")
    expect(projector.get_by_test_id("qr-url")).to_contain_text(second["id"])
    expect(projector.locator(".live-badge")).to_have_attribute("data-state", "live")
    expect(upcoming).to_be_hidden()
    web.rate(second["id"], 5)
    expect(projector.locator(".summary.big")).to_contain_text("1 rating")
    # (the first talk's figures until then, the second's at once, without "Loading…" between:
    # the other room's talk was never shown)
    seen = projector.evaluate("window.titlesSeen")
    assert seen == ["Loading…", "The room's first talk", "The room's second talk"], seen
    # and a reload stays on it
    projector.reload()
    expect(heading).to_have_text("The room's second talk")


def test_a_room_screen_opened_on_an_earlier_talk_stays_on_it_until_a_later_one_starts(
    web: WebStack, projector: Page
) -> None:
    # Given a talk that ended, the next talk of its room already started, and a third starting
    # in 5 s; a speaker opens the first talk's screen to show its results
    room = f"Room {uuid.uuid4().hex[:8]}"
    first = room_talk(web, room, "Over an hour ago", -7200, -3600)
    room_talk(web, room, "Started before the screen", -600, 4)
    third = room_talk(web, room, "Starts while the screen is on", 5, 1800)
    projector.goto(web.url(SCREEN.format(id=first["id"])))
    heading = projector.get_by_role("heading", level=1)
    expect(heading).to_have_text("Over an hour ago")
    # When it stays on past the third talk's start
    expect(heading).to_have_text("Starts while the screen is on", timeout=20_000)
    # Then it showed the talk it was opened for until then, never the one that had started
    # before it was opened (someone chose the earlier talk), and follows the room from there
    seen = projector.evaluate("window.titlesSeen")
    assert [t for t in seen if t != "Loading…"] == [
        "Over an hour ago",
        "Starts while the screen is on",
    ], seen
    assert projector.url == web.url(SCREEN.format(id=third["id"]))


def test_a_room_screen_whose_live_channel_stalls_shows_the_room_s_ratings_within_20_s(
    web: WebStack, browser: Browser
) -> None:
    # Given a room screen live on a connection the test can silence, on a clock it moves
    context = browser.new_context(viewport=ROOM)
    page = context.new_page()
    page.add_init_script(web_app.READS_WATCHED)
    silent = [False]
    withheld: list[str | bytes] = []
    _, subscribed = silenceable_connections(page, silent, withheld)
    talk = web.add_talk(title="Rated through a stalled channel")
    page.clock.install()
    page.goto(web.url(SCREEN.format(id=talk["id"])))
    until(page, lambda: len(subscribed) == 1, seconds=10)
    expect(page.locator(".live-badge")).to_have_attribute("data-state", "live")
    web_app.reads_answered(page)
    # When the channel stalls without closing (the hall's Wi-Fi) while the room rates
    silent[0] = True
    web.rated({talk["id"]: [5, 4, 4]})
    until(page, lambda: sum(json.loads(m)["type"] == "data" for m in withheld) >= 1, seconds=10)
    expect(total(page)).to_have_text("0 ratings")  # nothing came through it
    # Then within 20 s the screen shows the room's ratings all the same
    run_clock(page, 1, 20_500, 300)
    expect(total(page)).to_have_text("3 ratings")
    context.close()


def test_the_hall_s_board_whose_live_channel_stalls_shows_new_ratings_within_20_s(
    web: WebStack, browser: Browser
) -> None:
    # Given the leaderboard on a hall's big screen, of a track of the test's own, live on a
    # connection the test can silence, on a clock it moves
    track = f"Stalled {uuid.uuid4().hex[:8]}"
    talk = web.add_talk(title="On the hall's board", track=track)
    web.rated({talk["id"]: [4]})
    context = browser.new_context(viewport=ROOM)
    page = context.new_page()
    page.add_init_script(web_app.READS_WATCHED)
    silent = [False]
    withheld: list[str | bytes] = []
    _, subscribed = silenceable_connections(page, silent, withheld)
    page.clock.install()
    page.goto(web.url(f"/app/leaderboard?track={quote(track)}&view=screen"))
    count = page.locator("tr", has_text="On the hall's board").locator("td.num").last
    expect(count).to_have_text("1")
    until(page, lambda: len(subscribed) == 1, seconds=10)
    expect(page.locator(".live-badge")).to_have_attribute("data-state", "live")
    web_app.reads_answered(page)
    # When the channel stalls without closing while the hall rates
    silent[0] = True
    web.rate(talk["id"], 5)
    web.rate(talk["id"], 5)
    assert wait_for(lambda: web.count(talk["id"]) == 3)
    until(page, lambda: any(json.loads(m)["type"] == "data" for m in withheld), seconds=10)
    expect(count).to_have_text("1")  # nothing came through it
    # Then within 20 s the board shows them all the same
    run_clock(page, 1, 20_500, 300)
    expect(count).to_have_text("3")
    context.close()


def test_a_room_screen_gives_up_a_dead_connection_whose_close_is_never_answered(
    web: WebStack, browser: Browser
) -> None:
    # Given a room screen live on a connection the test can silence, whose far end then never
    # answers the page's close either (a hall's Wi-Fi that lost its way), on a clock it moves
    context = browser.new_context(viewport=ROOM)
    page = context.new_page()
    page.add_init_script(web_app.READS_WATCHED)
    silent = [False]
    connected: list[Any] = []
    subscribed: list[Any] = []

    def through(ws: Any) -> None:
        server = ws.connect_to_server()
        connected.append(ws)
        first = len(connected) == 1

        def to_the_page(message: str | bytes) -> None:
            if first and silent[0]:
                return
            if "subscribe_success" in str(message):
                subscribed.append(ws)
            ws.send(message)

        server.on_message(to_the_page)
        if first:
            ws.on_close(lambda code, reason: None)  # (the close goes nowhere, and never ends)

    page.route_web_socket("**/event/realtime", through)
    talk = web.add_talk(title="Through a dead connection")
    page.clock.install()
    page.goto(web.url(SCREEN.format(id=talk["id"])))
    badge = page.locator(".live-badge")
    until(page, lambda: len(subscribed) == 1, seconds=10)
    expect(badge).to_have_attribute("data-state", "live")
    web_app.reads_answered(page)
    # When the connection goes silent, a rating comes, the screen's check finds it, and nothing
    # comes through the connection for the 5 s after
    silent[0] = True
    web.rated({talk["id"]: [5]})
    run_clock(page, 1, 20_500, 300)
    expect(total(page)).to_have_text("1 rating")
    run_clock(page, 1, 5_500, 300)
    # Then the screen gives it up and connects again (it waited for the close to end, saying
    # "Live" meanwhile), live on the new connection
    clock_until(page, lambda: len(subscribed) == 2, step_ms=1_000, most=20)
    expect(badge).to_have_attribute("data-state", "live")
    # And the new connection carries the next rating
    web.rate(talk["id"], 4)
    expect(total(page)).to_have_text("2 ratings", timeout=web_app.LIVE_WITHIN_MS + 1000)
    context.close()
