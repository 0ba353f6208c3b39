"""A newcomer's machine: `python -m talkrate_local` with no PostgreSQL, Redis or Kafka configured.

The runtime starts embedded services (forced, so that the machine's own PostgreSQL and Redis on
5432/6379 are not picked up) with their data in a fresh folder, on free ports; a talk is rated end
to end; the runtime stops cleanly; a second start on the same folder still has the data. Ratings
survive a runtime killed right after their 202, and a restart with 10,000 ratings stored shows a
new one at once.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from kafka import KafkaProducer

from sam_emulator.serving import free_port
from talkrate_local import launcher
from talkrate_local.launcher import launch, stop
from talkrate_local.lifetime import ended
from tests.builders import rating_event
from tests.e2e.conftest import ROOT, Runtime, start_runtime, stop_runtime

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

WORKSHOP_TALK = "testcontainers-integration-testing"
# What a newcomer's shell would not have: no backend is configured.
_CONFIGURATION = (
    "TALKS_CONNECTION",
    "RATINGS_CONNECTION",
    "STREAMS_CONNECTION",
    "TALKRATE_LOCAL_BROKER",
    "TALKRATE_LOCAL_DATA",
)


@contextlib.contextmanager
def reachable_data_folder() -> Iterator[Path]:
    """An empty data folder, reachable by the unprivileged user PostgreSQL runs as under root."""
    folder = Path(tempfile.mkdtemp(prefix="talkrate-local-stack-"))
    folder.chmod(0o755)  # mkdtemp makes it private; PostgreSQL may run as another user
    try:
        yield folder / "data"
    finally:
        stop_kept_broker(folder / "data")
        shutil.rmtree(folder, ignore_errors=True)


def stop_kept_broker(data: Path) -> None:
    """Stop the in-memory broker a runtime kept running for its next start (it does when records
    wait unstored: a test that failed, or one that killed the runtime), which would otherwise
    outlive the folder it was kept for."""
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        pid = int(json.loads((data / "kafka" / "tansu.json").read_text())["pid"])
        if "tansu" in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace"):
            os.kill(pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def data_dir() -> Iterator[Path]:
    """A data folder the module's tests share."""
    with reachable_data_folder() as data:
        yield data


@pytest.fixture
def own_data_dir() -> Iterator[Path]:
    """A data folder of the test's own."""
    with reachable_data_folder() as data:
        yield data


def start_stack(
    data: Path,
    log: Path,
    extra_args: list[str] | None = None,
    url_port: int | None = None,
    **env_extra: str,
) -> tuple[Runtime, float]:
    """The runtime with embedded services; returns it and the seconds until its first answer."""
    env = {name: value for name, value in os.environ.items() if name not in _CONFIGURATION}
    env.update(
        TALKRATE_LOCAL_EMBEDDED="1",
        TALKRATE_LOCAL_DATA=str(data),
        **env_extra,
    )
    started = time.monotonic()
    launched = launch(
        ROOT / "template.yaml",
        env,
        log,
        extra_args or [],
        ready_within=90,
        url_port=url_port,
        inherit_env=False,
    )
    elapsed = time.monotonic() - started
    return Runtime.of(launched), elapsed


def histogram(runtime: Runtime, talk_id: str) -> dict[str, Any]:
    answer = runtime.request("GET", f"/ratings?talkId={talk_id}")
    assert answer.status == 200, answer.body
    result: dict[str, Any] = answer.json
    return result


def wait_for_count(runtime: Runtime, value: str, count: int, seconds: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while True:
        current = histogram(runtime, WORKSHOP_TALK)
        if current["ratings"][value] >= count or time.monotonic() > deadline:
            return current
        time.sleep(0.2)


def backend_ports(runtime: Runtime) -> list[int]:
    metadata = runtime.request("GET", "/").json["metadata"]
    ports = [
        int(metadata["talks"].rsplit(":", 1)[1].split("/")[0]),
        int(metadata["ratings"].rsplit(":", 1)[1].split("/")[0]),
        int(metadata["streams"].rsplit(":", 1)[1]),
    ]
    return ports


def closed(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


def test_a_bare_machine_rates_a_talk_and_keeps_it_across_restarts(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given no backend configured and an empty data folder
    assert not data_dir.exists()
    # When the runtime starts (cold: every embedded service initialises its data)
    runtime, cold = start_stack(data_dir, tmp_path / "cold.log")
    try:
        # Then every backend is embedded and up, on loopback ports of its own
        root = runtime.request("GET", "/").json
        assert root["backends"] == {"talks": "up", "ratings": "up", "streams": "up"}
        ports = backend_ports(runtime)
        assert not {5432, 6379, 9092} & set(ports)
        log = (tmp_path / "cold.log").read_text()
        for folder in ("postgres", "redis"):
            assert f"embedded ({data_dir / folder}, new)" in log
        assert f"embedded ({data_dir / 'kafka'}, new, in memory)" in log
        # And a rating goes through Kafka into the read model, with stats
        answer = runtime.request(
            "POST", "/ratings", json.dumps({"talkId": WORKSHOP_TALK, "value": 4})
        )
        assert answer.status == 202, answer.body
        event_id = answer.json["eventId"]
        counted = wait_for_count(runtime, "4", 1)
        assert counted["ratings"] == {"1": 0, "2": 0, "3": 0, "4": 1, "5": 0}
        assert counted["stats"]["totalCount"] == 1
        # And when its Redis is killed, the runtime starts it again on its port, with its data
        redis_pid = int((data_dir / "redis" / "redis.pid").read_text().split()[0])
        os.kill(redis_pid, signal.SIGKILL)
        deadline = time.monotonic() + 20
        while "embedded redis is back" not in (log := (tmp_path / "cold.log").read_text()):
            assert time.monotonic() < deadline, log[-2000:]
            time.sleep(0.2)
        assert runtime.request("GET", "/").json["backends"]["ratings"] == "up"
        assert histogram(runtime, WORKSHOP_TALK)["ratings"]["4"] == 1
    finally:
        postgres_log = data_dir / "postgres" / "postgres.log"
        logged_before_the_stop = len(postgres_log.read_text(errors="replace"))
        code = stop(runtime)
    # And Ctrl-C stops the runtime and every service it started
    assert code == 0
    assert all(closed(port) for port in ports)
    # And PostgreSQL had little left to write out in the stop: the new cluster's catalog
    # (about 930 buffers, 0.7 to 2.1 s of checkpoint under load) was written out at the start
    during_the_stop = postgres_log.read_text(errors="replace")[logged_before_the_stop:]
    written = re.findall(r"checkpoint complete: wrote (\d+) buffers", during_the_stop)
    assert written, during_the_stop  # (its shutdown checkpoint)
    assert sum(int(buffers) for buffers in written) < 100, during_the_stop

    # When it starts again on the same folder (warm), asking StatsFunction through its URL
    url_port = free_port()
    env_vars = tmp_path / "env.json"
    env_vars.write_text(
        json.dumps(
            {
                "ApiFunction": {
                    "STATS_FUNCTION_NAME": "",
                    "RATINGS_LAMBDA_URL": f"http://127.0.0.1:{url_port}/",
                }
            }
        )
    )
    runtime, warm = start_stack(
        data_dir, tmp_path / "warm.log", ["--env-vars", str(env_vars)], url_port
    )
    try:
        # Then the rating is still there; the broker is a new one (Ctrl-C let the projector store
        # every record first), and the projector's offsets of the old one are forgotten
        assert histogram(runtime, WORKSHOP_TALK)["ratings"]["4"] == 1
        log = (tmp_path / "warm.log").read_text()
        assert f"embedded ({data_dir / 'kafka'}, new, in memory)" in log
        # (the old broker's stored position is filed as retired: a rebuild must not take it as
        # the new broker's)
        assert "1 stored positions filed as retired" in log
        # And the rating, counted, says so still (its offset went with its retired position)
        status = runtime.request("GET", f"/ratings/{event_id}")
        assert (status.status, status.json["status"]) == (200, "projected"), status.body
        # And a new rating counts once, with stats from the function URL
        answer = runtime.request(
            "POST", "/ratings", json.dumps({"talkId": WORKSHOP_TALK, "value": 5})
        )
        assert answer.status == 202, answer.body
        wait_for_count(runtime, "5", 1)
        counts = counted_before_a_later_rating(runtime)
        assert counts == {"1": 0, "2": 0, "3": 0, "4": 1, "5": 1}
        assert histogram(runtime, WORKSHOP_TALK)["stats"]["totalCount"] == 3  # (the later 1)
        assert "[url StatsFunction] POST / 200" in (tmp_path / "warm.log").read_text()
    finally:
        assert stop(runtime) == 0
    with capsys.disabled():
        print(f"\n  local stack, first answer: cold {cold:.1f} s, warm {warm:.1f} s")


def total(runtime: Runtime) -> int:
    counts: dict[str, int] = histogram(runtime, WORKSHOP_TALK)["ratings"]
    return sum(counts.values())


def wait_for_total(
    runtime: Runtime, expected: int, seconds: float, quiet: float | None = None
) -> int:
    """The total once it reaches `expected`, or after `seconds`; with `quiet`, also once it has
    not moved for that long (a count that lost ratings comes to rest short of `expected`)."""
    deadline = time.monotonic() + seconds
    last, moved = None, time.monotonic()
    while (current := total(runtime)) < expected and time.monotonic() < deadline:
        if current != last:
            last, moved = current, time.monotonic()
        elif quiet is not None and time.monotonic() - moved >= quiet:
            break
        time.sleep(0.2)
    return current


def what_happened(log: Path, lines: int = 80) -> str:
    """The runtime's log without the lines every request or batch writes (a function's START,
    END and REPORT, the gateway's access line, metrics, "kept in the outbox", "announced"):
    what a failed test needs, the watchdog's, the mappings' and the relay's words."""
    noise = (
        "START RequestId",
        "END RequestId",
        "REPORT RequestId",
        "[gateway] ",
        '{"_aws":',
        "keeping the rating in the outbox",
        '"live updates announced"',
    )
    said = [line for line in log.read_text().splitlines() if not any(n in line for n in noise)]
    return "\n".join(said[-lines:])


def wait_quiet(runtime: Runtime, seconds: float) -> dict[str, int]:
    """The talk's counts once they have not moved for `seconds`."""
    last = histogram(runtime, WORKSHOP_TALK)["ratings"]
    moved = time.monotonic()
    while time.monotonic() - moved < seconds:
        time.sleep(0.2)
        if (current := histogram(runtime, WORKSHOP_TALK)["ratings"]) != last:
            last, moved = current, time.monotonic()
    return {value: int(count) for value, count in last.items()}


def counted_before_a_later_rating(runtime: Runtime) -> dict[str, int]:
    """The talk's ratings once a rating of 1 sent now is counted, less that one: a second
    delivery of a record taken before it (a batch retried after a backoff of up to 10 s, or
    redelivered from an uncommitted offset) is counted first, the talk's records being read in
    order from its one partition. A fixed pause passed a duplicate that came after it."""
    before = histogram(runtime, WORKSHOP_TALK)["ratings"]["1"]
    answer = runtime.request("POST", "/ratings", json.dumps({"talkId": WORKSHOP_TALK, "value": 1}))
    assert answer.status == 202, answer.body
    assert answer.json["status"] == "accepted", answer.body  # on the broker, after the others
    assert wait_for_count(runtime, "1", before + 1)["ratings"]["1"] == before + 1
    counts: dict[str, int] = dict(histogram(runtime, WORKSHOP_TALK)["ratings"])
    counts["1"] -= 1
    return counts


# A new rating counted "at once" after a restart: within this many seconds of its 202. Quiet,
# 0.22 to 1.06 s with 10,000 ratings stored (docs/decisions.md, 2026-12-01), 1.6 and 1.8 s
# after a start on a new broker (test_a_start_on_another_broker...): the projector reads on
# from where it was. The wrong figures are far above: the stored ratings read through again
# first (63.4 s with about 8,000 stored, the issue's), or never (the 30 s wait). A machine
# three times slower takes about 5.5 s (which the former 5 s bound missed).
AT_ONCE_SECONDS = 15.0


def seconds_to_visible(runtime: Runtime, value: int) -> float:
    """From a new rating's 202 until GET /ratings counts it (at most 30 s)."""
    before = histogram(runtime, WORKSHOP_TALK)["ratings"][str(value)]
    answer = runtime.request(
        "POST", "/ratings", json.dumps({"talkId": WORKSHOP_TALK, "value": value})
    )
    assert answer.status == 202, answer.body
    assert answer.json["status"] == "accepted"
    accepted = time.monotonic()
    wait_for_count(runtime, str(value), before + 1, seconds=30)
    return time.monotonic() - accepted


def test_ratings_survive_a_killed_runtime_and_a_restart_with_10000_stored_shows_a_new_one_at_once(
    own_data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = own_data_dir
    runtime, _ = start_stack(data, tmp_path / "first.log")
    try:
        # Given 10,000 ratings stored, produced by a Kafka client straight to the broker
        streams = runtime.request("GET", "/").json["metadata"]["streams"]
        producer = KafkaProducer(bootstrap_servers=streams, acks="all", linger_ms=20)
        for i in range(10_000):
            event = rating_event(WORKSHOP_TALK, i % 5 + 1)
            producer.send("ratings", key=event.key, value=event.to_json())
        producer.flush(timeout=60)
        producer.close()
        assert wait_for_total(runtime, 10_000, seconds=180) == 10_000
        # When 20 more are accepted and the runtime is killed right after the last 202
        for i in range(20):
            answer = runtime.request(
                "POST", "/ratings", json.dumps({"talkId": WORKSHOP_TALK, "value": i % 5 + 1})
            )
            assert answer.status == 202, answer.body
            assert answer.json["status"] == "accepted"  # on the broker, not in the outbox
        servers = service_pids(data)
        runtime.process.send_signal(signal.SIGKILL)
        runtime.process.wait()
        # Then its PostgreSQL and Redis stop by themselves (they ran until the next start),
        # and the broker is kept for the next start to take over
        assert gone_within(STOP_BOUND_SECONDS, servers["postgres"], servers["redis"]), servers
        assert alive(servers["tansu"])

        # And it is started again on the same folder
        runtime, _ = start_stack(data, tmp_path / "after-kill.log")
        # Then it took the broker over, and every accepted rating counts, once
        assert (
            "embedded: taking over the broker a killed run left running"
            in (tmp_path / "after-kill.log").read_text()
        )
        assert (
            f"embedded ({data / 'kafka'}, taken over, in memory)"
            in (tmp_path / "after-kill.log").read_text()
        )
        after_kill = seconds_to_visible(runtime, 5)
        assert wait_for_total(runtime, 10_021, seconds=30) == 10_021
        assert after_kill < AT_ONCE_SECONDS
        assert sum(counted_before_a_later_rating(runtime).values()) == 10_021
    finally:
        stop(runtime)

    # When it is stopped with Ctrl-C and started again (a new broker: the old one was drained)
    runtime, _ = start_stack(data, tmp_path / "after-stop.log")
    try:
        # Then nothing was lost or counted twice (the barrier's 1 with them), and a new rating
        # shows at once
        assert total(runtime) == 10_022
        after_stop = seconds_to_visible(runtime, 4)
        assert after_stop < AT_ONCE_SECONDS
        assert total(runtime) == 10_023
    finally:
        assert stop(runtime) == 0
    with capsys.disabled():
        print(
            f"\n  10,000 ratings stored: a new rating visible {after_kill:.2f} s after its 202 "
            f"(runtime killed before), {after_stop:.2f} s (stopped with Ctrl-C before)"
        )


def test_a_start_that_fails_after_taking_the_kept_broker_over_leaves_it_running(
    own_data_dir: Path, tmp_path: Path
) -> None:
    # Given a runtime killed with ratings accepted (its broker kept for the next start), and
    # then its PostgreSQL's folder unusable (a disk's trouble, a server of a killed run still
    # holding it: anything that stops the next start)
    data = own_data_dir
    runtime, _ = start_stack(data, tmp_path / "first.log")
    for value in (2, 5):
        answer = runtime.request(
            "POST", "/ratings", json.dumps({"talkId": WORKSHOP_TALK, "value": value})
        )
        assert answer.status == 202, answer.body
    servers = service_pids(data)
    runtime.process.send_signal(signal.SIGKILL)
    runtime.process.wait()
    assert gone_within(STOP_BOUND_SECONDS, servers["postgres"], servers["redis"]), servers
    aside = data / "postgres-aside"
    (data / "postgres").rename(aside)
    (data / "postgres").write_text("not a folder")
    # When the next start fails on it, after taking the broker over
    with pytest.raises(RuntimeError, match="could not start the embedded services"):
        start_stack(data, tmp_path / "failed.log")
    # Then the broker is left running, and says so (it was closed: every rating on it that
    # PostgreSQL had not stored was lost)
    assert alive(servers["tansu"])
    assert "the broker taken over is left running" in (tmp_path / "failed.log").read_text()
    # And once the folder is back, the next start takes the same broker over and counts both
    (data / "postgres").unlink()
    aside.rename(data / "postgres")
    runtime, _ = start_stack(data, tmp_path / "again.log")
    try:
        assert "taken over, in memory" in (tmp_path / "again.log").read_text()
        assert wait_for_total(runtime, 2, seconds=30, quiet=1.0) == 2
    finally:
        assert stop(runtime) == 0


def test_ctrl_c_after_the_embedded_broker_died_says_so_instead_of_keeping_it(
    own_data_dir: Path, tmp_path: Path
) -> None:
    # Given a runtime on embedded services whose in-memory broker has died (killed)
    data = own_data_dir
    runtime, _ = start_stack(data, tmp_path / "run.log")
    try:
        state = json.loads((data / "kafka" / "tansu.json").read_text())
        os.kill(int(state["pid"]), signal.SIGKILL)
        assert gone_within(10, int(state["pid"]))  # (dead, unless reaped: a zombie)
    finally:
        # When the runtime is stopped (Ctrl-C)
        code = stop(runtime)
    # Then it says the broker had stopped (unless the watchdog had started a new one already),
    # and does not speak of keeping it for the next start
    assert code == 0
    log = (tmp_path / "run.log").read_text()
    assert "the broker had stopped on its own" in log or "embedded broker is back on port" in log
    assert "keeps running" not in log
    assert not (data / "kafka" / "tansu.json").exists()


def test_a_second_runtime_on_the_same_data_folder_refuses_at_once_and_spares_the_first(
    own_data_dir: Path, tmp_path: Path
) -> None:
    # Given a runtime on embedded services in a data folder
    data = own_data_dir
    first, _ = start_stack(data, tmp_path / "first.log")
    try:
        servers = service_pids(data)
        # When a second runtime is started on the same folder and the same ports (a second
        # `make run` in the same checkout)
        ports = {
            "--port": first.url.rsplit(":", 1)[1],
            "--lambda-port": first.lambda_url.rsplit(":", 1)[1],
            "--live-port": str(first.live_port),
        }
        started = time.monotonic()
        with pytest.raises(RuntimeError):
            start_stack(
                data,
                tmp_path / "second.log",
                [word for pair in ports.items() for word in pair],
                url_port=first.url_port,
            )
        # Then it stops at once, naming the runtime that holds the folder, not a port it holds
        assert time.monotonic() - started < 15
        second = (tmp_path / "second.log").read_text()
        assert f"another local runtime (pid {first.process.pid}) uses the data folder" in second
        assert "cannot listen" not in second
        # And the first keeps its services: every backend up, each server the same process,
        # running (the second exited: a server of the first it had taken for a killed run's
        # leftover was stopped and waited for by then; a fixed pause waited for the first's
        # watchdog to see it)
        backends = first.request("GET", "/").json["backends"]
        assert backends == {"talks": "up", "ratings": "up", "streams": "up"}
        assert service_pids(data) == servers
        assert not [name for name, pid in servers.items() if ended(pid)], servers
        assert "stopped on its own" not in (tmp_path / "first.log").read_text()
    finally:
        assert stop(first) == 0


def test_a_second_runtime_with_a_broker_of_its_own_is_refused_the_database_the_first_uses(
    talks_dsn: str, redis_url: str, tmp_path: Path
) -> None:
    # Given a runtime with an embedded broker, projecting into a PostgreSQL and a Redis that
    # another checkout finds too (the machine's, on their usual ports), with the same topic
    shared = {"TALKS_CONNECTION": talks_dsn, "RATINGS_CONNECTION": redis_url}
    shared |= {"STREAMS_CONNECTION": "", "TALKRATE_LOCAL_BROKER": ""}
    topic = ["--param", f"RatingsTopic=ratings-{uuid.uuid4().hex[:8]}"]
    with reachable_data_folder() as first_data, reachable_data_folder() as second_data:
        first = start_runtime(
            shared, tmp_path / "first.log", ["--data-dir", str(first_data), *topic]
        )
        try:
            # When a second one, with a broker of its own too, is started beside it
            try:
                second = start_runtime(
                    shared, tmp_path / "second.log", ["--data-dir", str(second_data), *topic]
                )
            except RuntimeError as error:
                refusal = str(error)
            else:
                stop_runtime(second)
                refusal = "it started"
            # Then it is refused, naming the runtime and the database: both brokers' topics
            # begin at offset 0, so its ratings would have been taken for the first one's and
            # skipped as already counted (seen: three accepted ratings, never counted)
            assert f"another local runtime (pid {first.process.pid}) projects the ratings" in (
                refusal
            )
            # And the first goes on
            assert first.request("GET", "/").status == 200
        finally:
            assert stop(first) == 0


def test_a_runtime_whose_free_port_was_taken_meanwhile_starts_on_another(
    backends_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the port chosen for the live channel is taken before the runtime binds it (an
    # outgoing connection of another process may get any port of the range free ports come from)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        taken_port = int(taken.getsockname()[1])
        chosen = iter([free_port(), free_port(), free_port(), taken_port])
        monkeypatch.setattr(launcher, "free_port", lambda: next(chosen, None) or free_port())
        # When it is started
        runtime = start_runtime(backends_env, tmp_path / "runtime.log")
        try:
            # Then it runs on other ports, its live channel among them, and answers
            assert runtime.live_port != taken_port
            assert runtime.request("GET", "/").status == 200
        finally:
            stop_runtime(runtime)


# Ctrl-C to the runtime and every service it started gone (the README's bound).
STOP_BOUND_SECONDS = 5.0


def service_pids(data: Path) -> dict[str, int]:
    """The embedded services' processes, from their pid files."""
    pids = {
        name: int((data / name / f"{name}.pid").read_text().split()[0])
        for name in ("postgres", "redis")
    }
    pids["tansu"] = int(json.loads((data / "kafka" / "tansu.json").read_text())["pid"])
    return pids


def alive(pid: int) -> bool:
    """Whether the process runs on: not yet ended as a whole (its main thread a zombie may have
    threads still running, holding its ports: talkrate_local.lifetime.ended)."""
    return not ended(pid)


def gone_within(seconds: float, *pids: int) -> bool:
    """Whether every one of these processes ended within `seconds`."""
    deadline = time.monotonic() + seconds
    while any(alive(pid) for pid in pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


class RatingStream:
    """Ratings posted one after another on a thread until stopped; counts the 202s, and the
    requests the stop cut short (no answer, or a 5xx from a function ended mid-invocation):
    those may or may not have been stored. Each is rated `value` (3 unless changed), and the
    counts are kept per value too, so a test can tell ratings sent before a moment from those
    sent after it."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.value = 3
        self.sent = 0
        self.accepted_of: Counter[int] = Counter()  # 202s per value rated
        self.cut_short_of: Counter[int] = Counter()
        self.failures: Counter[int] = Counter()  # 5xx answers, by status
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @property
    def accepted(self) -> int:
        return self.accepted_of.total()

    @property
    def cut_short(self) -> int:
        return self.cut_short_of.total()

    def _run(self) -> None:
        while not self._stop.is_set():
            value = self.value
            body = json.dumps({"talkId": WORKSHOP_TALK, "value": value})
            self.sent += 1
            try:
                status = self.runtime.request("POST", "/ratings", body).status
            except OSError as error:
                if isinstance(getattr(error, "reason", error), ConnectionRefusedError):
                    self.sent -= 1  # no longer listening: nothing was sent
                    return
                self.cut_short_of[value] += 1  # the runtime went away mid-request
                continue
            except http.client.HTTPException:
                # The runtime went away mid-answer (a second Ctrl-C ends it at once): a 202
                # whose body was cut is IncompleteRead, no OSError. Uncounted here it ended
                # the stream and left a rating counted that the test knew nothing of.
                self.cut_short_of[value] += 1
                continue
            if status == 202:
                self.accepted_of[value] += 1
            elif status >= 500:
                self.cut_short_of[value] += 1
                self.failures[status] += 1

    def __enter__(self) -> RatingStream:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=40)


def ctrl_c_seconds(runtime: Runtime, watched: Iterable[int]) -> float:
    """SIGINT, then the seconds until the runtime and the watched processes are gone."""
    started = time.monotonic()
    runtime.process.send_signal(signal.SIGINT)
    runtime.process.wait(timeout=60)
    while any(alive(pid) for pid in watched) and time.monotonic() - started < 60:
        time.sleep(0.02)
    return time.monotonic() - started


def test_ctrl_c_stops_everything_within_5_s_with_a_slow_broker_and_ratings_in_flight(
    own_data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broker = "frozen for 3 s"
    # Given a runtime on embedded services, with ratings stored and more being posted
    data = own_data_dir
    runtime, _ = start_stack(data, tmp_path / "first.log")
    pids = service_pids(data)
    thawed = threading.Timer(3.0, os.kill, (pids["tansu"], signal.SIGCONT))
    with RatingStream(runtime) as stream:
        wait_for_total(runtime, 10, seconds=30)
        if broker != "answering":  # a broker that answers nothing for a while
            os.kill(pids["tansu"], signal.SIGSTOP)
            thawed.start()
        # When Ctrl-C is pressed
        elapsed = ctrl_c_seconds(runtime, [pids["postgres"], pids["redis"]])
    log = (tmp_path / "first.log").read_text()
    # Then the runtime and its services are gone within the bound, the broker too unless it
    # was kept for records it could not show stored
    assert runtime.process.returncode == 0, log[-3000:]
    assert elapsed <= STOP_BOUND_SECONDS, log[-3000:]
    # And a rating in flight was let finish into the outbox (or on the stream) and answered
    # 202, or at worst 503 (try again): never a 500 for a rating that was kept
    assert set(stream.failures) <= {503}, (stream.failures, log[-3000:])
    kept = "the broker keeps running" in log
    if broker == "answering":
        assert not kept, log[-3000:]
    if broker != "answering":
        thawed.join()  # the frozen broker goes on (a stop signal it was sent takes effect)
    # (kept, it runs on; stopped, it is gone within the bound, which a fixed pause waited out)
    assert alive(pids["tansu"]) if kept else gone_within(STOP_BOUND_SECONDS, pids["tansu"])
    # And the next start counts every rating that was accepted, once
    runtime, _ = start_stack(data, tmp_path / "second.log")
    try:
        # (the broker kept is the one it took over: it ran on past the thaw, and answered)
        taken_over = "taken over, in memory" in (tmp_path / "second.log").read_text()
        assert taken_over == kept
        # (a request whose answer was cut off by the stop may have been stored: it counts once,
        # and may come after the accepted ones, so the count is read once it has come to rest)
        wait_for_total(runtime, stream.accepted, seconds=30)
        most = stream.accepted + stream.cut_short
        counted = wait_for_total(runtime, most, seconds=10, quiet=3.0)
        time.sleep(1.0)  # nothing more comes
        seen = f"accepted {stream.accepted}, cut short {stream.cut_short}"
        assert total(runtime) == counted, seen
        assert stream.accepted <= counted <= most, seen
    finally:
        assert stop(runtime) == 0
    with capsys.disabled():
        print(
            f"\n  Ctrl-C, broker {broker}: everything stopped in {elapsed:.2f} s "
            f"(sent {stream.sent}, accepted {stream.accepted}, cut short {stream.cut_short}, "
            f"5xx {dict(stream.failures)}, "
            f"counted {counted}; broker {'kept for the next start' if kept else 'stopped'})"
        )


def signal_one_of_its_other_threads(pid: int, signum: int) -> None:
    """`signum` to a thread of process `pid` other than its main one (tgkill(2))."""
    import ctypes
    import platform

    tgkill = {"x86_64": 234, "aarch64": 131}[platform.machine()]  # the syscall's number
    [tid, *_] = sorted(int(t) for t in os.listdir(f"/proc/{pid}/task") if int(t) != pid)
    libc = ctypes.CDLL(None, use_errno=True)
    assert libc.syscall(tgkill, pid, tid, signum) == 0, os.strerror(ctypes.get_errno())


@pytest.mark.parametrize(
    "first_lands_on",
    [
        # the stop under way when the second comes
        "the main thread",
        # Python runs a handler on the main thread, once for a signal that came twice before it
        # ran: the second was lost with the first, heard late, and the exit waited out the whole
        # stop (4.4 s in CI; 4.2 to 4.8 s in 4 runs of 4 here, the main thread waiting up to 1 s
        # at a time)
        "another thread",
    ],
)
def test_a_second_ctrl_c_stops_at_once_and_the_next_start_still_counts_every_rating(
    own_data_dir: Path, tmp_path: Path, first_lands_on: str
) -> None:
    # Given a runtime stopping slowly (its broker answers nothing), with ratings accepted and
    # more being posted through both Ctrl-Cs
    data = own_data_dir
    # (Each step of the stop timed in its log, for a bound missed.)
    runtime, _ = start_stack(data, tmp_path / "first.log", SAM_EMULATOR_STOP_TIMES="1")
    pids = service_pids(data)
    with RatingStream(runtime) as stream:
        wait_for_total(runtime, 10, seconds=30)
        os.kill(pids["tansu"], signal.SIGSTOP)
        try:
            # When Ctrl-C is pressed, the signal landing on the main thread or on another (a
            # process's signal may land on any)
            if first_lands_on == "the main thread":
                runtime.process.send_signal(signal.SIGINT)
                time.sleep(0.3)
            else:
                signal_one_of_its_other_threads(runtime.process.pid, signal.SIGINT)
                time.sleep(0.1)
            # And pressed again, this signal landing on a thread other than the main one (the
            # main thread, where Python runs handlers, heard it only once the stop's threads
            # had ended, 3.9 s in CI once)
            started = time.monotonic()
            signal_one_of_its_other_threads(runtime.process.pid, signal.SIGINT)
            runtime.process.wait(timeout=30)
            exited = time.monotonic() - started
            while (alive(pids["postgres"]) or alive(pids["redis"])) and (
                time.monotonic() < started + 30
            ):
                time.sleep(0.02)
            servers_gone = time.monotonic() - started
        finally:
            os.kill(pids["tansu"], signal.SIGCONT)
    # Then the runtime is gone at once (well short of the stop's bound, which the first Ctrl-C
    # takes with a frozen broker; 1 s was thin on a loaded machine), its servers stop by
    # themselves, the broker is kept
    steps = [line for line in (tmp_path / "first.log").read_text().splitlines() if "[stop]" in line]
    assert exited < STOP_BOUND_SECONDS / 2, (exited, steps)
    # (its handler ran while the first stop still drained the frozen broker, not once the drain
    # had ended: the main thread heard it within its short wait)
    heard = next(i for i, step in enumerate(steps) if "a second signal" in step)
    assert not [step for step in steps[:heard] if "event sources ended" in step], steps
    assert servers_gone < STOP_BOUND_SECONDS, (servers_gone, steps)
    assert alive(pids["tansu"])
    # And a rating the second Ctrl-C ended was answered as the stop's (try again), if at all:
    # not a 500 (which it was)
    assert set(stream.failures) <= {503}, stream.failures
    # And the next start takes the broker over and counts every accepted rating once (and a
    # rating cut short at most once)
    runtime, _ = start_stack(data, tmp_path / "second.log")
    try:
        assert "taken over, in memory" in (tmp_path / "second.log").read_text()
        wait_for_total(runtime, stream.accepted, seconds=30)
        most = stream.accepted + stream.cut_short
        counted = wait_for_total(runtime, most, seconds=10, quiet=3.0)
        time.sleep(1.0)  # nothing more comes
        seen = f"accepted {stream.accepted}, cut short {stream.cut_short}"
        assert total(runtime) == counted, seen
        assert stream.accepted <= counted <= most, seen
    finally:
        assert stop(runtime) == 0


def test_a_killed_runtime_on_a_durable_broker_leaves_no_server_running(
    own_data_dir: Path, tmp_path: Path
) -> None:
    # Given a runtime whose embedded services all keep their data on disk (--broker s3), and
    # a rating it accepted
    data = own_data_dir
    runtime, _ = start_stack(data, tmp_path / "first.log", ["--broker", "s3"])
    answer = runtime.request("POST", "/ratings", json.dumps({"talkId": WORKSHOP_TALK, "value": 2}))
    assert answer.status == 202, answer.body
    wait_for_total(runtime, 1, seconds=30)
    servers = {
        name: int((data / folder / f"{name}.pid").read_text().split()[0])
        for name, folder in (("postgres", "postgres"), ("redis", "redis"), ("s3", "kafka"))
    }
    servers["tansu"] = broker_pid(data, "s3")
    # When it is killed (kill -9, a closed terminal)
    runtime.process.send_signal(signal.SIGKILL)
    runtime.process.wait()
    # Then every server it started stops by itself (they ran until the next start stopped them)
    left = {} if gone_within(STOP_BOUND_SECONDS, *servers.values()) else servers
    for pid in left.values():  # (not to outlive the test when it fails)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
    assert left == {}
    # And the next start on the same folder still has the rating
    runtime, _ = start_stack(data, tmp_path / "second.log", ["--broker", "s3"])
    try:
        assert wait_for_total(runtime, 1, seconds=10) == 1
        assert histogram(runtime, WORKSHOP_TALK)["ratings"]["2"] == 1
    finally:
        assert stop(runtime) == 0


def broker_pid(data: Path, broker: str) -> int:
    """The embedded broker's process: tansu in memory (tansu.json) or on the S3 server."""
    if broker == "memory":
        return int(json.loads((data / "kafka" / "tansu.json").read_text())["pid"])
    return int((data / "kafka" / "tansu.pid").read_text().split()[0])


@pytest.mark.parametrize("broker", ["memory", "s3"])
def test_a_killed_broker_is_started_again_on_its_port_and_accepted_ratings_count_once(
    broker: str, own_data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a runtime on embedded services, ratings of 3 streaming in
    data = own_data_dir
    log = tmp_path / "run.log"
    runtime, _ = start_stack(data, log, ["--broker", broker] if broker != "memory" else [])
    try:
        port = backend_ports(runtime)[2]
        with RatingStream(runtime) as stream:
            wait_for_total(runtime, 10, seconds=30)
            counted_at_the_kill = total(runtime)  # stored: no kill takes these away
            # When the broker is killed mid-stream, and ratings of 4 keep coming
            os.kill(broker_pid(data, broker), signal.SIGKILL)
            killed = time.monotonic()
            stream.value = 4
            while "embedded broker is back on port" not in log.read_text():
                assert time.monotonic() - killed < 30, log.read_text()[-3000:]
                time.sleep(0.1)
            back = time.monotonic() - killed
            # (ten ratings accepted after it is back, where 3 s were waited)
            at_back = stream.accepted_of[4]
            deadline = time.monotonic() + 30
            while stream.accepted_of[4] < at_back + 10:
                assert time.monotonic() < deadline, dict(stream.accepted_of)
                time.sleep(0.05)
        # Then it is back on its port
        assert backend_ports(runtime)[2] == port
        assert runtime.request("GET", "/").json["backends"]["streams"] == "up"
        # And every rating sent after the kill counts once: each went to the outbox (the relay
        # publishes it once the broker is back) or to the new broker. The outbox's last entries
        # may wait for the relay's schedule, a minute (the API keeps ratings there for up to
        # 10 s after a failed publish): hence the 90 s
        after = stream.accepted_of[4]
        wait_for_count(runtime, "4", after, seconds=90)
        # (the 3s are all in by then: the records fetched from the old broker are delivered
        # before the new one is read, and on disk they come before the 4s in their partition)
        counts = wait_quiet(runtime, seconds=2.0)  # and nothing more comes
        before = stream.accepted_of[3]
        seen = (
            f"{broker}: before the kill accepted {before}, counted {counts['3']} "
            f"({counted_at_the_kill} when it was killed); after it accepted {after}, counted "
            f"{counts['4']}; cut short {dict(stream.cut_short_of)}"
        )
        tail = what_happened(log)
        assert after <= counts["4"] <= after + stream.cut_short_of[4], f"{seen}\n{tail}"
        assert counts["3"] <= before + stream.cut_short_of[3], seen  # none counted twice
        # tansu in memory takes with it what it acknowledged and the projector had not stored
        # yet: at most what was accepted and not counted when it was killed (on a loaded machine
        # the projector's first batch can come seconds after the stream began, hundreds behind).
        # On disk (its S3 engine), at most the one record it acknowledged last before the kill:
        # seen in 2 of 3 runs on a loaded machine (195 of 196 counted; every offset of the
        # partition read, none twice, the outbox empty, the API's 202 given on the broker's
        # answer), the first record after its restart most likely took the offset of one it had
        # answered for but not yet recorded as the partition's end (docs/local-development.md)
        lost = max(0, before - counts["3"])
        bound = 1 if broker == "s3" else before - counted_at_the_kill
        assert lost <= bound, f"{seen}\n{tail}"
        if broker == "memory":
            # The functions' clients of the old broker did not reach the new one: each function
            # ran its next invocation in a new environment (an API whose producer outlived the
            # broker had ratings acknowledged by the new one and never stored)
            said = log.read_text()
            assert "each function's next invocation runs in a new environment" in said, tail
            renewed = said.index("each function's next invocation runs in a new environment")
            assert renewed < said.index("embedded broker is back on port")
            reports = [
                line
                for line in said[renewed:].splitlines()
                if line.startswith("[ApiFunction] REPORT")
            ]
            assert any("Init Duration" in report for report in reports), reports[:3]
    finally:
        assert stop(runtime) == 0
    with capsys.disabled():
        print(
            f"\n  broker ({broker}) killed mid-stream: back on its port in {back:.1f} s; "
            f"sent {stream.sent}, cut short {stream.cut_short}; before the kill accepted "
            f"{before}, counted {counts['3']} (lost {lost}; {before - counted_at_the_kill} not "
            f"yet counted at the kill); after it accepted {after}, counted {counts['4']}"
        )


def test_the_session_s_runtime_relays_an_outbox_and_projects_into_a_read_model_of_its_own(
    backends_env: dict[str, str], redis_client: redis.Redis
) -> None:
    # Given the runtime the e2e suite shares, alive for the whole session: its relay drains the
    # outbox of its catalog every minute, and rebuilds a read model it finds lost
    # Then neither is the integration tests' (an outbox entry of theirs went to its topic)
    from tests.backends import RATINGS, TALKS

    assert backends_env["TALKS_CONNECTION"] != TALKS
    assert backends_env["RATINGS_CONNECTION"] != RATINGS
    # And the e2e tests' Redis client reads the runtime's read model
    kwargs = redis_client.connection_pool.connection_kwargs
    assert backends_env["RATINGS_CONNECTION"].endswith(f":{kwargs['port']}/{kwargs['db']}")


@pytest.mark.parametrize("next_broker", ["memory", "s3"])
def test_a_start_on_another_broker_stores_what_the_kept_broker_held_then_stops_it(
    next_broker: str, own_data_dir: Path, tmp_path: Path
) -> None:
    # Given a runtime on the default broker, with ratings of 2 accepted, killed (its in-memory
    # broker kept for the next start)
    data = own_data_dir
    runtime, _ = start_stack(data, tmp_path / "first.log")
    for _ in range(20):
        answer = runtime.request(
            "POST", "/ratings", json.dumps({"talkId": WORKSHOP_TALK, "value": 2})
        )
        assert answer.status == 202, answer.body
    kept = service_pids(data)["tansu"]
    runtime.process.send_signal(signal.SIGKILL)
    runtime.process.wait()
    assert alive(kept)
    # And ratings of 4 on it that no projector has seen (produced to it after the kill)
    port = int(json.loads((data / "kafka" / "tansu.json").read_text())["port"])
    producer = KafkaProducer(bootstrap_servers=f"127.0.0.1:{port}", acks="all")
    for _ in range(30):
        event = rating_event(WORKSHOP_TALK, 4)
        producer.send("ratings", key=event.key, value=event.to_json())
    producer.flush(timeout=30)
    producer.close()

    # When the next start uses another kind of broker
    log = tmp_path / "other.log"
    runtime, _ = start_stack(data, log, ["--broker", next_broker])
    try:
        # Then every rating the kept broker held counts, once
        assert wait_for_total(runtime, 50, seconds=10, quiet=3.0) == 50, what_happened(log)
        counts = counted_before_a_later_rating(runtime)
        assert (counts["2"], counts["4"], sum(counts.values())) == (20, 30, 50)
        # And the kept broker is stopped, in one line that says so
        assert gone_within(STOP_BOUND_SECONDS, kept)
        said = [line for line in log.read_text().splitlines() if "kept broker" in line]
        assert len(said) == 1, said
        stored = re.search(
            r"stored the (\d+) record\(s\) the projector had not, then stopped", said[0]
        )
        assert stored is not None, said
        assert 30 <= int(stored[1]) <= 50, said  # the 30, and any of the 20 not stored yet
    finally:
        assert stop(runtime) == 0

    # And a default start after it begins a new broker and counts nothing twice
    log = tmp_path / "default.log"
    runtime, _ = start_stack(data, log)
    try:
        assert "embedded: starting it" in log.read_text()
        # (the 50, and the first start's later 1 that proved them counted once)
        assert sum(counted_before_a_later_rating(runtime).values()) == 51
        visible = seconds_to_visible(runtime, 5)
        assert visible < AT_ONCE_SECONDS, visible
        assert total(runtime) == 53
    finally:
        assert stop(runtime) == 0
