"""Reaching StatsFunction: the Lambda Invoke API (signed) or its function URL (plain HTTP)."""

from __future__ import annotations

import json
import os
import urllib.request
from collections.abc import Mapping
from typing import Any

from talkrate.adapters.lambda_invoke import LambdaInvoke
from talkrate.observability import logger
from talkrate.values import Histogram


class LambdaStatsCalculator:
    """StatsCalculator through the Lambda Invoke API (talkrate.adapters.lambda_invoke): one
    kept-alive connection, SigV4-signed with the function's own credentials, a short timeout
    and no retries."""

    def __init__(
        self,
        function_name: str,
        endpoint_url: str | None,
        timeout: float,
        region: str | None = None,
        environ: Mapping[str, str] = os.environ,
    ) -> None:
        self._function = LambdaInvoke(function_name, endpoint_url, timeout, region, environ)

    def stats(self, histogram: Histogram) -> dict[str, Any] | None:
        """The statistics, or None when StatsFunction failed or did not answer in time."""
        body = json.dumps({"ratings": histogram.counts}).encode()
        try:
            status, function_error, payload = self._function.invoke(body)
            if status != 200 or function_error:
                logger.warning(
                    "StatsFunction failed",
                    extra={"status": status, "error": payload[:500].decode("utf-8", "replace")},
                )
                return None
            answer = json.loads(payload)
            return answer if isinstance(answer, dict) else None
        except Exception:  # any failure of an optional enrichment degrades, never breaks, the read
            logger.warning("StatsFunction unreachable", exc_info=True)
            return None


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
