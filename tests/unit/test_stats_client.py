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


class ContainerCredentials(BaseHTTPRequestHandler):
    """Lambda's container credentials endpoint, which a SnapStart-restored function reads."""

    token = "restore-token"
    served: ClassVar[list[str]] = []
    expiration = "2099-01-01T00:00:00Z"

    def do_GET(self) -> None:
        if self.headers.get("Authorization") != ContainerCredentials.token:
            self.send_response(403)
            self.end_headers()
            return
        number = len(ContainerCredentials.served) + 1
        ContainerCredentials.served.append(self.path)
        body = json.dumps(
            {
                "AccessKeyId": f"ASIACONTAINER{number}",
                "SecretAccessKey": "container-secret",
                "Token": f"container-token-{number}",
                "Expiration": ContainerCredentials.expiration,
            }
        ).encode()
        self.send_response(200)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture
def container_credentials() -> Iterator[str]:
    ContainerCredentials.served.clear()
    server = ThreadingHTTPServer(("127.0.0.1", 0), ContainerCredentials)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/2018-06-01/credentials"
    server.shutdown()
    server.server_close()


def test_a_function_restored_by_snapstart_signs_with_its_container_credentials(
    endpoint: str, container_credentials: str
) -> None:
    # Given an environment with no keys in its variables, only the container credentials endpoint
    environ = {
        "AWS_CONTAINER_CREDENTIALS_FULL_URI": container_credentials,
        "AWS_CONTAINER_AUTHORIZATION_TOKEN": ContainerCredentials.token,
    }
    stats = calculator(endpoint, environ)
    # When two reads ask for statistics
    assert stats.stats(HISTOGRAM) == {"avg": 4.5, "totalCount": 4}
    assert stats.stats(HISTOGRAM) == {"avg": 4.5, "totalCount": 4}
    # Then both are signed with the endpoint's credentials, fetched once (they expire much later)
    for seen in InvokeApi.seen:
        assert seen["headers"]["authorization"].startswith(
            "AWS4-HMAC-SHA256 Credential=ASIACONTAINER1/"
        )
        assert seen["headers"]["x-amz-security-token"] == "container-token-1"
    assert ContainerCredentials.served == ["/2018-06-01/credentials"]


def test_container_credentials_are_renewed_before_they_expire(container_credentials: str) -> None:
    from talkrate.sigv4 import REFRESH_MARGIN_SECONDS, CredentialSource

    ContainerCredentials.expiration = "2026-12-01T12:00:00Z"
    try:
        expires = 1_796_126_400.0  # 2026-12-01T12:00:00Z
        now = [expires - REFRESH_MARGIN_SECONDS - 60]
        source = CredentialSource(
            {
                "AWS_CONTAINER_CREDENTIALS_FULL_URI": container_credentials,
                "AWS_CONTAINER_AUTHORIZATION_TOKEN": ContainerCredentials.token,
            },
            clock=lambda: now[0],
        )
        first = source.get()
        assert source.get() == first  # still well before the margin
        now[0] += 61  # within five minutes of the expiry
        renewed = source.get()
        assert first is not None
        assert renewed is not None
        assert (first.access_key, renewed.access_key) == ("ASIACONTAINER1", "ASIACONTAINER2")
    finally:
        ContainerCredentials.expiration = "2099-01-01T00:00:00Z"


def test_a_refused_credentials_request_leaves_the_read_without_statistics(
    endpoint: str, container_credentials: str
) -> None:
    stats = calculator(
        endpoint,
        {
            "AWS_CONTAINER_CREDENTIALS_FULL_URI": container_credentials,
            "AWS_CONTAINER_AUTHORIZATION_TOKEN": "wrong",
        },
    )
    assert stats.stats(HISTOGRAM) is None
    assert InvokeApi.seen == []


def test_the_live_publisher_of_a_restored_projector_signs_with_container_credentials(
    endpoint: str, container_credentials: str
) -> None:
    # Given the projector's AppSync Events publisher (IAM, no API key) after a SnapStart restore
    from talkrate.adapters.appsync_events import AppSyncEventsPublisher

    InvokeApi.answer = (200, {}, b'{"failed": [], "successful": [{"identifier": "x", "index": 0}]}')
    publisher = AppSyncEventsPublisher(
        f"{endpoint}/event",
        timeout=1.0,
        region="eu-west-1",
        environ={
            "AWS_CONTAINER_CREDENTIALS_FULL_URI": container_credentials,
            "AWS_CONTAINER_AUTHORIZATION_TOKEN": ContainerCredentials.token,
        },
    )
    # When it publishes, the request is signed for AppSync with the container's credentials
    publisher.publish("/talkrate/talks/t-1", ['{"count": 1}'])
    [seen] = InvokeApi.seen
    assert seen["headers"]["authorization"].startswith(
        "AWS4-HMAC-SHA256 Credential=ASIACONTAINER1/"
    )
    assert "/eu-west-1/appsync/aws4_request" in seen["headers"]["authorization"]
    assert seen["headers"]["x-amz-security-token"] == "container-token-1"
