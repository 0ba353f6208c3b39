"""Start the local runtime as its own process, as a newcomer would, and stop it again.

Used by the end-to-end tests and the benchmarks: both need a runtime on free ports that is ready
(GET / answers) before they send traffic, and that is gone when they are done, or when they
are killed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sam_emulator.serving import free_port
from talkrate_local import lifetime
from talkrate_local.free_ports import PORT_ATTEMPTS, log_says_port_taken


@dataclass
class LaunchedRuntime:
    """A running `python -m talkrate_local`: its API base URL, its Lambda endpoint, and the port
    of its first function URL."""

    url: str
    lambda_url: str
    process: subprocess.Popen[bytes]
    log: Path | None
    url_port: int = 0
    live_port: int = 0

    @property
    def live_url(self) -> str:
        """The live channel's WebSocket endpoint (AppSync Events emulation)."""
        return f"ws://127.0.0.1:{self.live_port}/event/realtime"


class PortTakenMeanwhile(RuntimeError):
    """The runtime exited because a free port chosen for it was taken before it bound it."""


def launch(
    template: Path,
    env: Mapping[str, str] | None = None,
    log: Path | None = None,
    extra_args: Sequence[str] = (),
    ready_within: float = 60,
    url_port: int | None = None,
    inherit_env: bool = True,
    module: str = "talkrate_local",
) -> LaunchedRuntime:
    """Start the runtime for `template` on free ports and wait until GET / answers.

    `env` is added to this process's environment, or replaces it when `inherit_env` is false;
    `module` is what `python -m` runs (`sam_emulator`: the emulator without a dev stack). A
    free port is free when chosen, not always when the runtime binds it (an outgoing
    connection of another process may take it from the same range): when the runtime's log
    says a port was in use, it is started again on other free ports, up to PORT_ATTEMPTS times.
    """
    for attempt in range(1, PORT_ATTEMPTS + 1):
        try:
            return _launch_once(
                template, env, log, extra_args, ready_within, url_port, inherit_env, module
            )
        except PortTakenMeanwhile:
            if attempt == PORT_ATTEMPTS:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _launch_once(
    template: Path,
    env: Mapping[str, str] | None,
    log: Path | None,
    extra_args: Sequence[str],
    ready_within: float,
    url_port: int | None,
    inherit_env: bool,
    module: str,
) -> LaunchedRuntime:
    port, lambda_port = free_port(), free_port()
    url_port = url_port or free_port()
    # A free port for the template's Event API too, so runtimes side by side never share one.
    live_port = 0 if "--live-port" in extra_args else free_port()
    command = [
        sys.executable,
        "-m",
        module,
        "--template",
        str(template),
        "--port",
        str(port),
        "--lambda-port",
        str(lambda_port),
        "--url-port",
        str(url_port),
        *(["--live-port", str(live_port)] if live_port else []),
        *extra_args,
    ]
    output = log.open("wb") if log else subprocess.DEVNULL
    try:
        # A test run or benchmark killed from outside stops its runtime too: SIGTERM, which it
        # takes as it takes Ctrl-C (talkrate_local.lifetime; on Linux).
        process = lifetime.popen(
            command,
            signal.SIGTERM,
            cwd=template.parent,
            env={**(os.environ if inherit_env else {}), **(env or {})},
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    finally:
        if log:
            output.close()  # type: ignore[union-attr]
    if not live_port and "--live-port" in extra_args:
        live_port = int(extra_args[list(extra_args).index("--live-port") + 1])
    runtime = LaunchedRuntime(
        f"http://127.0.0.1:{port}",
        f"http://127.0.0.1:{lambda_port}",
        process,
        log,
        url_port,
        live_port,
    )
    deadline = time.monotonic() + ready_within
    while time.monotonic() < deadline:
        if process.poll() is not None:
            failed = PortTakenMeanwhile if log_says_port_taken(log) else RuntimeError
            raise failed(f"the local runtime exited with {process.returncode}{_tail(log)}")
        if _answers(runtime.url):
            return runtime
        time.sleep(0.2)
    stop(runtime)
    raise RuntimeError(f"the local runtime did not answer within {ready_within:g} s{_tail(log)}")


def stop(runtime: LaunchedRuntime, within: float = 20) -> int:
    """Stop the runtime the way Ctrl-C does (SIGINT), killing it only if it hangs."""
    if runtime.process.poll() is None:
        runtime.process.send_signal(2)
        try:
            runtime.process.wait(timeout=within)
        except subprocess.TimeoutExpired:
            runtime.process.kill()
            runtime.process.wait()
    return runtime.process.returncode


@contextmanager
def running(
    template: Path,
    env: Mapping[str, str] | None = None,
    log: Path | None = None,
    extra_args: Sequence[str] = (),
) -> Iterator[LaunchedRuntime]:
    """The runtime for the duration of a `with` block."""
    runtime = launch(template, env, log, extra_args)
    try:
        yield runtime
    finally:
        stop(runtime)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/", timeout=2) as response:  # noqa: S310 - our own URL  # nosec B310
            return bool(response.status == 200)
    except OSError:
        return False


def _tail(log: Path | None) -> str:
    return f":\n{log.read_text(errors='replace')[-3000:]}" if log and log.exists() else ""
