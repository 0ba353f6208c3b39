"""Publishing what the outbox kept while Kafka was unreachable: RelayFunction's service logic."""

from __future__ import annotations

import time
from typing import NamedTuple

from talkrate.ports import RatingPublisher, RelayableOutbox

DEFAULT_BATCH = 500


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
) -> RelayResult:
    """Publish up to `limit` outbox entries in order; stops early while Kafka is still down.

    With `until` (time.monotonic()), batches of `limit` follow one another until the outbox is
    empty, the stream fails or the time comes, each recorded as it ends, and no publish starts
    after `until`: a backlog drains in one run instead of `limit` a run.
    """
    published = 0
    while True:
        sent, pending, oldest = outbox.relay(publisher.publish, limit, until)
        published += sent
        if until is None or sent < limit or not pending or time.monotonic() >= until:
            return RelayResult(published, pending, oldest)
