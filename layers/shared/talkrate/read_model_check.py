"""Whether the read model still holds what the event store says it should: the cheap, honest
check of a Redis that lost some of its keys but kept its built mark (an operator's mistaken DEL,
eviction under a policy that drops keys without a TTL), which no request notices.

For the operator's command only (`talkrate ops check`): one read of the event store, as a
rebuild's, and one of every histogram; nothing on a request's or a batch's path, nothing
written."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import NamedTuple, Protocol

from talkrate.projected import ReadModelState
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


class CheckResult(NamedTuple):
    """What the check found: `built` False when the read model is not built (being rebuilt, or
    lost altogether: nothing to compare); the talks compared; those that differ."""

    built: bool
    talks: int
    differences: list[Difference]


def check_read_model(
    store: CheckedStore,
    model: CheckedModel,
    progress: Callable[[str], None] = lambda _: None,
    settle: float = SETTLE_SECONDS,
) -> CheckResult:
    """Compare every talk's histogram in the read model with the event store's count of it;
    the talks that differ twice, `settle` seconds apart (see SETTLE_SECONDS)."""
    if not model.is_built():
        return CheckResult(False, 0, [])
    state = store.state(progress)
    stored = {talk: Histogram.from_counts(counts) for talk, counts in state.histograms.items()}
    talks = sorted(talk for talk, histogram in stored.items() if histogram.total)
    found = _differing(talks, stored, model)
    if found:
        progress(f"{len(found)} talks differ; read again in {settle:g} s")
        time.sleep(settle)
        again = {talk: store.histogram(talk) for talk in found}
        found = _differing(found, again, model)
        stored.update(again)
    counted = model.histograms(found) if found else {}
    return CheckResult(
        True,
        len(talks),
        [
            Difference(talk, stored[talk].counts, counted.get(talk, Histogram.empty()).counts)
            for talk in found
        ],
    )


def _differing(talks: list[str], stored: dict[str, Histogram], model: CheckedModel) -> list[str]:
    found: list[str] = []
    for start in range(0, len(talks), 500):
        chunk = talks[start : start + 500]
        counted = model.histograms(chunk)
        found += [
            talk
            for talk in chunk
            if stored[talk].counts != counted.get(talk, Histogram.empty()).counts
        ]
    return found
