"""Servers started through talkrate_local.lifetime stop when the process that started them ends,
and not before, even when the thread that started them ended long ago."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time

import psutil
import pytest

from tests.builders import ROOT

pytestmark = [
    pytest.mark.unit,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's"),
]

# A runtime in small: starts a server (sleep) from a thread that ends at once, prints its pid,
# then lives on until killed.
RUNTIME = textwrap.dedent(
    """
    import signal, sys, threading, time
    from talkrate_local import lifetime

    started = []
    thread = threading.Thread(
        target=lambda: started.append(lifetime.popen(["sleep", "120"], signal.SIGTERM))
    )
    thread.start()
    thread.join()
    print(started[0].pid, flush=True)
    time.sleep(120)
    """
)


def alive(pid: int) -> bool:
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.Error:
        return False


def test_a_server_outlives_its_starting_thread_and_stops_with_the_process() -> None:
    # Given a process that started a server from a thread that has ended since
    runtime = subprocess.Popen(
        [sys.executable, "-c", RUNTIME],
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT / "local")},
        stdout=subprocess.PIPE,
        text=True,
    )
    server = 0
    try:
        assert runtime.stdout is not None
        server = int(runtime.stdout.readline())
        time.sleep(0.5)
        # Then the server runs on (the kernel's signal follows the thread, not the process)
        assert alive(server)
        # When the process is killed outright
        runtime.send_signal(signal.SIGKILL)
        runtime.wait(10)
        # Then the server is stopped by the kernel, with no one left to stop it
        deadline = time.monotonic() + 5
        while alive(server) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive(server)
    finally:
        runtime.kill()
        runtime.wait()
        if server and alive(server):
            psutil.Process(server).kill()
