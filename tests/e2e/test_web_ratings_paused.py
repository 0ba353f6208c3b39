"""Organisers pausing a talk's ratings from their page: the row says so and offers to resume,
an attendee's open talk page and the room screen follow it live (the catalog's push), the stars
saying why they take no rating. Playwright in Debian's chromium against the local runtime, like
test_web_app (whose fixtures and helpers these tests share)."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e import test_web_app
from tests.e2e.conftest import REACTION_MS
from tests.e2e.test_web_admin import sign_in
from tests.e2e.test_web_app import WebStack, star, waited_on
from tests.e2e.test_web_talk_page import WAITING, attendee_with_a_pass, kept_rating, posts_for

# test_web_app's fixtures: its runtime (one for this module), the browser, a phone and its page.
web = test_web_app.web
browser = test_web_app.browser
phone = test_web_app.phone
page = test_web_app.page
PROJECTOR_BATCH_WINDOW = "0"
CHROMIUM_MORE_ARGS = test_web_app.CHROMIUM_MORE_ARGS

pytestmark = pytest.mark.browser

PAUSED = "Ratings are paused by the organisers: this talk takes no rating until they resume them."


def test_an_organiser_pauses_a_talk_and_open_pages_follow_live(
    web: WebStack, page: Page, browser: Browser
) -> None:
    # Given a talk that takes ratings, open on an attendee's phone and on its room screen
    talk = web.add_talk(title="Paused from the organisers' page")
    attendee = page
    attendee.goto(web.url(f"/app/talks/{talk['id']}"))
    expect(star(attendee, 4)).to_be_enabled()
    screen_context = browser.new_context(viewport={"width": 1280, "height": 720})
    screen = screen_context.new_page()
    try:
        screen.goto(web.url(f"/app/talks/{talk['id']}/screen"))
        expect(screen.get_by_test_id("qr-caption")).to_have_text("Scan to rate")
        organiser_context = browser.new_context(viewport={"width": 1280, "height": 900})
        organiser = organiser_context.new_page()
        try:
            sign_in(web, organiser, f"/app/admin?q={quote(talk['title'])}")
            row = organiser.locator(".admin-talks tbody tr").filter(has_text=talk["title"])
            expect(row.get_by_test_id("rating-state")).to_have_text(
                "Rating always open (no times set)"
            )
            # When the organiser pauses its ratings from the talk's row
            row.get_by_role("button", name=f"Pause ratings {talk['title']}").click()
            # Then the row says so, and offers to resume them
            expect(organiser.get_by_test_id("admin-message")).to_contain_text(
                "Paused the ratings of", timeout=REACTION_MS
            )
            expect(row.get_by_test_id("rating-state")).to_have_text("Rating paused")
            resume = row.get_by_role("button", name=f"Resume ratings {talk['title']}")
            expect(resume).to_be_visible()
            # And the attendee's open page follows without a reload: no star takes a rating,
            # each saying why, and the room screen asks nobody to scan
            for value in range(1, 6):
                expect(star(attendee, value)).to_be_disabled()
                expect(star(attendee, value)).to_have_accessible_description(PAUSED)
            expect(attendee.get_by_text(PAUSED)).to_be_visible()
            expect(attendee.get_by_test_id("own-rating")).to_have_text("Rating is paused.")
            expect(screen.get_by_test_id("qr-caption")).to_have_text(
                "Rating paused by the organisers"
            )
            assert web.as_organiser("GET", f"/talks/{talk['id']}").json["ratingsPaused"] is True
            # When the organiser resumes them
            resume.click()
            # Then the row, the attendee's stars and the screen take ratings again, and a
            # rating counts
            expect(row.get_by_test_id("rating-state")).to_have_text(
                "Rating always open (no times set)"
            )
            expect(row.get_by_role("button", name=f"Pause ratings {talk['title']}")).to_be_visible()
            expect(star(attendee, 4)).to_be_enabled()
            expect(star(attendee, 4)).not_to_have_attribute("aria-describedby", "rating-hint")
            expect(screen.get_by_test_id("qr-caption")).to_have_text("Scan to rate")
            star(attendee, 4).click()
            test_web_app.enter_event_code(attendee)
            expect(attendee.get_by_test_id("own-rating")).to_contain_text("You rated 4 out of 5")
        finally:
            organiser_context.close()
    finally:
        screen_context.close()


def test_a_tap_refused_as_paused_says_the_organisers_paused_it(web: WebStack, page: Page) -> None:
    # Given an attendee's page whose live channel drops the organisers' changes, open on a talk
    talk = web.add_talk(title="Paused while the page missed it")
    test_web_app.catalog_messages_lost(page)
    page.goto(web.url(f"/app/talks/{talk['id']}"))
    expect(star(page, 5)).to_be_enabled()
    # When an organiser pauses its ratings and the attendee taps a star
    answer = web.as_organiser(
        "PUT", f"/talks/{talk['id']}", {"title": talk["title"], "ratingsPaused": True}
    )
    assert answer.status == 200, answer.body
    star(page, 5).click()
    test_web_app.enter_event_code(page)
    # Then they read that the organisers paused the ratings, nothing is counted as theirs, and
    # the stars follow the talk as read again
    expect(page.get_by_test_id("message")).to_have_text(
        "Ratings of this talk are paused by the organisers: your rating was not counted."
    )
    expect(star(page, 5)).to_have_attribute("aria-pressed", "false")
    expect(star(page, 5)).to_be_disabled()
    assert web.count(talk["id"]) == 0


NOT_COUNTED = "Ratings of this talk are paused by the organisers: your rating was not counted."


def test_a_rating_kept_offline_for_a_talk_paused_meanwhile_is_dropped_and_said_paused(
    web: WebStack, page: Page
) -> None:
    # Given an attendee with a pass whose phone loses its network on a talk's page, and who
    # taps 4 there (kept, waiting for the network)
    talk = web.add_talk(title="Paused while the phone was offline")
    attendee_with_a_pass(web, page)
    sent = posts_for(page, talk["id"])
    page.goto(web.url(f"/app/talks/{talk['id']}"))
    expect(star(page, 4)).to_be_enabled()
    page.context.set_offline(True)
    star(page, 4).click()
    expect(page.get_by_test_id("message")).to_have_text(WAITING)
    assert kept_rating(page, talk["id"])["value"] == 4
    # When an organiser pauses the talk's ratings, and the phone comes back online
    answer = web.as_organiser(
        "PUT", f"/talks/{talk['id']}", {"title": talk["title"], "ratingsPaused": True}
    )
    assert answer.status == 200, answer.body
    page.context.set_offline(False)
    # Then the page says the 4 was not counted because the organisers paused ratings (not a
    # failure), the rating is no longer kept, and the service counted nothing
    expect(page.get_by_test_id("message")).to_have_text(NOT_COUNTED)
    assert waited_on(page, lambda: kept_rating(page, talk["id"]) is None)
    expect(star(page, 4)).to_be_disabled()
    expect(star(page, 4)).to_have_attribute("aria-pressed", "false")
    assert len(sent) == 1, sent  # sent once, refused: not again
    assert web.count(talk["id"]) == 0


def test_a_rating_kept_offline_and_refused_as_paused_from_another_page_is_said_on_its_page(
    web: WebStack, page: Page
) -> None:
    # Given an attendee with a pass who tapped 4 on a talk's page offline, then went on to the
    # programme
    talk = web.add_talk(title="Paused while the rating waited elsewhere")
    attendee_with_a_pass(web, page)
    page.goto(web.url(f"/app/talks/{talk['id']}"))
    expect(star(page, 4)).to_be_enabled()
    page.context.set_offline(True)
    star(page, 4).click()
    expect(page.get_by_test_id("message")).to_have_text(WAITING)
    page.get_by_role("navigation").get_by_role("link", name="Programme").click()
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    # When an organiser pauses the talk's ratings and the phone comes back online (the
    # programme sends the kept rating)
    answer = web.as_organiser(
        "PUT", f"/talks/{talk['id']}", {"title": talk["title"], "ratingsPaused": True}
    )
    assert answer.status == 200, answer.body
    page.context.set_offline(False)
    # Then the refused 4 is dropped, not counted
    assert waited_on(page, lambda: kept_rating(page, talk["id"]) is None)
    assert web.count(talk["id"]) == 0
    # And the talk's page, opened, says the 4 was refused because the organisers paused ratings
    page.goto(web.url(f"/app/talks/{talk['id']}"))
    message = page.get_by_test_id("message")
    expect(message).to_contain_text("Your rating of 4 out of 5 was sent from another page")
    expect(message).to_contain_text(NOT_COUNTED)
    expect(star(page, 4)).to_be_disabled()
