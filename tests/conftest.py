"""Real backing services for the suite: PostgreSQL, Redis and a Kafka-API broker.

Each comes from configuration when given (see tests/backends.py, and TEST_STREAMS_CONNECTION);
otherwise the local ones are used and a tansu broker is started.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import psycopg2
import pytest
import redis

from sam_emulator.events.kafka import ensure_topics
from talkrate_local.broker import LocalBroker
from talkrate_local.database import prepare
from tests.backends import RATINGS, TALKS
from tests.builders import unique_talk_id


@pytest.fixture(scope="session")
def talks_dsn() -> str:
    """The catalog database, created, migrated and seeded."""
    prepare(TALKS)
    return TALKS


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The Redis database the tests use (not the dev one), emptied once per session.

    The read model records applied offsets per topic partition; the session's broker is new, so
    offsets left by an earlier session would shadow its records.
    """
    client = redis.Redis.from_url(RATINGS)
    client.flushdb()
    client.close()
    return RATINGS


@pytest.fixture(scope="session")
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    yield client
    client.close()


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
    """A fresh topic for one test, so offsets and records of other tests never mix in."""
    name = f"ratings-test-{uuid.uuid4().hex[:8]}"
    ensure_topics(kafka_bootstrap, [name], partitions=3)
    return name


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
    redis_client.delete(f"ratings/{talk_id}")
