"""The rebuild's swap: short, atomic, and said as it ended when Redis answered it late."""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from click.testing import CliRunner

from talkrate import wiring
from talkrate.adapters import redis_store
from talkrate.adapters.postgres import PostgresDatabase, PostgresEventStore
from talkrate.adapters.redis_store import (
    OFFSETS_KEY,
    REBUILD_LOCK_KEY,
    STAGED_PREFIX,
    RedisReadModel,
    connect,
    histogram_key,
    votes_key,
)
from talkrate.errors import RebuildLockLost
from talkrate.models import RatingSubmitted
from talkrate.projected import ReadModelState
from talkrate.projection import StreamRecord, project_batch
from talkrate.rebuild import rebuild_read_model
from talkrate_cli.main import cli
from tests.builders import rating_event, unique_talk_id
from tests.workers import own_redis_server

pytestmark = pytest.mark.integration

# A read-only script that keeps Redis to itself for ARGV[1] ms (SCRIPT KILL stops it early).
HOLD_REDIS = """
local t = redis.call('TIME')
local until_ms = t[1] * 1000 + t[2] / 1000 + tonumber(ARGV[1])
repeat
  t = redis.call('TIME')
until t[1] * 1000 + t[2] / 1000 >= until_ms
return 1
"""


def until_busy(client: redis.Redis, within: float = 10) -> None:
    """Until `client`'s server answers BUSY (a script has run past its busy-reply-threshold);
    an AssertionError after `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        try:
            client.ping()
        except redis.ResponseError as error:
            if str(error).startswith("BUSY"):
                return
            raise
        assert time.monotonic() < deadline, f"not BUSY within {within} s"
        time.sleep(0.01)


@contextlib.contextmanager
def held_busy(url: str) -> Iterator[None]:
    """Redis at `url` (a server of the test's own) busy with someone's long script: BUSY to
    every other client from 100 ms on, until the block ends (the script killed, the threshold
    as it was)."""
    admin = redis.Redis.from_url(url)
    admin.config_set("busy-reply-threshold", 100)
    holding = redis.Redis.from_url(url)

    def hold() -> None:
        with contextlib.suppress(redis.ResponseError):  # (killed at the block's end)
            holding.eval(HOLD_REDIS, 0, 20_000)

    def busy() -> bool:
        try:
            admin.ping()
        except redis.ResponseError as error:
            return str(error).startswith("BUSY")
        return False

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        while not busy():
            pass  # (answers PONG until the script has run 100 ms)
        yield
    finally:
        while True:  # the script stopped, and the threshold as it was
            with contextlib.suppress(redis.ResponseError):  # (NOTBUSY: it had ended)
                admin.script_kill()
            if not busy():
                break
        holder.join()
        admin.config_set("busy-reply-threshold", 5000)
        for client in (admin, holding):
            client.close()


@pytest.fixture
def store(talks_dsn: str) -> Iterator[PostgresEventStore]:
    database = PostgresDatabase(talks_dsn)
    yield PostgresEventStore(database)
    database.close()


@pytest.fixture
def environment(
    monkeypatch: pytest.MonkeyPatch, talks_dsn: str, redis_url: str
) -> Iterator[Callable[[str], None]]:
    """Set RATINGS_CONNECTION (TALKS_CONNECTION the suite's), read afresh like a cold start."""

    def apply(ratings: str) -> None:
        monkeypatch.setenv("TALKS_CONNECTION", talks_dsn)
        monkeypatch.setenv("RATINGS_CONNECTION", ratings)
        wiring.reset()

    yield apply
    wiring.reset()


@pytest.fixture(scope="module")
def own_redis() -> str:
    """A Redis server of this module's own (empty, database 0), for the tests that empty their
    Redis, fill it with a synthetic model or cap its memory: the session's database stays the
    read model the worker's other tests expect (built from the test event store), and no other
    test shares the server whose maxmemory a test lowers."""
    return own_redis_server() + "/0"


@pytest.fixture
def busy_after(redis_url: str) -> Iterator[None]:
    """Redis answers BUSY to other clients once a script has run 100 ms (else 5 s)."""
    admin = redis.Redis.from_url(redis_url)
    before = admin.config_get("busy-reply-threshold").get("busy-reply-threshold", "5000")
    admin.config_set("busy-reply-threshold", 100)
    yield
    for _ in range(50):  # a test's script still running answers BUSY until it ends
        try:
            admin.config_set("busy-reply-threshold", before)
            break
        except redis.ResponseError:
            time.sleep(0.1)
    admin.close()


def _outcome(model: RedisReadModel, store: PostgresEventStore | _Source) -> tuple[list[str], str]:
    """What a rebuild (of `store`) said, and the error it ended with ("" when none)."""
    lines: list[str] = []
    try:
        rebuild_read_model(store, model, progress=lines.append)
    except Exception as error:
        return lines, f"{type(error).__name__}: {error}"
    return lines, ""


class _HeldAtSwap(RedisReadModel):
    """The read model, with Redis kept busy for `hold_ms` by a script from the rebuild's swap
    on: sent by another connection just before the swap (`before=True`: the swap waits, and is
    refused BUSY past the threshold), or right after it on the same connection (Redis runs the
    swap, but its answer waits until that script ends, past the client's timeout)."""

    def __init__(self, url: str, hold_ms: int, before: bool) -> None:
        super().__init__(url)
        self._hold_ms, self._before = hold_ms, before
        self.holders: list[threading.Thread] = []

    def _eval(self, name: str, keys: list[str], args: list[Any]) -> Any:
        if name != "swap" or self.holders:
            return super()._eval(name, keys, args)
        if self._before:
            other = redis.Redis.from_url(self._url)
            holder = threading.Thread(target=other.eval, args=(HOLD_REDIS, 0, self._hold_ms))
            holder.start()
            self.holders.append(holder)
            until_busy(redis.Redis.from_url(self._url))  # (the swap is sent to a BUSY server)
            return super()._eval(name, keys, args)
        self.holders.append(threading.current_thread())
        pipe = self.client.pipeline(transaction=False)
        pipe.evalsha(self._script_sha(name), len(keys), *keys, *args)
        pipe.eval(HOLD_REDIS, 0, self._hold_ms)
        return pipe.execute()[0]


def _rated(store: PostgresEventStore, model: RedisReadModel) -> tuple[str, str]:
    talk, topic = unique_talk_id(), f"t-{uuid.uuid4().hex[:8]}"
    event = rating_event(talk, 4)
    project_batch([StreamRecord(topic, 0, 0, event.key, event.to_json())], store, model)
    return talk, topic


def test_a_swap_redis_answered_after_the_timeout_is_said_done(
    store: PostgresEventStore,
    redis_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a read model whose client waits 0.3 s for an answer, and a rating projected
    monkeypatch.setattr(redis_store, "SOCKET_TIMEOUT_S", 0.3)
    model = _HeldAtSwap(redis_url, hold_ms=1500, before=False)
    talk, topic = _rated(store, model)
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    client.hdel(OFFSETS_KEY, f"{topic}-0")  # the swap writes it back
    # When Redis runs the swap, then a script for 1.5 s before it answers, long after the
    # client gave up on the answer
    lines, error = _outcome(model, store)
    # Then the swap was done, and the rebuild says so instead of a failure
    assert client.hget(OFFSETS_KEY, f"{topic}-0") == "0"
    assert client.hget(histogram_key(talk), "4") == "1"
    assert error == ""
    assert any("was swapped in" in line for line in lines), lines
    # And its lock is released, nothing staged left
    assert not client.exists(REBUILD_LOCK_KEY)
    assert not list(client.scan_iter(match=f"{STAGED_PREFIX}*"))
    client.close()


def test_a_swap_refused_busy_replaces_nothing_says_so_and_releases_the_lock(
    store: PostgresEventStore,
    redis_url: str,
    busy_after: None,
) -> None:
    # Given a rating projected
    model = _HeldAtSwap(redis_url, hold_ms=1500, before=True)
    talk, topic = _rated(store, model)
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    client.hdel(OFFSETS_KEY, f"{topic}-0")
    # When Redis, busy with another's script (BUSY to everyone else) for 1.5 s, refuses the swap
    _, error = _outcome(model, store)
    for holder in model.holders:
        holder.join()
    # Then the projector is not held off until the lock expires: it was released once Redis
    # answered again
    assert not client.exists(REBUILD_LOCK_KEY)
    # And nothing was replaced, which the rebuild says in its own words
    assert client.hget(OFFSETS_KEY, f"{topic}-0") is None
    assert client.hget(histogram_key(talk), "4") == "1"
    assert error.startswith("RebuildNotSwapped: Redis did not run the swap (BUSY"), error
    assert "nothing was replaced" in error
    assert not list(client.scan_iter(match=f"{STAGED_PREFIX}*"))
    client.close()


def test_a_rebuild_leaves_no_staged_key_and_the_same_model(
    store: PostgresEventStore, read_model_url: str
) -> None:
    # Given a voter's changed rating and a talk's keys (one Redis, then a cluster)
    model = RedisReadModel(read_model_url)
    talk, topic = unique_talk_id(), f"t-{uuid.uuid4().hex[:8]}"
    first = RatingSubmitted.new(talk, 2, "v-1")
    second = RatingSubmitted.new(talk, 5, "v-1")
    project_batch(
        [
            StreamRecord(topic, 0, 0, first.key, first.to_json()),
            StreamRecord(topic, 0, 1, second.key, second.to_json()),
        ],
        store,
        model,
    )
    client = connect(read_model_url, decode_responses=True)
    counted = [*"12345", "revision"]
    before = (client.hmget(histogram_key(talk), counted), client.hgetall(votes_key(talk)))
    # When the read model is rebuilt
    rebuild_read_model(store, model, progress=lambda _: None)
    # Then the talk's counts, revision and votes are as they were, it applied the partition's
    # records, and nothing staged is left
    after = (client.hmget(histogram_key(talk), counted), client.hgetall(votes_key(talk)))
    assert after == before
    assert before[0][4] == "1"
    assert list(before[1]) == ["v-1"]
    assert client.hget(histogram_key(talk), f"{topic}-0") == "1"
    assert not list(client.scan_iter(match=f"{STAGED_PREFIX}*", count=1000))
    client.close()


def test_a_rebuild_into_a_database_that_is_no_number_is_refused_before_anything(
    redis_url: str, environment: Callable[[str], None]
) -> None:
    # Given a RATINGS_CONNECTION whose database is no number (redis-py reads database 0)
    environment(redis_url.rsplit("/", 1)[0] + "/abc")
    zero = redis.Redis.from_url(redis_url.rsplit("/", 1)[0] + "/0")
    marker = f"untouched-{uuid.uuid4().hex[:8]}"
    zero.set(marker, "1")
    try:
        # When the operator rebuilds
        result = CliRunner().invoke(cli, ["ops", "rebuild"])
        # Then it is refused in one line, nothing paused or replaced in database 0
        assert result.exit_code == 1, result.output
        assert "what follows its host and port is not a database number" in result.output
        assert "from " not in result.output
        assert zero.get(marker) == b"1"
        assert not zero.exists(REBUILD_LOCK_KEY)
    finally:
        zero.delete(marker)
        zero.close()


def test_a_rebuild_on_a_redis_over_its_maxmemory_says_so_in_one_line(
    own_redis: str, environment: Callable[[str], None]
) -> None:
    # Given a read model's Redis already over its maxmemory (the moment ReadModelMemoryAlarm's
    # runbook sends the operator to rebuild), refusing every write
    environment(own_redis)
    client = redis.Redis.from_url(own_redis, decode_responses=True)
    client.flushdb()
    client.set("filler", "x" * 200_000)
    before = client.config_get("maxmemory*")
    client.config_set("maxmemory-policy", "noeviction")
    # (half of what it uses: at 0.9, a loaded machine's Redis once freed enough meanwhile to
    # take the lock, and the rebuild failed later, in other words)
    client.config_set("maxmemory", int(client.info("memory")["used_memory"] * 0.5))
    try:
        # When the operator rebuilds (its first write, the lock, is refused)
        result = CliRunner().invoke(cli, ["ops", "rebuild"])
        # Then one line says Redis is full and what to do, nothing unexpected, nothing taken
        assert result.exit_code == 1, result.output
        assert "over its maxmemory and refuses every write (OOM)" in result.output
        assert "Raise maxmemory" in result.output
        assert "unexpected" not in result.output
        assert not client.exists(REBUILD_LOCK_KEY)
    finally:
        client.config_set("maxmemory", before["maxmemory"])
        client.config_set("maxmemory-policy", before["maxmemory-policy"])
        client.flushdb()
        client.close()


def test_a_rebuild_meeting_redis_busy_says_so_in_one_line(
    redis_url: str, busy_after: None, environment: Callable[[str], None]
) -> None:
    # Given Redis busy with someone's script for 1.5 s
    environment(redis_url)
    other = redis.Redis.from_url(redis_url)
    holder = threading.Thread(target=other.eval, args=(HOLD_REDIS, 0, 1500))
    holder.start()
    until_busy(redis.Redis.from_url(redis_url))
    # When the operator rebuilds
    result = CliRunner().invoke(cli, ["ops", "rebuild"])
    holder.join()
    # Then one line says Redis is busy, nothing unexpected
    assert result.exit_code == 1, result.output
    assert "busy running a long script (BUSY)" in result.output
    assert "unexpected" not in result.output
    assert not other.exists(REBUILD_LOCK_KEY)
    other.close()


class _NodeHeldAtSwap(RedisReadModel):
    """A cluster read model, with the node of its swap's first slot kept busy (BUSY to everyone
    else past 100 ms) for `hold_ms` from the moment the swap is sent."""

    def __init__(self, url: str, hold_ms: int) -> None:
        super().__init__(url)
        self._hold_ms = hold_ms
        self.holders: list[threading.Thread] = []

    def _eval_each(self, calls: list[tuple[str, list[str], list[Any]]], wait_on: int = 0) -> Any:
        if calls and calls[0][0] == "swap" and not self.holders:
            node = self.client.get_node_from_key(calls[0][1][0])  # type: ignore[union-attr]
            # A command without a key (PING) goes to the client's default node: another one
            # here, as it is whenever the busy node is not the one the client chose.
            self.client.set_default_node(  # type: ignore[union-attr]
                next(n for n in self.client.get_primaries() if n.name != node.name)  # type: ignore[union-attr]
            )
            other = redis.Redis(host=node.host, port=node.port)
            other.config_set("busy-reply-threshold", 100)
            holder = threading.Thread(target=other.eval, args=(HOLD_REDIS, 0, self._hold_ms))
            holder.start()
            self.holders.append(holder)
            until_busy(redis.Redis(host=node.host, port=node.port))
        return super()._eval_each(calls, wait_on)


def test_on_a_cluster_a_swap_a_busy_node_refused_is_sent_again_once_it_answers(
    store: PostgresEventStore, redis_cluster: Any
) -> None:
    # Given a cluster read model and a rating projected
    model = _NodeHeldAtSwap(redis_cluster.url, hold_ms=1500)
    talk, topic = _rated(store, model)
    client = connect(redis_cluster.url, decode_responses=True)
    client.hdel(histogram_key(talk), f"{topic}-0")  # the swap writes it back
    try:
        # When a node, busy with someone's script for 1.5 s, refuses its slots' swap (BUSY)
        lines, error = _outcome(model, store)
    finally:
        for holder in model.holders:
            holder.join()
        for port in redis_cluster.ports:
            redis.Redis(port=port).config_set("busy-reply-threshold", 5000)
    # Then its slots were swapped once it answered, and the rebuild says so
    assert error == ""
    assert any("swapped in" in line for line in lines), lines
    assert client.hget(histogram_key(talk), f"{topic}-0") == "0"
    assert client.hget(histogram_key(talk), "4") == "1"
    assert not client.exists(REBUILD_LOCK_KEY)
    assert not list(client.scan_iter(match=f"{STAGED_PREFIX}*", count=1000))
    client.close()


def _state(talks: list[str], count: int) -> ReadModelState:
    """A read model of `talks`, each with `count` ratings of 5 (its own voters)."""
    votes = {t: {f"v{i}": f"5|1700000000000|e-{t}-{i}" for i in range(count)} for t in talks}
    return ReadModelState(
        {t: {"5": count} for t in talks},
        {"ratings-0": len(talks) * count - 1},
        len(talks) * count,
        votes,
        {t: {"ratings-0": len(talks) * (count - 1) + k} for k, t in enumerate(talks)},
        {t: count for t in talks},
    )


class _Source:
    def __init__(self, state: ReadModelState) -> None:
        self._state = state

    def state(self, progress: Callable[[str], None]) -> ReadModelState:
        return self._state


class _PausedRebuild(RedisReadModel):
    """A rebuild paused (its process stopped) after its first slice of staging, past its lock's
    expiry, until `resume` is set."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.paused, self.resume = threading.Event(), threading.Event()
        self._holds = 0

    def hold_rebuild_lock(self) -> bool:
        held = super().hold_rebuild_lock()
        self._holds += 1
        if self._holds == 3:  # the read's, replace_all's, then the first slice's
            self.paused.set()
            self.resume.wait(30)
        return held


class _ResumingAtSwap(RedisReadModel):
    """A rebuild that lets `other` go on, and waits for it to end, just before its swap."""

    def __init__(self, url: str, other: _PausedRebuild, ended: threading.Thread) -> None:
        super().__init__(url)
        self._other, self._ended = other, ended

    def _swap(self, calls: list[tuple[str, list[str], list[Any]]], on_one: bool) -> str | None:
        self._other.resume.set()
        self._ended.join(30)
        return super()._swap(calls, on_one)


def test_a_rebuild_whose_lock_ran_out_writes_nothing_into_the_next_ones_swap(
    own_redis: str,
) -> None:
    # Given a read model of 600 talks, one rating each (a rebuild writes them in two slices)
    client = redis.Redis.from_url(own_redis, decode_responses=True)
    client.flushdb()
    talks = [f"stale-{n}" for n in range(600)]
    older, newer = _state(talks, 1), _state(talks, 2)
    rebuild_read_model(_Source(older), RedisReadModel(own_redis), progress=lambda _: None)
    # And rebuild A, stopped after its first slice while its lock runs out
    stopped = _PausedRebuild(own_redis)
    failed: list[str] = []

    def run_a() -> None:
        try:
            rebuild_read_model(_Source(older), stopped, progress=lambda _: None)
        except Exception as error:
            failed.append(type(error).__name__)

    a = threading.Thread(target=run_a)
    a.start()
    assert stopped.paused.wait(30)
    client.delete(REBUILD_LOCK_KEY)
    # When rebuild B of the newer state runs, and A goes on (writing its second slice) just
    # before B's swap
    lines, error = _outcome(_ResumingAtSwap(own_redis, stopped, a), _Source(newer))
    a.join(30)
    # Then B swapped its own model in: every talk with B's counts, the offsets B's
    assert error == ""
    counts = [client.hget(histogram_key(t), "5") for t in talks]
    assert counts.count("2") == 600, (counts.count("1"), lines)
    assert client.hget(OFFSETS_KEY, "ratings-0") == "1199"
    # And A failed on its lock, nothing staged left by either
    assert failed == ["RebuildLockLost"]
    assert not list(client.scan_iter(match=f"{STAGED_PREFIX}*", count=1000))
    client.close()


class _MarkGoneAtSwap(RedisReadModel):
    """A rebuild whose ready mark is gone (evicted, dropped) just before its swap."""

    def _swap(self, calls: list[tuple[str, list[str], list[Any]]], on_one: bool) -> str | None:
        self.client.delete(calls[0][1][0])
        return super()._swap(calls, on_one)


def test_a_swap_whose_ready_mark_is_gone_fails_and_replaces_nothing(own_redis: str) -> None:
    # Given a read model of a talk with one rating
    client = redis.Redis.from_url(own_redis, decode_responses=True)
    client.flushdb()
    rebuild_read_model(_Source(_state(["gone"], 1)), RedisReadModel(own_redis), lambda _: None)
    # When a rebuild of two ratings finds its ready mark gone at its swap
    _, error = _outcome(_MarkGoneAtSwap(own_redis), _Source(_state(["gone"], 2)))
    # Then it fails, saying nothing was replaced, and the read model is as it was
    assert error.startswith("RebuildNotSwapped"), error
    assert client.hget(histogram_key("gone"), "5") == "1"
    assert not list(client.scan_iter(match=f"{STAGED_PREFIX}*", count=1000))
    assert not client.exists(REBUILD_LOCK_KEY)
    client.close()


def test_a_rebuild_out_of_memory_drops_its_staged_copy_and_says_so_in_one_line(
    own_redis: str,
) -> None:
    # Given a read model of 200 talks, 300 votes each, and Redis allowed 1.5 times its memory
    client = redis.Redis.from_url(own_redis, decode_responses=True)
    client.flushdb()
    state = _state([f"oom-{n}" for n in range(200)], 300)
    model = RedisReadModel(own_redis)
    rebuild_read_model(_Source(state), model, progress=lambda _: None)
    before = client.config_get("maxmemory*")
    client.config_set("maxmemory-policy", "noeviction")
    client.config_set("maxmemory", int(client.info("memory")["used_memory"] * 1.5))
    try:
        # When the operator rebuilds (it needs about twice the memory)
        _, error = _outcome(model, _Source(state))
        # Then it fails in its own words, and what it staged is dropped: the projector
        # writes again
        assert error.startswith("RebuildNotSwapped: Redis ran out of memory"), error
        assert not list(client.scan_iter(match=f"{STAGED_PREFIX}*", count=1000))
        assert not client.exists(REBUILD_LOCK_KEY)
        client.hset(histogram_key("oom-0"), "4", 1)
        assert client.hget(histogram_key("oom-0"), "5") == "300"
    finally:
        client.config_set("maxmemory", before["maxmemory"])
        client.config_set("maxmemory-policy", before["maxmemory-policy"])
        client.flushdb()
        client.close()


class _StaleDropAtSlice(RedisReadModel):
    """A rebuild during whose staging (after its first slice) `stale`, a rebuild stopped past
    its lock's expiry just after its lock check, resumes and drops the staged keys."""

    def __init__(self, url: str, stale: RedisReadModel) -> None:
        super().__init__(url)
        self._stale, self._holds, self.said = stale, 0, ""

    def hold_rebuild_lock(self) -> bool:
        self._holds += 1
        if self._holds == 3:  # the read's, replace_all's, then the first slice's
            try:
                self._stale._drop_staged()
            except RebuildLockLost as error:
                self.said = str(error)
        return super().hold_rebuild_lock()


def test_a_rebuild_whose_lock_ran_out_drops_nothing_the_next_one_staged(own_redis: str) -> None:
    # Given a read model of 600 talks (a rebuild stages them in two slices), and rebuild A
    # whose lock ran out
    client = redis.Redis.from_url(own_redis, decode_responses=True)
    client.flushdb()
    talks = [f"drop-{n}" for n in range(600)]
    rebuild_read_model(_Source(_state(talks, 1)), RedisReadModel(own_redis), lambda _: None)
    stale = RedisReadModel(own_redis)
    assert stale.lock_for_rebuild()
    client.delete(REBUILD_LOCK_KEY)
    # When A, resumed during rebuild B's staging, drops what is staged
    newer = _StaleDropAtSlice(own_redis, stale)
    _, error = _outcome(newer, _Source(_state(talks, 2)))
    # Then A dropped nothing (its lock is gone), and B swapped every talk in
    assert error == ""
    counts = [client.hget(histogram_key(t), "5") for t in talks]
    assert counts.count("2") == 600, counts.count(None)
    assert newer.said.startswith("the rebuild's lock ran out"), newer.said
    client.close()


def test_on_a_cluster_the_leaderboard_and_offsets_are_never_missing_while_a_rebuild_swaps(
    redis_cluster: Any,
) -> None:
    # Given a cluster read model of 300 talks, built, with its leaderboard and offsets
    talks = [f"board-{uuid.uuid4().hex[:8]}-{i}" for i in range(300)]
    source = _Source(_state(talks, 2))
    assert _outcome(RedisReadModel(redis_cluster.url), source)[1] == ""
    reader = connect(redis_cluster.url, decode_responses=True)
    assert reader.zcard(redis_store.LEADERBOARD_KEY)
    assert reader.hlen(OFFSETS_KEY)
    # When it is rebuilt while a reader keeps reading them (as GET /leaderboard and a
    # rating's status do)
    seen: list[tuple[int, int]] = []
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            seen.append((reader.zcard(redis_store.LEADERBOARD_KEY), reader.hlen(OFFSETS_KEY)))

    watcher = threading.Thread(target=read)
    watcher.start()
    try:
        error = _outcome(RedisReadModel(redis_cluster.url), source)[1]
    finally:
        done.set()
        watcher.join()
    # Then every read found the leaderboard's 300 talks and the offsets: the old or the new
    assert error == ""
    assert len(seen) > 20
    assert [read for read in seen if read != (300, 1)] == []
    assert not list(reader.scan_iter(match=f"{STAGED_PREFIX}*", count=1000))
    reader.close()


@pytest.mark.parametrize("rebuilt", ["before its ratings are stored", "after them"])
def test_a_rebuild_between_a_batch_s_statements_leaves_its_ratings_to_be_counted(
    talks_dsn: str, read_model_url: str, monkeypatch: pytest.MonkeyPatch, rebuilt: str
) -> None:
    from talkrate.adapters import postgres

    model = RedisReadModel(read_model_url)
    projector_db, rebuild_db = PostgresDatabase(talks_dsn), PostgresDatabase(talks_dsn)
    projector, rebuilder = PostgresEventStore(projector_db), PostgresEventStore(rebuild_db)
    talk, topic = unique_talk_id(), f"t-{uuid.uuid4().hex[:8]}"
    event = rating_event(talk, 4)
    # Given a batch of a rating and, after it, a record set aside (a dead letter)
    records = [
        StreamRecord(topic, 0, 0, event.key, event.to_json()),
        StreamRecord(topic, 0, 1, event.key, b'{"not": "an event"}'),
    ]
    stored = postgres._copy_new_events

    def with_a_rebuild_beside(cursor: Any, ratings: Any) -> bool:
        if rebuilt == "after them":
            done = stored(cursor, ratings)
            rebuild_read_model(rebuilder, model, progress=lambda _: None)
            return done
        rebuild_read_model(rebuilder, model, progress=lambda _: None)
        return stored(cursor, ratings)

    # When a rebuild reads the event store while the projector stores the batch (each
    # statement commits on its own), and the projector then applies it
    monkeypatch.setattr(postgres, "_copy_new_events", with_a_rebuild_beside)
    try:
        project_batch(records, projector, model)
        # Then the rating counts live, as it is stored (the letter stored first was taken for
        # the partition's applied position, and the rating before it skipped: counted by the
        # next rebuild only)
        assert model.histogram(talk).counts == projector.histogram(talk).counts
        assert model.histogram(talk).total == 1
    finally:
        projector_db.close()
        rebuild_db.close()
