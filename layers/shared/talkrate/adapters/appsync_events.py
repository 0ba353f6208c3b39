"""Publishing to AppSync Events over HTTP: `POST https://<http host>/event`.

On AWS the request is SigV4-signed (service `appsync`) with the function's own role, which may
publish to the talkrate namespace only; the local runtime's emulation takes an API key instead.
One kept-alive connection per publishing thread, a short timeout and no retries: a live update
that did not make it is superseded by the next batch's.
"""

from __future__ import annotations

import http.client
import json
import os
import threading
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from urllib.parse import urlsplit

from talkrate.errors import LivePublishFailed
from talkrate.live import MAX_EVENT_BYTES, MAX_EVENTS_PER_PUBLISH
from talkrate.sigv4 import CredentialSource, signed_headers


class AppSyncEventsPublisher:
    """LivePublisher for the HTTP endpoint of an AppSync Events API (or its local emulation)."""

    def __init__(
        self,
        url: str,
        timeout: float,
        api_key: str | None = None,
        region: str | None = None,
        environ: Mapping[str, str] = os.environ,
    ) -> None:
        endpoint = urlsplit(url)
        if endpoint.scheme not in ("http", "https") or not endpoint.hostname:
            raise ValueError("the live publish URL must be an http(s) URL")
        self._endpoint = endpoint
        self._path = endpoint.path or "/event"
        self._timeout = timeout
        self._api_key = api_key
        self._region = region or environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION")
        self._credentials = CredentialSource(environ)  # SnapStart: container credentials
        self._local = threading.local()  # one connection per publishing thread

    def publish(self, channel: str, events: Sequence[str]) -> None:
        """Publish up to five JSON texts to one channel; raise LivePublishFailed otherwise."""
        if not 1 <= len(events) <= MAX_EVENTS_PER_PUBLISH:
            raise ValueError(f"1 to {MAX_EVENTS_PER_PUBLISH} events per publish request")
        if any(len(event.encode()) > MAX_EVENT_BYTES for event in events):
            raise LivePublishFailed(f"an event for {channel} is over {MAX_EVENT_BYTES} bytes")
        body = json.dumps({"channel": channel, "events": list(events)}).encode()
        try:
            status, payload = self._post(body)
        except (OSError, http.client.HTTPException) as error:
            self._close()  # a timeout mid-answer leaves the connection unusable
            raise LivePublishFailed(f"live channel unreachable: {error}") from error
        if status != 200:
            raise LivePublishFailed(f"live channel answered {status}: {payload[:300]!r}")
        try:
            answer = json.loads(payload)
        except ValueError as error:
            raise LivePublishFailed("live channel answered no JSON") from error
        failed = answer.get("failed") if isinstance(answer, dict) else None
        if failed:
            raise LivePublishFailed(f"live channel refused events: {json.dumps(failed)[:300]}")

    def _headers(self, body: bytes) -> dict[str, str]:
        headers = {"content-type": "application/json"}
        if self._api_key:
            return {**headers, "x-api-key": self._api_key}
        credentials = self._credentials.get()
        if credentials is None or not self._region:
            raise LivePublishFailed("no API key and no AWS credentials to sign the publish with")
        return signed_headers(
            "POST",
            self._endpoint.netloc,
            self._path,
            headers,
            body,
            self._region,
            "appsync",
            credentials,
            datetime.now(UTC),
        )

    def _post(self, body: bytes) -> tuple[int, bytes]:
        headers = self._headers(body)
        for attempt in (1, 2):
            connection = self._connect()
            try:
                connection.request("POST", self._path, body, headers)
                response = connection.getresponse()
                payload = response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self._close()  # closed by the endpoint while idle: once more on a new one
                if attempt == 2:
                    raise
                continue
            if response.will_close:
                self._close()
            return response.status, payload
        raise AssertionError("unreachable")  # pragma: no cover

    def _connect(self) -> http.client.HTTPConnection:
        connection: http.client.HTTPConnection | None = getattr(self._local, "connection", None)
        if connection is None:
            kind = (
                http.client.HTTPSConnection
                if self._endpoint.scheme == "https"
                else http.client.HTTPConnection
            )
            connection = kind(
                self._endpoint.hostname or "", self._endpoint.port, timeout=self._timeout
            )
            self._local.connection = connection
        return connection

    def _close(self) -> None:
        connection: http.client.HTTPConnection | None = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None
