"""Publishing what the outbox kept while Kafka was unreachable: RelayFunction's service logic."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import NamedTuple

from talkrate.ports import RatingPublisher, RelayableOutbox

DEFAULT_BATCH = 500
# How long a run waits before it tries a stream that failed again.
RETRY_PAUSE_SECONDS = 2.0


class RelayResult(NamedTuple):
    """How many entries went out, how many still wait, and how long the oldest has waited."""

    published: int
    pending: int
    oldest_pending_seconds: float = 0.0


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
    """
    published = 0
    while True:
        sent, pending, oldest = outbox.relay(publisher.publish, limit, until)
        published += sent
        if until is None or not pending or time.monotonic() >= until:
            return RelayResult(published, pending, oldest)
        if sent < limit:  # the stream failed (or another run holds the entries): wait, or stop
            last_try = min(until, retry_until) if retry_until is not None else None
            if last_try is None or time.monotonic() + pause >= last_try:
                return RelayResult(published, pending, oldest)
            sleep(pause)
