"""The read model's plain values, without pydantic: a histogram and a talk's rating window.

The projector and the adapters on its path use these, so a cold start of the projector loads no
validation library; talkrate.models re-exports them beside the pydantic models of the API.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

RATING_VALUES = ("1", "2", "3", "4", "5")


@dataclass(frozen=True)
class Histogram:
    """Count of ratings per value "1".."5"; missing values count zero."""

    counts: dict[str, int]

    @classmethod
    def empty(cls) -> Histogram:
        """A histogram with no ratings."""
        return cls(counts=dict.fromkeys(RATING_VALUES, 0))

    @classmethod
    def from_counts(cls, counts: dict[str, Any]) -> Histogram:
        """Normalise stored counts (strings or ints, possibly partial) into a full histogram."""
        return cls(counts={v: int(counts.get(v, 0) or 0) for v in RATING_VALUES})

    @property
    def total(self) -> int:
        """How many ratings the histogram holds."""
        return sum(self.counts.values())

    @property
    def average(self) -> float | None:
        """The mean rating to four decimals, or None without ratings."""
        total = self.total
        weighted = sum(int(v) * n for v, n in self.counts.items())
        return round(weighted / total, 4) if total else None


@dataclass(frozen=True)
class RatingWindow:
    """When a talk takes ratings: from its start until its end plus a grace period.

    A talk without a start takes ratings until its end (plus grace); without an end, from its
    start on; without either, always (the workshop's talks).
    """

    starts_at: datetime | None
    ends_at: datetime | None

    def closes_at(self, grace: timedelta) -> datetime | None:
        """The last moment a rating is taken, or None when the window never closes."""
        return None if self.ends_at is None else self.ends_at + grace

    def is_open(self, now: datetime, grace: timedelta) -> bool:
        """Whether a rating made `now` is taken."""
        if self.starts_at is not None and now < self.starts_at:
            return False
        closes = self.closes_at(grace)
        return closes is None or now <= closes
