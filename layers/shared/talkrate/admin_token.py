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
from typing import Any, Generic, NamedTuple, TypeVar

from talkrate.config import load_settings, read_secret_text, usable_admin_token

REREAD_FLOOR_SECONDS = 30.0
MAX_AGE_SECONDS = 300.0

T = TypeVar("T")


def fingerprint(token: str) -> str:
    """What logs say of a token: the first 12 hex digits of its SHA-256, never the token."""
    return hashlib.sha256(token.encode()).hexdigest()[:12]


class Checked(NamedTuple, Generic[T]):
    """What a check found: whether the value took what was presented, the value it was asked
    (as read now or recently), and, when it refused, how many seconds remain until the secret
    may be read again (0 when it was read for this check, or when what was read last settles it:
    the refusal is the secret's word as it is now)."""

    accepted: bool
    value: T | None
    read_again_in: float = 0.0


class RereadSecret(Generic[T]):
    """A secret's value as last read (the admin token, an event code, the voter-token keys):
    re-read once it is `max_age` old, and after a check it fails, at most once per floor."""

    def __init__(
        self,
        read: Callable[[], T | None],
        reread_floor: float = REREAD_FLOOR_SECONDS,
        max_age: float = MAX_AGE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._read = read
        self._floor = reread_floor
        self._max_age = max_age
        self._clock = clock
        self._lock = threading.Lock()
        self._value: T | None = None
        self._read_at: float | None = None
        self._answered_at: float | None = None  # the last read that answered

    def current(self) -> T | None:
        """The value as read now or recently (read again once it is `max_age` old)."""
        with self._lock:
            self._fresh(self._clock())
            return self._value

    def recent(self) -> T | None:
        """The value as read within the floor (read again when older): for what is handed out
        under it, so that a replaced value is given out for no longer than the floor."""
        with self._lock:
            now = self._clock()
            if self._read_at is None or now - self._read_at >= self._floor:
                self._reread(now)
            return self._value

    def check(self, accepts: Callable[[T | None], bool]) -> bool:
        """Whether `accepts` takes the value as read now or recently; when it does not, the
        secret is read again (unless it was read within the floor) and asked once more: a
        rotated value is taken within seconds, and refusals cannot hammer Secrets Manager."""
        return self.checked(accepts).accepted

    def checked(
        self,
        accepts: Callable[[T | None], bool],
        settled: Callable[[float], bool] | None = None,
    ) -> Checked[T]:
        """`check`, saying also, of a refusal, whether it is the secret's word as it is now (read
        for this check) or that of a value read before, which may have been replaced since: then
        the seconds until the secret may be read again. `settled`, given the seconds since the
        last read that answered, says whether that read's refusal is final (what is presented
        is older than any value put since): then it is, without a read."""
        now = self._clock()
        with self._lock:
            read = self._fresh(now)
            if accepts(self._value):
                return Checked(True, self._value)
            if not read:
                answered = self._answered_at
                if settled is not None and answered is not None and settled(now - answered):
                    return Checked(False, self._value)
                since = now - self._read_at  # type: ignore[operator]
                if since < self._floor:
                    return Checked(False, self._value, self._floor - since)
                read = self._reread(now)
                if accepts(self._value):
                    return Checked(True, self._value)
            # A read that failed leaves the value read before, unconfirmed until the floor.
            return Checked(False, self._value, 0.0 if read else self._floor)

    def _fresh(self, now: float) -> bool:
        """Read again once the value is `max_age` old; whether it was read (and the read
        answered)."""
        if self._read_at is None or now - self._read_at >= self._max_age:
            return self._reread(now)
        return False

    def _reread(self, now: float) -> bool:
        """Read the secret; whether it answered (a read that failed keeps what was read
        before)."""
        try:
            value = self._read()
        except Exception:
            # Secrets Manager did not answer (throttled, a passing fault), or holds what cannot
            # be used (a rotated key too short): what was read before goes on serving, and is
            # asked for again at the next floor or age, not at every request, which refused
            # every organiser and every new attendee with a 5xx while it lasted. Before a first
            # read there is nothing to go on.
            if self._read_at is None:
                raise
            from talkrate.observability import logger  # not at the authorizer's cold start

            logger.warning(
                "secret not read again (or not usable): the value read before is kept",
                exc_info=True,
            )
            self._read_at = now
            return False
        self._value = value
        self._read_at = self._answered_at = now
        return True


class AdminToken(RereadSecret[str]):
    """The admin token as last read, re-read on a mismatch (at most once per floor) and by age."""

    def matches(self, presented: str) -> bool:
        """True when `presented` is the admin token (as read now or recently)."""
        return self.check(lambda token: token is not None and _equal(presented, token))


def _equal(presented: str, token: str) -> bool:
    return hmac.compare_digest(presented.encode(), token.encode())


def _configured_token() -> str | None:
    """The admin token as configured now, without the spaces and line ends around it: a token
    put into the secret from a file or `echo` ends with a line end, which no presented token
    (read without them) could ever match. A secret holding one shorter than the floor raises
    SettingsError (at the first read: the authorizer fails, and its alarm says so; at a read
    again: the token read before is kept), as ADMIN_TOKEN does at cold start."""
    settings = load_settings()
    if settings.admin_token_secret_arn:
        text = read_secret_text(settings.admin_token_secret_arn, fresh=True)
        return usable_admin_token(text, "ADMIN_TOKEN_SECRET_ARN")
    return settings.admin_token.get_secret_value().strip() if settings.admin_token else None


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
