"""The admin bearer token check, in constant time, and a rotated token picked up while warm.

On AWS the token lives in Secrets Manager. It is read at the first check and kept; a presented
token that does not match makes the checker read the secret again (a rotation is then honoured
within seconds, without a cold start), but never more often than once per `reread_floor`
seconds, so wrong guesses cannot hammer Secrets Manager. The kept token is also re-read once it
is `max_age` old, so a rotated-away token stops working within minutes. A re-read that fails keeps
the token read before (until the next floor or age), rather than failing every check.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from talkrate.config import load_settings, read_secret_text

REREAD_FLOOR_SECONDS = 30.0
MAX_AGE_SECONDS = 300.0


def fingerprint(token: str) -> str:
    """What logs say of a token: the first 12 hex digits of its SHA-256, never the token."""
    return hashlib.sha256(token.encode()).hexdigest()[:12]


class AdminToken:
    """The admin token as last read, re-read on a mismatch (at most once per floor) and by age."""

    def __init__(
        self,
        read: Callable[[], str | None],
        reread_floor: float = REREAD_FLOOR_SECONDS,
        max_age: float = MAX_AGE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._read = read
        self._floor = reread_floor
        self._max_age = max_age
        self._clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._read_at: float | None = None

    def matches(self, presented: str) -> bool:
        """True when `presented` is the admin token (as read now or recently)."""
        now = self._clock()
        with self._lock:
            if self._read_at is None or now - self._read_at >= self._max_age:
                self._reread(now)
            if self._equal(presented):
                return True
            if self._read_at is not None and now - self._read_at < self._floor:
                return False
            self._reread(now)
            return self._equal(presented)

    def admits(self, presented: str | None) -> bool:
        """True when no secret is set (as read now or recently) or `presented` is it: for a
        secret that may be taken away, such as an event's code."""
        now = self._clock()
        with self._lock:
            if self._read_at is None or now - self._read_at >= self._max_age:
                self._reread(now)
            if self._token is None or (presented is not None and self._equal(presented)):
                return True
            if now - self._read_at < self._floor:  # type: ignore[operator]
                return False
            self._reread(now)
            return self._token is None or (presented is not None and self._equal(presented))

    def _reread(self, now: float) -> None:
        try:
            token = self._read()
        except Exception:
            # Secrets Manager did not answer (throttled, a passing fault): what was read before
            # goes on serving, and is asked for again at the next floor or age, not at every
            # request, which refused every organiser and every new attendee with a 5xx while it
            # lasted. Before a first read there is nothing to go on.
            if self._read_at is None:
                raise
            from talkrate.observability import logger  # not at the authorizer's cold start

            logger.warning("secret not read again: the value read before is kept", exc_info=True)
            self._read_at = now
            return
        self._token = token
        self._read_at = now

    def _equal(self, presented: str) -> bool:
        return self._token is not None and hmac.compare_digest(
            presented.encode(), self._token.encode()
        )


def _configured_token() -> str | None:
    settings = load_settings()
    if settings.admin_token_secret_arn:
        return read_secret_text(settings.admin_token_secret_arn, fresh=True)
    return settings.admin_token.get_secret_value() if settings.admin_token else None


@lru_cache(maxsize=1)
def admin_token() -> AdminToken:
    """The process's admin token checker (created on first use)."""
    return AdminToken(_configured_token)


def verdict(authorization: str | None, token: AdminToken | None = None) -> dict[str, Any]:
    """The authorizer's context for an Authorization header: admin or not, why not, and the
    presented token's fingerprint (for the audit line). With no admin token configured, no
    token is the admin's."""
    if not authorization or not authorization.lower().startswith("bearer "):
        return {"admin": False, "reason": "missing-token"}
    presented = authorization[7:].strip()
    checker = token or admin_token()
    if presented and checker.matches(presented):
        return {"admin": True, "reason": "ok", "fingerprint": fingerprint(presented)}
    return {"admin": False, "reason": "invalid-token", "fingerprint": fingerprint(presented)}
