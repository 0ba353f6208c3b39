"""Whether the read model still holds what the event store says it should: the cheap, honest
check of a Redis that lost some of its keys but kept its built mark (an operator's mistaken DEL,
eviction under a policy that drops keys without a TTL), which no request notices; and, before
anything is compared, whether it is built at all: a read model being rebuilt (its lock held) is
told from one lost (no built mark and no rebuild running: Redis flushed or restarted empty).

For the operator's command only (`talkrate ops check`): one read of the event store, as a
rebuild's, and one of every histogram (the talks differing read again once, both sides); nothing
on a request's or a batch's path, nothing written."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal, NamedTuple, Protocol

from talkrate.projected import ReadModelState, RebuildLock
from talkrate.rebuild import OffsetRange, missing_spans
from talkrate.values import Histogram

# A talk that differs is read again after this pause, both sides: a batch applied between the
# event store's snapshot and the read of the histograms (the projector stores and counts in one
# batch) is no loss, and agrees by then.
SETTLE_SECONDS = 2.0


class CheckedStore(Protocol):
    """The event store, as the check reads it."""

    def state(self, progress: Callable[[str], None]) -> ReadModelState:
        """The whole read model recomputed from one consistent snapshot."""
        ...

    def histogram(self, talk_id: str) -> Histogram:
        """One talk's histogram counted from its stored events."""
        ...


class CheckedModel(Protocol):
    """The read model, as the check reads it."""

    def is_built(self) -> bool:
        """Whether it holds a read model built from the event store."""
        ...

    def histograms(self, talk_ids: list[str]) -> dict[str, Histogram]:
        """Several talks' histograms at once (an empty one for a talk it has no key of)."""
        ...

    def rebuild_lock(self) -> RebuildLock | None:
        """The rebuild's lock while anything holds it (a stale one too), else None."""
        ...

    def counted_histograms(self) -> dict[str, Histogram]:
        """The histogram of each talk it counts ratings of."""
        ...

    def applied_offsets(self) -> dict[str, int]:
        """Every "topic-partition" with the offset up to which batches were applied."""
        ...


class Difference(NamedTuple):
    """A talk whose counts differ: as the event store counts them, and as the read model has
    them."""

    talk_id: str
    stored: dict[str, int]
    counted: dict[str, int]

    @property
    def missing(self) -> int:
        """How many of its ratings the read model lacks (negative: it has more)."""
        return sum(self.stored.values()) - sum(self.counted.values())


# What the check found the read model to be: built (and compared), being rebuilt (its lock
# held: nothing compared, the rebuild replaces it), held off by a stale lock (one without
# expiry, which nothing renews and nothing ends: nothing compared), or lost (not built, no
# rebuild running).
ReadModelCondition = Literal["built", "rebuilding", "stale-lock", "lost"]


class CheckResult(NamedTuple):
    """What the check found: the read model's `state` (nothing compared unless "built" and no
    rebuild running), `built` whether it holds its built mark; the talks compared; those that
    differ; the rebuild's lock while one runs (or a stale one holds the projector off); the
    spans of the ratings topic the event store is `behind` the read model on, talks differing
    or not (restored from a backup: their replays come before a rebuild, which refuses until
    then; a span of copies of events stored at other positions changes no count, and a rebuild
    refuses all the same)."""

    state: ReadModelCondition
    built: bool
    talks: int
    differences: list[Difference]
    lock: RebuildLock | None = None
    behind: tuple[OffsetRange, ...] = ()


def check_read_model(
    store: CheckedStore,
    model: CheckedModel,
    progress: Callable[[str], None] = lambda _: None,
    settle: float = SETTLE_SECONDS,
    topic: str | None = None,
) -> CheckResult:
    """Compare every talk's histogram in the read model with the event store's count of it (the
    talks either side counts);
    the talks that differ twice, `settle` seconds apart (see SETTLE_SECONDS). Nothing is
    compared while a rebuild runs (the projector is held off: batches stored and not yet
    counted would read as differences), while a lock without expiry holds it off for good
    ("stale-lock"), or when the read model is lost. With `topic` (the ratings topic), the
    spans of its partitions the event store is behind the read model on, as a rebuild compares
    them (missing_spans), whether talks differ or not: counts that agree are no sign that a
    rebuild would go ahead."""
    built = model.is_built()
    lock = model.rebuild_lock()
    if lock is not None:
        return CheckResult("stale-lock" if lock.stale else "rebuilding", built, 0, [], lock)
    # Not built and no lock: looked at again, since a rebuild that ended between the two reads
    # (it sets the built mark before it lets its lock go) is no loss.
    if not built and not model.is_built():
        return CheckResult("lost", False, 0, [])
    # (read before the event store: the projector stores a batch before it applies it, so an
    # offset applied by then is stored by then, and no batch makes a span seem missing)
    applied = model.applied_offsets() if topic is not None else {}
    state = store.state(progress)
    stored = {talk: Histogram.from_counts(counts) for talk, counts in state.histograms.items()}
    # The talks either side counts: a talk the read model counts and the event store holds no
    # rating of (the store restored without it, a wrong database) differs as much as the other
    # way round; compared from the store's side alone, an empty store "matched" every read model.
    counted = model.counted_histograms()  # (every histogram read once, here)
    talks = sorted({talk for talk, histogram in stored.items() if histogram.total} | set(counted))
    found = _differing(talks, stored, counted)
    if found:
        progress(f"{len(found)} talks differ; read again in {settle:g} s")
        time.sleep(settle)
        stored.update({talk: store.histogram(talk) for talk in found})
        counted = _histograms(model, found)
        found = _differing(found, stored, counted)
    empty = Histogram.empty()
    return CheckResult(
        "built",
        True,
        len(talks),
        [
            Difference(talk, stored.get(talk, empty).counts, counted.get(talk, empty).counts)
            for talk in found
        ],
        behind=tuple(missing_spans(applied, state.offsets, topic_only=topic)),
    )


def _differing(
    talks: list[str], stored: dict[str, Histogram], counted: dict[str, Histogram]
) -> list[str]:
    """The talks whose counts differ, either side's missing talk counting none."""
    empty = Histogram.empty()
    return [t for t in talks if stored.get(t, empty).counts != counted.get(t, empty).counts]


def _histograms(model: CheckedModel, talks: list[str]) -> dict[str, Histogram]:
    """The read model's histograms of these talks, read 500 at a time."""
    counted: dict[str, Histogram] = {}
    for start in range(0, len(talks), 500):
        counted.update(model.histograms(talks[start : start + 500]))
    return counted
