"""A stop sent twice at once is one stop.

`timeout` and `kill -- -PGID` signal a command and then its process group, so it gets the same
SIGTERM (or SIGINT) twice a few milliseconds apart: the second used to end a watch outright, or
land inside its last drawing, leaving an empty file and exit 143. A second signal within
DUPLICATE_SIGNAL_S of the first is taken as the same one; a later one is a second stop.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Iterator
from typing import Any

DUPLICATE_SIGNAL_S = 1.0

_first: dict[int, float] = {}


def duplicate(signum: int) -> bool:
    """Whether this signal repeats one received less than DUPLICATE_SIGNAL_S ago (the first of
    each is noted)."""
    now = time.monotonic()
    since = _first.get(signum)
    if since is not None and now - since < DUPLICATE_SIGNAL_S:
        return True
    _first[signum] = now
    return False


def stopped() -> bool:
    """Whether a stop (SIGTERM, or Ctrl-C where this module took it) came."""
    return bool(_first)


def forget() -> None:
    """No signal received yet, and Ctrl-C Python's own again (a command run again in the same
    process, as tests do)."""
    _first.clear()
    if signal.getsignal(signal.SIGINT) is _interrupted:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def _interrupted(signum: int, _frame: Any) -> None:
    if not duplicate(signum):
        raise KeyboardInterrupt


@contextlib.contextmanager
def ctrl_c_once() -> Iterator[None]:
    """Ctrl-C raises KeyboardInterrupt as Python's own handler does, but its duplicate within
    DUPLICATE_SIGNAL_S is dropped (a watch then draws its last view whole). Only where Python's
    own handler is in place (not a background job's ignored Ctrl-C, not outside the main
    thread). Once a Ctrl-C came, the handler stays to the command's end: its duplicate may come
    after the block."""
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    ):
        yield
        return
    _first.pop(signal.SIGINT, None)
    signal.signal(signal.SIGINT, _interrupted)
    try:
        yield
    finally:
        if signal.SIGINT not in _first:
            signal.signal(signal.SIGINT, signal.default_int_handler)
