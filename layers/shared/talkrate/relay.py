"""Publishing what the outbox kept while Kafka was unreachable: RelayFunction's service logic."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from talkrate.models import RatingSubmitted
from talkrate.ports import RatingPublisher

DEFAULT_BATCH = 500


class RelayableOutbox(Protocol):
    """An outbox that hands its pending entries, in order, to a publish function."""

    def relay(self, publish: Callable[[RatingSubmitted], None], limit: int) -> tuple[int, int]:
        """Publish pending entries in order, marking each; stop at the first failure."""
        ...


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
