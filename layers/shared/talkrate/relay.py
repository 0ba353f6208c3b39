"""Publishing what the outbox kept while Kafka was unreachable: RelayFunction's service logic."""

from __future__ import annotations

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
    """Publish up to `limit` outbox entries in order; stops early while Kafka is still down, and
    starts no publish after `until` (time.monotonic()), so that a run ends with what it
    published recorded."""
    return RelayResult(*outbox.relay(publisher.publish, limit, until))
