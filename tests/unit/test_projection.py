"""Turning a delivered Kafka batch into what counts and what is set aside."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest

from talkrate.events import Rating
from talkrate.projection import (
    FUTURE_MARGIN,
    MAX_LOGGED_CORRELATION_IDS,
    StreamRecord,
    batch_delay_ms,
    classify,
    correlation_ids,
    decode,
    records_from_event,
)
from tests.builders import kafka_event, kafka_record, rating_event, sample_event

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("source", ["projector/self-managed-kafka.json", "projector/msk.json"])
def test_both_lambda_kafka_shapes_carry_parseable_sample_events(source: str) -> None:
    records = records_from_event(sample_event(source))
    batch = classify(records)
    assert batch.dead_letters == []
    assert len(batch.ratings) == len(records) > 0
    assert all(1 <= r.event.value <= 5 for r in batch.ratings)
    assert all(r.offset >= 0 for r in batch.ratings)


def test_valid_and_malformed_records_are_told_apart_with_reasons() -> None:
    good = rating_event("t-1", 5)
    bad_value = json.loads(good.to_json()) | {"value": 7}
    records = [
        StreamRecord("ratings", 0, 10, good.key, good.to_json()),
        StreamRecord("ratings", 0, 11, None, b"{not json"),
        StreamRecord("ratings", 0, 12, None, json.dumps(bad_value).encode()),
        StreamRecord("ratings", 1, 3, None, None),
    ]
    batch = classify(records)
    assert [(r.position, r.offset) for r in batch.ratings] == [("ratings-0", 10)]
    assert [(d.position, d.offset) for d in batch.dead_letters] == [
        ("ratings-0", 11),
        ("ratings-0", 12),
        ("ratings-1", 3),
    ]
    assert "value" in batch.dead_letters[1].reason
    assert batch.dead_letters[2].reason == "record has no value"


def test_undecodable_base64_is_kept_as_text_for_the_dead_letter() -> None:
    assert decode("%%%not-base64") == b"%%%not-base64"
    assert decode(base64.b64encode(b"ok").decode()) == b"ok"
    assert decode(None) is None


def test_the_builder_groups_records_by_topic_partition() -> None:
    event = kafka_event([kafka_record("ratings", 2, 5, b"x"), kafka_record("ratings", 0, 1, b"y")])
    assert sorted(event["records"]) == ["ratings-0", "ratings-2"]
    assert event["eventSource"] == "SelfManagedKafka"


def test_a_value_holding_two_events_is_one_dead_letter_not_two_ratings() -> None:
    # Given a batch parsed in one validation of the joined values, where one value holds two
    # events side by side (not a JSON document) and another value is empty
    a, b, c = (rating_event("talk-a", v).to_json() for v in (1, 2, 3))
    batch = classify(
        [
            StreamRecord("ratings", 0, 0, b"k", a + b"," + b),
            StreamRecord("ratings", 0, 1, b"k", c),
            StreamRecord("ratings", 0, 2, b"k", b" "),
        ]
    )
    # Then each record is judged on its own: one rating, two dead letters
    assert [r.offset for r in batch.ratings] == [1]
    assert [d.offset for d in batch.dead_letters] == [0, 2]


def test_a_batch_of_events_is_parsed_whole_with_each_record_at_its_position() -> None:
    events = [rating_event(f"talk-{i}", i % 5 + 1) for i in range(50)]
    records = [
        StreamRecord("ratings", i % 3, 100 + i, b"k", e.to_json()) for i, e in enumerate(events)
    ]
    batch = classify(records)
    assert batch.dead_letters == []
    assert [(r.partition, r.offset, r.event) for r in batch.ratings] == [
        (i % 3, 100 + i, Rating.of(e)) for i, e in enumerate(events)
    ]


def test_a_valid_event_in_another_form_than_talkrate_writes_counts_like_the_others() -> None:
    # Given a batch where one producer wrote an event its own way (an offset instead of Z, an
    # extra field, no type or schemaVersion: all valid for the event model)
    written = rating_event("talk-a", 4)
    other = {
        "eventId": "5A1C2C8E-7E55-4F0B-9A49-1D6A0D1B2C3D",
        "talkId": "talk-b",
        "value": 2,
        "occurredAt": "2026-11-26T11:15:00+01:00",
        "source": "badge-scanner",
    }
    records = [
        StreamRecord("ratings", 0, 1, b"k", written.to_json()),
        StreamRecord("ratings", 0, 2, b"k", json.dumps(other).encode()),
    ]
    # When the batch is classified
    batch = classify(records)
    # Then both count, the second read by the event model
    assert batch.dead_letters == []
    assert batch.ratings[0].event == Rating.of(written)
    second = batch.ratings[1].event
    assert (second.event_id, second.talk_id, second.value) == (
        "5a1c2c8e-7e55-4f0b-9a49-1d6a0d1b2c3d",
        "talk-b",
        2,
    )
    assert second.occurred_at.isoformat() == "2026-11-26T10:15:00+00:00"


def test_the_correlation_id_and_the_record_time_are_read_from_the_lambda_record() -> None:
    # Given a record delivered with the API's header among others, and one without
    tagged = kafka_record("ratings", 0, 7, rating_event("t-1", 4).to_json())
    tagged["headers"] = [
        {"content-type": list(b"application/json")},
        {"correlation-id": list(b"Q1a=")},
    ]
    tagged["timestamp"] = 1_795_255_200_000
    plain = kafka_record("ratings", 0, 8, rating_event("t-1", 2).to_json())
    plain["headers"] = []
    odd = kafka_record("ratings", 0, 9, rating_event("t-1", 2).to_json())
    odd["headers"] = [{"correlation-id": "not bytes"}, "nonsense"]
    # When the event is read
    records = records_from_event(kafka_event([tagged, plain, odd]))
    # Then the tagged record carries its id and time, the others none (and nothing fails)
    assert [r.correlation_id for r in records] == ["Q1a=", None, None]
    assert records[0].timestamp_ms == 1_795_255_200_000


def test_a_batch_names_its_distinct_correlation_ids_up_to_a_bound() -> None:
    records = [
        StreamRecord("ratings", 0, i, None, None, correlation_id=f"r-{i // 2}") for i in range(2000)
    ]
    ids = correlation_ids(records)
    assert ids[:3] == ["r-0", "r-1", "r-2"]
    assert len(ids) == MAX_LOGGED_CORRELATION_IDS


def test_the_batch_delay_is_that_of_its_oldest_record() -> None:
    records = [
        StreamRecord("ratings", 0, 1, None, None, timestamp_ms=10_000),
        StreamRecord("ratings", 0, 2, None, None, timestamp_ms=9_000),
        StreamRecord("ratings", 0, 3, None, None),
    ]
    assert batch_delay_ms(records, now_ms=10_250) == 1_250
    assert batch_delay_ms(records[2:], now_ms=10_250) is None
    assert batch_delay_ms(records[:1], now_ms=9_990) == 0  # clocks a little apart: never negative


def test_an_event_that_occurs_after_the_projector_s_clock_and_its_margin_is_set_aside() -> None:
    # Given a projector whose clock reads NOW, and ratings of one voter stamped by clocks
    # before, a little ahead of, at the edge of and past NOW and its margin, one far ahead
    # (in the form talkrate writes), one far ahead in another producer's form
    now = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)

    def voter_rating(offset: int, occurred_at: datetime) -> StreamRecord:
        event = rating_event("talk-a", 3).model_copy(
            update={"occurred_at": occurred_at, "voter_id": "voter-1"}
        )
        return StreamRecord("ratings", 0, offset, event.key, event.to_json())

    other_form = {
        "eventId": "5a1c2c8e-7e55-4f0b-9a49-1d6a0d1b2c3d",
        "talkId": "talk-a",
        "value": 1,
        "occurredAt": "2099-01-01T01:00:00+01:00",
        "voterId": "voter-1",
    }
    records = [
        voter_rating(0, now - timedelta(minutes=1)),
        voter_rating(1, now + timedelta(seconds=2)),
        voter_rating(2, now + FUTURE_MARGIN),
        voter_rating(3, now + FUTURE_MARGIN + timedelta(milliseconds=1)),
        voter_rating(4, datetime(2099, 1, 1, tzinfo=UTC)),
        StreamRecord("ratings", 0, 5, b"talk-a", json.dumps(other_form).encode()),
    ]
    # When the batch is classified
    batch = classify(records, now=now)
    # Then what its clock and margin allow counts, and every later one is set aside with why
    assert [r.offset for r in batch.ratings] == [0, 1, 2]
    assert [d.offset for d in batch.dead_letters] == [3, 4, 5]
    reasons = [d.reason for d in batch.dead_letters]
    assert reasons[1] == (
        "occurredAt: 2099-01-01T00:00:00.000Z is later than the projector's clock "
        "(2026-12-06T10:00:00.000Z) and 5 minutes for clocks apart: an event cannot have "
        "occurred after it is projected (its producer's clock is ahead, or the time is forged)"
    )
    assert reasons[0].startswith("occurredAt: 2026-12-06T10:05:00.001Z is later than")
    assert reasons[2].startswith("occurredAt: 2099-01-01T00:00:00.000Z is later than")
    # And the record is kept as it arrived, to be redriven once repaired
    assert batch.dead_letters[1].value == records[4].value


def test_the_projector_s_own_clock_judges_an_event_s_time_not_the_record_s() -> None:
    # Given a record from the future whose producer set the record's time (CreateTime) to match
    event = rating_event("talk-a", 3).model_copy(
        update={"occurred_at": datetime(2099, 1, 1, tzinfo=UTC)}
    )
    ahead = int(datetime(2099, 1, 1, tzinfo=UTC).timestamp() * 1000)
    record = StreamRecord("ratings", 0, 0, event.key, event.to_json(), timestamp_ms=ahead)
    # When it is classified by the projector's clock as it reads now
    batch = classify([record])
    # Then it is set aside
    assert batch.ratings == []
    assert [d.offset for d in batch.dead_letters] == [0]
