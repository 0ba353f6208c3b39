"""The embedded durable broker (`--broker s3`) stopped for good, as Ctrl-C's stop does, keeps
to the time the stop gives it, and loses none of the records it acknowledged.

tansu sits on its stop signal for 5 s once a client of a consumer group has gone (the group's
member is still awaited): the runtime's stop, whose broker was frozen a while, waited a fixed
second for it whatever time it was given, past the stop's 4 s."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from sam_emulator.events.kafka import ensure_topics
from talkrate_local.embedded import EmbeddedKafka

pytestmark = pytest.mark.integration


def records_of(bootstrap: str, topic: str) -> list[bytes]:
    """The topic's records (its one partition), read from its beginning, by no group."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, consumer_timeout_ms=3000)
    try:
        consumer.assign([TopicPartition(topic, 0)])
        consumer.seek_to_beginning()
        return [record.value for record in consumer]
    finally:
        consumer.close()


def a_group_member_came_and_went(bootstrap: str, topic: str) -> None:
    """A consumer that asks to join a group and closes (its join still pending at tansu)."""
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id="projector",
        session_timeout_ms=6000,  # (kafka-python's default has its close wait 20 s here)
        heartbeat_interval_ms=1000,
    )
    try:
        consumer.poll(timeout_ms=1000)
    finally:
        consumer.close(autocommit=False)


def test_a_durable_broker_held_on_its_stop_keeps_to_the_time_given_and_loses_nothing(
    tmp_path: Path,
) -> None:
    # Given the durable broker with a record it acknowledged, and a consumer group whose
    # member has gone (tansu then sits 5 s on its stop signal)
    topic = f"ratings-stop-{uuid.uuid4().hex[:8]}"
    kafka = EmbeddedKafka(tmp_path / "kafka")
    kafka.start()
    try:
        ensure_topics(kafka.connection, [topic], partitions=1)
        producer = KafkaProducer(bootstrap_servers=kafka.connection, acks="all")
        try:
            producer.send(topic, value=b"acknowledged").get(timeout=10)
        finally:
            producer.close()
        assert records_of(kafka.connection, topic) == [b"acknowledged"]
        a_group_member_came_and_went(kafka.connection, topic)
        # When it is stopped for good within 0.6 s (what the stop had left for it)
        started = time.monotonic()
        kafka.close(within=0.6)
        took = time.monotonic() - started
    finally:
        kafka.close(within=5)
    # Then it kept to that time (it took 1 s for the broker, then killed the S3 server), its S3
    # server stopped too. The old stop waited 1 s on the clock for the broker alone: short of
    # that, the 0.6 s leave 0.35 s for signalling, killing and reaping two processes on a
    # loaded machine (0.2 s was thin)
    assert took < 0.95, took
    assert not kafka.running
    assert not kafka.storage.running
    # And started again on its folder, it has the record it acknowledged
    again = EmbeddedKafka(tmp_path / "kafka")
    again.start()
    try:
        assert records_of(again.connection, topic) == [b"acknowledged"]
    finally:
        again.close(within=5)
