"""One Redis with a replica (`replicas=1`, as an ElastiCache primary with automatic failover):
a batch counts only once the replica has it, else it fails and its retry counts it once."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator

import pytest
import redis

from sam_emulator.serving import free_port
from talkrate.adapters.postgres import PostgresDatabase, PostgresEventStore
from talkrate.adapters.redis_store import RedisReadModel
from talkrate.errors import BackendUnavailable
from talkrate.projection import classify, project_batch
from tests.backends import built
from tests.builders import unique_talk_id
from tests.integration.test_exactly_once import at, voter_event

pytestmark = pytest.mark.integration


def _server(folder: str, *options: str) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    process = subprocess.Popen(
        [
            shutil.which("redis-server") or "redis-server",
            *("--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"),
            *("--dir", folder, *options),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            redis.Redis(port=port, socket_timeout=1).ping()
            return process, port
        except redis.ConnectionError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("redis-server did not answer")


@contextlib.contextmanager
def primary_with_replica() -> Iterator[tuple[int, subprocess.Popen[bytes], int]]:
    """A redis-server and a replica of it, up to date: the primary's port, the replica's
    process and port; both stopped (a stopped replica resumed first) and removed afterwards."""
    folder = tempfile.mkdtemp(prefix="talkrate-replica-")
    primary, primary_port = _server(folder)
    replica, replica_port = _server(folder, "--replicaof", "127.0.0.1", str(primary_port))
    deadline = time.monotonic() + 10
    while redis.Redis(port=replica_port).info("replication").get("master_link_status") != "up":
        assert time.monotonic() < deadline, "the replica did not take the primary's data"
        time.sleep(0.05)
    try:
        yield primary_port, replica, replica_port
    finally:
        for process in (replica, primary):
            if process.poll() is None:
                os.kill(process.pid, signal.SIGCONT)
                process.terminate()
                process.wait(timeout=5)
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def lone_redis() -> Iterator[str]:
    """A redis-server of the block's own (a read model no other test file flushes): its URL;
    stopped and removed afterwards."""
    folder = tempfile.mkdtemp(prefix="talkrate-lone-")
    process, port = _server(folder)
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=5)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def primary_and_replica(talks_dsn: str) -> Iterator[tuple[int, subprocess.Popen[bytes], int]]:
    """A primary and its replica, the read model built on the primary (a new deployment's)."""
    with primary_with_replica() as pair:
        built(f"redis://127.0.0.1:{pair[0]}/0", talks_dsn)
        yield pair


def lose(replica: subprocess.Popen[bytes], primary_port: int) -> None:
    """Stop the replica for good, and wait until its primary knows it has none."""
    replica.terminate()
    replica.wait(timeout=5)
    deadline = time.monotonic() + 10
    while redis.Redis(port=primary_port).info("replication")["connected_slaves"]:
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_a_batch_counts_once_the_replica_has_it_and_fails_while_it_cannot(
    primary_and_replica: tuple[int, subprocess.Popen[bytes], int], talks_dsn: str
) -> None:
    primary_port, replica, replica_port = primary_and_replica
    store = PostgresEventStore(PostgresDatabase(talks_dsn))
    model = RedisReadModel(f"redis://127.0.0.1:{primary_port}/0?replicas=1")
    talk, topic = unique_talk_id(), f"t-{uuid.uuid4().hex[:8]}"
    # Given a batch applied on a primary whose replica answers: it is on the replica too
    first = store.record(classify([at(topic, 0, 0, voter_event(talk, 4, "v1", 0))]))
    assert model.apply(first).applied == 1
    on_replica = RedisReadModel(f"redis://127.0.0.1:{replica_port}/0")
    assert on_replica.histogram(talk).counts["4"] == 1
    # When the replica stops answering (a failover would promote it without the next batch)
    os.kill(replica.pid, signal.SIGSTOP)
    second = store.record(classify([at(topic, 0, 1, voter_event(talk, 5, "v2", 1))]))
    # Then the batch fails (Lambda retries it), not acknowledged on the primary alone
    with pytest.raises(BackendUnavailable):
        model.apply(second)
    # And its retry, once the replica answers again, counts it once (its first try's writes
    # were applied: the retry finds them so)
    os.kill(replica.pid, signal.SIGCONT)
    retried = project_batch([at(topic, 0, 1, voter_event(talk, 5, "v2", 1))], store, model)
    assert (retried.applied, retried.skipped) == (0, 1)
    assert model.histogram(talk).counts == {"1": 0, "2": 0, "3": 0, "4": 1, "5": 1}
    deadline = time.monotonic() + 5
    while on_replica.histogram(talk).counts["5"] != 1:
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_a_primary_left_without_its_replica_goes_on_saying_so(
    primary_and_replica: tuple[int, subprocess.Popen[bytes], int],
    talks_dsn: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    primary_port, replica, _ = primary_and_replica
    store = PostgresEventStore(PostgresDatabase(talks_dsn))
    talk, topic = unique_talk_id(), f"t-{uuid.uuid4().hex[:8]}"
    # Given a primary whose replica is gone for good (after a failover, until one is replaced)
    lose(replica, primary_port)
    model = RedisReadModel(f"redis://127.0.0.1:{primary_port}/0?replicas=1")
    # When batches come, Then each is applied without waiting for a replica there is not, and
    # the operator is told the primary has fewer replicas than asked
    with caplog.at_level(logging.WARNING):
        for offset in range(3):
            batch = [at(topic, 0, offset, voter_event(talk, 4, f"v{offset}", offset))]
            assert project_batch(batch, store, model).applied == 1  # (it failed, at every try)
    assert model.histogram(talk).counts["4"] == 3
    assert "fewer replicas than replicas= asks" in caplog.text


def test_a_replica_lost_after_its_count_was_read_fails_no_batch_and_no_info_is_needed(
    primary_and_replica: tuple[int, subprocess.Popen[bytes], int], talks_dsn: str
) -> None:
    primary_port, replica, _ = primary_and_replica
    store = PostgresEventStore(PostgresDatabase(talks_dsn))
    talk, topic = unique_talk_id(), f"t-{uuid.uuid4().hex[:8]}"
    # Given a projector whose Redis user may not run INFO (an ACL without @dangerous)
    redis.Redis(port=primary_port).execute_command(
        "ACL", "SETUSER", "projector", "on", ">projector-pass", "~*", "&*", "+@all", "-info"
    )
    model = RedisReadModel(
        f"redis://projector:projector-pass@127.0.0.1:{primary_port}/0?replicas=1"
    )
    with pytest.raises(redis.exceptions.NoPermissionError):
        model.client.info("replication")
    # Then a batch waits for the replica asked for, and is applied
    batch = [at(topic, 0, 0, voter_event(talk, 4, "v0", 0))]
    assert project_batch(batch, store, model).applied == 1
    # And given the admin's count of the replica read, then the replica lost (a failover)
    counted = RedisReadModel(f"redis://127.0.0.1:{primary_port}/0?replicas=1")
    assert project_batch([at(topic, 0, 1, voter_event(talk, 4, "v1", 1))], store, counted).applied
    lose(replica, primary_port)
    # When the next batch comes within the count's ten seconds, Then it is applied (counted
    # again when the replica did not confirm it), not failed until the count is read again
    batch = [at(topic, 0, 2, voter_event(talk, 4, "v2", 2))]
    assert project_batch(batch, store, counted).applied == 1
    assert counted.histogram(talk).counts["4"] == 3
