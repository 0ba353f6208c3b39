"""The read model against a real Redis: exactly-once effect per partition offset."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
import redis
from redis.crc import key_slot

from talkrate.adapters.redis_store import (
    LEADERBOARD_KEY,
    REBUILD_LOCK_KEY,
    ReadModelClient,
    RedisReadModel,
    connect,
    histogram_key,
)
from talkrate.errors import BackendUnavailable, ReadModelRebuilding, ReadModelUnreachable
from talkrate.models import RatingSubmitted
from talkrate.projected import ProjectionResult, ReadModelMemory
from talkrate.projection import StreamRecord, classify
from tests.builders import rating_event, unique_talk_id
from tests.redis_cluster import LocalRedisCluster

pytestmark = pytest.mark.integration


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
def talk_ids(redis_client: ReadModelClient) -> list[str]:
    ids = [unique_talk_id() for _ in range(3)]
    yield ids
    redis_client.delete(*(histogram_key(t) for t in ids))


def apply(model: RedisReadModel, batch: list[StreamRecord]) -> ProjectionResult:
    return model.apply(classify(batch))


def at(topic: str, offset: int, event: RatingSubmitted) -> StreamRecord:
    return StreamRecord(topic, 0, offset, event.key, event.to_json())


def records(
    topic: str, partition: int, first: int, ratings: list[tuple[str, int]]
) -> list[StreamRecord]:
    out = []
    for i, (talk_id, value) in enumerate(ratings):
        event = rating_event(talk_id, value)
        out.append(StreamRecord(topic, partition, first + i, event.key, event.to_json()))
    return out


def test_a_batch_is_counted_and_a_redelivery_changes_nothing(
    model: RedisReadModel, talk_ids: list[str]
) -> None:
    # Given a batch of five ratings over two talks
    topic = f"t-{uuid.uuid4().hex[:8]}"
    a, b, _ = talk_ids
    batch = records(topic, 0, 100, [(a, 5), (a, 5), (a, 3), (b, 1), (b, 2)])
    # When it is delivered twice
    first = apply(model, batch)
    second = apply(model, batch)
    # Then it counted once
    assert (first.applied, first.skipped) == (5, 0)
    assert (second.applied, second.skipped) == (0, 5)
    assert model.histogram(a).counts == {"1": 0, "2": 0, "3": 1, "4": 0, "5": 2}
    assert model.histogram(b).counts == {"1": 1, "2": 1, "3": 0, "4": 0, "5": 0}
    assert model.applied_offset(f"{topic}-0") == 104


def test_an_overlapping_batch_counts_only_its_new_records(
    model: RedisReadModel, talk_ids: list[str]
) -> None:
    topic = f"t-{uuid.uuid4().hex[:8]}"
    a = talk_ids[0]
    apply(model, records(topic, 0, 0, [(a, 1)] * 3))  # offsets 0..2
    result = apply(model, records(topic, 0, 1, [(a, 4)] * 4))  # offsets 1..4
    assert (result.applied, result.skipped) == (2, 2)
    assert model.histogram(a).counts["1"] == 3
    assert model.histogram(a).counts["4"] == 2


def test_an_overlapping_batch_of_every_kind_counts_only_its_new_records(
    model: RedisReadModel, talk_ids: list[str]
) -> None:
    # Given offsets 0..1 applied: a rating and a voter's first vote
    topic = f"t-{uuid.uuid4().hex[:8]}"
    a = talk_ids[0]
    first_vote = RatingSubmitted.new(a, 2, voter_id="voter-1")
    apply(model, [*records(topic, 0, 0, [(a, 1)]), at(topic, 1, first_vote)])
    # When a redelivery cut differently brings them again with new records of every kind
    newer_vote = RatingSubmitted(
        event_id=uuid.uuid4(),
        talk_id=a,
        value=5,
        occurred_at=first_vote.occurred_at + timedelta(seconds=1),
        voter_id="voter-1",
    )
    result = apply(
        model,
        [
            *records(topic, 0, 0, [(a, 1)]),
            at(topic, 1, first_vote),
            StreamRecord(topic, 0, 2, b"k", b"garbage"),
            at(topic, 3, newer_vote),
            *records(topic, 0, 4, [(a, 3)]),
        ],
    )
    # Then only the new ones count: the voter's newer vote replaces the first
    assert (result.applied, result.skipped, result.dead_lettered) == (2, 2, 1)
    assert model.histogram(a).counts == {"1": 1, "2": 0, "3": 1, "4": 0, "5": 1}
    assert model.applied_offset(f"{topic}-0") == 4


def test_a_batch_over_thousands_of_talks_ranks_every_one(
    model: RedisReadModel, redis_client: ReadModelClient
) -> None:
    # Given one batch rating 2,500 talks (more than the script writes to the leaderboard at once)
    topic = f"t-{uuid.uuid4().hex[:8]}"
    talks = [unique_talk_id("many") for _ in range(2500)]
    try:
        result = apply(model, records(topic, 0, 0, [(t, 4) for t in talks]))
        # Then each has its histogram and its place on the leaderboard
        assert result.applied == 2500
        scores = redis_client.zmscore("leaderboard", talks)
        assert all(score is not None and abs(score - 34 / 11) < 1e-9 for score in scores)
        assert model.histogram(talks[-1]).counts["4"] == 1
    finally:
        redis_client.zrem("leaderboard", *talks)
        redis_client.delete(*(histogram_key(t) for t in talks))


def test_partitions_keep_their_own_offsets(model: RedisReadModel, talk_ids: list[str]) -> None:
    topic = f"t-{uuid.uuid4().hex[:8]}"
    a = talk_ids[0]
    batch = records(topic, 0, 7, [(a, 2)]) + records(topic, 1, 7, [(a, 2)])
    assert apply(model, batch).applied == 2
    assert model.histogram(a).counts["2"] == 2


def test_malformed_records_move_the_offset_and_do_not_block(
    model: RedisReadModel, talk_ids: list[str]
) -> None:
    topic = f"t-{uuid.uuid4().hex[:8]}"
    a = talk_ids[0]
    batch = [
        *records(topic, 0, 0, [(a, 3)]),
        StreamRecord(topic, 0, 1, b"k", b"garbage"),
        *records(topic, 0, 2, [(a, 3)]),
    ]
    first = apply(model, batch)
    again = apply(model, batch)
    assert (first.applied, first.dead_lettered) == (2, 1)
    assert (again.applied, again.dead_lettered, again.skipped) == (0, 0, 3)
    assert model.applied_offset(f"{topic}-0") == 2
    assert model.histogram(a).counts["3"] == 2


def test_a_key_of_the_wrong_type_fails_the_batch_and_its_retry_counts_each_rating_once(
    model: RedisReadModel, talk_ids: list[str], redis_client: ReadModelClient
) -> None:
    # Given a talk whose histogram key was overwritten with a string
    topic = f"t-{uuid.uuid4().hex[:8]}"
    a, b, _ = talk_ids
    redis_client.set(histogram_key(b), "not a hash")
    batch = records(topic, 0, 0, [(a, 4), (b, 4)])
    # When a batch touching it and another talk is applied
    with pytest.raises(redis.ResponseError):
        apply(model, batch)
    # Then the batch failed before the broken talk was written, and its offset did not move
    # (one Redis writes nothing of it; a cluster may have applied the talks of other slots)
    assert model.applied_offset(f"{topic}-0") is None
    if not model.cluster:
        assert model.histogram(a).total == 0
    # And once the key is repaired, the retry counts each rating once
    redis_client.delete(histogram_key(b))
    apply(model, batch)
    assert model.histogram(a).counts["4"] == 1
    assert model.histogram(b).counts["4"] == 1
    assert model.applied_offset(f"{topic}-0") == 1


def test_a_batch_is_refused_while_the_read_model_is_rebuilt(
    model: RedisReadModel, talk_ids: list[str]
) -> None:
    topic = f"t-{uuid.uuid4().hex[:8]}"
    assert model.lock_for_rebuild()
    try:
        with pytest.raises(ReadModelRebuilding):
            apply(model, records(topic, 0, 0, [(talk_ids[0], 1)]))
    finally:
        model.unlock_after_rebuild()
    assert apply(model, records(topic, 0, 0, [(talk_ids[0], 1)])).applied == 1


def test_a_rebuild_that_dies_holds_the_projector_off_for_a_minute_at_most(
    model: RedisReadModel, read_model_url: str
) -> None:
    # Given a rebuild that took the lock, renewed it once, and then its process died (a
    # Lambda's timeout, out of memory: no unlock ever runs)
    dying = RedisReadModel(read_model_url)
    assert dying.lock_for_rebuild()
    try:
        assert dying.hold_rebuild_lock()
        # Then the lock runs out within a minute of its last renewal, not ten
        assert 0 < model.client.ttl(REBUILD_LOCK_KEY) <= 60
    finally:
        dying.unlock_after_rebuild()


def test_a_batch_with_nothing_valid_moves_its_offset_and_nothing_else(
    model: RedisReadModel, talk_ids: list[str], redis_client: ReadModelClient
) -> None:
    # Given a talk counted on one partition
    topic = f"t-{uuid.uuid4().hex[:8]}"
    a = talk_ids[0]
    apply(model, records(topic, 0, 0, [(a, 4)]))
    board = redis_client.zrange(LEADERBOARD_KEY, 0, -1, withscores=True)
    # When a batch of the next partition holds only records that are not ratings
    junk = [StreamRecord(topic, 1, offset, b"k", b"not a rating") for offset in range(3)]
    result = apply(model, junk)
    # Then they are set aside and the partition's offset moves past them, and nothing else moves
    assert (result.applied, result.dead_lettered, result.skipped) == (0, 3, 0)
    assert model.applied_offset(f"{topic}-1") == 2
    assert model.applied_offset(f"{topic}-0") == 0
    assert model.histogram(a).counts == {"1": 0, "2": 0, "3": 0, "4": 1, "5": 0}
    assert redis_client.zrange(LEADERBOARD_KEY, 0, -1, withscores=True) == board
    # And an empty batch is no batch at all
    assert model.apply(classify([])) == (0, 0, 0, 0, ())


def test_an_unreachable_read_model_is_reported() -> None:
    with pytest.raises(BackendUnavailable):
        RedisReadModel("redis://127.0.0.1:1/0").histogram("any")


def test_a_batch_on_an_unreachable_read_model_is_said_as_every_other_call_says_it() -> None:
    # Given a read model whose Redis does not answer
    away = RedisReadModel("redis://127.0.0.1:1/0")
    # When a batch is applied to it, and its applied offsets are read
    with pytest.raises(ReadModelUnreachable) as applied:
        apply(away, records(f"t-{uuid.uuid4().hex[:8]}", 0, 0, [(unique_talk_id(), 4)]))
    with pytest.raises(ReadModelUnreachable) as read:
        away.applied_offsets()
    # Then both say it in the same words (the projector's log as the operator's commands)
    said = str(applied.value).split(": ")[0]
    assert said == "Redis (the read model) is unreachable", applied.value
    assert str(read.value).split(": ")[0] == said


def test_tied_talks_are_in_the_same_order_on_the_whole_board_and_among_a_few(
    model: RedisReadModel, redis_client: ReadModelClient
) -> None:
    # Given two talks with the same ratings (the same score), and one rated higher
    topic, stem = f"t-{uuid.uuid4().hex[:8]}", unique_talk_id()
    tied, best = [f"{stem}-a", f"{stem}-b"], f"{stem}-c"
    apply(model, records(topic, 0, 0, [(tied[0], 4), (tied[1], 4), (best, 5), (best, 5)]))
    try:
        # When the whole board and a track's board (a few talks) are read
        whole = [t for t, _ in model.leaderboard(100_000) if t in (*tied, best)]
        among = [t for t, _ in model.leaderboard(10, among=[tied[0], best, tied[1]])]
        # Then both rank the tied talks alike, below the better one
        assert whole == among == [best, tied[1], tied[0]]
    finally:
        redis_client.zrem(LEADERBOARD_KEY, *tied, best)
        redis_client.delete(*(histogram_key(t) for t in (*tied, best)))


def test_the_talks_of_one_score_are_read_from_the_whole_board_and_among_a_few(
    model: RedisReadModel, redis_client: ReadModelClient
) -> None:
    # Given two talks with the same ratings (the same score), and one rated higher
    topic, stem = f"t-{uuid.uuid4().hex[:8]}", unique_talk_id()
    tied, best = [f"{stem}-a", f"{stem}-b"], f"{stem}-c"
    apply(model, records(topic, 0, 0, [(tied[0], 4), (tied[1], 4), (best, 5), (best, 5)]))
    try:
        # When the talks of the tied talks' score are read, on the whole board and among a few
        score = dict(model.leaderboard(100_000))[tied[0]]
        whole = model.tied(score)
        among = model.tied(score, among=[best, tied[1], tied[0], f"{stem}-unrated"])
        # Then both hold the tied talks (the whole board perhaps others of that score), not
        # the better one
        assert set(tied) <= set(whole)
        assert best not in whole
        assert sorted(among) == tied
    finally:
        redis_client.zrem(LEADERBOARD_KEY, *tied, best)
        redis_client.delete(*(histogram_key(t) for t in (*tied, best)))


def test_a_retried_batch_writes_the_same_leaderboard_scores(
    model: RedisReadModel, talk_ids: list[str], redis_client: ReadModelClient
) -> None:
    # Given a batch applied, whose leaderboard write was lost (a crash before the ranking)
    topic = f"t-{uuid.uuid4().hex[:8]}"
    a = talk_ids[0]
    batch = records(topic, 0, 0, [(a, 5), (a, 4)])
    apply(model, batch)
    redis_client.zrem("leaderboard", a)
    try:
        # When it is delivered again, twice
        results = [apply(model, batch) for _ in range(2)]
        # Then nothing counts twice and the score is the talk's, written whole (not added to)
        assert [r.skipped for r in results] == [2, 2]
        assert redis_client.zscore("leaderboard", a) == pytest.approx((3.0 * 10 + 9) / 12)
    finally:
        redis_client.zrem("leaderboard", a)


def test_the_read_model_says_how_full_it_is_and_whether_it_could_evict_counts(
    read_model_url: str,
) -> None:
    memory = RedisReadModel(read_model_url).memory()
    assert memory.used_bytes > 0
    assert memory.policy  # what this server does, whatever it is
    assert ReadModelMemory(50, 200, "volatile-ttl").used_percent == 25.0
    assert ReadModelMemory(50, 0, "noeviction").used_percent is None
    assert ReadModelMemory(1, 1, "volatile-lru").policy_is_safe
    assert not ReadModelMemory(1, 1, "allkeys-lru").policy_is_safe


def test_on_a_cluster_a_batch_sent_again_in_detail_waits_for_the_replicas_too(
    redis_cluster: LocalRedisCluster,
) -> None:
    # Given a cluster read model that confirms each batch on a replica of every shard it wrote
    model = RedisReadModel(f"{redis_cluster.url}&replicas=1")
    rounds: list[int] = []
    sent = model._eval_many

    def noted(name: str, calls: list[Any], wait_on: int = 0) -> list[Any]:
        rounds.append(wait_on)
        return sent(name, calls, wait_on=wait_on)

    model._eval_many = noted  # type: ignore[method-assign]
    topic = f"t-{uuid.uuid4().hex[:8]}"
    a = unique_talk_id()
    apply(model, records(topic, 0, 0, [(a, 1)] * 3))  # offsets 0..2
    # When a redelivery cut elsewhere must be sent again record by record (offsets 1..4)
    result = apply(model, records(topic, 0, 1, [(a, 4)] * 4))
    # Then its second round trip, the one that writes, waited for the replicas as the first did
    assert (result.applied, result.skipped) == (2, 2)
    assert rounds == [1, 1, 1]


def a_talk_written_on(cluster: LocalRedisCluster) -> tuple[RedisReadModel, str, str, int]:
    """A cluster read model waiting on a replica of each shard, the topic and the talk of a
    rating it applied (a 3 at offset 0), and a primary that does not serve the talk."""
    model = RedisReadModel(f"{cluster.url}&replicas=1")
    topic, talk = f"t-{uuid.uuid4().hex[:8]}", unique_talk_id()
    apply(model, records(topic, 0, 0, [(talk, 3)]))
    serving = cluster.primary_of(histogram_key(talk))
    other = next(port for port in sorted(cluster.primaries()) if port != serving)
    return model, topic, talk, other


def test_on_a_cluster_a_batch_waits_for_the_replica_of_a_primary_its_talk_moved_to(
    redis_cluster: LocalRedisCluster,
) -> None:
    # Given a cluster read model that confirms each batch on a replica of every shard it wrote,
    # a talk it has written to, and another talk served by another primary
    model, topic, talk, after = a_talk_written_on(redis_cluster)
    there = next(
        t
        for t in (unique_talk_id() for _ in range(1000))
        if redis_cluster.primary_of(histogram_key(t)) == after
    )
    # When the talk's slot moves to that primary (a cluster scaling out), which the model's
    # client learns only from the MOVED its next batch meets, and the batch rates both talks
    # (so the batch's own WAIT on that primary runs before the redirected call writes there)
    assert redis_cluster.move_slot(key_slot(histogram_key(talk).encode()), after) >= 1
    with NodeMonitor(after) as seen:
        result = apply(model, records(topic, 0, 1, [(talk, 5), (talk, 5), (there, 4)]))
    # Then the batch is counted on the new primary
    assert result.applied == 3
    counts = model.histogram(talk).counts
    assert (counts.get("3"), counts.get("5")) == (1, 2)
    assert redis_cluster.primary_of(histogram_key(talk)) == after
    # And that primary was asked for its replica after it ran the talk's call (the last one:
    # the leaderboard's and the offsets' calls after it are not waited for)
    calls = [c for c in seen.commands if c.startswith(('"EVALSHA"', '"WAIT"'))]
    talk_call = max(
        i
        for i, c in enumerate(calls)
        if c.startswith(f'"EVALSHA" "{model._sha["apply"]}" "3" "{histogram_key(talk)}"')
    )
    assert '"WAIT" "1" "1000"' in calls[talk_call + 1 :], calls


def test_on_a_cluster_a_batch_waits_for_the_replica_of_the_primary_an_ask_sent_its_talk_to(
    redis_cluster: LocalRedisCluster,
) -> None:
    # Given a cluster read model that confirms each batch on a replica of every shard it wrote,
    # and a talk it has written to, a voter's rating among them (so both of its keys exist: a
    # script call with a key missing on the new primary gets TRYAGAIN there, not run)
    model, topic, talk, after = a_talk_written_on(redis_cluster)
    voter = RatingSubmitted.new(talk, 4, voter_id=uuid.uuid4().hex)
    apply(model, [StreamRecord(topic, 0, 1, voter.key, voter.to_json())])
    slot = key_slot(histogram_key(talk).encode())
    source = redis_cluster.primary_of(histogram_key(talk))
    # When the cluster moves the talk's slot to another primary, and the talk's keys are there
    # already while the slot is still the old primary's (it answers ASK for them: the client
    # sends the talk's call on to the new primary, after the batch's WAIT on the old one)
    mover = threading.Thread(target=redis_cluster.move_slot, args=(slot, after, 2.0))
    mover.start()
    try:
        old = redis.Redis(port=source)
        deadline = time.monotonic() + 10
        while old.execute_command("CLUSTER COUNTKEYSINSLOT", slot) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert old.execute_command("CLUSTER COUNTKEYSINSLOT", slot) == 0
        with NodeMonitor(after) as seen:
            result = apply(model, records(topic, 0, 2, [(talk, 5)]))
    finally:
        mover.join(15)
    # Then the rating is counted once, on the new primary
    assert result.applied == 1
    assert redis_cluster.primary_of(histogram_key(talk)) == after
    counts = model.histogram(talk).counts
    assert (counts["3"], counts["4"], counts["5"]) == (1, 1, 1)
    # And the new primary ran the talk's call and was asked for its replica after it
    calls = [c for c in seen.commands if c.startswith(('"EVALSHA"', '"WAIT"'))]
    ran = [
        i
        for i, c in enumerate(calls)
        if c.startswith(f'"EVALSHA" "{model._sha["apply"]}" "3" "{histogram_key(talk)}"')
    ]
    assert ran, seen.commands
    assert '"WAIT" "1" "1000"' in calls[ran[-1] + 1 :], calls


class NodeMonitor:
    """The commands a node runs while the block runs, as MONITOR shows them (`"NAME" "arg"
    ...`, the client's own calls, not those of scripts)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.commands: list[str] = []

    def __enter__(self) -> NodeMonitor:
        self._connection = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        self._connection.sendall(b"MONITOR\r\n")
        assert self._connection.recv(5) == b"+OK\r\n"
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        return self

    def _read(self) -> None:
        pending = b""
        while True:
            try:
                data = self._connection.recv(65536)
            except OSError:
                return
            if not data:
                return
            *lines, pending = (pending + data).split(b"\r\n")
            for line in lines:
                # +<time> [<db> <client>] "NAME" "arg" ...; calls from scripts say [0 lua]
                head, _, command = line.decode(errors="replace").partition("] ")
                if " lua" not in head:
                    self.commands.append(command)

    def __exit__(self, *exc: object) -> None:
        # Until what the node ran last has reached the monitor: a mark sent after it, on a
        # connection of its own (no handshake's commands), comes after it, and is left out
        mark = f"monitor-mark-{uuid.uuid4().hex}"
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as probe:
            probe.sendall(f"ECHO {mark}\r\n".encode())
            probe.recv(1024)
        deadline = time.monotonic() + 10
        while not any(mark in command for command in self.commands):
            assert time.monotonic() < deadline, "the monitor did not hear its mark"
            time.sleep(0.01)
        self.commands[:] = [command for command in self.commands if mark not in command]
        self._connection.close()
        self._reader.join(5)


def test_on_a_cluster_a_batch_waits_out_the_move_of_its_talk_s_slot(
    redis_cluster: LocalRedisCluster,
) -> None:
    # Given a cluster read model and a talk it has written to
    model, topic, talk, after = a_talk_written_on(redis_cluster)
    # When the cluster moves the talk's slot to another primary, a step a second, and a batch
    # comes while its keys are half moved (the talk's script gets TRYAGAIN, then ASK)
    slot = key_slot(histogram_key(talk).encode())
    migrating = threading.Event()
    mover = threading.Thread(target=redis_cluster.move_slot, args=(slot, after, 1.0, migrating))
    mover.start()
    try:
        # (once the slot is half moved: a fixed 0.3 s was too short for a loaded machine's
        # mover to begin, and the batch went through before it, 3 ms)
        assert migrating.wait(10)
        started = time.monotonic()
        result = apply(model, records(topic, 0, 1, [(talk, 5)] * 2))
        waited = time.monotonic() - started
    finally:
        mover.join(15)
    # Then the batch waited for the move instead of failing, and counted once where it went
    assert result.applied == 2
    assert waited > 0.5
    counts = model.histogram(talk).counts
    assert (counts["3"], counts["5"]) == (1, 2)
    assert redis_cluster.primary_of(histogram_key(talk)) == after


def test_on_a_cluster_a_talks_older_score_never_overwrites_a_newer_one(
    redis_cluster: LocalRedisCluster,
) -> None:
    # Given two projectors of one cluster (two partitions' batches at once), the first held
    # between its talk's update and its last round trip, the one that ranks the talk
    held, release = threading.Event(), threading.Event()

    class Held(RedisReadModel):
        round_trips = 0

        def _pipelined(
            self, build: Callable[[Any], None], keep: Callable[[Any], bool] | None = None
        ) -> list[Any]:
            self.round_trips += 1
            if self.round_trips == 2:
                held.set()
                release.wait(10)
            return super()._pipelined(build, keep)

    first, second = Held(redis_cluster.url), RedisReadModel(redis_cluster.url)
    client = connect(redis_cluster.url, decode_responses=True)
    topic, a = f"t-{uuid.uuid4().hex[:8]}", unique_talk_id()
    worker = threading.Thread(target=apply, args=(first, records(topic, 0, 0, [(a, 1)] * 2)))
    worker.start()
    try:
        assert held.wait(10)
        # When the other partition's batch rates the same talk and ranks it meanwhile
        apply(second, records(topic, 1, 0, [(a, 5)] * 3))
        release.set()
        worker.join(10)
        # Then the leaderboard keeps the score of the talk's histogram after both batches
        assert client.hmget(histogram_key(a), ["1", "5"]) == ["2", "3"]
        assert client.zscore("leaderboard", a) == pytest.approx((3.0 * 10 + 2 + 15) / 15)
    finally:
        release.set()
        worker.join(10)
        client.zrem("leaderboard", a)
        client.close()


def test_a_talk_is_ranked_again_from_the_histogram_it_kept(
    model: RedisReadModel, talk_ids: list[str], redis_client: ReadModelClient
) -> None:
    # Given a rated talk taken off the leaderboard (removed from the catalog), and a talk with
    # no rating (on one Redis, and on a cluster)
    topic = f"t-{uuid.uuid4().hex[:8]}"
    rated, unrated = talk_ids[0], talk_ids[1]
    apply(model, records(topic, 0, 0, [(rated, 5), (rated, 4)]))
    redis_client.zrem("leaderboard", rated)
    try:
        # When both are added again
        model.rank_talk(rated)
        model.rank_talk(unrated)
        # Then the rated one is ranked with its ratings, the other is not ranked, and nothing
        # was counted again
        assert redis_client.zscore("leaderboard", rated) == pytest.approx((3.0 * 10 + 9) / 12)
        assert redis_client.zscore("leaderboard", unrated) is None
        assert model.histogram(rated).total == 2
    finally:
        redis_client.zrem("leaderboard", rated)


def test_a_cluster_s_client_made_while_the_url_s_node_is_down_asks_the_other_nodes(
    redis_cluster: LocalRedisCluster,
) -> None:
    # Given a cluster URL whose own node does not answer (lost, its replica promoted)
    down = "redis://127.0.0.1:1?cluster=true"
    talk = unique_talk_id()
    # When a new container makes its client from it alone, Then Redis is said to be away, as
    # one Redis away is (BackendUnavailable: reads from the event store, limits counted here),
    # not a cluster client's own error (no RedisError: a 500)
    with pytest.raises(BackendUnavailable):
        RedisReadModel(down).histogram(talk)
    # When the URL names the cluster's other nodes too, Then the client is made from one of them
    other = redis_cluster.ports[1]
    model = RedisReadModel(f"{down}&nodes=127.0.0.1:2,127.0.0.1:{other}")
    assert sum(model.histogram(talk).counts.values()) == 0
    assert model.is_built()
