"""An HttpApi Lambda authorizer in front of a route, through the local runtime."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from talkrate_local.launcher import launch, stop
from tests.e2e.conftest import Runtime

pytestmark = pytest.mark.e2e

TEMPLATE = """
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  Api:
    Type: AWS::Serverless::HttpApi
    Properties:
      Auth:
        Authorizers:
          Gate:
            FunctionArn: !GetAtt GateFunction.Arn
            AuthorizerPayloadFormatVersion: "2.0"
            EnableSimpleResponses: true
            Identity: {Headers: [X-Token]}
  GateFunction:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: gate/, Handler: app.handler, Runtime: python3.13}
  AppFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: app/
      Handler: app.handler
      Runtime: python3.13
      Events:
        Index: {Type: HttpApi, Properties: {ApiId: !Ref Api, Path: /, Method: GET}}
        Guarded:
          Type: HttpApi
          Properties: {ApiId: !Ref Api, Path: /guarded, Method: GET, Auth: {Authorizer: Gate}}
"""

GATE = """
def handler(event, context):
    token = event["identitySource"][0]
    return {"isAuthorized": token != "deny", "context": {"caller": token}}
"""

APP = """
import json


def handler(event, context):
    authorizer = event["requestContext"].get("authorizer") or {}
    return {"statusCode": 200, "body": json.dumps(authorizer)}
"""


def test_the_authorizer_decides_and_its_context_reaches_the_function(
    backends_env: dict[str, str], tmp_path: Path
) -> None:
    # Given a route guarded by a Lambda authorizer with an identity source
    (tmp_path / "template.yaml").write_text(TEMPLATE)
    for name, source in (("gate", GATE), ("app", APP)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "app.py").write_text(source)
    launched = launch(tmp_path / "template.yaml", backends_env, tmp_path / "runtime.log")
    runtime = Runtime(launched.url, launched.lambda_url, launched.process, launched.log)
    try:
        # Then without the identity source the gateway answers 401 itself
        assert runtime.request("GET", "/guarded").status == 401
        # And a refusal is 403
        assert runtime.request("GET", "/guarded", headers={"X-Token": "deny"}).status == 403
        # And an allowed request carries the authorizer's context to the function
        answer = runtime.request("GET", "/guarded", headers={"X-Token": "ada"})
        assert answer.status == 200
        assert json.loads(answer.body) == {"lambda": {"caller": "ada"}}
        # And an unguarded route does not call the authorizer
        assert json.loads(runtime.request("GET", "/").body) == {}
    finally:
        assert stop(runtime) == 0
    log = (tmp_path / "runtime.log").read_text()
    assert log.count("[GateFunction] START") == 2
