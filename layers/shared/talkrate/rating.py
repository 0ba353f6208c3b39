"""Rating a talk and reading a talk's ratings: the API's service logic."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

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


def submit_rating(
    request: RatingRequest,
    catalog: TalkCatalog,
    publisher: RatingPublisher,
    outbox: RatingOutbox,
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
        return Submission(event, "accepted")
    except BackendUnavailable as stream_error:
        logger.warning(
            "stream unavailable, keeping the rating in the outbox",
            extra={"eventId": str(event.event_id), "error": str(stream_error)},
        )
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
