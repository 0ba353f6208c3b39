"""Lambda SnapStart: what a function restored from a snapshot must not share with its siblings.

A snapshot is taken once, after the init, and many execution environments resume from it. What
the init made is therefore shared by all of them: open sockets (talkrate opens none at init, but a
connection made later in a snapshot's life must never be reused by a copy), and the state of
`random`. Event ids (UUIDv7) read os.urandom for each id, which the restored kernel reseeds, so
they need no hook; `random` (used by the clients for jitter and broker choice) is reseeded here.
Before the snapshot the adapters' modules are imported (no connection is opened), so a restored
environment does not pay for them at its first request.
"""

from __future__ import annotations

import importlib
import random
from collections.abc import Iterable

from talkrate import wiring
from talkrate.observability import logger


def before_snapshot(modules: Iterable[str]) -> None:
    """Import the adapters a function uses (modules only: connections are opened later)."""
    for name in modules:
        importlib.import_module(name)


def after_restore() -> None:
    """Give this environment its own randomness and its own connections and settings."""
    random.seed()  # from os.urandom
    wiring.reset()  # closes whatever was open; adapters and secrets are made again on first use
    logger.info("restored from a SnapStart snapshot")


def register(*modules: str) -> None:
    """Register the hooks where the runtime offers them (Lambda's Python runtimes, 3.12+), with
    the adapter modules to import before the snapshot; elsewhere (tests, the local runtime) there
    is no snapshot and nothing to do."""
    try:
        from snapshot_restore_py import (  # type: ignore[import-not-found, unused-ignore]
            register_after_restore,
            register_before_snapshot,
        )
    except ImportError:
        return
    register_before_snapshot(before_snapshot, modules)
    register_after_restore(after_restore)
