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

    def relay(
        self, publish: Callable[[RatingSubmitted], None], limit: int
    ) -> tuple[int, int, float]:
        """Publish pending entries in order, marking each; stop at the first failure.

        Returns (published, still pending, age in seconds of the oldest pending entry or 0).
        """
        ...


@dataclass(frozen=True)
class RelayResult:
    """How many entries went out, how many still wait, and how long the oldest has waited."""

    published: int
    pending: int
    oldest_pending_seconds: float = 0.0


def relay_outbox(
    outbox: RelayableOutbox, publisher: RatingPublisher, limit: int = DEFAULT_BATCH
) -> RelayResult:
    """Publish up to `limit` outbox entries in order; stops early while Kafka is still down."""
    return RelayResult(*outbox.relay(publisher.publish, limit))
