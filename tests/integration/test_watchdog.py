"""The local runtime notices an embedded service that stopped on its own while it runs: servers
are started again with their data, the broker on its port (tansu in memory: new and empty)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest
import redis

from talkrate_local.backends import Backends, Choice
from talkrate_local.embedded import EmbeddedPostgres, EmbeddedRedis, KeptBroker, _answers_kafka
from talkrate_local.watchdog import Watchdog

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture
def folder() -> Iterator[Path]:
    """A data folder the unprivileged user PostgreSQL runs as under root can reach."""
    made = Path(tempfile.mkdtemp(prefix="talkrate-watchdog-"))
    made.chmod(0o755)  # mkdtemp makes it private
    yield made
    shutil.rmtree(made, ignore_errors=True)


def backends_with(tmp_path: Path, **services: object) -> Backends:
    """Backends holding these started services (as the runtime's start leaves them)."""
    choices = {
        name: Choice(name, "embedded", "", "test") for name in ("talks", "ratings", "streams")
    }
    return Backends(choices, tmp_path, services=dict(services))  # type: ignore[arg-type]


def killed(pid: int | None) -> None:
    """SIGKILL the service's process (a child of this one), then wait until it has ended as a
    whole: its leader shows as a zombie while its other threads still end, holding its port and
    not yet waitable (the watchdog saw it running, a bind to its port failed); waitable with
    WNOWAIT, every thread has ended and closed its sockets, and the watchdog's check reaps it."""
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None:
        assert time.monotonic() < deadline, f"process {pid} still runs after SIGKILL"
        time.sleep(0.01)


def test_a_killed_redis_is_started_again_on_its_port_with_its_data(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the runtime's embedded Redis holding a count, written to its append-only file
    service = EmbeddedRedis(tmp_path / "redis")
    service.start()
    restarted: list[str] = []
    watchdog = Watchdog(backends_with(tmp_path, ratings=service), restarted=restarted.append)
    try:
        client = redis.Redis(port=service.port, socket_timeout=2)
        client.set("counted", "42")
        client.bgrewriteaof()
        # Until the rewrite is done (its file holds the count, written and synced by then)
        deadline = time.monotonic() + 10
        while (persistence := client.info("persistence"))["aof_rewrite_in_progress"] or (
            persistence["aof_rewrite_scheduled"]
        ):
            assert time.monotonic() < deadline, persistence
            time.sleep(0.02)
        assert persistence["aof_last_bgrewrite_status"] == "ok", persistence
        port = service.port
        watchdog.check()
        assert restarted == []  # a running service is left alone
        # When it is killed
        killed(service._process.pid if service._process else None)
        watchdog.check()
        # Then it runs again on the same port (where the functions look for it), with its data
        assert service.running
        assert service.port == port
        assert redis.Redis(port=port, socket_timeout=2).get("counted") == b"42"
        assert restarted == ["ratings"]
        said = capsys.readouterr().err
        assert "embedded redis stopped on its own (exit status -9)" in said
        assert f"embedded redis is back on port {port}" in said
    finally:
        service.stop()


def test_a_runtime_stopping_while_redis_comes_back_builds_nothing_in_it(
    tmp_path: Path,
) -> None:
    # Given a killed Redis that the watchdog starts again, and the runtime told to stop (Ctrl-C)
    # while it does
    watchdog: Watchdog

    class StoppedMeanwhile(EmbeddedRedis):
        def restart(self) -> None:
            super().restart()
            watchdog.stop()

    service = StoppedMeanwhile(tmp_path / "redis")
    service.start()
    restarted: list[str] = []
    watchdog = Watchdog(backends_with(tmp_path, ratings=service), restarted=restarted.append)
    try:
        killed(service._process.pid if service._process else None)
        watchdog.check()
        # Then what follows a restart (the read model's build) is not started under a runtime
        # that is stopping its services
        assert service.running
        assert restarted == []
    finally:
        service.stop()


def test_a_killed_postgresql_is_started_again_with_its_data(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the runtime's embedded PostgreSQL with a table
    service = EmbeddedPostgres(folder / "postgres", database="postgres")
    service.start()
    watchdog = Watchdog(backends_with(folder, talks=service))
    try:
        with psycopg2.connect(service.connection) as connection, connection.cursor() as cursor:
            cursor.execute("CREATE TABLE kept (n int); INSERT INTO kept VALUES (7)")
        connection.close()
        # When its postmaster is killed
        killed(service._process.pid if service._process else None)
        watchdog.check()
        # Then it accepts connections again, with the committed row (crash recovery)
        assert service.running
        with psycopg2.connect(service.connection) as connection, connection.cursor() as cursor:
            cursor.execute("SELECT n FROM kept")
            assert cursor.fetchall() == [(7,)]
        connection.close()
        assert "embedded postgres is back" in capsys.readouterr().err
    finally:
        service.stop()


def tansu_pid(folder: Path) -> int:
    return int(json.loads((folder / "kafka" / "tansu.json").read_text())["pid"])


def test_a_killed_broker_is_started_again_on_its_port_once_its_offsets_are_forgotten(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the runtime's embedded in-memory broker, watched
    service = KeptBroker(tmp_path / "kafka")
    service.start()
    port, first = service.port, tansu_pid(tmp_path)
    calls: list[str] = []
    watchdog = Watchdog(
        backends_with(tmp_path, streams=service),
        restarted=lambda name: calls.append(f"restarted {name} running={service.running}"),
        renewing=lambda name: calls.append(f"renewing {name} running={service.running}"),
    )
    try:
        watchdog.check()
        assert "broker" not in capsys.readouterr().err
        # When it dies
        killed(first)
        watchdog.check()
        watchdog.check()
        # Then a new one answers on the same port, started once, after the stack forgot the
        # old one's offsets (not running then) and told of it once it runs
        said = capsys.readouterr().err
        assert said.count("the embedded broker stopped on its own") == 1
        assert "new and empty" in said
        assert said.count(f"the embedded broker is back on port {port}") == 1
        assert service.running
        assert service.port == port
        assert tansu_pid(tmp_path) != first
        assert _answers_kafka(port)
        assert calls == ["renewing streams running=False", "restarted streams running=True"]
    finally:
        service.stop()


def test_a_broker_that_cannot_start_again_is_tried_three_times_then_left_down(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the embedded broker, dead, and its port taken by something else meanwhile
    service = KeptBroker(tmp_path / "kafka")
    service.start()
    port = service.port
    watchdog = Watchdog(backends_with(tmp_path, streams=service))
    killed(tansu_pid(tmp_path))
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        try:
            # When the watchdog looks, twice
            watchdog.check()
            watchdog.check()
        finally:
            service.stop()
    # Then it tried three times, said so, and left the broker down without trying again
    said = capsys.readouterr().err
    assert said.count("broker start") == 3
    assert said.count("could not start the broker again (3 tries") == 1
    assert "ratings wait in the outbox until `make run` is started again" in said
    assert not service.running


def test_the_watchdog_checks_on_its_own_until_it_is_stopped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a watchdog running on its thread, checking every 0.2 s
    service = EmbeddedRedis(tmp_path / "redis")
    service.start()
    watchdog = Watchdog(backends_with(tmp_path, ratings=service), every=0.2)
    watchdog.start()
    try:
        # When Redis is killed, it comes back without anyone asking
        killed(service._process.pid if service._process else None)
        deadline = time.monotonic() + 15
        while "is back" not in capsys.readouterr().err and time.monotonic() < deadline:
            time.sleep(0.1)
        assert service.running
        # And once stopped (the runtime stopping its services on purpose), it does nothing more
        watchdog.stop()
        service.stop()
        # (not started again within a bounded half second, two looks and more of its 0.2 s)
        deadline = time.monotonic() + 0.5
        while time.monotonic() < deadline:
            assert not service.running
            time.sleep(0.05)
    finally:
        watchdog.stop()
        service.stop()
