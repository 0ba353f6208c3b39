"""The runbook for a ratings topic deleted and created again, rehearsed on the local runtime
(README, docs/operations.md "When the ratings topic is deleted and created again"): the Kafka
mapping reads the new topic as Lambda's does, and `talkrate ops topic-recreated` then counts
what was sent to it, once."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg2
import pytest
from kafka.admin import KafkaAdminClient, NewTopic

from tests.backends import RECREATED_TOPIC_RATINGS, RECREATED_TOPIC_TALKS
from tests.builders import ROOT
from tests.e2e.conftest import Runtime, start_admin_runtime, stop_runtime, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

TALKRATE = str(Path(sys.executable).parent / "talkrate")  # the [project.scripts] entry
TALK = "flight-of-the-gopher"  # a dev talk: every rating of it goes to one partition (its key)


@dataclass
class Deployment:
    """A runtime on a catalog, a read model and a ratings topic of its own."""

    runtime: Runtime
    topic: str
    bootstrap: str

    def rate(self, value: int) -> str:
        """POST /ratings, answered 202; the rating's eventId."""
        answer = self.runtime.request(
            "POST", "/ratings", f'{{"talkId": "{TALK}", "value": {value}}}'
        )
        assert answer.status == 202, answer.body
        event_id: str = answer.json["eventId"]
        return event_id

    def counts(self) -> dict[str, int]:
        """The talk's histogram, as GET /ratings answers it."""
        answer = self.runtime.request("GET", f"/ratings?talkId={TALK}")
        assert answer.status == 200, answer.body
        ratings: dict[str, int] = answer.json["ratings"]
        return ratings

    def stored(self, event_ids: list[str]) -> int:
        """How many of these ratings the event store holds (the projector got them)."""
        connection = psycopg2.connect(RECREATED_TOPIC_TALKS)
        try:
            with connection, connection.cursor() as cursor:
                cursor.execute(
                    "SELECT count(*) FROM rating_events WHERE event_id = ANY(%s::uuid[])",
                    (event_ids,),
                )
                row = cursor.fetchone()
        finally:
            connection.close()
        return int(row[0]) if row else 0

    def ops(self, *args: str) -> subprocess.CompletedProcess[str]:
        """`talkrate ops ARGS` on the runtime's backends, as an operator runs it."""
        return subprocess.run(
            [TALKRATE, "ops", *args],
            cwd=ROOT,
            env={
                **os.environ,
                "TALKS_CONNECTION": RECREATED_TOPIC_TALKS,
                "RATINGS_CONNECTION": RECREATED_TOPIC_RATINGS,
                "STREAMS_CONNECTION": self.bootstrap,
                "RATINGS_TOPIC": self.topic,
            },
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )


@pytest.fixture
def deployment(kafka_bootstrap: str, tmp_path: Path) -> Iterator[Deployment]:
    topic = f"ratings-{uuid.uuid4().hex[:10]}"
    runtime, _ = start_admin_runtime(
        RECREATED_TOPIC_TALKS,
        RECREATED_TOPIC_RATINGS,
        kafka_bootstrap,
        tmp_path / "runtime.log",
        ["--param", f"RatingsTopic={topic}"],
    )
    yield Deployment(runtime, topic, kafka_bootstrap)
    stop_runtime(runtime)


def delete_and_create_again(bootstrap: str, topic: str) -> None:
    """What an operator does with kafka-python's admin client: the topic deleted, then
    created again with three partitions (its offsets begin at 0 again)."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="operator")
    try:
        admin.delete_topics([topic])
        assert wait_for(lambda: topic not in admin.list_topics(), 10)
        admin.create_topics([NewTopic(topic, 3, 1)])
    finally:
        admin.close()


def test_ratings_sent_to_a_recreated_topic_count_once_after_ops_topic_recreated(
    deployment: Deployment,
) -> None:
    # Given a running runtime that counted ten ratings of a talk (offsets 0 to 9 of its
    # partition: the mapping's position there is 10)
    for _ in range(10):
        deployment.rate(5)
    assert wait_for(lambda: deployment.counts()["5"] == 10, 30), deployment.counts()
    # When the operator deletes the ratings topic and creates it again, and attendees rate on
    sent = []
    delete_and_create_again(deployment.bootstrap, deployment.topic)
    for _ in range(3):
        sent.append(deployment.rate(1))
    # Then the runtime's mapping reads the new topic from its beginning, as Lambda's does, and
    # says so: the projector gets the three ratings while the runtime runs (and skips them as
    # applied, the old topic's offsets being above theirs, as on AWS)
    assert wait_for(lambda: deployment.stored(sent) == 3, 30), "never delivered to the projector"
    assert deployment.counts()["1"] == 0
    log = deployment.runtime.log.read_text() if deployment.runtime.log else ""
    assert "the topic was deleted and created again" in log
    # When the operator follows the runbook
    done = deployment.ops("topic-recreated", deployment.topic)
    assert done.returncode == 0, done.stderr
    assert f"stored positions of {deployment.topic!r} filed as retired" in done.stdout
    # Then the three ratings count, and the ten before them still do
    expected = {"1": 3, "2": 0, "3": 0, "4": 0, "5": 10}
    assert wait_for(lambda: deployment.counts() == expected, 30), deployment.counts()
    # And the ratings sent after it are projected as they come, each once
    for _ in range(2):
        deployment.rate(2)
    expected["2"] = 2
    assert wait_for(lambda: deployment.counts() == expected, 30), deployment.counts()
    deployment.runtime.wait_until_projected()  # a batch delivered twice shows by now
    assert deployment.counts() == expected
