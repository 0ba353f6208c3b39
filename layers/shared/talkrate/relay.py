"""Publishing what the outbox kept while Kafka was unreachable: RelayFunction's service logic."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import NamedTuple

from talkrate.errors import BackendUnavailable, ReadModelUnreachable
from talkrate.ports import ForgottenMarksKept, RatingPublisher, RelayableOutbox, RequestLimiter
from talkrate.projected import RelayResult

DEFAULT_BATCH = 500
# Forgotten voters whose Redis mark a run sets at most (a forget stopped before its mark is one;
# a backlog of them, a schema apply filling the table, takes a few runs).
MARKS_PER_RUN = 1000
# How long a run waits before it tries a stream that failed again.
RETRY_PAUSE_SECONDS = 2.0
# How long a run waits before it looks again at entries another run held (see relay_outbox).
HELD_LOOK_AGAIN_SECONDS = 0.2


def relay_outbox(
    outbox: RelayableOutbox,
    publisher: RatingPublisher,
    limit: int = DEFAULT_BATCH,
    until: float | None = None,
    retry_until: float | None = None,
    pause: float = RETRY_PAUSE_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
) -> RelayResult:
    """Publish up to `limit` outbox entries in order; stops early while Kafka is still down.

    With `until` (time.monotonic()), batches of `limit` follow one another until the outbox is
    empty, the stream fails or the time comes, each recorded as it ends, and no publish starts
    after `until`: a backlog drains in one run instead of `limit` a run.

    With `retry_until` too, a stream that failed is tried again every `pause` seconds until
    then (no later than `until`): the ratings kept while it was down go out seconds after it
    is back, not at the next run. Nothing is held between tries (each is a transaction of its
    own), so a concurrent run or the API's own writes wait for nothing.

    Entries another run holds are left to it: a run whose stream did not fail stops when they
    are all that waits, after looking once more a moment later. So does one whose batch took
    nothing though entries wait (a command rewriting them, `ops forget-voter`, holds them):
    the next run takes them. A single batch with room left looks once more at whatever it
    left. The result is the last batch's, with every batch's `published`.
    """
    published = 0
    looked_again = False
    while True:
        # A single batch (no `until`) publishes `limit` in all, a look again included.
        batch = outbox.relay(
            publisher.publish, limit if until is not None else limit - published, until
        )
        published += batch.published
        result = batch._replace(published=published)
        if not batch.pending or (until is not None and time.monotonic() >= until):
            return result
        if until is None:
            # A single batch (`ops relay`) with room left looks once more at what it left: what
            # another run's count, or a command rewriting entries (`ops forget-voter`), held
            # for a moment goes out; what another run publishes is still held then.
            if batch.stream_failed or published >= limit or looked_again:
                return result
            looked_again = True
            sleep(HELD_LOOK_AGAIN_SECONDS)
            continue
        # Another run holds all that waits (it publishes them), or the batch took nothing
        # though the stream is fine: what waits is locked by others (another run's count, a
        # command rewriting entries), not this run's to go round for again at once.
        held = not batch.stream_failed and (
            batch.held_elsewhere == batch.pending or not batch.published
        )
        if held and not looked_again:
            # Another run's count of what it could take locks the rows for a moment too (until
            # its transaction ends): look once more, so two runs ending together do not each
            # leave the rest to the other. A run publishing them still holds them then.
            looked_again = True
            sleep(HELD_LOOK_AGAIN_SECONDS)
            continue
        if not batch.stream_failed:
            if held:  # the rest is another run's to publish, or the next run's
                return result
            continue  # more than a batch waited, or entries were written (or let go) since
        last_try = min(until, retry_until) if retry_until is not None else None
        if last_try is None or time.monotonic() + pause >= last_try:
            return result
        sleep(pause)


def mark_forgotten_voters(
    kept: ForgottenMarksKept, limiter: RequestLimiter, limit: int = MARKS_PER_RUN
) -> int:
    """Set the Redis marks of the forgotten voters PostgreSQL keeps and Redis may not (a forget
    that could not reach Redis, a voter the schema's apply filled in), then record them set;
    answers how many. With none waiting, one indexed query and nothing in Redis. Idempotent: a
    mark set twice is the same mark, and a run cut off between the two steps sets them again.
    BackendUnavailable when either cannot be reached (nothing recorded: the next run tries)."""
    waiting = kept.unmarked_forgotten(limit)
    for pseudonym in waiting:
        limiter.bar(pseudonym)
    return kept.marked(waiting) if waiting else 0


class LostMarks(NamedTuple):
    """What a look for the marks Redis lost found: how many it set again, and how many Redis
    refused to take again (full, read-only, a user who may not write them), with its words."""

    restored: int = 0
    refused: int = 0
    reason: str = ""


def restore_lost_marks(
    kept: ForgottenMarksKept, limiter: RequestLimiter, page: int = MARKS_PER_RUN
) -> LostMarks:
    """Set again the marks Redis lost after they were recorded as set (a failover that took
    the primary before its replica had the mark, an older copy of Redis restored): every
    forgotten voter recorded as marked is looked up, a page at a time (one PostgreSQL read and
    one Redis round trip), and each mark Redis does not hold is set again (a round trip each;
    once Redis refuses one, the rest are only counted). A Redis that lost its read model
    altogether has its marks set again by the rebuild (and the API asks PostgreSQL until then):
    `unbarred` finds none lost there. ReadModelUnreachable when Redis does not answer."""
    restored, refused, reason, after = 0, 0, "", ""
    while batch := kept.marked_forgotten(after, page):
        for pseudonym in limiter.unbarred(batch):
            if reason:
                refused += 1
                continue
            try:
                limiter.bar(pseudonym)
            except ReadModelUnreachable:
                raise
            except BackendUnavailable as error:  # a refusal: counted, the next run tries again
                refused, reason = 1, str(error)
                continue
            restored += 1
        if len(batch) < page:
            break
        after = batch[-1]
    return LostMarks(restored, refused, reason)
