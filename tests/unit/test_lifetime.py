"""Servers started through talkrate_local.lifetime stop when the process that started them ends,
and not before, even when the thread that started them ended long ago."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from talkrate_local.lifetime import ended
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
    return not ended(pid)


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


# A server in small whose main thread exits before its other thread (exit(2), not exit_group(2):
# the thread alone), which holds a listening socket until a line comes on stdin, then ends the
# process. Its main thread shows as a zombie ('Z') while the process still runs and holds its port.
LEADER_FIRST = textwrap.dedent(
    """
    import ctypes, os, platform, socket, sys, threading

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()

    def hold():
        sys.stdin.readline()
        os._exit(0)

    threading.Thread(target=hold).start()
    print(listener.getsockname()[1], flush=True)
    exit_thread = {"x86_64": 60, "aarch64": 93}[platform.machine()]  # exit(2)'s number
    ctypes.CDLL(None).syscall(exit_thread, 0)
    """
)


def thread_state(pid: int) -> str:
    """The state letter of the process's main thread (/proc/PID/stat)."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


def takes_connections(port: int) -> bool:
    with socket.socket() as client:
        return client.connect_ex(("127.0.0.1", port)) == 0


def test_a_process_whose_main_thread_exited_first_has_ended_only_once_its_last_thread_has() -> None:
    # Given a process whose main thread has exited while its other thread runs on, listening
    server = subprocess.Popen(
        [sys.executable, "-c", LEADER_FIRST],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdin is not None
        assert server.stdout is not None
        port = int(server.stdout.readline())
        deadline = time.monotonic() + 10
        while thread_state(server.pid) != "Z":
            assert time.monotonic() < deadline, "the main thread did not exit within 10 s"
            time.sleep(0.01)
        # Then it has not ended (it was taken for ended: its main thread is a zombie), and it
        # still holds its port
        assert not ended(server.pid)
        assert takes_connections(port)
        # When its last thread ends the process (its parent has not reaped it yet)
        server.stdin.write("\n")
        server.stdin.flush()
        deadline = time.monotonic() + 10
        while os.waitid(os.P_PID, server.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None:
            assert time.monotonic() < deadline, "the process did not end within 10 s"
            time.sleep(0.01)
        # Then it has ended, its port free, though a zombie still; and once reaped, too
        assert ended(server.pid)
        assert not takes_connections(port)
        server.wait(10)
        assert ended(server.pid)
    finally:
        server.kill()
        server.wait()


# A parent that never reaps: starts a server (sleep), prints its pid, then sleeps on.
NEVER_REAPS = textwrap.dedent(
    """
    import subprocess, time
    print(subprocess.Popen(["sleep", "120"]).pid, flush=True)
    time.sleep(120)
    """
)


def test_a_process_stopped_from_outside_is_done_with_once_it_ends_though_nothing_reaps_it() -> None:
    from talkrate_local.embedded import _stop_pid

    # Given a server whose parent is not this process and never reaps it (a killed run's
    # broker under a first process that reaps nothing)
    parent = subprocess.Popen(
        [sys.executable, "-c", NEVER_REAPS], stdout=subprocess.PIPE, text=True
    )
    try:
        assert parent.stdout is not None
        server = int(parent.stdout.readline())
        # When it is stopped with a minute to end in
        began = time.monotonic()
        _stop_pid(server, within=60)
        took = time.monotonic() - began
        # Then it has ended, a zombie still (nothing reaped it), and the stop returned once it
        # ended: a wait for the pid to go sat out the minute (the bound is half of it, so a
        # loaded machine's slow SIGTERM cannot fail it)
        assert thread_state(server) == "Z"
        assert ended(server)
        assert took < 30, f"the stop took {took:.1f} s"
    finally:
        parent.kill()
        parent.wait()
