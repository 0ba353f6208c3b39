"""How `talkrate ops` says a long step's progress (a rebuild's `counted N of M events`, every
5,000 events): one line redrawn in place on a terminal, a line every few seconds in a log."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from talkrate.projected import Step
from talkrate_cli.commands.ops import STEP_EVERY_SECONDS, _say

pytestmark = pytest.mark.unit


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def counted_a_million(say: object, clock: Clock, seconds_a_step: float) -> None:
    """The store's lines of a rebuild of a million events, 5,000 at a time, then its summary."""
    say("projector paused; reading the event store")  # type: ignore[operator]
    for done in range(5000, 1_000_001, 5000):
        clock.now += seconds_a_step
        say(Step(f"counted {done} of 1000000 events, over 7 talks", done, 1_000_000))  # type: ignore[operator]
    say("rebuilt 7 histograms from 1000000 events")  # type: ignore[operator]


def test_in_a_log_a_long_step_is_a_line_every_few_seconds_and_its_last() -> None:
    # Given a rebuild's output going to a file (CI, a log), 0.2 s for each 5,000 events (40 s)
    log, clock = io.StringIO(), Clock()
    say = _say(
        "rebuild", Console(file=log, force_terminal=False, width=200, highlight=False), clock
    )
    counted_a_million(say, clock, 0.2)
    lines = log.getvalue().splitlines()
    # Then it counts in a line every STEP_EVERY_SECONDS (4 in 40 s), its last among them, not 200
    counting = [line for line in lines if "counted" in line]
    assert len(counting) == int(40 / STEP_EVERY_SECONDS), lines
    assert counting[-1] == "rebuild: counted 1000000 of 1000000 events, over 7 talks"
    assert lines[0] == "rebuild: projector paused; reading the event store"
    assert lines[-1] == "rebuild: rebuilt 7 histograms from 1000000 events"


def test_on_a_terminal_a_long_step_is_one_line_redrawn_in_place() -> None:
    # Given a rebuild's output on a terminal
    screen, clock = io.StringIO(), Clock()
    say = _say(
        "rebuild", Console(file=screen, force_terminal=True, width=80, highlight=False), clock
    )
    counted_a_million(say, clock, 0.2)
    written = screen.getvalue()
    # Then the count is one line of the screen, redrawn (carriage return, line erased), ended
    # by the summary's line with the last count on it
    lines = written.split("\n")
    assert lines[0] == "rebuild: projector paused; reading the event store"
    assert lines[1].startswith("\r\x1b[2Krebuild: counted 5000 of 1000000")
    assert lines[1].endswith("\r\x1b[2Krebuild: counted 1000000 of 1000000 events, over 7 talks")
    assert lines[2] == "rebuild: rebuilt 7 histograms from 1000000 events"
    # And redrawn at most every 0.2 s of the reading, not at every line
    assert 0 < lines[1].count("\r") <= 200


@pytest.mark.parametrize("terminal", [False, True])
def test_a_step_that_ends_short_of_its_total_still_says_its_last_line(terminal: bool) -> None:
    # Given a rebuild of 22 events, 16 of them counted (voters who changed their minds: the
    # rebuild counts each voter's newest rating of a talk), read at once, in a log or on a screen
    out, clock = io.StringIO(), Clock()
    say = _say(
        "rebuild", Console(file=out, force_terminal=terminal, width=200, highlight=False), clock
    )
    say("event store: 22 events")
    say(Step("counted 5 of 22 events, over 3 talks", 5, 22))
    clock.now += 0.01
    say(Step("counted 16 of 22 events, over 10 talks", 16, 22))
    say("offsets of 3 partitions")
    # Then the step's last line is said before the next (it was dropped: the first count or
    # nothing, in a log, for any rebuild under STEP_EVERY_SECONDS)
    lines = [line.rsplit("\r\x1b[2K", 1)[-1] for line in out.getvalue().split("\n")[:-1]]
    assert lines == [
        "rebuild: event store: 22 events",
        "rebuild: counted 16 of 22 events, over 10 talks",
        "rebuild: offsets of 3 partitions",
    ]
