"""Rebuilding the Redis read model from the event store."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

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
    started = time.monotonic()
    with _rebuild_lock(target):
        state = _swap_in(source, target, progress)
    _said_rebuilt(state, started, progress)
    return state


@contextmanager
def _rebuild_lock(target: RebuildTarget) -> Iterator[None]:
    """Hold the rebuild's lock for the block (RebuildInProgress when another rebuild has it)."""
    if not target.lock_for_rebuild():
        raise RebuildInProgress("another rebuild is running (or its lock has not expired)")
    try:
        yield
    finally:
        target.unlock_after_rebuild()


def _swap_in(
    source: RebuildSource, target: RebuildTarget, progress: Callable[[str], None]
) -> ReadModelState:
    """Read the event store's state and replace the read model with it, under the lock."""

    def holding(line: str) -> None:
        # Each step of a long read keeps the lock: were it to run out, the projector would
        # apply batches that the snapshot's swap then undid.
        if not target.hold_rebuild_lock():
            raise RebuildLockLost("the rebuild's lock ran out; nothing was replaced: run it again")
        progress(line)

    holding("projector paused; reading the event store")
    state = source.state(holding)
    target.replace_all(state)
    return state


def _said_rebuilt(state: ReadModelState, started: float, progress: Callable[[str], None]) -> None:
    progress(
        f"rebuilt {len(state.histograms)} histograms from {state.events} events and "
        f"{len(state.offsets)} partition offsets in {time.monotonic() - started:.2f} s; "
        "projector resumed"
    )


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
    started = time.monotonic()
    try:
        with _rebuild_lock(target):
            # Looked at again under the lock: several projector invocations see a lost read
            # model at once, and each that takes the lock after the first rebuilt it would
            # rebuild it again.
            if target.is_built():
                return None
            state = _swap_in(source, target, progress)
    except RebuildInProgress as error:
        raise ReadModelRebuilding(f"REBUILDING {error}") from error
    _said_rebuilt(state, started, progress)
    return state
