"""A Kafka mapping whose topic gains partitions while it runs (an operator's `kafka-topics --alter
--partitions`, or the topic deleted and created again with more): it reads the new partitions,
as Lambda's event source mapping does, and every record published there is delivered once.

tansu (the suite's broker) has no CreatePartitions: it leaves the request out of its ApiVersions
answer and closes the connection on one. The added case runs against a broker that has it
(TEST_STREAMS_CONNECTION), and is skipped, saying so, on tansu; the recreated case runs on both.
"""

from __future__ import annotations

import base64
import threading
import time
import uuid
from collections import Counter
from typing import Any

import pytest
from kafka import KafkaProducer
from kafka.admin import KafkaAdminClient, NewPartitions, NewTopic
from kafka.errors import IncompatibleBrokerVersion

from sam_emulator.events.kafka import ConsumerTuning, KafkaMappingRunner, ensure_topics
from sam_emulator.lambda_.pool import Invocation
from sam_emulator.template import KafkaMapping

pytestmark = pytest.mark.integration

# How often the mapping looks for new partitions here (5 s by default): the test waits this
# and a poll, not the default.
CHECK_SECONDS = 0.3


class Projector:
    """Stands in for the projector: counts each record value it is given."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def __call__(self, function_id: str, event: dict[str, Any]) -> Invocation:
        with self._lock:
            for records in event["records"].values():
                self.counts.update(base64.b64decode(r["value"]).decode() for r in records)
        return Invocation(request_id="test", payload={})

    def counted(self) -> Counter[str]:
        with self._lock:
            return Counter(self.counts)


def mapping(topic: str, starting_position: str = "earliest") -> KafkaMapping:
    return KafkaMapping(
        function_id="ProjectorFunction",
        name="Stream",
        source="SelfManagedKafka",
        topics=(topic,),
        batch_size=10,
        batching_window_seconds=0.05,
        starting_position=starting_position,
        consumer_group_id=f"projector-{uuid.uuid4().hex[:8]}",
    )


def produce(bootstrap: str, topic: str, values: dict[int, list[str]]) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    try:
        for partition, texts in values.items():
            for text in texts:
                producer.send(topic, value=text.encode(), partition=partition).get(timeout=10)
    finally:
        producer.close()


def partitions_of(admin: KafkaAdminClient, topic: str) -> int:
    [described] = admin.describe_topics([topic])
    return len(described["partitions"])


def add_partitions(admin: KafkaAdminClient, topic: str, total: int) -> None:
    """`kafka-topics --alter --partitions total`, or a skip where the broker has no such request."""
    try:
        admin.create_partitions({topic: NewPartitions(total_count=total)})
    except IncompatibleBrokerVersion as error:
        pytest.skip(
            "the broker cannot add partitions to a topic (tansu has no CreatePartitions); "
            f"TEST_STREAMS_CONNECTION naming a Kafka or Redpanda broker runs it: {error}"
        )


def recreate_with(admin: KafkaAdminClient, topic: str, total: int) -> None:
    """The topic deleted and created again with `total` partitions."""
    admin.delete_topics([topic])
    deadline = time.monotonic() + 10
    while topic in admin.list_topics():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    admin.create_topics([NewTopic(topic, total, 1)])


def wait_until(check: Any, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.mark.parametrize("how", ["added", "recreated"])
def test_every_record_of_partitions_added_while_a_mapping_runs_is_delivered_once(
    how: str, kafka_bootstrap: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a mapping reading a topic of one partition, its 5 records delivered
    topic = f"ratings-grown-{uuid.uuid4().hex[:8]}"
    ensure_topics(kafka_bootstrap, [topic], partitions=1)
    old = [f"old-{i}" for i in range(5)]
    produce(kafka_bootstrap, topic, {0: old})
    projector = Projector()
    tuning = ConsumerTuning(partition_check_seconds=CHECK_SECONDS)
    runner = KafkaMappingRunner(mapping(topic), kafka_bootstrap, projector, tuning)
    runner.start()
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap, client_id="operator")
    try:
        assert wait_until(lambda: set(projector.counted()) == set(old), 20)
        # When the operator gives the topic three partitions, and ratings are published to each
        if how == "added":
            add_partitions(admin, topic, 3)
        else:
            recreate_with(admin, topic, 3)
        assert partitions_of(admin, topic) == 3
        fresh = {p: [f"new-{p}-{i}" for i in range(4)] for p in range(3)}
        produced_at = time.monotonic()
        produce(kafka_bootstrap, topic, fresh)
        # Then every one of them is delivered, within a bound of the check's interval
        expected = set(old) | {value for values in fresh.values() for value in values}
        assert wait_until(lambda: set(projector.counted()) == expected, 15), sorted(
            expected - set(projector.counted())
        )
        assert time.monotonic() - produced_at < 10 * CHECK_SECONDS + 5
        time.sleep(3 * CHECK_SECONDS)  # (nothing more comes)
        # And each once
        assert projector.counted() == Counter(expected)
        # And the runtime said once which partitions it now reads, and from where
        said = capsys.readouterr().err
        notices = [line for line in said.splitlines() if "new partition" in line]
        assert len(notices) == 1, said
        assert f"{topic}-1, {topic}-2" in notices[0], notices
        assert "from their beginning (StartingPosition TRIM_HORIZON)" in notices[0], notices
    finally:
        admin.close()
        runner.join(5)
