"""Rebuilding the Redis read model from the event store."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

from talkrate.errors import TalkrateError
from talkrate.ports import ReadModelState


class RebuildSource(Protocol):
    """Where the truth is: the event store."""

    def state(self, progress: Callable[[str], None]) -> ReadModelState:
        """The whole read model recomputed from one consistent snapshot."""
        ...


class RebuildTarget(Protocol):
    """The read model to replace."""

    def lock_for_rebuild(self) -> bool:
        """Hold the projector off; False when another rebuild holds the lock."""
        ...

    def unlock_after_rebuild(self) -> None:
        """Let the projector apply batches again."""
        ...

    def replace_all(self, state: ReadModelState) -> None:
        """Replace every histogram and offset at once."""
        ...


class RebuildInProgress(TalkrateError):
    """Another rebuild holds the lock."""


def rebuild_read_model(
    source: RebuildSource, target: RebuildTarget, progress: Callable[[str], None] = print
) -> ReadModelState:
    """Recompute the read model from the event store and swap it in.

    The projector is held off for the duration (its batches fail and are redelivered), so an
    event arriving meanwhile is either in the snapshot, and its offset with it, or applied after
    the swap: it never counts twice and is never lost.
    """
    started = time.monotonic()
    if not target.lock_for_rebuild():
        raise RebuildInProgress("another rebuild is running (or its lock has not expired)")
    try:
        progress("projector paused; reading the event store")
        state = source.state(progress)
        target.replace_all(state)
    finally:
        target.unlock_after_rebuild()
    progress(
        f"rebuilt {len(state.histograms)} histograms from {state.events} events and "
        f"{len(state.offsets)} partition offsets in {time.monotonic() - started:.2f} s; "
        "projector resumed"
    )
    return state
