"""The API's service logic with in-memory fakes of its ports."""

from __future__ import annotations

from typing import Any

import pytest

from talkrate.errors import BackendUnavailable, RatingNotStored, TalkNotFound
from talkrate.models import Histogram, RatingRequest, RatingSubmitted
from talkrate.ports import ProjectionBatch, ProjectionResult
from talkrate.rating import read_ratings, submit_rating

pytestmark = pytest.mark.unit


class FakeCatalog:
    def __init__(self, *talks: str) -> None:
        self.talks = set(talks)

    def exists(self, talk_id: str) -> bool:
        return talk_id in self.talks


class FakePublisher:
    def __init__(self, fail: bool = False) -> None:
        self.published: list[RatingSubmitted] = []
        self.fail = fail

    def publish(self, event: RatingSubmitted) -> None:
        if self.fail:
            raise BackendUnavailable("down")
        self.published.append(event)


class FakeOutbox:
    def __init__(self, fail: bool = False) -> None:
        self.kept: list[RatingSubmitted] = []
        self.fail = fail

    def enqueue(self, event: RatingSubmitted) -> None:
        if self.fail:
            raise BackendUnavailable("down")
        self.kept.append(event)


class FakeReadModel:
    def __init__(self, counts: dict[str, int] | None) -> None:
        self.counts = counts

    def histogram(self, talk_id: str) -> Histogram:
        if self.counts is None:
            raise BackendUnavailable("down")
        return Histogram.from_counts(self.counts)

    def apply(self, batch: ProjectionBatch) -> ProjectionResult:
        raise NotImplementedError


class FakeEventStore:
    def __init__(self, counts: dict[str, int]) -> None:
        self.counts = counts

    def record(self, batch: ProjectionBatch) -> ProjectionBatch:
        raise NotImplementedError

    def histogram(self, talk_id: str) -> Histogram:
        return Histogram.from_counts(self.counts)


class FakeStats:
    def __init__(self, answer: dict[str, Any] | None) -> None:
        self.answer = answer

    def stats(self, histogram: Histogram) -> dict[str, Any] | None:
        return self.answer


def test_a_rating_for_a_known_talk_is_published_once() -> None:
    publisher, outbox = FakePublisher(), FakeOutbox()
    submission = submit_rating(
        RatingRequest(talkId="t-1", value=4), FakeCatalog("t-1"), publisher, outbox
    )
    assert submission.status == "accepted"
    assert publisher.published == [submission.event]
    assert outbox.kept == []
    assert (submission.event.talk_id, submission.event.value) == ("t-1", 4)


def test_a_rating_for_an_unknown_talk_is_refused_and_not_published() -> None:
    publisher = FakePublisher()
    with pytest.raises(TalkNotFound):
        submit_rating(
            RatingRequest(talkId="nope", value=4), FakeCatalog("t-1"), publisher, FakeOutbox()
        )
    assert publisher.published == []


def test_a_stream_that_does_not_acknowledge_sends_the_rating_to_the_outbox() -> None:
    outbox = FakeOutbox()
    submission = submit_rating(
        RatingRequest(talkId="t-1", value=4), FakeCatalog("t-1"), FakePublisher(fail=True), outbox
    )
    assert submission.status == "queued"
    assert outbox.kept == [submission.event]


def test_only_when_neither_stream_nor_outbox_takes_it_is_the_rating_not_stored() -> None:
    with pytest.raises(RatingNotStored):
        submit_rating(
            RatingRequest(talkId="t-1", value=4),
            FakeCatalog("t-1"),
            FakePublisher(fail=True),
            FakeOutbox(fail=True),
        )


def test_ratings_come_with_stats_when_they_are_available() -> None:
    ratings = read_ratings(
        "t-1",
        FakeCatalog("t-1"),
        FakeReadModel({"5": 2}),
        FakeEventStore({}),
        FakeStats({"avg": 5.0, "totalCount": 2}),
    )
    body = ratings.model_dump(by_alias=True, exclude_none=True)
    assert body == {
        "talkId": "t-1",
        "ratings": {"1": 0, "2": 0, "3": 0, "4": 0, "5": 2},
        "stats": {"avg": 5.0, "totalCount": 2},
        "source": "read-model",
    }


def test_ratings_without_stats_are_still_an_answer() -> None:
    ratings = read_ratings(
        "t-1", FakeCatalog("t-1"), FakeReadModel({}), FakeEventStore({}), FakeStats(None)
    )
    assert "stats" not in ratings.model_dump(by_alias=True, exclude_none=True)


def test_an_unreachable_read_model_falls_back_to_the_event_store_and_says_so() -> None:
    ratings = read_ratings(
        "t-1", FakeCatalog("t-1"), FakeReadModel(None), FakeEventStore({"3": 4}), FakeStats(None)
    )
    assert ratings.source == "event-store"
    assert ratings.ratings["3"] == 4
