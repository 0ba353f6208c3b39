"""A Kafka mapping across a broker replaced by a new, empty one (the local runtime's in-memory
broker started again by its watchdog), and across its topic deleted and created again: the
batch it held is delivered, then every record of the new one, from its start, once."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import TopicAlreadyExistsError

from sam_emulator.events.kafka import KafkaMappingRunner, ensure_topics
from sam_emulator.lambda_.pool import Invocation
from sam_emulator.plugins import BrokerGenerations
from sam_emulator.template import KafkaMapping
from talkrate_local.embedded import KeptBroker

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TOPIC = "ratings"
MAPPING = KafkaMapping(
    function_id="ProjectorFunction",
    name="Stream",
    source="SelfManagedKafka",
    topics=(TOPIC,),
    batch_size=10,
    batching_window_seconds=0.1,
    starting_position="earliest",
    consumer_group_id="talkrate-projector",
)


class Projector:
    """Stands in for the projector: records what each batch held; can hold a batch."""

    def __init__(self) -> None:
        self.values: list[str] = []
        self.hold = threading.Event()  # set: the next batch waits until `release`
        self.holding = threading.Event()
        self._released = threading.Event()
        self._lock = threading.Lock()

    def __call__(self, function_id: str, event: dict[str, Any]) -> Invocation:
        if self.hold.is_set():
            self.hold.clear()
            self.holding.set()
            self._released.wait(30)
        with self._lock:
            for records in event["records"].values():
                self.values.extend(base64.b64decode(r["value"]).decode() for r in records)
        return Invocation(request_id="test", payload={})

    def release(self) -> None:
        self._released.set()

    def snapshot(self) -> list[str]:
        with self._lock:
            return list(self.values)

    def delivered(self, prefix: str) -> set[str]:
        with self._lock:
            return {value for value in self.values if value.startswith(prefix)}


def produce(bootstrap: str, values: list[str]) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    try:
        for value in values:
            producer.send(TOPIC, value=value.encode(), partition=0).get(timeout=10)
    finally:
        producer.close()


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[KeptBroker]:
    service = KeptBroker(tmp_path / "kafka")
    service.start()
    yield service
    service.stop()


def kill(broker: KeptBroker) -> None:
    pid = int(json.loads((broker.folder / "tansu.json").read_text())["pid"])
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while broker.running:
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_a_mapping_holding_a_batch_when_its_broker_dies_reads_the_new_one_from_its_start(
    broker: KeptBroker,
) -> None:
    # Given a mapping delivering the first batch of the broker's 30 records when it dies
    bootstrap = broker.connection
    ensure_topics(bootstrap, [TOPIC], partitions=1)
    produce(bootstrap, [f"old-{i}" for i in range(30)])
    generations = BrokerGenerations()
    projector = Projector()
    projector.hold.set()
    runner = KafkaMappingRunner(MAPPING, bootstrap, projector, generations=generations)
    runner.start()
    try:
        assert projector.holding.wait(30)
        kill(broker)
        # And the batch is answered then, its commit finding no broker
        projector.release()
        time.sleep(1.0)
        # When the runtime replaces the broker as its watchdog does: the mappings told, then a
        # new, empty broker on the same port, then new records
        generations.replace(10.0)
        broker.restart()
        ensure_topics(bootstrap, [TOPIC], partitions=1)
        fresh = [f"new-{i}" for i in range(20)]
        produce(bootstrap, fresh)
        # Then the held batch was delivered, then every record of the new broker from its start
        # (in order; at least once: a commit that fails on the new broker redelivers a batch)
        deadline = time.monotonic() + 40
        while projector.delivered("new-") != set(fresh) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert sorted(set(fresh) - projector.delivered("new-")) == []
        time.sleep(1.0)  # (nothing more comes)
        values = projector.snapshot()
        assert values[:10] == [f"old-{i}" for i in range(10)]
        assert list(dict.fromkeys(v for v in values if v.startswith("new-"))) == fresh
    finally:
        projector.release()
        runner.join(5)


def test_a_mapping_holding_a_batch_when_its_topic_is_recreated_reads_the_new_one_from_its_start(
    broker: KeptBroker, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a mapping delivering the first batch of the topic's 30 records (it fetched them all)
    bootstrap = broker.connection
    ensure_topics(bootstrap, [TOPIC], partitions=1)
    produce(bootstrap, [f"old-{i}" for i in range(30)])
    projector = Projector()
    projector.hold.set()
    runner = KafkaMappingRunner(MAPPING, bootstrap, projector)
    runner.start()
    try:
        assert projector.holding.wait(30)
        # When an operator deletes the topic and creates it again, and 5 records come to it
        admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="operator")
        try:
            (before,) = admin.describe_topics([TOPIC])
            admin.delete_topics([TOPIC])
            # Until the old topic is gone: no longer listed, or listed under a new id (the
            # mapping's consumer asking for its metadata may have the broker create it again
            # before a list sees it gone)
            deadline = time.monotonic() + 10
            while TOPIC in admin.list_topics() and (
                admin.describe_topics([TOPIC])[0]["topic_id"] == before["topic_id"]
            ):
                assert time.monotonic() < deadline
                time.sleep(0.1)
            # (the mapping's consumer may ask for the topic's metadata in between, and the
            # broker create it again on its own: it is new all the same)
            with contextlib.suppress(TopicAlreadyExistsError):
                admin.create_topics([NewTopic(TOPIC, 1, 1)])
        finally:
            admin.close()
        fresh = [f"new-{i}" for i in range(5)]
        produce(bootstrap, fresh)
        # And the held batch is answered then: its commit, and those of the old topic's records
        # fetched before, go to the new topic, past its end
        projector.release()
        # Then the old topic's records fetched are delivered, then the new topic's from its
        # start, each once and in order (the committed offsets past its end are not followed)
        deadline = time.monotonic() + 30
        while projector.delivered("new-") != set(fresh) and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1.0)  # (nothing more comes)
        values = projector.snapshot()
        assert values == [f"old-{i}" for i in range(30)] + fresh
        said = capsys.readouterr().err
        assert "below this mapping's position 30: the topic was deleted and created again" in said
        assert "reading it from its beginning (StartingPosition TRIM_HORIZON)" in said
    finally:
        projector.release()
        runner.join(5)
