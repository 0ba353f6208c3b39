"""StatsFunction through the Lambda Invoke API: the request it sends, and how it degrades."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest

from talkrate.adapters.stats_client import LambdaStatsCalculator
from talkrate.models import Histogram

pytestmark = pytest.mark.unit

HISTOGRAM = Histogram.from_counts({"1": 0, "2": 0, "3": 1, "4": 0, "5": 3})


class InvokeApi(BaseHTTPRequestHandler):
    """Lambda's Invoke API on loopback, as far as talkrate uses it: HTTP/1.1, kept alive."""

    protocol_version = "HTTP/1.1"
    seen: ClassVar[list[dict[str, Any]]] = []
    answer: ClassVar[tuple[int, dict[str, str], bytes]] = (200, {}, b"{}")
    hang_up: ClassVar[bool] = False  # close the connection after answering, without saying so

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        InvokeApi.seen.append(
            {
                "path": self.path,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body": json.loads(body),
                "client_port": self.client_address[1],
            }
        )
        status, headers, payload = InvokeApi.answer
        self.send_response(status)
        for name, value in {**headers, "content-length": str(len(payload))}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)
        self.close_connection = InvokeApi.hang_up

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture
def endpoint() -> Iterator[str]:
    InvokeApi.seen.clear()
    InvokeApi.hang_up = False
    InvokeApi.answer = (200, {}, json.dumps({"avg": 4.5, "totalCount": 4}).encode())
    server = ThreadingHTTPServer(("127.0.0.1", 0), InvokeApi)
    server.daemon_threads = True  # kept-alive connections do not hold the teardown
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "AKID",
    "AWS_SECRET_ACCESS_KEY": "secret",
    "AWS_SESSION_TOKEN": "tok",
}


def calculator(endpoint: str, environ: dict[str, str] | None = None) -> LambdaStatsCalculator:
    return LambdaStatsCalculator(
        "arn:aws:lambda:eu-west-1:123456789012:function:stats",
        endpoint,
        timeout=1.0,
        region="eu-west-1",
        environ=CREDENTIALS if environ is None else environ,
    )


def test_an_invoke_is_signed_and_one_connection_serves_every_read(endpoint: str) -> None:
    stats = calculator(endpoint)
    # When two reads ask for statistics
    assert stats.stats(HISTOGRAM) == {"avg": 4.5, "totalCount": 4}
    assert stats.stats(HISTOGRAM) == {"avg": 4.5, "totalCount": 4}
    # Then both went to the Invoke path of the function, signed, over one kept-alive connection
    first, second = InvokeApi.seen
    assert first["path"] == (
        "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aeu-west-1%3A123456789012%3Afunction%3Astats"
        "/invocations"
    )
    assert first["body"] == {"ratings": HISTOGRAM.counts}
    assert first["headers"]["authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKID/")
    assert "/eu-west-1/lambda/aws4_request" in first["headers"]["authorization"]
    assert first["headers"]["x-amz-security-token"] == "tok"
    assert first["client_port"] == second["client_port"]


def test_without_credentials_the_request_goes_unsigned(endpoint: str) -> None:
    assert calculator(endpoint, environ={}).stats(HISTOGRAM) is not None
    assert "authorization" not in InvokeApi.seen[0]["headers"]


@pytest.mark.parametrize(
    "answer",
    [
        (200, {"X-Amz-Function-Error": "Unhandled"}, b'{"errorMessage": "boom"}'),
        (403, {}, b'{"message": "The security token included in the request is invalid."}'),
        (200, {}, b"[1, 2]"),
    ],
)
def test_a_failed_invoke_degrades_to_no_statistics(
    endpoint: str, answer: tuple[int, dict[str, str], bytes]
) -> None:
    InvokeApi.answer = answer
    assert calculator(endpoint).stats(HISTOGRAM) is None


def test_an_endpoint_that_does_not_answer_degrades_to_no_statistics_in_time() -> None:
    import socket
    import time

    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        stats = LambdaStatsCalculator(
            "stats", f"http://127.0.0.1:{silent.getsockname()[1]}", 0.3, "eu-west-1", {}
        )
        started = time.monotonic()
        assert stats.stats(HISTOGRAM) is None
        assert time.monotonic() - started < 2


def test_a_connection_closed_while_idle_is_reopened(endpoint: str) -> None:
    # Given an endpoint that drops a connection after each answer, as an idle timeout would
    InvokeApi.hang_up = True
    stats = calculator(endpoint)
    # When reads follow one another, Then each gets its statistics, on a new connection
    assert stats.stats(HISTOGRAM) is not None
    assert stats.stats(HISTOGRAM) is not None
    assert len(InvokeApi.seen) == 2
    assert InvokeApi.seen[0]["client_port"] != InvokeApi.seen[1]["client_port"]
