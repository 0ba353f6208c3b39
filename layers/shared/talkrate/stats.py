"""Statistics of a rating histogram.

Kept free of pydantic and every other heavy import: StatsFunction's cold start pays only for this.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from talkrate.errors import InvalidHistogram

VALUES = (1, 2, 3, 4, 5)
MAX_COUNT = 10**12


def rounded(numerator: int, denominator: int, digits: int = 4) -> float:
    """numerator / denominator (both positive) to `digits` places, a tie rounded up: the exact
    quotient's, as the results export writes it. round() of the float rounded 442/109
    (4.0550459…) to 4.055, which the pages' two places then made 4.05, and a tie (97/32 =
    3.03125) to even, 3.0312, where the export said 3.0313."""
    scale: int = 10**digits
    whole: int = (2 * numerator * scale + denominator) // (2 * denominator)
    return whole / scale


def places(value: float, digits: int = 4) -> float:
    """A float (not a quotient of integers: a deviation) to `digits` places, a tie of its exact
    value rounded up (as JavaScript's toFixed)."""
    from decimal import ROUND_HALF_UP, Decimal

    return float(Decimal(value).quantize(Decimal(1).scaleb(-digits), ROUND_HALF_UP))


def parse_histogram(payload: Any) -> dict[int, int]:
    """Validate `{"ratings": {"1": n, ...}}` and return the count per value (missing ones zero)."""
    if not isinstance(payload, Mapping) or "ratings" not in payload:
        raise InvalidHistogram('expected an object {"ratings": {"1": n, ..., "5": n}}')
    ratings = payload["ratings"]
    if not isinstance(ratings, Mapping):
        raise InvalidHistogram('"ratings" must be an object of counts keyed "1" to "5"')
    counts = dict.fromkeys(VALUES, 0)
    for key, count in ratings.items():
        if key not in {"1", "2", "3", "4", "5"}:
            raise InvalidHistogram(f'unknown rating value {str(key)[:20]!r}: keys are "1" to "5"')
        # bool is an int subclass in Python; a count of `true` is not a count.
        if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= MAX_COUNT:
            raise InvalidHistogram(
                f"count for {key!r} must be a whole number from 0 to {MAX_COUNT}"
            )
        counts[int(key)] = count
    return counts


def most_frequent(counts: Mapping[int, int]) -> list[int]:
    """Every most frequent value of a histogram, lowest first; none for an empty one. A tie is
    named whole: a talk rated 4 and 5 equally often is [4, 5], not its lowest."""
    most = max(counts.get(v, 0) for v in VALUES)
    return [v for v in VALUES if most and counts.get(v, 0) == most]


def compute_stats(counts: Mapping[int, int]) -> dict[str, Any]:
    """Average, count, spread (the population deviation: divided by the count, a spreadsheet's
    STDEV.P), median and most frequent values of a histogram; `avg` and friends are None when
    empty. `mode` is the lowest of the most frequent values (the field as first documented),
    `modes` every one of them."""
    total = sum(counts.get(v, 0) for v in VALUES)
    per_value = {str(v): counts.get(v, 0) for v in VALUES}
    if total == 0:
        return {
            "avg": None,
            "totalCount": 0,
            "counts": per_value,
            "stdDev": None,
            "median": None,
            "mode": None,
            "modes": None,
        }
    weighted = sum(v * counts.get(v, 0) for v in VALUES)
    mean = weighted / total
    variance = sum(counts.get(v, 0) * (v - mean) ** 2 for v in VALUES) / total
    modes = most_frequent(counts)
    return {
        "avg": rounded(weighted, total),
        "totalCount": total,
        "counts": per_value,
        "stdDev": places(math.sqrt(variance)),
        "median": _median(counts, total),
        "mode": modes[0],
        "modes": modes,
    }


def _median(counts: Mapping[int, int], total: int) -> float:
    """Median of the ratings without expanding the histogram into a list."""

    def nth(rank: int) -> int:  # rank is 0-based
        seen = 0
        for v in VALUES:
            seen += counts.get(v, 0)
            if rank < seen:
                return v
        raise AssertionError("rank beyond the histogram")  # pragma: no cover

    middle = total // 2
    if total % 2:
        return float(nth(middle))
    return (nth(middle - 1) + nth(middle)) / 2
