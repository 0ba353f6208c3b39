"""The local runtime, started as a newcomer would (python -m talkrate_local), on free ports."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Runtime:
    """A running local runtime: its API base URL and its Lambda endpoint."""

    url: str
    lambda_url: str
    process: subprocess.Popen[bytes]

    def request(
        self,
        method: str,
        path: str,
        body: bytes | str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        data = body.encode() if isinstance(body, str) else body
        request = urllib.request.Request(
            self.url + path,
            data=data,
            method=method,
            headers={"content-type": "application/json", **(headers or {})},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return Answer(
                    response.status,
                    {k.lower(): v for k, v in response.headers.items()},
                    response.read(),
                )
        except urllib.error.HTTPError as error:
            return Answer(
                error.code, {k.lower(): v for k, v in error.headers.items()}, error.read()
            )


def start_runtime(
    env_overrides: dict[str, str], log: Path, extra_args: list[str] | None = None
) -> Runtime:
    port, lambda_port = free_port(), free_port()
    env = {**os.environ, "TALKRATE_LOCAL_KAFKA_MAX_POLL_MS": "3000", **env_overrides}
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "talkrate_local",
                "--port",
                str(port),
                "--lambda-port",
                str(lambda_port),
                *(extra_args or []),
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    runtime = Runtime(f"http://127.0.0.1:{port}", f"http://127.0.0.1:{lambda_port}", process)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"local runtime exited: {log.read_text()[-3000:]}")
        try:
            if runtime.request("GET", "/").status == 200:
                return runtime
        except OSError:
            pass
        time.sleep(0.2)
    stop_runtime(runtime)
    raise RuntimeError(f"local runtime did not answer: {log.read_text()[-3000:]}")


def stop_runtime(runtime: Runtime) -> None:
    runtime.process.terminate()
    try:
        runtime.process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        runtime.process.kill()
        runtime.process.wait()


@pytest.fixture(scope="session")
def backends_env(talks_dsn: str, redis_url: str, kafka_bootstrap: str) -> dict[str, str]:
    return {
        "TALKS_CONNECTION": talks_dsn,
        "RATINGS_CONNECTION": redis_url,
        "STREAMS_CONNECTION": kafka_bootstrap,
    }


@pytest.fixture(scope="session")
def runtime(
    backends_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Runtime]:
    started = start_runtime(backends_env, tmp_path_factory.mktemp("runtime") / "runtime.log")
    yield started
    stop_runtime(started)
