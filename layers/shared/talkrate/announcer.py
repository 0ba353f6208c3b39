"""Announcing a batch on the live channel: each touched talk's new state and the leaderboard,
published concurrently within a deadline (the projector's side of talkrate.live)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from typing import NamedTuple

from talkrate.live import (
    LEADERBOARD_CHANNEL,
    channel_for_talk,
    leaderboard_messages,
    publications,
    talk_message,
)
from talkrate.observability import logger
from talkrate.ports import LivePublisher, RatingsReadModel

# After an announcement that reached its deadline with nothing published, the next ones are
# skipped this long (each would wait the whole deadline again).
PAUSE_AFTER_HANGING_SECONDS = 10.0


class AnnouncementResult(NamedTuple):
    """How the announcement of one batch went: requests published, failed, left undone."""

    published: int
    failed: int
    abandoned: int
    seconds: float


class Announcer:
    """Publishes a batch's live updates concurrently, within a deadline, never raising.

    The batch is already applied when it runs: a failed or slow publish costs the subscribers
    one update (the next batch's message carries the state again), never the batch. When one
    reaches its deadline with nothing published, the next are skipped for `pause_seconds`.
    """

    def __init__(
        self,
        channel: LivePublisher,
        deadline_seconds: float,
        workers: int = 8,
        pause_seconds: float = PAUSE_AFTER_HANGING_SECONDS,
    ) -> None:
        self._channel = channel
        self._deadline = deadline_seconds
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="live-publish")
        self._pause = pause_seconds
        self._paused_until = 0.0

    def announce(self, talk_ids: Sequence[str], read_model: RatingsReadModel) -> AnnouncementResult:
        """One message per talk with its new state, read back from the read model, and the
        leaderboard message (with every talk's count and average); waits at most the deadline
        for them."""
        started = time.monotonic()
        if not talk_ids:
            return AnnouncementResult(0, 0, 0, 0.0)
        if started < self._paused_until:  # the channel hung a moment ago: skip, don't wait
            return AnnouncementResult(0, 0, len(talk_ids) + 1, 0.0)
        try:
            histograms = read_model.histograms(list(talk_ids))
        except Exception:
            logger.warning("live update skipped: the read model did not answer", exc_info=True)
            return AnnouncementResult(0, 1, 0, time.monotonic() - started)
        requests = [
            publication
            for talk_id, histogram in histograms.items()
            for publication in publications(
                channel_for_talk(talk_id), [talk_message(talk_id, histogram)]
            )
        ]
        requests += publications(LEADERBOARD_CHANNEL, leaderboard_messages(histograms))
        futures = [
            self._pool.submit(self._channel.publish, request.channel, request.events)
            for request in requests
        ]
        remaining = max(0.0, self._deadline - (time.monotonic() - started))
        done, pending = wait(futures, timeout=remaining)
        for future in pending:
            future.cancel()  # not started yet: dropped; started: ends at its own timeout
        failed = [f.exception() for f in done if f.exception() is not None]
        if failed:
            logger.warning(
                "live updates failed",
                extra={"failed": len(failed), "of": len(requests), "first": str(failed[0])[:300]},
            )
        if pending:
            logger.warning("live updates abandoned at the deadline", extra={"count": len(pending)})
        slow = pending or time.monotonic() - started >= self._deadline / 2
        if slow and len(done) == len(failed):
            # Nothing got through, and it took the deadline (or most of it: a publish times out
            # at the deadline, just before or just after it): a channel that hangs would hold
            # every batch back by the deadline; the next ones skip it for a while instead. One
            # that refuses at once is tried again with the next batch.
            self._paused_until = time.monotonic() + self._pause
        return AnnouncementResult(
            published=len(done) - len(failed),
            failed=len(failed),
            abandoned=len(pending),
            seconds=time.monotonic() - started,
        )
