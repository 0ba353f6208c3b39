"""Publishing what the outbox kept while Kafka was unreachable: RelayFunction's service logic."""

from __future__ import annotations

from dataclasses import dataclass

from talkrate.ports import RatingPublisher, RelayableOutbox

DEFAULT_BATCH = 500


@dataclass(frozen=True)
class RelayResult:
    """How many entries went out, and how many still wait."""

    published: int
    pending: int


def relay_outbox(
    outbox: RelayableOutbox, publisher: RatingPublisher, limit: int = DEFAULT_BATCH
) -> RelayResult:
    """Publish up to `limit` outbox entries in order; stops early while Kafka is still down."""
    published, pending = outbox.relay(publisher.publish, limit)
    return RelayResult(published, pending)
