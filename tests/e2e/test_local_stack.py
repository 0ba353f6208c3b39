"""A newcomer's machine: `python -m talkrate_local` with no PostgreSQL, Redis or Kafka configured.

The runtime starts embedded services (forced, so that the machine's own PostgreSQL and Redis on
5432/6379 are not picked up) with their data in a fresh folder, on free ports; a talk is rated end
to end; the runtime stops cleanly; a second start on the same folder still has the data.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sam_emulator.serving import free_port
from talkrate_local.launcher import launch, stop
from tests.e2e.conftest import ROOT, Runtime

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


@pytest.fixture(scope="module")
def data_dir() -> Iterator[Path]:
    """An empty data folder, reachable by the unprivileged user PostgreSQL runs as under root."""
    folder = Path(tempfile.mkdtemp(prefix="talkrate-local-stack-"))
    folder.chmod(0o755)  # mkdtemp makes it private; PostgreSQL may run as another user
    yield folder / "data"
    shutil.rmtree(folder, ignore_errors=True)


def start_stack(
    data: Path, log: Path, extra_args: list[str] | None = None, url_port: int | None = None
) -> tuple[Runtime, float]:
    """The runtime with embedded services; returns it and the seconds until its first answer."""
    env = {name: value for name, value in os.environ.items() if name not in _CONFIGURATION}
    env.update(
        TALKRATE_LOCAL_EMBEDDED="1",
        TALKRATE_LOCAL_DATA=str(data),
        SAM_EMULATOR_KAFKA_MAX_POLL_MS="3000",  # quick group joins
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
    runtime = Runtime(
        launched.url, launched.lambda_url, launched.process, launched.log, launched.url_port
    )
    return runtime, elapsed


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
        for folder in ("postgres", "redis", "kafka"):
            assert f"embedded ({data_dir / folder}, new)" in log
        # And a rating goes through Kafka into the read model, with stats
        answer = runtime.request(
            "POST", "/ratings", json.dumps({"talkId": WORKSHOP_TALK, "value": 4})
        )
        assert answer.status == 202, answer.body
        counted = wait_for_count(runtime, "4", 1)
        assert counted["ratings"] == {"1": 0, "2": 0, "3": 0, "4": 1, "5": 0}
        assert counted["stats"]["totalCount"] == 1
    finally:
        code = stop(runtime)
    # And Ctrl-C stops the runtime and every service it started
    assert code == 0
    assert all(closed(port) for port in ports)

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
        # Then the rating is still there, and the broker kept its offsets: nothing counts twice
        assert histogram(runtime, WORKSHOP_TALK)["ratings"]["4"] == 1
        log = (tmp_path / "warm.log").read_text()
        assert f"embedded ({data_dir / 'kafka'}, kept)" in log
        # And a new rating counts once, with stats from the function URL
        answer = runtime.request(
            "POST", "/ratings", json.dumps({"talkId": WORKSHOP_TALK, "value": 5})
        )
        assert answer.status == 202, answer.body
        wait_for_count(runtime, "5", 1)
        time.sleep(1.0)  # a second delivery, if there were one, would land by now
        after = histogram(runtime, WORKSHOP_TALK)
        assert after["ratings"] == {"1": 0, "2": 0, "3": 0, "4": 1, "5": 1}
        assert after["stats"]["totalCount"] == 2
        assert "[url StatsFunction] POST / 200" in (tmp_path / "warm.log").read_text()
    finally:
        assert stop(runtime) == 0
    with capsys.disabled():
        print(f"\n  local stack, first answer: cold {cold:.1f} s, warm {warm:.1f} s")
