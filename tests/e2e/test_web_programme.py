"""The web app's programme and what a trial found around it: its order, what it downloads while
ratings arrive, Back to where one was, in-page links, right-to-left and long titles, the live
badge's words, dates. Playwright in Debian's chromium against the local runtime, like
test_web_app (whose fixtures and helpers these tests share)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest
from playwright.sync_api import Page, expect

from tests.builders import unique_talk_id
from tests.e2e.test_web_app import (  # noqa: F401  (fixtures)
    WebStack,
    an_hour_from,
    browser,
    page,
    phone,
    web,
)

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
