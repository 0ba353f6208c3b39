"""The small interfaces the service logic depends on; adapters implement them, tests fake them.

Types only: the API's modules import them for type checking, so its cold start defines none of
these protocols (the values they pass are talkrate.values' and talkrate.projected's)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal, Protocol

from talkrate.events import Rating
from talkrate.values import (
    Admission,
    Histogram,
    KeptAnswer,
    Limit,
    Precondition,
    RatingWindow,
    ReadableHistograms,
    Saved,
    Talk,
)

if TYPE_CHECKING:  # the projection side's values: the API never loads them
    from talkrate.projected import (
        ProjectionBatch,
        ProjectionResult,
        ReadModelState,
        RebuildLock,
        RelayResult,
    )


class Pingable(Protocol):
    """A backend that can say whether it answers (GET /)."""

    def ping(self) -> bool | Literal["empty", "evicting"]:
        """True when the backend answers, False when not; "empty" when it answers but holds
        none of what it should (the read model's Redis after losing its data); "evicting" when
        it may drop what it holds (the read model's Redis under an allkeys-* policy)."""
        ...


class TalkCatalog(Protocol):
    """Knows which talks exist, and when each takes ratings."""

    def exists(self, talk_id: str) -> bool:
        """True when the talk is in the catalog."""
        ...

    def rating_window(self, talk_id: str) -> RatingWindow | None:
        """The talk's start and end (either may be unset) and whether its ratings are paused,
        or None when there is no such talk."""
        ...


class Publishable(Protocol):
    """A RatingSubmitted record to put on the stream: a Rating, or an outbox entry as written."""

    @property
    def key(self) -> bytes:
        """The record's key (the talk id)."""
        ...

    def to_json(self) -> bytes:
        """The record's value."""
        ...


class RatingPublisher(Protocol):
    """Puts RatingSubmitted events on the stream and waits for the acknowledgement."""

    def publish(self, event: Publishable) -> None:
        """Return once the stream has the event durably; raise BackendUnavailable otherwise."""
        ...


class RatingsReadModel(Protocol):
    """The Redis read model: histograms per talk, maintained by the projector."""

    def histogram(self, talk_id: str) -> Histogram:
        """The talk's current histogram (zeros when it has no ratings)."""
        ...

    def histograms(self, talk_ids: list[str]) -> dict[str, Histogram]:
        """Several talks' histograms at once."""
        ...

    def is_built(self) -> bool:
        """Whether it holds a read model built from the event store: when not (Redis lost its
        data, or a new one), its zeros are no results."""
        ...

    def apply(self, batch: ProjectionBatch) -> ProjectionResult:
        """Apply a batch atomically, skipping every record at or below its partition's offset."""
        ...


class EventStore(Protocol):
    """The durable record of every projected event (PostgreSQL), unique by eventId."""

    def record(self, batch: ProjectionBatch) -> ProjectionBatch:
        """Store the batch's events and dead letters; mark events first seen elsewhere."""
        ...

    def projected_positions(self, event_ids: list[str]) -> dict[str, tuple[str, int, int]]:
        """Where each of these stored events was first projected from (those not stored left
        out), in one read."""
        ...

    def histogram(self, talk_id: str) -> Histogram:
        """The talk's histogram counted from the stored events."""
        ...


class RebuildRequests(Protocol):
    """Asks for the read model to be rebuilt now, when a read found it not built, rather than at
    the next scheduled check (RelayFunction's, once a minute)."""

    def rebuild_soon(self) -> None:
        """Ask for a rebuild (at most once in a while per process); never raises: the read goes
        on from the event store whatever became of the request."""
        ...


class RatingOutbox(Protocol):
    """Where the API keeps a rating when Kafka does not acknowledge it (PostgreSQL)."""

    def enqueue(self, event: Rating) -> None:
        """Keep the event until it is published; raise BackendUnavailable if it cannot."""
        ...


class StatsCalculator(Protocol):
    """Computes statistics of a histogram somewhere else (StatsFunction)."""

    def stats(self, histogram: Histogram) -> dict[str, Any] | None:
        """The statistics, or None when they could not be had in time."""
        ...


class AcceptedRatings(Protocol):
    """Remembers, for a short while, which ratings the API accepted (for their status)."""

    def was_accepted(self, event_id: str) -> bool:
        """The API accepted the rating recently; raise BackendUnavailable when unknowable."""
        ...

    def has_applied(self, partition: str, offset: int) -> bool:
        """Whether the batches applied so far reach this offset of a "topic-partition" (its
        record counts in the histograms); raise BackendUnavailable when unknowable."""
        ...


class ProjectedEvents(Protocol):
    """The event store, asked where an event was projected from."""

    def projected_at(self, event_id: str) -> tuple[str, int, int] | None:
        """The (topic, partition, offset) the stored event was first projected from, or None
        when it is not in the store."""
        ...


class OutboxStatus(Protocol):
    """The outbox, asked about an entry."""

    def status(self, event_id: str) -> str | None:
        """ "queued", "published" or None."""
        ...


class RequestLimiter(Protocol):
    """Counts requests against limits (Redis), in one round trip."""

    def admit(
        self,
        limits: list[Limit],
        accepted_event_id: str | None = None,
        forgotten: str | None = None,
    ) -> Admission:
        """Count the request against every limit, unless one is used up (then count nothing).

        With `accepted_event_id`, an admitted rating is also remembered as accepted (for its
        status), in the same round trip; with `forgotten` (a voter's pseudonym), a voter
        `bar` marked is refused (`barred`), counting nothing, and one whose mark Redis may have
        lost (no built read model) is `unknown`, counting nothing. Raise BackendUnavailable
        when the limits cannot be read.
        """
        ...

    def bar(self, pseudonym: str) -> None:
        """Mark the voter filed under `pseudonym` forgotten, for good."""
        ...

    def unbarred(self, pseudonyms: list[str]) -> list[str]:
        """Which of these voters' marks (set by `bar`) Redis lost while keeping its read model
        (a failover before its replica had them, an older copy restored); none where it holds
        no built read model (the rebuild sets them all). One round trip."""
        ...

    def give_back(self, limits: list[Limit], event_id: str) -> None:
        """Undo the admission of a rating that was not stored after all: it counts against none
        of `limits`, and its accepted marker is dropped."""
        ...

    def admit_here(self, limits: list[Limit]) -> Admission:
        """Count the request against every limit over this container's own requests, by
        `admit`'s rule, while Redis cannot count them (`admit` raised BackendUnavailable)."""
        ...

    def give_back_here(self, limits: list[Limit]) -> None:
        """Undo an `admit_here` whose rating was not stored after all."""
        ...


class ForgottenVoters(Protocol):
    """The voters `ops forget-voter` filed away, by pseudonym, as PostgreSQL keeps them: what
    the API asks when Redis cannot say (unreachable, or its marks lost)."""

    def was_forgotten(self, pseudonym: str) -> bool:
        """Whether the voter filed under `pseudonym` was forgotten; BackendUnavailable when
        the store cannot say."""
        ...


class ForgottenMarksKept(Protocol):
    """Which forgotten voters PostgreSQL keeps whose Redis mark is not known to be set (a forget
    that could not reach Redis), and the record that it was set since."""

    def unmarked_forgotten(self, limit: int) -> list[str]:
        """Up to `limit` pseudonyms of forgotten voters whose mark is not known to be set;
        SchemaBehind when the store does not record marks yet."""
        ...

    def unmarked_count(self) -> int:
        """How many forgotten voters' marks are not known to be set; SchemaBehind when the
        store does not record marks yet."""
        ...

    def marked(self, pseudonyms: list[str]) -> int:
        """Record their marks as set; how many were waiting for it."""
        ...

    def marked_forgotten(self, after: str, limit: int) -> list[str]:
        """Up to `limit` pseudonyms of forgotten voters whose mark was recorded as set, in
        their order, each after `after` ("" for the first); SchemaBehind when the store does
        not record marks yet."""
        ...


class LivePublisher(Protocol):
    """The live channel (AppSync Events on AWS, its emulation locally), publishing side."""

    def publish(self, channel: str, events: Sequence[str]) -> None:
        """Publish up to five events (JSON texts) to one channel; raise LivePublishFailed."""
        ...


class RebuildSource(Protocol):
    """Where the truth is: the event store."""

    def state(self, progress: Callable[[str], None]) -> ReadModelState:
        """The whole read model recomputed from one consistent snapshot."""
        ...


class RebuildTarget(Protocol):
    """The read model to replace."""

    def is_built(self) -> bool:
        """Whether it holds a read model built from the event store (not lost, not new)."""
        ...

    def lock_for_rebuild(self) -> bool:
        """Hold the projector off; False when another rebuild holds the lock."""
        ...

    def hold_rebuild_lock(self) -> bool:
        """Keep this rebuild's lock for another while; False when it ran out (or is another's)."""
        ...

    def rebuild_lock(self) -> RebuildLock | None:
        """The rebuild's lock while anything holds it (one without expiry too), else None."""
        ...

    def unlock_after_rebuild(self) -> None:
        """Let the projector apply batches again."""
        ...

    def replace_all(self, state: ReadModelState) -> str | None:
        """Replace every histogram and offset at once, while this rebuild holds the lock (else
        raise RebuildLockLost, replacing nothing). A line to say when Redis answered the swap
        late and it was found done (RebuildNotSwapped when it was not)."""
        ...

    def applied_offsets(self) -> dict[str, int]:
        """Each "topic-partition" with the offset up to which batches were applied."""
        ...


class RelayableOutbox(Protocol):
    """An outbox that hands its pending entries, in order, to a publish function."""

    def relay(
        self, publish: Callable[[Publishable], None], limit: int, until: float | None = None
    ) -> RelayResult:
        """Publish up to `limit` pending entries in order, marking each; stop at the first
        failure, or at `until` (time.monotonic()), keeping what was published. Entries another
        run holds are left to it."""
        ...


class Catalog(Protocol):
    """The catalog as the browsing and admin routes need it (PostgreSQL)."""

    def get(self, talk_id: str) -> Talk | None:
        """The talk, or None."""
        ...

    def search(
        self, query: str | None, track: str | None, limit: int, offset: int
    ) -> tuple[list[Talk], int]:
        """A page of matching talks and how many match in all."""
        ...

    def save(self, talk: Talk, precondition: Precondition | None = None) -> Saved:
        """Create or replace: whether it was created, its new revision, and whether its ratings
        are paused (`talk.ratings_paused` None: as they were) (TalkChanged when the
        precondition does not hold, nothing saved)."""
        ...

    def create(self, talk: Talk) -> int | None:
        """Add: its revision, or None when the id is taken."""
        ...

    def create_once(
        self,
        talk: Talk,
        key: str,
        request: dict[str, Any],
        answer: Callable[[Talk], KeptAnswer],
        kept_seconds: int,
    ) -> tuple[KeptAnswer, bool]:
        """Add under an Idempotency-Key, the key's answer kept with the talk: (answer(the talk
        added), True), or (the answer kept, False) for a repeat of the key's first request
        (IdempotencyKeyReused for another request; TalkConflict when the id is taken)."""
        ...

    def delete(self, talk_id: str, precondition: Precondition | None = None) -> int | None:
        """Remove: the revision the talk had (what its removal is announced with), or None when
        there was no such talk (TalkChanged when the precondition does not hold, nothing
        removed)."""
        ...

    def ids_in_track(self, track: str) -> list[str]:
        """The ids of a track's talks."""
        ...

    def titles(self, talk_ids: list[str]) -> dict[str, Talk]:
        """The talks of these ids that exist."""
        ...


class Ratings(Protocol):
    """The read model as the catalog routes need it (Redis)."""

    def histograms(self, talk_ids: list[str]) -> dict[str, Histogram]:
        """Several talks' histograms at once."""
        ...

    def readable_histograms(self, talk_ids: list[str]) -> ReadableHistograms:
        """Several talks' histograms, those that can be read: on a cluster that lost a shard,
        the other shards' talks (BackendUnavailable when none can be read)."""
        ...

    def is_built(self) -> bool:
        """Whether the read model is built (see RatingsReadModel.is_built)."""
        ...

    def built_for(self, talk_ids: list[str]) -> bool:
        """Whether the read model is built where these talks are kept (on a cluster, their
        slots; on one Redis, is_built)."""
        ...

    def leaderboard(self, limit: int, among: list[str] | None = None) -> list[tuple[str, float]]:
        """The best talks by Bayesian average."""
        ...

    def tied(self, score: float, among: list[str] | None = None) -> list[str]:
        """The talks on the board of exactly this score (of `among` if given), in no set order."""
        ...

    def forget_talk(self, talk_id: str) -> None:
        """Take a talk off the leaderboard."""
        ...

    def rank_talk(self, talk_id: str) -> None:
        """Put a talk on the leaderboard from its histogram, when it has ratings."""
        ...
