"""Publishing RatingSubmitted events to a real Kafka-API broker."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from kafka import KafkaConsumer, TopicPartition

from talkrate.adapters.kafka_stream import KafkaRatingPublisher
from talkrate.config import Settings
from talkrate.errors import BackendUnavailable
from talkrate.models import RatingSubmitted
from tests.builders import rating_event

pytestmark = pytest.mark.integration


def consume(bootstrap: str, topic: str, enough: Callable[[list[Any]], bool]) -> list[Any]:
    """The topic's records from its start, until `enough` of them are read (or 10 s pass
    without a new one)."""
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=10_000,
    )
    try:
        seen: list[Any] = []
        for record in consumer:
            seen.append(record)
            if enough(seen):
                break
        return seen
    finally:
        consumer.close()


def consume_all(bootstrap: str, topic: str, expected: int) -> list[tuple[bytes, bytes]]:
    """The keys and values of the topic's first `expected` records (fewer if it has fewer)."""
    records = consume(bootstrap, topic, lambda seen: len(seen) >= expected)
    return [(record.key, record.value) for record in records]


def count_records(bootstrap: str, topic: str) -> int:
    """How many records the topic holds (the sum of its partitions' end offsets)."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        return sum(consumer.end_offsets(partitions).values())
    finally:
        consumer.close()


def test_published_events_arrive_keyed_by_talk_and_parse(kafka_bootstrap: str, topic: str) -> None:
    # Given a publisher on the broker
    publisher = KafkaRatingPublisher(
        Settings.model_validate({"STREAMS_CONNECTION": kafka_bootstrap, "RATINGS_TOPIC": topic})
    )
    sent = [rating_event("flight-of-the-gopher", v) for v in (1, 5, 3)]
    # When three events are published (each waits for its acknowledgement)
    for event in sent:
        publisher.publish(event)
    publisher.close()
    # Then a plain consumer reads them back, keyed by talk id, in the one wire format
    received = consume_all(kafka_bootstrap, topic, 3)
    assert {k for k, _ in received} == {b"flight-of-the-gopher"}
    assert [RatingSubmitted.from_json(v) for _, v in received] == sent  # one partition: in order
    assert count_records(kafka_bootstrap, topic) == 3


def test_an_unreachable_broker_fails_within_the_time_budget() -> None:
    publisher = KafkaRatingPublisher(
        Settings.model_validate({"STREAMS_CONNECTION": "127.0.0.1:1", "PUBLISH_TIMEOUT_SECONDS": 1})
    )
    started = time.monotonic()
    with pytest.raises(BackendUnavailable):
        publisher.publish(rating_event("t", 3))
    assert time.monotonic() - started < 5
    assert not publisher.ping()


def test_a_broker_that_died_after_the_first_rating_is_reported_down() -> None:
    # Given a publisher that has published to a broker (so it knows the topic's partitions)
    from talkrate_local.broker import LocalBroker

    with LocalBroker() as broker:
        publisher = KafkaRatingPublisher(
            Settings.model_validate(
                {"STREAMS_CONNECTION": broker.bootstrap, "PUBLISH_TIMEOUT_SECONDS": 1}
            )
        )
        publisher.publish(rating_event("t", 3))
        assert publisher.ping()
        # When the broker process dies (SIGKILL)
        broker._process.kill()  # type: ignore[union-attr]
        broker._process.wait()  # type: ignore[union-attr]
        # Then the next ping (what GET / reports) says it is down, within its budget
        started = time.monotonic()
        assert not publisher.ping()
        assert time.monotonic() - started < 2
        publisher.close()
