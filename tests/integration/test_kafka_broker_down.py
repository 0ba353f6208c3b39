"""A Kafka mapping whose broker is away (stopped under it, or never there) keeps the runtime's
threads and open files bounded however long the broker stays away: every client it builds and
fails to bootstrap is closed (kafka-python 3.0.12 starts a client's network thread before its
bootstrap, and a bootstrap that times out raises with that thread and its sockets still open).

Measured over a few seconds with the mapping's checks shortened, so each attempt that could
leak happens several times."""

from __future__ import annotations

import gc
import logging
import socket
import threading
import time
import uuid
from collections.abc import Callable

import psutil
import pytest
from kafka import KafkaProducer
from kafka.errors import KafkaError

from sam_emulator.events.kafka import ConsumerTuning, KafkaMappingRunner, ensure_topics
from sam_emulator.serving import free_port
from talkrate_local.broker import LocalBroker
from tests.integration.test_kafka_partitions_added import Projector, mapping

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def kafka_logs_unkept(caplog: pytest.LogCaptureFixture) -> None:
    """kafka-python's error records are not kept: pytest keeps each record captured, and with
    it the failed connection's socket its traceback holds, which would be counted as open."""
    caplog.set_level(logging.CRITICAL, logger="kafka")


# The mapping's checks and reconnects, shortened from seconds so several happen while we watch.
TUNING = ConsumerTuning(
    retry_initial_seconds=0.05,
    retry_max_seconds=0.1,
    partition_check_seconds=0.1,
    connect_timeout_seconds=0.3,
)
WATCH_SECONDS = 5.0
# One client being built when we look holds a thread, a selector, a wakeup pair, a socket.
THREADS_SPARE = 1
FDS_SPARE = 10


def counts() -> tuple[int, int]:
    """This process's threads and open files, once garbage is collected: kafka-python leaves a
    refused connection's socket in a reference cycle (a frame of its connect), which a
    collection closes; what is counted is what no collection would."""
    gc.collect()
    return threading.active_count(), psutil.Process().num_fds()


def most_while(seconds: float, also: Callable[[], None] = lambda: None) -> tuple[int, int]:
    """The most threads and open files seen over `seconds`, calling `also` between looks."""
    most_threads, most_fds = counts()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        also()
        threads, fds = counts()
        most_threads, most_fds = max(most_threads, threads), max(most_fds, fds)
        time.sleep(0.1)
    return most_threads, most_fds


def wait_until(check: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_a_mapping_whose_broker_stops_keeps_its_threads_and_open_files_bounded() -> None:
    # Given a mapping reading a broker of its own, a record delivered
    topic = f"ratings-down-{uuid.uuid4().hex[:8]}"
    broker = LocalBroker()
    broker.start()
    runner: KafkaMappingRunner | None = None
    try:
        ensure_topics(broker.bootstrap, [topic], partitions=1)
        producer = KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
        try:
            producer.send(topic, value=b"before").get(timeout=10)
        finally:
            producer.close()
        projector = Projector()
        runner = KafkaMappingRunner(mapping(topic), broker.bootstrap, projector, TUNING)
        runner.start()
        assert wait_until(lambda: set(projector.counted()) == {"before"}, 20)
        # When the broker stops, and the mapping checks for partitions many times meanwhile
        broker.stop()
        most_while(1.0)  # (the consumer sees it gone)
        threads, fds = counts()
        most_threads, most_fds = most_while(WATCH_SECONDS)
        # Then the runtime's threads and open files stay where they were
        assert most_threads <= threads + THREADS_SPARE, (threads, most_threads)
        assert most_fds <= fds + FDS_SPARE, (fds, most_fds)
    finally:
        if runner is not None:
            runner.join(5)
        broker.stop()


def test_a_mapping_on_an_address_nobody_answers_keeps_its_threads_and_open_files_bounded() -> None:
    # Given a broker address where nothing listens
    nobody = f"127.0.0.1:{free_port()}"
    runner = KafkaMappingRunner(mapping("ratings"), nobody, Projector(), TUNING)
    with pytest.raises(KafkaError):
        runner.prepare(timeout_ms=300)
    threads, fds = counts()

    def topics_asked_for() -> None:
        with pytest.raises(KafkaError):
            ensure_topics(nobody, ["ratings"], timeout_ms=100)

    # When the mapping keeps trying to connect, and its topics are asked for again and again
    runner.start()
    try:
        most_threads, most_fds = most_while(WATCH_SECONDS, also=topics_asked_for)
    finally:
        runner.join(5)
    # Then the runtime's threads and open files stay where they were
    assert most_threads <= threads + 1 + THREADS_SPARE, (threads, most_threads)  # + the runner's
    assert most_fds <= fds + FDS_SPARE, (fds, most_fds)


def test_a_local_broker_awaited_on_a_port_that_speaks_no_kafka_leaves_nothing_running() -> None:
    from talkrate_local.broker import BrokerError

    # Given a port that takes connections and answers nothing (a broker still starting, or
    # another program on it), where a local broker is awaited: each look past the connection
    # builds an admin client whose bootstrap times out
    with socket.create_server(("127.0.0.1", 0)) as silent:
        broker = LocalBroker(port=silent.getsockname()[1], start_timeout=5.0)
        threads, fds = counts()
        # When it is awaited until its timeout
        with pytest.raises(BrokerError, match="not ready after"):
            broker._wait_until_ready()
    # Then the clients it built are gone with their threads and files (each left its network
    # thread and sockets running)
    assert wait_until(lambda: counts()[0] <= threads, 5), (threads, counts())
    assert counts()[1] <= fds + FDS_SPARE, (fds, counts())


def test_a_kept_broker_that_speaks_no_kafka_is_probed_without_leaving_anything_running() -> None:
    from talkrate_local.embedded import _answers_kafka

    # Given a port that takes connections and answers nothing: a broker a killed run left,
    # hung, which the next start asks whether it answers before taking it over
    with socket.create_server(("127.0.0.1", 0)) as silent:
        threads, fds = counts()
        # When it is asked
        assert not _answers_kafka(silent.getsockname()[1])
    # Then the client that asked is gone with its thread and files (it left its network thread
    # and sockets running for the runtime's life)
    assert wait_until(lambda: counts()[0] <= threads, 5), (threads, counts())
    assert counts()[1] <= fds + FDS_SPARE, (fds, counts())
