"""The API's response documents, as the OpenAPI description shows them.

Only the description uses them (handlers answer plain dicts): talkrate.api.openapi imports this
module, and the routes name their documents by class name (talkrate.api.responses).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from talkrate.models import TalkFields
from talkrate.requests import PRINTABLE


class Document(BaseModel):
    """A response document, described in the OpenAPI document only."""

    model_config = ConfigDict(defer_build=True)


# A talk's text as the API answers it: what was saved, so what POST and PUT took when it was.
SAVED_TEXT = (
    "A talk saved before 2026-12-04 may hold Unicode's direction embeddings, "
    "overrides or isolates (U+202A..U+202E, U+2066..U+2069), which POST and PUT refuse now: "
    "show each text isolated from its neighbours (HTML's <bdi>, or U+2068 before and U+2069 "
    "after it). One saved before 2026-12-06 may hold U+FEFF, which POST and PUT drop: sent back "
    "as it is read, it is saved without it. One saved before 2026-12-07 may hold Unicode's "
    "line and paragraph separators (U+2028, U+2029), which POST and PUT refuse now."
)


class Talk(TalkFields):
    """A talk of the catalog."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore", defer_build=True)

    # Documented as answered, not as sent: printable, direction controls not excluded.
    title: str = Field(min_length=1, max_length=300, pattern=PRINTABLE, description=SAVED_TEXT)
    speakers: list[Annotated[str, Field(max_length=120, pattern=PRINTABLE)]] = Field(
        default_factory=list, max_length=20, description=f"Each name: {SAVED_TEXT}"
    )
    track: str | None = Field(None, max_length=100, pattern=PRINTABLE, description=SAVED_TEXT)
    room: str | None = Field(None, max_length=100, pattern=PRINTABLE, description=SAVED_TEXT)
    id: str
    ratings_paused: bool = Field(
        alias="ratingsPaused",
        description="Whether the organisers paused the talk's ratings: POST /ratings is "
        "refused 409 ratings-paused until they resume them (PUT with ratingsPaused false).",
    )
    revision: int = Field(
        description="A new number at every save, never reused: the talk's ETag is it in "
        "quotes; send it back as If-Match to change the talk only if nobody else did since."
    )


class RatingSummary(Document):
    """How a talk is rated, from the read model."""

    count: int
    avg: float | None
    ratings: dict[str, int]


class FieldProblem(Document):
    """One invalid field."""

    field: str
    message: str


class Problem(Document):
    """RFC 9457 problem details: the body of every error."""

    type: str
    title: str
    status: int
    detail: str
    errors: list[FieldProblem] | None = None


class Links(Document):
    """Where to look next."""

    status: str | None = None
    ratings: str | None = None
    next: str | None = None


class RatingOut(Document):
    """A rating as accepted."""

    model_config = ConfigDict(populate_by_name=True)

    talk_id: str = Field(alias="talkId")
    value: int


class RatingAccepted(Document):
    """202 to POST /ratings: the rating is on Kafka (accepted) or in the outbox (queued)."""

    model_config = ConfigDict(populate_by_name=True)

    rating: RatingOut
    event_id: str = Field(alias="eventId")
    status: Literal["accepted", "queued"]
    links: Links


class VoterIssued(Document):
    """201 to POST /voters: an anonymous attendee token, when it expires, and from when to
    renew it (POST /voters with it as Voter-Token: the same voter, a new expiry)."""

    model_config = ConfigDict(populate_by_name=True)

    voter_token: str = Field(alias="voterToken")
    expires_at: str = Field(alias="expiresAt")
    renew_after: str = Field(
        alias="renewAfter",
        description="When a quarter of the pass's life is left: from then, a client renews it "
        "(POST /voters with it as Voter-Token), keeping the voter, while it is still valid.",
    )
    renewed: bool = Field(
        description="true: the presented Voter-Token was renewed (the same voter, their earlier "
        "ratings still theirs). false: a new voter's pass, whether none was presented or the "
        "one presented could not be renewed (expired, forged, altered, a forgotten voter's) "
        "and was set aside; a talk rated with it counts beside a rating made under that one.",
    )


class TalkRatingsOut(Document):
    """200 to GET /ratings: the histogram, and the stats when StatsFunction answered."""

    model_config = ConfigDict(populate_by_name=True)

    talk_id: str = Field(alias="talkId")
    ratings: dict[str, int]
    stats: dict[str, Any] | None = None
    source: Literal["read-model", "event-store"] = Field(
        description="Where the histogram was counted: the read model (Redis), or the event "
        "store (PostgreSQL) while the read model is unreachable or not built (Redis lost its "
        "data: it is being rebuilt)."
    )
    ratings_revision: int | None = Field(
        default=None,
        alias="ratingsRevision",
        description=(
            "How many ratings were applied to the talk so far (a voter's changed rating too): "
            "of two answers or live messages about the talk, the higher is the newer."
        ),
    )
    rebuilding: bool = Field(
        default=False,
        description="Only while the read model is being rebuilt (usually seconds): the "
        "histogram is the event store's. Absent (false) otherwise.",
    )
    unavailable: bool = Field(
        default=False,
        description="Only while the read model cannot be read (its Redis does not answer): the "
        "histogram is the event store's, and no live message comes until it can; read it again "
        "later. Absent (false) otherwise.",
    )


class OrganiserOut(Document):
    """200 to GET /organiser: the bearer token is the organiser token."""

    model_config = ConfigDict(populate_by_name=True)

    organiser: Literal[True]
    token_fingerprint: str | None = Field(
        alias="tokenFingerprint",
        description="The first 12 hex digits of the token's SHA-256, as the audit log names it.",
    )


class RatingStatus(Document):
    """200 to GET /ratings/{eventId}."""

    model_config = ConfigDict(populate_by_name=True)

    event_id: str = Field(alias="eventId")
    status: Literal["queued", "accepted", "projected"]


class TalkOut(Talk):
    """A talk with its rating summary: left out when the read model cannot be reached, in
    GET /talks while it is being rebuilt (GET /talks/{talkId} counts it from the event store
    then), and in the answers of POST and PUT /talks, which say the talk as saved (as its live
    channel's `catalog` message does: its counts are GET /talks/{talkId}'s)."""

    model_config = ConfigDict(defer_build=True)

    channel: str = Field(
        description="The talk's live channel (AppSync Events), where the projector publishes "
        'its new histogram after each batch ({"type": "talk", ...}), and the API the talk as '
        'an organiser changed it ({"type": "catalog", "talkId", "talk", "revision"}: this '
        "document without its summary, or null once removed; `revision` orders a talk's "
        "messages: the document's, or the removed talk's, the removal coming after that "
        "document; also on /talkrate/leaderboard)."
    )
    rating_closes_at: datetime | None = Field(
        alias="ratingClosesAt",
        description="When the talk stops taking ratings: its end plus the grace "
        "(RatingGraceHours); null when it never closes. It takes ratings from its start "
        "(or at any time before this, without one).",
    )
    summary: RatingSummary | None = None
    unavailable: bool = Field(
        default=False,
        description="Only in GET /talks, when this talk's counts could not be read while "
        "other talks' were (its shard of a Redis Cluster lost, the others serving theirs): its "
        "summary is left out, which is not zero; the page says `unavailable` too. Absent "
        "(false) otherwise.",
    )


class TalkPageOut(Document):
    """200 to GET /talks."""

    items: list[TalkOut]
    total: int
    limit: int
    offset: int
    links: Links
    rebuilding: bool = Field(
        default=False,
        description="Only while the ratings are being rebuilt from the event store (the read "
        "model's Redis lost them; usually seconds): the talks come without their summaries, which are "
        "not zero. Absent (false) otherwise.",
    )
    unavailable: bool = Field(
        default=False,
        description="Only while the read model cannot be read (its Redis does not answer): the "
        "talks come without their summaries, which are not zero; read it again later (a client "
        "backs off: seconds, then up to a minute). On a Redis Cluster that lost a shard while "
        "the others serve theirs, only the talks of that shard come without them, each marked "
        "`unavailable`. Absent (false) otherwise.",
    )


class RankedTalk(Document):
    """A place on the leaderboard."""

    model_config = ConfigDict(populate_by_name=True)

    rank: int = Field(
        description="Standard competition ranking: talks of the same score share a rank "
        "(1, 1, 3), listed by id (ascending) among themselves."
    )
    talk_id: str = Field(alias="talkId")
    title: str
    language: str | None = Field(
        default=None, description="The title's language (the talk's `language`), or null."
    )
    track: str | None
    score: float = Field(
        description="(prior mean * prior weight + the sum of its ratings) / (prior weight + "
        "count), to four places, a tie rounded up."
    )
    count: int
    avg: float | None = Field(description="The mean rating to four places, a tie rounded up.")
    ratings: dict[str, int] = Field(
        description='The talk\'s histogram ({"1": n, …, "5": n}): its score and average, '
        "exact, for a client that writes them to other places (a rounded figure rounded again "
        "can be 0.01 off)."
    )


class UnreadablePlace(Document):
    """A place on the leaderboard whose talk's counts could not be read."""

    model_config = ConfigDict(populate_by_name=True)

    rank: int = Field(description="Its place on the board (the board's scores are kept apart).")
    talk_id: str = Field(alias="talkId")
    title: str
    language: str | None = None
    track: str | None


class LeaderboardOut(Document):
    """200 to GET /leaderboard."""

    talks: list[RankedTalk]
    track: str | None = None
    prior: dict[str, float]
    rebuilding: bool = Field(
        default=False,
        description="Only while the ratings are being rebuilt from the event store (the read "
        "model's Redis lost them; usually seconds): `talks` is empty, which is not a board nobody has "
        "rated yet; read it again in a few seconds. Absent (false) otherwise.",
    )
    unreadable: list[UnreadablePlace] = Field(
        default_factory=list,
        description="Only while some of the page's places cannot be read (their talks' shard of "
        "a Redis Cluster lost, the others and the board serving theirs): those places, by "
        "rank, left out of `talks`, whose ranks stay the board's (1, 2, 4: the third is here); "
        "read it again later. Absent otherwise. A board that cannot be read at all is a 503.",
    )


class Index(Document):
    """200 to GET /: where each backend is (no credentials) and whether it answers ("empty":
    the ratings' Redis answers but lost its read model, or has none yet; it is rebuilt from the
    event store by the first read that finds it so (RelayFunction, asked at once), the
    projector's next batch or the relay's next run, `talkrate ops rebuild` at once;
    "evicting": it holds the read model under a maxmemory-policy that may evict counts, an
    allkeys-* one: set noeviction, then `talkrate ops check`)."""

    metadata: dict[str, str | None]
    backends: dict[str, Literal["up", "down", "empty", "evicting"]]
