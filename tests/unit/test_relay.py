"""relay_outbox's runs: when it goes on, waits or stops (the outbox faked, its answers scripted)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from talkrate.projected import RelayResult
from talkrate.relay import HELD_LOOK_AGAIN_SECONDS, relay_outbox


class ScriptedOutbox:
    """An outbox whose relays answer, in turn, what the test scripted."""

    def __init__(self, *answers: RelayResult) -> None:
        self.answers = list(answers)
        self.limits: list[int] = []  # each relay's limit, in turn

    def relay(self, publish: Callable[..., None], limit: int, until: float | None = None) -> Any:
        assert self.answers, "relayed once more than the test expected"
        self.limits.append(limit)
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


def test_a_run_leaves_what_another_run_holds_to_it_after_one_look_again() -> None:
    # Given a batch that published what it could and left two entries another run holds, and
    # holds still a moment later (it is publishing them)
    held = RelayResult(1, 2, 3.0, stream_failed=False, held_elsewhere=2)
    outbox = ScriptedOutbox(held, RelayResult(0, 2, 3.2, stream_failed=False, held_elsewhere=2))
    pauses: list[float] = []
    # When a run with time to spare relays
    result = run(outbox, pauses)
    # Then it looks once more after a moment and stops, saying they are held elsewhere and that
    # the stream did not fail (it took "fewer than a batch published" for a failed stream, and
    # tried again every 2 s)
    assert pauses == [HELD_LOOK_AGAIN_SECONDS]
    assert result == RelayResult(1, 2, 3.2, stream_failed=False, held_elsewhere=2)
    assert outbox.answers == []


def test_entries_held_for_a_moment_by_another_run_s_count_go_out_when_looked_at_again() -> None:
    # Given a batch that found the last entries held (another run, ending, counted what it
    # could take: a lock of a moment), then a look that finds them free
    outbox = ScriptedOutbox(
        RelayResult(3, 2, 1.0, held_elsewhere=2), RelayResult(2, 0, 0.0, held_elsewhere=0)
    )
    pauses: list[float] = []
    # When a run relays, and when a single batch is (as `talkrate ops relay` does, limit 10)
    result = run(outbox, pauses)
    single = ScriptedOutbox(
        RelayResult(3, 2, 1.0, held_elsewhere=2), RelayResult(2, 0, 0.0, held_elsewhere=0)
    )
    alone = relay_outbox(single, NoPublisher(), limit=10, sleep=pauses.append)
    # Then each publishes them after one look again, nothing left stranded for a minute; the
    # single batch within its limit in all
    assert pauses == [HELD_LOOK_AGAIN_SECONDS] * 2
    assert result == alone == RelayResult(5, 0, 0.0, stream_failed=False, held_elsewhere=0)
    assert single.limits == [10, 7]


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


def test_a_run_that_could_take_nothing_no_run_holds_looks_again_once_then_stops() -> None:
    # Given batches that take nothing though two entries wait, which no other relay run holds
    # (`ops forget-voter` is rewriting them), the stream fine
    outbox = ScriptedOutbox(
        RelayResult(0, 2, 1.0, held_elsewhere=0), RelayResult(0, 2, 1.2, held_elsewhere=0)
    )
    pauses: list[float] = []
    # When a run relays
    result = run(outbox, pauses)
    # Then it looks once more after a moment and leaves them to the next run (it went round
    # for them again at once, as for entries written during a batch, for as long as they
    # were held)
    assert pauses == [HELD_LOOK_AGAIN_SECONDS]
    assert result == RelayResult(0, 2, 1.2, stream_failed=False, held_elsewhere=0)
    assert outbox.answers == []


def test_a_single_batch_looks_again_at_what_no_run_holds_within_its_limit() -> None:
    # Given a batch that left two entries no other relay run holds (locked a moment by another
    # run's count, or by `ops forget-voter`), then a look that takes them
    outbox = ScriptedOutbox(
        RelayResult(3, 2, 1.0, held_elsewhere=0), RelayResult(2, 0, 0.0, held_elsewhere=0)
    )
    pauses: list[float] = []
    # When a single batch is relayed (as `talkrate ops relay` does, limit 10)
    result = relay_outbox(outbox, NoPublisher(), limit=10, sleep=pauses.append)
    # Then it looks once more after a moment and publishes them, within its limit (it left
    # them, saying to run it again)
    assert pauses == [HELD_LOOK_AGAIN_SECONDS]
    assert result == RelayResult(5, 0, 0.0, stream_failed=False, held_elsewhere=0)
    assert outbox.limits == [10, 7]


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
