"""The SAM emulator on its own: another project's template, with and without a dev stack."""

from __future__ import annotations

import json
import os
import socket
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from sam_emulator.docs_ui import DocsSite
from sam_emulator.events import Options
from sam_emulator.events.function_url import FunctionUrlServer
from sam_emulator.events.http_api import GatewayServer
from sam_emulator.lambda_.pool import Invocation
from sam_emulator.plugins import Services
from sam_emulator.runtime import Emulator
from sam_emulator.template import Template, load_template, parse_template_text
from sam_emulator.template.function_url import FunctionUrl
from talkrate_local.launcher import launch, stop

pytestmark = pytest.mark.e2e

TEMPLATE = """
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Globals:
  Function: {Runtime: python3.13, Timeout: 5}
Resources:
  HelloFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: hello/
      Handler: app.handler
      Environment: {Variables: {GREETING: from-template}}
      Events:
        Index: {Type: HttpApi, Properties: {Path: /, Method: GET}}
  ConsumerFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: hello/
      Handler: app.handler
      Events:
        Stream:
          Type: SelfManagedKafka
          Properties:
            Topics: [orders]
            SelfManagedEventSource: {Endpoints: {KafkaBootstrapServers: [broker:9092]}}
"""

HELLO = """
import json
import os


def handler(event, context):
    names = ("GREETING", "DATABASE_URL", "AWS_LAMBDA_FUNCTION_NAME")
    return {"statusCode": 200, "body": json.dumps({name: os.environ.get(name) for name in names})}
"""


def project(folder: Path) -> Path:
    (folder / "hello").mkdir()
    (folder / "hello" / "app.py").write_text(HELLO)
    (folder / "template.yaml").write_text(TEMPLATE)
    return folder / "template.yaml"


def get_json(url: str) -> object:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


class RecordingStack:
    """A dev stack with no services: it hands over an environment and records its calls."""

    def __init__(self, refusal: Exception | None = None) -> None:
        self.calls: list[str] = []
        self.lambda_endpoint = ""
        self.refusal = refusal

    def claim(self, template: Template) -> None:
        self.calls.append("claim")
        if self.refusal is not None:
            raise self.refusal

    def start(self, template: Template, lambda_endpoint: str) -> Services:
        self.calls.append("start")
        self.lambda_endpoint = lambda_endpoint
        return Services(
            environment={"DATABASE_URL": "postgresql://somewhere/db", "GREETING": "from-stack"},
            summary=("db       postgresql://somewhere/db  (the project's own)",),
        )

    def stop(self, within: float) -> None:
        self.calls.append("stop")

    def abandon(self) -> None:
        self.calls.append("abandon")


def test_without_a_dev_stack_the_template_runs_as_it_is(tmp_path: Path) -> None:
    # Given a project that is not talkrate, and no backend configured
    template = project(tmp_path)
    environment = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path)}
    # When `python -m sam_emulator` runs it
    runtime = launch(
        template, environment, tmp_path / "emulator.log", module="sam_emulator", inherit_env=False
    )
    try:
        # Then the route answers with the template's environment and what Lambda sets
        assert get_json(runtime.url + "/") == {
            "GREETING": "from-template",
            "DATABASE_URL": None,
            "AWS_LAMBDA_FUNCTION_NAME": "HelloFunction",
        }
    finally:
        assert stop(runtime) == 0
    # And the summary lists the Kafka mapping as not run, for want of a broker
    log = (tmp_path / "emulator.log").read_text()
    assert "route     GET /" in log
    assert "kafka     orders" in log
    assert "(not run: no Kafka broker configured)" in log


def test_an_edited_template_is_said_to_apply_from_the_next_start(tmp_path: Path) -> None:
    # Given the emulator running a template
    template = project(tmp_path)
    environment = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path)}
    log = tmp_path / "emulator.log"
    runtime = launch(template, environment, log, module="sam_emulator", inherit_env=False)
    try:
        # When the developer adds a route to it
        template.write_text(
            TEMPLATE.replace(
                "Index: {Type: HttpApi, Properties: {Path: /, Method: GET}}",
                "Index: {Type: HttpApi, Properties: {Path: /, Method: GET}}\n"
                "        Hello: {Type: HttpApi, Properties: {Path: /hello, Method: GET}}",
            )
        )
        # Then the runtime says it applies from the next start, instead of nothing at all
        deadline = time.monotonic() + 10
        while "changed: its routes" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert "template.yaml changed: its routes, triggers and settings apply from the next" in (
            log.read_text()
        )
    finally:
        assert stop(runtime) == 0


@pytest.mark.parametrize("value", ["a day", "0", "-5", "inf"])
def test_a_live_connection_cap_that_is_not_seconds_stops_the_start_in_one_line(
    tmp_path: Path, value: str
) -> None:
    import subprocess
    import sys

    # Given a cap on the live channel's connections that is no number of seconds above 0
    environment = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "PYTHONPATH": os.environ.get("PYTHONPATH", ""),
        "SAM_EMULATOR_EVENTS_MAX_CONNECTION_SECONDS": value,
    }
    # When the emulator is started with it
    done = subprocess.run(
        [sys.executable, "-m", "sam_emulator", "--template", str(project(tmp_path))],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    # Then it stops at once, saying which setting and what it takes, without a traceback
    assert done.returncode == 1, done.stderr
    assert done.stderr.strip().splitlines() == [
        f"python -m sam_emulator: SAM_EMULATOR_EVENTS_MAX_CONNECTION_SECONDS={value!r}: "
        "give a number of seconds above 0"
    ]


def test_a_dev_stack_is_started_after_the_ports_and_its_services_reach_the_functions(
    tmp_path: Path,
) -> None:
    # Given a dev stack that hands over a connection
    stack = RecordingStack()
    emulator = Emulator(
        load_template(project(tmp_path)),
        Options(port=0, lambda_port=0, url_port=0, environ={"PATH": os.environ["PATH"]}),
        stack,
        reload=False,
    )
    # When the emulator starts
    emulator.start()
    try:
        # Then the functions see the stack's environment over the template's
        assert get_json(emulator.url + "/") == {
            "GREETING": "from-stack",
            "DATABASE_URL": "postgresql://somewhere/db",
            "AWS_LAMBDA_FUNCTION_NAME": "HelloFunction",
        }
        # And the stack was told where the Lambda Invoke API is, and is in the summary
        assert stack.lambda_endpoint == emulator.lambda_url
        assert "db       postgresql://somewhere/db  (the project's own)" in emulator.summary()
    finally:
        emulator.stop()
    # And it is stopped after the functions, once
    assert stack.calls == ["claim", "start", "stop"]


def test_a_port_in_use_fails_before_the_dev_stack_starts(tmp_path: Path) -> None:
    # Given the HTTP API's port taken by someone else
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        stack = RecordingStack()
        emulator = Emulator(
            load_template(project(tmp_path)),
            Options(port=taken.getsockname()[1], lambda_port=0, url_port=0),
            stack,
        )
        # When the emulator starts, then it fails at once, naming the port
        with pytest.raises(OSError, match="HTTP API cannot listen"):
            emulator.start()
    # And no service was started: the stack's claim, taken first, was let go
    assert stack.calls == ["claim", "stop"]


def test_a_refused_claim_stops_the_start_before_any_port_is_bound(tmp_path: Path) -> None:
    # Given a dev stack whose claim is refused (another runtime holds its data folder), and the
    # ports that runtime would hold
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    stack = RecordingStack(refusal=RuntimeError("another runtime (pid 7) uses the folder"))
    emulator = Emulator(
        load_template(project(tmp_path)), Options(port=port, lambda_port=0, url_port=0), stack
    )
    # When the emulator starts, then it fails with the stack's refusal, not a port's
    with pytest.raises(RuntimeError, match="another runtime"):
        emulator.start()
    # And it bound no port, started nothing and let the claim go
    assert emulator.invoke_api is None
    assert emulator.sources == []
    assert stack.calls == ["claim", "stop"]


CATCH_ALL = """
Resources:
  ApiFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: api/
      Handler: app.handler
      Events:
        Index: {Type: HttpApi, Properties: {Path: /, Method: GET}}
        Rest: {Type: HttpApi, Properties: {Path: "/{proxy+}", Method: GET}}
        Fallback: {Type: HttpApi}
"""


def _gateway(tmp_path: Path, template: str) -> GatewayServer:
    (tmp_path / "docs").mkdir(exist_ok=True)
    (tmp_path / "docs" / "openapi.json").write_text('{"openapi": "3.1.0"}')

    def invoke(function_id: str, event: object) -> Invocation:
        route = event["routeKey"]  # type: ignore[index]
        return Invocation("local", {"statusCode": 404, "body": json.dumps({"route": route})})

    routes = parse_template_text(template, tmp_path).routes
    return GatewayServer("127.0.0.1", 0, routes, invoke, docs=DocsSite.beside(tmp_path))


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_the_docs_page_stays_beside_a_catch_all_route_and_yields_to_its_own(
    tmp_path: Path,
) -> None:
    # Given a template whose catch-alls (GET /{proxy+}, $default) take every other path
    gateway = _gateway(tmp_path, CATCH_ALL)
    gateway.start("gateway")
    try:
        url = f"http://127.0.0.1:{gateway.port}"
        # Then the runtime's docs are still served under /_docs, the spec among them
        assert _get(url + "/_docs/openapi.json") == (200, b'{"openapi": "3.1.0"}')
        assert gateway.docs_route is None  # the start-up summary names the page, not a route
        # And everything else goes to the catch-alls, as on AWS
        assert _get(url + "/nope") == (404, b'{"route": "GET /{proxy+}"}')
        assert _get(url + "/_docsy") == (404, b'{"route": "GET /{proxy+}"}')
    finally:
        gateway.stop()
    # But a route of the template under /_docs is the template's, as before
    named = (
        CATCH_ALL
        + """        Docs: {Type: HttpApi, Properties: {Path: "/_docs/{file}", Method: GET}}\n"""
    )
    gateway = _gateway(tmp_path, named)
    gateway.start("gateway")
    try:
        status, body = _get(f"http://127.0.0.1:{gateway.port}/_docs/openapi.json")
        assert (status, json.loads(body)) == (404, {"route": "GET /_docs/{file}"})
    finally:
        gateway.stop()


SLOW = """
Resources:
  SlowFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: slow/
      Handler: app.handler
      Timeout: 60
      Events:
        Report: {Type: HttpApi, Properties: {Path: /report, Method: GET, TimeoutInMillis: 300}}
        Quick: {Type: HttpApi, Properties: {Path: /quick, Method: GET}}
"""

SLOW_HANDLER = """
import time


def handler(event, context):
    time.sleep(2)
    return {"statusCode": 200, "body": "late"}
"""


def test_a_function_that_outlasts_its_integration_timeout_is_api_gateway_s_503(
    tmp_path: Path,
) -> None:
    # Given a route whose integration waits 300 ms, in front of a function allowed 60 s that
    # takes 2 s
    (tmp_path / "slow").mkdir()
    (tmp_path / "slow" / "app.py").write_text(SLOW_HANDLER)
    (tmp_path / "template.yaml").write_text(SLOW)
    emulator = Emulator(
        load_template(tmp_path / "template.yaml"),
        Options(port=0, lambda_port=0, url_port=0, environ={"PATH": os.environ["PATH"]}),
        reload=False,
    )
    emulator.start()
    try:
        # When a client asks for it
        started = time.monotonic()
        status, body = _get(emulator.url + "/report")
        waited = time.monotonic() - started
        # Then API Gateway's own 503 comes once the integration timed out, not the function's
        # answer two seconds later (nor a 500 at the function's own timeout, a minute later)
        assert (status, body, waited < 1.5) == (503, b'{"message":"Service Unavailable"}', True)
        # And a route without TimeoutInMillis waits the default 30 s: the answer comes (once
        # the first invocation, which ran on, let the execution environment go)
        assert _get(emulator.url + "/quick") == (200, b"late")
    finally:
        emulator.stop()


def test_a_web_page_cannot_call_an_iam_function_url_it_could_not_sign_for(tmp_path: Path) -> None:
    # Given StatsFunction's URL (AWS_IAM: signatures are not checked locally) and an open one
    called: list[str] = []

    def invoke(function_id: str, event: object) -> Invocation:
        called.append(function_id)
        return Invocation("local", {"statusCode": 200, "body": "{}"})

    iam = FunctionUrlServer("127.0.0.1", 0, FunctionUrl("StatsFunction", "AWS_IAM"), invoke)
    open_ = FunctionUrlServer("127.0.0.1", 0, FunctionUrl("OpenFunction", "NONE"), invoke)
    iam.start("url-iam")
    open_.start("url-open")

    def post(server: FunctionUrlServer, **headers: str) -> int:
        request = urllib.request.Request(
            f"http://127.0.0.1:{server.port}/", data=b'{"ratings": {"5": 1}}', headers=headers
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return int(response.status)
        except urllib.error.HTTPError as error:
            return error.code

    try:
        # When a site open in the developer's browser posts to it (browsers name the origin)
        refused = post(iam, Origin="https://elsewhere.example")
        fetched = post(iam, **{"Sec-Fetch-Site": "cross-site"})
        # Then it is refused before the function runs, as AWS refuses it unsigned
        assert (refused, fetched) == (403, 403)
        assert called == []
        # And a program's request (the API's stats client, curl) is served, and so is a page's
        # on a URL open to all
        assert post(iam) == 200
        assert post(open_, Origin="https://elsewhere.example") == 200
        assert called == ["StatsFunction", "OpenFunction"]
    finally:
        iam.stop()
        open_.stop()
