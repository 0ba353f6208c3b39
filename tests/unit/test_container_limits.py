"""The rate limits one container counts while Redis cannot (talkrate.container_limits)."""

from __future__ import annotations

from talkrate.container_limits import ContainerLimits
from talkrate.values import Limit


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_request_is_counted_only_when_none_of_its_limits_is_used_up() -> None:
    # Given a voter's limit of 2 and their address's of 3
    clock = Clock()
    limits = ContainerLimits(clock=clock)
    voter, address = Limit("voter", "v-1", 2), Limit("address", "192.0.2.1", 3)
    # When the voter sends three requests, then the third is refused for the voter's limit
    answers = [limits.admit([voter, address]) for _ in range(3)]
    assert [a.allowed for a in answers] == [True, True, False]
    assert answers[2].used_up == voter
    assert answers[2].retry_after == 60
    # And the refused one counted for nothing: another voter behind the address has one left
    other = Limit("voter", "v-2", 2)
    assert limits.admit([other, address]).allowed
    assert not limits.admit([other, address]).allowed  # the address's 3 used now


def test_a_refused_request_is_told_when_its_window_ends_and_the_next_window_starts_afresh() -> None:
    clock = Clock()
    limits = ContainerLimits(clock=clock)
    voter = Limit("voter", "v-1", 1)
    assert limits.admit([voter]).allowed
    clock.now += 45.2
    refused = limits.admit([voter])
    assert (refused.allowed, refused.retry_after) == (False, 15)
    clock.now += 14.8  # the window's end
    assert limits.admit([voter]).allowed
    assert not limits.admit([voter]).allowed


def test_a_limit_of_zero_is_no_limit_and_counts_nothing() -> None:
    limits = ContainerLimits(clock=Clock())
    assert all(limits.admit([Limit("address", "192.0.2.1", 0)]).allowed for _ in range(50))
    assert len(limits) == 0


def test_a_request_given_back_counts_for_nothing() -> None:
    limits = ContainerLimits(clock=Clock())
    voter = Limit("voter", "v-1", 1)
    assert limits.admit([voter]).allowed
    limits.give_back([voter])
    assert limits.admit([voter]).allowed
    assert not limits.admit([voter]).allowed


def test_a_flood_of_subjects_keeps_the_counters_bounded_forgetting_the_least_recent() -> None:
    # Given room for three subjects
    limits = ContainerLimits(max_subjects=3, clock=Clock())
    first = Limit("address", "192.0.2.1", 1)
    assert limits.admit([first]).allowed
    assert not limits.admit([first]).allowed
    # When four other addresses are counted
    for n in range(2, 6):
        assert limits.admit([Limit("address", f"192.0.2.{n}", 1)]).allowed
    # Then three counters are kept, the first address's forgotten (it may send again)
    assert len(limits) == 3
    assert limits.admit([first]).allowed
