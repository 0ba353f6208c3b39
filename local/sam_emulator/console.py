"""The emulator's own output: one line at a time on stderr, whichever thread writes it."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

_console_lock = threading.Lock()


def console(line: str) -> None:
    """Write one line to stderr without interleaving with other threads' lines."""
    with _console_lock:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()


def display(path: Path) -> str:
    """A path as the emulator prints it: relative to the working folder when inside it."""
    cwd = Path.cwd()
    return str(path.relative_to(cwd)) if path.is_relative_to(cwd) else str(path)
