"""Event store and read model together: every event counted once, whatever the delivery does."""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg2
import pytest

from talkrate.adapters import redis_store
from talkrate.adapters.postgres import PostgresDatabase, PostgresEventStore, PostgresOutbox
from talkrate.adapters.redis_store import (
    BUILT_KEY,
    LEADERBOARD_KEY,
    ReadModelClient,
    RedisReadModel,
    connect,
    histogram_key,
    votes_key,
)
from talkrate.errors import ReadModelRebuilding, RebuildLockLost
from talkrate.events import Rating
from talkrate.models import RatingSubmitted
from talkrate.projected import ProjectedRating, ProjectionBatch
from talkrate.projection import StreamRecord, classify, project_batch
from talkrate.rating import rating_status
from talkrate.rebuild import RebuildInProgress, rebuild_if_lost, rebuild_read_model
from talkrate_local.stack import retire_positions_of_fresh_topics
from tests.builders import rating_event, unique_talk_id
from tests.redis_cluster import LocalRedisCluster

pytestmark = pytest.mark.integration


@pytest.fixture
def store(talks_dsn: str, request: pytest.FixtureRequest) -> Iterator[PostgresEventStore]:
    """The event store; on a bounded (asynchronous) connection where a test asks for it with
    `@pytest.mark.parametrize("store", ["bounded"], indirect=True)`: no COPY there, the checking
    INSERT must store and judge the same."""
    bounded = getattr(request, "param", "unbounded") == "bounded"
    database = PostgresDatabase(talks_dsn, answer_within=5.0 if bounded else None)
    yield PostgresEventStore(database)
    database.close()


BOTH_CONNECTIONS = pytest.mark.parametrize("store", ["unbounded", "bounded"], indirect=True)


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


@BOTH_CONNECTIONS
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


@BOTH_CONNECTIONS
def test_a_duplicate_leaves_its_position_so_a_rebuild_finds_the_store_where_the_read_model_is(
    store: PostgresEventStore, model: RedisReadModel, talk_id: str, topic: str
) -> None:
    # Given two ratings, then a copy of the first as the partition's last record (a producer's
    # retry, the relay publishing an entry Kafka had taken)
    event = rating_event(talk_id, 5)
    project_batch([at(topic, 0, 0, event), at(topic, 0, 1, rating_event(talk_id, 3))], store, model)
    assert project_batch([at(topic, 0, 2, event)], store, model).duplicates == 1
    # And the copy delivered again, at the same position: nothing stored or counted twice
    assert project_batch([at(topic, 0, 2, event)], store, model).applied == 0
    # When the read model is rebuilt, comparing the topic's applied offsets with the store
    state = rebuild_read_model(store, model, progress=lambda _: None, topic=topic)
    # Then it goes ahead (EventStoreBehind: the store's positions ended at 1), the copy's
    # offset applied and each rating counted once
    assert state.offsets[f"{topic}-0"] == 2
    assert model.applied_offset(f"{topic}-0") == 2
    assert model.histogram(talk_id).counts == {"1": 0, "2": 0, "3": 1, "4": 0, "5": 1}
    # And once the topic is recreated empty, the copy's position is retired with the rest: a
    # rebuild takes none of the old topic's offsets for the new one's
    assert store.retire_topic(topic) == 3
    assert f"{topic}-0" not in store.state().offsets


@BOTH_CONNECTIONS
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


@BOTH_CONNECTIONS
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


def test_a_rating_stored_by_a_try_whose_clock_read_later_counts_when_the_retry_s_reads_earlier(
    store: PostgresEventStore, model: RedisReadModel, talk_id: str, topic: str
) -> None:
    # Given a rating stamped 6 minutes ahead of this clock, beside a record that is no event,
    # which a first try of the batch, on a clock 2 minutes ahead (within its 5 minutes' margin),
    # stored as a rating before it crashed
    now = datetime.now(UTC)
    ahead = rating_event(talk_id, 4).model_copy(update={"occurred_at": now + timedelta(minutes=6)})
    batch = [at(topic, 0, 0, ahead), StreamRecord(topic, 0, 1, None, b"not an event")]
    store.record(classify(batch, now=now + timedelta(minutes=2)))
    # When the batch is delivered again to a projector whose clock reads now (the rating past
    # its margin here)
    result = project_batch(batch, store, model)
    # Then the rating the event store holds counts live too (it was set aside here, and counted
    # nowhere but in the next rebuild), and only the other record is set aside
    assert model.histogram(talk_id).counts == store.histogram(talk_id).counts
    assert model.histogram(talk_id).total == 1
    assert result.applied == 1
    assert result.dead_lettered == 1
    letters = [d for d in store.dead_letters() if d["topic"] == topic]
    assert [d["offset"] for d in letters] == [1]


def test_a_replay_on_an_earlier_clock_keeps_a_stored_rating_a_rating(
    store: PostgresEventStore, model: RedisReadModel, talk_id: str, topic: str
) -> None:
    from talkrate_cli.operations.replay import replay

    # Given a rating stamped 6 minutes ahead of this clock, stored by a projector whose clock
    # read 2 minutes later (within its margin)
    now = datetime.now(UTC)
    ahead = rating_event(talk_id, 5).model_copy(update={"occurred_at": now + timedelta(minutes=6)})
    batch = [at(topic, 0, 0, ahead)]
    store.record(classify(batch, now=now + timedelta(minutes=2)))
    # When an operator replays its position on this clock
    result = replay(batch, store, model, progress=lambda _: None)
    # Then it is the stored rating, no dead letter beside it (one was stored, said new)
    assert (result.dead_letters, result.new_dead_letters, result.stored) == (0, 0, 1)
    assert [d for d in store.dead_letters() if d["topic"] == topic] == []
    assert model.histogram(talk_id).counts == store.histogram(talk_id).counts


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


def test_a_read_model_lost_from_redis_is_rebuilt_before_the_next_batch_only(
    store: PostgresEventStore,
    model: RedisReadModel,
    talk_id: str,
    topic: str,
    redis_client: ReadModelClient,
) -> None:
    # Given a built read model holding projected ratings
    rebuild_read_model(store, model, progress=lambda _: None)
    project_batch([at(topic, 0, i, rating_event(talk_id, 4)) for i in range(3)], store, model)
    assert model.is_built()
    assert rebuild_if_lost(store, model, progress=lambda _: None) is None
    # When Redis loses everything
    redis_client.flushdb()
    assert not model.is_built()
    assert model.ping() == "empty"
    # Then the read model is rebuilt, once, and the ratings are back
    state = rebuild_if_lost(store, model, progress=lambda _: None)
    assert state is not None
    assert state.histograms[talk_id]["4"] == 3
    assert model.is_built()
    assert model.ping() is True
    assert rebuild_if_lost(store, model, progress=lambda _: None) is None
    assert model.histogram(talk_id).counts["4"] == 3
    # And while another rebuild holds the lock, the projector's batch waits for it
    redis_client.flushdb()
    assert model.lock_for_rebuild()
    try:
        with pytest.raises(ReadModelRebuilding):
            rebuild_if_lost(store, model, progress=lambda _: None)
    finally:
        model.unlock_after_rebuild()


def test_a_batch_whose_redis_lost_its_data_after_the_look_is_refused_then_counted_whole(
    store: PostgresEventStore,
    model: RedisReadModel,
    talk_id: str,
    topic: str,
    redis_client: ReadModelClient,
    request: pytest.FixtureRequest,
) -> None:
    # Given a built read model holding the talk's three ratings, and a batch of one more rating
    # that the projector's look found the read model built for, stored in the event store
    rebuild_read_model(store, model, progress=lambda _: None)
    project_batch([at(topic, 0, i, rating_event(talk_id, 4)) for i in range(3)], store, model)
    records = [at(topic, 0, 3, rating_event(talk_id, 5))]
    assert rebuild_if_lost(store, model, progress=lambda _: None) is None
    batch = store.record(classify(records))
    # When Redis loses its data (flushed, restarted empty) before the batch is applied: on a
    # cluster, the talk's shard only
    if model.cluster:
        cluster: LocalRedisCluster = request.getfixturevalue("redis_cluster")
        cluster.flush(cluster.primary_of(histogram_key(talk_id)))
    else:
        redis_client.flushdb()
    # Then the apply is refused and writes nothing: the talk never reads as the batch alone
    with pytest.raises(ReadModelRebuilding, match="NOTBUILT"):
        model.apply(batch)
    assert model.histogram(talk_id).total == 0
    # And the batch's retry (the projector's look first) rebuilds the read model, then applies
    # it: the talk's counts are the event store's
    assert rebuild_if_lost(store, model, progress=lambda _: None) is not None
    retried = project_batch(records, store, model)
    assert (retried.applied, retried.skipped) == (0, 1)  # in the rebuild already
    assert model.histogram(talk_id).counts == {"1": 0, "2": 0, "3": 0, "4": 3, "5": 1}
    assert model.histogram(talk_id).revision == 4


def test_a_projector_that_saw_the_loss_before_another_rebuilt_it_does_not_rebuild_it_again(
    store: PostgresEventStore,
    model: RedisReadModel,
    read_model_url: str,
    talk_id: str,
    topic: str,
    redis_client: ReadModelClient,
) -> None:
    # Given a read model with ratings, lost from Redis, and two projector invocations that both
    # looked at it while it was lost (batches of several partitions, at once)
    rebuild_read_model(store, model, progress=lambda _: None)
    project_batch([at(topic, 0, i, rating_event(talk_id, 4)) for i in range(3)], store, model)
    redis_client.flushdb()

    class LookedWhileLost(RedisReadModel):
        """The second invocation: its first look was taken before the first one rebuilt."""

        looks = 0

        def is_built(self) -> bool:
            self.looks += 1
            return self.looks > 1 and super().is_built()

    second = LookedWhileLost(read_model_url)
    # When the first rebuilds it, and the second takes the lock after that
    assert rebuild_if_lost(store, model, progress=lambda _: None) is not None
    rebuilt_again = rebuild_if_lost(store, second, progress=lambda _: None)
    # Then the second looks again under the lock and leaves the read model as it is (a rebuild
    # each, in turn, would hold every batch off as many times), and lets the lock go
    assert rebuilt_again is None
    assert second.looks == 2
    assert model.histogram(talk_id).counts["4"] == 3
    assert model.lock_for_rebuild()
    model.unlock_after_rebuild()


def test_on_a_cluster_a_shard_that_lost_its_data_is_noticed_and_rebuilt(
    store: PostgresEventStore, redis_cluster: LocalRedisCluster, topic: str
) -> None:
    # Given a built read model on a cluster, and a talk on each primary (counted there)
    model = RedisReadModel(redis_cluster.url)
    rebuild_read_model(store, model, progress=lambda _: None)
    talks: dict[int, str] = {}
    while len(talks) < len(redis_cluster.primaries()):
        talk = unique_talk_id()
        talks.setdefault(redis_cluster.primary_of(histogram_key(talk)), talk)
    offset = 0
    for talk in talks.values():
        records = [at(topic, 0, offset + i, rating_event(talk, 4)) for i in range(3)]
        project_batch(records, store, model)
        offset += 3
    assert model.is_built()
    built_on = redis_cluster.primary_of(BUILT_KEY)
    # When each shard in turn loses its data (the shard holding projector/built last), its
    # talk's counts with it
    for shard in sorted(talks, key=lambda port: port == built_on):
        redis_cluster.flush(shard)
        assert model.histogram(talks[shard]).total == 0
        # Then the loss is seen, GET / says so, and the next batch's check rebuilds it
        assert not model.is_built()
        assert model.ping() == "empty"
        assert rebuild_if_lost(store, model, progress=lambda _: None) is not None
        assert model.is_built()
        assert model.ping() is True
        for talk in talks.values():
            assert model.histogram(talk).counts["4"] == 3
    # And a redelivery after the rebuilds still counts nothing twice
    replay = project_batch(
        [at(topic, 0, 0, rating_event(next(iter(talks.values())), 1))], store, model
    )
    assert replay.skipped == 1


def test_on_a_cluster_a_batch_held_across_a_rebuild_never_ranks_its_older_score(
    store: PostgresEventStore, redis_cluster: LocalRedisCluster, topic: str
) -> None:
    # Given a talk rated 1 twenty times, counted on a cluster
    model = RedisReadModel(redis_cluster.url)
    rebuild_read_model(store, model, progress=lambda _: None)
    talk = unique_talk_id()
    project_batch([at(topic, 0, i, rating_event(talk, 1)) for i in range(20)], store, model)
    held, release = threading.Event(), threading.Event()

    class Held(RedisReadModel):
        """A projector's read model held before its last round trip (the one ranking talks)."""

        round_trips = 0

        def _pipelined(
            self, build: Callable[[Any], None], keep: Callable[[Any], bool] | None = None
        ) -> list[Any]:
            self.round_trips += 1
            if self.round_trips == 2:
                held.set()
                release.wait(10)
            return super()._pipelined(build, keep)

    # And a projector whose batch (one rating 5) counted the talk, held before it ranks the talk
    # with the score it read there (over 21 ratings)
    worker = threading.Thread(
        target=project_batch,
        args=([at(topic, 1, 0, rating_event(talk, 5))], store, Held(redis_cluster.url)),
    )
    worker.start()
    client = connect(redis_cluster.url, decode_responses=True)
    try:
        assert held.wait(10)
        # When another batch's ten ratings 5 are stored (its apply not come yet), the read model
        # is rebuilt from the event store (the talk's 31 ratings), and the held batch then
        # ranks the talk
        store.record(classify([at(topic, 2, i, rating_event(talk, 5)) for i in range(10)]))
        rebuild_read_model(store, model, progress=lambda _: None)
        rebuilt = client.zscore(LEADERBOARD_KEY, talk)
        release.set()
        worker.join(10)
        # Then the leaderboard keeps the rebuilt score, that of the talk's 31 ratings
        assert model.histogram(talk).counts["1"] == 20
        assert model.histogram(talk).counts["5"] == 11
        assert rebuilt == pytest.approx((3.0 * 10 + 20 + 55) / 41)
        assert client.zscore(LEADERBOARD_KEY, talk) == pytest.approx(rebuilt)
    finally:
        release.set()
        worker.join(10)
        client.zrem(LEADERBOARD_KEY, talk)
        client.close()


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


def test_a_talk_s_revision_counts_what_was_applied_to_it_and_a_rebuild_keeps_it(
    store: PostgresEventStore,
    model: RedisReadModel,
    talk_id: str,
    topic: str,
    redis_client: ReadModelClient,
) -> None:
    # Given two attendees' ratings and a rating without a voter, in two partitions
    first = [
        at(topic, 0, 0, voter_event(talk_id, 2, "badge-17", 0)),
        at(topic, 0, 1, voter_event(talk_id, 4, "badge-99", 10)),
        at(topic, 1, 0, rating_event(talk_id, 3)),
    ]
    project_batch(first, store, model)
    assert model.histogram(talk_id).revision == 3
    # When the first attendee changes their rating (the total stays 3), and every batch is
    # delivered again
    change = [at(topic, 0, 2, voter_event(talk_id, 5, "badge-17", 20))]
    for batch in (change, first, change):
        project_batch(batch, store, model)
    # Then the revision moved by the change alone: a page tells the newer state by it
    assert model.histogram(talk_id).total == 3
    assert model.histogram(talk_id).revision == 4
    # And the event store, and a rebuild of the read model from it, say the same
    assert store.histogram(talk_id).revision == 4
    rebuild_read_model(store, model, progress=lambda _: None)
    assert model.histogram(talk_id) == store.histogram(talk_id)
    assert model.histograms([talk_id, unique_talk_id()])[talk_id].revision == 4
    # And the next rating goes on from there
    project_batch([at(topic, 1, 1, rating_event(talk_id, 1))], store, model)
    assert model.histogram(talk_id).revision == 5
    # And a revision above the stored events (counted differently before) is not lowered by a
    # rebuild: a page never sees a talk's revision go back
    redis_client.hset(histogram_key(talk_id), "revision", 40)
    rebuild_read_model(store, model, progress=lambda _: None)
    assert model.histogram(talk_id).revision == 40


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


# --- records that once failed a whole batch, and edges of the voters' order -----------------------


def raw(topic: str, offset: int, talk_id: str, **fields: object) -> StreamRecord:
    """A record in no form talkrate writes: the event's fields as given, as JSON text."""
    body = {"eventId": str(uuid.uuid4()), "type": "RatingSubmitted", "schemaVersion": 1}
    body |= {"talkId": talk_id, "value": 3, "occurredAt": "2026-11-26T10:00:00Z"} | fields
    key = talk_id.encode("utf-8", "backslashreplace")
    return StreamRecord(topic, 0, offset, key, json.dumps(body).encode())


def test_records_the_model_cannot_take_become_dead_letters_and_the_rest_counts(
    store: PostgresEventStore, model: RedisReadModel, talk_id: str, topic: str
) -> None:
    # Given a batch with two good ratings among records that once failed the whole batch:
    # moments an offset carries past the calendar, a voter's rating before 1970 (in the form
    # talkrate writes), an eventId with a NUL and a talk id with a lone surrogate (which the
    # reason quotes, and PostgreSQL cannot store as text)
    good = [rating_event(talk_id, 5), rating_event(talk_id, 4)]
    before_1970 = RatingSubmitted.new(talk_id, 2, "voter-1").model_copy(
        update={"occurred_at": datetime(1969, 12, 31, 23, 59, 59, tzinfo=UTC)}
    )
    records = [
        at(topic, 0, 0, good[0]),
        raw(topic, 1, talk_id, occurredAt="0001-01-01T00:30:00+01:00"),
        raw(topic, 2, talk_id, occurredAt="9999-12-31T23:30:00-01:00"),
        StreamRecord(topic, 0, 3, talk_id.encode(), before_1970.to_json()),
        raw(topic, 4, talk_id, eventId="\x00" * 36),
        raw(topic, 5, "\ud800"),
        at(topic, 0, 6, good[1]),
    ]
    # When it is projected
    result = project_batch(records, store, model)
    # Then the good ratings count and every other record is set aside with its reason
    assert (result.applied, result.dead_lettered) == (2, 5)
    assert model.histogram(talk_id).counts == {"1": 0, "2": 0, "3": 0, "4": 1, "5": 1}
    letters = [d for d in store.dead_letters() if d["topic"] == topic]
    assert sorted(d["offset"] for d in letters) == [1, 2, 3, 4, 5]
    assert all(d["reason"] for d in letters)


def test_a_rating_stamped_in_the_future_is_set_aside_and_its_voter_s_next_ratings_count(
    store: PostgresEventStore, model: RedisReadModel, talk_id: str, topic: str
) -> None:
    # Given a voter's rating, counted
    now = datetime.now(UTC)
    rated = [
        at(topic, 0, 0, RatingSubmitted.new(talk_id, 2, "voter-1", now - timedelta(minutes=1)))
    ]
    project_batch(rated, store, model)
    # When a record naming the voter, stamped in 2099, reaches the topic (any Kafka client can
    # produce one), and then the voter's next rating
    forged = RatingSubmitted.new(talk_id, 1, "voter-1").model_copy(
        update={"occurred_at": datetime(2099, 1, 1, tzinfo=UTC)}
    )
    set_aside = project_batch([at(topic, 0, 1, forged)], store, model)
    project_batch([at(topic, 0, 2, RatingSubmitted.new(talk_id, 5, "voter-1"))], store, model)
    # Then the forged record is a dead letter that says why, and the voter's newest real rating
    # counts, once
    assert (set_aside.applied, set_aside.dead_lettered) == (0, 1)
    [letter] = [d for d in store.dead_letters() if d["topic"] == topic]
    assert letter["offset"] == 1
    assert letter["reason"].startswith("occurredAt: 2099-01-01T00:00:00.000Z is later than")
    expected = {"1": 0, "2": 0, "3": 0, "4": 0, "5": 1}
    assert model.histogram(talk_id).counts == expected
    # And the event store, and a read model rebuilt from it, say the same
    assert store.histogram(talk_id).counts == expected
    rebuild_read_model(store, model, progress=lambda _: None)
    assert model.histogram(talk_id).counts == expected


def test_a_vote_stored_before_1970_does_not_block_the_voter_s_next_rating(
    store: PostgresEventStore,
    model: RedisReadModel,
    talk_id: str,
    topic: str,
    redis_client: ReadModelClient,
) -> None:
    # Given a vote kept from before such ratings were set aside: negative milliseconds
    redis_client.hset(votes_key(talk_id), "voter-1", f"2|-1000|{uuid.uuid4()}")
    redis_client.hset(histogram_key(talk_id), "2", 1)
    # When the voter rates the talk again
    result = project_batch([at(topic, 0, 0, voter_event(talk_id, 5, "voter-1", 0))], store, model)
    # Then the newer rating replaces it
    assert result.applied == 1
    assert model.histogram(talk_id).counts == {"1": 0, "2": 0, "3": 0, "4": 0, "5": 1}
    redis_client.delete(votes_key(talk_id))


@pytest.mark.parametrize("arrival", ["earlier-first", "later-first"])
def test_a_voter_s_two_ratings_in_one_millisecond_count_alike_everywhere(
    store: PostgresEventStore,
    model: RedisReadModel,
    talk_id: str,
    topic: str,
    redis_client: ReadModelClient,
    arrival: str,
) -> None:
    # Given two ratings by one voter in the same millisecond, with microseconds (a client that
    # is not talkrate's): the later one by microseconds has the smaller eventId
    unique = uuid.uuid4().hex[:12]
    ratings = [
        {
            "value": 1,
            "eventId": f"ffffffff-ffff-4fff-bfff-{unique}",
            "occurredAt": "2026-11-26T10:00:00.123100Z",
        },
        {
            "value": 5,
            "eventId": f"00000000-0000-4000-8000-{unique}",
            "occurredAt": "2026-11-26T10:00:00.123900Z",
        },
    ]
    # arriving in either order: the one kept must not depend on which the topic held first
    if arrival == "later-first":
        ratings.reverse()
    records = [
        raw(topic, offset, talk_id, voterId="v-9", **fields)
        for offset, fields in enumerate(ratings)
    ]
    # When they are projected, and the read model is rebuilt from the event store
    project_batch(records, store, model)
    projected = model.histogram(talk_id).counts
    stored = store.histogram(talk_id).counts
    redis_client.flushdb()
    rebuild_read_model(store, model, progress=lambda _: None)
    # Then the projector, the event store and the rebuild keep the same one (milliseconds, as
    # on the wire, then the eventId)
    assert projected == stored == model.histogram(talk_id).counts
    assert projected["1"] == 1


def test_a_voter_whose_id_reads_like_another_rating_s_event_id_is_another_voter(
    store: PostgresEventStore,
    model: RedisReadModel,
    talk_id: str,
    topic: str,
    redis_client: ReadModelClient,
) -> None:
    anonymous = rating_event(talk_id, 1)
    voter = RatingSubmitted.new(talk_id, 5, str(anonymous.event_id))
    project_batch([at(topic, 0, 0, anonymous), at(topic, 0, 1, voter)], store, model)
    both = {"1": 1, "2": 0, "3": 0, "4": 0, "5": 1}
    assert model.histogram(talk_id).counts == store.histogram(talk_id).counts == both
    redis_client.flushdb()
    rebuild_read_model(store, model, progress=lambda _: None)
    assert model.histogram(talk_id).counts == both


def test_a_position_delivered_twice_in_one_batch_counts_once(
    store: PostgresEventStore, model: RedisReadModel, talk_id: str, topic: str
) -> None:
    event = rating_event(talk_id, 4)
    result = project_batch([at(topic, 0, 0, event), at(topic, 0, 0, event)], store, model)
    assert result.applied == 1
    assert model.histogram(talk_id).counts["4"] == store.histogram(talk_id).counts["4"] == 1


class _SlowSource:
    """The event store, read slowly: `pauses` waits, naming each step (or not) in between."""

    def __init__(self, store: PostgresEventStore, pauses: int, tell: bool) -> None:
        self._store, self._pauses, self._tell = store, pauses, tell

    def state(self, progress: Callable[[str], None]) -> Any:
        for step in range(self._pauses):
            time.sleep(0.4)
            if self._tell:
                progress(f"step {step}")
        return self._store.state(progress)


def test_a_rebuild_whose_lock_ran_out_replaces_nothing(
    store: PostgresEventStore,
    model: RedisReadModel,
    talk_id: str,
    topic: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a lock that lasts one second, and a rebuild that reads for longer without a word
    monkeypatch.setattr(redis_store, "REBUILD_LOCK_SECONDS", 1)
    project_batch([at(topic, 0, 0, rating_event(talk_id, 3))], store, model)
    silent = _SlowSource(store, pauses=4, tell=False)
    applied_meanwhile: list[int] = []

    def project_once_the_lock_is_gone() -> None:
        time.sleep(1.3)
        applied_meanwhile.append(
            project_batch([at(topic, 0, 1, rating_event(talk_id, 5))], store, model).applied
        )

    meanwhile = threading.Thread(target=project_once_the_lock_is_gone)
    meanwhile.start()
    # When it comes to the swap
    with pytest.raises(RebuildLockLost):
        rebuild_read_model(silent, model, progress=lambda _: None)
    meanwhile.join()
    # Then the batch applied after the lock ran out is kept: nothing was replaced
    assert applied_meanwhile == [1]
    assert model.histogram(talk_id).counts["5"] == 1
    # And a rebuild that names its steps keeps its lock for as long as it reads
    talkative = _SlowSource(store, pauses=4, tell=True)
    rebuild_read_model(talkative, model, progress=lambda _: None)
    assert model.histogram(talk_id).counts["5"] == 1


def test_forgetting_a_topic_s_offsets_keeps_those_of_a_topic_named_like_it(
    store: PostgresEventStore, model: RedisReadModel, talk_id: str, topic: str
) -> None:
    # Given batches applied on a topic and on one whose name starts with it
    project_batch([at(topic, 0, 0, rating_event(talk_id, 1))], store, model)
    other = f"{topic}-v2"
    project_batch([at(other, 0, 0, rating_event(talk_id, 2))], store, model)
    # When the first topic's offsets are forgotten (it was recreated empty)
    assert model.forget_offsets(topic) == 1
    # Then the other topic's record, delivered again, is still skipped
    assert project_batch([at(other, 0, 0, rating_event(talk_id, 2))], store, model).skipped == 1
    assert model.applied_offset(f"{other}-0") == 0
    assert model.applied_offset(f"{topic}-0") is None


def test_a_topic_recreated_empty_keeps_its_new_records_counted_across_a_rebuild(
    store: PostgresEventStore, model: RedisReadModel, talk_id: str, topic: str
) -> None:
    # Given four ratings and a dead letter from a topic, which is then recreated empty (a new
    # broker: the local runtime's embedded one at each start)
    old = [at(topic, 0, i, rating_event(talk_id, 5)) for i in range(4)]
    project_batch([*old, StreamRecord(topic, 0, 4, b"k", b"old broker's")], store, model)
    assert store.retire_topic(topic) == 5
    assert model.forget_offsets(topic) == 1
    # And the new topic's first record is counted
    assert project_batch([at(topic, 0, 0, rating_event(talk_id, 1))], store, model).applied == 1
    # When the read model is rebuilt from the event store
    state = rebuild_read_model(store, model, progress=lambda _: None)
    # Then every rating is still counted, and the new topic's positions are its own: the next
    # record (offset 1, below the old topic's last) counts rather than being taken as applied
    assert state.offsets[f"{topic}-0"] == 0
    assert project_batch([at(topic, 0, 1, rating_event(talk_id, 2))], store, model).applied == 1
    assert model.histogram(talk_id).counts == {"1": 1, "2": 1, "3": 0, "4": 0, "5": 4}
    # And a malformed record of the new topic where the old one had its dead letter is kept too
    assert project_batch([StreamRecord(topic, 0, 4, b"k", b"new broker's")], store, model)
    kept = {(d["topic"], d["value"]) for d in store.dead_letters()}
    assert (topic, b"new broker's") in kept
    assert any(t.startswith(f"{topic} (retired ") and v == b"old broker's" for t, v in kept)


def test_a_copy_s_position_an_older_retirement_left_under_the_live_name_is_not_the_new_topic_s(
    store: PostgresEventStore, model: RedisReadModel, talk_id: str, topic: str, talks_dsn: str
) -> None:
    # Given four ratings of a topic and a copy of the first as its last record (offset 4)
    event = rating_event(talk_id, 5)
    old = [at(topic, 0, i, rating_event(talk_id, 5)) for i in range(1, 4)]
    project_batch([at(topic, 0, 0, event), *old, at(topic, 0, 4, event)], store, model)
    # When the topic is recreated and retired by the previous release's retire_topic (an older
    # CLI's `ops topic-recreated`, a rolled-back stack): the events' and dead letters' positions
    # renamed, the copy's left under the live name
    retired = f"{topic} (retired {datetime.now(UTC):%Y-%m-%d %H:%M:%S.%f} UTC)"
    with psycopg2.connect(talks_dsn) as connection, connection.cursor() as cursor:
        cursor.execute("UPDATE rating_events SET topic = %s WHERE topic = %s", (retired, topic))
        cursor.execute("UPDATE dead_letters SET topic = %s WHERE topic = %s", (retired, topic))
    connection.close()
    assert model.forget_offsets(topic) == 1
    # And the new topic's first record is a rating, its second the relay publishing the old
    # topic's first event again (a copy of the new topic's, recorded after the retirement)
    project_batch([at(topic, 0, 0, rating_event(talk_id, 1))], store, model)
    assert project_batch([at(topic, 0, 1, event)], store, model).duplicates == 1
    # Then the event store's last position of the new topic is the copy's, not the old one's
    assert store.state().offsets[f"{topic}-0"] == 1
    # And after a rebuild the new topic's next records, at offsets the old topic had, count
    rebuild_read_model(store, model, progress=lambda _: None, topic=topic)
    later = [at(topic, 0, i, rating_event(talk_id, 2)) for i in range(2, 6)]
    assert (project_batch(later, store, model).applied, model.applied_offset(f"{topic}-0")) == (
        4,
        5,
    )
    assert model.histogram(talk_id).counts == {"1": 1, "2": 4, "3": 0, "4": 0, "5": 4}


def test_a_rating_is_projected_once_its_batch_reached_the_histogram(
    store: PostgresEventStore, model: RedisReadModel, talk_id: str, topic: str, talks_dsn: str
) -> None:
    # Given a rating the projector has stored but not yet applied to the read model
    event = rating_event(talk_id, 5)
    batch = classify([at(topic, 0, 0, event)])
    store.record(batch)
    outbox = PostgresOutbox(PostgresDatabase(talks_dsn))
    # Then its status is accepted, not projected: a read would not show it yet
    assert rating_status(str(event.event_id), store, outbox, model) == "accepted"
    # And once its batch is applied, it is projected, and a read shows it
    model.apply(batch)
    assert rating_status(str(event.event_id), store, outbox, model) == "projected"
    assert model.histogram(talk_id).counts["5"] == 1


def test_a_counted_rating_of_a_broker_since_replaced_is_projected_until_the_read_model_is_lost(
    store: PostgresEventStore,
    model: RedisReadModel,
    talk_id: str,
    topic: str,
    talks_dsn: str,
    read_model_url: str,
    redis_client: ReadModelClient,
) -> None:
    # Given a rating counted from a topic, and one the projector stored but never applied (its
    # batch cut off between the two steps)
    counted, cut_off = rating_event(talk_id, 5), rating_event(talk_id, 2)
    project_batch([at(topic, 0, 0, counted)], store, model)
    store.record(classify([at(topic, 0, 1, cut_off)]))
    outbox = PostgresOutbox(PostgresDatabase(talks_dsn))

    def status(event: RatingSubmitted) -> str | None:
        return rating_status(str(event.event_id), store, outbox, model)

    # When the local runtime starts a new, empty broker: the topic's positions are retired
    retire_positions_of_fresh_topics([topic], talks_dsn, read_model_url)
    # Then the counted rating is still projected (a read shows it), the other is not
    assert (status(counted), status(cut_off)) == ("projected", "accepted")
    assert model.histogram(talk_id).counts["2"] == 0
    # When Redis loses its data, Then neither is counted until the read model is rebuilt
    redis_client.flushdb()
    assert (status(counted), status(cut_off)) == ("accepted", "accepted")
    # And the rebuild counts every stored rating, retired positions' included
    assert rebuild_if_lost(store, model, progress=lambda _: None) is not None
    assert (status(counted), status(cut_off)) == ("projected", "projected")
    assert model.histogram(talk_id).counts["2"] == 1


def test_a_letter_another_record_s_letter_holds_the_position_of_is_told(
    store: PostgresEventStore, topic: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a record of the topic set aside at offset 1, and the same batch delivered again
    old = StreamRecord(topic, 0, 1, b"k", b'{"old": "garbage"}')
    store.record(classify([old]))
    with caplog.at_level(logging.WARNING):
        store.record(classify([old]))
    assert "dead letters not stored" not in caplog.text  # a redelivery: the same record
    # When the topic is deleted and created again, and its new record at offset 1 is malformed
    # too (before the operator runs `ops topic-recreated`)
    new = StreamRecord(topic, 0, 1, b"k", b'{"new": "garbage"}')
    with caplog.at_level(logging.WARNING):
        store.record(classify([new]))
    # Then the operator is told where (never what: a record may name a voter), and how to
    # store it
    [warning] = [r for r in caplog.records if "dead letters not stored" in r.getMessage()]
    assert warning.positions == [f"{topic}-0@1"]  # type: ignore[attr-defined]
    assert "`ops replay` of these positions" in warning.getMessage()
    assert "garbage" not in caplog.text
    # And once the old topic's positions are retired, it is stored, as that replay would
    assert store.retire_topic(topic) == 1
    store.record(classify([new]))
    assert [d["value"] for d in store.dead_letters() if d["topic"] == topic] == [
        b'{"new": "garbage"}'
    ]
