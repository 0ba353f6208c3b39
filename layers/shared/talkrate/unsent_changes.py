"""An organiser's changes the live channel has not taken yet, kept and sent again in the
background until it does (talkrate.announcer's, for the API's catalog messages).

The API waits for a change's push a moment at most (the write is done), and not at all for a
while after one hung: what the channel did not take then is kept here, the newest change of each
talk only (a catalog message carries the talk's whole state, and pages order them by revision, so
a repeated or late one is harmless), and sent by one thread of its own, never by a request:
at once, then after 1, 2, 4, 8 and every 15 s while the channel still fails. Bounded: at most
UNSENT_TALKS talks (the oldest change given up first) and UNSENT_SECONDS (by then every open page
has read the catalogue again, several times). Kept in memory: a process that ends, or on Lambda
an environment that is not invoked again (it is frozen between invocations, and sends at its
next), takes its changes with it, and the pages' own minute reads show them.

What became of them is counted here, under the lock, for the request path to add to its metrics
(`take_tally`; talkrate.announcer's count_unsent_changes): the thread never touches the
process's Metrics, whose state is the request's thread's.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from talkrate.live import Publication
from talkrate.observability import logger

# The talks whose change is kept at most: more than any programme's (an import of a few hundred
# talks into a channel that is down keeps each one).
UNSENT_TALKS = 2000
# How long a change is kept at most by default (the API's is LIVE_UNSENT_CHANGE_SECONDS): the
# pages read the catalogue again at least once a minute while live, and at each reconnection;
# ten minutes covers a channel's hiccup and a short outage.
UNSENT_SECONDS = 600.0
# The waits between tries while the channel fails: doubling from the first to the most.
RETRY_FIRST_SECONDS = 1.0
RETRY_MOST_SECONDS = 15.0


def change_place(message: dict[str, Any]) -> float:
    """Where a catalog message stands among the changes of its talk, as the pages order them
    (web/js/live.js's catalogPlace): a document at twice its revision, a removal just after the
    document it removed; a removal without a revision after anything."""
    revision = message.get("revision")
    if not isinstance(revision, int):
        return float("inf")
    return 2 * revision + (1 if message.get("talk") is None else 0)


class UnsentTally(NamedTuple):
    """What became of the kept changes since the last look: taken by the channel after the
    write's bound (`sent_late`), or dropped unsent (`given_up`: too many, or kept too long);
    and their publications the channel refused or did not answer in time (`failed`: the
    write's own, whenever they ended, and each of the thread's tries). A publication merely
    still on its way at the bound is no failure: a slow channel shows as `sent_late` alone."""

    sent_late: int
    given_up: int
    failed: int = 0


@dataclass
class UnsentChange:
    """A talk's newest change, with the publications of it no channel has taken yet."""

    talk_id: str
    place: float
    since: float
    left: dict[str, Publication]  # channel -> its publication, until the channel took it
    sending: int = 0  # publications of it on their way (a request's, or the thread's)
    tried: bool = False  # a publication of it failed or was never sent: the thread's to send


class UnsentChanges:
    """The changes kept until the channel takes them, and the thread that sends them.

    `publish(channel, events)` publishes one request (raising when it failed, after its own
    timeout); `answered()` hears that the channel took a publication again after failing."""

    def __init__(
        self,
        publish: Callable[[str, Sequence[str]], None],
        answered: Callable[[], None],
        most_talks: int = UNSENT_TALKS,
        most_seconds: float = UNSENT_SECONDS,
        first_wait: float = RETRY_FIRST_SECONDS,
        most_wait: float = RETRY_MOST_SECONDS,
        late_after: float = float("inf"),
    ) -> None:
        self._publish = publish
        self._answered = answered
        self._most_talks = most_talks
        self._most_seconds = most_seconds
        self._first_wait = first_wait
        self._most_wait = most_wait
        # A change the channel took this long after it was made counts as sent late (the
        # write's bound); one the thread sent always does.
        self._late_after = late_after
        self._sent_late = 0
        self._given_up = 0
        self._failed = 0
        self._wait = first_wait
        self._next_try = 0.0  # no sooner than this (monotonic): the channel failed just before
        self._changes: dict[str, UnsentChange] = {}  # talk id -> its change, the oldest first
        self._lock = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False

    def keep(
        self,
        talk_id: str,
        place: float,
        requests: Sequence[Publication],
        since: float | None = None,
    ) -> UnsentChange:
        """Keep a talk's change until each of its publications is taken (`taken`), replacing an
        older one of the talk; the returned change is the one to report publications of.
        `since`: when the change was made (monotonic), now if not given."""
        now = time.monotonic() if since is None else since
        change = UnsentChange(talk_id, place, now, {r.channel: r for r in requests})
        with self._lock:
            kept = self._changes.get(talk_id)
            if kept is not None and kept.place > place:
                return change  # a newer change of the talk is kept already: this one is not
            self._changes.pop(talk_id, None)
            self._changes[talk_id] = change
            if len(self._changes) > self._most_talks:
                oldest = next(iter(self._changes))
                del self._changes[oldest]
                self._given_up += 1
                logger.warning(
                    "catalog change given up: too many unsent",
                    extra={"talkId": oldest, "most": self._most_talks},
                )
        return change

    def sending(self, change: UnsentChange, count: int) -> None:
        """`count` publications of the change are on their way (a request's)."""
        with self._lock:
            change.sending += count

    def settled(
        self, change: UnsentChange, request: Publication, taken: bool, sent: bool = True
    ) -> None:
        """A publication of the change on its way was taken by the channel, or not (failed or
        timed out, counted as failed; or, `sent` False, left unsent): not taken, the thread
        sends it."""
        with self._lock:
            change.sending -= 1
            if taken:
                self._taken(change, request)
            else:
                self._failed += sent
                change.tried = True
                self._start()
                self._lock.notify_all()

    def send_later(self, change: UnsentChange) -> None:
        """The change was not sent (the channel hung a moment ago): the thread sends it."""
        with self._lock:
            change.tried = True
            self._start()
            self._lock.notify_all()

    def take_tally(self) -> UnsentTally:
        """The changes sent late and given up, and their publications that failed, since the
        last call (counted from then on anew)."""
        with self._lock:
            tally = UnsentTally(self._sent_late, self._given_up, self._failed)
            self._sent_late = self._given_up = self._failed = 0
            return tally

    def count(self) -> int:
        """The talks whose change is kept, unsent."""
        with self._lock:
            return len(self._changes)

    def close(self) -> None:
        """Stop the thread (what is kept is given up)."""
        with self._lock:
            self._closed = True
            self._lock.notify_all()

    def _taken(self, change: UnsentChange, request: Publication) -> None:
        # (under the lock) The channel took a publication of the change: once it took all, the
        # change is done; a late one (after the write's bound, or sent by the thread) is counted.
        change.left.pop(request.channel, None)
        if not change.left and self._changes.get(change.talk_id) is change:
            del self._changes[change.talk_id]
            if change.tried or time.monotonic() - change.since > self._late_after:
                self._sent_late += 1

    def _start(self) -> None:
        # (under the lock) A thread of its own, started at the first change not taken.
        if self._thread is None and not self._closed:
            self._thread = threading.Thread(
                target=self._run, name="live-unsent-changes", daemon=True
            )
            self._thread.start()

    def _due(self) -> list[tuple[UnsentChange, Publication]]:
        # (under the lock) What to send now: the changes not taken and not on their way, the
        # oldest first; those kept too long are given up.
        now = time.monotonic()
        for talk_id in [t for t, c in self._changes.items() if now - c.since > self._most_seconds]:
            del self._changes[talk_id]
            self._given_up += 1
            logger.warning(
                "catalog change given up: not taken in time",
                extra={"talkId": talk_id, "seconds": self._most_seconds},
            )
        return [
            (change, request)
            for change in self._changes.values()
            if change.tried and change.sending == 0
            for request in change.left.values()
        ]

    def _run(self) -> None:
        while True:
            with self._lock:
                while True:
                    if self._closed:
                        return
                    due = self._due()
                    wait = self._next_try - time.monotonic()
                    if due and wait <= 0:
                        break
                    self._lock.wait(timeout=wait if due else None)
                for change, _ in due:
                    change.sending += 1
            self._send(due)

    def _send(self, due: list[tuple[UnsentChange, Publication]]) -> None:
        # One at a time, in the order of the changes; the first that fails ends the round (the
        # channel is failing: every other would wait its timeout too), and the next round waits.
        failure: Exception | None = None
        sent = 0
        for change, request in due:
            taken = False
            if failure is None:
                try:
                    self._publish(request.channel, request.events)
                    taken = True
                    sent += 1
                except Exception as error:
                    failure = error
            with self._lock:
                change.sending -= 1
                if taken:
                    self._taken(change, request)
        with self._lock:
            if failure is None:
                self._wait = self._first_wait
                self._next_try = 0.0
            else:
                self._failed += 1  # (the round's first: the others were not sent)
                self._next_try = time.monotonic() + self._wait
                self._wait = min(self._wait * 2, self._most_wait)
            left = len(self._changes)
        if sent:
            logger.info("catalog changes sent late", extra={"published": sent, "unsent": left})
        if failure is None:
            self._answered()  # the channel takes publications again
        if failure is not None:
            logger.warning(
                "catalog changes still unsent",
                extra={"unsent": left, "first": str(failure)[:300]},
            )
