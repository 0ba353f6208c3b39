"""Requests the API refuses before it reaches any backend: status, problem type and fields."""

from __future__ import annotations

import base64
import gzip
import json
from typing import Any

import pytest

from tests.builders import LambdaContextStub, http_event, load_function

pytestmark = pytest.mark.unit


def answer(event: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    response = load_function("api")(event, LambdaContextStub("api"))
    assert response["headers"]["Content-Type"] == "application/problem+json"
    return response["statusCode"], json.loads(response["body"])


def problem_type(slug: str) -> str:
    return f"urn:talkrate:problem:{slug}"


@pytest.mark.parametrize(
    ("event", "status", "slug"),
    [
        (http_event("GET", "/nowhere"), 404, "not-found"),
        (http_event("PATCH", "/ratings"), 405, "method-not-allowed"),
        (http_event("POST", "/ratings"), 400, "empty-body"),
        (http_event("POST", "/ratings", body="{"), 400, "malformed-json"),
        (http_event("POST", "/ratings", body="[]"), 400, "malformed-body"),
        (
            http_event("POST", "/ratings", body='[{"talkId": "t", "value": 5}]'),
            400,
            "malformed-body",
        ),
        (http_event("POST", "/ratings", body='"5"'), 400, "malformed-body"),
        # Nested deeper than the JSON parser's stack
        (http_event("POST", "/ratings", body="[" * 16_000), 400, "malformed-json"),
        # Numbers longer than Python reads (4,300 digits) are well-formed JSON: out of range
        (
            http_event("POST", "/ratings", body='{"talkId": "t", "value": ' + "9" * 5000 + "}"),
            422,
            "validation",
        ),
        (
            http_event("POST", "/ratings", body='{"talkId": "t", "value": -' + "9" * 5000 + "}"),
            422,
            "validation",
        ),
        (
            http_event("POST", "/ratings", body='{"talkId": ' + "1" * 5000 + ', "value": 5}'),
            422,
            "validation",
        ),
        (http_event("POST", "/voters", body="{" * 16_000), 400, "malformed-json"),
        # A lone surrogate: a str that cannot be encoded as UTF-8
        (http_event("POST", "/ratings", body="\ud800"), 400, "malformed-json"),
        (
            http_event("POST", "/ratings", body="<a/>", headers={"content-type": "text/xml"}),
            415,
            "unsupported-media-type",
        ),
        (http_event("POST", "/talks", body="{}"), 401, "unauthenticated"),
        (
            http_event("DELETE", "/talks/x", authorizer={"reason": "invalid-token"}),
            403,
            "forbidden",
        ),
    ],
)
def test_unreadable_or_unauthorised_requests_get_their_problem(
    event: dict[str, Any], status: int, slug: str
) -> None:
    # Given a request that cannot be served, When the API answers
    answered, body = answer(event)
    # Then with the status and problem type a client can act on
    assert (answered, body["type"], body["status"]) == (status, problem_type(slug), status)


def test_invalid_body_fields_are_422_with_each_field() -> None:
    # Given a rating as a string, out of range, for an invalid talk id
    event = http_event("POST", "/ratings", body='{"talkId": "-x", "value": "5"}')
    # When it is posted
    status, body = answer(event)
    # Then 422 names both fields
    assert status == 422
    assert body["type"] == problem_type("validation")
    assert [e["field"] for e in body["errors"]] == ["talkId", "value"]


@pytest.mark.parametrize(
    "labels",
    [
        {"content-type": "application/merge-patch+json"},
        {"content-type": "application/vnd.api+json; charset=utf-8"},
        {"content-type": "text/plain"},
        {"content-encoding": "identity"},
    ],
)
def test_a_body_labelled_as_any_json_is_read_as_json(labels: dict[str, str]) -> None:
    # Given a rating whose JSON body is labelled with a structured `+json` type (RFC 6839), as
    # text (as `curl -d` and some HTTP libraries label it), or as sent as it is
    event = http_event("POST", "/ratings", body='{"talkId": "-x", "value": "5"}', headers=labels)
    # When it is posted
    status, body = answer(event)
    # Then it was read (its fields judged), not refused for its label
    assert status == 422, body
    assert [e["field"] for e in body["errors"]] == ["talkId", "value"]


def test_a_compressed_body_is_refused_naming_the_encodings_taken() -> None:
    # Given a rating sent gzipped (API Gateway hands it over base64, as any binary body)
    raw = gzip.compress(b'{"talkId": "flight-of-the-gopher", "value": 5}')
    event = http_event(
        "POST",
        "/ratings",
        body=base64.b64encode(raw).decode(),
        headers={"content-encoding": "gzip"},
    )
    event["isBase64Encoded"] = True
    # When it is posted
    response = load_function("api")(event, LambdaContextStub("api"))
    # Then 415 in the documented shape, saying which encoding the API takes (RFC 7694)
    assert response["statusCode"] == 415
    assert response["headers"]["Accept-Encoding"] == "identity"
    body = json.loads(response["body"])
    assert body["type"] == problem_type("unsupported-content-encoding")
    assert "gzip" in body["detail"]


@pytest.mark.parametrize("voter", ['"someone-else"', "null", "42"])
def test_a_voter_id_in_the_body_is_refused_pointing_at_voter_tokens(voter: str) -> None:
    # Given a rating naming its voter in the body, as the workshop's clients did
    body = '{"talkId": "flight-of-the-gopher", "value": 1, "voterId": ' + voter + "}"
    # When it is posted
    status, problem = answer(http_event("POST", "/ratings", body=body))
    # Then 422, on that field, saying where an attendee's identity comes from now
    assert status == 422
    assert [e["field"] for e in problem["errors"]] == ["voterId"]
    assert "Voter-Token" in problem["errors"][0]["message"]
    assert "POST /voters" in problem["errors"][0]["message"]


def test_a_bad_query_parameter_is_400_naming_it() -> None:
    # Given GET /ratings without talkId, and GET /talks with limits out of range
    missing = http_event("GET", "/ratings")
    out_of_range = http_event("GET", "/talks", query={"limit": "0", "offset": "-1"})
    # When they are sent
    (missing_status, missing_body), (range_status, range_body) = (
        answer(missing),
        answer(out_of_range),
    )
    # Then both are 400 and name the parameters
    assert (missing_status, range_status) == (400, 400)
    assert missing_body["errors"] == [{"field": "talkId", "message": "is required"}]
    assert [e["field"] for e in range_body["errors"]] == ["limit", "offset"]


def test_a_bad_header_and_a_bad_body_are_400_header_first() -> None:
    # Given a malformed Idempotency-Key with an invalid rating
    event = http_event(
        "POST",
        "/ratings",
        body='{"talkId": "a-talk", "value": 9}',
        headers={"idempotency-key": "has space"},
    )
    # When it is posted
    status, body = answer(event)
    # Then 400 (not only the body is wrong), the header listed before the body field
    assert status == 400
    assert [e["field"] for e in body["errors"]] == ["idempotency-key", "value"]


def test_a_bad_path_parameter_is_400() -> None:
    # Given a rating status asked for with something that is not an event id
    status, body = answer(http_event("GET", "/ratings/not-a-uuid"))
    # Then 400 names eventId
    assert status == 400
    assert [e["field"] for e in body["errors"]] == ["eventId"]


def raw_answer(event: dict[str, Any]) -> dict[str, Any]:
    response: dict[str, Any] = load_function("api")(event, LambdaContextStub("api"))
    return response


@pytest.mark.parametrize(
    "event",
    [
        http_event("GET", "/nope"),
        http_event("GET", "/ratingz"),
        http_event("GET", "/ratings/"),  # no slash redirect: another path
        http_event("GET", "/talks/a/b"),
        http_event("DELETE", "/no/such/thing"),
        # A line break after a route's path (`%0A`, decoded): another path, whatever a regular
        # expression's `$` would let through
        http_event("GET", "/ratings\n"),
        http_event("POST", "/voters\n"),
        http_event("GET", "/organiser\n", authorizer={"admin": True}),
        # What the body would be refused for is a route's business, and there is none
        http_event("POST", "/nope", body="<a/>", headers={"content-type": "text/xml"}),
        http_event("PUT", "/nope", body="x" * 20_000),
        http_event("PATCH", "/nope", body="{"),
    ],
    ids=lambda event: event["routeKey"],
)
def test_a_path_no_route_has_is_a_problem_404(event: dict[str, Any]) -> None:
    # Given a request for a path the API does not have, When the API answers
    response = raw_answer(event)
    # Then 404 as problem+json, like every other error, and no method is offered
    assert response["statusCode"] == 404
    assert response["headers"]["Content-Type"] == "application/problem+json"
    assert "Allow" not in response["headers"]
    problem = json.loads(response["body"])
    assert problem["type"] == problem_type("not-found")
    assert {"type", "title", "status", "detail"} <= set(problem)


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("DELETE", "/ratings", "GET, HEAD, POST"),
        ("PUT", "/voters", "POST"),
        ("GET", "/voters", "POST"),
        ("HEAD", "/voters", "POST"),  # HEAD is GET's: not where GET is not
        ("POST", "/leaderboard", "GET, HEAD"),
        ("DELETE", "/", "GET, HEAD"),
        ("PATCH", "/talks/flight-of-the-gopher", "DELETE, GET, HEAD, PUT"),
        ("DELETE", "/ratings/5d0a6a4e-6a1c-4f5e-9a80-2f1f3c1c2b3a", "GET, HEAD"),
    ],
)
def test_a_method_a_path_does_not_take_is_405_naming_those_it_does(
    method: str, path: str, allow: str
) -> None:
    # Given a path the API has, asked with a method none of its routes takes
    response = raw_answer(http_event(method, path))
    # Then 405 with the Allow header RFC 9110 asks for, and a problem saying the same
    assert response["statusCode"] == 405
    assert response["headers"]["Allow"] == allow
    assert response["headers"]["Content-Type"] == "application/problem+json"
    assert response["headers"]["Cache-Control"] == "no-store"
    if method == "HEAD":
        assert response["body"] == ""
    else:
        problem = json.loads(response["body"])
        assert (problem["type"], problem["status"]) == (problem_type("method-not-allowed"), 405)
        assert allow in problem["detail"]


def test_an_organisers_path_with_another_method_is_405_before_any_token_or_body() -> None:
    # Given requests no organisers' route takes, without a token and with a broken body
    for method, path in (("DELETE", "/talks"), ("POST", "/talks/some-talk")):
        event = http_event(method, path, body="{")
        # When the API answers
        response = raw_answer(event)
        # Then it says which methods the path takes, not that a token or a body is missing
        assert response["statusCode"] == 405, response["body"]
        assert json.loads(response["body"])["type"] == problem_type("method-not-allowed")
