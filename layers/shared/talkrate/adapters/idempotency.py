"""Idempotency-Key support: one record a key in Redis, claimed before the work and holding its
answer after it.

A record is `idempotency/<sha256 of the key>`: JSON with the request's fingerprint (SHA-256 of
its canonical JSON), its status (`in-progress`, then `completed` with the answer) and, while in
progress, until when the claim holds. It lives KEY_TTL_SECONDS. Replaces Powertools' idempotency
utility (docs/decisions.md, 2026-12-01): importing that utility loads its DynamoDB layer and boto3
with it, at the first rating a new container takes, its Redis layer is deprecated, and it lost
the fingerprint of completed records until talkrate patched a private method.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from collections.abc import Callable
from typing import Any

import redis
from redis.exceptions import RedisClusterException

from talkrate.errors import IdempotencyKeyReused, IdempotencyStoreUnavailable, RequestInProgress
from talkrate.observability import logger
from talkrate.values import fingerprint

__all__ = ["IdempotentRequests", "fingerprint"]

# A client retries within seconds or minutes; an hour bounds the records (PostgreSQL keeps the
# ratings themselves). Keys are scoped per client by the caller (talkrate.api.ratings).
KEY_TTL_SECONDS = 3600
RECORD_PREFIX = "idempotency/"
IN_PROGRESS, COMPLETED = "in-progress", "completed"

# Takes over a claim that ran out (the request that made it died with its invocation): only if
# the record is still the one that was read, so two retries cannot both take it.
_TAKE_OVER = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
return 1
"""


class IdempotentRequests:
    """Runs a request's work at most once per Idempotency-Key, replaying the first answer.

    The first request with a key chooses its attempt (for a rating: the event's id and time) and
    keeps it in the key's record; every retry that runs the work again (after the first failed,
    or died with its invocation) is handed that same attempt. A first request that failed may
    still have written (an outbox row whose INSERT was sent when PostgreSQL stopped answering
    commits when it answers again): its retry then writes the same event, which the event store
    counts once, instead of another one.
    """

    def __init__(self, client: Any, ttl_seconds: int = KEY_TTL_SECONDS) -> None:
        self._client = client
        self._ttl = ttl_seconds
        self._take_over: Any = None

    def once(
        self,
        key: str,
        request: dict[str, Any],
        work: Callable[[Any], dict[str, Any]],
        lambda_context: Any = None,
        attempt: Any = None,
        refusals: tuple[type[BaseException], ...] = (),
    ) -> dict[str, Any]:
        """The answer of `work(attempt)` for the first use of `key`; the same answer for every
        repeat.

        Raises IdempotencyKeyReused when the key comes back with another request, and
        RequestInProgress while the first request with the key has not finished. With the
        Lambda context, a request that dies mid-way frees its key when the invocation's time
        is up rather than when the key's TTL ends. A request whose work raises frees its key, so
        a retry runs the work again: with the first request's attempt, unless the first request
        itself raised one of `refusals` (errors after which nothing was written: the retry is a
        new attempt). A run handed an earlier run's attempt keeps it for the next, whatever it
        raises: that earlier run may have written.
        """
        record_key = RECORD_PREFIX + hashlib.sha256(key.encode()).hexdigest()
        requested = fingerprint(request)
        until = _deadline_ms(lambda_context)
        try:
            answer, first = self._answer_or_claim(key, record_key, requested, until, attempt)
        except (redis.RedisError, RedisClusterException, ValueError) as error:
            raise IdempotencyStoreUnavailable("the idempotency store is unreachable") from error
        # Outside the store's error handling: what the work raises is the work's own error.
        if answer is not None:
            return answer
        if first is None:
            return self._run(record_key, requested, work, attempt, refusals)
        # A run with the attempt of an earlier one cannot know whether that one wrote: even a
        # refusal keeps the attempt for the next retry.
        return self._run(record_key, requested, work, first, ())

    def answer(self, key: str, request: dict[str, Any]) -> dict[str, Any] | None:
        """The stored answer of a completed first request with this key and this request, or
        None (no record, another request, still in progress): a lookup that claims nothing and
        runs nothing. IdempotencyStoreUnavailable when the store cannot say."""
        record_key = RECORD_PREFIX + hashlib.sha256(key.encode()).hexdigest()
        try:
            stored = self._client.get(record_key)
            record = json.loads(stored) if stored is not None else None
        except (redis.RedisError, RedisClusterException, ValueError) as error:
            raise IdempotencyStoreUnavailable("the idempotency store is unreachable") from error
        if (
            not isinstance(record, dict)
            or record.get("status") != COMPLETED
            or record.get("request") != fingerprint(request)
        ):
            return None
        answer: dict[str, Any] = record["answer"]
        return answer

    def forget(self, key: str) -> None:
        """Drop the key's record: its next use runs the work again, as a first request.
        IdempotencyStoreUnavailable when the store cannot be reached."""
        record_key = RECORD_PREFIX + hashlib.sha256(key.encode()).hexdigest()
        try:
            self._client.delete(record_key)
        except (redis.RedisError, RedisClusterException) as error:
            raise IdempotencyStoreUnavailable("the idempotency store is unreachable") from error

    def _answer_or_claim(
        self, key: str, record_key: str, requested: str, until_ms: float | None, attempt: Any
    ) -> tuple[dict[str, Any] | None, Any]:
        """The stored answer of a completed first request; else (None, the attempt of the
        claim taken over, or None for this request's own) once this request holds the key's
        claim until `until_ms` (its work is to run); raises while another holds it, or for
        another request.
        """
        claim = _record(IN_PROGRESS, requested, until_ms, attempt)
        for _ in range(2):  # twice: a record can expire between the claim and the read
            if self._client.set(record_key, claim, nx=True, ex=self._ttl):
                return None, None
            stored = self._client.get(record_key)
            if stored is None:
                continue
            record = json.loads(stored)
            if not isinstance(record, dict):
                raise ValueError("not an idempotency record")
            if record.get("request") != requested:
                raise IdempotencyKeyReused(key)
            if record.get("status") == COMPLETED:
                answer: dict[str, Any] = record["answer"]
                return answer, None
            until = record.get("until")
            first = record.get("attempt")
            taken = _record(IN_PROGRESS, requested, until_ms, first)
            if (
                until is None
                or until > time.time() * 1000
                or not self._claim_again(record_key, stored, taken)
            ):
                raise RequestInProgress(key)
            return None, first
        raise RequestInProgress(key)  # the record came and went twice: someone holds the key

    def _claim_again(self, record_key: str, stored: bytes, claim: str) -> bool:
        if self._take_over is None:
            self._take_over = self._client.register_script(_TAKE_OVER)
        return bool(self._take_over(keys=[record_key], args=[stored, claim, self._ttl]))

    def _run(
        self,
        record_key: str,
        requested: str,
        work: Callable[[Any], dict[str, Any]],
        attempt: Any,
        refusals: tuple[type[BaseException], ...],
    ) -> dict[str, Any]:
        try:
            answer = work(attempt)
        except BaseException as error:
            # The key is free for a retry (if Redis fails here, when the claim or TTL runs out):
            # a claim that has run out, holding the attempt, unless nothing was written.
            with contextlib.suppress(redis.RedisError, RedisClusterException):
                if attempt is None or isinstance(error, refusals):
                    self._client.delete(record_key)
                else:
                    ended = _record(IN_PROGRESS, requested, until_ms=0, attempt=attempt)
                    self._client.set(record_key, ended, ex=self._ttl)
            raise
        try:
            self._client.set(record_key, _record(COMPLETED, requested, answer=answer), ex=self._ttl)
        except (redis.RedisError, RedisClusterException):
            # The work is done: its answer goes back. A repeat of the key meanwhile finds the
            # claim (in progress) until it runs out, then runs the work again.
            logger.warning("idempotency record not completed", extra={"record": record_key})
        return answer


def _deadline_ms(lambda_context: Any) -> float | None:
    """Until when a claim holds: the end of the invocation that made it, when known."""
    remaining = getattr(lambda_context, "get_remaining_time_in_millis", None)
    return time.time() * 1000 + remaining() if callable(remaining) else None


def _record(
    status: str,
    requested: str,
    until_ms: float | None = None,
    attempt: Any = None,
    answer: Any = None,
) -> str:
    record: dict[str, Any] = {"status": status, "request": requested}
    if until_ms is not None:
        record["until"] = until_ms
    if attempt is not None:
        record["attempt"] = attempt
    if status == COMPLETED:
        record["answer"] = answer
    return json.dumps(record, separators=(",", ":"))
