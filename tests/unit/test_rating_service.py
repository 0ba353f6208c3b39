"""The API's service logic with in-memory fakes of its ports."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from talkrate.adapters.limiter import LIMITS_BUILT_MARK, forgotten_key, limit_key
from talkrate.adapters.redis_store import _mark_of
from talkrate.api.errors import problem_for
from talkrate.container_limits import ContainerLimits
from talkrate.errors import (
    BackendUnavailable,
    ForgottenUnknown,
    ForgottenVoter,
    PublishUnconfirmed,
    RateLimited,
    RatingNotConfirmed,
    RatingNotStored,
    RatingWindowClosed,
    TalkNotFound,
)
from talkrate.events import Rating
from talkrate.projected import ProjectionBatch, ProjectionResult
from talkrate.rating import Rater, RatingRules, read_ratings, submit_rating
from talkrate.requests import RatingBody
from talkrate.values import Admission, Histogram, Limit, RatingWindow
from talkrate.voters import forgotten_id

pytestmark = pytest.mark.unit

NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
RULES = RatingRules(grace=timedelta(hours=24), per_voter=30, per_address=3000)
ANONYMOUS = Rater(None, "192.0.2.1")


class FakeCatalog:
    def __init__(self, *talks: str, window: RatingWindow | None = None) -> None:
        self.talks = set(talks)
        self.window = window or RatingWindow(None, None)

    def exists(self, talk_id: str) -> bool:
        return talk_id in self.talks

    def rating_window(self, talk_id: str) -> RatingWindow | None:
        return self.window if talk_id in self.talks else None


class FakeLimiter:
    """Counts per subject in memory, like the Redis script: a refused request counts nothing."""

    def __init__(self, down: bool = False, marks_lost: bool = False) -> None:
        self.used: dict[str, int] = {}
        self.accepted: set[str] = set()
        self.forgotten: set[str] = set()
        self.down = down
        self.marks_lost = marks_lost  # answering, without a built read model (flushed)
        # What the container counts while Redis is down (on a clock standing still: a test's
        # Retry-After does not depend on how fast the machine runs it).
        self.here = ContainerLimits(clock=lambda: 1000.0)

    def bar(self, pseudonym: str) -> None:
        self.forgotten.add(pseudonym)

    def admit(
        self,
        limits: list[Limit],
        accepted_event_id: str | None = None,
        forgotten: str | None = None,
    ) -> Admission:
        if self.down:
            raise BackendUnavailable("down")
        if forgotten in self.forgotten:
            return Admission(False, barred=True)
        if forgotten is not None and self.marks_lost:
            return Admission(False, unknown=True)
        keys = [(f"{limit.scope}/{limit.subject}", limit.per_minute) for limit in limits]
        if any(self.used.get(key, 0) >= per_minute for key, per_minute in keys if per_minute):
            return Admission(False, 42)
        for key, _ in keys:
            self.used[key] = self.used.get(key, 0) + 1
        if accepted_event_id:
            self.accepted.add(accepted_event_id)
        return Admission(True)

    def give_back(self, limits: list[Limit], event_id: str) -> None:
        for limit in limits:
            key = f"{limit.scope}/{limit.subject}"
            if self.used.get(key, 0) > 0:
                self.used[key] -= 1
        self.accepted.discard(event_id)

    def admit_here(self, limits: list[Limit]) -> Admission:
        return self.here.admit(limits)

    def give_back_here(self, limits: list[Limit]) -> None:
        self.here.give_back(limits)


def submit(
    request: RatingBody,
    catalog: FakeCatalog,
    publisher: FakePublisher,
    outbox: FakeOutbox,
    limiter: FakeLimiter | None = None,
    rater: Rater = ANONYMOUS,
    rules: RatingRules = RULES,
    now: datetime = NOW,
    forgotten_voters: FakeForgottenVoters | None = None,
) -> Any:
    return submit_rating(
        request,
        rater,
        rules,
        catalog,
        publisher,
        outbox,
        limiter or FakeLimiter(),
        now,
        forgotten_voters=forgotten_voters,
    )


class FakeForgottenVoters:
    """PostgreSQL's forgotten voters, counting how often they are asked."""

    def __init__(self, *pseudonyms: str, down: bool = False) -> None:
        self.pseudonyms = set(pseudonyms)
        self.down = down
        self.asked = 0

    def was_forgotten(self, pseudonym: str) -> bool:
        self.asked += 1
        if self.down:
            raise BackendUnavailable("down")
        return pseudonym in self.pseudonyms


class FakePublisher:
    """fail: refused before sending (nothing taken); unconfirmed: sent, never acknowledged."""

    def __init__(self, fail: bool = False, unconfirmed: bool = False) -> None:
        self.published: list[Rating] = []
        self.fail = fail
        self.unconfirmed = unconfirmed

    def publish(self, event: Rating) -> None:
        if self.unconfirmed:
            raise PublishUnconfirmed("sent, no acknowledgement in time")
        if self.fail:
            raise BackendUnavailable("down")
        self.published.append(event)


class FakeOutbox:
    def __init__(self, fail: bool = False) -> None:
        self.kept: list[Rating] = []
        self.fail = fail

    def enqueue(self, event: Rating) -> None:
        if self.fail:
            raise BackendUnavailable("down")
        self.kept.append(event)


class FakeReadModel:
    def __init__(self, counts: dict[str, int] | None, built: bool = True) -> None:
        self.counts = counts
        self.built = built
        self.asked_if_built = 0

    def histogram(self, talk_id: str) -> Histogram:
        if self.counts is None:
            raise BackendUnavailable("down")
        return Histogram.from_counts(self.counts)

    def histograms(self, talk_ids: list[str]) -> dict[str, Histogram]:
        return {talk_id: self.histogram(talk_id) for talk_id in talk_ids}

    def is_built(self) -> bool:
        self.asked_if_built += 1
        return self.built

    def apply(self, batch: ProjectionBatch) -> ProjectionResult:
        raise NotImplementedError


class FakeRebuilds:
    def __init__(self) -> None:
        self.asked = 0

    def rebuild_soon(self) -> None:
        self.asked += 1


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
    submission = submit(RatingBody("t-1", 4), FakeCatalog("t-1"), publisher, outbox)
    assert submission.status == "accepted"
    assert publisher.published == [submission.event]
    assert outbox.kept == []
    assert (submission.event.talk_id, submission.event.value) == ("t-1", 4)


def test_a_rating_for_an_unknown_talk_is_refused_and_not_published() -> None:
    publisher = FakePublisher()
    with pytest.raises(TalkNotFound):
        submit(RatingBody("nope", 4), FakeCatalog("t-1"), publisher, FakeOutbox())
    assert publisher.published == []


def test_a_stream_that_does_not_acknowledge_sends_the_rating_to_the_outbox() -> None:
    outbox = FakeOutbox()
    submission = submit(RatingBody("t-1", 4), FakeCatalog("t-1"), FakePublisher(fail=True), outbox)
    assert submission.status == "queued"
    assert outbox.kept == [submission.event]


def test_only_when_neither_stream_nor_outbox_takes_it_is_the_rating_not_stored() -> None:
    limiter = FakeLimiter()
    with pytest.raises(RatingNotStored):
        submit(
            RatingBody("t-1", 4),
            FakeCatalog("t-1"),
            FakePublisher(fail=True),
            FakeOutbox(fail=True),
            limiter,
        )
    assert limiter.accepted == set()  # its status does not claim it was accepted


def test_a_rating_the_stream_may_have_taken_and_the_outbox_did_not_is_said_unconfirmed() -> None:
    # Given a stream that was sent the rating and did not acknowledge it in time (it may have
    # taken it), and an outbox that cannot keep it
    limiter = FakeLimiter()
    # When it is rated
    with pytest.raises(RatingNotConfirmed) as unconfirmed:
        submit(
            RatingBody("t-1", 4),
            FakeCatalog("t-1"),
            FakePublisher(unconfirmed=True),
            FakeOutbox(fail=True),
            limiter,
        )
    # Then it is not said "not stored" (which tells a client it was not counted, so that its
    # retry without a key would count it twice) but unconfirmed, naming its event; its limits
    # are given back and its status claims nothing, as for one not stored
    assert not isinstance(unconfirmed.value, RatingNotStored)
    assert unconfirmed.value.event_id
    assert limiter.accepted == set()
    assert set(limiter.used.values()) <= {0}
    # And answered 503 with Retry-After in the problem+json shape, with the event's id and how
    # to send it again so that it counts once
    answer = problem_for(unconfirmed.value)
    assert (answer.status_code, answer.headers["Retry-After"]) == (503, "5")
    assert answer.content_type == "application/problem+json"
    problem = json.loads(answer.body)
    assert problem["type"] == "urn:talkrate:problem:rating-not-confirmed"
    assert problem["eventId"] == unconfirmed.value.event_id
    assert "may still be counted" in problem["detail"]
    assert "same Idempotency-Key" in problem["detail"]


def test_a_rating_the_stream_may_have_taken_goes_to_the_outbox_as_any_other() -> None:
    outbox = FakeOutbox()
    submission = submit(
        RatingBody("t-1", 4), FakeCatalog("t-1"), FakePublisher(unconfirmed=True), outbox
    )
    assert submission.status == "queued"
    assert outbox.kept == [submission.event]  # the relay's copy has its id: counted once


def test_ratings_come_with_stats_when_they_are_available() -> None:
    ratings = read_ratings(
        "t-1",
        FakeCatalog("t-1"),
        FakeReadModel({"5": 2}),
        FakeEventStore({}),
        FakeStats({"avg": 5.0, "totalCount": 2}),
        FakeRebuilds(),
    )
    body = ratings.document()
    assert body == {
        "talkId": "t-1",
        "ratings": {"1": 0, "2": 0, "3": 0, "4": 0, "5": 2},
        "stats": {"avg": 5.0, "totalCount": 2},
        "source": "read-model",
    }


def test_ratings_without_stats_are_still_an_answer() -> None:
    ratings = read_ratings(
        "t-1",
        FakeCatalog("t-1"),
        FakeReadModel({"3": 1}),
        FakeEventStore({}),
        FakeStats(None),
        FakeRebuilds(),
    )
    assert ratings.document() == {
        "talkId": "t-1",
        "ratings": {"1": 0, "2": 0, "3": 1, "4": 0, "5": 0},
        "source": "read-model",
    }


def test_an_unreachable_read_model_falls_back_to_the_event_store_and_says_so() -> None:
    ratings = read_ratings(
        "t-1",
        FakeCatalog("t-1"),
        FakeReadModel(None),
        FakeEventStore({"3": 4}),
        FakeStats(None),
        FakeRebuilds(),
    )
    assert ratings.source == "event-store"
    assert ratings.ratings["3"] == 4


def test_a_read_model_not_built_is_not_read_as_zeros_and_a_rebuild_is_asked_for() -> None:
    # Given Redis that answers but lost the read model (every talk at zero)
    read_model, rebuilds = FakeReadModel({}, built=False), FakeRebuilds()
    # When a talk's ratings are read
    ratings = read_ratings(
        "t-1", FakeCatalog("t-1"), read_model, FakeEventStore({"3": 4}), FakeStats(None), rebuilds
    )
    # Then they come from the event store, and a rebuild is asked for
    assert (ratings.source, ratings.ratings["3"]) == ("event-store", 4)
    assert rebuilds.asked == 1


def test_whether_the_read_model_is_built_is_asked_only_of_a_histogram_without_ratings() -> None:
    # Given a built read model
    rated, unrated, rebuilds = FakeReadModel({"4": 2}), FakeReadModel({}), FakeRebuilds()
    # When a rated talk, then a talk nobody rated, is read
    first = read_ratings(
        "t-1", FakeCatalog("t-1"), rated, FakeEventStore({}), FakeStats(None), rebuilds
    )
    second = read_ratings(
        "t-1", FakeCatalog("t-1"), unrated, FakeEventStore({"3": 9}), FakeStats(None), rebuilds
    )
    # Then the rated talk's read costs no question more; the zeros of a built read model are
    # its answer, and no rebuild is asked for
    assert (rated.asked_if_built, first.source) == (0, "read-model")
    assert (unrated.asked_if_built, second.source, second.ratings["3"]) == (1, "read-model", 0)
    assert rebuilds.asked == 0


# --- rating windows -----------------------------------------------------------------------------

START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
END = datetime(2026, 12, 1, 9, 45, tzinfo=UTC)


@pytest.mark.parametrize(
    ("window", "now", "taken"),
    [
        (RatingWindow(None, None), datetime(1999, 1, 1, tzinfo=UTC), True),
        (RatingWindow(START, END), START - timedelta(seconds=1), False),
        (RatingWindow(START, END), START, True),
        (RatingWindow(START, END), END + timedelta(hours=24), True),
        (RatingWindow(START, END), END + timedelta(hours=24, seconds=1), False),
        (RatingWindow(START, None), START + timedelta(days=400), True),
        (RatingWindow(None, END), START - timedelta(days=400), True),
        (RatingWindow(None, END), END + timedelta(hours=25), False),
    ],
)
def test_a_talk_takes_ratings_from_its_start_to_its_end_plus_the_grace(
    window: RatingWindow, now: datetime, taken: bool
) -> None:
    # Given a talk with this window, When a rating comes at `now`
    publisher = FakePublisher()
    catalog = FakeCatalog("t-1", window=window)
    request = RatingBody("t-1", 4)
    if taken:
        submit(request, catalog, publisher, FakeOutbox(), now=now)
    else:
        with pytest.raises(RatingWindowClosed):
            submit(request, catalog, publisher, FakeOutbox(), now=now)
    # Then it is published only inside the window
    assert bool(publisher.published) is taken


def test_a_closed_window_names_the_window_in_utc_and_counts_nothing() -> None:
    # Given a talk whose times the catalog read in its session's zone (+02:00)
    paris = timezone(timedelta(hours=2))
    limiter, publisher = FakeLimiter(), FakePublisher()
    catalog = FakeCatalog(
        "t-1", window=RatingWindow(START.astimezone(paris), END.astimezone(paris))
    )
    with pytest.raises(RatingWindowClosed) as closed:
        submit(
            RatingBody("t-1", 4),
            catalog,
            publisher,
            FakeOutbox(),
            limiter,
            rules=RatingRules(timedelta(hours=2), 30, 3000),
            now=END + timedelta(hours=3),
        )
    # Then the window is written as every time of the API: RFC 3339 in UTC, with "Z"
    assert closed.value.opens_at == "2026-12-01T09:00:00Z"
    assert closed.value.closes_at == "2026-12-01T11:45:00Z"
    assert publisher.published == []
    assert limiter.used == {}  # a refused rating does not use up the voter's limit


# --- rate limits --------------------------------------------------------------------------------


def test_over_a_voters_limit_nothing_is_counted_and_retry_after_is_given() -> None:
    # Given a voter limited to 3 ratings a minute
    limiter, publisher = FakeLimiter(), FakePublisher()
    rules = RatingRules(timedelta(hours=24), per_voter=3, per_address=3000)
    voter = Rater("a" * 32, "192.0.2.7")
    # When they send 5
    outcomes = []
    for value in (1, 2, 3, 4, 5):
        try:
            submit(
                RatingBody("t-1", value),
                FakeCatalog("t-1"),
                publisher,
                FakeOutbox(),
                limiter,
                rater=voter,
                rules=rules,
            )
            outcomes.append("accepted")
        except RateLimited as limited:
            outcomes.append(f"retry in {limited.retry_after}")
    # Then 3 are published with the voter's id, 2 refused, and the refused ones counted nowhere
    assert outcomes == ["accepted"] * 3 + ["retry in 42"] * 2
    assert [e.voter_id for e in publisher.published] == [voter.voter_id] * 3
    assert limiter.used == {f"voter/{voter.voter_id}": 3, "address/192.0.2.7": 3}
    assert len(limiter.accepted) == 3


def test_an_address_limit_applies_with_or_without_a_token() -> None:
    rules = RatingRules(timedelta(hours=24), per_voter=0, per_address=2)
    limits = rules.limits(Rater("b" * 32, "198.51.100.1")) + rules.limits(ANONYMOUS)
    assert [(limit.scope, limit.per_minute) for limit in limits] == [
        ("voter", 0),
        ("address", 2),
        ("address", 2),
    ]


def test_when_the_limits_cannot_be_read_the_rating_still_counts() -> None:
    publisher = FakePublisher()
    submission = submit(
        RatingBody("t-1", 5),
        FakeCatalog("t-1"),
        publisher,
        FakeOutbox(),
        FakeLimiter(down=True),
    )
    assert publisher.published == [submission.event]


def test_when_redis_cannot_count_the_container_counts_the_limits_itself() -> None:
    # Given Redis down, and a voter's limit of two ratings a minute
    publisher, limiter = FakePublisher(), FakeLimiter(down=True)
    rules = RatingRules(timedelta(hours=24), per_voter=2, per_address=0)
    forgotten = FakeForgottenVoters()

    def rate(outbox: FakeOutbox | None = None, publisher: FakePublisher = publisher) -> Any:
        return submit(
            RatingBody("t-1", 4),
            FakeCatalog("t-1"),
            publisher,
            outbox or FakeOutbox(),
            limiter,
            VOTER,
            rules,
            forgotten_voters=forgotten,
        )

    # When a rating is taken, and one neither Kafka nor the outbox took
    rate()
    with pytest.raises(RatingNotStored):
        rate(FakeOutbox(fail=True), FakePublisher(fail=True))
    # Then the one not stored was given back: one more is taken, and the next refused
    rate()
    with pytest.raises(RateLimited) as limited:
        rate()
    assert limited.value.retry_after == 60
    assert len(publisher.published) == 2


VOTER = Rater("a" * 32, "192.0.2.1")


@pytest.mark.parametrize(
    "limiter",
    [FakeLimiter(down=True), FakeLimiter(marks_lost=True)],
    ids=["redis-unreachable", "redis-marks-lost"],
)
def test_when_redis_cannot_say_a_forgotten_voter_is_refused_by_postgresql_s_word(
    limiter: FakeLimiter,
) -> None:
    # Given Redis cannot say whether a voter was forgotten, and PostgreSQL knows they were
    publisher = FakePublisher()
    store = FakeForgottenVoters(forgotten_id(VOTER.voter_id or ""))
    # When the voter rates
    # Then the rating is refused as a forgotten voter's, and nothing is published or counted
    with pytest.raises(ForgottenVoter):
        submit(
            RatingBody("t-1", 5),
            FakeCatalog("t-1"),
            publisher,
            FakeOutbox(),
            limiter,
            rater=VOTER,
            forgotten_voters=store,
        )
    assert publisher.published == []
    assert limiter.used == {}


def test_with_its_marks_lost_redis_counts_a_voter_postgresql_did_not_forget_once() -> None:
    # Given Redis without its read model (its marks lost), and a voter never forgotten
    limiter, publisher, store = FakeLimiter(marks_lost=True), FakePublisher(), FakeForgottenVoters()
    # When the voter rates
    submission = submit(
        RatingBody("t-1", 5),
        FakeCatalog("t-1"),
        publisher,
        FakeOutbox(),
        limiter,
        rater=VOTER,
        forgotten_voters=store,
    )
    # Then PostgreSQL is asked once, and the rating published, counted once against each limit
    assert store.asked == 1
    assert publisher.published == [submission.event]
    assert sorted(limiter.used.values()) == [1, 1]
    assert limiter.accepted == {submission.event.event_id}


@pytest.mark.parametrize(
    "limiter",
    [FakeLimiter(down=True), FakeLimiter(marks_lost=True)],
    ids=["redis-unreachable", "redis-marks-lost"],
)
def test_when_neither_redis_nor_postgresql_can_say_a_voter_s_rating_is_refused_for_now(
    limiter: FakeLimiter,
) -> None:
    publisher = FakePublisher()
    with pytest.raises(ForgottenUnknown):
        submit(
            RatingBody("t-1", 5),
            FakeCatalog("t-1"),
            publisher,
            FakeOutbox(),
            limiter,
            rater=VOTER,
            forgotten_voters=FakeForgottenVoters(down=True),
        )
    assert publisher.published == []


def test_with_redis_healthy_postgresql_is_never_asked_who_was_forgotten() -> None:
    store = FakeForgottenVoters()
    submit(
        RatingBody("t-1", 5),
        FakeCatalog("t-1"),
        FakePublisher(),
        FakeOutbox(),
        rater=VOTER,
        forgotten_voters=store,
    )
    assert store.asked == 0


def test_the_limits_script_reads_the_built_mark_of_its_own_slot_on_a_cluster() -> None:
    # (a cluster runs a script on the keys of one slot: the counters' and the marks')
    assert _mark_of(limit_key(Limit("voter", "someone", 1))) == LIMITS_BUILT_MARK
    assert _mark_of(forgotten_key("forgotten-0")) == LIMITS_BUILT_MARK


def test_a_window_ending_near_the_last_date_never_closes_rather_than_failing() -> None:
    # Given a talk stored with an end the grace would carry past the last date there is
    window = RatingWindow(None, datetime(9999, 12, 31, 23, 0, tzinfo=UTC))
    # Then its window closes at the last moment there is, and takes a rating now
    assert window.closes_at(timedelta(hours=24)) == datetime.max.replace(tzinfo=UTC)
    assert window.is_open(datetime(2026, 12, 1, tzinfo=UTC), timedelta(hours=24))
