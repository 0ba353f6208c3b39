"""The Lambda Invoke API, signed with the function's own credentials on one kept-alive connection:
how the API reaches StatsFunction (each GET /ratings) and RelayFunction (a rebuild of the read
model, asked for when a read finds it not built)."""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Literal, NamedTuple
from urllib.parse import quote, urlsplit

from talkrate.adapters.kept_alive import KeptAliveConnection
from talkrate.sigv4 import CredentialSource, signed_headers


class Invoked(NamedTuple):
    """The Invoke API's answer: its status, whether the function failed, and its payload."""

    status: int
    function_error: bool
    payload: bytes


class LambdaInvoke:
    """Invokes one function (a name, `name:alias` or an ARN) through the Invoke API at
    `endpoint_url` (Lambda's own in the region when None; the local runtime's locally): one
    request at a time on one kept-alive connection, a short timeout, no retries (a connection
    the endpoint closed while idle is reopened once)."""

    def __init__(
        self,
        function_name: str,
        endpoint_url: str | None,
        timeout: float,
        region: str | None = None,
        environ: Mapping[str, str] = os.environ,
    ) -> None:
        self._region = region or environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION")
        endpoint = urlsplit(endpoint_url or f"https://lambda.{self._region}.amazonaws.com")
        if endpoint.scheme not in ("http", "https") or not endpoint.hostname:
            raise ValueError("the Lambda endpoint must be an http(s) URL")
        self._endpoint = endpoint
        self._path = f"/2015-03-31/functions/{quote(function_name, safe='')}/invocations"
        self._credentials = CredentialSource(environ)
        self._http = KeptAliveConnection(endpoint, timeout)
        self._lock = threading.Lock()  # one request at a time on the one connection

    def invoke(
        self, body: bytes, invocation: Literal["RequestResponse", "Event"] = "RequestResponse"
    ) -> Invoked:
        """Invoke the function with `body` as its event: its answer (`Event`: queued, 202, no
        payload). Raises what the connection raises (OSError, http.client.HTTPException), after
        closing it: a timeout mid-answer leaves it unusable."""
        headers = {"content-type": "application/json"}
        if invocation != "RequestResponse":
            headers["x-amz-invocation-type"] = invocation
        credentials = self._credentials.get()
        if credentials is not None and self._region:
            headers = signed_headers(
                "POST",
                self._endpoint.netloc,
                self._path,
                headers,
                body,
                self._region,
                "lambda",
                credentials,
                datetime.now(UTC),
            )
        with self._lock:
            try:
                answer = self._http.post(self._path, body, headers)
            except Exception:
                self._http.close()
                raise
        return Invoked(answer.status, bool(answer.headers.get("x-amz-function-error")), answer.body)
