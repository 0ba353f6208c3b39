"""Hot reload through the local runtime: an edit to a function takes effect on the next request,
and never cuts short a request already running."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from talkrate_local.launcher import launch, stop
from tests.e2e.conftest import Answer, Runtime

pytestmark = pytest.mark.e2e

TEMPLATE = """
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  EchoFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: echo/
      Handler: app.lambda_handler
      Runtime: python3.13
      Timeout: 10
      Events:
        Index:  # the launcher waits for GET / to answer
          Type: HttpApi
          Properties: {Path: /, Method: GET}
        Version:
          Type: HttpApi
          Properties: {Path: /version, Method: GET}
        Slow:
          Type: HttpApi
          Properties: {Path: /slow, Method: GET}
"""

HANDLER = """
import time

VERSION = {version!r}
BEGAN = {began!r}  # (a file the slow request makes as it begins, which the test waits for)


def lambda_handler(event, context):
    if event["rawPath"] == "/slow":
        open(BEGAN, "w").close()
        time.sleep(1.5)
    return {{"statusCode": 200, "body": VERSION}}
"""


def write_handler(app: Path, source: str, bump: int) -> None:
    app.write_text(source)
    # A later modification time than any before, whatever the file system's time resolution.
    stamp = time.time() + bump
    os.utime(app, (stamp, stamp))


def test_an_edit_takes_effect_on_the_next_request_and_spares_the_one_in_flight(
    backends_env: dict[str, str], tmp_path: Path
) -> None:
    # Given a function answering its version, served by the local runtime
    (tmp_path / "template.yaml").write_text(TEMPLATE)
    (tmp_path / "echo").mkdir()
    app = tmp_path / "echo" / "app.py"
    began = tmp_path / "slow-began"
    write_handler(app, HANDLER.format(version="one", began=str(began)), bump=0)
    launched = launch(tmp_path / "template.yaml", backends_env, tmp_path / "runtime.log")
    runtime = Runtime(launched.url, launched.lambda_url, launched.process, launched.log)
    try:
        assert runtime.request("GET", "/version").body == b"one"
        # When the code is edited while a slow request runs
        slow: list[Answer] = []
        thread = threading.Thread(target=lambda: slow.append(runtime.request("GET", "/slow")))
        thread.start()
        deadline = time.monotonic() + 20
        while not began.exists():  # (the slow request is running the first code)
            assert time.monotonic() < deadline, "the slow request did not begin"
            time.sleep(0.02)
        write_handler(app, HANDLER.format(version="two", began=str(began)), bump=2)
        # Then the next request runs the new code
        assert runtime.request("GET", "/version").body == b"two"
        # And the request in flight finished on the code it started with
        thread.join(timeout=10)
        assert slow[0].status == 200
        assert slow[0].body == b"one"
        # When an edit breaks the module, the next request fails like a failed init on Lambda
        write_handler(app, "def lambda_handler(event, context) return 1\n", bump=4)
        assert runtime.request("GET", "/version").status == 500
        # And the fix is picked up by the request after it
        write_handler(app, HANDLER.format(version="three", began=str(began)), bump=6)
        assert runtime.request("GET", "/version").body == b"three"
    finally:
        assert stop(runtime) == 0
    log = (tmp_path / "runtime.log").read_text()
    assert "[EchoFunction] reloading: " in log
    assert "Runtime.ImportModuleError" in log or "SyntaxError" in log
