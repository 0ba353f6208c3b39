"""One HTTP(S) connection to one endpoint, kept open between requests: what the signed Lambda
invoke and the live channel's publish share (a TLS handshake per request would cost more than
the request)."""

from __future__ import annotations

import http.client
from dataclasses import dataclass
from urllib.parse import SplitResult


@dataclass(frozen=True)
class Answer:
    """A response, read whole."""

    status: int
    headers: http.client.HTTPMessage
    body: bytes


class KeptAliveConnection:
    """POSTs on one connection, reopened when the endpoint closed it. Not thread-safe: callers
    hold one per thread, or a lock around it."""

    def __init__(self, endpoint: SplitResult, timeout: float) -> None:
        if endpoint.scheme not in ("http", "https") or not endpoint.hostname:
            raise ValueError("the endpoint must be an http(s) URL")
        self._endpoint = endpoint
        self._timeout = timeout
        self._connection: http.client.HTTPConnection | None = None

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> Answer:
        """POST `body` and read the whole answer. A connection the endpoint closed while idle is
        reopened once; any other failure is raised (OSError, http.client.HTTPException)."""
        for attempt in (1, 2):
            connection = self._connect()
            try:
                connection.request("POST", path, body, headers)
                response = connection.getresponse()
                payload = response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.close()  # closed by the endpoint while idle: once more on a new one
                if attempt == 2:
                    raise
                continue
            if response.will_close:
                self.close()
            return Answer(response.status, response.headers, payload)
        raise AssertionError("unreachable")  # pragma: no cover

    def close(self) -> None:
        """Close the connection (a timeout mid-answer leaves it unusable); the next POST opens
        another."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _connect(self) -> http.client.HTTPConnection:
        if self._connection is None:
            kind = (
                http.client.HTTPSConnection
                if self._endpoint.scheme == "https"
                else http.client.HTTPConnection
            )
            self._connection = kind(
                self._endpoint.hostname or "", self._endpoint.port, timeout=self._timeout
            )
        return self._connection
