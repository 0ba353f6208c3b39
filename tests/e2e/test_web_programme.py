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
