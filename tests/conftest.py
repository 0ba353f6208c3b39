"""Real backing services for the suite: PostgreSQL, Redis and a Kafka-API broker.

Each comes from configuration when given (see tests/backends.py, and TEST_STREAMS_CONNECTION);
otherwise the local ones are used and a tansu broker is started.
"""

from __future__ import annotations

import compileall
import importlib
import json
import os
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg2
import pytest
import redis

from sam_emulator.events.kafka import ensure_topics
from talkrate.adapters.redis_store import BUILT_KEY, REBUILD_LOCK_KEY, histogram_key
from talkrate_local.broker import LocalBroker
from talkrate_local.database import prepare
from tests.backends import RATINGS, TALKS, TEST_PROJECTOR_GROUP, built, emptied
from tests.builders import unique_talk_id
from tests.file_order import TABLE, file_order, read_table
from tests.redis_cluster import LocalRedisCluster

# This checkout, and the packages of it the suite tests: the virtual environment's editable
# install maps them to the checkout it was made in, which another checkout (a git worktree
# sharing the environment) would test instead of its own unless PYTHONPATH names its folders.
REPOSITORY = Path(__file__).resolve().parents[1]
PACKAGES = ("talkrate", "talkrate_cli", "talkrate_local", "talkrate_ops", "sam_emulator")
PACKAGE_FOLDERS = ("layers/shared", "cli", "local", "ops")


def compiled_once() -> None:
    """The checkout's code compiled once for the whole run, when Python may not write bytecode.

    The suite starts Python hundreds of times (every `talkrate` run, every local runtime and
    each of its functions' execution environments), each importing the product's packages:
    with PYTHONDONTWRITEBYTECODE each compiled them from source again, about a third of a
    `talkrate` start. They are compiled here, where Python looks for their bytecode (their
    folders' __pycache__, git-ignored, as any run without the variable leaves them), and every
    Python the suite starts reads it there; none writes any (the variable stays set), so a
    test's own modules in its temporary folders are compiled as before. A source changed since
    is compiled from source again (Python checks its time and size)."""
    if not sys.flags.dont_write_bytecode:
        return  # Python keeps the bytecode of what it imports itself
    for folder in (*PACKAGE_FOLDERS, "functions"):
        compileall.compile_dir(REPOSITORY / folder, quiet=1)


def pytest_configure(config: pytest.Config) -> None:
    """Refuse to run when the product's packages come from anywhere but this checkout; compile
    them once for the run (compiled_once)."""
    elsewhere = {
        name: folder
        for name in PACKAGES
        if not (
            folder := Path(str(importlib.import_module(name).__file__)).resolve().parent
        ).is_relative_to(REPOSITORY)
    }
    if elsewhere:
        found = ", ".join(f"{name} from {folder}" for name, folder in elsewhere.items())
        path = ":".join(str(REPOSITORY / folder) for folder in PACKAGE_FOLDERS)
        raise pytest.UsageError(
            f"the suite of {REPOSITORY} would test another checkout's code ({found}): "
            f"run it with PYTHONPATH={path} (make test sets it), "
            "or install this checkout into its environment (pip install -e .)"
        )
    compiled_once()


# The order in which `make test` hands the files to its workers (--dist loadfile, one file at a
# time, in the collection's order with --no-loadscope-reorder): the longest expected first, by
# the seconds each took in a run (tests/file_seconds.txt; tests/file_order.py). Ordered by
# folder (runtimes, brokers and browsers first) and then by number of tests, the run's last
# files were unit files of few but slow tests (a template deployed seven ways, 25 s), one
# worker busy while the others had nothing left. A file's tests keep their order.
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    tests_in = Counter(item.nodeid.split("::", 1)[0] for item in items)
    table = read_table(TABLE.read_text()) if TABLE.exists() else {}
    rank = {file: place for place, file in enumerate(file_order(tests_in, table))}
    items.sort(key=lambda item: rank[item.nodeid.split("::", 1)[0]])


# The fault suite's counts of each scenario (tests/faults), carried on its tests' reports
FAULT_COUNTS = "fault injection"
fault_counts: list[dict[str, Any]] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "teardown":
        fault_counts.extend(row for name, row in report.user_properties if name == FAULT_COUNTS)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print each fault scenario's counts: sent, acknowledged, counted."""
    if fault_counts:
        terminalreporter.section("fault injection: sent / acknowledged / counted")
        for row in fault_counts:
            terminalreporter.write_line(json.dumps(row))


@pytest.fixture(scope="session")
def talks_dsn() -> str:
    """The catalog database, created, migrated and seeded (the e2e suite has its own)."""
    prepare(TALKS)
    return TALKS


# The session's read model (its URL and event store), once a file asked for it
SESSION_READ_MODEL = pytest.StashKey[tuple[str, str]]()


@pytest.fixture(scope="session")
def redis_url(request: pytest.FixtureRequest, talks_dsn: str) -> str:
    """The Redis database the tests use (not the dev one; the e2e suite has its own), emptied
    once per session, then built (from the test event store) as a new deployment's is."""
    request.session.stash[SESSION_READ_MODEL] = (RATINGS, talks_dsn)
    return built(emptied(RATINGS), talks_dsn)


@pytest.fixture(scope="module", autouse=True)
def session_read_model_as_built(request: pytest.FixtureRequest) -> None:
    """Each file starts with the session's read model built and no rebuild holding it.

    Several files empty it, or hold its rebuild lock, to test a lost read model, and leave it
    so (test_operations_signals.py does, and any such test that fails half way); a file that a
    worker runs after one of them in the same session (`--dist loadfile` picks which) would
    find it not built (NOTBUILT, counts missing) or locked (RebuildInProgress). Nothing else
    runs on it between two files, so a lock found then is a leftover: the read model is
    emptied and built again, as at the session's start. One round trip when nothing changed."""
    if (made := request.session.stash.get(SESSION_READ_MODEL, None)) is None:
        return
    url, talks_dsn = made
    client = redis.Redis.from_url(url)
    with client.pipeline(transaction=False) as pipe:
        marked, locked = pipe.exists(BUILT_KEY).exists(REBUILD_LOCK_KEY).execute()
    client.close()
    if not marked or locked:
        built(emptied(url), talks_dsn)


@pytest.fixture(scope="session")
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    yield client
    client.close()


@pytest.fixture(scope="session")
def session_redis_cluster() -> Iterator[LocalRedisCluster]:
    """A Redis Cluster of three primaries and three replicas for the session, started on demand."""
    with LocalRedisCluster() as cluster:
        yield cluster


@pytest.fixture
def redis_cluster(session_redis_cluster: LocalRedisCluster, talks_dsn: str) -> LocalRedisCluster:
    """The session's Redis Cluster, its read model built (again, when a test before this one
    emptied a shard)."""
    built(session_redis_cluster.url, talks_dsn)
    return session_redis_cluster


@pytest.fixture(params=["redis", "cluster"])
def read_model_url(request: pytest.FixtureRequest, redis_url: str, talks_dsn: str) -> str:
    """The read model's URL, built: the suite's Redis, then the session's Redis Cluster."""
    if request.param == "cluster":
        cluster: LocalRedisCluster = request.getfixturevalue("redis_cluster")
        return cluster.url
    return built(redis_url, talks_dsn)


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """A Kafka-API broker: the configured one, else a tansu started for the session."""
    if configured := os.environ.get("TEST_STREAMS_CONNECTION"):
        yield configured
        return
    with LocalBroker() as broker:
        yield broker.bootstrap


@pytest.fixture
def topic(kafka_bootstrap: str) -> str:
    """A fresh topic for one test, so offsets and records of other tests never mix in; the
    tests' projector group (TEST_PROJECTOR_GROUP) consumes it, from its first offset."""
    name = f"ratings-test-{uuid.uuid4().hex[:8]}"
    ensure_topics(kafka_bootstrap, [name], partitions=3)
    consumed_by(kafka_bootstrap, TEST_PROJECTOR_GROUP, name)
    return name


def consumed_by(kafka_bootstrap: str, group: str, topic: str, offset: int = 0) -> None:
    """The consumer group commits `offset` on each partition of the topic, as a projector of
    the topic does once it has taken records of it."""
    from kafka import TopicPartition
    from kafka.admin import KafkaAdminClient
    from kafka.structs import OffsetAndMetadata

    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap.split(","))
    try:
        partitions = admin.describe_topics([topic])[0]["partitions"]
        admin.alter_group_offsets(
            group,
            {
                TopicPartition(topic, p["partition_index"]): OffsetAndMetadata(offset, "", -1)
                for p in partitions
            },
        )
    finally:
        admin.close()


@pytest.fixture
def talk(talks_dsn: str, redis_client: redis.Redis) -> Iterator[str]:
    """A talk of its own in the catalog, removed afterwards with its read model."""
    talk_id = unique_talk_id()
    with psycopg2.connect(talks_dsn) as connection, connection.cursor() as cursor:
        cursor.execute("INSERT INTO talks (id, title) VALUES (%s, %s)", (talk_id, "A test talk"))
    connection.close()
    yield talk_id
    with psycopg2.connect(talks_dsn) as connection, connection.cursor() as cursor:
        cursor.execute("DELETE FROM talks WHERE id = %s", (talk_id,))
    connection.close()
    redis_client.delete(histogram_key(talk_id))
