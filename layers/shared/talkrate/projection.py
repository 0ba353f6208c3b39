"""Folding a delivered Kafka batch into the read model, exactly once in effect."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from dataclasses import dataclass

from pydantic import ValidationError

from talkrate.models import RatingSubmitted
from talkrate.ports import (
    DeadLetter,
    ProjectedRating,
    ProjectionBatch,
    ProjectionResult,
    RatingsReadModel,
)

MAX_REASON_LENGTH = 500


@dataclass(frozen=True)
class StreamRecord:
    """One Kafka record as delivered to the projector, already base64-decoded."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


def classify(records: Iterable[StreamRecord]) -> ProjectionBatch:
    """Parse each record with the one event model; what does not parse becomes a dead letter."""
    batch = ProjectionBatch()
    for record in records:
        try:
            if not record.value:
                raise ValueError("record has no value")
            event = RatingSubmitted.from_json(record.value)
        except (ValidationError, ValueError) as error:
            batch.dead_letters.append(
                DeadLetter(
                    topic=record.topic,
                    partition=record.partition,
                    offset=record.offset,
                    reason=_reason(error),
                    key=record.key,
                    value=record.value,
                )
            )
            continue
        batch.ratings.append(
            ProjectedRating(
                partition=f"{record.topic}-{record.partition}", offset=record.offset, event=event
            )
        )
    return batch


def project_batch(
    records: Iterable[StreamRecord], read_model: RatingsReadModel
) -> ProjectionResult:
    """Apply one delivered batch: valid events are counted once, malformed ones set aside."""
    return read_model.apply(classify(records))


def _reason(error: Exception) -> str:
    if isinstance(error, ValidationError):
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'value'}: {e['msg']}" for e in error.errors()
        )
        return problems[:MAX_REASON_LENGTH]
    return str(error)[:MAX_REASON_LENGTH]


def decode(data: str | None) -> bytes | None:
    """Decode a base64 key or value of the Lambda Kafka event; undecodable text is kept as is."""
    if data is None:
        return None
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        # Keep the raw text: the record becomes a dead letter that still shows what arrived.
        return data.encode("utf-8", "replace")
