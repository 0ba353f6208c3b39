"""Plain values, without pydantic: a histogram, a talk's rating window, a talk of the catalog,
what the API answers of a talk's ratings, and the rate limiter's limits and answers.

The projector, the API's usual routes and the adapters on their path use these, so their cold
starts load no validation library. What comes in from outside is judged before it becomes one of
these (talkrate.models for the organisers' talks, talkrate.requests for a rating); the catalog's
rows were judged so before they were stored.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

RATING_VALUES = ("1", "2", "3", "4", "5")


class Histogram(NamedTuple):
    """Count of ratings per value "1".."5"; missing values count zero.

    `revision` counts the records applied to the talk (a voter's changed rating too): of two
    states of a talk, the one with the higher revision is the newer. None where it is unknown.
    """

    counts: dict[str, int]
    revision: int | None = None

    @classmethod
    def empty(cls) -> Histogram:
        """A histogram with no ratings."""
        return cls(counts=dict.fromkeys(RATING_VALUES, 0))

    @classmethod
    def from_counts(cls, counts: dict[str, Any], revision: Any = None) -> Histogram:
        """Normalise stored counts (strings or ints, possibly partial) into a full histogram."""
        return cls(
            counts={v: int(counts.get(v, 0) or 0) for v in RATING_VALUES},
            revision=None if revision is None else int(revision),
        )

    @property
    def total(self) -> int:
        """How many ratings the histogram holds."""
        return sum(self.counts.values())

    @property
    def weighted(self) -> int:
        """The sum of the ratings the histogram holds (each value times its count)."""
        return sum(int(v) * n for v, n in self.counts.items())

    @property
    def average(self) -> float | None:
        """The mean rating to four places (a tie rounded up, from the exact quotient), or None
        without ratings."""
        from talkrate.stats import rounded

        total = self.total
        return rounded(self.weighted, total) if total else None


class RatingWindow(NamedTuple):
    """When a talk takes ratings: from its start until its end plus a grace period.

    A talk without a start takes ratings until its end (plus grace); without an end, from its
    start on; without either, always (the workshop's talks).
    """

    starts_at: datetime | None
    ends_at: datetime | None
    # The organisers paused the talk's ratings (PUT /talks/{talkId} with ratingsPaused): none is
    # taken until they resume them, whatever the times say.
    paused: bool = False

    def closes_at(self, grace: timedelta) -> datetime | None:
        """The last moment a rating is taken, or None when the window never closes."""
        if self.ends_at is None:
            return None
        try:
            return self.ends_at + grace
        except OverflowError:  # an end near the last date there is: the window never closes
            return datetime.max.replace(tzinfo=UTC)

    def is_open(self, now: datetime, grace: timedelta) -> bool:
        """Whether a rating made `now` is taken."""
        if self.starts_at is not None and now < self.starts_at:
            return False
        closes = self.closes_at(grace)
        return closes is None or now <= closes


def rfc3339(at: datetime) -> str:
    """A moment as the API writes it: RFC 3339 in UTC, "Z" for the offset (as pydantic does)."""
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


class Talk(NamedTuple):
    """A talk of the catalog: its id and what an organiser said about it (its times carry a
    zone; the API writes them in UTC)."""

    id: str
    title: str
    speakers: list[str]
    track: str | None = None
    room: str | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    # Set by the catalog at each save, never reused (not even by a talk added again under the same
    # id): what the talk's ETag names. None for a talk not stored yet.
    revision: int | None = None
    # The language of its title and speakers' names (a BCP 47 tag), when an organiser gave it.
    language: str | None = None
    # Whether the organisers paused its ratings. None only in a talk about to be saved: as the
    # stored talk has it (not paused for a talk added), so that a client that does not know
    # the field (an edit form, a programme imported again) never resumes a paused talk.
    ratings_paused: bool | None = False

    @property
    def window(self) -> RatingWindow:
        """When the talk takes ratings (before the grace), and whether they are paused."""
        return RatingWindow(self.starts_at, self.ends_at, bool(self.ratings_paused))

    def document(self) -> dict[str, Any]:
        """The talk's fields as the API answers them (camelCase, times in RFC 3339)."""
        return {
            "title": self.title,
            "speakers": list(self.speakers),
            "track": self.track,
            "room": self.room,
            "startsAt": None if self.starts_at is None else rfc3339(self.starts_at),
            "endsAt": None if self.ends_at is None else rfc3339(self.ends_at),
            "language": self.language,
            "ratingsPaused": bool(self.ratings_paused),
            "id": self.id,
            "revision": self.revision,
        }

    @property
    def etag(self) -> str:
        """The talk's entity tag (strong): its revision, quoted."""
        return entity_tag(self.revision)


class Saved(NamedTuple):
    """What a save of a talk did: whether it created the talk, the revision it took, and
    whether its ratings are paused as saved (kept as they were when the save did not say)."""

    created: bool
    revision: int
    ratings_paused: bool


class KeptAnswer(NamedTuple):
    """The answer a request sent with an Idempotency-Key was given, kept so that its retries are
    given it again (status, headers and body as they were)."""

    status: int
    headers: dict[str, str]
    body: str


def fingerprint(request: dict[str, Any]) -> str:
    """A request as compared between uses of one Idempotency-Key: SHA-256 of its canonical
    JSON."""
    import hashlib
    import json

    canonical = json.dumps(request, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def entity_tag(revision: int | None) -> str:
    """A talk revision's entity tag (strong), as ETag and If-Match write it."""
    return f'"{revision}"'


ANY = "*"


class Precondition(NamedTuple):
    """An organiser's If-Match and If-None-Match on a talk (RFC 9110, 13.1): each None when
    absent, ANY for "*", else the revisions its entity tags name (If-Match compares strongly: a
    weak tag names none)."""

    if_match: frozenset[int] | str | None = None
    if_none_match: frozenset[int] | str | None = None

    def holds(self, revision: int | None) -> bool:
        """Whether the change may go ahead on the talk as it is now (None: there is none)."""
        if self.if_match is not None and (
            revision is None or (self.if_match != ANY and revision not in self.if_match)
        ):
            return False
        return not (
            self.if_none_match is not None
            and revision is not None
            and (self.if_none_match == ANY or revision in self.if_none_match)
        )


class ReadableHistograms(NamedTuple):
    """What could be read of several talks' histograms: those read, and the talks whose could
    not be (on a Redis Cluster that lost a shard whole while the others serve their slots:
    `cluster-require-full-coverage no`), in the order asked."""

    of: dict[str, Histogram]
    unreadable: tuple[str, ...] = ()


class RatingSummary:
    """How a talk is rated, from the read model (a plain class: `count` would hide a tuple's)."""

    __slots__ = ("avg", "count", "ratings")

    def __init__(self, count: int, avg: float | None, ratings: dict[str, int]) -> None:
        self.count = count
        self.avg = avg
        self.ratings = ratings

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RatingSummary):
            return NotImplemented
        return (self.count, self.avg, self.ratings) == (other.count, other.avg, other.ratings)

    __hash__ = None  # type: ignore[assignment]  # its histogram is a dict, as a dataclass's was

    def __repr__(self) -> str:
        return f"RatingSummary(count={self.count!r}, avg={self.avg!r}, ratings={self.ratings!r})"

    @classmethod
    def of(cls, histogram: Histogram) -> RatingSummary:
        """The summary of a histogram."""
        return cls(count=histogram.total, avg=histogram.average, ratings=histogram.counts)

    def document(self) -> dict[str, Any]:
        """As the API answers it."""
        return {"count": self.count, "avg": self.avg, "ratings": dict(self.ratings)}


class TalkRatings(NamedTuple):
    """What GET /ratings answers: the histogram, plus stats when StatsFunction answered."""

    talk_id: str
    ratings: dict[str, int]
    stats: dict[str, Any] | None = None
    source: str = "read-model"  # or "event-store", when the read model could not be reached
    revision: int | None = None  # the histogram's (Histogram.revision)
    # Why from the event store: the read model is being rebuilt, or cannot be read at all
    rebuilding: bool = False
    unavailable: bool = False

    def document(self) -> dict[str, Any]:
        """As the API answers it (no stats when there are none)."""
        body: dict[str, Any] = {"talkId": self.talk_id, "ratings": self.ratings}
        if self.stats is not None:
            body["stats"] = self.stats
        body["source"] = self.source
        if self.revision is not None:
            body["ratingsRevision"] = self.revision
        if self.rebuilding:
            body["rebuilding"] = True
        if self.unavailable:
            body["unavailable"] = True
        return body


class Admission(NamedTuple):
    """What the limiter says of one request: let through, or refused for `retry_after` seconds
    by the limit `used_up`."""

    allowed: bool
    retry_after: int = 0
    used_up: Limit | None = None
    barred: bool = False  # the voter was forgotten (`bar`): refused whatever the limits say
    # Redis holds no built read model, so no mark says the voter was not forgotten (it may have
    # lost them): nothing counted, the event store is asked (ForgottenVoters)
    unknown: bool = False


class Limit(NamedTuple):
    """At most `per_minute` requests a minute for one subject (a voter, an address)."""

    scope: str  # what is counted: "voter", "address", "voters-address"
    subject: str
    per_minute: int
