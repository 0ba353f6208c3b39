"""The rating flow end to end: HTTP into the local runtime, through Kafka, out of Redis."""

from __future__ import annotations

import json
import socket
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import boto3
import pytest

from sam_emulator.serving import free_port
from tests.builders import kafka_event, rating_event, ratings_batch, unique_talk_id
from tests.e2e.conftest import Runtime, assert_problem, start_runtime, stop_runtime, wait_for

pytestmark = pytest.mark.e2e

WORKSHOP_TALK = "testcontainers-integration-testing"


def histogram(runtime: Runtime, talk_id: str) -> dict[str, int]:
    answer = runtime.request("GET", f"/ratings?talkId={talk_id}")
    assert answer.status == 200, answer.body
    ratings: dict[str, int] = answer.json["ratings"]
    return ratings


def test_a_rating_is_accepted_then_counted_once_with_its_stats(runtime: Runtime) -> None:
    # Given the workshop talk's current histogram
    before = histogram(runtime, WORKSHOP_TALK)
    # When an attendee rates it 5
    answer = runtime.request("POST", "/ratings", json.dumps({"talkId": WORKSHOP_TALK, "value": 5}))
    # Then the API accepts it with an event id
    assert answer.status == 202, answer.body
    assert answer.json["rating"] == {"talkId": WORKSHOP_TALK, "value": 5}
    assert answer.json["eventId"]
    # And within seconds the histogram shows it, once
    assert wait_for(lambda: histogram(runtime, WORKSHOP_TALK)["5"] == before["5"] + 1)
    runtime.wait_until_projected()  # a second delivery, if there were one, has landed by now
    after = runtime.request("GET", f"/ratings?talkId={WORKSHOP_TALK}").json
    assert after["ratings"] == {**before, "5": before["5"] + 1}
    # And the stats come from StatsFunction through the Lambda Invoke API
    assert after["stats"]["totalCount"] == sum(after["ratings"].values())
    assert 1 <= after["stats"]["avg"] <= 5


def test_an_unknown_talk_is_404(runtime: Runtime) -> None:
    assert_problem(
        runtime.request("POST", "/ratings", json.dumps({"talkId": "no-such-talk", "value": 3})), 404
    )
    assert_problem(runtime.request("GET", "/ratings?talkId=no-such-talk"), 404)


MALFORMED_RATINGS = [
    '{"talkId": "flight-of-the-gopher", "value": 0}',
    '{"talkId": "flight-of-the-gopher", "value": 6}',
    '{"talkId": "flight-of-the-gopher", "value": 3.5}',
    '{"talkId": "flight-of-the-gopher", "value": "5"}',
    '{"talkId": "flight-of-the-gopher", "value": true}',
    '{"talkId": "flight-of-the-gopher", "value": null}',
    '{"talkId": "flight-of-the-gopher"}',
    '{"value": 3}',
    "{}",
    '{"talkId": ["flight-of-the-gopher"], "value": 3}',
    '{"talkId": {"id": 1}, "value": {"v": 3}}',
    "[1, 2, 3]",
    '"just a string"',
    "not json at all",
    '{"talkId": "flight-of-the-gopher", "value": 3',
    "",
    "\x00\x01\x02",
]


@pytest.mark.parametrize("body", MALFORMED_RATINGS)
def test_malformed_ratings_are_4xx_problems(runtime: Runtime, body: str) -> None:
    answer = runtime.request("POST", "/ratings", body)
    assert 400 <= answer.status < 500
    assert_problem(answer, answer.status)
    assert "Traceback" not in answer.body.decode(errors="replace")


def test_malformed_ratings_count_nothing(runtime: Runtime) -> None:
    # Given the talk's histogram now
    before = histogram(runtime, "flight-of-the-gopher")
    # When every malformed body is posted, then one rating of 2
    for body in MALFORMED_RATINGS:
        assert runtime.request("POST", "/ratings", body).status < 500
    valid = {"talkId": "flight-of-the-gopher", "value": 2}
    assert runtime.request("POST", "/ratings", json.dumps(valid)).status == 202
    # Then once that rating is counted (after the bodies before it), it is all that changed
    expected = {**before, "2": before["2"] + 1}
    # (a malformed body counted would have been counted before it: no fixed wait after)
    assert wait_for(lambda: histogram(runtime, "flight-of-the-gopher") == expected)


def test_a_one_megabyte_body_is_refused_cleanly(runtime: Runtime) -> None:
    body = json.dumps({"talkId": "flight-of-the-gopher", "value": 3, "pad": "x" * 1_000_000})
    answer = runtime.request("POST", "/ratings", body)
    assert_problem(answer, 413)


def test_a_body_over_the_gateway_s_limit_is_refused_before_it_is_sent(runtime: Runtime) -> None:
    # Given a client that asks before sending 11 MB (Expect: 100-continue, as curl does)
    ask = (
        b"POST /ratings HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 11000000\r\nExpect: 100-continue\r\n\r\n"
    )
    status, _, body = raw_exchange(runtime, ask)
    # Then the answer is API Gateway's 413 at once, not a 100 Continue inviting the upload
    assert (status, body) == (413, b'{"message":"Request Entity Too Large"}')


def raw_exchange(runtime: Runtime, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send `request` as bytes on a new connection; the status, headers and body answered."""
    host, port = urlsplit(runtime.url).hostname, urlsplit(runtime.url).port
    with socket.create_connection((host, port), timeout=10) as connection:
        connection.sendall(request)
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = connection.recv(65536)
            if not chunk:
                break
            answer += chunk
        head, _, body = answer.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
        headers = {name.lower(): value for name, value in headers.items()}
        while len(body) < int(headers.get("content-length", "0")):
            chunk = connection.recv(65536)
            if not chunk:
                break
            body += chunk
    return int(lines[0].split()[1]), headers, body


RATING = json.dumps({"talkId": WORKSHOP_TALK, "value": 1}).encode()
METHODS = (b"get", b"Post", b"M-SEARCH", b"FOO1", b"TRACE")


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        # Lengths that disagree, and codings a proxy could read another way: refused, not guessed
        (
            b"POST /ratings HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\nContent-Length: 5\r\n\r\n" % len(RATING) + RATING,
            400,
        ),
        (
            b"POST /ratings HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: gzip, chunked\r\n\r\n%x\r\n"
            % len(RATING)
            + RATING
            + b"\r\n0\r\n\r\n",
            400,
        ),
        (
            b"POST /ratings HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\nContent-Length: %d\r\n\r\n%x\r\n"
            % (len(RATING), len(RATING))
            + RATING
            + b"\r\n0\r\n\r\n",
            400,
        ),
        # Sizes RFC 9112 does not write (1*DIGIT, 1*HEXDIG) that int() reads all the same: a
        # sign, a 0x, an underscore; a negative chunk size read the connection to its end
        *(
            (
                b"POST /ratings HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n" + size + b"\r\n" + RATING + b"\r\n0\r\n\r\n",
                400,
            )
            for size in (
                b"-1",
                b"0x%x" % len(RATING),
                b"%x_%x" % divmod(len(RATING), 16),
                b"+%x" % len(RATING),
            )
        ),
        (
            b"POST /ratings HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: +%d\r\n\r\n" % len(RATING) + RATING,
            400,
        ),
        # What the HTTP server itself refuses: a request line too long, an HTTP it cannot speak
        (b"GET /talks/" + b"a" * 100_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
        # (an HTTP version it cannot speak was 505: the client's request is malformed)
        (b"POST /ratings HTTP/2.0\r\nHost: x\r\nContent-Length: 0\r\n\r\n", 400),
        # A method no route declares is API Gateway's 404 whatever its letters (methods are
        # case-sensitive: "get" is not GET); these were http.server's 501
        *((b"%s /talks?limit=1 HTTP/1.1\r\nHost: x\r\n\r\n" % m, 404) for m in METHODS),
        # and what is not a method at all is a malformed request (was 501)
        (b"GE(T /talks?limit=1 HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    ],
    ids=[
        "content-lengths-disagree",
        "gzip-chunked",
        "chunked-and-length",
        "chunk-size-negative",
        "chunk-size-0x",
        "chunk-size-underscore",
        "chunk-size-plus",
        "content-length-plus",
        "uri-too-long",
        "http-2",
        *(f"method-{m.decode()}" for m in METHODS),
        "method-not-a-token",
    ],
)
def test_the_gateway_refuses_framing_it_cannot_trust_in_its_own_json(
    runtime: Runtime, request_bytes: bytes, status: int
) -> None:
    answered, headers, body = raw_exchange(runtime, request_bytes)
    # Then the gateway answers as API Gateway answers its own errors: JSON with a message
    assert answered == status, body[:200]
    assert headers["content-type"] == "application/json"
    assert set(json.loads(body)) == {"message"}


def test_control_characters_in_a_path_reach_the_runtime_s_output_escaped(
    runtime: Runtime,
) -> None:
    # Given a request whose path carries raw terminal escapes and a NUL (a forged access line
    # that erases the real one, then hides what follows)
    marker = unique_talk_id("esc")
    # (cursor moves for spaces: a request line has three parts)
    forged = b"\x1b[2K\x1b[1G[gateway]\x1b[1CPOST\x1b[1C/ratings\x1b[1C202\x1b[8m\x00"
    answered, _, _ = raw_exchange(
        runtime, b"GET /talks/%s%s HTTP/1.1\r\nHost: x\r\n\r\n" % (marker.encode(), forged)
    )
    assert answered in (400, 404)
    # Then its access line says them escaped: no control character reaches the output
    assert runtime.log is not None
    assert wait_for(lambda: marker.encode() in runtime.log.read_bytes())
    line = next(x for x in runtime.log.read_bytes().splitlines() if marker.encode() in x)
    assert b"\x1b" not in line
    assert b"\x00" not in line
    assert b"/talks/" + marker.encode() + b"\\x1b[2K\\x1b[1G[gateway]" in line


def test_get_ratings_without_a_talk_id_is_400(runtime: Runtime) -> None:
    assert_problem(runtime.request("GET", "/ratings"), 400)
    assert_problem(runtime.request("GET", "/ratings?talkId="), 400)


def test_root_says_where_each_backend_is(runtime: Runtime) -> None:
    answer = runtime.request("GET", "/")
    assert answer.status == 200
    assert set(answer.json["metadata"]) == {"talks", "ratings", "streams", "ratings_lambda"}
    assert answer.json["backends"] == {"talks": "up", "ratings": "up", "streams": "up"}


def test_a_redelivered_batch_counts_once(runtime: Runtime, talk: str) -> None:
    # Given a batch of three ratings, as the Kafka event source would deliver it (from a topic of
    # its own, so the offsets it records never shadow the live "ratings" topic)
    topic = f"ratings-redelivery-{uuid.uuid4().hex[:8]}"
    event = kafka_event(ratings_batch(topic, 2, 7, [rating_event(talk, v) for v in (2, 2, 4)]))
    client = boto3.client(
        "lambda",
        endpoint_url=runtime.lambda_url,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    # When the projector gets it twice (a retried batch)
    results = [
        json.loads(
            client.invoke(FunctionName="ProjectorFunction", Payload=json.dumps(event).encode())[
                "Payload"
            ].read()
        )
        for _ in range(2)
    ]
    # Then the second delivery changes nothing
    assert [r["applied"] for r in results] == [3, 0]
    assert histogram(runtime, talk) == {"1": 0, "2": 2, "3": 0, "4": 1, "5": 0}


def test_ratings_without_stats_when_stats_function_is_unreachable(
    backends_env: dict[str, str], tmp_path: Path
) -> None:
    # Given a runtime whose ApiFunction reaches the Lambda API at a port where nothing listens
    env_vars = tmp_path / "env.json"
    env_vars.write_text(
        json.dumps({"ApiFunction": {"LAMBDA_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}"}})
    )
    degraded = start_runtime(backends_env, tmp_path / "runtime.log", ["--env-vars", str(env_vars)])
    try:
        # When the ratings of a talk are read
        answer = degraded.request("GET", f"/ratings?talkId={WORKSHOP_TALK}")
    finally:
        stop_runtime(degraded)
    # Then the histogram comes, without stats, and that is not an error
    assert answer.status == 200, answer.body
    assert set(answer.json["ratings"]) == {"1", "2", "3", "4", "5"}
    assert "stats" not in answer.json


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/", None),  # a route's answer
        ("POST", "/ratings", "{not json"),  # a problem
        ("GET", "/no/such/route", None),  # the gateway's own 404
        ("GET", "/app/", None),  # the web app
        ("GET", "/app/config.json", None),
    ],
)
def test_every_answer_carries_the_security_headers_the_deployed_edge_adds(
    runtime: Runtime, method: str, path: str, body: str | None
) -> None:
    # Given the headers CloudFront's response headers policy adds to every answer on AWS
    from talkrate_local.web_app import SECURITY_HEADERS

    # When the local runtime answers a route, a problem, its own 404 or the web app
    answer = runtime.request(method, path, body)
    # Then the answer carries each, once, as the deployed edge sends it
    assert answer.headers["x-content-type-options"] == "nosniff", answer.headers
    for name, value in SECURITY_HEADERS:
        assert answer.headers.get(name) == value, (name, answer.headers)
