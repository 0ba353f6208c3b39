"""Rating a talk and reading a talk's ratings: the API's service logic."""

from __future__ import annotations

from talkrate.errors import TalkNotFound
from talkrate.models import RatingRequest, RatingSubmitted, TalkRatings
from talkrate.ports import RatingPublisher, RatingsReadModel, StatsCalculator, TalkCatalog


def submit_rating(
    request: RatingRequest, catalog: TalkCatalog, publisher: RatingPublisher
) -> RatingSubmitted:
    """Accept a rating for a known talk and publish it; returns the published event."""
    if not catalog.exists(request.talk_id):
        raise TalkNotFound(request.talk_id)
    event = RatingSubmitted.new(request.talk_id, request.value)
    publisher.publish(event)
    return event


def read_ratings(
    talk_id: str,
    catalog: TalkCatalog,
    read_model: RatingsReadModel,
    calculator: StatsCalculator,
) -> TalkRatings:
    """A talk's histogram with its statistics; the statistics are left out when unavailable."""
    if not catalog.exists(talk_id):
        raise TalkNotFound(talk_id)
    histogram = read_model.histogram(talk_id)
    return TalkRatings(talk_id=talk_id, ratings=histogram.counts, stats=calculator.stats(histogram))
