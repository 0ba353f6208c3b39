"""The one definition of a place on the leaderboard (talkrate.leaderboard.ranked)."""

from __future__ import annotations

from talkrate.leaderboard import PRIOR_MEAN, PRIOR_WEIGHT, ranked


def score(*values: int) -> float:
    """A histogram's score as the projector computes it: one division of integers."""
    return (PRIOR_MEAN * PRIOR_WEIGHT + sum(values)) / (PRIOR_WEIGHT + len(values))


def test_tied_talks_share_a_rank_and_the_next_rank_skips_as_many() -> None:
    # Given two talks rated 5 and 4 (in either order of ids), one better, one worse
    scored = [("zzz-tie", score(5, 4)), ("aaa-tie", score(4, 5)), ("top", score(5, 5, 5))]
    scored.append(("low", score(1)))
    # When they are ranked
    places = ranked(scored)
    # Then the tie shares rank 2, the lower id first, and the next talk is 4th (1, 2, 2, 4)
    assert [(rank, talk_id) for rank, talk_id, _ in places] == [
        (1, "top"),
        (2, "aaa-tie"),
        (2, "zzz-tie"),
        (4, "low"),
    ]


def test_a_tie_is_the_same_float_however_the_fraction_is_reached() -> None:
    # Given two histograms of one Bayesian average (39/12 and 52/16 are both 3.25), and one a
    # hair away from it
    scored = [("b", score(5, 4)), ("a", score(5, 5, 4, 4, 2, 2)), ("c", score(5, 4) - 1e-12)]
    # Then the first two share first place, the third does not
    assert [(rank, talk_id) for rank, talk_id, _ in ranked(scored)] == [
        (1, "a"),
        (1, "b"),
        (3, "c"),
    ]


def test_the_lead_shared_by_all() -> None:
    assert [rank for rank, _, _ in ranked([("x", 3.0), ("y", 3.0), ("z", 3.0)])] == [1, 1, 1]
    assert ranked([]) == []
