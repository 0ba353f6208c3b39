"""Reaching StatsFunction: the Lambda Invoke API (signed) or its function URL (plain HTTP)."""

from __future__ import annotations

import json
import os
import threading
import urllib.request
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

from talkrate.adapters.kept_alive import KeptAliveConnection
from talkrate.observability import logger
from talkrate.sigv4 import CredentialSource, signed_headers
from talkrate.values import Histogram


class LambdaStatsCalculator:
    """StatsCalculator through the Lambda Invoke API: one kept-alive connection, SigV4-signed
    with the function's own credentials, a short timeout and no retries (a connection the
    endpoint closed while idle is reopened once)."""

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
        self._timeout = timeout
        self._credentials = CredentialSource(environ)
        self._http = KeptAliveConnection(endpoint, timeout)
        self._lock = threading.Lock()  # one request at a time on the one connection

    def stats(self, histogram: Histogram) -> dict[str, Any] | None:
        """The statistics, or None when StatsFunction failed or did not answer in time."""
        body = json.dumps({"ratings": histogram.counts}).encode()
        try:
            with self._lock:
                status, function_error, payload = self._invoke(body)
            if status != 200 or function_error:
                logger.warning(
                    "StatsFunction failed",
                    extra={"status": status, "error": payload[:500].decode("utf-8", "replace")},
                )
                return None
            answer = json.loads(payload)
            return answer if isinstance(answer, dict) else None
        except Exception:  # any failure of an optional enrichment degrades, never breaks, the read
            with self._lock:
                self._close()  # a timeout mid-answer leaves the connection unusable
            logger.warning("StatsFunction unreachable", exc_info=True)
            return None

    def _invoke(self, body: bytes) -> tuple[int, bool, bytes]:
        headers = {"content-type": "application/json"}
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
        answer = self._http.post(self._path, body, headers)
        return answer.status, bool(answer.headers.get("x-amz-function-error")), answer.body

    def _close(self) -> None:
        self._http.close()


class UrlStatsCalculator:
    """StatsCalculator through a function URL (the workshop's RATINGS_LAMBDA_URL)."""

    def __init__(self, url: str, timeout: float) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError("RATINGS_LAMBDA_URL must be an http(s) URL")
        self._url = url
        self._timeout = timeout

    def stats(self, histogram: Histogram) -> dict[str, Any] | None:
        """The statistics, or None when the URL failed or did not answer in time."""
        body = json.dumps({"ratings": histogram.counts}).encode()
        request = urllib.request.Request(  # noqa: S310 - scheme checked in __init__
            self._url, data=body, headers={"content-type": "application/json"}, method="POST"
        )
        try:
            # The scheme is checked in __init__ (http or https only).
            with urllib.request.urlopen(request, timeout=self._timeout) as response:  # noqa: S310  # nosec B310
                payload = json.loads(response.read())
            return payload if isinstance(payload, dict) else None
        except Exception:
            logger.warning("StatsFunction URL unreachable", exc_info=True)
            return None


class NoStats:
    """StatsCalculator for when no StatsFunction is configured."""

    def stats(self, histogram: Histogram) -> dict[str, Any] | None:
        """Always None."""
        return None
