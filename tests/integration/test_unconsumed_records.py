"""How many records a mapping's group has not committed: what decides whether the local broker
may stop (its records are stored) or must keep running for the next start."""

from __future__ import annotations

import uuid

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.structs import OffsetAndMetadata

from sam_emulator.events.kafka import unconsumed

pytestmark = pytest.mark.integration


def commit(bootstrap: str, topic: str, group: str, offset: int) -> None:
    """The group commits partition 0 of the topic up to `offset`, as a consumer does."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    consumer.assign([TopicPartition(topic, 0)])
    consumer.commit({TopicPartition(topic, 0): OffsetAndMetadata(offset, "", -1)})
    consumer.close()


def test_records_past_the_committed_offsets_are_counted(kafka_bootstrap: str, topic: str) -> None:
    # Given five records on one partition and a group that has committed nothing
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    for i in range(5):
        producer.send(topic, value=b"%d" % i, partition=0).get(timeout=10)
    producer.close()
    group = f"lag-{uuid.uuid4().hex[:8]}"
    # Then all five are unconsumed
    assert unconsumed(kafka_bootstrap, group, [topic]) == 5
    # When the group commits past the first two
    commit(kafka_bootstrap, topic, group, 2)
    # Then three are left, and none once it has committed the end
    assert unconsumed(kafka_bootstrap, group, [topic]) == 3
    commit(kafka_bootstrap, topic, group, 5)
    assert unconsumed(kafka_bootstrap, group, [topic]) == 0


def test_records_produced_in_one_batch_are_all_counted(kafka_bootstrap: str, topic: str) -> None:
    # Given 250 records produced as one batch (a broker may report such a batch's end as its
    # first offset + 1), and a group that committed the first 100
    producer = KafkaProducer(
        bootstrap_servers=kafka_bootstrap, acks="all", batch_size=1 << 20, linger_ms=50
    )
    for i in range(250):
        producer.send(topic, value=b"%d" % i, partition=0)
    producer.flush()
    producer.close()
    group = f"lag-{uuid.uuid4().hex[:8]}"
    commit(kafka_bootstrap, topic, group, 100)
    # Then the 150 past the committed offset are unconsumed: the local broker keeps them
    assert unconsumed(kafka_bootstrap, group, [topic]) == 150
