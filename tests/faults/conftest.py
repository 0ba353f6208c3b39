"""The fault-injection suite: a runtime on a broker and a Redis database of its own.

Every scenario streams ratings through the local runtime, breaks something on loopback while they
flow, and ends with the exact check: each talk's histogram equals the ratings acknowledged for
it. The counts of each scenario are printed at the end of the run.
"""

from __future__ import annotations

import json
import os
import signal
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg2
import pytest

from talkrate.adapters.redis_store import ReadModelClient, connect, histogram_key
from talkrate_local.broker import LocalBroker
from talkrate_local.database import recreate
from tests.backends import FAULTS_RATINGS, FAULTS_TALKS
from tests.conftest import FAULT_COUNTS
from tests.e2e.conftest import Runtime, start_runtime, stop_runtime
from tests.redis_cluster import LocalRedisCluster

LOAD_LIMIT = 10_000_000  # ratings a minute from one address (the default is a room's)

# FAULTS_TALKS is a database of its own: event store positions belong to one broker, and this
# suite has its own.
REPORT: list[dict[str, Any]] = []


@dataclass
class Stream:
    """What a stream of POSTs did: per talk, the values the API acknowledged."""

    sent: int = 0
    acknowledged: dict[str, list[int]] = field(default_factory=dict)
    queued: int = 0
    refused: list[tuple[int, str]] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)

    @property
    def acknowledged_count(self) -> int:
        return sum(len(v) for v in self.acknowledged.values())

    def expected(self, talk_id: str) -> dict[str, int]:
        values = self.acknowledged.get(talk_id, [])
        return {str(v): values.count(v) for v in range(1, 6)}


@dataclass
class FaultStack:
    """The runtime, its broker and its Redis database, with the levers to break them."""

    runtime: Runtime
    broker: LocalBroker
    redis: ReadModelClient
    env: dict[str, str]
    log: Path
    cluster: LocalRedisCluster | None = None  # the Redis Cluster, when the stack runs on one
    talks: list[str] = field(default_factory=list)

    def new_talks(self, count: int) -> list[str]:
        """Talks of the catalog no other scenario rates."""
        talks = [f"fault-{uuid.uuid4().hex[:10]}" for _ in range(count)]
        with (
            psycopg2.connect(self.env["TALKS_CONNECTION"]) as connection,
            connection.cursor() as cursor,
        ):
            cursor.executemany(
                "INSERT INTO talks (id, title) VALUES (%s, %s)",
                [(t, "A talk under fire") for t in talks],
            )
        connection.close()
        self.talks = talks
        return talks

    def pause_broker(self) -> None:
        os.kill(self.broker._process.pid, signal.SIGSTOP)  # type: ignore[union-attr]

    def resume_broker(self) -> None:
        os.kill(self.broker._process.pid, signal.SIGCONT)  # type: ignore[union-attr]

    def post(self, stream: Stream, talk_id: str, value: int) -> None:
        started = time.perf_counter()
        answer = self.runtime.request(
            "POST", "/ratings", json.dumps({"talkId": talk_id, "value": value})
        )
        stream.latencies_ms.append((time.perf_counter() - started) * 1000)
        stream.sent += 1
        if answer.status == 202:
            stream.acknowledged.setdefault(talk_id, []).append(value)
            stream.queued += answer.json["status"] == "queued"
        else:
            stream.refused.append((answer.status, answer.body.decode(errors="replace")[:200]))

    def stream(
        self, count: int, clients: int = 8, during: Callable[[int], None] | None = None
    ) -> Stream:
        """POST `count` ratings over the talks from `clients` threads; `during(i)` runs at i."""
        result = Stream()

        def one(i: int) -> None:
            if during is not None:
                during(i)
            self.post(result, self.talks[i % len(self.talks)], i % 5 + 1)

        with ThreadPoolExecutor(max_workers=clients) as pool:
            list(pool.map(one, range(count)))
        return result

    def histogram(self, talk_id: str) -> dict[str, int]:
        stored = self.redis.hgetall(histogram_key(talk_id))
        return {str(v): int(stored.get(str(v), 0)) for v in range(1, 6)}

    def wait_until_rated(self, talks: list[str], within: float = 10) -> None:
        """Until each of the talks has a count (a fault injected mid-stream meets counted talks)."""
        deadline = time.monotonic() + within
        while not all(sum(self.histogram(t).values()) for t in talks):
            assert time.monotonic() < deadline, f"{talks} not all counted within {within} s"
            time.sleep(0.05)

    def relay_until_empty(self, within: float = 60) -> int:
        """Invoke RelayFunction until the outbox is empty; returns how many it published."""
        import boto3  # the Lambda Invoke API of the runtime, as on AWS

        client = boto3.client(
            "lambda",
            endpoint_url=self.runtime.lambda_url,
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )
        published, deadline = 0, time.monotonic() + within
        while time.monotonic() < deadline:
            answer = json.loads(client.invoke(FunctionName="RelayFunction")["Payload"].read())
            published += answer.get("published", 0)
            if answer.get("pending") == 0:
                return published
            time.sleep(0.5)
        raise AssertionError("the outbox did not empty")

    def wait_until_counted(self, stream: Stream, within: float = 60) -> dict[str, int]:
        """Wait until every talk's histogram equals what was acknowledged; return the counts.

        Ratings that waited in the outbox (a publish past its budget under load) are relayed
        first, rather than after up to a minute on RelayFunction's schedule.
        """
        if stream.queued:
            self.relay_until_empty()
        deadline = time.monotonic() + within
        while True:
            actual = {talk: self.histogram(talk) for talk in self.talks}
            if all(actual[t] == stream.expected(t) for t in self.talks):
                # A late duplicate, if any got through, is counted once the projector's group
                # has committed every record (a failed batch is retried, after up to 10 s)
                self.runtime.wait_until_projected()
                actual = {talk: self.histogram(talk) for talk in self.talks}
                break
            if time.monotonic() > deadline:
                break
            time.sleep(0.05)
        return {talk: sum(counts.values()) for talk, counts in actual.items()}


def record(scenario: str, stream: Stream, counted: dict[str, int], **extra: Any) -> None:
    """Keep a scenario's counts for the summary at the end of the run."""
    latencies = sorted(stream.latencies_ms)
    REPORT.append(
        {
            "scenario": scenario,
            "sent": stream.sent,
            "acknowledged": stream.acknowledged_count,
            "queued": stream.queued,
            "counted": sum(counted.values()),
            "post_p50_ms": round(latencies[len(latencies) // 2], 1) if latencies else None,
            "post_p95_ms": round(latencies[int(len(latencies) * 0.95) - 1], 1)
            if latencies
            else None,
            **extra,
        }
    )


@pytest.fixture(autouse=True)
def report_the_counts(request: pytest.FixtureRequest) -> Iterator[None]:
    """Hand a scenario's counts to the run's summary (tests/conftest.py) on its test's report,
    which reaches the run's main process from a pytest-xdist worker too."""
    yield
    while REPORT:
        request.node.user_properties.append((FAULT_COUNTS, REPORT.pop(0)))


@pytest.fixture(scope="module", params=["redis", "cluster"])
def fault_stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FaultStack]:
    """A fresh database, Redis database and broker, and a runtime with 4 workers per function.

    Once on one Redis, once on the session's Redis Cluster (three primaries, three replicas),
    where each batch waits for a replica of every shard it wrote (`replicas=1`).
    """
    recreate(FAULTS_TALKS)
    cluster: LocalRedisCluster | None = None
    if request.param == "cluster":
        cluster = request.getfixturevalue("session_redis_cluster")
        redis_url = f"{cluster.url}&replicas=1"
        cluster.flushall()
    else:
        redis_url = FAULTS_RATINGS  # the scenarios flush it; nothing else uses it
    client = connect(redis_url, decode_responses=True)
    client.flushdb()
    log = tmp_path_factory.mktemp("faults") / "runtime.log"
    with LocalBroker() as broker:
        env = {
            "TALKS_CONNECTION": FAULTS_TALKS,
            "RATINGS_CONNECTION": redis_url,
            "STREAMS_CONNECTION": broker.bootstrap,
            "PUBLISH_TIMEOUT_SECONDS": "1",
        }
        # The scenarios stream ratings from one address faster than a room would: the limit is
        # raised, not turned off, so the limiter stays on their path.
        runtime = start_runtime(
            env,
            log,
            ["--concurrency", "4", "--param", f"RatingsPerAddressPerMinute={LOAD_LIMIT}"],
        )
        # (the operator's commands read the runtime's own topic, as the runbook sets the stack's)
        env["RATINGS_TOPIC"] = runtime.ratings_topic
        try:
            yield FaultStack(runtime, broker, client, env, log, cluster)
        finally:
            stop_runtime(runtime)
    client.flushdb()
    client.close()
