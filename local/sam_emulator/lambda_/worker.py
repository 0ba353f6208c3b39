"""A function process, like a Lambda execution environment: `python -m sam_emulator.lambda_.worker`.

It imports the handler once (the cold start), then answers one invocation at a time over the
channel socket it inherited. The channel is not stdout: handlers print their logs there.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import socket
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

from sam_emulator.lambda_.protocol import ChannelClosed, receive_frame, send_frame, send_raw

Handler = Callable[[Any, Any], Any]
MAX_RESPONSE_BYTES: Final = 6 * 1024 * 1024  # Lambda's synchronous response limit


class HandlerNotFound(Exception):
    """The module imported but has no such callable."""


class LambdaContext:
    """The context object of the Python runtime (same attributes, same types)."""

    def __init__(self, request_id: str, deadline_ms: int, invoked_function_arn: str) -> None:
        self.aws_request_id = request_id
        self.invoked_function_arn = invoked_function_arn
        self._deadline_ms = deadline_ms
        # Like awslambdaric, these are read from the environment (memory size is a string there).
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.client_context: Any = None
        self.identity: Any = None
        self.tenant_id: str | None = None

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the function times out."""
        return max(0, self._deadline_ms - int(time.time() * 1000))

    def log(self, message: str) -> None:
        """Write to the function's log (stdout), as context.log does on Lambda."""
        sys.stdout.write(message)
        sys.stdout.flush()


def error_body(
    error: BaseException, error_type: str | None = None, message: str | None = None
) -> dict[str, Any]:
    """The error payload Lambda returns for an unhandled exception."""
    frames = traceback.extract_tb(error.__traceback__)
    # Drop this module's own frames: the trace starts in the handler's code, as on Lambda.
    frames = traceback.StackSummary.from_list(
        [f for f in frames if f.filename != __file__ and not f.filename.startswith("<frozen")]
    )
    return {
        "errorMessage": message if message is not None else str(error),
        "errorType": error_type or type(error).__name__,
        "requestId": "",
        "stackTrace": frames.format(),
    }


def init_error_body(error: Exception, module: str) -> dict[str, Any]:
    """The init error Lambda's Python runtime (awslambdaric) reports for an import that failed:
    an ImportError and a SyntaxError get the runtime's own types, anything else raised while the
    module ran is reported as itself (a `RuntimeError` stays a `RuntimeError`)."""
    if isinstance(error, ImportError):
        return error_body(
            error, "Runtime.ImportModuleError", f"Unable to import module '{module}': {error}"
        )
    if isinstance(error, SyntaxError):
        body = error_body(
            error, "Runtime.UserCodeSyntaxError", f"Syntax error in module '{module}': {error}"
        )
        text = (error.text or "").strip()
        body["stackTrace"] = [f'  File "{error.filename}" Line {error.lineno}\n    {text}\n']
        return body
    return error_body(error)


def load_handler(
    code_root: Path, handler_file: Path, module: str, function: str, unique: str
) -> Handler:
    """Import the handler file by path under a unique module name, with the code root on sys.path."""
    sys.path.insert(0, str(code_root))  # like /var/task: the handler's sibling modules import
    spec = importlib.util.spec_from_file_location(unique, handler_file)
    if spec is None or spec.loader is None:
        raise ModuleNotFoundError(f"No module named '{module}'")
    loaded = importlib.util.module_from_spec(spec)
    sys.modules[unique] = loaded  # dataclasses and pickling look the module up by name
    spec.loader.exec_module(loaded)
    handler = getattr(loaded, function, None)
    if not callable(handler):
        raise HandlerNotFound(f"Handler '{function}' missing on module '{module}'")
    return handler  # type: ignore[no-any-return]


def _max_memory_mb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024  # KiB on Linux


def _log_error(body: dict[str, Any]) -> None:
    # What Lambda writes to the function's log for an unhandled error.
    trace = "".join(body["stackTrace"])
    sys.stderr.write(f"[ERROR] {body['errorType']}: {body['errorMessage']}\n{trace}")
    sys.stderr.flush()


def _invoke(channel: socket.socket, handler: Handler, request: dict[str, Any]) -> None:
    context = LambdaContext(
        request["requestId"], int(request["deadlineMs"]), request["invokedFunctionArn"]
    )
    os.environ["_X_AMZN_TRACE_ID"] = request.get("traceId", "")
    try:
        result = handler(request["event"], context)
    except Exception as error:  # an unhandled error is the function's answer, not the worker's end
        body = error_body(error)
        body["requestId"] = context.aws_request_id
        _log_error(body)
        send_frame(channel, {"type": "error", "error": body, "maxMemoryMb": _max_memory_mb()})
        return
    try:
        payload = json.dumps(result, separators=(",", ":"))
    except (TypeError, ValueError) as error:
        body = error_body(error, "Runtime.MarshalError", f"Unable to marshal response: {error}")
        body["stackTrace"] = []
        body["requestId"] = context.aws_request_id
        _log_error(body)
        send_frame(channel, {"type": "error", "error": body, "maxMemoryMb": _max_memory_mb()})
        return
    if len(payload) > MAX_RESPONSE_BYTES:
        body = {
            "errorMessage": (
                f"Response payload size ({len(payload)} bytes) exceeded maximum allowed payload "
                f"size ({MAX_RESPONSE_BYTES} bytes)."
            ),
            "errorType": "Function.ResponseSizeTooLarge",
            "requestId": context.aws_request_id,
            "stackTrace": [],
        }
        send_frame(channel, {"type": "error", "error": body, "maxMemoryMb": _max_memory_mb()})
        return
    envelope = f'{{"type":"result","maxMemoryMb":{_max_memory_mb()},"ok":{payload}}}'
    send_raw(channel, envelope.encode())


def main(argv: list[str] | None = None) -> int:
    """Run one function process until the runtime closes the channel."""
    parser = argparse.ArgumentParser(prog="python -m sam_emulator.lambda_.worker")
    parser.add_argument("--channel-fd", type=int, required=True)
    parser.add_argument("--code-root", type=Path, required=True)
    parser.add_argument("--handler-file", type=Path, required=True)
    parser.add_argument("--handler", required=True, help="module.function, as in the template")
    parser.add_argument("--module-name", required=True, help="unique name for the handler module")
    args = parser.parse_args(argv)
    channel = socket.socket(fileno=args.channel_fd)
    module, function = args.handler.rsplit(".", 1)

    started = time.perf_counter()
    body: dict[str, Any] | None = None
    try:
        handler = load_handler(
            args.code_root, args.handler_file, module, function, args.module_name
        )
    except HandlerNotFound as error:
        body = error_body(error, "Runtime.HandlerNotFound")
    except Exception as error:  # any import-time failure is an init error, reported like Lambda
        body = init_error_body(error, module)
    init_ms = (time.perf_counter() - started) * 1000
    if body is not None:
        _log_error(body)
        send_frame(channel, {"type": "init_error", "error": body, "initMs": init_ms})
        return 1
    send_frame(channel, {"type": "ready", "initMs": init_ms})

    while True:
        try:
            request = receive_frame(channel)
        except (ChannelClosed, ConnectionError):
            return 0  # the runtime stopped this environment
        _invoke(channel, handler, request)


if __name__ == "__main__":
    sys.exit(main())
