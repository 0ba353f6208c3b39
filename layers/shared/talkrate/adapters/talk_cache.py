"""A bounded-TTL cache of which talks exist and when they take ratings (their window, and
whether the organisers paused them), in front of the catalog.

Every POST and GET /ratings asks whether its talk exists (POST also when it takes ratings); the
answer rarely changes. Known talks are remembered with their rating window for `ttl` seconds;
unknown ones are not (a talk added a moment ago can be rated at once). A removal or replacement
(a pause of its ratings is one) made by any instance is heard within moments: the catalog NOTIFYs it, and before each answer an
instance reads what its connection has received, without a round trip. When that cannot be
known (the connection was reopened), everything remembered is dropped; the TTL bounds what a
lost notification could leave behind. Behind a pooler that multiplexes sessions (RDS
Proxy) an instance does not listen (LISTEN would pin its session to one database connection): a
change is then seen by other instances within the TTL.

While PostgreSQL does not answer, a talk this instance knew within STALE_SECONDS is answered as it
was known (and without asking again for DOWN_SECONDS after a failure, so each rating does not wait
out the database's bound): a rating of it goes to Kafka, 202, instead of a 503 while Kafka could
take it. A talk never seen, or removed as far as this instance heard, is still refused (503).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from talkrate.adapters.postgres import PostgresTalkCatalog
from talkrate.errors import BackendUnavailable
from talkrate.values import KeptAnswer, Precondition, RatingWindow, Saved, Talk

DEFAULT_TTL_SECONDS = 30.0
MAX_ENTRIES = 10_000
# How long after it was last read a talk is still taken while PostgreSQL does not answer: a
# database failing over or restarting is back within it.
STALE_SECONDS = 600.0
# After a read that PostgreSQL did not answer, known talks are answered from memory this long
# without asking (each ask waits out the database's bound first).
DOWN_SECONDS = 5.0


class CachedTalkCatalog:
    """PostgresTalkCatalog with `exists` and `rating_window` cached; every other call goes
    straight through."""

    def __init__(
        self,
        catalog: PostgresTalkCatalog,
        ttl: float = DEFAULT_TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        listen: bool = True,
    ) -> None:
        self._catalog = catalog
        self._ttl = ttl
        self._listen = listen
        self._clock = clock
        # talk id -> (when it stops being trusted, its rating window, when it was read)
        self._known: dict[str, tuple[float, RatingWindow, float]] = {}
        self._down_until = float("-inf")  # known talks answered without asking until then
        self._lock = threading.Lock()

    def exists(self, talk_id: str) -> bool:
        """True when the talk is in the catalog (remembered for a while once seen)."""
        return self.rating_window(talk_id) is not None

    def rating_window(self, talk_id: str) -> RatingWindow | None:
        """The talk's rating window, or None when there is no such talk (remembered for a
        while once seen)."""
        now = self._clock()
        try:
            changed = self._catalog.changed_since_last_call() if self._listen else set()
        except BackendUnavailable:
            changed = None  # (cannot listen now: changes may be missed)
        with self._lock:
            if changed is None:
                # Asked again before they are trusted; kept, in case PostgreSQL cannot answer.
                self._known = {t: (0.0, w, read) for t, (_, w, read) in self._known.items()}
            for gone in changed or ():
                self._known.pop(gone, None)
            known = self._known.get(talk_id)
            if known is not None and known[0] > now:
                return known[1]
            usable = known is not None and now - known[2] <= STALE_SECONDS
            if usable and now < self._down_until:
                return known[1]  # type: ignore[index]
        try:
            window = self._catalog.rating_window(talk_id)
        except BackendUnavailable:
            with self._lock:
                # (from the failure: the ask waited out the database's bound first)
                self._down_until = self._clock() + DOWN_SECONDS
            if usable:
                return known[1]  # type: ignore[index]
            raise
        if window is None:
            with self._lock:  # read as gone: never taken again from memory
                self._known.pop(talk_id, None)
            return None
        if self._ttl <= 0:  # (a TTL of 0: nothing remembered, at all)
            return window
        with self._lock:
            self._down_until = float("-inf")
            if len(self._known) >= MAX_ENTRIES:
                self._known = {t: kept for t, kept in self._known.items() if kept[0] > now}
                if len(self._known) >= MAX_ENTRIES:
                    self._known.clear()
            self._known[talk_id] = (now + self._ttl, window, now)
        return window

    def forget(self, talk_id: str) -> None:
        """Drop what is remembered of a talk (it was changed or removed)."""
        with self._lock:
            self._known.pop(talk_id, None)

    def ping(self) -> bool:
        """True when the catalog answers."""
        return self._catalog.ping()

    def get(self, talk_id: str) -> Talk | None:
        """The talk, or None."""
        return self._catalog.get(talk_id)

    def search(
        self, query: str | None, track: str | None, limit: int, offset: int
    ) -> tuple[list[Talk], int]:
        """A page of matching talks and how many match in all."""
        return self._catalog.search(query, track, limit, offset)

    def create(self, talk: Talk) -> int | None:
        """Add: its revision, or None when the id is taken."""
        return self._catalog.create(talk)

    def create_once(
        self,
        talk: Talk,
        key: str,
        request: dict[str, Any],
        answer: Callable[[Talk], KeptAnswer],
        kept_seconds: int,
    ) -> tuple[KeptAnswer, bool]:
        """Add under an Idempotency-Key: the answer, and whether it was added now."""
        return self._catalog.create_once(talk, key, request, answer, kept_seconds)

    def save(self, talk: Talk, precondition: Precondition | None = None) -> Saved:
        """Create or replace: whether it was created, its new revision, whether its ratings
        are paused."""
        self.forget(talk.id)
        return self._catalog.save(talk, precondition)

    def delete(self, talk_id: str, precondition: Precondition | None = None) -> int | None:
        """Remove: the revision the talk had, or None when there was no such talk."""
        self.forget(talk_id)
        return self._catalog.delete(talk_id, precondition)

    def ids_in_track(self, track: str) -> list[str]:
        """The ids of a track's talks."""
        return self._catalog.ids_in_track(track)

    def titles(self, talk_ids: list[str]) -> dict[str, Talk]:
        """The talks of these ids that exist."""
        return self._catalog.titles(talk_ids)
