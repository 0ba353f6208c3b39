"""RatingSubmitted on the wire, without pydantic: the projector's view of an event, and the
parser of the form every producer of talkrate writes.

talkrate.models.RatingSubmitted stays the one definition of the event: it builds every event and
judges every record. This module only takes the exact shape RatingSubmitted.to_json writes (the
field names and types it writes, a talk and voter id its patterns accept, occurredAt to the
millisecond in UTC) and answers None for anything else, which the caller then hands to the model.
So a record reads the same either way: tests/unit/test_events.py holds the two against each
other on generated records. It exists for speed: one batch of the projector parses in about a
third of the model's time, and the projector's cold start loads no validation library.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

# The Kafka header of a RatingSubmitted record that names the HTTP request which accepted it (API
# Gateway's request id), so one id follows a rating from the access log to the projector's logs.
CORRELATION_HEADER = "correlation-id"
EVENT_TYPE = "RatingSubmitted"
SCHEMA_VERSION = 1
MAX_TALK_ID_LENGTH = 200
MAX_VOTER_ID_LENGTH = 100
# Talk ids are opaque (the workshop used slugs), but printable and bounded.
TALK_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:~-]*$"
# An attendee's opaque id (a badge number, a hashed e-mail): bounded and printable.
VOTER_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@~+-]*$"

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Matched whole (fullmatch): Python's `$` would also match before a final newline.
_TALK_ID = re.compile(TALK_ID_PATTERN.removeprefix("^").removesuffix("$"))
_VOTER_ID = re.compile(VOTER_ID_PATTERN.removeprefix("^").removesuffix("$"))
_EVENT_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_OCCURRED_AT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z")
_FIELDS = frozenset(("eventId", "type", "schemaVersion", "talkId", "value", "occurredAt"))
_FIELDS_WITH_VOTER = _FIELDS | {"voterId"}


def unix_ms(at: datetime) -> int:
    """Milliseconds since the Unix epoch of a time-zone-aware moment."""
    return (at - _EPOCH) // timedelta(milliseconds=1)


@dataclass(frozen=True, slots=True)
class Rating:
    """A RatingSubmitted event as the projector and the event store read it."""

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


def parse_written(raws: list[bytes]) -> list[Rating | None] | None:
    """The events among record values, each parsed when it has the written form, else None in
    its place; None for the whole list when the values do not read as one JSON document each."""
    try:
        # One decode of the values joined into an array: a value that is not one whole JSON
        # document changes the count (or fails), and then none is taken here.
        documents = json.loads("[" + b",".join(raws).decode("utf-8") + "]")
    except (ValueError, RecursionError):
        return None
    if not isinstance(documents, list) or len(documents) != len(raws):
        return None
    return [_written(document) for document in documents]


def _written(document: Any) -> Rating | None:
    if not isinstance(document, dict):
        return None
    keys = document.keys()
    if keys != _FIELDS and keys != _FIELDS_WITH_VOTER:
        return None
    event_id, talk_id, value = document["eventId"], document["talkId"], document["value"]
    occurred_at, voter_id = document["occurredAt"], document.get("voterId")
    if (
        document["type"] != EVENT_TYPE
        or type(document["schemaVersion"]) is not int
        or document["schemaVersion"] != SCHEMA_VERSION
        or type(value) is not int
        or not 1 <= value <= 5
        or type(event_id) is not str
        or not _EVENT_ID.fullmatch(event_id)
        or type(talk_id) is not str
        or len(talk_id) > MAX_TALK_ID_LENGTH
        or not _TALK_ID.fullmatch(talk_id)
        or type(occurred_at) is not str
        or not _OCCURRED_AT.fullmatch(occurred_at)
    ):
        return None
    if voter_id is not None and (
        type(voter_id) is not str
        or len(voter_id) > MAX_VOTER_ID_LENGTH
        or not _VOTER_ID.fullmatch(voter_id)
    ):
        return None
    try:
        at = datetime.fromisoformat(occurred_at)
    except ValueError:
        return None
    return Rating(event_id, talk_id, value, at, voter_id)
