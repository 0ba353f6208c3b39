"""The web app's programme and what a trial found around it: its order, what it downloads while
ratings arrive, Back to where one was, in-page links, right-to-left and long titles, the live
badge's words, dates. Playwright in Debian's chromium against the local runtime, like
test_web_app (whose fixtures and helpers these tests share)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest
from playwright.sync_api import Page, expect

from tests.builders import unique_talk_id
from tests.e2e import test_web_app
from tests.e2e.test_web_app import WebStack, an_hour_from

# test_web_app's fixtures: its runtime (one for this module), the browser, a phone and its page.
web = test_web_app.web
browser = test_web_app.browser
phone = test_web_app.phone
page = test_web_app.page

pytestmark = pytest.mark.browser


def test_the_programme_shows_talks_to_come_before_those_that_are_over(
    web: WebStack, page: Page
) -> None:
    # Given a track with a talk running now, two to come, one over but still rated, one whose
    # rating closed, and one without times
    track = f"Order {unique_talk_id()}"
    now = datetime.now(UTC)
    web.add_talk(title="Closed long ago", track=track, **an_hour_from(now - timedelta(days=3)))
    web.add_talk(title="Just over", track=track, **an_hour_from(now - timedelta(hours=2)))
    web.add_talk(title="Without times", track=track)
    web.add_talk(title="Later today", track=track, **an_hour_from(now + timedelta(hours=3)))
    web.add_talk(title="Next up", track=track, **an_hour_from(now + timedelta(hours=1)))
    web.add_talk(title="Running", track=track, **an_hour_from(now - timedelta(minutes=20)))
    # When an attendee opens that track's programme
    page.goto(web.url(f"/app/?track={quote(track)}"))
    cards = page.locator(".talk-card h2")
    # Then what runs now comes first, then what comes next, then what is over
    expect(cards).to_have_text(
        ["Running", "Next up", "Later today", "Just over", "Without times", "Closed long ago"]
    )


def test_back_from_a_talk_returns_to_the_same_place_in_the_programme(
    web: WebStack, page: Page
) -> None:
    # Given a programme of 30 talks, scrolled down to the 21st on a phone
    track = f"Long day {unique_talk_id()}"
    start = datetime.now(UTC) + timedelta(days=1)
    for n in range(30):
        web.add_talk(title=f"Slot {n:02d}", track=track, **an_hour_from(start + timedelta(hours=n)))
    page.goto(web.url(f"/app/?track={quote(track)}"))
    link = page.get_by_role("link", name="Slot 20", exact=True)
    link.scroll_into_view_if_needed()
    scrolled = page.evaluate("window.scrollY")
    assert scrolled > 1000
    # When the attendee opens that talk, and comes back
    link.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Slot 20")
    page.go_back()
    # Then the programme is where they left it, the keyboard on the talk they came from
    expect(link).to_be_focused()
    assert abs(page.evaluate("window.scrollY") - scrolled) <= 1


def test_skip_to_content_moves_to_the_page_without_drawing_it_again(
    web: WebStack, page: Page
) -> None:
    # Given the programme, drawn, with a search typed
    web.add_talk(title=f"Skippable {unique_talk_id()}")
    page.goto(web.url("/app/"))
    expect(page.locator(".talk-card").first).to_be_visible()
    page.evaluate("window.drawn = document.querySelector('main h1')")
    reads: list[str] = []
    page.on("request", lambda r: reads.append(r.url) if "/talks?" in r.url else None)
    # When a keyboard user follows "Skip to content"
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    page.keyboard.press("Enter")
    # Then the keyboard is in the page's content, which is the same page, not read again
    expect(page.locator("main")).to_be_focused()
    assert page.evaluate("window.drawn === document.querySelector('main h1')")
    assert page.url.endswith("#main")
    assert reads == []


def catalogue_reads(page: Page) -> list[str]:
    """The page's reads of the programme's catalogue (GET /talks?...), as they are sent."""
    reads: list[str] = []
    page.on("request", lambda r: reads.append(r.url) if "/talks?" in r.url else None)
    return reads


def open_live(page: Page, path: str, reads: list[str]) -> None:
    """Open a page and wait until it is subscribed and its read after subscribing was sent."""
    frames: list[Any] = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda frame: frames.append(frame)))
    page.goto(path)
    for _ in range(100):
        if any("subscribe_success" in str(f) for f in frames) and len(reads) >= 2:
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"not live: {frames}, {reads}")


def test_ratings_arriving_update_the_programme_without_reading_it_again(
    web: WebStack, page: Page
) -> None:
    # Given the programme of a track, open and live
    track = f"Busy {unique_talk_id()}"
    talk = web.add_talk(title="Much rated", track=track)
    reads = catalogue_reads(page)
    open_live(page, web.url(f"/app/?track={quote(track)}"), reads)
    card = page.locator(".talk-card")
    expect(card).to_contain_text("0 ratings")
    read_before = len(reads)
    # When ratings arrive one after the other
    for n, value in enumerate([4, 5, 5, 4], start=1):
        web.rate(talk["id"], value)
        # Then the card follows each of them
        expect(card).to_contain_text(f"{n} rating", timeout=10_000)
    expect(card).to_contain_text("★ 4.50")
    # And the page did not read the whole catalogue again for them
    assert reads[read_before:] == []


def test_a_talk_an_organiser_adds_appears_on_an_open_programme_within_a_minute(
    web: WebStack, page: Page
) -> None:
    # Given the programme of a track, open and live (its clock the test's)
    track = f"Growing {unique_talk_id()}"
    web.add_talk(title="Known", track=track)
    page.clock.install()
    reads = catalogue_reads(page)
    open_live(page, web.url(f"/app/?track={quote(track)}"), reads)
    cards = page.locator(".talk-card")
    expect(cards).to_have_count(1)
    # When an organiser adds a talk to it, and a minute passes without any rating
    web.add_talk(title="Added since", track=track)
    page.clock.run_for(61_000)
    # Then the programme shows it
    expect(cards).to_have_count(2)
