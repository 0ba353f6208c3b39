"""Folding a delivered Kafka batch into the read model, exactly once in effect."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from talkrate.events import (
    CORRELATION_HEADER,
    FIRST_YEAR,
    LAST_YEAR,
    MAX_TALK_ID_LENGTH,
    MAX_VOTER_ID_LENGTH,
    TALK_ID_PATTERN,
    VOTER_ID_PATTERN,
    Rating,
    bounded,
    occurred_at_text,
)
from talkrate.ports import EventStore, RatingsReadModel
from talkrate.projected import DeadLetter, ProjectedRating, ProjectionBatch, ProjectionResult

MAX_REASON_LENGTH = 500
# A batch's log line names at most this many correlation ids (a log event holds 256 KB).
MAX_LOGGED_CORRELATION_IDS = 500
# How far ahead of the projector's clock an event's occurredAt may be. An event cannot have
# occurred after it is projected, but two clocks are never quite together: the API's Lambda
# stamps occurredAt with its host's clock, another producer with its own. Lambda's hosts keep
# within a millisecond or so of each other (Amazon Time Sync); a machine's clock left without
# synchronisation drifts by seconds a day, so five minutes takes months of it. It also bounds
# how long a rating stamped ahead on purpose can outrank its voter's later real ones.
FUTURE_MARGIN = timedelta(minutes=5)


# The bytes RatingSubmitted.to_json writes: its fields in its order, no spaces; ids within their
# patterns and lengths (their characters need no escape in JSON); occurredAt to the millisecond
# in UTC. Groups: eventId, talkId, value, occurredAt, voterId (when there is one).
_WRITTEN = re.compile(
    (
        r'\{"eventId":"([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})",'
        r'"type":"RatingSubmitted","schemaVersion":1,'
        f'"talkId":"({bounded(TALK_ID_PATTERN, MAX_TALK_ID_LENGTH)})",'
        r'"value":([1-5]),'
        r'"occurredAt":"([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z)"'
        f'(?:,"voterId":"({bounded(VOTER_ID_PATTERN, MAX_VOTER_ID_LENGTH)})")?'
        r"\}"
    ).encode()
)


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
    if not FIRST_YEAR <= at.year <= LAST_YEAR:
        return None  # the model judges it (and refuses it)
    return Rating(
        event_id.decode(), talk_id.decode(), int(value), at, voter_id.decode() if voter_id else None
    )


class StreamRecord(NamedTuple):
    """One Kafka record as delivered to the projector, already base64-decoded."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    # The broker's record time (the producer's create time: the API publishes just before its
    # 202) and the request id the API put in the record's headers.
    timestamp_ms: int | None = None
    correlation_id: str | None = None


def classify(records: Iterable[StreamRecord], now: datetime | None = None) -> ProjectionBatch:
    """Parse each record as a RatingSubmitted event; what does not parse becomes a dead letter.

    A record in the form talkrate writes is read by parse_written (the usual batch, all of it);
    any other record is judged by the event model itself, so each record that fails is set aside
    with its own reason. So is an event whose occurredAt is later than `now` (the projector's
    clock, read once for the batch) and FUTURE_MARGIN: a voter's newest rating counts, and one
    stamped in the future would stand over every rating they send until then.
    """
    records = _once_each(list(records))
    batch = ProjectionBatch()
    # One bound for the batch, from the projector's own clock (now: a test's): see FUTURE_MARGIN.
    now = datetime.now(UTC) if now is None else now
    latest = now + FUTURE_MARGIN
    for record, event in zip(records, parse_written([r.value for r in records]), strict=True):
        if event is None:
            event, reason = _judged(record.value)
        if event is None or event.occurred_at > latest:
            batch.dead_letters.append(
                DeadLetter(
                    topic=record.topic,
                    partition=record.partition,
                    offset=record.offset,
                    reason=reason if event is None else _from_the_future(event, now),
                    key=record.key,
                    value=record.value,
                )
            )
            continue
        batch.ratings.append(ProjectedRating(record.topic, record.partition, record.offset, event))
    return batch


def set_aside_now(value: bytes | None, now: datetime | None = None) -> str | None:
    """Why the projector would set a record of this value aside if it came now (or at `now`:
    when a dead letter was set aside), its dead letter's reason, or None when it would count it:
    `ops redrive` asks before it publishes."""
    letters = classify([StreamRecord("", 0, 0, None, value)], now).dead_letters
    return letters[0].reason if letters else None


_FUTURE_REASON = "occurredAt: "  # how _from_the_future's reasons begin


def _from_the_future(event: Rating, now: datetime) -> str:
    """Why an event stamped after the projector's clock and its margin is set aside."""
    return (
        f"{_FUTURE_REASON}{occurred_at_text(event.occurred_at)} is later than the projector's clock "
        f"({occurred_at_text(now)}) and {_MARGIN_WORDS} for clocks apart: an event cannot have occurred "
        "after it is projected (its producer's clock is ahead, or the time is forged)"
    )


_MARGIN_WORDS = f"{FUTURE_MARGIN // timedelta(minutes=1)} minutes"


def _once_each(records: list[StreamRecord]) -> list[StreamRecord]:
    """The records, a position delivered twice in one batch kept once (the same record)."""
    first: dict[tuple[str, int, int], StreamRecord] = {}
    for record in records:
        first.setdefault((record.topic, record.partition, record.offset), record)
    return records if len(first) == len(records) else list(first.values())


def _judged(value: bytes | None) -> tuple[Rating | None, str]:
    """The event model's reading of a record value: the event, or why it is not one.

    Imported here, off the usual path: a batch in the written form never loads pydantic.
    """
    from pydantic import ValidationError

    from talkrate.models import RatingSubmitted, problems_of

    if not value:
        return None, "record has no value"
    try:
        return Rating.of(RatingSubmitted.from_json(value)), ""
    except ValidationError as error:
        return None, _storable("; ".join(problems_of(error)))
    except Exception as error:  # whatever a record makes the model raise, it blocks nothing
        return None, _storable(f"{type(error).__name__}: {error}")


def _storable(reason: str) -> str:
    """A reason PostgreSQL stores as text: bounded, NUL and unpaired surrogates (which an error
    message can quote from the record) escaped."""
    text = reason.encode("utf-8", "backslashreplace").decode("utf-8")
    return text.replace("\x00", "\\x00")[:MAX_REASON_LENGTH]


def project_batch(
    records: Iterable[StreamRecord], event_store: EventStore, read_model: RatingsReadModel
) -> ProjectionResult:
    """Apply one delivered batch: each event counted once, malformed records set aside.

    The event store first records the batch (idempotent, unique by eventId) and marks events
    that were first seen at another position; the read model then applies the batch in one atomic
    step that skips what it applied before. A crash between the two steps is healed by the
    redelivery the crash causes. The result names the talks of the batch's ratings, for the live
    channel: once the read model has taken the batch each of them counts, by this call or by an
    earlier try of the batch (one applied and then failed: a replica's late confirmation, a crash
    before the answer), whose announcement never went out.
    """
    records = list(records)
    batch = event_store.record(stored_by_an_earlier_try(records, classify(records), event_store))
    return read_model.apply(batch)._replace(talk_ids=touched_talks(batch))


def stored_by_an_earlier_try(
    records: list[StreamRecord], batch: ProjectionBatch, event_store: EventStore
) -> ProjectionBatch:
    """The batch, a record an earlier try of it stored as a rating kept as one: set aside now
    only because this try's clock reads earlier (its occurredAt within the margin then, past
    it now: another environment's clock, a step back), it would be counted nowhere live while
    the event store counts it. Only letters set aside for their time are read again, and the
    event store is asked where their events were stored in one read (a batch without such
    letters, the usual one, asks nothing)."""
    future = {}
    for letter in batch.dead_letters:
        if letter.reason.startswith(_FUTURE_REASON):
            event = parse_written([letter.value])[0] or _judged(letter.value)[0]
            if event is not None:
                future[(letter.topic, letter.partition, letter.offset)] = event
    if not future:
        return batch
    stored = event_store.projected_positions([str(e.event_id) for e in future.values()])
    back = {
        position: event
        for position, event in future.items()
        if stored.get(str(event.event_id)) == position
    }
    if not back:
        return batch
    kept = [d for d in batch.dead_letters if (d.topic, d.partition, d.offset) not in back]
    returned = [ProjectedRating(*position, event) for position, event in back.items()]
    order = {(r.topic, r.partition, r.offset): n for n, r in enumerate(records)}
    ratings = sorted(
        [*batch.ratings, *returned], key=lambda r: order[(r.topic, r.partition, r.offset)]
    )
    return ProjectionBatch(ratings=ratings, dead_letters=kept)


def touched_talks(batch: ProjectionBatch) -> tuple[str, ...]:
    """The talks of the batch's ratings, in order of first appearance: a rating applied before
    (a redelivery) included, as announcing a talk's unchanged state again is harmless; a
    duplicate left out, as it counts at its first position, whose batch announces it."""
    return tuple(dict.fromkeys(r.event.talk_id for r in batch.ratings if not r.duplicate))


def decode(data: str | None) -> bytes | None:
    """Decode a base64 key or value of the Lambda Kafka event; undecodable text is kept as is."""
    if data is None:
        return None
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        # Keep the raw text: the record becomes a dead letter that still shows what arrived.
        return data.encode("utf-8", "replace")


def records_from_event(event: Mapping[str, Any]) -> list[StreamRecord]:
    """The records of a Lambda Kafka event (SelfManagedKafka or aws:kafka: the same records)."""
    return [
        StreamRecord(
            record["topic"],
            int(record["partition"]),
            int(record["offset"]),
            decode(record.get("key")),
            decode(record.get("value")),
            _timestamp(record.get("timestamp")),
            _correlation_id(record.get("headers")),
        )
        for records in (event.get("records") or {}).values()
        for record in records
    ]


def _timestamp(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _correlation_id(headers: Any) -> str | None:
    """The correlation id among a record's headers: a list of {name: [byte, ...]} maps, the
    bytes signed as Lambda writes them (Java's -128..127)."""
    for header in headers if isinstance(headers, list) else ():
        value = header.get(CORRELATION_HEADER) if isinstance(header, dict) else None
        if isinstance(value, list):
            try:
                raw = bytes(b + 256 if isinstance(b, int) and -128 <= b < 0 else b for b in value)
                return raw.decode("utf-8", "replace")[:200] or None
            except (TypeError, ValueError):
                return None  # not a list of bytes: no id rather than a failed batch
    return None


def batch_delay_ms(records: Iterable[StreamRecord], now_ms: float) -> float | None:
    """How long the oldest record of a batch waited between its publication and now."""
    times = [record.timestamp_ms for record in records if record.timestamp_ms is not None]
    return max(0.0, now_ms - min(times)) if times else None


def correlation_ids(records: Iterable[StreamRecord]) -> list[str]:
    """The distinct correlation ids of a batch, in order, at most MAX_LOGGED_CORRELATION_IDS."""
    ids = dict.fromkeys(record.correlation_id for record in records if record.correlation_id)
    return list(ids)[:MAX_LOGGED_CORRELATION_IDS]
