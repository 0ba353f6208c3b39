"""relay_outbox's runs: when it goes on, waits or stops (the outbox faked, its answers scripted)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from talkrate.projected import RelayResult
from talkrate.relay import relay_outbox


class ScriptedOutbox:
    """An outbox whose relays answer, in turn, what the test scripted."""

    def __init__(self, *answers: RelayResult) -> None:
        self.answers = list(answers)

    def relay(self, publish: Callable[..., None], limit: int, until: float | None = None) -> Any:
        assert self.answers, "relayed once more than the test expected"
        return self.answers.pop(0)


class NoPublisher:
    def publish(self, event: object) -> None:
        raise AssertionError("the scripted outbox publishes nothing itself")


def run(outbox: ScriptedOutbox, pauses: list[float]) -> RelayResult:
    """A RelayFunction-like run: 60 s to drain, and to try a failed stream again."""
    now = time.monotonic()
    return relay_outbox(
        outbox, NoPublisher(), until=now + 60, retry_until=now + 60, pause=2, sleep=pauses.append
    )


def test_a_run_leaves_what_another_run_holds_to_it_without_waiting() -> None:
    # Given a batch that published what it could and left two entries another run holds
    outbox = ScriptedOutbox(RelayResult(1, 2, 3.0, stream_failed=False, held_elsewhere=2))
    pauses: list[float] = []
    # When a run with time to spare relays
    result = run(outbox, pauses)
    # Then it stops at once, saying they are held elsewhere and that the stream did not fail
    # (it took "fewer than a batch published" for a failed stream, and tried again every 2 s)
    assert pauses == []
    assert result == RelayResult(1, 2, 3.0, stream_failed=False, held_elsewhere=2)
    assert outbox.answers == []


def test_entries_written_during_a_batch_go_out_in_the_same_run_at_once() -> None:
    # Given a batch that left entries no other run holds (written while it published), then
    # one that empties the outbox
    outbox = ScriptedOutbox(
        RelayResult(3, 2, 1.0, held_elsewhere=0), RelayResult(2, 0, 0.0, held_elsewhere=0)
    )
    pauses: list[float] = []
    # When a run relays
    result = run(outbox, pauses)
    # Then it takes them at once, without a pause, and counts both batches' publications
    assert pauses == []
    assert result == RelayResult(5, 0, 0.0, stream_failed=False, held_elsewhere=0)


def test_a_stream_that_failed_is_tried_again_after_a_pause() -> None:
    # Given a batch the stream failed, then one it takes
    outbox = ScriptedOutbox(
        RelayResult(0, 2, 5.0, stream_failed=True, held_elsewhere=0),
        RelayResult(2, 0, 0.0, held_elsewhere=0),
    )
    pauses: list[float] = []
    # When a run relays
    result = run(outbox, pauses)
    # Then it waited one pause before trying again, and ends with nothing waiting
    assert pauses == [2]
    assert result == RelayResult(2, 0, 0.0, stream_failed=False, held_elsewhere=0)


def test_a_run_without_time_to_retry_says_the_stream_failed() -> None:
    # Given a batch the stream failed
    outbox = ScriptedOutbox(RelayResult(4, 6, 5.0, stream_failed=True, held_elsewhere=0))
    # When a single batch is relayed (as `talkrate ops relay` does)
    result = relay_outbox(outbox, NoPublisher(), limit=10)
    # Then the result says the stream failed, with what went out before it did
    assert result.stream_failed
    assert result.published == 4
