"""HttpApi Lambda authorizers in the local runtime: read from the template, verdicts as API
Gateway reads them, and the event the authorizer receives."""

from __future__ import annotations

import pytest
from aws_lambda_powertools.utilities.parser.models import ApiGatewayAuthorizerRequestV2

from sam_emulator.apigw import (
    HttpRequest,
    RouteMatch,
    authorizer_verdict,
    build_authorizer_event,
    build_event,
)
from sam_emulator.template import Route, load_template, parse_template_text
from tests.builders import ROOT

pytestmark = pytest.mark.unit

TEMPLATE = """
Transform: AWS::Serverless-2016-10-31
Resources:
  Api:
    Type: AWS::Serverless::HttpApi
    Properties:
      Auth:
        DefaultAuthorizer: Gate
        Authorizers:
          Gate:
            FunctionArn: !GetAtt GateFunction.Arn
            AuthorizerPayloadFormatVersion: "2.0"
            EnableSimpleResponses: true
            Identity: {Headers: [X-Token]}
          Jwt:
            JwtConfiguration: {issuer: "https://issuer.example", audience: [talkrate]}
            IdentitySource: $request.header.Authorization
  GateFunction:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: gate/, Handler: app.handler}
  AppFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: app/
      Handler: app.handler
      Events:
        Guarded: {Type: HttpApi, Properties: {ApiId: !Ref Api, Path: /guarded, Method: GET}}
        Open:
          Type: HttpApi
          Properties: {ApiId: !Ref Api, Path: /open, Method: GET, Auth: {Authorizer: NONE}}
        Token:
          Type: HttpApi
          Properties: {ApiId: !Ref Api, Path: /jwt, Method: GET, Auth: {Authorizer: Jwt}}
"""


def test_authorizers_and_the_routes_they_guard_are_read_from_the_template() -> None:
    template = parse_template_text(TEMPLATE, ROOT)
    gate = template.authorizers["Gate"]
    assert (gate.function_id, gate.simple_responses) == ("GateFunction", True)
    assert gate.identity_sources == ("$request.header.X-Token",)
    guards = {route.path: route.authorizer for route in template.routes}
    assert guards == {"/guarded": "Gate", "/open": None, "/jwt": None}
    assert any("JWT" in note for note in template.notes)
    assert any("Jwt is not checked locally" in note for note in template.notes)


def test_the_admin_routes_of_the_template_are_guarded() -> None:
    template = load_template(ROOT / "template.yaml")
    guarded = {route.route_key for route in template.routes if route.authorizer}
    assert "POST /talks" in guarded
    assert "GET /ratings" not in guarded


def test_simple_and_policy_verdicts() -> None:
    assert authorizer_verdict({"isAuthorized": True, "context": {"a": 1}}, True) == (True, {"a": 1})
    assert authorizer_verdict({"isAuthorized": "yes"}, True) == (False, {})
    allow = {"policyDocument": {"Statement": [{"Effect": "Allow", "Action": "execute-api:Invoke"}]}}
    deny = {"policyDocument": {"Statement": [{"Effect": "Deny", "Action": "execute-api:Invoke"}]}}
    assert authorizer_verdict(allow, False)[0]
    assert not authorizer_verdict(deny, False)[0]
    assert not authorizer_verdict(None, True)[0]


def test_the_authorizer_event_is_the_request_event_of_api_gateway() -> None:
    request = HttpRequest(
        method="GET",
        raw_path="/guarded",
        raw_query="",
        headers=[("Host", "127.0.0.1:3000"), ("X-Token", "t0k3n")],
        body=b"",
        source_ip="127.0.0.1",
    )
    event = build_event(request, RouteMatch(Route("AppFunction", "GET", "/guarded"), {}), "r1")
    authorizer_event, complete = build_authorizer_event(event, ["$request.header.X-Token"])
    assert complete
    ApiGatewayAuthorizerRequestV2.model_validate(authorizer_event)
    assert authorizer_event["identitySource"] == ["t0k3n"]
    assert authorizer_event["routeArn"].endswith("/$default/GET/guarded")
    _, complete = build_authorizer_event(event, ["$request.header.Authorization"])
    assert not complete
