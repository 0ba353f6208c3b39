"""Any Kafka client can produce RatingSubmitted: librdkafka (confluent-kafka) and kafka-python
into the local broker, projected by the local runtime; a poison record between them is set aside
and does not block its partition."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import psycopg2
import pytest
from confluent_kafka import Producer
from kafka import KafkaProducer

from sam_emulator.events.kafka import ensure_topics
from tests.builders import rating_event
from tests.e2e.conftest import start_runtime, stop_runtime

pytestmark = pytest.mark.e2e

POISON = b"{not a RatingSubmitted"


def test_records_of_librdkafka_and_kafka_python_are_projected_past_a_poison_record(
    backends_env: dict[str, str], talk: str, talks_dsn: str, tmp_path: Path
) -> None:
    # Given the local runtime projecting a topic of its own
    topic = f"ratings-clients-{uuid.uuid4().hex[:8]}"
    bootstrap = backends_env["STREAMS_CONNECTION"]
    ensure_topics(bootstrap, [topic], partitions=3)
    runtime = start_runtime(
        backends_env, tmp_path / "runtime.log", ["--param", f"RatingsTopic={topic}"]
    )
    try:
        # When librdkafka produces a rating, then a poison record, then kafka-python a rating,
        # all with the talk's key (one partition, in that order)
        first, second = rating_event(talk, 5), rating_event(talk, 3)
        librdkafka = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
        librdkafka.produce(topic, key=first.key, value=first.to_json())
        librdkafka.produce(topic, key=first.key, value=POISON)
        assert librdkafka.flush(10) == 0
        python_client = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
        python_client.send(topic, key=second.key, value=second.to_json()).get(timeout=10)
        python_client.close()
        # Then both ratings are counted
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            ratings = runtime.request("GET", f"/ratings?talkId={talk}").json["ratings"]
            if ratings["5"] and ratings["3"]:
                break
            time.sleep(0.2)
        assert ratings == {"1": 0, "2": 0, "3": 1, "4": 0, "5": 1}
        # And the poison record is set aside, at its offset between the two (a fresh topic)
        with psycopg2.connect(talks_dsn) as connection, connection.cursor() as cursor:
            cursor.execute('SELECT "offset", value FROM dead_letters WHERE topic = %s', (topic,))
            letters = cursor.fetchall()
        connection.close()
        assert [(offset, bytes(value)) for offset, value in letters] == [(1, POISON)]
    finally:
        stop_runtime(runtime)
