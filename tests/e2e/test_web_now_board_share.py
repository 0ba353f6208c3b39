"""What walks through the web app found missing: the programme's "Now" and "Next" marks (and a
way back to them down a long day), the hall's board sized to the talks it shows, and a way for
a speaker to share their results. Playwright in Debian's chromium against the local runtime,
like test_web_app (whose fixtures and helpers these tests share)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.builders import unique_talk_id
from tests.e2e import test_web_app
from tests.e2e.conftest import REACTION_MS
from tests.e2e.test_web_app import PROJECTORS, TALK_PAGE, WebStack, an_hour_from

# test_web_app's fixtures: its runtime (one for this module), the browser, a phone and its page.
web = test_web_app.web
browser = test_web_app.browser
phone = test_web_app.phone
page = test_web_app.page
PROJECTOR_BATCH_WINDOW = "0"
CHROMIUM_MORE_ARGS = test_web_app.CHROMIUM_MORE_ARGS

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


def midday_zone(now: datetime) -> str:
    """A time zone where it is about noon at `now` (an Etc/GMT zone, whose sign is POSIX's: west
    of Greenwich positive): "Next" is of the day where times are shown (the device's zone here,
    the runtime naming no venue's), so talks an hour or two on stay in that day whatever the
    hour the tests run at (run near midnight in UTC, the next day's talk was no "Next")."""
    east = 12 - now.astimezone(UTC).hour  # hours from UTC to that zone's noon: -11 to 12
    return "Etc/UTC" if east == 0 else f"Etc/GMT{'-' if east > 0 else '+'}{abs(east)}"


@pytest.fixture
def midday(browser: Browser) -> Iterator[Page]:
    """A phone's page, as test_web_app's `page` (its reads counted), in a zone where it is
    about noon now (midday_zone)."""
    context = browser.new_context(
        viewport=test_web_app.PHONE, timezone_id=midday_zone(datetime.now(UTC))
    )
    opened = context.new_page()
    opened.add_init_script(test_web_app.READS_WATCHED)
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    yield opened
    context.close()
    assert errors == []


def marked(page: Page, mark: str) -> list[str]:
    """The titles of the programme's cards marked `mark` ("now" or "next"), in order."""
    titles: list[str] = page.locator(f".talk-card.{mark}-card h2").all_inner_texts()
    return titles


def test_the_programme_marks_what_is_on_now_and_next_in_each_room_and_moves_the_marks_on_time(
    web: WebStack, midday: Page
) -> None:
    page = midday
    # Given a track over two rooms: in room A a talk ending in twenty seconds, the next one
    # starting then, and one after it; in room B a talk in five minutes and one later
    track = f"Marks {unique_talk_id()}"
    now = datetime.now(UTC)
    edge = now + timedelta(seconds=20)
    minutes = timedelta(minutes=1)

    def talk(title: str, room: str, starts: datetime, ends: datetime) -> None:
        web.add_talk(
            title=title,
            track=track,
            room=room,
            startsAt=starts.isoformat(),
            endsAt=ends.isoformat(),
        )

    talk("A on now", "Room A", now - 40 * minutes, edge)
    talk("A next", "Room A", edge, edge + 40 * minutes)
    talk("A after", "Room A", edge + 45 * minutes, edge + 85 * minutes)
    talk("B next", "Room B", now + 5 * minutes, now + 45 * minutes)
    talk("B after", "Room B", now + 50 * minutes, now + 90 * minutes)
    # When an attendee opens that track's programme (its clock the test's to move)
    page.clock.install()
    page.goto(web.url(f"/app/?track={quote(track)}"))
    expect(page.locator(".talk-card")).to_have_count(5)
    # Then the talk on now says so, and so does the next talk of each room, in words (a
    # screen reader hears which: "Next in its room"), not by a colour alone
    assert marked(page, "now") == ["A on now"]
    assert marked(page, "next") == ["A next", "B next"]
    a_next = page.locator(".talk-card", has_text="A next")
    expect(a_next.locator(".next")).to_have_text("NextNext in its room:")
    expect(a_next.locator(".next [aria-hidden='true']")).to_have_text("Next")
    test_web_app.no_answer_to_come(page)
    # When the clock reaches the minute room A changes talks (the page's clock moved to 2.5 s
    # short of it, where nothing has moved, then 4 s on, short of any 30 s redraw, and
    # standing still after: the page's one timer is to that edge; the service's clock as the
    # page keeps it is its answers' Date, to the second)
    page.clock.pause_at(page.evaluate("Date.now()") / 1000 + 0.5)
    left_ms = (edge - datetime.now(UTC)).total_seconds() * 1000 - 500
    assert left_ms > 5_000, "the page took too long to open"
    page.clock.run_for(int(left_ms - 2_500))
    assert marked(page, "now") == ["A on now"]  # (not before it)
    page.clock.run_for(4_000)
    # Then without a reload the marks move: room A's next talk is on now, the one after it
    # next; room B's are as they were, and the talk just over is marked no more
    expect(page.locator(".talk-card.now-card h2")).to_have_text(["A next"])
    expect(page.locator(".talk-card.next-card h2")).to_have_text(["B next", "A after"])
    over = page.locator(".talk-card", has_text="A on now")
    expect(over.locator(".now, .next")).to_have_count(0)
    expect(over).not_to_contain_text("Now")


def test_a_long_day_offers_a_jump_back_to_what_is_on_now(web: WebStack, page: Page) -> None:
    # Given a track with a talk on now and a dozen to come, on a phone
    track = f"Long day now {unique_talk_id()}"
    now = datetime.now(UTC)
    web.add_talk(
        title="On now here", track=track, room="Main", **an_hour_from(now - timedelta(minutes=10))
    )
    for n in range(12):
        web.add_talk(
            title=f"Later {n:02d}",
            track=track,
            room=f"Room {n}",
            **an_hour_from(now + timedelta(days=1, hours=n)),
        )
    page.goto(web.url(f"/app/?track={quote(track)}"))
    expect(page.locator(".talk-card")).to_have_count(13)
    jump = page.get_by_role("button", name="Jump to now")
    # Then while the talk on now is in view, no jump is offered
    expect(jump).to_be_hidden()
    # When the attendee scrolls down the day
    page.get_by_role("link", name="Later 11", exact=True).scroll_into_view_if_needed()
    now_card = page.locator(".talk-card.now-card")
    expect(now_card).not_to_be_in_viewport()
    # Then "Jump to now" is offered, over the list, and takes them (and the keyboard) there
    expect(jump).to_be_visible()
    expect(jump).to_be_in_viewport()
    jump.click()
    expect(now_card).to_be_in_viewport()
    expect(page.get_by_role("link", name="On now here", exact=True)).to_be_focused(
        timeout=REACTION_MS
    )
    expect(jump).to_be_hidden()


@pytest.fixture(scope="module")
def boards(web: WebStack) -> dict[int, str]:
    """Two tracks of rated talks: one of 7 talks, one of 40 (its board lists 20), a third of
    each titled too long for two lines of a hall's board, a third of a 60-character title."""
    titles = [
        "Observability for event-driven systems in production: tracing, metrics and "
        "structured logs across Kafka, Redis and PostgreSQL",
        "Modern integration testing with Testcontainers, in practice",
        "Talk",
    ]
    tracks = {}
    for size in (7, 40):
        track = f"Board of {size} {unique_talk_id()}"
        talks = [web.add_talk(title=f"{titles[n % 3]} {n}", track=track) for n in range(size)]
        web.rated({talk["id"]: [3 + n % 3] for n, talk in enumerate(talks)}, seconds=60)
        tracks[size] = track
    return tracks


# The big-screen board's rows and what they leave: whether the page scrolls, where the rows
# start and end, their heights, the titles' text size, and titles cut by their box.
BOARD = """() => {
  const rows = [...document.querySelectorAll('table.board tbody tr')].map((row) => row.getBoundingClientRect());
  const titles = [...document.querySelectorAll('table.board tbody td a')];
  return {
    scrolls: document.documentElement.scrollHeight > innerHeight,
    top: rows[0].top, bottom: rows[rows.length - 1].bottom,
    heights: rows.map((row) => row.height),
    badge: document.querySelector('.live-badge').getBoundingClientRect().bottom,
    text: parseFloat(getComputedStyle(titles[0]).fontSize),
    cut: titles.filter((a) => a.scrollWidth > a.clientWidth + 1 || a.scrollHeight > a.clientHeight + 1).map((a) => a.textContent),
  };
}"""


@pytest.mark.parametrize("size", ["1280x720", "1920x1080", "3840x2160 (4K)"])
@pytest.mark.parametrize("talks", [7, 40])
def test_the_big_screen_board_s_rows_are_sized_to_the_talks_it_shows(
    web: WebStack, browser: Browser, boards: dict[int, str], talks: int, size: str, tmp_path: Path
) -> None:
    # Given a track of 7 rated talks, or of 40 (the board lists 20), on a hall's display
    viewport = PROJECTORS[size]
    hall = browser.new_context(viewport=viewport)
    try:
        page = hall.new_page()
        # When its board is shown on the big screen
        page.goto(web.url(f"/app/leaderboard?track={quote(boards[talks])}&view=screen"))
        rows = page.locator("table.board tbody tr")
        expect(rows).to_have_count(min(talks, 20), timeout=10_000)
        page.wait_for_timeout(100)  # (a frame for the board's fit to its size)
        board = page.evaluate(BOARD)
        page.screenshot(path=str(tmp_path / f"board-{talks}-{size.split()[0]}.png"))
        height = viewport["height"]
        # Then nothing scrolls: every row and the live state under them are in view ...
        assert not board["scrolls"], board
        assert board["badge"] <= height, board
        # ... and the rows fill the screen under the heading, whether 7 or 20 (7 filled a third
        # of a 1080p screen before), the rows alike
        assert board["bottom"] - board["top"] >= 0.6 * height, board
        assert max(board["heights"]) - min(board["heights"]) <= 2, board
        # ... their text read from across the hall: 1.5% of the width for 20 rows (as before),
        # more for 7, whose titles of 60 characters are whole (two lines), the longest cut
        if talks == 7:
            assert board["text"] >= 0.02 * viewport["width"], board
            assert board["cut"], board
            assert all(title.startswith("Observability") for title in board["cut"]), board
        else:
            assert board["text"] >= 0.015 * viewport["width"], board
    finally:
        hall.close()


@pytest.mark.parametrize("talks", [7, 40])
def test_the_big_screen_board_with_its_text_at_200_percent_scrolls_with_titles_whole(
    web: WebStack, browser: Browser, boards: dict[int, str], talks: int, tmp_path: Path
) -> None:
    # Given the board of a track on a 720p display
    hall = browser.new_context(viewport=PROJECTORS["1280x720"])
    try:
        page = hall.new_page()
        page.goto(web.url(f"/app/leaderboard?track={quote(boards[talks])}&view=screen"))
        rows = page.locator("table.board tbody tr")
        expect(rows).to_have_count(min(talks, 20), timeout=10_000)
        # When its text is enlarged to 200%
        page.evaluate("document.documentElement.style.fontSize = '200%'")
        page.wait_for_timeout(200)  # (the board's fit to its size: a frame after it changes)
        board = page.evaluate(BOARD)
        page.screenshot(path=str(tmp_path / f"board-{talks}-200.png"), full_page=True)
        # Then its rows no longer fit: the page scrolls, and no title is cut, not even the
        # longest (they were cut to a line at the size for 20 rows)
        assert board["scrolls"], board
        assert board["cut"] == [], board
    finally:
        hall.close()


@pytest.fixture
def rated_talk(web: WebStack) -> dict[str, Any]:
    talk = web.add_talk(title="Sharing “results”, done right")
    web.rated({talk["id"]: [4, 5]})
    return talk


def test_a_speaker_copies_their_results_where_the_browser_cannot_share(
    web: WebStack, browser: Browser, rated_talk: dict[str, Any]
) -> None:
    # Given a rated talk's page in a browser without a share sheet (a laptop's), whose
    # clipboard the page may write
    laptop = browser.new_context(viewport=PROJECTORS["1280x720"])
    laptop.grant_permissions(["clipboard-read", "clipboard-write"], origin=web.url(""))
    try:
        page = laptop.new_page()
        page.add_init_script(
            "delete Navigator.prototype.share; delete Navigator.prototype.canShare;"
        )
        url = web.url(TALK_PAGE.format(id=rated_talk["id"]))
        page.goto(url)
        expect(page.get_by_test_id("total")).to_have_text("2 ratings")
        # When the speaker shares the results
        page.get_by_role("button", name="Share the results").click()
        # Then the line of the talk's title, average and count as shown, and the talk page's
        # address, are on the clipboard, and the page says so
        expect(page.get_by_test_id("share-said")).to_have_text(
            "Copied: the results and the talk's link, to paste anywhere."
        )
        copied = page.evaluate("navigator.clipboard.readText()")
        assert copied == f"“Sharing “results”, done right”: 4.50 average from 2 ratings {url}"
    finally:
        laptop.close()


def test_a_speaker_shares_their_results_through_the_phone_s_share_sheet(
    web: WebStack, page: Page, rated_talk: dict[str, Any]
) -> None:
    # Given a rated talk's page on a phone with a share sheet (the Web Share API)
    page.add_init_script(
        "navigator.share = (data) => { window.__shared = data; return Promise.resolve(); };"
        "navigator.canShare = () => true;"
    )
    url = web.url(TALK_PAGE.format(id=rated_talk["id"]))
    page.goto(url)
    expect(page.get_by_test_id("total")).to_have_text("2 ratings")
    # When the speaker shares the results
    page.get_by_role("button", name="Share the results").click()
    # Then the share sheet is given the talk page's address and the line of its results
    page.wait_for_function("() => window.__shared")
    assert page.evaluate("window.__shared") == {
        "title": "Sharing “results”, done right",
        "text": "“Sharing “results”, done right”: 4.50 average from 2 ratings",
        "url": url,
    }
    # And nothing is said of a clipboard
    expect(page.get_by_test_id("share-said")).to_have_text("")


# How a mark is drawn: its border, fill and colour.
MARK_LOOK = """(node) => {
  const style = getComputedStyle(node);
  return { border: [style.borderTopStyle, parseFloat(style.borderTopWidth)], fill: style.backgroundColor, ink: style.color };
}"""


@pytest.mark.parametrize("scheme", ["dark", "light"])
def test_in_forced_colours_the_now_and_next_marks_stay_marks_apart_from_the_track(
    web: WebStack, browser: Browser, scheme: str, tmp_path: Path
) -> None:
    # Given a track with a talk on now and the next one in its room, and an attendee whose
    # system forces its own colours (Windows' high contrast, dark or light)
    track = f"Contrast marks {unique_talk_id()}"
    now = datetime.now(UTC)
    room = f"Room {unique_talk_id()}"  # (the next talk of its room is so over every track)
    web.add_talk(
        title="On now", track=track, room=room, **an_hour_from(now - timedelta(minutes=10))
    )
    web.add_talk(
        title="Up next", track=track, room=room, **an_hour_from(now + timedelta(minutes=55))
    )
    context = browser.new_context(
        viewport=test_web_app.PHONE,
        forced_colors="active",
        color_scheme=scheme,
        timezone_id=midday_zone(now),
    )
    try:
        page = context.new_page()
        # When they open that track's programme
        page.goto(web.url(f"/app/?track={quote(track)}"))
        expect(page.locator(".talk-card")).to_have_count(2)
        page.screenshot(path=str(tmp_path / f"marks-forced-{scheme}.png"))
        now_mark = page.locator(".now-card .now")
        next_mark = page.locator(".next-card .next")
        # Then each mark keeps a border of its own around its word (its pill), and "Now" is
        # drawn unlike "Next"
        now_look, next_look = now_mark.evaluate(MARK_LOOK), next_mark.evaluate(MARK_LOOK)
        for look in (now_look, next_look):
            assert look["border"][0] == "solid", look
            assert look["border"][1] >= 1, look
        assert now_look != next_look, (now_look, next_look)
        # And a screen reader hears the mark apart from the track's name, not "Now Contrast
        # marks ..."
        spoken = page.locator(".now-card .meta").aria_snapshot()
        assert f"On now: {track}" in spoken, spoken
        assert f"Now {track}" not in spoken, spoken
    finally:
        context.close()


# The board's text size and its rows' heights.
BOARD_SIZES = """() => [
  parseFloat(getComputedStyle(document.querySelector('table.board')).fontSize),
  ...[...document.querySelectorAll('table.board tbody tr')].map((row) => Math.round(row.getBoundingClientRect().height * 10) / 10),
]"""


def test_the_big_screen_board_keeps_its_sizes_when_a_row_is_added(
    web: WebStack, browser: Browser, tmp_path: Path
) -> None:
    # Given a track of seventeen talks, sixteen of them rated, its board on a hall's 1080p screen
    track = f"Growing board {unique_talk_id()}"
    talks = [web.add_talk(title=f"Growing talk {n}", track=track) for n in range(17)]
    web.rated({talk["id"]: [4] for talk in talks[:16]}, seconds=90)
    hall = browser.new_context(viewport=PROJECTORS["1920x1080"])
    try:
        page = hall.new_page()
        page.goto(web.url(f"/app/leaderboard?track={quote(track)}&view=screen"))
        rows = page.locator("table.board tbody tr")
        expect(rows).to_have_count(16, timeout=10_000)
        page.wait_for_timeout(100)  # (a frame for the board's fit to its size)
        text, *heights = page.evaluate(BOARD_SIZES)
        page.screenshot(path=str(tmp_path / "board-16.png"))
        # When the seventeenth talk gets its first rating, and its row is added
        web.rated({talks[16]["id"]: [3]})
        expect(rows).to_have_count(17, timeout=15_000)
        page.wait_for_timeout(100)
        text_after, *heights_after = page.evaluate(BOARD_SIZES)
        page.screenshot(path=str(tmp_path / "board-17.png"))
        # Then the board's text and its rows keep their sizes, the new row under the others
        # (the text went from 39.1 to 37.0 px and every row moved before)
        assert text_after == text, (text, text_after)
        assert heights_after == [*heights, heights[0]], (
            heights,
            heights_after,
        )
    finally:
        hall.close()
