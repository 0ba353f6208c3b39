"""A tansu broker started by a process that is killed (SIGKILL of pytest, `timeout` ending a
test run) stops with it, unless it was started to outlive it (the dev stack's kept broker)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import psutil
import pytest

from talkrate_local.lifetime import ended
from tests.builders import ROOT

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's"),
]

STOP_BOUND_SECONDS = 5.0

# A test process in small: starts a LocalBroker (as the suite's kafka_bootstrap fixture does)
# from a thread that ends at once, prints tansu's pid, then lives on until killed.
PARENT = textwrap.dedent(
    """
    import sys, threading, time
    from talkrate_local.broker import LocalBroker

    kept = sys.argv[1] == "kept"
    broker = LocalBroker(silent=True, **({"death_signal": None} if kept else {}))
    thread = threading.Thread(target=broker.start)
    thread.start()
    thread.join()
    print(broker.pid, flush=True)
    time.sleep(120)
    """
)


def alive(pid: int) -> bool:
    """Whether the process runs on: not yet ended as a whole (its main thread a zombie may have
    threads still running, holding its ports: talkrate_local.lifetime.ended)."""
    return not ended(pid)


def gone_within(seconds: float, pid: int) -> bool:
    deadline = time.monotonic() + seconds
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not alive(pid)


@pytest.mark.parametrize("kind", ["default", "kept"])
def test_a_broker_stops_when_the_process_that_started_it_is_killed_unless_kept(
    kind: str,
) -> None:
    # Given a process that started a tansu broker from a thread that has ended since
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, kind],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT / "local")},
        stdout=subprocess.PIPE,
        text=True,
    )
    tansu = 0
    try:
        assert parent.stdout is not None
        tansu = int(parent.stdout.readline())
        # Then the broker runs on after its starting thread ended
        time.sleep(0.3)
        assert alive(tansu)
        # When the process is killed outright (nothing of it runs to stop the broker)
        parent.send_signal(signal.SIGKILL)
        parent.wait(10)
        # Then the broker stops within a few seconds; the kept one runs on, as asked
        assert gone_within(STOP_BOUND_SECONDS, tansu) is (kind == "default")
    finally:
        parent.kill()
        parent.wait()
        if tansu and alive(tansu):
            psutil.Process(tansu).kill()
