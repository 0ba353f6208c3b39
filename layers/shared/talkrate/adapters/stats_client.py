"""Reaching StatsFunction: Lambda Invoke (boto3) or its function URL (plain HTTP)."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from talkrate.models import Histogram
from talkrate.observability import logger


class LambdaStatsCalculator:
    """StatsCalculator through the Lambda Invoke API, with a short timeout and no retries."""

    def __init__(self, function_name: str, endpoint_url: str | None, timeout: float) -> None:
        self._function_name = function_name
        self._endpoint_url = endpoint_url
        self._timeout = timeout
        self._client: Any = None

    def stats(self, histogram: Histogram) -> dict[str, Any] | None:
        """The statistics, or None when StatsFunction failed or did not answer in time."""
        try:
            response = self._get_client().invoke(
                FunctionName=self._function_name,
                Payload=json.dumps({"ratings": histogram.counts}).encode(),
            )
            payload = json.loads(response["Payload"].read())
            if response.get("FunctionError"):
                logger.warning("StatsFunction failed", extra={"error": payload})
                return None
            return payload if isinstance(payload, dict) else None
        except Exception:  # any failure of an optional enrichment degrades, never breaks, the read
            logger.warning("StatsFunction unreachable", exc_info=True)
            return None

    def _get_client(self) -> Any:
        if self._client is None:
            import boto3  # imported on first use: keeps boto3 off the cold-start path
            from botocore.config import Config

            self._client = boto3.client(
                "lambda",
                endpoint_url=self._endpoint_url,
                config=Config(
                    connect_timeout=self._timeout,
                    read_timeout=self._timeout,
                    retries={"max_attempts": 0, "mode": "standard"},
                ),
            )
        return self._client


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
            with urllib.request.urlopen(request, timeout=self._timeout) as response:  # noqa: S310
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
