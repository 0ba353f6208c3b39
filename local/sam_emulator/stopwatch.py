"""Where a stop's time goes: with SAM_EMULATOR_STOP_TIMES=1, each step of Ctrl-C's stop is
printed with the seconds since the signal (`[stop] +1.234 s the Kafka drains ended`)."""

from __future__ import annotations

import atexit
import contextlib
import os
import time

from sam_emulator.console import console

_started: float | None = None


def begin() -> None:
    """The stop begins now (the signal arrived): later steps are timed from here."""
    global _started
    if _started is None:
        _started = time.monotonic()
        # After the non-daemon threads ended, before the interpreter tears itself down.
        atexit.register(step, "exiting: the exit handlers run")


def step(what: str) -> None:
    """Print `what` with the seconds since `begin`, when SAM_EMULATOR_STOP_TIMES=1."""
    if os.environ.get("SAM_EMULATOR_STOP_TIMES") != "1":
        return
    begin()
    assert _started is not None
    console(f"[stop] +{time.monotonic() - _started:.3f} s {what}")


def step_at_once(what: str) -> None:
    """`step` on the way to the process's end (a second signal): written straight to stderr's
    descriptor, taking no lock (the thread holding the console's lock may be stuck mid-line;
    the line is written even so)."""
    if os.environ.get("SAM_EMULATOR_STOP_TIMES") != "1" or _started is None:
        return
    line = f"[stop] +{time.monotonic() - _started:.3f} s {what}\n"
    with contextlib.suppress(OSError):
        os.write(2, line.encode())


def _exit_handlers_done() -> None:
    if _started is not None:
        step("exit handlers done")


# Registered first, so run last: what remains after it is the interpreter's own teardown.
atexit.register(_exit_handlers_done)
