"""The pages' POSTs that create something, in a real Chromium, on a network that loses an answer:
the attendee's request for a pass goes with an Idempotency-Key, kept until a pass comes, so the
page's retry is given the same pass (one voter). (The organisers' add is
test_web_admin.test_a_save_whose_answer_was_lost_and_is_sent_again_is_said_saved.)
The runtime is test_web_talk_page's: attendee passes, an event code, each rating projected as
it comes."""

from __future__ import annotations

import json
from typing import Any

import pytest
from playwright.sync_api import Page, Route, expect

from tests.e2e import test_web_app as web_app
from tests.e2e import test_web_talk_page as talk_page
from tests.e2e.test_web_app import TALK_PAGE, WebStack, enter_event_code, star, waited_on
from tests.e2e.test_web_talk_page import held_pass, kept_rating, only, ratings_of

# test_web_app's browser fixtures and test_web_talk_page's runtime, found by pytest by name.
browser, phone, page = web_app.browser, web_app.phone, web_app.page
web = talk_page.web

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


def first_pass_answer_lost(page: Page) -> list[tuple[str | None, int, Any]]:
    """The first request for a pass that gives the event code reaches the service (which gives
    a pass), and its answer is lost on the way (a dropped connection); the others go through.
    Each such request's Idempotency-Key and the service's answer (status, body)."""
    sent: list[tuple[str | None, int, Any]] = []

    def answer(route: Route) -> None:
        body = route.request.post_data_json if route.request.method == "POST" else None
        if not (body and body.get("code")):
            route.continue_()
            return
        given = route.fetch()
        sent.append((route.request.headers.get("idempotency-key"), given.status, given.json()))
        if len(sent) == 1:
            route.abort("connectionreset")
        else:
            route.fulfill(response=given)

    page.route("**/voters", answer)
    return sent


def test_a_pass_whose_answer_was_lost_is_asked_again_with_its_key_and_is_one_voter(
    web: WebStack, page: Page
) -> None:
    # Given a new attendee on a talk's page, on a network that loses the answer of the
    # service's first pass for them
    talk = web.add_talk(title="Passed once")
    sent = first_pass_answer_lost(page)
    page.goto(web.url(TALK_PAGE.format(id=talk["id"])))
    # When they tap 4 and give the event code, the pass's answer is lost (the rating waits),
    # and their phone's network drops and comes back
    star(page, 4).click()
    enter_event_code(page)
    expect(page.get_by_test_id("own-rating")).to_have_text(
        "Waiting to send your rating: 4 out of 5."
    )
    assert len(sent) == 1
    page.context.set_offline(True)
    page.context.set_offline(False)
    # Then the page asks again, and the 4 is counted, said as theirs
    expect(page.get_by_test_id("own-rating")).to_contain_text("You rated 4 out of 5")
    assert waited_on(page, lambda: ratings_of(web, talk["id"]) == only(4))
    assert waited_on(page, lambda: kept_rating(page, talk["id"]) is None)
    # And it asked under the same key, and was given the same pass: one voter, the one the
    # page keeps
    [(key, status, first), (again_key, again_status, again)] = sent
    assert key is not None
    assert again_key == key
    assert (status, again_status) == (201, 201)
    assert again["voterToken"] == first["voterToken"]
    assert held_pass(page) == first["voterToken"]
    # And the key is let go once the pass came: a later request for a pass is another
    assert page.evaluate("() => localStorage.getItem('talkrate.passKey')") is None
    assert json.loads(json.dumps(ratings_of(web, talk["id"]))) == only(4)
