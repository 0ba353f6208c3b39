"""Reading what a program shows in a pseudo-terminal, for tests that type into one."""

from __future__ import annotations

import os
import select

import pytest


def terminal_shows(master: int, until: bytes | None, timeout: float = 30.0) -> bytes:
    """What the terminal shows, up to `until` (or until the program ended); the test fails when
    it shows nothing more for `timeout` seconds."""
    shown = b""
    while until is None or until not in shown:
        ready, _, _ = select.select([master], [], [], timeout)
        if not ready:
            pytest.fail(f"the terminal showed nothing more after {shown!r}")
        try:
            chunk = os.read(master, 4096)
        except OSError:  # the program ended (EIO)
            break
        if not chunk:
            break
        shown += chunk
    return shown
