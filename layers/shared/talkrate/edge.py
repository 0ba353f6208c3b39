"""Whether a request came through the CDN: the X-Talkrate-Edge value CloudFront adds to every
request it forwards to the API, against the edge secret.

From the environment (EDGE_SECRET: the local runtime, tests) it is one value. From Secrets
Manager (EDGE_SECRET_ARN, on AWS) it is the secret's current value and its previous one: a
rotation (docs/operations.md) puts a new value, then updates the distribution, whose edge
locations take it over minutes, sending either meanwhile. The values are read at the first
request that carries the header (not at cold start), again every five minutes, and after a
value that matches neither at most once per half minute (talkrate.admin_token.RereadSecret):
an environment started before the rotation takes the new value within seconds of CloudFront
sending it, without a cold start. A secret that cannot be read vouches for nothing: the request
counts by the address API Gateway saw, as one that did not come through the CDN (no 5xx).
"""

from __future__ import annotations

import contextlib
import hmac
import time
from collections.abc import Callable
from functools import lru_cache
from typing import Any, Protocol

from talkrate.admin_token import RereadSecret
from talkrate.config import secret_text


class EdgeSecret(Protocol):
    def vouches(self, header: str) -> bool:
        """Whether `header` (X-Talkrate-Edge as sent) is the edge secret's."""
        ...


def _matches(given: bytes, values: tuple[bytes, ...] | None) -> bool:
    # Every value compared, in constant time each: which one matched, or none, takes as long.
    matched = False
    for value in values or ():
        matched |= hmac.compare_digest(given, value)
    return matched


class FixedEdgeSecret:
    """One value, from the environment (EDGE_SECRET)."""

    def __init__(self, value: str) -> None:
        self._values = (value.encode(),)

    def vouches(self, header: str) -> bool:
        return bool(header) and _matches(header.encode("utf-8", "replace"), self._values)


class SecretEdgeSecret:
    """The values the secret holds now (EDGE_SECRET_ARN): its current value and its previous."""

    def __init__(
        self,
        arn: str,
        read: Callable[[str], tuple[bytes, ...]] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        reader = read or edge_values
        read_before = False

        def values() -> tuple[bytes, ...]:
            # A first read that fails gives no values, kept as read (asked again after the
            # floor, on the voter tokens' rule: not at every request through the CDN); a later
            # one raises, and RereadSecret keeps the values read before.
            nonlocal read_before
            try:
                found = reader(arn)
            except Exception as error:
                if read_before:
                    raise
                from talkrate.observability import logger

                logger.warning(
                    "the edge secret could not be read: requests are counted by the address API "
                    "Gateway saw until a read, at most once per half minute, answers",
                    extra={"secret": arn, "error": type(error).__name__},
                )
                return ()
            read_before = True
            return found

        self._kept: RereadSecret[tuple[bytes, ...]] = RereadSecret(values, clock=clock)

    def vouches(self, header: str) -> bool:
        if not header:
            return False  # not through the CDN: nothing to read the secret for
        given = header.encode("utf-8", "replace")
        return self._kept.check(lambda values: _matches(given, values))


def edge_values(arn: str) -> tuple[bytes, ...]:
    """The secret's current value, and its previous one when it has one (AWSPREVIOUS), non-blank."""
    client = _secrets_manager()
    values = [_value(client.get_secret_value(SecretId=arn))]
    with contextlib.suppress(client.exceptions.ResourceNotFoundException):  # never rotated
        values.append(_value(client.get_secret_value(SecretId=arn, VersionStage="AWSPREVIOUS")))
    return tuple(value.encode() for value in values if value.strip())


@lru_cache(maxsize=1)
def _secrets_manager() -> Any:
    """One Secrets Manager client a process (boto3 imported at the first read, not at init)."""
    import boto3

    return boto3.client("secretsmanager")


def _value(answer: dict[str, Any]) -> str:
    if "SecretString" in answer:
        return str(answer["SecretString"])
    return secret_text(answer.get("SecretBinary", b""))
