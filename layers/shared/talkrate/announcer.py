"""Announcing on the live channel, concurrently within a deadline: a batch's touched talks and the
leaderboard (the projector's side of talkrate.live), and an organiser's change to a talk (the
API's, kept and sent again until the channel takes it: talkrate.unsent_changes)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any, NamedTuple

from talkrate.live import (
    LEADERBOARD_CHANNEL,
    Publication,
    catalog_message,
    channel_for_talk,
    leaderboard_messages,
    publications,
    talk_message,
    unavailable_message,
)
from talkrate.observability import logger, metrics
from talkrate.ports import LivePublisher, RatingsReadModel
from talkrate.unsent_changes import UNSENT_SECONDS, UnsentChanges, UnsentTally, change_place

# After an announcement that reached its deadline with nothing published, the next ones are
# skipped this long (each would wait the whole deadline again).
PAUSE_AFTER_HANGING_SECONDS = 10.0
# A batch that fails because Redis does not answer says so on the channels of its talks and the
# leaderboard's at most this often per channel (per container): Kafka delivers it again within
# seconds, again and again while Redis is down, and a page that heard it once reads on its own
# schedule from then on (5, 10, 20, 40 s, then every minute) until the counts are back.
UNAVAILABLE_EVERY_SECONDS = 30.0
# One whose publish was refused (the channel throttling, say) or left at the deadline is said
# again no sooner than this: every delivery of the failing batch, on every container, sending it
# again would keep a throttle going.
UNAVAILABLE_AGAIN_SECONDS = 10.0
# ...but the leaderboard's after this (one publish: the programme, the leaderboard and the
# organisers' pages listen on it alone, and a refusal may be a moment's).
LEADERBOARD_AGAIN_SECONDS = 2.0
# How long an organiser's write waits for its announcement, at most: a publish from within the
# region takes tens of milliseconds (a new connection's TLS handshake included); the write has
# succeeded already, and what the channel has not taken by then is kept and sent again
# (talkrate.unsent_changes), not lost.
CHANGE_DEADLINE_SECONDS = 0.5


class AnnouncementResult(NamedTuple):
    """How the announcement of one batch went: requests published, failed, left undone (lost
    to the pages: counted in LiveUpdatesFailed); and, of an organiser's change, those kept to
    be sent again (`kept`: failed, on their way at the bound, or not sent), which are not lost
    and are counted as they settle (talkrate.unsent_changes's tally)."""

    published: int
    failed: int
    abandoned: int
    seconds: float
    kept: int = 0


class Announcer:
    """Publishes live updates concurrently, within a deadline, never raising.

    What it announces is already done when it runs (a batch applied, a talk saved or removed): a
    failed or slow publish never fails the batch or the write. A batch's costs the subscribers
    one update (the next batch's message carries the state again); an organiser's change is
    kept and sent again in the background until the channel takes it (UnsentChanges). When one
    reaches its deadline with nothing published, the next are not waited for during
    `pause_seconds`: a batch's skipped, a change kept for the background to send.
    """

    def __init__(
        self,
        channel: LivePublisher,
        deadline_seconds: float,
        workers: int = 8,
        pause_seconds: float = PAUSE_AFTER_HANGING_SECONDS,
        unavailable_again_seconds: float = UNAVAILABLE_AGAIN_SECONDS,
        unsent_seconds: float = UNSENT_SECONDS,
    ) -> None:
        self._channel = channel
        self._unavailable_again = unavailable_again_seconds
        self._deadline = deadline_seconds
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="live-publish")
        self._pause = pause_seconds
        self._paused_until = 0.0
        # channel -> when the counts were last said unreadable on it (announce_unavailable)
        self._unavailable_said: dict[str, float] = {}
        # An organiser's changes the channel has not taken yet (announce_change)
        self._unsent = UnsentChanges(
            channel.publish,
            answered=self._answered_again,
            most_seconds=unsent_seconds,
            late_after=min(deadline_seconds, CHANGE_DEADLINE_SECONDS),
        )

    def close(self) -> None:
        """Stop the threads; what is still unsent is given up."""
        self._unsent.close()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def unsent_changes(self) -> int:
        """The talks whose latest change the channel has not taken yet."""
        return self._unsent.count()

    def take_unsent_tally(self) -> UnsentTally:
        """The changes the channel took late, and those given up, since the last call."""
        return self._unsent.take_tally()

    def _answered_again(self) -> None:
        # The channel took a change kept unsent: the writes wait for their publishes again.
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
        return self._publish(requests, started, self._deadline)

    def announce_change(
        self, talk_id: str, talk: Mapping[str, Any] | None, revision: int | None = None
    ) -> AnnouncementResult:
        """The talk as the catalog has it after an organiser's change (`talk`: its document, or
        None when it was removed, `revision` then the one the removed talk had), on its channel
        and the leaderboard's; waits at most CHANGE_DEADLINE_SECONDS (or the announcer's
        deadline, if shorter), and not at all while the channel is paused. What the channel has
        not taken by then (failed, still on its way and failing later, or not sent) is kept and
        sent again in the background until it is (UnsentChanges's bounds)."""
        started = time.monotonic()
        message = catalog_message(talk_id, talk, revision)
        requests = publications(channel_for_talk(talk_id), [message])
        requests += publications(LEADERBOARD_CHANNEL, [message])
        change = self._unsent.keep(talk_id, change_place(message), requests, since=started)
        if started < self._paused_until:  # the channel hung a moment ago: kept, not waited for
            self._unsent.send_later(change)
            return AnnouncementResult(0, 0, 0, 0.0, kept=len(requests))
        self._unsent.sending(change, len(requests))

        def settled(request: Publication, taken: bool, sent: bool) -> None:
            self._unsent.settled(change, request, taken, sent)

        deadline = min(self._deadline, CHANGE_DEADLINE_SECONDS)
        result = self._publish(requests, started, deadline, settled=settled)
        # Not lost: kept, and each publication that failed counted as it settles (by the bound
        # or after it), where one merely slower than the bound counted as failed.
        return result._replace(failed=0, abandoned=0, kept=result.failed + result.abandoned)

    def announce_unavailable(self, talk_ids: Sequence[str]) -> AnnouncementResult:
        """Say on the leaderboard's channel and the talks' that the counts cannot be read just
        now (a batch of them failed as Redis did not answer): each channel at most once every
        UNAVAILABLE_EVERY_SECONDS; waits at most CHANGE_DEADLINE_SECONDS (the batch fails
        after it, and is delivered again).

        The leaderboard's goes first (the programme, the leaderboard and the organisers' pages
        listen on it alone; a batch of many talks may reach the deadline before its last
        channel), and a channel counts as told only once its publish succeeded: one refused,
        or left at the deadline, is said again by a later delivery of the batch, no sooner than
        `unavailable_again_seconds` (UNAVAILABLE_AGAIN_SECONDS)."""
        started = time.monotonic()
        if not talk_ids or started < self._paused_until:  # (hung a moment ago: not waited on)
            return AnnouncementResult(0, 0, 0, 0.0)
        # channel -> the talk it is of (None: the leaderboard's), the leaderboard's first
        channels: dict[str, str | None] = {LEADERBOARD_CHANNEL: None}
        channels.update((channel_for_talk(t), t) for t in talk_ids)
        last = self._unavailable_said
        due = [c for c in channels if started - last.get(c, -1e9) >= UNAVAILABLE_EVERY_SECONDS]
        if not due:
            return AnnouncementResult(0, 0, 0, 0.0)
        requests: list[Publication] = []
        for channel in due:
            # (tried: due again after `unavailable_again_seconds`, the leaderboard's after
            # LEADERBOARD_AGAIN_SECONDS at most, unless `told` below)
            again = self._unavailable_again
            if channel == LEADERBOARD_CHANNEL:
                again = min(again, LEADERBOARD_AGAIN_SECONDS)
            last[channel] = started - UNAVAILABLE_EVERY_SECONDS + again
            requests += publications(channel, [unavailable_message(channels[channel])])

        def told(request: Publication) -> None:
            last[request.channel] = started

        deadline = min(self._deadline, CHANGE_DEADLINE_SECONDS)
        return self._publish(requests, started, deadline, published=told)

    def _publish(
        self,
        requests: Sequence[Publication],
        started: float,
        deadline: float,
        published: Callable[[Publication], None] | None = None,
        settled: Callable[[Publication, bool, bool], None] | None = None,
    ) -> AnnouncementResult:
        """Send the requests at once and wait for them until `deadline` seconds after
        `started`; what is still on its way then is left to its own timeout. `published`, if
        given, hears each request that succeeded by then; `settled` each request's outcome
        (taken or not, and sent or not), whenever it comes: by then, later, or never sent."""
        futures = [
            self._pool.submit(self._channel.publish, request.channel, request.events)
            for request in requests
        ]
        if settled is not None:
            for request, future in zip(requests, futures, strict=True):
                future.add_done_callback(_settling(settled, request))
        remaining = max(0.0, deadline - (time.monotonic() - started))
        done, pending = wait(futures, timeout=remaining)
        for future in pending:
            future.cancel()  # not started yet: dropped; started: ends at its own timeout
        failed = [f.exception() for f in done if f.exception() is not None]
        if published is not None:
            for request, future in zip(requests, futures, strict=True):
                if future in done and future.exception() is None:
                    published(request)
        if failed:
            logger.warning(
                "live updates failed",
                extra={"failed": len(failed), "of": len(requests), "first": str(failed[0])[:300]},
            )
        if pending:
            logger.warning("live updates abandoned at the deadline", extra={"count": len(pending)})
        slow = pending or time.monotonic() - started >= deadline / 2
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


def _settling(
    settled: Callable[[Publication, bool, bool], None], request: Publication
) -> Callable[[Future[None]], None]:
    """A future's callback telling `settled` whether its request was taken, and whether it was
    sent (a cancelled one: never sent, not taken)."""

    def done(future: Future[None]) -> None:
        sent = not future.cancelled()
        settled(request, sent and future.exception() is None, sent)

    return done


def announce_on_live_channel(what: str, act: Callable[[Announcer], AnnouncementResult]) -> None:
    """Run `act` with the stack's announcer, when there is a live channel, and log and count how
    the announcement of `what` went; never raises. What is announced is done already (a batch
    applied, a talk saved): a live channel configured with no usable URL raises here, each time,
    and that loses the live updates, never the batch or the write."""
    from talkrate import wiring  # (wiring loads this module on first use, not at its import)

    try:
        announcer = wiring.live_announcer()
        if announcer is None:
            return
        result = act(announcer)
    except Exception:
        logger.exception(f"{what} not announced")
        metrics.add_metric(name="LiveUpdatesFailed", unit="Count", value=1)
        return
    # LiveUpdatesFailedAlarm watches LiveUpdatesFailed: messages lost to the pages (the
    # projector's), or refused or timed out (an organiser's change's, counted as they settle).
    logger.info(
        f"{what} announced",
        extra={
            "published": result.published,
            "failed": result.failed,
            "abandoned": result.abandoned,
            "kept": result.kept,
            "ms": round(result.seconds * 1000, 1),
        },
    )
    metrics.add_metric(name="LiveUpdatesPublished", unit="Count", value=result.published)
    metrics.add_metric(
        name="LiveUpdatesFailed", unit="Count", value=result.failed + result.abandoned
    )


def count_unsent_changes() -> None:
    """Add to the metrics of the request running the organisers' changes the channel took late
    (`CatalogChangesSentLate`) and those given up unsent (`CatalogChangesGivenUp`, which
    CatalogChangesGivenUpAlarm watches) since the last request, when this process announced any.

    The announcer's thread counts them under its lock and never touches Metrics, whose state is
    shared by every instance and flushed by the request's thread: counted here, on that thread,
    they leave in the request's own EMF record, with the publications of kept changes the
    channel refused or did not answer in time (`LiveUpdatesFailed`, the write's own and the
    thread's tries): a slow channel shows as sent late with no failure, a losing one as
    failures (and, after UNSENT_SECONDS, changes given up)."""
    from talkrate import wiring  # (loaded with the API; this module is not, until a write)

    if not wiring.live_announcer.cache_info().currsize:
        return  # no announcer made yet (a failed one is not cached): nothing to count
    announcer = wiring.live_announcer()
    if announcer is None:
        return
    tally = announcer.take_unsent_tally()
    if tally.sent_late:
        metrics.add_metric(name="CatalogChangesSentLate", unit="Count", value=tally.sent_late)
    if tally.given_up:
        metrics.add_metric(name="CatalogChangesGivenUp", unit="Count", value=tally.given_up)
    if tally.failed:
        metrics.add_metric(name="LiveUpdatesFailed", unit="Count", value=tally.failed)
