"""Requests the API refuses before it reaches any backend: status, problem type and fields."""

from __future__ import annotations

import base64
import gzip
import io
import json
from typing import Annotated, Any
from urllib.parse import parse_qsl

import click
import pytest

from talkrate.api import build_app
from talkrate.api.errors import plain_message, problem_for
from talkrate.api.routing import Api, Query, Router
from tests.builders import ROOT, LambdaContextStub, http_event, load_function

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


@pytest.mark.parametrize(
    "media_type",
    [
        "application/x-www-form-urlencoded",  # what `curl --data-binary @/dev/null` sends
        "multipart/form-data; boundary=x",
        "text/plain",
        "application/json",
        "image/png",
    ],
)
def test_an_empty_body_is_400_whatever_its_label(media_type: str) -> None:
    # Given a rating posted with no body, labelled as a form, as text or as anything else
    event = http_event("POST", "/ratings", body="", headers={"content-type": media_type})
    # When it is posted
    status, problem = answer(event)
    # Then it is the contract's empty body, as it is unlabelled: not a form's missing fields,
    # not a label refused for a body that is not there
    assert (status, problem["type"]) == (400, problem_type("empty-body"))


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


def test_a_query_value_holding_an_ampersand_is_one_value_of_its_parameter() -> None:
    # Given a search text holding "&limit=5", sent percent-encoded as clients send it, beside a
    # limit out of range
    event = http_event("GET", "/talks", query={"limit": "0", "q": "R&limit=5"})
    # When it is sent
    status, problem = answer(event)
    # Then only the limit is wrong: the search text names no second limit
    assert status == 400
    assert [e["field"] for e in problem["errors"]] == ["limit"]
    assert problem["errors"][0]["message"] != "is given more than once"


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


NOT_UTF8 = "must be UTF-8 text: it holds percent-encoded bytes that are not"


def as_api_gateway_sends(event: dict[str, Any], raw_query: str) -> dict[str, Any]:
    """`event` with the query string a client sent: rawQueryString as it came, and
    queryStringParameters as API Gateway decodes it (bytes that are not UTF-8 as U+FFFD)."""
    event["rawQueryString"] = raw_query
    event["queryStringParameters"] = {}
    for name, value in parse_qsl(raw_query, keep_blank_values=True):
        known = event["queryStringParameters"].get(name)
        event["queryStringParameters"][name] = f"{known},{value}" if known else value
    return event


@pytest.mark.parametrize(
    ("path", "raw_query", "field"),
    [
        ("/talks", "q=%FF", "q"),
        ("/talks", "track=caf%C3", "track"),
        ("/talks", "limit=1%FF", "limit"),
        ("/talks", "q=fine%E4%B8&limit=5", "q"),  # a character cut short, beside another parameter
        ("/talks", "%71=%FF", "q"),  # its name percent-encoded
        ("/leaderboard", "track=%FF%FE", "track"),
        ("/ratings", "talkId=a-talk%FF", "talkId"),
        # A lone surrogate beside a percent sign (the gateway's JSON may carry \udcff): no
        # UTF-8 either, refused as such rather than failing the request
        ("/talks", "q=%FF\udcff", "q"),
        ("/talks", "q=%41\udcff", "q"),
        ("/leaderboard", "track=\udcff%20", "track"),
        ("/talks", "limit=5&q=\udcff", "q"),  # and without one
    ],
)
def test_query_bytes_that_are_not_utf8_are_400_naming_the_parameter(
    path: str, raw_query: str, field: str
) -> None:
    # Given a query parameter whose percent-encoded bytes are not UTF-8, which API Gateway
    # hands on as U+FFFD in queryStringParameters and as sent in rawQueryString
    event = as_api_gateway_sends(http_event("GET", path), raw_query)
    # When the API answers it
    status, problem = answer(event)
    # Then it is refused, naming the parameter in plain words, as a talk id's bad bytes are
    assert (status, problem["type"]) == (400, problem_type("validation"))
    assert problem["errors"] == [{"field": field, "message": NOT_UTF8}]


@pytest.mark.parametrize(
    ("event", "field"),
    [
        # An HTTP API hands the path decoded: bytes that are not UTF-8 come as U+FFFD
        (http_event("GET", "/talks/a-talk\ufffd"), "talkId"),
        (http_event("GET", "/ratings/\ufffd"), "eventId"),
        (http_event("DELETE", "/talks/\ufffd", authorizer={"admin": True}), "talkId"),
    ],
)
def test_path_bytes_that_are_not_utf8_are_400_naming_the_parameter(
    event: dict[str, Any], field: str
) -> None:
    status, problem = answer(event)
    assert status == 400
    assert problem["errors"] == [{"field": field, "message": NOT_UTF8}]


def test_a_replacement_character_sent_as_utf8_in_a_query_is_the_value_s_own() -> None:
    # Given a route that echoes a query parameter
    router = Router()

    @router.get("/echo", summary="Echo", responses={})
    def echo(q: Annotated[str, Query(min_length=1)]) -> dict[str, str]:
        return {"q": q}

    api = Api([router], problem_for)
    # When the parameter is U+FFFD itself, percent-encoded as UTF-8 (%EF%BF%BD)
    sent = as_api_gateway_sends(http_event("GET", "/echo"), "q=%EF%BF%BD")
    # Then it is read as it was sent: only undecodable bytes are refused
    answered = api.resolve(sent, None)
    assert (answered["statusCode"], json.loads(answered["body"])) == (200, {"q": "\ufffd"})
    # And the same character from bytes that are not UTF-8 is refused
    refused = api.resolve(as_api_gateway_sends(http_event("GET", "/echo"), "q=%EF%BF"), None)
    assert refused["statusCode"] == 400


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


ADMIN = {"admin": True}  # what the organisers' authorizer hands on for the admin token
# What a malformed talk id is told: the letters it takes named as such (an accented one is not)
TALK_ID_SAID = (
    "may hold letters a-z and A-Z (no accents), digits and ._:~- only, at most 200 characters, "
    "starting with a letter or digit"
)
# What a date-time no parser reads is told, whatever pydantic's reason
DATE_TIME_SAID = "must be an RFC 3339 date-time, e.g. 2026-12-06T10:00:00Z"


def query_event(method: str, path: str, raw_query: str, joined: dict[str, str]) -> dict[str, Any]:
    """An event whose query is as sent (`rawQueryString`) and as API Gateway's payload 2.0 hands
    it on (`queryStringParameters`: a parameter given more than once, its values joined by a
    comma)."""
    event = http_event(method, path, query=joined)
    event["rawQueryString"] = raw_query
    return event


@pytest.mark.parametrize(
    ("event", "errors"),
    [
        # The rating body (checked without pydantic): the workshop's shape, plain words
        (
            http_event("POST", "/ratings", body='{"talkId": "-x", "value": "5"}'),
            [
                {
                    "field": "talkId",
                    "message": TALK_ID_SAID,
                },
                {"field": "value", "message": "must be a whole number"},
            ],
        ),
        # An accented letter is not one a talk id takes, and is said not to be
        (
            http_event("POST", "/ratings", body='{"talkId": "t\u00e4lk", "value": 3}'),
            [{"field": "talkId", "message": TALK_ID_SAID}],
        ),
        (
            http_event("POST", "/ratings", body='{"talkId": 5, "value": 9}'),
            [
                {"field": "talkId", "message": "must be text"},
                {"field": "value", "message": "must be at most 5"},
            ],
        ),
        (
            http_event("POST", "/ratings", body='{"talkId": "a-talk", "value": 0}'),
            [{"field": "value", "message": "must be at least 1"}],
        ),
        (
            http_event(
                "POST",
                "/ratings",
                body='{"talkId": "a-talk", "value": 5}',
                headers={"idempotency-key": "has space"},
            ),
            [
                {
                    "field": "idempotency-key",
                    "message": "may hold printable ASCII characters only, without spaces",
                }
            ],
        ),
        (
            http_event("POST", "/ratings", body='{"talkId": "\\ud800", "value": 5}'),
            [{"field": "body", "message": "must be Unicode text (it holds an unpaired surrogate)"}],
        ),
        (
            http_event("POST", "/voters", body='{"code": 1234}'),
            [{"field": "code", "message": "must be text"}],
        ),
        # Ids and numbers in the path and the query
        (
            http_event("GET", "/ratings", query={"talkId": "a/b"}),
            [
                {
                    "field": "talkId",
                    "message": TALK_ID_SAID,
                }
            ],
        ),
        (
            http_event("GET", "/talks/-x"),
            [
                {
                    "field": "talkId",
                    "message": TALK_ID_SAID,
                }
            ],
        ),
        (
            http_event("GET", "/talks/caf\u00e9-keynote"),
            [{"field": "talkId", "message": TALK_ID_SAID}],
        ),
        # A parameter given twice, however its values read joined (API Gateway's comma)
        (
            query_event("GET", "/ratings", "talkId=a&talkId=b", {"talkId": "a,b"}),
            [{"field": "talkId", "message": "is given more than once"}],
        ),
        (
            query_event("GET", "/talks", "limit=5&limit=6", {"limit": "5,6"}),
            [{"field": "limit", "message": "is given more than once"}],
        ),
        (
            query_event("GET", "/talks", "q=a&q=&offset=1", {"q": "a,", "offset": "1"}),
            [{"field": "q", "message": "is given more than once"}],
        ),
        (
            query_event("GET", "/leaderboard", "limit=5&limit=5", {"limit": "5,5"}),
            [{"field": "limit", "message": "is given more than once"}],
        ),
        # Given once, a comma in a value is the value's own
        (
            query_event("GET", "/ratings", "talkId=a%2Cb", {"talkId": "a,b"}),
            [{"field": "talkId", "message": TALK_ID_SAID}],
        ),
        (
            http_event("GET", "/ratings/not-a-uuid"),
            [{"field": "eventId", "message": "must be a UUID"}],
        ),
        (
            http_event("GET", "/talks", query={"limit": "ten", "offset": "-1", "q": "a\tb"}),
            [
                {"field": "q", "message": "cannot hold line breaks or other control characters"},
                {"field": "limit", "message": "must be a whole number"},
                {"field": "offset", "message": "must be at least 0"},
            ],
        ),
        (
            http_event("GET", "/leaderboard", query={"limit": "1000", "track": "a\nb"}),
            [
                {"field": "limit", "message": "must be at most 100"},
                {
                    "field": "track",
                    "message": "cannot hold line breaks or other control characters",
                },
            ],
        ),
        (
            http_event("DELETE", "/talks/a-talk", headers={"if-match": "3"}, authorizer=ADMIN),
            [
                {
                    "field": "if-match",
                    "message": 'must be * or entity tags in double quotes, such as "3" or '
                    'W/"3", separated by commas',
                }
            ],
        ),
        # The organisers' talk bodies (checked by pydantic)
        (
            http_event(
                "POST",
                "/talks",
                body='{"id": "-x", "title": null, "speakers": "one", "track": true}',
                authorizer=ADMIN,
            ),
            [
                {"field": "title", "message": "must be text"},
                {"field": "speakers", "message": "must be a list"},
                {"field": "track", "message": "must be text"},
                {
                    "field": "id",
                    "message": TALK_ID_SAID,
                },
            ],
        ),
        (
            http_event(
                "POST",
                "/talks",
                body='{"id": "a-talk", "title": "T", "speakers": ["Ada", 7], "revision": 3, '
                '"startsAt": "2026-13-01T10:00:00Z"}',
                authorizer=ADMIN,
            ),
            [
                {"field": "speakers.1", "message": "each name must be text"},
                {"field": "startsAt", "message": DATE_TIME_SAID},
                {"field": "revision", "message": "is not a field an organiser sets"},
            ],
        ),
        # An hour, a minute or an offset out of range, which pydantic's reason misnames
        *(
            (
                http_event(
                    "PUT",
                    "/talks/a-talk",
                    body=json.dumps({"title": "T", "startsAt": starts_at}),
                    authorizer=ADMIN,
                ),
                [{"field": "startsAt", "message": DATE_TIME_SAID}],
            )
            for starts_at in (
                "2026-12-06T25:00:00Z",
                "2026-12-06T10:61:00Z",
                "2026-12-06T10:00:00+25:00",
                "2026-02-30T10:00:00Z",
            )
        ),
        (
            http_event(
                "PUT",
                "/talks/a-talk",
                body='{"id": "a-talk", "title": "T"}',
                authorizer=ADMIN,
            ),
            [{"field": "id", "message": "goes in the address (/talks/<id>), not in the body"}],
        ),
    ],
    ids=lambda value: value["routeKey"] if isinstance(value, dict) else None,
)
def test_field_errors_say_in_plain_words_what_the_field_takes(
    event: dict[str, Any], errors: list[dict[str, str]]
) -> None:
    # Given a request whose fields are of the wrong type, form or range, or unknown
    # When the API answers it
    status, problem = answer(event)
    # Then each field's refusal is in words an organiser or a client's author reads, never the
    # validator's ("Input should be a valid string") nor a regular expression
    assert status in (400, 422)
    assert problem["errors"] == errors


def declared_patterns() -> set[str]:
    """Every pattern a request's parameter or body field is checked against: the routes' own,
    and those of the bodies' models (the organisers' talks, the rating and the voter)."""
    from talkrate.models import NewTalk, RatingRequest, TalkFields, VoterRequest

    found = {
        param.constraints["pattern"]
        for route in build_app().routes
        for _, _, param in route.params()
        if param is not None and "pattern" in param.constraints
    }

    def walk(schema: Any) -> None:
        if isinstance(schema, dict):
            if isinstance(schema.get("pattern"), str):
                found.add(schema["pattern"])
            for value in schema.values():
                walk(value)
        elif isinstance(schema, list):
            for value in schema:
                walk(value)

    for model in (NewTalk, TalkFields, RatingRequest, VoterRequest):
        walk(model.model_json_schema())
    return found


def test_every_pattern_a_request_is_checked_against_has_plain_words() -> None:
    from talkrate.api.errors import UNKNOWN_FORM

    # Given every pattern a route or a body's model declares
    patterns = declared_patterns()
    assert len(patterns) >= 5  # talk ids, printable text, talk texts, two headers
    for pattern in patterns:
        # When a value does not match it, as pydantic and talkrate.requests both say it
        said = plain_message("field", f"String should match pattern '{pattern}'")
        # Then the message says what the field takes in words of its own, not the expression
        assert "should match" not in said, (pattern, said)
        assert pattern not in said, (pattern, said)
        assert said != UNKNOWN_FORM, pattern


def test_the_api_says_what_a_talk_id_holds_in_the_words_of_the_command_line_and_the_page() -> None:
    # Given the command line's and the organisers' import's own refusals of a malformed id
    import talkrate_cli.main  # noqa: F401 (the commands' modules are loaded by it)
    from talkrate_cli.commands.reading import TALK
    from talkrate_cli.programme import BadRows, read_rows

    with pytest.raises(click.BadParameter) as refused:
        TALK.convert("caf\u00e9-keynote", None, None)
    with pytest.raises(BadRows) as imported:
        read_rows(io.StringIO("id,title\ncaf\u00e9-keynote,Keynote\n"))
    page_import = (ROOT / "web" / "js" / "programme-file.js").read_text()
    # When the API refuses one
    _, problem = answer(http_event("GET", "/talks/caf\u00e9-keynote"))
    said = problem["errors"][0]["message"]
    # Then it says what a talk id holds as they do, word for word
    assert said == TALK_ID_SAID
    assert refused.value.message == f"'caf\u00e9-keynote' is not a talk id: it {said}"
    assert [str(p) for p in imported.value.problems] == [
        f"line 2: id 'caf\u00e9-keynote' is not one a talk can have: it {said}"
    ]
    assert f"is not one a talk can have: it {said}`" in page_import
