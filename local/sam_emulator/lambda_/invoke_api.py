"""The Lambda Invoke API on 127.0.0.1:3001, like `sam local start-lambda`, so boto3 with
`endpoint_url` reaches the local functions (ApiFunction calls StatsFunction this way).

Signatures are not checked, but a browser's request (one naming its `Origin`) is refused: a web
page cannot sign, and without this any site open beside the runtime could invoke a function with
an event of its own."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Collection
from typing import Any, Final
from urllib.parse import unquote, urlsplit

from sam_emulator.console import console
from sam_emulator.lambda_.pool import Invoker
from sam_emulator.serving import BackgroundServer, BadRequest, BodyTooLarge, BoundedHandler
from sam_emulator.template.intrinsics import function_arn

# Lambda's payload limits: 6 MB synchronous, 256 KB asynchronous (Event).
MAX_SYNC_PAYLOAD: Final = 6 * 1024 * 1024
MAX_ASYNC_PAYLOAD: Final = 256 * 1024
_PREFIX: Final = "/2015-03-31/functions/"
_SUFFIX: Final = "/invocations"


def function_id_of(name: str) -> str:
    """The logical id in a FunctionName: a name, `name:qualifier`, or an ARN (with qualifier)."""
    if name.startswith("arn:"):
        parts = name.split(":")  # arn:aws:lambda:region:account:function:name[:qualifier]
        return parts[6] if len(parts) > 6 else parts[-1]
    return name.split(":", 1)[0]


class InvokeApiServer(BackgroundServer):
    """The local Lambda service: the functions it knows and how to invoke them."""

    def __init__(self, host: str, port: int, functions: Collection[str], invoke: Invoker) -> None:
        super().__init__(host, port, _InvokeHandler)
        self.functions = frozenset(functions)
        self.invoke = invoke

    def invoke_later(self, function_id: str, event: Any) -> None:
        """InvocationType Event: run in the background; a failure is logged (no retries)."""

        def run() -> None:
            result = self.invoke(function_id, event)
            if not result.ok:
                console(f"[lambda] async invoke of {function_id} failed: {result.error}")

        threading.Thread(target=run, name=f"async-{function_id}", daemon=True).start()


class _InvokeHandler(BoundedHandler):
    server: InvokeApiServer
    max_body_bytes = MAX_SYNC_PAYLOAD
    server_version = "sam-emulator"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the function's START/END/REPORT lines say enough

    def do_GET(self) -> None:
        self._error(404, "UnknownOperationException", "Unknown operation")

    do_PUT = do_DELETE = do_GET

    def do_POST(self) -> None:
        if self.headers.get("Origin") is not None or self.headers.get("Sec-Fetch-Site"):
            # A web page's request (browsers name its origin on every POST): any site open in
            # the developer's browser could otherwise invoke a function with an event of its
            # making, such as ApiFunction's with an authorizer's verdict in it. AWS would refuse
            # it unsigned; SDKs and the CLI never send these headers.
            self._error(
                403,
                "AccessDeniedException",
                "The Lambda Invoke API does not take requests from web pages",
                close=True,
            )
            return
        path = urlsplit(self.path).path
        if not (path.startswith(_PREFIX) and path.endswith(_SUFFIX)):
            self._error(404, "UnknownOperationException", "Unknown operation")
            return
        name = unquote(path[len(_PREFIX) : -len(_SUFFIX)])
        function_id = function_id_of(name)
        try:
            body = self.read_body()
        except BodyTooLarge:
            size = self.headers.get("Content-Length", "?")
            message = f"Request must be smaller than {MAX_SYNC_PAYLOAD} bytes for the InvokeFunction operation"
            self._error(413, "RequestTooLargeException", f"{message} ({size} bytes)", close=True)
            return
        except BadRequest as error:
            self._error(400, "InvalidRequestContentException", str(error), close=True)
            return
        if function_id not in self.server.functions:
            self._error(
                404,
                "ResourceNotFoundException",
                f"Function not found: {function_arn(function_id)}",
            )
            return
        try:
            event = json.loads(body) if body.strip() else {}
        except ValueError as error:
            message = f"Could not parse request body into json: {error}"
            self._error(400, "InvalidRequestContentException", message)
            return
        invocation_type = self.headers.get("X-Amz-Invocation-Type", "RequestResponse")
        if invocation_type == "DryRun":
            self._send(204, b"")
        elif invocation_type == "Event":
            if len(body) > MAX_ASYNC_PAYLOAD:
                message = (
                    f"Request must be smaller than {MAX_ASYNC_PAYLOAD} bytes for an Event invoke"
                )
                self._error(413, "RequestTooLargeException", message)
                return
            self.server.invoke_later(function_id, event)
            self._send(202, b"")
        elif invocation_type == "RequestResponse":
            self._invoke(function_id, event)
        else:
            message = f"Unsupported InvocationType {invocation_type}"
            self._error(400, "InvalidParameterValueException", message)

    def _invoke(self, function_id: str, event: Any) -> None:
        result = self.server.invoke(function_id, event)
        headers = [("X-Amz-Executed-Version", "$LATEST"), ("x-amzn-RequestId", result.request_id)]
        if result.ok:
            payload = json.dumps(result.payload).encode()
        else:
            payload = json.dumps(result.error).encode()
            headers.append(("X-Amz-Function-Error", "Unhandled"))
        self._send(200, payload, headers)

    def _send(self, status: int, body: bytes, headers: list[tuple[str, str]] | None = None) -> None:
        base = [("Content-Type", "application/json")] if body else []
        self.send_bytes(status, [*base, *(headers or [])], body)

    def _error(self, status: int, kind: str, message: str, close: bool = False) -> None:
        body = json.dumps({"Type": "User", "Message": message}).encode()
        headers = [
            ("Content-Type", "application/json"),
            ("x-amzn-ErrorType", kind),
            ("x-amzn-RequestId", str(uuid.uuid4())),
        ]
        self.send_bytes(status, headers, body, close=close)
