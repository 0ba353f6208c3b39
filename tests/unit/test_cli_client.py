"""The talkrate command's API client against a real HTTP server on loopback: a rating whose
answer is lost is sent again with the same Idempotency-Key, after the pauses asked for; one that
never left is not."""

from __future__ import annotations

import itertools
import socket
import time
from collections.abc import Iterator

import pytest

from talkrate_cli import client
from talkrate_cli.client import Api
from talkrate_cli.errors import ApiProblem, BadInput, Unreachable
from tests.loopback import LoopbackServer, StandInHandler

pytestmark = pytest.mark.unit


GATEWAY_THROTTLE = "gateway-throttle"


class FlakyApi(LoopbackServer):
    """POST /ratings that drops the connection for its first `lose` requests, answers `then`
    (a status and a problem type) for the next `then_times`, and 202 afterwards."""

    def __init__(self, lose: int, then: tuple[int, str] | None = None, then_times: int = 0) -> None:
        self.keys: list[str | None] = []
        self.arrived: list[float] = []  # when each POST came (time.monotonic())
        api = self

        class Handler(StandInHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["Content-Length"]))
                api.keys.append(self.headers.get("Idempotency-Key"))
                api.arrived.append(time.monotonic())
                n = len(api.keys)
                if n <= lose:
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)  # no answer at all
                    return
                status, kind = then if then and n <= lose + then_times else (202, "")
                if status == 202:
                    body = {
                        "eventId": "e1",
                        "status": "accepted",
                        "links": {"status": "/ratings/e1"},
                    }
                elif kind == GATEWAY_THROTTLE:  # API Gateway's own answer: no problem document
                    body = {"message": "Too Many Requests"}
                else:
                    body = {"type": f"urn:talkrate:problem:{kind}", "title": kind, "status": status}
                self.answer(status, body)

        super().__init__(Handler)


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(client, "RATE_RETRY_SECONDS", (0.01, 0.01, 0.01))


@pytest.fixture
def served() -> Iterator[list[FlakyApi]]:
    made: list[FlakyApi] = []
    yield made
    for api in made:
        api.close()


def test_a_rating_whose_answer_is_lost_is_sent_again_with_the_same_key(
    served: list[FlakyApi],
) -> None:
    # Given an API whose first two answers are lost on the way
    flaky = FlakyApi(lose=2)
    served.append(flaky)
    # When the command rates a talk
    accepted = Api(flaky.url, timeout=5).rate("t1", 4)
    # Then it got the 202 on the third try, every try with one and the same key
    assert accepted["status"] == "accepted"
    assert len(flaky.keys) == 3
    assert flaky.keys[0]
    assert len(set(flaky.keys)) == 1


def test_a_busy_api_is_asked_again_but_a_refusal_is_final(served: list[FlakyApi]) -> None:
    busy = FlakyApi(lose=0, then=(503, "unavailable"), then_times=1)
    refusing = FlakyApi(lose=0, then=(409, "rating-window-closed"), then_times=9)
    served += [busy, refusing]
    assert Api(busy.url).rate("t1", 4)["status"] == "accepted"
    assert len(busy.keys) == 2
    with pytest.raises(ApiProblem) as refused:
        Api(refusing.url).rate("t1", 4)
    assert refused.value.slug == "rating-window-closed"
    assert len(refusing.keys) == 1


def test_a_rating_the_gateway_throttles_is_sent_again_but_the_api_s_own_limit_is_final(
    served: list[FlakyApi],
) -> None:
    # Given an API Gateway whose throttle turns the first two sends away (no function saw them),
    # one that turns every send away, and an API whose own limit refuses the voter
    crowded = FlakyApi(lose=0, then=(429, GATEWAY_THROTTLE), then_times=2)
    throttling = FlakyApi(lose=0, then=(429, GATEWAY_THROTTLE), then_times=9)
    limited = FlakyApi(lose=0, then=(429, "too-many-ratings"), then_times=9)
    served += [crowded, throttling, limited]
    # When the command rates a talk on each
    # Then the gateway's refusals are sent again under one key, and the rating counts
    assert Api(crowded.url).rate("t1", 4)["status"] == "accepted"
    assert len(crowded.keys) == 3
    assert len(set(crowded.keys)) == 1
    # And a throttle that lasts is said in the gateway's words, after four tries
    with pytest.raises(ApiProblem) as busy:
        Api(throttling.url).rate("t1", 4)
    assert str(busy.value) == "Too Many Requests (429)"
    assert len(throttling.keys) == 4
    # And the API's own limit is final at once
    with pytest.raises(ApiProblem) as refused:
        Api(limited.url).rate("t1", 4)
    assert refused.value.slug == "too-many-ratings"
    assert len(limited.keys) == 1


def test_an_api_that_keeps_losing_answers_is_given_up_after_four_tries(
    served: list[FlakyApi],
) -> None:
    flaky = FlakyApi(lose=10)
    served.append(flaky)
    with pytest.raises(Unreachable):
        Api(flaky.url, timeout=5).rate("t1", 4)
    assert len(flaky.keys) == 4


def test_a_lost_answer_is_sent_again_after_the_pauses_talkrate_retry_seconds_asks_for(
    served: list[FlakyApi], monkeypatch: pytest.MonkeyPatch
) -> None:
    from talkrate_cli.main import Session

    # Given an API that loses every answer, and a user who asks for pauses of 0.2 s, doubled
    # (RATE_RETRY_SECONDS is 0.01 s each in this file: the setting's are not those)
    flaky = FlakyApi(lose=10)
    served.append(flaky)
    monkeypatch.setenv("TALKRATE_RETRY_SECONDS", "0.2")
    # When the command rates a talk
    with pytest.raises(Unreachable):
        Session(flaky.url, None, None, False).api.rate("t1", 4)
    # Then it sent it four times, waiting at least 0.2, 0.4 and 0.8 s between them (no upper
    # bound: a loaded machine only makes the gaps longer)
    gaps = [later - earlier for earlier, later in itertools.pairwise(flaky.arrived)]
    assert len(gaps) == 3
    assert all(gap >= pause for gap, pause in zip(gaps, (0.2, 0.4, 0.8), strict=True)), gaps


def test_an_api_that_refuses_connections_is_not_retried() -> None:
    # A closed loopback port: the rating never left, nothing to resend
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(Unreachable) as failed:
        Api(f"http://127.0.0.1:{port}").rate("t1", 4)
    assert failed.value.answer_lost is False


class NotTheApi(LoopbackServer):
    """A server at the address that is not the API: each GET answers 404 with `body` (bytes)
    of `content_type`."""

    def __init__(self, body: bytes, content_type: str) -> None:
        class Handler(StandInHandler):
            def do_GET(self) -> None:
                self.send_response(404)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        super().__init__(Handler)


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"<!DOCTYPE HTML>\n<html><title>Error response</title></html>", "text/html"),
        (b'{"message": "Not Found"}', "application/json"),  # API Gateway: no such route
        (b'{"Type": "User", "Message": "Unknown operation"}', "application/json"),  # Lambda's
    ],
)
def test_a_404_from_something_else_than_the_api_asks_whether_it_is_the_base_url(
    body: bytes, content_type: str
) -> None:
    # Given an address where something else than the API answers (the Lambda port, a web
    # server, a stage path the API is not under)
    other = NotTheApi(body, content_type)
    try:
        # When the command reads a talk there
        with pytest.raises(ApiProblem) as refused:
            Api(other.url, timeout=5).talk("t1")
    finally:
        other.close()
    # Then its one line names the request and asks whether the address is the API's
    # (it said "HTTP 404 (404)", "Not Found (404)" or "File not found (404): <!DOCTYPE HTML>")
    line = str(refused.value)
    assert line.startswith(("Not Found (404)", "File not found (404)", "HTTP 404 (404)")), line
    assert f"GET /talks/t1 is no route of the talkrate API at {other.url}" in line
    assert "is it the API's base URL?" in line
    assert "DOCTYPE" not in line


def test_the_api_s_own_404_is_said_in_its_words() -> None:
    problem = b'{"type": "urn:talkrate:problem:talk-not-found", "title": "Talk not found", '
    problem += b'"status": 404, "detail": "No talk with id \'t1\'."}'
    api = NotTheApi(problem, "application/problem+json")
    try:
        with pytest.raises(ApiProblem) as refused:
            Api(api.url, timeout=5).talk("t1")
    finally:
        api.close()
    assert str(refused.value) == "Talk not found (404): No talk with id 't1'."


@pytest.mark.parametrize(
    "given", ["http://127.0.0.1:3000/\r", " http://127.0.0.1:3000", "\thttp://127.0.0.1:3000 \n"]
)
def test_an_api_url_given_with_spaces_or_a_line_end_around_it_is_the_url(given: str) -> None:
    # (a TALKRATE_API from a .env file of CRLF lines was "bad API URL ...\r", one with a space
    # before it "expected http(s)://host[:port]")
    assert client.check_url(given) == "http://127.0.0.1:3000"


@pytest.mark.parametrize("port", [0, 65536, 99999])
def test_an_api_url_with_a_port_no_connection_can_have_is_bad_input(port: int) -> None:
    # (it was tried, and said "connection refused (is the API running?)", exit 1)
    with pytest.raises(BadInput, match=rf"bad API URL .*: port {port} is not one \(1 to 65535\)"):
        client.check_url(f"http://127.0.0.1:{port}")


class Organisers(LoopbackServer):
    """A stand-in API on a loopback address that records the Authorization headers it gets."""

    def __init__(self, host: str) -> None:
        self.seen: list[str | None] = []
        api = self

        class Handler(StandInHandler):
            def do_GET(self) -> None:
                api.seen.append(self.headers.get("authorization"))
                self.answer(200, {"organiser": True})

        super().__init__(Handler, host=host)


def test_the_organiser_token_is_not_sent_in_clear_to_another_machine(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given an API reached over plain HTTP at an address that is not one of this machine's
    # names (127.0.0.2 stands for a host on the network: the client knows this machine as
    # 127.0.0.1, localhost and ::1)
    monkeypatch.delenv(client.PLAIN_HTTP_SETTING, raising=False)
    server = Organisers("127.0.0.2")
    try:
        api = Api(server.url, admin_token="S3cretOrganiserToken")
        # When an organiser's command would send the token there
        with pytest.raises(BadInput, match=r"not sent over plain HTTP to 127\.0\.0\.2") as refused:
            api.check_organiser()
        # Then it is refused before anything is sent, and the message says how to go on
        assert server.seen == []
        assert "https://" in str(refused.value)
        assert "S3cret" not in str(refused.value)
        # And with the setting for a local runtime on the network it is sent
        monkeypatch.setenv(client.PLAIN_HTTP_SETTING, "1")
        api.check_organiser()
        assert server.seen == ["Bearer S3cretOrganiserToken"]
        api.close()
    finally:
        server.close()


def test_the_organiser_token_goes_in_clear_to_this_machine_and_reads_need_none(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(client.PLAIN_HTTP_SETTING, raising=False)
    local = Organisers("127.0.0.1")
    remote = Organisers("127.0.0.2")
    try:
        Api(local.url, admin_token="t0ken-of-the-local-runtime").check_organiser()
        assert local.seen == ["Bearer t0ken-of-the-local-runtime"]
        # A read that carries no token goes anywhere
        Api(remote.url, admin_token="S3cret").request("GET", "/talks")
        assert remote.seen == [None]
    finally:
        local.close()
        remote.close()
