"""RatingSubmitted on the wire, without pydantic: the projector's view of an event, and the
parser of the form every producer of talkrate writes.

talkrate.models.RatingSubmitted stays the one definition of the event: it builds every event and
judges every record. This module only takes the exact shape RatingSubmitted.to_json writes (the
field names and types it writes, a talk and voter id its patterns accept, occurredAt to the
millisecond in UTC) and answers None for anything else, which the caller then hands to the model.
So a record reads the same either way: tests/unit/test_events.py holds the two against each
other on generated records. It exists for speed: a batch of the projector parses in about half
the model's time, and the projector's cold start loads no validation library.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

# The Kafka header of a RatingSubmitted record that names the HTTP request which accepted it (API
# Gateway's request id), so one id follows a rating from the access log to the projector's logs.
CORRELATION_HEADER = "correlation-id"
MAX_TALK_ID_LENGTH = 200
MAX_VOTER_ID_LENGTH = 100
# Talk ids are opaque (the workshop used slugs), but printable and bounded.
TALK_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:~-]*$"
# An attendee's opaque id (a badge number, a hashed e-mail): bounded and printable.
VOTER_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@~+-]*$"

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _bounded(pattern: str, length: int) -> str:
    """An id pattern ("^<first><rest>*$") as a part of a larger one, at most `length` long."""
    return pattern.removeprefix("^").removesuffix("*$") + f"{{0,{length - 1}}}"


# The bytes RatingSubmitted.to_json writes: its fields in its order, no spaces; ids within their
# patterns and lengths (their characters need no escape in JSON); occurredAt to the millisecond
# in UTC. Groups: eventId, talkId, value, occurredAt, voterId (when there is one).
_WRITTEN = re.compile(
    (
        r'\{"eventId":"([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})",'
        r'"type":"RatingSubmitted","schemaVersion":1,'
        f'"talkId":"({_bounded(TALK_ID_PATTERN, MAX_TALK_ID_LENGTH)})",'
        r'"value":([1-5]),'
        r'"occurredAt":"([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z)"'
        f'(?:,"voterId":"({_bounded(VOTER_ID_PATTERN, MAX_VOTER_ID_LENGTH)})")?'
        r"\}"
    ).encode()
)


def unix_ms(at: datetime) -> int:
    """Milliseconds since the Unix epoch of a time-zone-aware moment."""
    return (at - _EPOCH) // timedelta(milliseconds=1)


class Rating(NamedTuple):
    """A RatingSubmitted event as the projector and the event store read it (a named tuple:
    a batch makes thousands, and a frozen dataclass takes twice as long to make)."""

    event_id: str  # the UUID in its canonical text
    talk_id: str
    value: int
    occurred_at: datetime  # in UTC
    voter_id: str | None = None

    @classmethod
    def of(cls, event: Any) -> Rating:
        """The view of a parsed talkrate.models.RatingSubmitted."""
        return cls(
            str(event.event_id), event.talk_id, event.value, event.occurred_at, event.voter_id
        )

    @property
    def occurred_ms(self) -> int:
        """occurredAt in milliseconds since the epoch: the order of one voter's ratings."""
        return unix_ms(self.occurred_at)


def parse_written(raws: list[bytes | None]) -> list[Rating | None]:
    """The events among record values, each read when it is in the written form, else None in
    its place (for the event model to judge)."""
    return [_written(raw) if raw else None for raw in raws]


def _written(raw: bytes) -> Rating | None:
    match = _WRITTEN.fullmatch(raw)
    if match is None:
        return None
    event_id, talk_id, value, occurred_at, voter_id = match.groups()
    try:
        at = datetime.fromisoformat(occurred_at.decode())  # a date that does not exist fails
    except ValueError:
        return None
    return Rating(
        event_id.decode(), talk_id.decode(), int(value), at, voter_id.decode() if voter_id else None
    )
