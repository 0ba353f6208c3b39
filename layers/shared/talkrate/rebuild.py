"""Rebuilding the Redis read model from the event store."""

from __future__ import annotations

import time
from collections.abc import Callable

from talkrate.errors import RebuildLockLost, TalkrateError
from talkrate.ports import RebuildSource, RebuildTarget
from talkrate.projected import ReadModelState


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

    def holding(line: str) -> None:
        # Each step of a long read keeps the lock: were it to run out, the projector would
        # apply batches that the snapshot's swap then undid.
        if not target.hold_rebuild_lock():
            raise RebuildLockLost("the rebuild's lock ran out; nothing was replaced: run it again")
        progress(line)

    try:
        holding("projector paused; reading the event store")
        state = source.state(holding)
        target.replace_all(state)
    finally:
        target.unlock_after_rebuild()
    progress(
        f"rebuilt {len(state.histograms)} histograms from {state.events} events and "
        f"{len(state.offsets)} partition offsets in {time.monotonic() - started:.2f} s; "
        "projector resumed"
    )
    return state
