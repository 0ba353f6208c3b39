"""Function URLs in the local runtime: read from FunctionUrlConfig, and the event they send."""

from __future__ import annotations

import json

import pytest
from aws_lambda_powertools.utilities.data_classes import LambdaFunctionUrlEvent
from aws_lambda_powertools.utilities.parser.models import LambdaFunctionUrlModel

from sam_emulator.apigw import HttpRequest, build_function_url_event, function_url_id
from sam_emulator.template import load_template, parse_template_text
from tests.builders import ROOT

pytestmark = pytest.mark.unit

TEMPLATE = """
Transform: AWS::Serverless-2016-10-31
Resources:
  OpenFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: open/
      Handler: app.handler
      FunctionUrlConfig:
        AuthType: NONE
        InvokeMode: RESPONSE_STREAM
        Cors: {AllowOrigins: ["*"]}
"""


def request(body: bytes = b'{"ratings": {"5": 2}}') -> HttpRequest:
    return HttpRequest(
        method="POST",
        raw_path="/",
        raw_query="verbose=1",
        headers=[("Host", "127.0.0.1:3002"), ("Content-Type", "application/json")],
        body=body,
        source_ip="127.0.0.1",
    )


def test_the_template_function_url_is_served_locally() -> None:
    template = load_template(ROOT / "template.yaml")
    assert [(url.function_id, url.auth_type) for url in template.function_urls] == [
        ("StatsFunction", "AWS_IAM")
    ]
    assert not any("function URL" in note for note in template.notes)


def test_what_is_not_emulated_is_said() -> None:
    template = parse_template_text(TEMPLATE, ROOT)
    (url,) = template.function_urls
    assert (url.auth_type, url.invoke_mode) == ("NONE", "RESPONSE_STREAM")
    assert any("buffered" in note for note in template.notes)
    assert any("CORS" in note for note in template.notes)


def test_an_iam_function_url_event_is_what_powertools_expects() -> None:
    event = build_function_url_event(request(), "StatsFunction", "AWS_IAM", "req-1", now=1.0e9)
    LambdaFunctionUrlModel.model_validate(event)
    parsed = LambdaFunctionUrlEvent(event)
    assert parsed.route_key == "$default"
    assert parsed.request_context.stage == "$default"
    assert parsed.request_context.api_id == function_url_id("StatsFunction")
    assert parsed.request_context.http.method == "POST"
    assert parsed.query_string_parameters == {"verbose": "1"}
    assert json.loads(parsed.decoded_body) == {"ratings": {"5": 2}}
    assert event["requestContext"]["authorizer"]["iam"]["accountId"]
    assert "pathParameters" not in event


def test_an_open_function_url_has_an_anonymous_caller() -> None:
    event = build_function_url_event(request(), "OpenFunction", "NONE", "req-2")
    LambdaFunctionUrlModel.model_validate(event)
    assert event["requestContext"]["accountId"] == "anonymous"
    assert "authorizer" not in event["requestContext"]


def test_url_ids_are_stable_and_distinct() -> None:
    assert function_url_id("StatsFunction") == function_url_id("StatsFunction")
    assert function_url_id("StatsFunction") != function_url_id("OpenFunction")
    assert len(function_url_id("StatsFunction")) == 32


def test_a_function_url_hands_the_function_its_path_as_sent() -> None:
    # Given a client's path with percent-encoded characters (an encoded slash among them)
    sent = HttpRequest(
        method="GET",
        raw_path="/files/a%2Fb%20c",
        raw_query="q=a%20b",
        headers=[("Host", "127.0.0.1:3002")],
        body=b"",
        source_ip="127.0.0.1",
    )
    # When a function URL turns it into its event
    event = build_function_url_event(sent, "StatsFunction", "NONE", "req-3")
    # Then the path is still encoded, as a function URL hands it (an HTTP API decodes it)
    assert event["rawPath"] == event["requestContext"]["http"]["path"] == "/files/a%2Fb%20c"
    assert event["rawQueryString"] == "q=a%20b"
