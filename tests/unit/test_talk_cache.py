"""The talk-existence cache: bounded TTL, unknown talks never cached, changes forget at once."""

from __future__ import annotations

import pytest

from talkrate.adapters.talk_cache import DOWN_SECONDS, STALE_SECONDS, CachedTalkCatalog
from talkrate.errors import BackendUnavailable
from talkrate.models import RatingWindow, Talk
from talkrate.values import Saved

pytestmark = pytest.mark.unit


class CountingCatalog:
    """A catalog in memory that counts the lookups reaching it."""

    def __init__(self, *talks: str) -> None:
        self.talks = set(talks)
        self.lookups = 0

    def rating_window(self, talk_id: str) -> RatingWindow | None:
        self.lookups += 1
        return RatingWindow(None, None) if talk_id in self.talks else None

    def save(self, talk: Talk, precondition: object = None) -> Saved:
        created = talk.id not in self.talks
        self.talks.add(talk.id)
        return Saved(created, 1, bool(talk.ratings_paused))

    def delete(self, talk_id: str, precondition: object = None) -> bool:
        present = talk_id in self.talks
        self.talks.discard(talk_id)
        return present

    def changed_since_last_call(self) -> set[str] | None:
        return set()  # removals by other instances: tests/integration/test_postgres_catalog.py


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def cached(catalog: CountingCatalog, clock: Clock, ttl: float = 30) -> CachedTalkCatalog:
    return CachedTalkCatalog(catalog, ttl, clock)  # type: ignore[arg-type]


def test_a_known_talk_is_looked_up_once_per_ttl() -> None:
    catalog, clock = CountingCatalog("t-1"), Clock()
    cache = cached(catalog, clock)
    assert all(cache.exists("t-1") for _ in range(100))
    assert catalog.lookups == 1
    clock.now += 31
    assert cache.exists("t-1")
    assert catalog.lookups == 2


def test_an_unknown_talk_is_never_cached() -> None:
    catalog, clock = CountingCatalog(), Clock()
    cache = cached(catalog, clock)
    assert not cache.exists("new")
    catalog.talks.add("new")  # added by another instance a moment later
    assert cache.exists("new")


def test_a_change_through_this_instance_forgets_the_talk_at_once() -> None:
    catalog, clock = CountingCatalog("t-1"), Clock()
    cache = cached(catalog, clock)
    assert cache.exists("t-1")
    assert cache.delete("t-1")
    assert not cache.exists("t-1")


def test_a_removal_elsewhere_is_seen_within_the_ttl() -> None:
    catalog, clock = CountingCatalog("t-1"), Clock()
    cache = cached(catalog, clock, ttl=5)
    assert cache.exists("t-1")
    catalog.talks.clear()  # removed by another instance
    assert cache.exists("t-1")  # still trusted, for at most the TTL
    clock.now += 5.01
    assert not cache.exists("t-1")


def test_a_zero_ttl_disables_the_cache() -> None:
    catalog, clock = CountingCatalog("t-1"), Clock()
    cache = cached(catalog, clock, ttl=0)
    cache.exists("t-1")
    cache.exists("t-1")
    assert catalog.lookups == 2


class RemovingCatalog(CountingCatalog):
    """A catalog whose connection reports every change made elsewhere (LISTEN/NOTIFY)."""

    def __init__(self, *talks: str) -> None:
        super().__init__(*talks)
        self.heard: set[str] = set()
        self.asked = 0

    def changed_since_last_call(self) -> set[str] | None:
        self.asked += 1
        heard, self.heard = self.heard, set()
        return heard


def test_behind_a_proxy_the_cache_does_not_listen_and_relies_on_its_ttl() -> None:
    # Given a cache that must not LISTEN (an RDS Proxy would pin the session) and a removal
    # elsewhere that a listening cache would hear at once
    catalog, clock = RemovingCatalog("t-1"), Clock()
    cache = CachedTalkCatalog(catalog, 30, clock, listen=False)  # type: ignore[arg-type]
    assert cache.exists("t-1")
    catalog.talks.clear()
    catalog.heard.add("t-1")
    # Then the connection is never asked for notifications, and the talk stays known until the TTL
    assert cache.exists("t-1")
    assert catalog.asked == 0
    clock.now += 30.01
    assert not cache.exists("t-1")


def test_a_listening_cache_forgets_a_talk_removed_elsewhere_at_once() -> None:
    catalog, clock = RemovingCatalog("t-1"), Clock()
    cache = CachedTalkCatalog(catalog, 30, clock)  # type: ignore[arg-type]
    assert cache.exists("t-1")
    catalog.talks.clear()
    catalog.heard.add("t-1")
    assert not cache.exists("t-1")


class FailingCatalog(RemovingCatalog):
    """A catalog whose PostgreSQL stops answering when told (`down`)."""

    def __init__(self, *talks: str) -> None:
        super().__init__(*talks)
        self.down = False

    def rating_window(self, talk_id: str) -> RatingWindow | None:
        if self.down:
            self.lookups += 1
            raise BackendUnavailable("PostgreSQL did not answer within 3 s")
        return super().rating_window(talk_id)


def test_while_postgresql_does_not_answer_a_talk_known_lately_is_taken_as_it_was_known() -> None:
    # Given a talk read a while ago (its TTL over), another removed elsewhere as far as this
    # instance heard, and then PostgreSQL not answering
    catalog, clock = FailingCatalog("t-1", "t-gone"), Clock()
    cache = CachedTalkCatalog(catalog, 30, clock)  # type: ignore[arg-type]
    assert cache.exists("t-1")
    assert cache.exists("t-gone")
    catalog.heard.add("t-gone")
    clock.now += 31
    catalog.down = True
    # When they are looked up
    # Then the known talk is answered as it was known (a rating of it goes to Kafka, not 503);
    # a talk never seen, and the removed one, are still refused
    assert cache.exists("t-1")
    for unknown in ("t-never", "t-gone"):
        with pytest.raises(BackendUnavailable):
            cache.exists(unknown)
    # And for a few seconds after a failure known talks are answered without asking (each ask
    # waits out the database's bound)
    asked = catalog.lookups
    assert all(cache.exists("t-1") for _ in range(10))
    assert catalog.lookups == asked
    clock.now += DOWN_SECONDS + 1
    assert cache.exists("t-1")
    assert catalog.lookups == asked + 1
    # And a talk read longer ago than STALE_SECONDS is not taken any more
    clock.now += STALE_SECONDS
    with pytest.raises(BackendUnavailable):
        cache.exists("t-1")
    # And once PostgreSQL answers, it is read again
    catalog.down = False
    assert cache.exists("t-1")


def test_a_zero_ttl_remembers_nothing_even_for_an_outage() -> None:
    catalog, clock = FailingCatalog("t-1"), Clock()
    cache = CachedTalkCatalog(catalog, 0, clock)  # type: ignore[arg-type]
    assert cache.exists("t-1")
    catalog.down = True
    with pytest.raises(BackendUnavailable):
        cache.exists("t-1")


class SlowFailingCatalog(FailingCatalog):
    """A catalog whose failed asks take `bound` seconds of the clock (the database's bound)."""

    def __init__(self, clock: Clock, bound: float, *talks: str) -> None:
        super().__init__(*talks)
        self.clock, self.bound = clock, bound

    def rating_window(self, talk_id: str) -> RatingWindow | None:
        if self.down:
            self.clock.now += self.bound
        return super().rating_window(talk_id)


def test_a_talk_read_as_gone_is_not_taken_from_memory_while_postgresql_does_not_answer() -> None:
    # Given a talk read, then read again as gone (removed by another instance: behind a pooler
    # nothing is heard), and then PostgreSQL not answering
    catalog, clock = FailingCatalog("t-1"), Clock()
    cache = CachedTalkCatalog(catalog, 30, clock, listen=False)  # type: ignore[arg-type]
    assert cache.exists("t-1")
    catalog.talks.discard("t-1")
    clock.now += 31
    assert not cache.exists("t-1")
    catalog.down = True
    # Then it is not taken as it was known before (it was: a removed talk's rating, 202)
    with pytest.raises(BackendUnavailable):
        cache.exists("t-1")


@pytest.mark.parametrize("bound", [3.0, 8.0])
def test_known_talks_go_unasked_for_a_while_counted_from_the_failure_not_the_ask(
    bound: float,
) -> None:
    # Given a known talk, and a database that takes its bound to fail each ask
    clock = Clock()
    catalog = SlowFailingCatalog(clock, bound, "t-1")
    cache = CachedTalkCatalog(catalog, 30, clock)  # type: ignore[arg-type]
    assert cache.exists("t-1")
    clock.now += 31
    catalog.down = True
    # When it is looked up, then again just under DOWN_SECONDS after that failure
    assert cache.exists("t-1")
    asked = catalog.lookups
    clock.now += DOWN_SECONDS - 0.5
    assert cache.exists("t-1")
    # Then the second is answered without asking (counted from the ask's start, a bound of
    # 5 s or more left no time unasked)
    assert catalog.lookups == asked
