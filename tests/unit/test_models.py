"""RatingRequest and RatingSubmitted: the one place validation lives."""

from __future__ import annotations

import itertools
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from talkrate.events import unix_ms
from talkrate.models import (
    Histogram,
    NewTalk,
    RatingRequest,
    RatingSubmitted,
    TalkFields,
    record_event_id,
    redrive_event_id,
    reissued_event_id,
    uuid7,
)

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("value", [1, 2, 3, 4, 5])
def test_every_rating_from_one_to_five_is_accepted(value: int) -> None:
    request = RatingRequest.model_validate_json(json.dumps({"talkId": "t-1", "value": value}))
    assert request.value == value
    assert request.talk_id == "t-1"


@pytest.mark.parametrize(
    "value", [0, 6, -1, 3.5, 5.0, "5", True, False, None, [5], {"v": 5}, 10**30]
)
def test_values_that_are_not_whole_numbers_from_one_to_five_are_rejected(value: object) -> None:
    with pytest.raises(ValidationError) as raised:
        RatingRequest.model_validate_json(json.dumps({"talkId": "t-1", "value": value}))
    assert [e["loc"] for e in raised.value.errors()] == [("value",)]


@pytest.mark.parametrize(
    "body",
    [
        '{"value": 3}',
        '{"talkId": "", "value": 3}',
        '{"talkId": 7, "value": 3}',
        '{"talkId": "a b", "value": 3}',
        '{"talkId": "' + "x" * 201 + '", "value": 3}',
    ],
)
def test_talk_ids_must_be_short_printable_strings(body: str) -> None:
    with pytest.raises(ValidationError) as raised:
        RatingRequest.model_validate_json(body)
    assert raised.value.errors()[0]["loc"] == ("talkId",)


def test_the_workshop_talk_ids_are_valid() -> None:
    for talk_id in ("testcontainers-integration-testing", "flight-of-the-gopher", "T:1.2~x"):
        assert RatingRequest.model_validate({"talkId": talk_id, "value": 3}).talk_id == talk_id


def test_an_event_round_trips_through_its_wire_format() -> None:
    # Given a fresh event
    event = RatingSubmitted.new("flight-of-the-gopher", 4)
    # When it is serialised and parsed back
    wire = json.loads(event.to_json())
    parsed = RatingSubmitted.from_json(event.to_json())
    # Then the wire format is the documented one and nothing is lost
    assert set(wire) == {"eventId", "type", "schemaVersion", "talkId", "value", "occurredAt"}
    assert wire["type"] == "RatingSubmitted"
    assert wire["schemaVersion"] == 1
    assert wire["occurredAt"].endswith("Z")
    assert uuid.UUID(wire["eventId"]).version == 7
    assert parsed == event
    assert event.key == b"flight-of-the-gopher"


def test_event_ids_are_version_7_and_sort_by_when_the_rating_was_made() -> None:
    earlier = RatingSubmitted.new("talk-1", 3)
    moments = [
        datetime(2026, 11, 21, 9, 0, tzinfo=UTC) + timedelta(milliseconds=ms) for ms in (0, 1, 1000)
    ]
    ids = [uuid7(moment) for moment in moments]
    assert (earlier.event_id.version, earlier.event_id.variant) == (7, uuid.RFC_4122)
    assert earlier.event_id.int >> 80 == earlier.occurred_ms  # its first 48 bits: the time
    assert ids == sorted(ids)
    assert uuid7(moments[0]) != uuid7(moments[0])  # random below the time
    assert all((i.version, i.variant) == (7, uuid.RFC_4122) for i in ids)


def test_event_ids_of_one_millisecond_sort_in_the_order_they_were_made() -> None:
    # Given a thousand ids made in one millisecond (a voter changing their mind at once, or
    # any burst in one container), then one a millisecond later
    moment = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
    ids = [uuid7(moment) for _ in range(1000)]
    later = uuid7(moment + timedelta(milliseconds=1))
    # Then each sorts after the one made before it, all carry the millisecond and stay version 7
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert later > ids[-1]
    assert {i.int >> 80 for i in ids} == {unix_ms(moment)}
    assert all((i.version, i.variant) == (7, uuid.RFC_4122) for i in [*ids, later])
    # And what follows the time is not a plain counter: the steps between ids are random
    assert len({b.int - a.int for a, b in itertools.pairwise(ids)}) > 900


def test_any_producer_s_event_with_an_offset_time_is_normalised_to_utc() -> None:
    raw = {
        "eventId": str(uuid.uuid4()),
        "type": "RatingSubmitted",
        "schemaVersion": 1,
        "talkId": "t",
        "value": 2,
        "occurredAt": "2026-11-21T12:00:00+02:00",
    }
    event = RatingSubmitted.from_json(json.dumps(raw))
    assert json.loads(event.to_json())["occurredAt"] == "2026-11-21T10:00:00.000Z"


@pytest.mark.parametrize(
    "change",
    [
        {"type": "RatingDeleted"},
        {"schemaVersion": 2},
        {"value": 9},
        {"value": "3"},
        {"eventId": "not-a-uuid"},
        {"occurredAt": "2026-11-21T10:00:00"},
        {"occurredAt": 1_795_255_200_000},  # Unix time, not RFC 3339 (pydantic took it)
        {"occurredAt": 1_795_255_200.5},
        {"occurredAt": "1795255200"},
        {"talkId": None},
    ],
)
def test_events_that_break_the_schema_do_not_parse(change: dict[str, object]) -> None:
    raw = {
        "eventId": str(uuid.uuid4()),
        "type": "RatingSubmitted",
        "schemaVersion": 1,
        "talkId": "t",
        "value": 2,
        "occurredAt": "2026-11-21T10:00:00Z",
        **change,
    }
    with pytest.raises(ValidationError):
        RatingSubmitted.from_json(json.dumps(raw))


def test_a_stored_partial_histogram_is_completed_with_zeros() -> None:
    histogram = Histogram.from_counts({"2": b"3", "5": "1"})
    assert histogram.counts == {"1": 0, "2": 3, "3": 0, "4": 0, "5": 1}
    assert histogram.total == 4


def test_a_dead_letter_is_redriven_under_its_own_event_id_or_one_its_record_fixes() -> None:
    # Given letters' stored values: one with an eventId of its own (in capitals, as a producer
    # may write one), the same without it, bytes that are no JSON, and none
    own = uuid.uuid4()
    rated = {"type": "RatingSubmitted", "talkId": "t-1", "value": 7}
    with_id = json.dumps({"eventId": str(own).upper(), **rated}).encode()
    without = json.dumps(rated).encode()
    # Then the letter's own eventId is its eventId, wherever it stood
    assert redrive_event_id("ratings", 0, 3, with_id) == own
    assert redrive_event_id("other", 2, 9, with_id) == own
    # And without one, the eventId is its record's: the same for the same record (its topic
    # retired after it was recreated too), another for another position or other bytes
    made = redrive_event_id("ratings", 0, 3, without)
    assert made == redrive_event_id("ratings", 0, 3, without)
    assert made == redrive_event_id(
        "ratings (retired 2026-12-05 10:00:00.000000 UTC)", 0, 3, without
    )
    others = {
        redrive_event_id("ratings-2", 0, 3, without),
        redrive_event_id("ratings", 1, 3, without),
        redrive_event_id("ratings", 0, 4, without),
        redrive_event_id("ratings", 0, 3, without.replace(b"7", b"8")),
        redrive_event_id("ratings", 0, 3, b"\xff not json"),
        redrive_event_id("ratings", 0, 3, b""),
        redrive_event_id("ratings", 0, 3, None),
        redrive_event_id("ratings", 0, 3, b'{"eventId": "not-a-uuid"}'),
    }
    assert made not in others
    assert len(others) == 8


# --- A talk's language --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("he", "he"),
        ("ar", "ar"),
        ("fa", "fa"),
        ("en-GB", "en-GB"),
        ("pt-BR", "pt-BR"),
        # Case is no part of a tag: kept in the registry's (language lower, Script, REGION)
        ("EN-gb", "en-GB"),
        ("zh-hant-tw", "zh-Hant-TW"),
        ("SR-LATN", "sr-Latn"),
        # An extended language, a numeric region, variants, an extension, private use
        ("zh-yue-HK", "zh-yue-HK"),
        ("es-419", "es-419"),
        ("de-CH-1996", "de-CH-1996"),
        ("ca-ES-valencia", "ca-ES-valencia"),
        ("en-US-u-ca-gregory", "en-US-u-ca-gregory"),
        # 35 characters, the most a talk's language has
        ("de-CH-1996-u-co-phonebk-x-abc-defgh", "de-CH-1996-u-co-phonebk-x-abc-defgh"),
        ("de-x-Phonebk", "de-x-phonebk"),
        ("x-klingon", "x-klingon"),
        # Grandfathered tags, irregular ones too
        ("i-klingon", "i-klingon"),
        ("en-gb-oed", "en-GB-oed"),
        # Spaces pasted around it, as around the other fields
        ("  he ", "he"),
    ],
)
def test_a_talk_takes_a_bcp_47_language_tag(sent: str, kept: str) -> None:
    # When an organiser gives a talk a well-formed tag
    fields = TalkFields.model_validate({"title": "T", "language": sent})
    # Then the talk holds it, in the registry's case
    assert fields.language == kept
    assert fields.talk("t").document()["language"] == kept


def test_a_talk_s_language_is_optional_and_none_when_not_given() -> None:
    fields = TalkFields.model_validate({"title": "T"})
    assert fields.language is None
    assert fields.talk("t").document()["language"] is None
    assert TalkFields.model_validate({"title": "T", "language": None}).language is None


@pytest.mark.parametrize(
    "sent",
    [
        "",
        "   ",
        "e",  # one letter
        "en_GB",  # an underscore (a POSIX locale), not a hyphen
        "en-",
        "-en",
        "en--GB",
        "en GB",
        "en-GB-",
        "en-a",  # an extension without its subtags
        "en-x",  # private use without its subtags
        "en-GB-toolongvariant",
        "123",
        # The name of a language, not its tag: no language subtag of 4 to 8 letters is
        # registered
        "Hebrew",
        "English",
        "Farsi",
        "עברית",
        "he\u200f",  # a direction mark pasted after it
        "h\ne",
        "\uff48\uff45",  # fullwidth letters
        "\u212aa",  # the Kelvin sign, which some case-insensitive matching takes for "k"
        "en-US-u-ca-gregory-nu-latn-hc-h23-x-a",  # 37 characters: longer than any programme needs
        "a" * 10_000,
        5,
        ["he"],
    ],
)
def test_a_language_that_is_no_bcp_47_tag_is_refused_naming_the_field(sent: object) -> None:
    with pytest.raises(ValidationError) as raised:
        TalkFields.model_validate({"title": "T", "language": sent})
    [error] = raised.value.errors()
    assert error["loc"] == ("language",)


def test_a_refused_language_says_what_a_tag_looks_like() -> None:
    with pytest.raises(ValidationError) as raised:
        NewTalk.model_validate({"id": "t", "title": "T", "language": "Hebrew"})
    message = raised.value.errors()[0]["msg"]
    assert "BCP 47" in message
    assert "he," in message
    assert "en-GB" in message


def test_copies_of_one_record_get_one_new_event_id_and_other_records_another() -> None:
    # Given a record under an eventId its producer reused, and the bytes of another record
    # under the same eventId
    own = uuid.uuid4()
    record = json.dumps({"eventId": str(own), "talkId": "t-1", "value": 7}).encode()
    other = json.dumps({"eventId": str(own), "talkId": "t-1", "value": 8}).encode()
    # Then the new eventId is made of what its copies share (no position to tell two copies,
    # set aside at two offsets, apart), the same at every call
    made = reissued_event_id(own, record)
    assert made == reissued_event_id(own, record)
    # And another record, or the same bytes under another eventId, gets another; none is the
    # letter's own, nor the one made from its position
    others = {
        reissued_event_id(own, other),
        reissued_event_id(uuid.uuid4(), record),
        reissued_event_id(own, None),
        own,
        record_event_id("ratings", 0, 3, record),
    }
    assert made not in others
    assert len(others) == 5
