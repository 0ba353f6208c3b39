"""Rebuilding the Redis read model from the event store."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from typing import NamedTuple

from talkrate.errors import ReadModelRebuilding, RebuildLockLost, TalkrateError
from talkrate.ports import RebuildSource, RebuildTarget
from talkrate.projected import ReadModelState

# The event RelayFunction takes as "rebuild the read model now, and do nothing else" (the API asks
# for it through talkrate.adapters.rebuild_requests). Here, where the relay reads it at its init:
# from that module it brought urllib.request, and with it email, http and ssl, into the relay's
# cold start (1.35x -> 2.0x the baseline).
REBUILD_EVENT = {"rebuildReadModel": True}


class RebuildInProgress(TalkrateError):
    """Another rebuild holds the lock."""


class OffsetRange(NamedTuple):
    """Offsets first..last (inclusive) of one topic partition. (A named tuple, and shlex read
    when a command is written: the projector loads this module at its init, where a dataclass
    and shlex cost it about 1.6 ms a cold start.)"""

    topic: str
    partition: int
    first: int
    last: int

    def __str__(self) -> str:
        return f"{self.topic}-{self.partition}@{self.first}..{self.last}"

    @property
    def replay_command(self) -> str:
        """The operator's command that stores these records again from Kafka, then rebuilds."""
        import shlex

        return (
            f"talkrate ops replay --topic {shlex.quote(self.topic)} --partition "
            f"{self.partition} --first {self.first} --last {self.last}"
        )


class EventStoreBehind(TalkrateError):
    """The event store holds less of a partition than the read model applied (PostgreSQL
    restored from a backup): a rebuild would take the ratings only those records hold out of
    the counts.

    `missing` names each partition's offsets past the event store's last stored position, up
    to the read model's applied offset."""

    def __init__(self, missing: list[OffsetRange]) -> None:
        self.missing = missing
        super().__init__(f"the event store is behind the read model on {behind_said(missing)}")


def behind_said(missing: Iterable[OffsetRange]) -> str:
    """Each partition the event store is behind on, with what it holds and what was applied:
    "ratings-2 (it holds up to offset 1204, the read model applied up to 1208)"."""
    return ", ".join(
        f"{span.topic}-{span.partition} (it holds "
        + (f"up to offset {span.first - 1}" if span.first else "none of its records")
        + f", the read model applied up to {span.last})"
        for span in missing
    )


def missing_spans(
    applied: Mapping[str, int],
    stored: Mapping[str, int],
    replayed: Iterable[OffsetRange] = (),
    topic_only: str | None = None,
) -> list[OffsetRange]:
    """The offsets of each "topic-partition" of `applied` past the event store's last stored
    position (`stored`, as ReadModelState.offsets has them), up to the applied one; of
    `topic_only`'s partitions alone when it is given (the ratings topic: the read model may
    hold the offsets of a topic it no longer reads).

    A partition the event store holds none of is missing from offset 0. Every record the
    projector took leaves a position: an event's, a dead letter's, or a duplicate's (a copy of
    an event stored at another position). `replayed`: ranges a replay just read from Kafka and
    stored whole: a range that begins at most one past the stored position carries it to its
    end, offsets Kafka holds no record at (compaction, a transaction's marker) included.
    Only a last stored position is compared, not every one: a partition where the event store
    holds a later record than those it lacks is not seen as behind.
    """
    held = dict(stored)
    for span in sorted(replayed, key=lambda r: r.first):
        name = f"{span.topic}-{span.partition}"
        if span.first <= held.get(name, -1) + 1:
            held[name] = max(held.get(name, -1), span.last)
    missing = []
    for name, offset in applied.items():
        topic, _, partition = name.rpartition("-")
        top = held.get(name, -1)
        if topic_only is not None and topic != topic_only:
            continue
        if topic and partition.isdigit() and offset > top:
            missing.append(OffsetRange(topic, int(partition), top + 1, offset))
    return sorted(missing, key=lambda r: (r.topic, r.partition))


def applied_topics(applied: Iterable[str]) -> list[str]:
    """The topics of the read model's applied offsets ("topic-partition" names), sorted: those a
    projector reads now, not a retired one's positions, filed under "<topic> (retired <time>)"
    (a Kafka topic's name holds no space)."""
    topics = set()
    for name in applied:
        topic, _, partition = name.rpartition("-")
        if topic and partition.isdigit() and " " not in topic:
            topics.add(topic)
    return sorted(topics)


def missing_before(
    positions: Iterable[tuple[str, int, int]], stored: Mapping[str, int]
) -> list[OffsetRange]:
    """The offsets before a delivered batch's first on each of its partitions that the event
    store holds no record at or past (`positions`: the batch's (topic, partition, offset);
    `stored`: the event store's last positions, ReadModelState.offsets).

    What a rebuild after Redis lost its data can still compare: the applied offsets went with
    the rest, but Kafka delivers a batch after the records the projector took before."""
    first: dict[str, int] = {}
    for topic, partition, offset in positions:
        name = f"{topic}-{partition}"
        first[name] = min(first.get(name, offset), offset)
    return missing_spans({name: at - 1 for name, at in first.items() if at > 0}, stored)


def rebuild_read_model(
    source: RebuildSource,
    target: RebuildTarget,
    progress: Callable[[str], None] = print,
    *,
    topic: str | None = None,
    replayed: Iterable[OffsetRange] = (),
) -> ReadModelState:
    """Recompute the read model from the event store and swap it in.

    The projector is held off for the duration (its batches fail and are redelivered), so an
    event arriving meanwhile is either in the snapshot, and its offset with it, or applied after
    the swap: it never counts twice and is never lost.

    With `topic` (the ratings topic), the read model's applied offsets of its partitions are
    compared with the event store's last stored positions first: when the event store is
    behind on one (restored from a backup), EventStoreBehind, and nothing is replaced, since
    the swap would take the ratings of the offsets it lacks out of the counts. `replayed`: the
    ranges a replay just stored (see missing_spans).
    """
    started = time.monotonic()
    spans = list(replayed)

    def check(state: ReadModelState) -> None:
        if topic is None:
            return
        missing = missing_spans(target.applied_offsets(), state.offsets, spans, topic)
        if missing:
            raise EventStoreBehind(missing)

    with _rebuild_lock(target):
        state = _swap_in(source, target, progress, check)
    _said_rebuilt(state, started, progress)
    return state


@contextmanager
def _rebuild_lock(target: RebuildTarget) -> Iterator[None]:
    """Hold the rebuild's lock for the block (RebuildInProgress when another rebuild has it)."""
    if not target.lock_for_rebuild():
        held = target.rebuild_lock()
        if held is not None and held.stale:  # (waiting for it would never end)
            raise RebuildInProgress(
                "the rebuild's lock has no expiry (set by hand, or left by a fault): it never "
                "runs out, so no rebuild can take it, and the projector is held off until it "
                "goes; `talkrate ops check` names it and the command that clears it"
            )
        raise RebuildInProgress("another rebuild is running (or its lock has not expired)")
    try:
        yield
    except BaseException:
        # The rebuild's own error is the one said; a lock that cannot be released expires.
        with suppress(TalkrateError):
            target.unlock_after_rebuild()
        raise
    try:
        target.unlock_after_rebuild()
    except TalkrateError as error:
        raise TalkrateError(
            f"the read model was rebuilt, but the rebuild's lock could not be released ({error}): "
            "the projector resumes when it expires, within a minute"
        ) from error


def _swap_in(
    source: RebuildSource,
    target: RebuildTarget,
    progress: Callable[[str], None],
    check: Callable[[ReadModelState], None] = lambda _: None,
) -> ReadModelState:
    """Read the event store's state and replace the read model with it, under the lock (unless
    `check` refuses the state: then nothing is replaced)."""

    def holding(line: str) -> None:
        # Each step of a long read keeps the lock: were it to run out, the projector would
        # apply batches that the snapshot's swap then undid.
        if not target.hold_rebuild_lock():
            raise RebuildLockLost("the rebuild's lock ran out; nothing was replaced: run it again")
        progress(line)

    holding("projector paused; reading the event store")
    state = source.state(holding)
    check(state)
    if said := target.replace_all(state):
        progress(said)
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
