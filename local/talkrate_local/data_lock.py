"""One runtime per data folder: the embedded services' folders, pid files and kept broker are
its own while it runs.

Without it a second `make run` on the same folder takes the first one's services for leftovers of
a killed run and stops them (its Redis, its broker and the records on it), then fails on
PostgreSQL's own lock. The lock is an `flock` on `runtime.lock`, held for the runtime's life: the
kernel drops it when the process ends however it ends, so a killed runtime never leaves a stale
one (its services are then taken over or stopped as before). The file names the holder's pid.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO, Final

from talkrate_local.embedded import ServiceError

LOCK_FILE: Final = "runtime.lock"


class DataDirInUse(ServiceError):
    """Another local runtime uses this data folder."""


class DataDirLock:
    """The claim of one runtime on its data folder (`acquire`, `release`)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._handle: IO[str] | None = None

    def acquire(self) -> None:
        """Claim the folder, or raise DataDirInUse naming the runtime that holds it."""
        if self._handle is not None:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        handle = (self.folder / LOCK_FILE).open("a+")  # not inherited by the services started
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            holder = handle.read().strip()
            handle.close()
            by = f" (pid {holder})" if holder.isdigit() else ""
            raise DataDirInUse(
                f"another local runtime{by} uses the data folder {self.folder}: stop it, or give "
                "this one a folder of its own (--data-dir or TALKRATE_LOCAL_DATA)"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._handle = handle

    def release(self) -> None:
        """Let the next runtime have the folder (the file stays: removing it would race)."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None
