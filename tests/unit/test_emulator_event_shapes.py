"""Events as AWS shapes them where a function can tell: an HTTP API's decoded path, and a Kafka
record's header bytes as Lambda writes them (Java's signed bytes)."""

from __future__ import annotations

import pytest
from kafka.consumer.fetcher import ConsumerRecord
from kafka.structs import TopicPartition

from sam_emulator.apigw import (
    FORBIDDEN,
    INTERNAL_ERROR,
    NOT_FOUND,
    TOO_LARGE,
    UNAUTHORIZED,
    HttpRequest,
    RouteMatch,
    build_event,
    map_response,
)
from sam_emulator.events.kafka import build_kafka_event
from sam_emulator.template import Route
from talkrate.projection import records_from_event

pytestmark = pytest.mark.unit


def test_an_http_api_hands_the_function_its_path_decoded_and_its_query_as_sent() -> None:
    request = HttpRequest(
        method="GET",
        raw_path="/talks/a%3Ab%20c",
        raw_query="q=a%20b",
        headers=[("Host", "127.0.0.1:3000")],
        body=b"",
        source_ip="127.0.0.1",
    )
    route = RouteMatch(Route("AppFunction", "GET", "/talks/{talkId}"), {"talkId": "a:b c"})
    event = build_event(request, route, "r1")
    assert event["rawPath"] == event["requestContext"]["http"]["path"] == "/talks/a:b c"
    assert event["rawQueryString"] == "q=a%20b"
    assert event["pathParameters"] == {"talkId": "a:b c"}


def test_an_http_api_hands_a_repeated_query_parameter_on_joined_by_a_comma() -> None:
    # API Gateway's payload 2.0 joins a parameter's values with a comma; the query as sent stays
    # in rawQueryString, where the API tells talkId=a&talkId=b from talkId=a%2Cb
    request = HttpRequest(
        method="GET",
        raw_path="/ratings",
        raw_query="talkId=a&talkId=b&limit=a%2Cb",
        headers=[("Host", "127.0.0.1:3000")],
        body=b"",
        source_ip="127.0.0.1",
    )
    event = build_event(request, RouteMatch(Route("AppFunction", "GET", "/ratings"), {}), "r1")
    assert event["queryStringParameters"] == {"talkId": "a,b", "limit": "a,b"}
    assert event["rawQueryString"] == "talkId=a&talkId=b&limit=a%2Cb"


def test_an_http_api_hands_header_values_without_the_spaces_around_them() -> None:
    # RFC 9110: the whitespace around a field value is not part of it; http.server keeps the
    # trailing spaces, which made a pasted voter token with a space after it a 401
    request = HttpRequest(
        method="POST",
        raw_path="/ratings",
        raw_query="",
        headers=[
            ("Host", "127.0.0.1:3000"),
            ("Voter-Token", "v1.abc \t"),
            ("X-A", "1 "),
            ("x-a", " 2"),
        ],
        body=b"",
        source_ip="127.0.0.1",
    )
    event = build_event(request, RouteMatch(Route("AppFunction", "POST", "/ratings"), {}), "r1")
    assert event["headers"]["voter-token"] == "v1.abc"
    assert event["headers"]["x-a"] == "1,2"


def test_kafka_header_bytes_are_signed_as_lambda_writes_them_and_talkrate_reads_them() -> None:
    record = ConsumerRecord(
        topic="ratings",
        partition=0,
        leader_epoch=0,
        offset=7,
        timestamp=1_795_255_200_000,
        timestamp_type=0,
        key=b"t-1",
        value=b"{}",
        headers=[("correlation-id", "é1".encode())],
        checksum=None,
        serialized_key_size=3,
        serialized_value_size=2,
        serialized_header_size=17,
    )
    event = build_kafka_event({TopicPartition("ratings", 0): [record]}, "127.0.0.1:9092")
    [delivered] = event["records"]["ratings-0"]
    assert delivered["headers"] == [{"correlation-id": [-61, -87, 49]}]
    [read] = records_from_event(event)
    assert read.correlation_id == "é1"


def test_the_gateway_s_own_answers_are_compact_json_as_api_gateway_writes_them() -> None:
    # API Gateway's own 404 is `{"message":"Not Found"}` (23 bytes), lower-case content-type
    assert NOT_FOUND.body == b'{"message":"Not Found"}'
    assert NOT_FOUND.headers == [("content-type", "application/json")]
    assert TOO_LARGE.body == b'{"message":"Request Entity Too Large"}'
    assert UNAUTHORIZED.body == b'{"message":"Unauthorized"}'
    assert FORBIDDEN.body == b'{"message":"Forbidden"}'
    assert INTERNAL_ERROR.body == b'{"message":"Internal Server Error"}'


@pytest.mark.parametrize(
    "response",
    [
        {"statusCode": 200, "headers": [["x-a", "1"]], "body": "ok"},
        {"statusCode": 200, "cookies": "session=abc", "body": "ok"},
        {"statusCode": 200, "cookies": [{"session": "abc"}], "body": "ok"},
        {"statusCode": 200, "multiValueHeaders": {"x-a": "abc"}, "body": "ok"},
        {"statusCode": 200, "headers": {"x-a": ["1", "2"]}, "body": "ok"},
    ],
    ids=["headers-list", "cookies-string", "cookie-object", "multi-value-string", "value-list"],
)
def test_a_malformed_function_response_is_api_gateway_s_500(response: dict[str, object]) -> None:
    # Given a function whose response has a field of the wrong shape (a slip API Gateway
    # answers 500 for: locally a string of cookies became one Set-Cookie a character, and
    # headers as a list dropped the connection with a traceback)
    # When the gateway maps it, then the client gets API Gateway's 500
    assert map_response(response) == INTERNAL_ERROR


def test_a_well_formed_function_response_keeps_its_headers_and_cookies() -> None:
    response = {
        "statusCode": 201,
        "headers": {"content-type": "text/plain", "x-count": 2, "x-on": True, "x-gone": None},
        "cookies": ["a=1; Path=/", "b=2"],
        "body": "made",
    }
    mapped = map_response(response)
    assert mapped.status == 201
    assert mapped.headers == [
        ("content-type", "text/plain"),
        ("x-count", "2"),
        ("x-on", "true"),
        ("set-cookie", "a=1; Path=/"),
        ("set-cookie", "b=2"),
    ]
    assert mapped.body == b"made"
