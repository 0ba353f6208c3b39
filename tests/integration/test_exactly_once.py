"""Event store and read model together: every event counted once, whatever the delivery does."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg2
import pytest

from talkrate.adapters.postgres import PostgresDatabase, PostgresEventStore
from talkrate.adapters.redis_store import ReadModelClient, RedisReadModel, connect, histogram_key
from talkrate.events import Rating
from talkrate.models import RatingSubmitted
from talkrate.projected import ProjectedRating, ProjectionBatch
from talkrate.projection import StreamRecord, project_batch
from talkrate.rebuild import RebuildInProgress, rebuild_read_model
from tests.builders import rating_event, unique_talk_id

pytestmark = pytest.mark.integration


@pytest.fixture
def store(talks_dsn: str) -> Iterator[PostgresEventStore]:
    database = PostgresDatabase(talks_dsn)
    yield PostgresEventStore(database)
    database.close()


@pytest.fixture
def model(read_model_url: str) -> RedisReadModel:
    return RedisReadModel(read_model_url)


@pytest.fixture
def redis_client(read_model_url: str) -> Iterator[ReadModelClient]:
    """A client of the same Redis, or Redis Cluster, as the model's."""
    client = connect(read_model_url, decode_responses=True)
    yield client
    client.close()


@pytest.fixture
def talk_id(redis_client: ReadModelClient) -> Iterator[str]:
    talk = unique_talk_id()
    yield talk
    redis_client.delete(histogram_key(talk))


@pytest.fixture
def topic() -> str:
    return f"t-{uuid.uuid4().hex[:8]}"


def at(topic: str, partition: int, offset: int, event: RatingSubmitted) -> StreamRecord:
    return StreamRecord(topic, partition, offset, event.key, event.to_json())


def test_a_producer_retry_at_a_new_offset_counts_once(
    store: PostgresEventStore, model: RedisReadModel, talk_id: str, topic: str
) -> None:
    # Given an event that reached the topic twice (a producer retry, or a relay crash)
    event = rating_event(talk_id, 5)
    # When both copies are projected, in one batch and again in a later one
    first = project_batch([at(topic, 0, 0, event), at(topic, 0, 1, event)], store, model)
    later = project_batch([at(topic, 1, 9, event)], store, model)
    # Then it counted once, and the copies were recognised as duplicates
    assert (first.applied, first.duplicates) == (1, 1)
    assert (later.applied, later.duplicates) == (0, 1)
    assert model.histogram(talk_id).counts["5"] == 1
    assert store.histogram(talk_id).counts["5"] == 1


def test_a_redelivery_cut_differently_stores_and_counts_only_the_new_events(
    store: PostgresEventStore, model: RedisReadModel, talk_id: str, topic: str
) -> None:
    # Given offsets 0..2 projected
    events = [rating_event(talk_id, 4) for _ in range(5)]
    project_batch([at(topic, 0, i, e) for i, e in enumerate(events[:3])], store, model)
    # When offsets 1..4 arrive: two stored events at their own positions, two new ones
    result = project_batch([at(topic, 0, i, events[i]) for i in range(1, 5)], store, model)
    # Then the stored ones are redeliveries (not duplicates) and each event counts once
    assert (result.applied, result.skipped, result.duplicates) == (2, 2, 0)
    assert model.histogram(talk_id).counts["4"] == 5
    assert store.histogram(talk_id).counts["4"] == 5


def test_positions_are_stored_as_delivered_whatever_the_topic_name_holds(
    store: PostgresEventStore, talk_id: str
) -> None:
    # Given a topic whose name holds characters that COPY's text format escapes
    topic = f"odd\\name\twith-{uuid.uuid4().hex[:8]}"
    event = rating_event(talk_id, 3)
    # When an event of it is stored
    recorded = store.record(
        ProjectionBatch(ratings=[ProjectedRating(topic, 2, 41, Rating.of(event))])
    )
    # Then its position reads back exactly
    assert not recorded.ratings[0].duplicate
    assert store.state().offsets[f"{topic}-2"] == 41
    assert store.histogram(talk_id).counts["3"] == 1


def test_a_crash_between_event_store_and_read_model_is_healed_by_the_redelivery(
    store: PostgresEventStore, model: RedisReadModel, talk_id: str, topic: str
) -> None:
    # Given a batch the projector stored in PostgreSQL and then crashed before Redis
    batch = [at(topic, 0, i, rating_event(talk_id, v)) for i, v in enumerate((1, 2, 2))]

    class CrashingReadModel:
        def histogram(self, talk_id: str) -> object:
            raise AssertionError

        def apply(self, batch: ProjectionBatch) -> object:
            raise SystemExit("projector killed")

    with pytest.raises(SystemExit):
        project_batch(batch, store, CrashingReadModel())  # type: ignore[arg-type]
    # When the event source redelivers the batch
    result = project_batch(batch, store, model)
    # Then every event counts, once: stored before is not the same as a duplicate
    assert (result.applied, result.duplicates) == (3, 0)
    assert model.histogram(talk_id).counts == {"1": 1, "2": 2, "3": 0, "4": 0, "5": 0}


def test_an_older_batch_redelivered_out_of_order_after_a_rebalance_changes_nothing(
    store: PostgresEventStore, model: RedisReadModel, talk_id: str, topic: str
) -> None:
    older = [at(topic, 2, i, rating_event(talk_id, 4)) for i in range(0, 3)]
    newer = [at(topic, 2, i, rating_event(talk_id, 3)) for i in range(3, 6)]
    project_batch(older, store, model)
    project_batch(newer, store, model)
    replay = project_batch(older, store, model)  # a consumer that rejoined late
    assert (replay.applied, replay.skipped) == (0, 3)
    assert model.histogram(talk_id).counts == {"1": 0, "2": 0, "3": 3, "4": 3, "5": 0}


def test_malformed_records_are_kept_whole_with_their_reason(
    store: PostgresEventStore, model: RedisReadModel, topic: str
) -> None:
    raw = json.dumps({"eventId": str(uuid.uuid4()), "type": "RatingSubmitted", "value": 9})
    result = project_batch([StreamRecord(topic, 0, 4, b"k", raw.encode())], store, model)
    again = project_batch([StreamRecord(topic, 0, 4, b"k", raw.encode())], store, model)
    assert (result.dead_lettered, again.skipped) == (1, 1)
    [letter] = [d for d in store.dead_letters() if d["topic"] == topic]
    assert (letter["partition"], letter["offset"], letter["value"]) == (0, 4, raw.encode())
    assert "value" in letter["reason"]
    assert "talkId" in letter["reason"]


def test_rebuild_recomputes_histograms_and_offsets_from_the_event_store(
    store: PostgresEventStore,
    model: RedisReadModel,
    talk_id: str,
    topic: str,
    redis_client: ReadModelClient,
) -> None:
    # Given projected events, and then a read model that lost everything
    project_batch([at(topic, 0, i, rating_event(talk_id, 5)) for i in range(4)], store, model)
    redis_client.flushdb()
    lines: list[str] = []
    # When the read model is rebuilt
    state = rebuild_read_model(store, model, progress=lines.append)
    # Then the histogram and the offsets are back, and a redelivery still counts nothing twice
    assert model.histogram(talk_id).counts["5"] == 4
    assert model.applied_offset(f"{topic}-0") == 3
    assert state.histograms[talk_id]["5"] == 4
    assert any("events" in line for line in lines)
    replay = project_batch([at(topic, 0, 3, rating_event(talk_id, 1))], store, model)
    assert replay.skipped == 1
    assert model.histogram(talk_id).counts["1"] == 0


def test_two_rebuilds_do_not_run_at_once(store: PostgresEventStore, model: RedisReadModel) -> None:
    assert model.lock_for_rebuild()
    try:
        with pytest.raises(RebuildInProgress):
            rebuild_read_model(store, model, progress=lambda _: None)
    finally:
        model.unlock_after_rebuild()


def test_the_event_store_answers_reads_when_redis_cannot(
    store: PostgresEventStore, model: RedisReadModel, talk_id: str, topic: str, talks_dsn: str
) -> None:
    project_batch([at(topic, 1, 0, rating_event(talk_id, 2))], store, model)
    assert store.histogram(talk_id).counts["2"] == 1
    with psycopg2.connect(talks_dsn) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM rating_events WHERE talk_id = %s", (talk_id,))
        assert cursor.fetchone() == (1,)
    connection.close()


def voter_event(talk_id: str, value: int, voter: str, ms: int) -> RatingSubmitted:
    """A voter's rating at a given time (ms after a fixed instant)."""
    base = RatingSubmitted.new(talk_id, value, voter)
    return base.model_copy(
        update={
            "occurred_at": datetime(2026, 11, 26, 10, 0, tzinfo=UTC) + timedelta(milliseconds=ms)
        }
    )


def test_a_voter_s_second_rating_replaces_the_first_exactly_once(
    store: PostgresEventStore, model: RedisReadModel, talk_id: str, topic: str
) -> None:
    # Given an attendee who rated a talk 2, another who rated it 4, and then the first re-rated 5
    first = [
        at(topic, 0, 0, voter_event(talk_id, 2, "badge-17", 0)),
        at(topic, 0, 1, voter_event(talk_id, 4, "badge-99", 10)),
    ]
    second = [at(topic, 0, 2, voter_event(talk_id, 5, "badge-17", 20))]
    # When the batches are projected, and each is delivered again
    for batch in (first, second, first, second):
        project_batch(batch, store, model)
    # Then the first attendee counts once, with their latest rating
    expected = {"1": 0, "2": 0, "3": 0, "4": 1, "5": 1}
    assert model.histogram(talk_id).counts == expected
    assert store.histogram(talk_id).counts == expected


def test_a_voter_s_older_rating_arriving_late_does_not_replace_the_newer_one(
    store: PostgresEventStore, model: RedisReadModel, talk_id: str, topic: str
) -> None:
    # Given the newer rating reached the topic first (the older one waited in the outbox)
    newer = voter_event(talk_id, 5, "badge-3", 500)
    older = voter_event(talk_id, 1, "badge-3", 100)
    project_batch([at(topic, 1, 0, newer)], store, model)
    project_batch([at(topic, 1, 1, older)], store, model)
    # Then the newer one counts, in the read model and in the event store alike
    assert model.histogram(talk_id).counts["5"] == 1
    assert model.histogram(talk_id).total == 1
    assert store.histogram(talk_id).counts == model.histogram(talk_id).counts


def test_rebuild_keeps_one_vote_per_voter(
    store: PostgresEventStore,
    model: RedisReadModel,
    talk_id: str,
    topic: str,
    redis_client: ReadModelClient,
) -> None:
    project_batch(
        [
            at(topic, 0, 0, voter_event(talk_id, 1, "v-1", 0)),
            at(topic, 0, 1, voter_event(talk_id, 3, "v-1", 5)),
            at(topic, 0, 2, rating_event(talk_id, 3)),
        ],
        store,
        model,
    )
    redis_client.flushdb()
    rebuild_read_model(store, model, progress=lambda _: None)
    assert model.histogram(talk_id).counts == {"1": 0, "2": 0, "3": 2, "4": 0, "5": 0}
    # the voter's current vote survived the rebuild: an older rating still does not replace it
    project_batch([at(topic, 0, 3, voter_event(talk_id, 5, "v-1", 1))], store, model)
    assert model.histogram(talk_id).counts["3"] == 2
    assert model.histogram(talk_id).counts["5"] == 0


def test_the_leaderboard_ranks_by_bayesian_average(
    store: PostgresEventStore, model: RedisReadModel, topic: str, redis_client: ReadModelClient
) -> None:
    # Given one talk with a single 5 and another with twenty 4s
    lucky, solid = unique_talk_id("lucky"), unique_talk_id("solid")
    batch = [at(topic, 0, 0, rating_event(lucky, 5))] + [
        at(topic, 0, 1 + i, rating_event(solid, 4)) for i in range(20)
    ]
    project_batch(batch, store, model)
    try:
        scores = dict(redis_client.zrange("leaderboard", 0, -1, withscores=True))
        # Then the talk with many good ratings ranks above the single 5
        assert scores[solid] > scores[lucky]
        assert scores[lucky] == pytest.approx((3.0 * 10 + 5) / 11)
        assert scores[solid] == pytest.approx((3.0 * 10 + 80) / 30)
    finally:
        redis_client.delete(histogram_key(lucky), histogram_key(solid))
        redis_client.zrem("leaderboard", lucky, solid)
