"""talkrate.requests (the API's checks without pydantic) held against the pydantic models and
types they follow: the same bodies taken, the same values read, the same errors reported."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from typing import Annotated, Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import Field, TypeAdapter, ValidationError

from talkrate.events import MAX_TALK_ID_LENGTH, TALK_ID_PATTERN
from talkrate.models import NewTalk, RatingRequest, VoterRequest
from talkrate.requests import (
    Invalid,
    RatingBody,
    VoterBody,
    check_integer,
    check_text,
    check_uuid,
    checker,
)
from tests.builders import ROOT

pytestmark = pytest.mark.unit


def _errors(errors: list[dict[str, Any]]) -> list[tuple[str, tuple[Any, ...], str]]:
    return [(e["type"], tuple(e["loc"]), e["msg"]) for e in errors]


def _by_model(model: Any, body: Any) -> tuple[Any, list[tuple[str, tuple[Any, ...], str]]]:
    try:
        return model.model_validate(body), []
    except ValidationError as error:
        return None, _errors(error.errors())  # type: ignore[arg-type]


def _here(parse: Any, body: Any) -> tuple[Any, list[tuple[str, tuple[Any, ...], str]]]:
    try:
        return parse(body), []
    except Invalid as error:
        return None, _errors(error.errors)


json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-10, max_value=10)
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
)
talk_ids = (
    st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._:~-]{0,12}", fullmatch=True)
    | st.text(max_size=6)
    | st.just("t" * MAX_TALK_ID_LENGTH)
    | st.just("t" * (MAX_TALK_ID_LENGTH + 1))
    | st.just("talk-1\n")
)
field_values = (
    json_scalars
    | st.lists(json_scalars, max_size=2)
    | st.dictionaries(st.text(max_size=3), json_scalars, max_size=2)
)
rating_bodies = (
    st.fixed_dictionaries(
        {},
        optional={
            "talkId": talk_ids | field_values,
            "value": st.integers(min_value=-1, max_value=7) | field_values,
            "voterId": field_values,
            "other": field_values,
        },
    )
    | field_values
)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rating_bodies)
def test_a_rating_body_is_judged_here_as_the_model_judges_it(body: Any) -> None:
    # Given any JSON body, and how RatingRequest judges it
    model, model_errors = _by_model(RatingRequest, body)
    # When talkrate.requests judges it
    here, errors = _here(RatingBody.from_json, body)
    # Then the same errors, in the same order, or the same rating
    assert errors == model_errors
    if model is not None:
        assert (here.talk_id, here.value) == (model.talk_id, model.value)
        assert here.document() == model.model_dump(by_alias=True)


@settings(max_examples=300, deadline=None)
@given(
    st.fixed_dictionaries(
        {}, optional={"code": st.text(max_size=3) | st.just("c" * 201) | field_values}
    )
    | field_values
)
def test_a_voter_body_is_judged_here_as_the_model_judges_it(body: Any) -> None:
    model, model_errors = _by_model(VoterRequest, body)
    here, errors = _here(VoterBody.from_json, body)
    assert errors == model_errors
    if model is not None:
        assert here.code == model.code


def _adapter(kind: Any, **constraints: Any) -> TypeAdapter[Any]:
    return TypeAdapter(Annotated[kind, Field(**constraints)])


TEXT_RULES: list[dict[str, Any]] = [
    {"min_length": 1, "max_length": MAX_TALK_ID_LENGTH, "pattern": TALK_ID_PATTERN},
    {"min_length": 1, "max_length": 255, "pattern": r"^[\x21-\x7e]+$"},
    {"min_length": 1, "max_length": 100},
    {"min_length": 1, "max_length": 3},
]


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(TEXT_RULES),
    st.text(max_size=8) | talk_ids | st.lists(st.text(max_size=2), max_size=2),
)
def test_a_text_parameter_is_judged_here_as_pydantic_judges_it(
    rules: dict[str, Any], value: Any
) -> None:
    adapter = _adapter(str, **rules)
    try:
        expected: Any = adapter.validate_python(value)
        expected_errors: list[Any] = []
    except ValidationError as error:
        expected, expected_errors = None, _errors(error.errors())  # type: ignore[arg-type]
    here, errors = _here(check_text(**rules), value)
    assert errors == expected_errors
    assert here == expected


integer_texts = st.builds(
    lambda before, sign, digits, after: f"{before}{sign}{digits}{after}",
    st.sampled_from(["", " ", "\t", "\n "]),
    st.sampled_from(["", "+", "-"]),
    st.from_regex(r"[0-9]{1,6}", fullmatch=True) | st.just("9" * 40) | st.just("0" * 35 + "7"),
    st.sampled_from(["", " ", "\r\n"]),
)


@settings(max_examples=400, deadline=None)
@given(
    st.sampled_from([(1, 100), (0, 100_000), (None, None)]),
    integer_texts
    | st.text(max_size=6)
    | st.lists(st.just("5"), min_size=2, max_size=2)
    | st.sampled_from(["5.0", "1_0", "0x10", "1e2", "\uff15"]),
)
def test_an_integer_parameter_is_what_pydantic_reads_or_refused(
    bounds: tuple[int | None, int | None], value: Any
) -> None:
    ge, le = bounds
    adapter = _adapter(int, ge=ge, le=le)
    try:
        expected: Any = adapter.validate_python(value)
        expected_errors: list[Any] = []
    except ValidationError as error:
        expected, expected_errors = None, _errors(error.errors())  # type: ignore[arg-type]
    here, errors = _here(check_integer(ge, le), value)
    if isinstance(value, str) and integer_texts_match(value):
        # A decimal integer: read exactly as pydantic reads it (a number, or the same error)
        significant = value.strip().lstrip("+-").lstrip("0")
        if bounds == (None, None) and len(significant) > 30:
            # Unbounded and too long to be a limit or an offset: refused rather than read
            assert errors
            assert errors[0][0] == "int_parsing_size"
        else:
            assert (here, errors) == (expected, expected_errors)
    else:
        # Anything else: never a number pydantic would not read, never another number
        assert here is None or here == expected
        assert errors or not expected_errors


def integer_texts_match(value: str) -> bool:
    import re

    return re.fullmatch(r"[ \t\n\r]*[+-]?[0-9]+[ \t\n\r]*", value) is not None


def test_what_this_api_refuses_that_pydantic_read_is_written_down() -> None:
    # Numbers pydantic read leniently are 400s here: a limit is digits, not "5.0" or "1_0"
    for text in ("5.0", "1_0"):
        assert _adapter(int, ge=1, le=100).validate_python(text) in (5, 10)
        with pytest.raises(Invalid) as refused:
            check_integer(1, 100)(text)
        assert refused.value.errors[0]["type"] == "int_parsing"
    # A number too long to read is judged by its sign: over the bound, or under it
    with pytest.raises(Invalid) as big:
        check_integer(1, 100)("9" * 5000)
    assert big.value.errors[0]["type"] == "less_than_equal"
    with pytest.raises(Invalid) as small:
        check_integer(1, 100)("-" + "9" * 5000)
    assert small.value.errors[0]["type"] == "greater_than_equal"
    with pytest.raises(Invalid) as unbounded:
        check_integer()("9" * 5000)
    assert unbounded.value.errors[0]["type"] == "int_parsing_size"


@settings(max_examples=200, deadline=None)
@given(
    st.uuids().map(str)
    | st.uuids().map(lambda u: u.hex.upper())
    | st.uuids().map(lambda u: "{" + str(u) + "}")
    | st.uuids().map(lambda u: f"urn:uuid:{u}")
    | st.uuids().map(lambda u: "{" + str(u))
    | st.uuids().map(lambda u: str(u)[:-1] + "g")
    | st.uuids().map(lambda u: str(u).replace("-", "", 1))
    | st.uuids().map(lambda u: u.hex + "}")
    | st.uuids().map(lambda u: "{" + u.hex + "}")
    | st.uuids().map(lambda u: "urn:uuid:" + u.hex)
    | st.uuids().map(lambda u: "urn:uuid:{" + str(u) + "}")
    | st.uuids().map(lambda u: "URN:UUID:" + str(u))
    | st.text(max_size=40)
    | st.integers()
)
def test_a_uuid_parameter_is_read_as_pydantic_reads_it_or_refused(value: Any) -> None:
    try:
        expected: Any = TypeAdapter(uuid.UUID).validate_python(value)
    except ValidationError:
        expected = None
    here, errors = _here(check_uuid, value)
    assert here == expected
    assert bool(errors) == (expected is None)


def test_a_route_declaring_a_rule_talkrate_does_not_check_is_refused() -> None:
    with pytest.raises(TypeError, match="constraints talkrate does not check"):
        checker(str, {"min_length": 1, "strip_whitespace": True})
    with pytest.raises(ValueError, match="anchored"):
        checker(str, {"pattern": "[a-z]+"})
    with pytest.raises(TypeError, match="cannot check"):
        checker(float, {})


# The API's cold start and its usual routes: the handler module, then requests the routes check
# and answer without a backend (bad bodies, bad parameters, an unknown route).
_API_PATH = """
import json, sys
sys.path[:0] = [{layer!r}, {function!r}]
import app
from talkrate.api import handle

def event(method, path, body=None, query=None):
    return {{
        "version": "2.0", "rawPath": path, "rawQueryString": query or "",
        "queryStringParameters": dict(p.split("=") for p in query.split("&")) if query else None,
        "headers": {{"content-type": "application/json"}}, "body": body, "isBase64Encoded": False,
        "requestContext": {{"stage": "$default", "http": {{"method": method, "path": path,
        "sourceIp": "203.0.113.9"}}}},
    }}

answers = [
    handle(app.app, event("POST", "/ratings", json.dumps({{"talkId": "t-1", "value": 9}})), None),
    handle(app.app, event("POST", "/ratings", "[1]"), None),
    handle(app.app, event("POST", "/voters", json.dumps({{"code": ""}})), None),
    handle(app.app, event("GET", "/ratings", query="talkId=-bad"), None),
    handle(app.app, event("GET", "/ratings/not-a-uuid"), None),
    handle(app.app, event("GET", "/talks/-bad"), None),
    handle(app.app, event("GET", "/talks", query="limit=0"), None),
]
print(json.dumps([a["statusCode"] for a in answers]))
print(sorted(m for m in sys.modules if m.split(".")[0] in ("pydantic", "pydantic_core")))
"""


def test_the_api_loads_no_pydantic_to_start_or_to_check_a_request() -> None:
    code = _API_PATH.format(
        layer=str(ROOT / "layers" / "shared"), function=str(ROOT / "functions" / "api")
    )
    ran = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert ran.returncode == 0, ran.stderr
    statuses, modules = ran.stdout.strip().splitlines()
    assert json.loads(statuses) == [422, 400, 422, 400, 400, 400, 400]
    assert modules == "[]"


def test_every_routes_parameters_can_be_checked() -> None:
    # A route's checks are built at its first request: a rule talkrate does not check (or an
    # unanchored pattern) would answer 500 there. Built here for every route, admin ones included.
    from talkrate.api import build_app

    routes = build_app().routes
    built = {f"{route.method} {route.path}": len(route._parameters) for route in routes}
    assert len(built) == len(routes) == 12
    assert built["GET /organiser"] == 0  # the authorizer's verdict only
    assert built["POST /ratings"] == 3  # the body and two headers
    # the path, the body (by its pydantic model), If-Match and If-None-Match
    assert built["PUT /talks/<talkId>"] == 4


def test_a_talk_read_in_another_zone_is_answered_in_utc() -> None:
    # The catalog answers in its session's zone (a server whose TimeZone is not UTC); the API's
    # times, the rating window's close included, are RFC 3339 in UTC as they were with the model
    from datetime import datetime, timedelta, timezone

    from talkrate.api.talks import talk_document
    from talkrate.values import Talk

    zone = timezone(timedelta(hours=2))
    talk = Talk(
        "t-1",
        "A talk",
        [],
        starts_at=datetime(2026, 12, 1, 10, tzinfo=zone),
        ends_at=datetime(2026, 12, 1, 11, tzinfo=zone),
    )
    document = talk_document(talk)
    assert (document["startsAt"], document["endsAt"]) == (
        "2026-12-01T08:00:00Z",
        "2026-12-01T09:00:00Z",
    )
    assert document["ratingClosesAt"] == "2026-12-02T09:00:00Z"  # the end plus 24 h of grace


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (
            {"track": "a" * 150},
            {
                "type": "string_too_long",
                "loc": ("track",),
                "msg": "String should have at most 100 characters",
            },
        ),
        (
            {"room": "b" * 101},
            {
                "type": "string_too_long",
                "loc": ("room",),
                "msg": "String should have at most 100 characters",
            },
        ),
        (
            {"speakers": ["c" * 121]},
            {
                "type": "string_too_long",
                "loc": ("speakers", 0),
                "msg": "String should have at most 120 characters",
            },
        ),
        (
            {"title": "d" * 301},
            {
                "type": "string_too_long",
                "loc": ("title",),
                "msg": "String should have at most 300 characters",
            },
        ),
        # a list stays a list
        (
            {"speakers": ["e"] * 21},
            {
                "type": "too_long",
                "loc": ("speakers",),
                "msg": "List should have at most 20 items after validation, not 21",
            },
        ),
    ],
)
def test_a_talk_s_text_too_long_is_said_in_characters(
    body: dict[str, Any], error: dict[str, Any]
) -> None:
    # An organiser's too-long track was "Value should have at most 100 items after validation"
    check = checker(NewTalk, {})
    with pytest.raises(Invalid) as refused:
        check({"id": "t-1", "title": "A talk", **body})
    assert refused.value.errors == [error]
