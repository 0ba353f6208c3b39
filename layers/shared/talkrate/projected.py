"""What the stream's consumers hand their ports: a projected rating or a dead letter at its
position, a batch and what applying it did, the read model's state (for a rebuild) and memory,
and an outbox entry and what a relay of them did (for the relay).

Values, kept apart from talkrate.ports (the interfaces) so that the API, which uses none of them,
does not define them at its cold start: a named tuple class costs about 0.2 ms to make there
(docs/decisions.md, "What the API's init still loaded for little").
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal, NamedTuple

from talkrate.events import Rating, WrittenRecord


def retired_topic(topic: str) -> str:
    """The name a topic's positions are filed under once it was recreated empty, from now on:
    "<topic> (retired <UTC time>)" (a Kafka topic's name holds no space, so no live topic is
    named as a retired one). The event store's positions and the read model's applied offsets
    take the same name, so the status of a rating stored at one still finds its offset."""
    return f"{topic} (retired {datetime.now(UTC):%Y-%m-%d %H:%M:%S.%f} UTC)"


# What takes the rebuild's lock (its value ends with it: `RedisReadModel.lock_for_rebuild`).
LockHolder = Literal["rebuild", "forget-voter"]
LOCK_HOLDERS: tuple[LockHolder, ...] = ("rebuild", "forget-voter")


class Step(str):
    """A progress line that says how far a long step has got (`counted 5000 of 1000000
    events`): the lines of one step come one after another, and a reader may show only some of
    them (a terminal's one line updated in place, a log's line every few seconds). It is the
    line itself to whatever takes a str (the projector's log)."""

    done: int
    total: int

    def __new__(cls, line: str, done: int, total: int) -> Step:
        step = super().__new__(cls, line)
        step.done, step.total = done, total
        return step


class ProjectedRating(NamedTuple):
    """A valid record of the stream, at its position."""

    topic: str
    partition: int
    offset: int
    event: Rating
    duplicate: bool = False  # its eventId was first projected from another position

    @property
    def position(self) -> str:
        """The "topic-partition" the record came from, as the Lambda Kafka event keys it."""
        return f"{self.topic}-{self.partition}"


class DeadLetter(NamedTuple):
    """A record that cannot be projected, kept with the reason so it can be repaired and redriven."""

    topic: str
    partition: int
    offset: int
    reason: str
    key: bytes | None
    value: bytes | None

    @property
    def position(self) -> str:
        """The "topic-partition" the record came from."""
        return f"{self.topic}-{self.partition}"


class ProjectionBatch:
    """One delivered batch, split into what counts and what is set aside."""

    __slots__ = ("dead_letters", "ratings")

    def __init__(
        self,
        ratings: list[ProjectedRating] | None = None,
        dead_letters: list[DeadLetter] | None = None,
    ) -> None:
        self.ratings = [] if ratings is None else ratings
        self.dead_letters = [] if dead_letters is None else dead_letters

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ProjectionBatch):
            return NotImplemented
        return (self.ratings, self.dead_letters) == (other.ratings, other.dead_letters)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"ProjectionBatch(ratings={self.ratings!r}, dead_letters={self.dead_letters!r})"


class ProjectionResult(NamedTuple):
    """What applying a batch did: counted, skipped as already applied, set aside."""

    applied: int
    skipped: int
    dead_lettered: int
    duplicates: int = 0
    # The talks of the batch's ratings (counted now or by an earlier try), for the live channel
    talk_ids: tuple[str, ...] = ()


class ReadModelState(NamedTuple):
    """Everything the read model holds, as recomputed from the event store."""

    histograms: dict[str, dict[str, int]]  # talk id -> value -> count
    offsets: dict[str, int]  # "topic-partition" -> last recorded offset
    events: int
    votes: dict[str, dict[str, str]]  # talk -> voter -> vote
    # talk -> "topic-partition" -> the last offset of the partition applied to the talk
    talk_offsets: dict[str, dict[str, int]]
    # talk -> its revision: how many of its events are stored (each applied once)
    revisions: dict[str, int]
    # the pseudonyms of the voters `ops forget-voter` filed away (forgotten_voters)
    forgotten: frozenset[str] = frozenset()


# What Redis may evict: only keys with a TTL (rate-limit counters, idempotency records, accepted
# markers), never histograms, votes, the leaderboard or the applied offsets, which have none.
SAFE_EVICTION_POLICIES = frozenset(
    {"noeviction", "volatile-lru", "volatile-lfu", "volatile-ttl", "volatile-random"}
)


class ReadModelMemory(NamedTuple):
    """How full the read model's Redis is, and what it evicts when full."""

    used_bytes: int
    max_bytes: int  # 0: no limit set
    policy: str

    @property
    def used_percent(self) -> float | None:
        """Used memory as a percentage of maxmemory (None without a limit)."""
        return round(100 * self.used_bytes / self.max_bytes, 2) if self.max_bytes else None

    @property
    def policy_is_safe(self) -> bool:
        """Whether Redis can only evict keys that expire anyway (never a histogram)."""
        return self.policy in SAFE_EVICTION_POLICIES


class RebuildLock(NamedTuple):
    """The rebuild's lock as Redis holds it: a rebuild (or `ops forget-voter`) is running, or a
    lock without expiry (set by hand, or by a fault) holds the projector off for good."""

    # How long ago it was taken, by the clock of the machine that took it (None: a lock of an
    # older version, or set by hand, whose value says nothing of it).
    held_seconds: float | None
    # When it runs out unless its holder renews it (a rebuild does at each step of its read);
    # None: it has no expiry and never runs out (`stale`).
    expires_in_seconds: float | None
    # What took it, as its value says: "rebuild" or "forget-voter" (None: an older version's
    # lock, or one set by hand, which does not say).
    held_by: LockHolder | None = None

    @property
    def stale(self) -> bool:
        """Whether it never runs out: no rebuild or forget-voter takes a lock without expiry
        (each sets one and renews it), so none is running under it."""
        return self.expires_in_seconds is None


class OutboxEntry(NamedTuple):
    """A rating waiting in the outbox for Kafka."""

    id: int
    event: WrittenRecord  # as the API wrote it, published byte for byte
    # The request that accepted it, published with it as the correlation-id header.
    correlation_id: str | None = None


class RelayResult(NamedTuple):
    """What a relay of the outbox (one transaction, or a run of them) published, and what it
    left there and why."""

    published: int
    # Every entry not published yet as it ended, this run's or not.
    pending: int
    oldest_pending_seconds: float = 0.0
    # It stopped at an entry the event stream did not take (that one and the rest of its batch
    # wait for a run that finds the stream back).
    stream_failed: bool = False
    # Of `pending`, the entries another run held as it ended (a concurrent relay's batch: that
    # run publishes them); None when a whole batch's worth or more was free, and not counted.
    held_elsewhere: int | None = 0
