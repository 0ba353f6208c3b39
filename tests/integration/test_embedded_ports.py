"""The local runtime's embedded services start even when the free port they chose is taken
before they bind it (another process looking for a free port at the same moment)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from kafka import KafkaAdminClient

from sam_emulator.serving import free_port
from talkrate_local import broker, embedded, free_ports

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture
def taken() -> Iterator[int]:
    """A loopback port something else listens on."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield int(listener.getsockname()[1])


@pytest.fixture
def answering() -> Iterator[int]:
    """A loopback port another server listens on, answering +PONG to whatever it is sent (as
    another Redis answers PING)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.settimeout(0.1)
        done = threading.Event()

        def serve() -> None:
            while not done.is_set():
                try:
                    connection, _ = listener.accept()
                except TimeoutError:
                    continue
                with connection:
                    connection.settimeout(2)
                    if connection.recv(64):
                        connection.sendall(b"+PONG\r\n")

        server = threading.Thread(target=serve, daemon=True)
        server.start()
        yield int(listener.getsockname()[1])
        done.set()
        server.join()


@pytest.mark.parametrize("meanwhile", ["taken", "answering"])
def test_redis_tries_another_port_when_its_free_one_was_taken_meanwhile(
    tmp_path: Path, meanwhile: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the first free port the service finds is taken by the time it binds it (by a
    # listener, or by a server answering PING as another Redis does)
    squatted: int = request.getfixturevalue(meanwhile)
    ports = iter([squatted])
    monkeypatch.setattr(free_ports, "free_port", lambda host: next(ports, None) or free_port(host))
    redis = embedded.EmbeddedRedis(tmp_path / "redis")
    # When it starts
    redis.start()
    try:
        # Then it was not taken as ready on what answered there: it runs, its own process
        # listening on another port, and answers
        assert redis.port != squatted
        assert redis.running
        assert redis._process is not None
        assert free_ports.listens(redis._process.pid, redis.port)
        with socket.create_connection(("127.0.0.1", redis.port), timeout=2) as connection:
            connection.sendall(b"PING\r\n")
            assert connection.recv(16).startswith(b"+PONG")
    finally:
        redis.stop()


def test_a_service_that_fails_for_another_reason_is_not_started_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a Redis whose data folder is a file (it cannot start, whatever the port)
    chosen: list[int] = []

    def counted(host: str) -> int:
        chosen.append(free_port(host))
        return chosen[-1]

    monkeypatch.setattr(free_ports, "free_port", counted)
    folder = tmp_path / "redis"
    folder.mkdir()
    (folder / "appendonly.aof").mkdir()  # a folder where its append-only file goes
    redis = embedded.EmbeddedRedis(folder)
    # When it starts, it fails once and says why
    with pytest.raises(embedded.ServiceError):
        redis.start()
    redis.stop()
    assert len(chosen) == 1


def test_the_broker_tries_another_port_when_its_free_one_was_taken_meanwhile(
    taken: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the first free port the broker finds is taken by the time tansu binds it
    ports = iter([taken])
    monkeypatch.setattr(broker, "free_port", lambda host: next(ports, None) or free_port(host))
    local = broker.LocalBroker()
    # When it starts
    local.start()
    try:
        # Then it listens on another port, and answers as a Kafka broker there
        assert local.port != taken
        admin = KafkaAdminClient(bootstrap_servers=local.bootstrap, request_timeout_ms=5000)
        try:
            assert isinstance(admin.list_topics(), list)
        finally:
            admin.close()
    finally:
        local.stop()


def test_a_broker_port_that_was_given_is_not_changed_when_it_is_taken(taken: int) -> None:
    local = broker.LocalBroker(port=taken, start_timeout=10)
    with pytest.raises(broker.BrokerError, match="exited"):
        local.start()
    assert local.port == taken
    assert local.pid is None


def test_a_broker_does_not_share_its_port_with_another_broker(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a broker, and a second one whose chosen free port is the first one's (two runs
    # choosing at the same moment): the second tansu cannot bind it, but dies of that only a
    # moment after the first broker has answered the second's readiness check on that port
    first = broker.LocalBroker()
    first.start()
    try:
        ports = iter([first.port])
        monkeypatch.setattr(broker, "free_port", lambda host: next(ports, None) or free_port(host))
        second = broker.LocalBroker()
        # When it starts
        second.start()
        try:
            # Then it listens on a port of its own, and is the broker answering there
            assert second.port != first.port
            time.sleep(1.0)  # a tansu that lost its port would have died by now
            assert second.running
        finally:
            second.stop()
        # And a broker given the first one's port fails to start, rather than starting with
        # another broker answering for it
        given = broker.LocalBroker(port=first.port, start_timeout=10)
        with pytest.raises(broker.BrokerError, match="exited"):
            given.start()
        assert given.pid is None
    finally:
        first.stop()
