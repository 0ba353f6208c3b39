"""Rating a talk and reading a talk's ratings: the API's service logic."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from talkrate.errors import BackendUnavailable, RatingNotStored, TalkNotFound
from talkrate.models import RatingRequest, RatingSubmitted, TalkRatings
from talkrate.observability import logger
from talkrate.ports import (
    EventStore,
    RatingOutbox,
    RatingPublisher,
    RatingsReadModel,
    StatsCalculator,
    TalkCatalog,
)


@dataclass(frozen=True)
class Submission:
    """An accepted rating: on the stream (`accepted`) or kept in the outbox for it (`queued`)."""

    event: RatingSubmitted
    status: Literal["accepted", "queued"]


class AcceptedRatings(Protocol):
    """Remembers which events Kafka acknowledged, for their status."""

    def mark_accepted(self, event_id: str) -> None:
        """Remember the acknowledgement."""
        ...


def submit_rating(
    request: RatingRequest,
    catalog: TalkCatalog,
    publisher: RatingPublisher,
    outbox: RatingOutbox,
    accepted: AcceptedRatings | None = None,
) -> Submission:
    """Accept a rating for a known talk: publish it, or keep it in the outbox when Kafka is down.

    Raises TalkNotFound for an unknown talk, and RatingNotStored only when neither Kafka nor the
    outbox took the rating.
    """
    if not catalog.exists(request.talk_id):
        raise TalkNotFound(request.talk_id)
    event = RatingSubmitted.new(request.talk_id, request.value, request.voter_id)
    try:
        publisher.publish(event)
    except BackendUnavailable as stream_error:
        logger.warning(
            "stream unavailable, keeping the rating in the outbox",
            extra={"eventId": str(event.event_id), "error": str(stream_error)},
        )
    else:
        if accepted is not None:
            try:
                accepted.mark_accepted(str(event.event_id))
            except Exception:  # only the status page loses: it shows the rating once projected
                logger.warning("could not record the acknowledgement", exc_info=True)
        return Submission(event, "accepted")
    try:
        outbox.enqueue(event)
    except BackendUnavailable as outbox_error:
        raise RatingNotStored("neither the stream nor the outbox took the rating") from outbox_error
    return Submission(event, "queued")


def read_ratings(
    talk_id: str,
    catalog: TalkCatalog,
    read_model: RatingsReadModel,
    event_store: EventStore,
    calculator: StatsCalculator,
) -> TalkRatings:
    """A talk's histogram with its statistics (left out when unavailable).

    The histogram comes from the read model, or from the event store when the read model is
    unreachable; `source` says which.
    """
    if not catalog.exists(talk_id):
        raise TalkNotFound(talk_id)
    try:
        histogram, source = read_model.histogram(talk_id), "read-model"
    except BackendUnavailable:
        logger.warning("read model unreachable, counting from the event store")
        histogram, source = event_store.histogram(talk_id), "event-store"
    return TalkRatings(
        talk_id=talk_id, ratings=histogram.counts, stats=calculator.stats(histogram), source=source
    )


class ProjectedEvents(Protocol):
    """The event store, asked whether an event was projected."""

    def is_projected(self, event_id: str) -> bool:
        """In the event store."""
        ...


class OutboxStatus(Protocol):
    """The outbox, asked about an entry."""

    def status(self, event_id: str) -> str | None:
        """ "queued", "published" or None."""
        ...


class AcknowledgedEvents(Protocol):
    """What remembers Kafka's acknowledgements."""

    def was_accepted(self, event_id: str) -> bool:
        """Kafka acknowledged it recently."""
        ...


def rating_status(
    event_id: str,
    event_store: ProjectedEvents,
    outbox: OutboxStatus,
    read_model: AcknowledgedEvents,
) -> Literal["queued", "accepted", "projected"] | None:
    """Where a rating is: in the outbox, on Kafka, or counted; None when unknown."""
    if event_store.is_projected(event_id):
        return "projected"
    in_outbox = outbox.status(event_id)
    if in_outbox == "queued":
        return "queued"
    if in_outbox == "published" or read_model.was_accepted(event_id):
        return "accepted"
    return None
