"""RatingSubmitted on the wire, without pydantic: the event as the API builds and writes it and
as the projector reads it.

talkrate.models.RatingSubmitted stays the one definition of the event: it judges every record
that is not in the written form, and its to_json is the form. This module writes exactly that
form (Rating.to_json, for ratings the API accepted: ids it checked against their patterns) and
talkrate.projection reads exactly it back (the field names and types, a talk and voter id their
patterns accept, occurredAt to the millisecond in UTC), answering None for anything else, which
it then hands to the model (the reader's expression lives there: the API, which never reads an
event, does not compile it at its cold start). So an event reads and writes the same either
way: tests/unit/test_events.py holds the two against each other on generated events. It exists for speed: a batch of the
projector parses in about half the model's time, and neither the API's nor the projector's cold
start loads a validation library.
"""

from __future__ import annotations

import os
import re
import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

# The Kafka header of a RatingSubmitted record that names the HTTP request which accepted it (API
# Gateway's request id), so one id follows a rating from the access log to the projector's logs.
CORRELATION_HEADER = "correlation-id"
MAX_TALK_ID_LENGTH = 200
MAX_VOTER_ID_LENGTH = 100
# Talk ids are opaque (the workshop used slugs), but printable and bounded.
TALK_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:~-]*$"
# An attendee's pseudonym (the voter token's random id; another producer's should be as
# random: never a badge number or an e-mail, which the event store keeps): bounded, printable.
VOTER_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@~+-]*$"


# The ranges an id's classes are written with, as words: plural, singular, and singular where the
# plural was not said before it (each class's other characters are listed as they are). Python's
# and JavaScript's `A-Za-z` are ASCII's letters only: an accented one ("café") is not among them,
# and the words say so.
_RANGE_WORDS = (
    ("A-Za-z", "letters a-z and A-Z (no accents)", "letter", "letter a-z or A-Z (no accents)"),
    ("0-9", "digits", "digit", "digit"),
)


def id_rule(pattern: str, max_length: int) -> str:
    """What an id of `pattern` (of the form `^[<first>][<others>]*$`) may hold, in words: for
    talk ids "letters a-z and A-Z (no accents), digits and ._:~- only, at most 200 characters,
    starting with a letter or digit", as the API's refusals, `talkrate` and the organisers' page
    say it."""
    classes = pattern.removeprefix("^[").removesuffix("]*$")
    head, between, tail = classes.partition("][")
    if len(classes) != len(pattern) - 5 or not (head and between and tail) or "]" in head + tail:
        raise ValueError(f"pattern {pattern!r} is not of an id's form")
    others = _class_words(tail)
    many = _listed([plural for plural, _, _ in others], "and")
    said = {plural for plural, _, _ in others}
    one = _listed(
        [single if plural in said else alone for plural, single, alone in _class_words(head)],
        "or",
    )
    characters = "character" if max_length == 1 else "characters"
    return f"{many} only, at most {max_length} {characters}, starting with a {one}"


def _listed(words: list[str], conjunction: str) -> str:
    return ", ".join(words[:-1]) + f" {conjunction} {words[-1]}" if len(words) > 1 else words[0]


def _class_words(members: str) -> list[tuple[str, str, str]]:
    """A character class's members as words (plural, singular, singular said alone): its
    ranges named, its other characters as they are (a "-" only last, where it is itself)."""
    words: list[tuple[str, str, str]] = []
    for written, plural, single, alone in _RANGE_WORDS:
        if written in members:
            members = members.replace(written, "", 1)
            words.append((plural, single, alone))
    if "\\" in members or "-" in members[:-1]:
        raise ValueError(f"an id's class with ranges or escapes not named in words: {members!r}")
    if members:
        words.append((members, members, members))
    return words


# What a talk id may hold, said next to its pattern: the API's refusals say it.
TALK_ID_RULE = id_rule(TALK_ID_PATTERN, MAX_TALK_ID_LENGTH)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# The years a rating's occurredAt and a talk's times can be in (UTC): a voter's ratings are
# ordered by milliseconds since the epoch, and a window's end plus its grace must stay a date.
FIRST_YEAR, LAST_YEAR = 1970, 9000


def _to_millisecond(at: datetime) -> datetime:
    """The moment cut to the millisecond, the precision of occurredAt on the wire."""
    return at.replace(microsecond=at.microsecond // 1000 * 1000)


def bounded(pattern: str, length: int) -> str:
    """An id pattern ("^<first><rest>*$") as a part of a larger one, at most `length` long."""
    return pattern.removeprefix("^").removesuffix("*$") + f"{{0,{length - 1}}}"


_TALK_ID = re.compile(bounded(TALK_ID_PATTERN, MAX_TALK_ID_LENGTH))
_VOTER_ID = re.compile(bounded(VOTER_ID_PATTERN, MAX_VOTER_ID_LENGTH))


def unix_ms(at: datetime) -> int:
    """Milliseconds since the Unix epoch of a time-zone-aware moment."""
    return (at - _EPOCH) // timedelta(milliseconds=1)


def from_unix_ms(ms: int) -> datetime:
    """The moment (UTC) `ms` milliseconds after the Unix epoch."""
    return _EPOCH + timedelta(milliseconds=ms)


def occurred_at_text(at: datetime) -> str:
    """A moment as an event's occurredAt is written: UTC, to the millisecond, with a Z."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


# The last id this process made: its millisecond and its 74 bits below the time.
_last_id = [0, 0]
_last_id_lock = threading.Lock()
_RANDOM_BITS = 74


def uuid7(at: datetime) -> uuid.UUID:
    """A version 7 UUID (RFC 9562): Unix milliseconds of `at`, then 74 bits below the time.

    Event ids made later sort later, so the event store's primary key grows at its end instead of
    at random pages: stored events cost about half as much to insert as with version 4 ids. Within
    one millisecond too, in one process (RFC 9562's monotonic random, method 2): the bits of the
    millisecond's first id are random, with the top one clear, and each next id in that
    millisecond adds a random step of up to 2^32 to them. A voter's two ratings of the same
    millisecond are ordered by their event ids, so the later one is the one that stands.
    """
    ms = unix_ms(at)
    with _last_id_lock:
        if ms == _last_id[0]:
            bits = _last_id[1] + 1 + int.from_bytes(os.urandom(4))
        else:
            bits = int.from_bytes(os.urandom(10)) >> (80 - _RANDOM_BITS + 1)
        if bits >> _RANDOM_BITS:  # 2^41 ids in one millisecond: unreachable, but never wrap
            bits &= (1 << _RANDOM_BITS) - 1
        _last_id[0], _last_id[1] = ms, bits
    # The 74 bits around the version (4 bits at 76) and the variant (2 bits at 62).
    laid = (bits >> 62) << 64 | (bits & ((1 << 62) - 1))
    return uuid.UUID(int=ms << 80 | laid | 0x7 << 76 | 0x2 << 62)


# The namespace of the eventIds made from a rating's Idempotency-Key. Never to change: a retry
# answered by another release must be published under the first run's eventId.
_KEYED_EVENT_IDS = uuid.UUID("efd080c8-bb86-42a0-a4d6-4cc02684ce93")


def keyed_event_id(scope: str, key: str, talk_id: str, value: int) -> str:
    """The eventId of a rating sent under an Idempotency-Key: made from whose key it is
    (`scope`), the key and the rating, so every run of that request publishes the same event
    and the event store counts it once, even when Redis no longer holds the key's record (a
    flush, a restart, its expiry). A version 5 UUID, not a version 7: it cannot carry the
    first run's time, which a retry after the record is gone does not know, so keyed events
    are stored at random places of the event store's key rather than at its end, and a
    voter's two keyed ratings of one millisecond are ordered by chance."""
    name = "\n".join((scope, key, talk_id, str(value)))
    return str(uuid.uuid5(_KEYED_EVENT_IDS, name))


class Rating(NamedTuple):
    """A RatingSubmitted event as the API builds it and the projector and the event store read
    it (a named tuple: a batch makes thousands, and a frozen dataclass takes twice as long)."""

    event_id: str  # the UUID in its canonical text
    talk_id: str
    value: int
    occurred_at: datetime  # in UTC
    voter_id: str | None = None

    @classmethod
    def of(cls, event: Any) -> Rating:
        """The view of a parsed talkrate.models.RatingSubmitted."""
        # Milliseconds, as on the wire: a voter's ratings are ordered by them everywhere (the
        # read model's votes, the event store), so both must see the same moment.
        at = _to_millisecond(event.occurred_at)
        return cls(str(event.event_id), event.talk_id, event.value, at, event.voter_id)

    @classmethod
    def new(
        cls,
        talk_id: str,
        value: int,
        voter_id: str | None = None,
        now: datetime | None = None,
        event_id: str | None = None,
    ) -> Rating:
        """A fresh event for a rating accepted `now` (the current time by default), its ids
        already checked against their patterns; `event_id` (a UUID, canonical) is a retry's:
        the id its first attempt chose."""
        if not (
            _TALK_ID.fullmatch(talk_id) and (voter_id is None or _VOTER_ID.fullmatch(voter_id))
        ):
            raise ValueError("a talk or voter id outside its pattern cannot be written")
        now = (now or datetime.now(UTC)).astimezone(UTC)
        # Milliseconds, as on the wire, so an event equals itself after a round trip.
        at = _to_millisecond(now)
        return cls(event_id or str(uuid7(at)), talk_id, value, at, voter_id)

    @property
    def occurred_ms(self) -> int:
        """occurredAt in milliseconds since the epoch: the order of one voter's ratings."""
        return unix_ms(self.occurred_at)

    @property
    def key(self) -> bytes:
        """The Kafka record key: the talk id, so a talk's ratings stay in one partition."""
        return self.talk_id.encode()

    def to_json(self) -> bytes:
        """The written form, byte for byte what RatingSubmitted.to_json writes of this event."""
        voter = "" if self.voter_id is None else f',"voterId":"{self.voter_id}"'
        return (
            f'{{"eventId":"{self.event_id}","type":"RatingSubmitted","schemaVersion":1,'
            f'"talkId":"{self.talk_id}","value":{self.value},'
            f'"occurredAt":"{occurred_at_text(self.occurred_at)}"{voter}}}'
        ).encode()


class WrittenRecord(NamedTuple):
    """An event as a version of the API wrote it (an outbox entry), published byte for byte:
    a relay of another version (a canary, a rollback) neither drops a field it does not know
    nor stops at a version it cannot read; the projector judges the record as it judges any."""

    key: bytes
    value: bytes

    def to_json(self) -> bytes:
        """The record's value, as it was written."""
        return self.value
