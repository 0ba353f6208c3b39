"""The browser tests' own wait (conftest.wait_for) on what Playwright's callbacks collect.

Playwright's sync API runs a test's route handlers and `page.on` listeners only while the test
is inside a Playwright call: a wait that sleeps never sees what they would collect meanwhile.
Given the page, wait_for pauses through it. The fixtures are test_web_app's.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, Request, Route

from tests.e2e import test_web_app as web_app
from tests.e2e.conftest import wait_for

browser, phone, page = web_app.browser, web_app.phone, web_app.page

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

LATE_READS = """() => setTimeout(() => {
  fetch('http://talkrate.test/held').catch(() => {});
}, 300)"""


def test_a_wait_given_the_page_sees_what_a_route_and_a_listener_collect_after_it_began(
    page: Page,
) -> None:
    # Given a route that holds the requests it is handed, a listener that notes every request,
    # and a page whose request leaves only after the test has begun to wait (a read that
    # leaves after goto returned, on a busy machine)
    held: list[Route] = []
    heard: list[Request] = []
    page.route("**/held", lambda route: held.append(route))
    page.on("request", lambda request: heard.append(request))
    page.evaluate(LATE_READS)
    # When the test waits for them with the page, Then both are handed over within the wait
    assert wait_for(lambda: held and heard, seconds=5, page=page)
    held[0].abort()
