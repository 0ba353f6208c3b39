"""The leaderboard's Bayesian prior, shared by the projector (which scores) and the API (which shows it).

Every talk starts as if it had PRIOR_WEIGHT ratings of PRIOR_MEAN, so a single 5 does not top a
talk with many 4s. The prior is fixed (not the global mean) so a batch only rescores the talks
it touches.
"""

from __future__ import annotations

from collections.abc import Iterable

PRIOR_MEAN = 3.0
PRIOR_WEIGHT = 10


def ranked(scored: Iterable[tuple[str, float]]) -> list[tuple[int, str, float]]:
    """The leaderboard's places of (talk id, score) pairs: (rank, talk id, score), best first.

    The one definition of a rank, for the API's board, `talkrate top` and the results files:
    standard competition ranking. Talks of the same score (the very float the board orders by:
    the projector's one division of integers, so equal fractions are equal floats) share a rank,
    and the next rank skips as many (1, 1, 3); among them the lower id (by code point, which is
    UTF-8's byte order) comes first, an order that does not move between reads."""
    places: list[tuple[int, str, float]] = []
    for index, (talk_id, score) in enumerate(sorted(scored, key=lambda item: (-item[1], item[0]))):
        tied = places and places[-1][2] == score
        places.append((places[-1][0] if tied else index + 1, talk_id, score))
    return places
