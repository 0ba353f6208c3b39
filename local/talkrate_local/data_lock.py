"""One runtime per data folder, and per shared database when its broker is its own.

Without the first, a second `make run` on the same folder takes the first one's services for
leftovers of a killed run and stops them (its Redis, its broker and the records on it), then fails
on PostgreSQL's own lock. Without the second, two runtimes that found the machine's PostgreSQL and
Redis (or were given the same ones), each with an embedded broker of its own, project into one
read model: each broker's topic starts at offset 0, so the second runtime's ratings were taken for
the first one's and skipped as already counted.

A claim is an `flock` held for the runtime's life: the kernel drops it when the process ends
however it ends, so a killed runtime never leaves a stale one (its services are then taken over
or stopped as before). The file names the holder's pid.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import tempfile
from pathlib import Path
from typing import IO, Final

from talkrate_local.embedded import ServiceError

LOCK_FILE: Final = "runtime.lock"


class DataDirInUse(ServiceError):
    """Another local runtime uses this data folder."""


class SharedBackendInUse(ServiceError):
    """Another local runtime, with a broker of its own, projects into this database."""


class _Claim:
    """An exclusive claim on a lock file (`acquire`, `release`)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle: IO[str] | None = None

    def acquire(self) -> None:
        """Claim the file, or raise the refusal naming the runtime that holds it."""
        if self._handle is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a+")  # not inherited by the services started
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            holder = handle.read().strip()
            handle.close()
            raise self.refusal(f" (pid {holder})" if holder.isdigit() else "") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._handle = handle

    def refusal(self, holder: str) -> ServiceError:
        """Why this runtime cannot have the claim (`holder`: " (pid N)" or "")."""
        raise NotImplementedError

    def release(self) -> None:
        """Let the next runtime have it (the file stays: removing it would race)."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None


class DataDirLock(_Claim):
    """The claim of one runtime on its data folder."""

    def __init__(self, folder: Path) -> None:
        super().__init__(folder / LOCK_FILE)
        self.folder = folder

    def refusal(self, holder: str) -> ServiceError:
        """Another runtime uses the folder."""
        return DataDirInUse(
            f"another local runtime{holder} uses the data folder {self.folder}: stop it, or give "
            "this one a folder of its own (--data-dir or TALKRATE_LOCAL_DATA) and ports of its "
            "own (--port, --lambda-port, --url-port)"
        )


class SharedBackendLock(_Claim):
    """The claim of a runtime whose broker is its own on a PostgreSQL or Redis that others can
    find (`connection`; `location` names it without credentials), for the topics it projects
    (the offsets are kept per topic: other topics do not meet)."""

    def __init__(self, connection: str, location: str, topics: tuple[str, ...]) -> None:
        key = "\n".join((connection, *sorted(topics)))
        digest = hashlib.sha256(key.encode()).hexdigest()[:16]
        super().__init__(Path(tempfile.gettempdir()) / f"talkrate-local-{digest}.lock")
        self.location = location
        self.topics = topics

    def refusal(self, holder: str) -> ServiceError:
        """Another runtime projects its own broker's ratings into the same database."""
        return SharedBackendInUse(
            f"another local runtime{holder} projects the ratings of a broker of its own into "
            f"{self.location} (topic {', '.join(self.topics)}): this one's would be taken for "
            "its own and skipped as already counted; stop it, or give this one a stack of its "
            "own (--embedded) and ports of its own (--port, --lambda-port, --url-port)"
        )
