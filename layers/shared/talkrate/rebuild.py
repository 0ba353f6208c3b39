"""Rebuilding the Redis read model from the event store."""

from __future__ import annotations

import time
from collections.abc import Callable

from talkrate.errors import ReadModelRebuilding, RebuildLockLost, TalkrateError
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
    state = _rebuild(source, target, progress, unless_built=False)
    if state is None:  # pragma: no cover (only a rebuild unless built gives none)
        raise RebuildLockLost("the rebuild gave no state; nothing was replaced: run it again")
    return state


def _rebuild(
    source: RebuildSource,
    target: RebuildTarget,
    progress: Callable[[str], None],
    unless_built: bool,
) -> ReadModelState | None:
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
        # Looked at again under the lock: several projector invocations see a lost read model at
        # once, and each that takes the lock after the first rebuilt it would rebuild it again.
        if unless_built and target.is_built():
            return None
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


def rebuild_if_lost(
    source: RebuildSource, target: RebuildTarget, progress: Callable[[str], None]
) -> ReadModelState | None:
    """Rebuild the read model when Redis holds none, else None (one round trip).

    Redis that lost its data (a flush, a replaced node, a new cache) answers as if every talk
    had no ratings, and the projector would go on counting from zero: the projector calls this
    before each batch, so counts come back by themselves with the next rating instead of
    waiting for `talkrate ops rebuild`. A new Redis is built the same way, from whatever the
    event store holds. When another rebuild holds the lock, ReadModelRebuilding: the batch
    fails and is delivered again after it.
    """
    if target.is_built():
        return None
    try:
        return _rebuild(source, target, progress, unless_built=True)
    except RebuildInProgress as error:
        raise ReadModelRebuilding(f"REBUILDING {error}") from error
