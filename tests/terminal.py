"""A program in a pseudo-terminal, and what it shows there, for tests that read or type into one."""

from __future__ import annotations

import contextlib
import os
import pty
import re
import select
import signal
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")  # a terminal's control sequences (colour, cursor)


@contextlib.contextmanager
def ctrl_c_reaches_children() -> Iterator[None]:
    """Children started inside take Ctrl-C as a terminal's foreground program does: a suite
    started in the background (as CI may be) has SIGINT ignored, which a child inherits."""
    ignored = signal.getsignal(signal.SIGINT) == signal.SIG_IGN
    if ignored:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        if ignored:
            signal.signal(signal.SIGINT, signal.SIG_IGN)


@contextlib.contextmanager
def in_a_terminal(
    command: list[str], *, ctrl_c: bool = False, **popen: Any
) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """`command` started (with `popen`'s arguments) on a pseudo-terminal of its own, its input,
    output and errors: the process, and the terminal's side the test reads and types into;
    killed and closed after. `ctrl_c`: it takes Ctrl-C (ctrl_c_reaches_children)."""
    primary, secondary = pty.openpty()
    with ctrl_c_reaches_children() if ctrl_c else contextlib.nullcontext():
        process = subprocess.Popen(
            command, stdin=secondary, stdout=secondary, stderr=secondary, **popen
        )
    os.close(secondary)
    try:
        yield process, primary
    finally:
        process.kill()
        process.wait()
        os.close(primary)


def terminal_shows(
    master: int, until: str | None, timeout: float = 30.0, *, in_all: bool = False
) -> str:
    """What the terminal shows (its control sequences kept) up to the first match of `until`, a
    regular expression, or until the program ended (EIO). The test fails when the terminal shows
    nothing more for `timeout` seconds; `in_all`: reading stops `timeout` seconds after it began
    instead, and what the terminal showed by then is returned (the caller says what it expected).
    """
    shown = b""
    deadline = time.monotonic() + timeout
    while until is None or not re.search(until, shown.decode(errors="replace")):
        ready, _, _ = select.select([master], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            if in_all:
                break
            pytest.fail(f"the terminal showed nothing more after {shown!r}")
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the program ended (EIO)
            break
        if not chunk:
            break
        shown += chunk
        if not in_all:
            deadline = time.monotonic() + timeout
    return shown.decode(errors="replace")


def read_until(master: int, pattern: str | None, seconds: float) -> str:
    """What the terminal showed, its control sequences removed, until `pattern` (a regular
    expression; None: until the program ended) appeared or `seconds` passed in all."""
    return ANSI.sub("", terminal_shows(master, pattern, seconds, in_all=True))
