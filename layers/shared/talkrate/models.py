"""Pydantic models of what comes in: the RatingSubmitted event, the organisers' talks, and the
documented shape of the rating and voter bodies (talkrate.requests reads those two without
pydantic, held to these models by tests). Validation lives here."""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    ValidationError,
    ValidationInfo,
    field_serializer,
    field_validator,
)
from pydantic.json_schema import SkipJsonSchema
from pydantic_core import PydanticCustomError

from talkrate.events import (
    CORRELATION_HEADER,
    FIRST_YEAR,
    LAST_YEAR,
    MAX_TALK_ID_LENGTH,
    MAX_VOTER_ID_LENGTH,
    TALK_ID_PATTERN,
    VOTER_ID_PATTERN,
    Rating,
    occurred_at_text,
    unix_ms,
    uuid7,
)
from talkrate.requests import TALK_TEXT
from talkrate.talk_text import (
    DIRECTION_CONTROL,
    DIRECTION_CONTROLS,
    LANGUAGE_EXAMPLES,
    LANGUAGE_RULE,
    LANGUAGE_TAG_MAX_LENGTH,
    language_tag,
    without_dropped,
)
from talkrate.values import (
    RATING_VALUES,
    Histogram,
    RatingSummary,
    RatingWindow,
    Talk,
    TalkRatings,
)

__all__ = [  # re-exported: the plain values and the wire format's names live without pydantic
    "CORRELATION_HEADER",
    "MAX_TALK_ID_LENGTH",
    "RATING_VALUES",
    "TALK_ID_PATTERN",
    "Histogram",
    "RatingSummary",
    "RatingWindow",
    "Talk",
    "TalkRatings",
    "unix_ms",
    "uuid7",
]


def in_utc_years(value: datetime) -> datetime:
    """The moment in UTC, when its year (in UTC) is between FIRST_YEAR and LAST_YEAR."""
    try:
        at = value.astimezone(UTC)
    except OverflowError:  # an offset carries it past the first or the last date there is
        at = None
    if at is None or not FIRST_YEAR <= at.year <= LAST_YEAR:
        raise ValueError(f"must be between the years {FIRST_YEAR} and {LAST_YEAR} (UTC)")
    return at


TalkId = Annotated[str, Field(min_length=1, max_length=MAX_TALK_ID_LENGTH, pattern=TALK_ID_PATTERN)]
RatingValue = Annotated[StrictInt, Field(ge=1, le=5)]
# An attendee's pseudonym (the voter token's random id; another producer's should be as
# random: never a badge number or an e-mail, which the event store keeps): bounded, printable.
VoterId = Annotated[
    str, Field(min_length=1, max_length=MAX_VOTER_ID_LENGTH, pattern=VOTER_ID_PATTERN)
]


VOTER_ID_REFUSED = (
    "voterId is not accepted: an attendee is who holds a voter token; get one from POST /voters "
    "and send it as the Voter-Token header"
)


def _refuse_voter_id(value: Any) -> Any:
    # Anyone could name any attendee here and replace their vote: identity comes from a token.
    raise PydanticCustomError("voter_id_refused", VOTER_ID_REFUSED)


class RatingRequest(BaseModel):
    """Body of POST /ratings. Strict: "5", true and 3.5 are not ratings.

    The voter is not in the body: it comes from a verified Voter-Token header, and a `voterId`
    field is refused (422) so that no client believes it still counts.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    talk_id: TalkId = Field(alias="talkId")
    value: RatingValue
    voter_id: SkipJsonSchema[Annotated[None, BeforeValidator(_refuse_voter_id)]] = Field(
        None, alias="voterId", exclude=True
    )


class VoterRequest(BaseModel):
    """Body of POST /voters (optional): the event code, when the organisers set one."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    code: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        description=(
            "The event code as said in the room or printed on the badge, in any case and with "
            "any spaces around it (a phone capitalises its first letter)."
        ),
    )


_DATE_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}")


def _text_only(value: Any) -> Any:
    # JSON numbers are not times, nor are strings of digits: pydantic would read 0 or "0" as
    # 1970-01-01. A time starts with its date, then "T" (or a space) and the hour and minute.
    if isinstance(value, datetime) or (isinstance(value, str) and _DATE_TIME.match(value)):
        return value
    raise ValueError("must be an RFC 3339 date-time string")


class RatingSubmitted(BaseModel):
    """The one event on topic `ratings`, defined here: talkrate.events writes it (the API) and
    reads its usual form (the projector) without pydantic, byte for byte as this model does
    (tests/unit/test_events.py); this model judges every record not in that form."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")

    event_id: uuid.UUID = Field(alias="eventId")
    type: Literal["RatingSubmitted"] = "RatingSubmitted"
    schema_version: Literal[1] = Field(default=1, alias="schemaVersion")
    talk_id: TalkId = Field(alias="talkId")
    value: RatingValue
    occurred_at: Annotated[datetime, BeforeValidator(_text_only)] = Field(alias="occurredAt")
    # With a voter, the attendee's latest rating of the talk replaces their earlier ones.
    voter_id: VoterId | None = Field(None, alias="voterId")

    @field_validator("occurred_at")
    @classmethod
    def _timezone_aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("occurredAt must carry a time zone (RFC 3339)")
        return in_utc_years(value)

    @field_serializer("occurred_at")
    def _rfc3339(self, value: datetime) -> str:
        return occurred_at_text(value)

    @classmethod
    def new(
        cls, talk_id: str, value: int, voter_id: str | None = None, now: datetime | None = None
    ) -> RatingSubmitted:
        """Build a fresh event for a rating accepted `now` (the current time by default): the
        id and the moment as talkrate.events.Rating.new makes them, judged by this model."""
        fresh = Rating.new(talk_id, value, voter_id, now)
        return cls(
            event_id=uuid.UUID(fresh.event_id),
            talk_id=fresh.talk_id,
            value=fresh.value,
            occurred_at=fresh.occurred_at,
            voter_id=fresh.voter_id,
        )

    @classmethod
    def from_json(cls, raw: bytes | str) -> RatingSubmitted:
        """Parse a Kafka record value; raises pydantic.ValidationError when it is not an event."""
        return cls.model_validate_json(raw)

    def to_json(self) -> bytes:
        """Serialise as the wire format: camelCase JSON, UTF-8.

        talkrate.events reads exactly this form fast (the projector's usual batch); a change to
        it only sends records to the model instead, and tests/unit/test_events.py says so.
        """
        return self.model_dump_json(by_alias=True, exclude_none=True).encode()

    @property
    def occurred_ms(self) -> int:
        """occurredAt in milliseconds since the epoch: the order of one voter's ratings."""
        return unix_ms(self.occurred_at)

    @property
    def key(self) -> bytes:
        """The Kafka record key: the talk id, so a talk's ratings stay in one partition."""
        return self.talk_id.encode()


def problems_of(error: ValidationError) -> list[str]:
    """What the model found wrong in a value, one "field: message" each ("value" for the whole):
    the reason a dead letter is kept with, and what a redrive says of a repair."""
    return [f"{'.'.join(str(p) for p in e['loc']) or 'value'}: {e['msg']}" for e in error.errors()]


# The namespace of the eventIds made for dead letters that carry none of their own. Never to
# change: a letter redriven by two releases must be published under one eventId by both.
_DEAD_LETTER_EVENT_IDS = uuid.UUID("f828ad4e-f50f-4954-bae0-a7d39ada8dda")


def _digest(value: bytes | None) -> str:
    """A dead letter's bytes as its made eventIds take them (a sha256; "none" for no value)."""
    return "none" if value is None else hashlib.sha256(value).hexdigest()


def _topic_named(topic: str) -> str:
    """The Kafka topic a dead letter's record is of. A retired topic's positions are filed under
    "<topic> (retired <time>)": the record is still the topic's (a topic's name holds no space)."""
    return topic.split(" ", 1)[0]


class _EventIdOnly(BaseModel):
    """A record's eventId as RatingSubmitted reads it, whatever else the record holds."""

    model_config = ConfigDict(extra="ignore")

    event_id: uuid.UUID = Field(alias="eventId")


def redrive_event_id(topic: str, partition: int, offset: int, value: bytes | None) -> uuid.UUID:
    """The eventId every redrive of a dead letter publishes it under, whatever eventId a repair
    carries: the event store keeps an event once by its eventId, so a letter published twice
    (a redrive cut off between Kafka's acknowledgement and its commit, then run again) counts
    once.

    The letter's own eventId where its stored value holds one RatingSubmitted reads as a UUID
    (what its producer was told, and `GET /ratings/{eventId}` knows it by); where it holds an
    eventId that is no UUID, one made from the record's topic and bytes (`copies_event_id`:
    copies of the record, a producer's retry set aside twice, share it); otherwise one made
    from the record as Kafka held it (its position and its bytes), never from the database's
    row: a letter lost with a restored database and stored again by `ops replay` gets the same
    one, and a recreated topic's letter at an old one's offset another (unless its bytes are
    the same, as with an eventId of their own)."""
    own = carried_event_id(value)
    if own is not None:
        return own
    if _names_an_event_id(value):
        return copies_event_id(topic, value)
    return record_event_id(topic, partition, offset, value)


def carried_event_id(value: bytes | None) -> uuid.UUID | None:
    """The eventId a record carries, as RatingSubmitted reads it (a UUID); None: none."""
    try:
        return _EventIdOnly.model_validate_json(value or b"").event_id
    except ValidationError:
        return None


def _names_an_event_id(value: bytes | None) -> bool:
    try:
        fields = json.loads(value or b"")
    except ValueError:
        return False
    return isinstance(fields, dict) and "eventId" in fields


# The namespace of the eventIds made from a record's topic and bytes. Never to change.
_COPIES_EVENT_IDS = uuid.UUID("0b8f3f5e-3c1d-4f0e-9a57-6d2f8e1c4b90")


def copies_event_id(topic: str, value: bytes | None) -> uuid.UUID:
    """The eventId made from a dead letter's topic and bytes, not its position: every copy of
    one record (a producer's retry, set aside twice) gets the same one, and counts once. That
    of a letter whose eventId is no UUID, and of letters without one that the operator says
    are copies of one record (`ops redrive --twins copies`)."""
    named = _topic_named(topic)
    digest = _digest(value)
    return uuid.uuid5(_COPIES_EVENT_IDS, f"{named}\n{digest}")


def record_event_id(topic: str, partition: int, offset: int, value: bytes | None) -> uuid.UUID:
    """The eventId made from a dead letter's record as Kafka held it (its position and its
    bytes): the one of a letter without an eventId of its own. (A release before 2026-12-05
    redrove a letter under a new eventId with this one too: `ops redrive` still looks for it.)"""
    named = _topic_named(topic)
    digest = _digest(value)
    return uuid.uuid5(_DEAD_LETTER_EVENT_IDS, f"{named}\n{partition}\n{offset}\n{digest}")


# The namespace of the new eventIds of dead letters whose own a producer reused. Never to change.
_REISSUED_EVENT_IDS = uuid.UUID("5092ea59-6629-418e-98b8-f025259986b6")


def reissued_event_id(event_id: uuid.UUID, value: bytes | None) -> uuid.UUID:
    """The new eventId `ops redrive --new-event-id` publishes a dead letter under when its own
    (`event_id`) is stored for another rating: made from what every copy of the letter's record
    shares, its own eventId and its bytes, never its position. Two letters of one record (a
    producer's retry, set aside twice) get the same one, and count once together; two records
    that share an eventId and differ get two."""
    digest = _digest(value)
    return uuid.uuid5(_REISSUED_EVENT_IDS, f"{event_id}\n{digest}")


# --- The talk catalog ---------------------------------------------------------------------------


def _encodable(value: str) -> str:
    # A lone UTF-16 surrogate survives JSON decoding but cannot be stored as UTF-8.
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text") from None
    return value


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("must carry a time zone (RFC 3339)")
    return in_utc_years(value)  # PostgreSQL takes offsets up to 15:59 only


def _trimmed(value: Any) -> Any:
    # Spaces pasted around a title or a name are not part of it (and "   " is no title).
    return value.strip() if isinstance(value, str) else value


def _visible(value: str) -> str:
    # A title of a zero-width space, or of controls and direction marks, would show as nothing
    # on every page and screen: a talk's text holds at least one letter, digit or sign.
    if not any(not unicodedata.category(char).startswith(("Z", "C")) for char in value):
        raise ValueError("must hold at least one visible character")
    return value


def _no_direction_control(value: Any) -> Any:
    # Checked before the field's pattern (which refuses them too, for the document's sake), to
    # say which character is in the way and where: it is invisible where it is pasted.
    if isinstance(value, str) and (found := DIRECTION_CONTROL.search(value)):
        char = found.group()
        raise ValueError(
            f"must not hold U+{ord(char):04X} {DIRECTION_CONTROLS[char]} (character "
            f"{found.start() + 1}), an invisible control that can reorder the text around it "
            "where it is shown"
        )
    return value


def _dropped(value: Any) -> Any:
    # U+FEFF has no use inside a text (talkrate.talk_text.DROPPED): dropped, not refused, so a
    # talk saved with one before is taken back as it is read, and cleaned.
    return without_dropped(value) if isinstance(value, str) else value


Text = Annotated[str, AfterValidator(_encodable)]
# A talk's text as an organiser types it: without U+FEFF, then trimmed (the last
# before-validator runs first), then checked.
Trimmed = Annotated[
    Text,
    BeforeValidator(_no_direction_control),
    BeforeValidator(_trimmed),
    BeforeValidator(_dropped),
    AfterValidator(_visible),
]
Speaker = Annotated[Trimmed, Field(min_length=1, max_length=120, pattern=TALK_TEXT)]
Instant = Annotated[datetime, BeforeValidator(_text_only), AfterValidator(_utc)]


Language = Annotated[str, BeforeValidator(_trimmed), AfterValidator(language_tag)]


# What the document says of each text of a talk an organiser sends.
TEXT_RULE = (
    "U+FEFF (a zero-width no-break space) dropped wherever it is, then trimmed of spaces; at "
    "least one visible character; no control character, no line or paragraph separator "
    "(U+2028, U+2029), and none of Unicode's direction "
    "embeddings, overrides or isolates (U+202A..U+202E, U+2066..U+2069): 422 naming the field. "
    "The direction marks (U+200E, U+200F, U+061C), the joiners (U+200C, U+200D) and tag "
    "characters are taken."
)


class TalkFields(BaseModel):
    """What an organiser says about a talk (PUT /talks/{talkId} takes exactly this)."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    title: Trimmed = Field(
        min_length=1, max_length=300, pattern=TALK_TEXT, description=f"The title: {TEXT_RULE}"
    )
    speakers: list[Speaker] = Field(
        default_factory=list, max_length=20, description=f"Each name: {TEXT_RULE}"
    )
    track: Trimmed | None = Field(
        None, min_length=1, max_length=100, pattern=TALK_TEXT, description=f"The track: {TEXT_RULE}"
    )
    room: Trimmed | None = Field(
        None, min_length=1, max_length=100, pattern=TALK_TEXT, description=f"The room: {TEXT_RULE}"
    )
    starts_at: Instant | None = Field(None, alias="startsAt")
    ends_at: Instant | None = Field(None, alias="endsAt")
    language: Language | None = Field(
        None,
        max_length=LANGUAGE_TAG_MAX_LENGTH,
        description="The language of the title and the speakers' names, when an organiser "
        f"gave it: {LANGUAGE_RULE}; trimmed, and answered in the registry's case (en-gb is "
        "en-GB). The pages mark the title and the speakers with it (HTML's lang), so that "
        "a screen reader reads them in that language. Left out, or null: none given (the "
        "pages' own language applies).",
        examples=list(LANGUAGE_EXAMPLES),
    )

    ratings_paused: StrictBool | None = Field(
        None,
        alias="ratingsPaused",
        description="true: the talk takes no rating until the organisers resume it (false), "
        "whatever its times say; POST /ratings is refused 409 ratings-paused, nothing counted. "
        "Ratings accepted before the pause count, once. Resumed, it takes ratings again within "
        "its times. Left out, or null: as the talk has it (not paused for a talk added), so a "
        "client that does not know the field never resumes a paused talk.",
    )

    @field_validator("ends_at")
    @classmethod
    def _ends_after_start(cls, ends_at: datetime | None, info: ValidationInfo) -> datetime | None:
        # A field's validator (not the model's), so the refusal names endsAt, as the pages and
        # the command line say it: "Ends: must be after the start".
        starts_at = info.data.get("starts_at")
        if starts_at and ends_at and ends_at <= starts_at:
            raise ValueError("must be after the start")
        return ends_at

    def talk(self, talk_id: str) -> Talk:
        """The catalog's talk of these fields under `talk_id`."""
        return Talk(
            id=talk_id,
            title=self.title,
            speakers=list(self.speakers),
            track=self.track,
            room=self.room,
            starts_at=self.starts_at,
            ends_at=self.ends_at,
            language=self.language,
            ratings_paused=self.ratings_paused,
        )


class NewTalk(TalkFields):
    """Body of POST /talks: the fields and the talk's id."""

    id: TalkId

    def talk(self, talk_id: str) -> Talk:
        """The catalog's talk of these fields under `talk_id`: not paused unless it says so."""
        return super().talk(talk_id)._replace(ratings_paused=bool(self.ratings_paused))

    def request(self) -> dict[str, Any]:
        """The body as its Idempotency-Key compares it: without `ratingsPaused` when it was not
        given, as before the field (a key kept across a deploy still matches its retry)."""
        left_out = {"ratings_paused"} if self.ratings_paused is None else None
        return self.model_dump(mode="json", exclude=left_out)
