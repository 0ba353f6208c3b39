"""Another site open in an attendee's browser, in a real Chromium, against the local runtime as
`make run` starts it (no CorsAllowOrigin), asking attendees for voter tokens and an event code
as a deployed stack does: that site's page can neither get a voter token nor rate. Under the
open policy (`make run`'s default) it cannot rate either, not even by posting without asking
(the API refuses a browser's write for another site's page), unless CorsAllowOrigin names it.
The web app and Swagger UI, on the API's own origin, work; and the event code is taken as a
phone types it.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Locator, Page, expect

from tests.backends import CROSS_ORIGIN_TALKS, own_redis
from tests.builders import unique_talk_id
from tests.e2e import test_web_app as web_app
from tests.e2e.conftest import (
    Runtime,
    assert_problem,
    start_admin_runtime,
    start_runtime,
    stop_runtime,
    wait_for,
)

# test_web_app's Chromium, found by pytest under its name, that finds two names of the network
# at 127.0.0.1: the API and its pages as a phone reaches a runtime started with `--host 0.0.0.0`
# (plain HTTP, a name that is not loopback: Chromium sends no Fetch Metadata there), and another
# site's page as plain HTTP serves it.
browser = web_app.browser
API_HOST, ANOTHER_HOST = "talkrate.test", "evil.test"
CHROMIUM_MORE_ARGS = (
    f"--host-resolver-rules=MAP {API_HOST} 127.0.0.1,MAP {ANOTHER_HOST} 127.0.0.1",
)

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

EVENT_CODE = "purple-walking-tree"
NO_RATINGS = {"1": 0, "2": 0, "3": 0, "4": 0, "5": 0}

# The page of another site: what a page anywhere on the web can try in its visitors' browsers.
ANOTHER_SITE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Another site</title></head>
<body><p>Nothing to see here.</p>
<script>
  // A voter token from POST /voters, then a rating with it: each step a request a browser
  // sends only once the API's preflight answer lets this origin (JSON, a Voter-Token header).
  async function rateThroughTheVisitor(api, talkId, code, times) {
    const seen = [];
    for (let n = 0; n < times; n++) {
      try {
        const voters = await fetch(api + "/voters", { method: "POST",
          headers: { "content-type": "application/json" }, body: JSON.stringify({ code }) });
        const { voterToken } = await voters.json();
        const rating = await fetch(api + "/ratings", { method: "POST",
          headers: { "content-type": "application/json", "voter-token": voterToken },
          body: JSON.stringify({ talkId, value: 5 }) });
        seen.push(`${voters.status} ${rating.status}`);
      } catch (error) {
        seen.push(error.name);
      }
    }
    return seen;
  }
  // A rating sent without asking: a "simple" request (text/plain, no custom header) is sent
  // whatever CORS says, only its answer kept from the page.
  async function rateWithoutAsking(api, talkId, value = 5) {
    const sent = await fetch(api + "/ratings", { method: "POST", mode: "no-cors",
      headers: { "content-type": "text/plain" }, body: JSON.stringify({ talkId, value }) });
    return sent.type;
  }
  // The same as a beacon (text/plain), which a page sends as it is closed.
  function rateByBeacon(api, talkId, value = 5) {
    return navigator.sendBeacon(api + "/ratings", JSON.stringify({ talkId, value }));
  }
  // A rating as a page the API lets in would send it (JSON, so the browser asks first), with no
  // voter token (the open policy): its status, or the error the browser raised.
  async function rateOpenly(api, talkId, value) {
    try {
      const rating = await fetch(api + "/ratings", { method: "POST",
        headers: { "content-type": "application/json" }, body: JSON.stringify({ talkId, value }) });
      return rating.status;
    } catch (error) {
      return error.name;
    }
  }
</script></body></html>
"""


class Stack:
    """The module's runtime and its organiser token, and the talks the tests made."""

    def __init__(self, runtime: Runtime, token: str, ratings_url: str, streams: str) -> None:
        self.runtime, self.token, self.created = runtime, token, list[str]()
        self.ratings_url, self.streams = ratings_url, streams

    def add_talk(self, title: str) -> str:
        talk = {"id": unique_talk_id("origin"), "title": title}
        admin = {"Authorization": f"Bearer {self.token}"}
        answer = self.runtime.request("POST", "/talks", json.dumps(talk), admin)
        assert answer.status == 201, answer.body
        self.created.append(talk["id"])
        return talk["id"]

    def runtime_beside(self, log: Path, args: list[str]) -> Runtime:
        """Another runtime on the module's catalog, read model and broker, started with `args`."""
        backends = {"TALKS_CONNECTION": CROSS_ORIGIN_TALKS, "RATINGS_CONNECTION": self.ratings_url}
        return start_runtime(
            backends | {"STREAMS_CONNECTION": self.streams, "ADMIN_TOKEN": self.token}, log, args
        )

    def runtime_naming(self, origin: str, log: Path, args: list[str] | None = None) -> Runtime:
        """Another runtime beside it whose CorsAllowOrigin names `origin`, each rating projected
        as it comes."""
        named = ["--param", f"CorsAllowOrigin={origin.rstrip('/')}"]
        return self.runtime_beside(
            log, [*(args or []), "--param", "ProjectorBatchWindowSeconds=0", *named]
        )

    def ratings(self, talk_id: str) -> dict[str, int]:
        answer = self.runtime.request("GET", f"/ratings?talkId={talk_id}")
        assert answer.status == 200, answer.body
        ratings: dict[str, int] = answer.json["ratings"]
        return ratings

    def rate_as_an_attendee(self, talk_id: str, value: int) -> None:
        """A rating from an attendee's own client, with a voter token of its own."""
        voters = self.runtime.request("POST", "/voters", json.dumps({"code": EVENT_CODE}))
        assert voters.status == 201, voters.body
        rating = json.dumps({"talkId": talk_id, "value": value})
        headers = {"Voter-Token": voters.json["voterToken"]}
        assert self.runtime.request("POST", "/ratings", rating, headers).status == 202


@pytest.fixture(scope="module")
def stack(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    # The runtime as the reviewer ran it: make run RUN_ARGS="--param VotingPolicy=attendee
    # --param VoterCode=…", nothing said of CORS; each rating projected as it comes.
    ratings_url = own_redis("cross_origin")
    runtime, token = start_admin_runtime(
        CROSS_ORIGIN_TALKS,
        ratings_url,
        kafka_bootstrap,
        tmp_path_factory.mktemp("cross-origin") / "runtime.log",
        [
            *("--param", "VotingPolicy=attendee"),
            *("--param", f"VoterCode={EVENT_CODE}"),
            *("--param", "ProjectorBatchWindowSeconds=0"),
        ],
    )
    state = Stack(runtime, token, ratings_url, kafka_bootstrap)
    yield state
    for talk_id in state.created:
        runtime.request("DELETE", f"/talks/{talk_id}", headers={"Authorization": f"Bearer {token}"})
    stop_runtime(runtime)


@pytest.fixture(scope="module")
def another_site() -> Iterator[str]:
    """Another origin's page (127.0.0.1 on a port of its own), served while the module runs."""
    page = ANOTHER_SITE.encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    serving = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1})
    serving.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()
    serving.join(timeout=5)


@pytest.fixture
def visitor(browser: Browser) -> Iterator[BrowserContext]:
    """An attendee's phone-sized browser, with storage of its own."""
    context = browser.new_context(viewport=web_app.PHONE)
    yield context
    context.close()


@pytest.fixture
def page(visitor: BrowserContext) -> Page:
    opened = visitor.new_page()
    opened.set_default_timeout(15_000)
    return opened


def test_another_site_s_page_cannot_rate_through_its_visitors_browsers(
    stack: Stack, page: Page, another_site: str
) -> None:
    # Given a talk, and an attendee's browser on another site's page (who knows the event code:
    # it is said in the room)
    talk_id = stack.add_talk("Not rated from elsewhere")
    page.goto(another_site)
    # When that page asks the API for a voter token and rates the talk with it, five times
    seen = page.evaluate(
        "([api, talkId, code]) => rateThroughTheVisitor(api, talkId, code, 5)",
        [stack.runtime.url, talk_id, EVENT_CODE],
    )
    # Then the browser refuses every one (the API allows no other origin): no token, no rating
    assert seen == ["TypeError"] * 5, seen
    # And a rating it sends without asking reaches the API without a voter token: refused there
    assert page.evaluate("([api, t]) => rateWithoutAsking(api, t)", [stack.runtime.url, talk_id])
    # And nothing of it counted: an attendee's own rating, sent after, is the talk's only one
    stack.rate_as_an_attendee(talk_id, 3)
    assert wait_for(lambda: sum(stack.ratings(talk_id).values()) > 0)
    assert stack.ratings(talk_id) == NO_RATINGS | {"3": 1}


def test_a_named_origin_s_page_rates_and_no_other_does(
    stack: Stack, page: Page, another_site: str, tmp_path: Path
) -> None:
    # Given a runtime whose CorsAllowOrigin names one origin (a page served elsewhere: here the
    # other site's server as http://localhost:<port>), beside the module's, on its catalog and
    # read model
    named = another_site.replace("127.0.0.1", "localhost")
    runtime = stack.runtime_naming(
        named,
        tmp_path / "runtime.log",
        ["--param", "VotingPolicy=attendee", "--param", f"VoterCode={EVENT_CODE}"],
    )
    try:
        talk_id = stack.add_talk("Rated from the named origin")
        # When that origin's page gets voter tokens and rates the talk, twice
        page.goto(named)
        rate = "([api, talkId, code]) => rateThroughTheVisitor(api, talkId, code, 2)"
        seen = page.evaluate(rate, [runtime.url, talk_id, EVENT_CODE])
        # Then both are taken and counted
        assert seen == ["201 202"] * 2, seen
        assert wait_for(lambda: stack.ratings(talk_id) == NO_RATINGS | {"5": 2})
        # And the same page from any other origin is refused by the browser
        page.goto(another_site)
        assert page.evaluate(rate, [runtime.url, talk_id, EVENT_CODE]) == ["TypeError"] * 2
    finally:
        stop_runtime(runtime)
    assert stack.ratings(talk_id) == NO_RATINGS | {"5": 2}


def test_the_gateway_answers_no_preflight_and_the_summary_says_so(stack: Stack) -> None:
    # When another origin's browser asks whether it may post a voter token request
    asked = stack.runtime.request(
        "OPTIONS",
        "/voters",
        headers={"Origin": "http://127.0.0.1:8994", "Access-Control-Request-Method": "POST"},
    )
    # Then the gateway answers as API Gateway without a CORS configuration: no route, no CORS
    assert (asked.status, asked.json) == (404, {"message": "Not Found"})
    assert not [name for name in asked.headers if name.startswith("access-control-")]
    # And the start-up summary says there is none, by the template's choice
    assert stack.runtime.log is not None
    summary = stack.runtime.log.read_text()
    assert "cors      none (no CorsConfiguration" in summary
    assert "CorsConfiguration not applied" not in summary


def test_the_event_code_is_typed_as_said_and_taken_with_a_phone_s_capital(
    stack: Stack, page: Page
) -> None:
    # Given a talk's page on the API's own origin
    talk_id = stack.add_talk("Rated with a capital")
    page.goto(f"{stack.runtime.url}/app/talks/{talk_id}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Rated with a capital")
    # When an attendee taps 4 stars, and the page asks for the event code
    page.get_by_role("button", name="Rate 4 out of 5").click()
    field = page.get_by_label("Event code")
    expect(field).to_be_visible()
    # Then the field asks a phone's keyboard to leave what is typed as it is
    for name, value in (
        ("autocapitalize", "none"),
        ("autocorrect", "off"),
        ("spellcheck", "false"),
        ("autocomplete", "off"),
    ):
        expect(field).to_have_attribute(name, value)
    # When they type it as a keyboard that capitalised it anyway would
    field.fill("Purple-Walking-Tree")
    page.get_by_role("button", name="Continue").click()
    # Then it is taken, and their rating counted
    expect(page.get_by_test_id("own-rating")).to_contain_text("You rated 4 out of 5")
    assert wait_for(lambda: stack.ratings(talk_id) == NO_RATINGS | {"4": 1})


def _swagger_operation(page: Page, method: str, path: str) -> Locator:
    """Swagger UI's operation of `method path`, opened."""
    operation = page.locator(".opblock").filter(
        has=page.locator(".opblock-summary-path", has_text=path)
    )
    operation = operation.filter(has=page.locator(".opblock-summary-method", has_text=method))
    operation.locator(".opblock-summary").first.click()
    return operation


def _swagger_status(operation: Locator) -> Locator:
    """The status of the answer an operation's Execute got."""
    return operation.locator(".live-responses-table tbody .response-col_status").first


def test_swagger_ui_tries_the_api_out_on_its_own_origin(stack: Stack, page: Page) -> None:
    # Given the runtime's Swagger UI
    page.goto(f"{stack.runtime.url}/_docs/")
    # When a developer tries out GET /talks/{talkId}
    operation = _swagger_operation(page, "GET", "/talks/{talkId}")
    talk_id = stack.add_talk(f"Read from the docs {uuid.uuid4().hex[:6]}")
    operation.locator("input[placeholder='talkId']").fill(talk_id)
    operation.get_by_role("button", name="Execute").click()
    # Then the API answers it (same origin: no CORS needed)
    expect(_swagger_status(operation)).to_have_text("200")
    expect(operation.locator(".live-responses-table tbody .microlight").first).to_contain_text(
        talk_id
    )


# --- The open policy (`make run`'s default): a rating needs no voter token, so nothing but the
# --- API itself stands between another site's page and its visitors' blind ratings.


@pytest.fixture(scope="module")
def open_stack(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    """A runtime as `make run` starts it (VotingPolicy=open, no CorsAllowOrigin), beside the
    module's, on its catalog and read model."""
    runtime = stack.runtime_beside(
        tmp_path_factory.mktemp("open") / "runtime.log",
        ["--param", "ProjectorBatchWindowSeconds=0"],
    )
    yield runtime
    stop_runtime(runtime)


def _rate_with_curl_s_request(runtime: Runtime, talk_id: str, value: int) -> None:
    """A rating as `curl -d` sends it (no browser's headers), counted under the open policy."""
    rating = json.dumps({"talkId": talk_id, "value": value})
    form = {"content-type": "application/x-www-form-urlencoded"}
    assert runtime.request("POST", "/ratings", rating, form).status == 202


def test_another_site_s_page_cannot_rate_blind_under_the_open_policy(
    stack: Stack, open_stack: Runtime, page: Page, another_site: str
) -> None:
    # Given a talk, and a visitor's browser on another site's page: the same host on another
    # port (same-site to the browser), then another host (cross-site)
    talk_id = stack.add_talk("Not rated blind from elsewhere")
    for site in (another_site, another_site.replace("127.0.0.1", "localhost")):
        page.goto(site)
        # When that page sends ratings without asking, which CORS does not stop (a 5 and a 1)
        for value in (5, 1):
            sent = page.evaluate(
                "([api, t, v]) => rateWithoutAsking(api, t, v)", [open_stack.url, talk_id, value]
            )
            assert sent == "opaque"
        # And rates as a page the API let in would, asking first: the browser refuses it
        rate = "([api, t, v]) => rateOpenly(api, t, v)"
        assert page.evaluate(rate, [open_stack.url, talk_id, 2]) == "TypeError"
    # Then none of them counted: a rating from curl, sent after, is the talk's only one
    _rate_with_curl_s_request(open_stack, talk_id, 3)
    assert wait_for(lambda: sum(stack.ratings(talk_id).values()) > 0)
    assert stack.ratings(talk_id) == NO_RATINGS | {"3": 1}


def test_a_blind_write_is_answered_as_a_problem_naming_why(
    stack: Stack, open_stack: Runtime
) -> None:
    # When a request comes marked as a browser's for another site's page, to each route that
    # changes something (an organiser's too, with the organiser's token)
    talk_id = stack.add_talk("Refused as a problem")
    admin = {"Authorization": f"Bearer {stack.token}"}
    body = json.dumps({"talkId": talk_id, "value": 4})
    talk = json.dumps({"id": talk_id, "title": "Renamed from elsewhere"})
    for method, path, sent, headers in (
        ("POST", "/ratings", body, {}),
        ("POST", "/voters", "{}", {}),
        ("PUT", f"/talks/{talk_id}", talk, admin),
        ("DELETE", f"/talks/{talk_id}", None, admin),
    ):
        answer = open_stack.request(
            method,
            path,
            sent,
            {"Sec-Fetch-Site": "cross-site", "Origin": "https://elsewhere.example", **headers},
        )
        # Then each is refused, in the problem shape, naming the kind of problem
        assert_problem(answer, 403)
        assert answer.json["type"] == "urn:talkrate:problem:cross-site-request", method
    # And nothing changed: the talk is as it was, and unrated
    assert open_stack.request("GET", f"/talks/{talk_id}").json["title"] == "Refused as a problem"
    _rate_with_curl_s_request(open_stack, talk_id, 4)
    assert wait_for(lambda: stack.ratings(talk_id) == NO_RATINGS | {"4": 1})


def test_the_web_app_rates_on_its_own_origin_under_the_open_policy(
    stack: Stack, open_stack: Runtime, page: Page
) -> None:
    # Given a talk's page on the API's own origin
    talk_id = stack.add_talk("Rated on its own origin")
    page.goto(f"{open_stack.url}/app/talks/{talk_id}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Rated on its own origin")
    # When an attendee taps 4 stars (no event code, no voter token: the open policy)
    page.get_by_role("button", name="Rate 4 out of 5").click()
    # Then their rating is taken and counted
    expect(page.get_by_test_id("own-rating")).to_contain_text("You rated 4 out of 5")
    assert wait_for(lambda: stack.ratings(talk_id) == NO_RATINGS | {"4": 1})


def test_a_named_origin_s_page_rates_under_the_open_policy_and_no_other_does(
    stack: Stack, page: Page, another_site: str, tmp_path: Path
) -> None:
    # Given a runtime under the open policy whose CorsAllowOrigin names one origin (the other
    # site's server as http://localhost:<port>)
    named = another_site.replace("127.0.0.1", "localhost")
    runtime = stack.runtime_naming(named, tmp_path / "runtime.log")
    try:
        talk_id = stack.add_talk("Rated openly from the named origin")
        # When that origin's page rates the talk as a page the API lets in does (a 5), and
        # without asking (a 2)
        page.goto(named)
        rate = "([api, t, v]) => rateOpenly(api, t, v)"
        assert page.evaluate(rate, [runtime.url, talk_id, 5]) == 202
        blind = "([api, t, v]) => rateWithoutAsking(api, t, v)"
        assert page.evaluate(blind, [runtime.url, talk_id, 2]) == "opaque"
        # Then both count: the stack let that origin in
        assert wait_for(lambda: stack.ratings(talk_id) == NO_RATINGS | {"5": 1, "2": 1})
        # And from any other origin (same site, another port) neither does
        page.goto(another_site)
        assert page.evaluate(rate, [runtime.url, talk_id, 1]) == "TypeError"
        assert page.evaluate(blind, [runtime.url, talk_id, 1]) == "opaque"
        _rate_with_curl_s_request(runtime, talk_id, 3)
        expected = NO_RATINGS | {"5": 1, "2": 1, "3": 1}
        assert wait_for(lambda: sum(stack.ratings(talk_id).values()) == 3)
        assert stack.ratings(talk_id) == expected
    finally:
        stop_runtime(runtime)


def test_swagger_ui_rates_on_its_own_origin_under_the_open_policy(
    stack: Stack, open_stack: Runtime, page: Page
) -> None:
    # Given the runtime's Swagger UI, and a talk
    talk_id = stack.add_talk("Rated from the docs")
    page.goto(f"{open_stack.url}/_docs/")
    # When a developer tries out POST /ratings with a rating of it
    operation = _swagger_operation(page, "POST", "/ratings")
    body = operation.locator("textarea.body-param__text")
    body.fill(json.dumps({"talkId": talk_id, "value": 2}))
    operation.get_by_role("button", name="Execute").click()
    # Then the API takes it (a same-origin request) and it counts
    expect(_swagger_status(operation)).to_have_text("202")
    assert wait_for(lambda: stack.ratings(talk_id) == NO_RATINGS | {"2": 1})


# --- Plain HTTP at a name that is not loopback (a phone on the network, `--host 0.0.0.0`):
# --- Chromium sends Fetch Metadata only to secure origins, so nothing but Origin says whose.


def _on_the_network(url: str, host: str) -> str:
    """`url` (at 127.0.0.1) at the name the module's Chromium finds there."""
    return url.replace("127.0.0.1", host)


def test_another_site_s_page_cannot_rate_blind_over_plain_http_at_a_network_name(
    stack: Stack, open_stack: Runtime, page: Page, another_site: str
) -> None:
    # Given a talk, and a visitor's browser on another site's page over plain HTTP, the API
    # reached at a name of the network over plain HTTP too
    talk_id = stack.add_talk("Not rated blind over plain HTTP")
    api, site = (
        _on_the_network(open_stack.url, API_HOST),
        _on_the_network(another_site, ANOTHER_HOST),
    )
    page.goto(site)
    # When that page sends ratings without asking, which Chromium sends there with the page's
    # Origin and no Sec-Fetch-Site: a 5 by fetch, a 1 as a beacon
    assert page.evaluate("([api, t]) => rateWithoutAsking(api, t, 5)", [api, talk_id]) == "opaque"
    assert page.evaluate("([api, t]) => rateByBeacon(api, t, 1)", [api, talk_id]) is True
    # Then none of them counted: a rating from curl, sent after, is the talk's only one
    _rate_with_curl_s_request(open_stack, talk_id, 3)
    assert wait_for(lambda: sum(stack.ratings(talk_id).values()) > 0)
    assert stack.ratings(talk_id) == NO_RATINGS | {"3": 1}


def test_the_web_app_rates_over_plain_http_at_a_network_name(
    stack: Stack, open_stack: Runtime, page: Page
) -> None:
    # Given a talk's page as a phone on the network loads it: plain HTTP, a name not loopback
    title = "Rated over plain HTTP on the network"
    talk_id = stack.add_talk(title)
    app = _on_the_network(open_stack.url, API_HOST)
    page.goto(f"{app}/app/talks/{talk_id}")
    expect(page.get_by_role("heading", level=1)).to_have_text(title)
    # When an attendee taps 4 stars
    with page.expect_request(
        lambda request: request.method == "POST" and request.url.endswith("/ratings")
    ) as sent:
        page.get_by_role("button", name="Rate 4 out of 5").click()
    # Then their rating is taken and counted
    expect(page.get_by_test_id("own-rating")).to_contain_text("You rated 4 out of 5")
    assert wait_for(lambda: stack.ratings(talk_id) == NO_RATINGS | {"4": 1})
    # And it went out with its own origin and no Fetch Metadata: the case the API tells apart
    headers = sent.value.all_headers()
    assert (headers.get("origin"), headers.get("sec-fetch-site")) == (app, None)


def _covered_by_the_note(page: Page) -> list[str]:
    """What the loopback note's box meets of the QR code, its address and the histogram's rows."""
    covered: list[str] = page.evaluate(
        """() => {
          const a = document.querySelector("[data-testid=loopback-note]").getBoundingClientRect();
          const apart = (b) => a.bottom <= b.top || b.bottom <= a.top || a.right <= b.left || b.right <= a.left;
          return [".screen-qr .qr", "[data-testid=qr-url]", ".histogram.big li"].flatMap((sel) =>
            [...document.querySelectorAll(sel)].filter((n) => !apart(n.getBoundingClientRect()))
              .map((n) => `${sel}: ${n.textContent.trim().slice(0, 40)}`));
        }"""
    )
    return covered


def test_a_room_screen_at_this_computer_s_own_address_says_phones_cannot_follow_its_qr_code(
    stack: Stack, open_stack: Runtime, page: Page
) -> None:
    # Given a talk's room screen opened at the address the local runtime prints (127.0.0.1)
    talk_id = stack.add_talk("Shown from the organisers' laptop")
    page.goto(f"{open_stack.url}/app/talks/{talk_id}/screen")
    expect(page.get_by_role("heading", level=1)).to_have_text("Shown from the organisers' laptop")
    # Then whoever sets it up is told its QR code leads phones nowhere, and what to do
    note = page.get_by_test_id("loopback-note")
    expect(note).to_be_visible()
    expect(note).to_contain_text("Phones cannot open 127.0.0.1:")
    expect(note).to_contain_text("--host 0.0.0.0")
    # And on a phone-sized window, where the QR code comes under the figures, the words do not
    # cover the code or its address (drawn over the page, they did)
    page.set_viewport_size({"width": 390, "height": 844})
    assert _covered_by_the_note(page) == []
    # When it is opened at a name of the network, as phones reach a runtime started with
    # --host 0.0.0.0, Then nothing is said: its QR code leads there
    page.goto(f"{_on_the_network(open_stack.url, API_HOST)}/app/talks/{talk_id}/screen")
    expect(page.get_by_role("heading", level=1)).to_have_text("Shown from the organisers' laptop")
    expect(page.get_by_test_id("qr-url")).to_contain_text(API_HOST)
    expect(page.get_by_test_id("loopback-note")).to_have_count(0)
