"""The projector's parser of the written form (talkrate.projection's, of the form talkrate.events
writes) against the event model.

For any record value, the parser either answers None (the model judges the record) or the
same event the model reads from it: it may take less than the model, never more or otherwise.
"""

from __future__ import annotations

import json
import operator
import string
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from talkrate.events import TALK_ID_PATTERN, VOTER_ID_PATTERN, Rating, id_rule
from talkrate.models import RatingSubmitted
from talkrate.projection import parse_written

pytestmark = pytest.mark.unit


def _model_reading(raw: bytes) -> Rating | None:
    try:
        return Rating.of(RatingSubmitted.from_json(raw))
    except ValidationError:
        return None


def _written(talk_id: str = "talk-1", value: int = 4, voter_id: str | None = None) -> bytes:
    return RatingSubmitted.new(talk_id, value, voter_id).to_json()


def test_what_the_api_writes_is_read_here_as_the_model_reads_it() -> None:
    # Given events as the API builds them, with and without a voter
    raws = [_written("talk-1", 5), _written("a.b:c~d-e_1", 1, "badge-42@example.org")]
    # When they are parsed here
    parsed = parse_written(raws)
    # Then each is the model's reading
    assert parsed == [_model_reading(raw) for raw in raws]
    assert parsed is not None
    assert parsed[1] is not None
    assert parsed[1].voter_id == "badge-42@example.org"
    event = RatingSubmitted.from_json(raws[1])
    assert (parsed[1].event_id, parsed[1].occurred_ms) == (str(event.event_id), event.occurred_ms)


# Each case: a field set to a value the written form never has, valid or not for the model.
FIELD_CASES: list[tuple[str, Any]] = [
    ("eventId", "5A1C2C8E-7E55-4F0B-9A49-1D6A0D1B2C3D"),  # upper case: valid, not written
    ("eventId", "5a1c2c8e7e554f0b9a491d6a0d1b2c3d"),  # no dashes: valid, not written
    ("eventId", "not-a-uuid"),
    ("eventId", 5),
    ("type", "RatingChanged"),
    ("schemaVersion", 2),
    ("schemaVersion", True),
    ("schemaVersion", "1"),
    ("schemaVersion", 1.0),
    ("talkId", "talk-1\n"),
    ("talkId", ""),
    ("talkId", "-talk"),
    ("talkId", "t" * 201),
    ("talkId", "t" * 200),
    ("talkId", "tälk"),
    ("talkId", 7),
    ("value", 0),
    ("value", 6),
    ("value", True),
    ("value", 4.0),
    ("value", "4"),
    ("occurredAt", "2026-11-26T10:15:00Z"),  # seconds only: valid, not written
    ("occurredAt", "2026-11-26T11:15:00.000+01:00"),  # an offset: valid, not written
    ("occurredAt", "2026-11-26T10:15:00.000"),  # no time zone
    ("occurredAt", "2026-02-30T10:15:00.000Z"),
    ("occurredAt", "2026-11-26T23:59:60.000Z"),
    ("occurredAt", "2026-11-26 10:15:00.000Z"),
    ("occurredAt", "\uff12026-11-26T10:15:00.000Z"),  # a full-width digit
    ("occurredAt", 1_795_255_200_000),
    ("voterId", None),
    ("voterId", ""),
    ("voterId", "v" * 101),
    ("voterId", "v" * 100),
    ("voterId", "badge 42"),
    ("voterId", "badge-42\n"),
    ("extra", "field"),
]


@pytest.mark.parametrize(("name", "value"), FIELD_CASES)
def test_a_field_out_of_the_written_form_is_left_to_the_model(name: str, value: Any) -> None:
    # Given a written event with one field changed
    document = json.loads(_written(voter_id="badge-1"))
    document[name] = value
    raw = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
    # When it is parsed here and by the model
    here = parse_written([raw])
    model = _model_reading(raw)
    # Then this parser takes it only as the model does; a value the model refuses is never taken
    assert here[0] is None or here[0] == model
    if model is None:
        assert here[0] is None


def test_values_that_are_not_one_written_document_are_left_to_the_model() -> None:
    one, two = _written("t-1", 3), _written("t-2", 4)
    reading = _model_reading(one)
    assert parse_written([one + b"," + two, one]) == [None, reading]  # two documents in one
    assert (
        parse_written([one, b"[1", b"\xff\xfe", b"[" * 100_000, b"", None])
        == [reading] + [None] * 5
    )
    assert parse_written([b" " + one, one + b"\n", one.replace(b":", b": ", 1)]) == [None] * 3


# Generated documents: valid events as talkrate writes them, with up to two fields replaced by
# values that are valid, almost valid or wrong (or a field added or left out).
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-3, max_value=8),
    st.floats(allow_nan=False),
    st.text(max_size=12),
)


def _ids(also: str) -> st.SearchStrategy[str]:
    """Ids of the pattern's form, 1 to 11 characters: a letter or digit, then those and `also`.
    Built, not drawn by `from_regex(fullmatch=True)`, whose drafts it filters: two such
    strategies in one test threw away about half its generated cases."""
    first = string.ascii_letters + string.digits
    return st.builds(operator.add, st.sampled_from(first), st.text(first + also, max_size=10))


valid_talk_ids = _ids("._:~-")
valid_voter_ids = _ids("._:@~+-")
written_times = st.datetimes(timezones=st.just(UTC)).map(
    lambda t: t.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
)
written = st.fixed_dictionaries(
    {
        "eventId": st.uuids().map(str),
        "type": st.just("RatingSubmitted"),
        "schemaVersion": st.just(1),
        "talkId": valid_talk_ids,
        "value": st.integers(min_value=1, max_value=5),
        "occurredAt": written_times,
    },
    optional={"voterId": valid_voter_ids},
)
replacements = st.dictionaries(
    st.sampled_from(["eventId", "type", "schemaVersion", "talkId", "value", "occurredAt"])
    | st.sampled_from(["voterId", "other"]),
    scalars
    | valid_talk_ids
    | st.uuids().map(lambda u: str(u).upper())
    | written_times.map(lambda t: t.replace(".", ",").replace("Z", "+00:00"))
    | st.text(max_size=30),
    max_size=2,
)
removals = st.sets(st.sampled_from(["type", "schemaVersion", "voterId", "value"]), max_size=1)
documents = st.builds(
    lambda d, changes, gone: {k: v for k, v in {**d, **changes}.items() if k not in gone},
    written,
    replacements,
    removals,
)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.lists(documents, min_size=1, max_size=4))
def test_generated_records_are_read_here_only_as_the_model_reads_them(
    batch: list[dict[str, Any]],
) -> None:
    # Compact and in the model's field order, as talkrate writes: many are in the written form.
    raws = [json.dumps(d, ensure_ascii=False, separators=(",", ":")).encode() for d in batch]
    here = parse_written(raws)
    for raw, event in zip(raws, here, strict=True):
        assert event is None or event == _model_reading(raw)


# What the projector loads for a batch in the written form: its init, then its adapters' modules
# and the classification of a batch (pydantic only for a record out of that form).
_PROJECTOR_PATH = """
import sys
sys.path[:0] = [{layer!r}, {function!r}]
import app
import talkrate.adapters.postgres, talkrate.adapters.redis_store, talkrate.live
from talkrate.projection import StreamRecord, classify
raw = {raw!r}
batch = classify([StreamRecord("ratings", 0, 0, b"k", raw)])
assert len(batch.ratings) == 1, batch
print(sorted(m for m in sys.modules if m.split(".")[0] in ("pydantic", "pydantic_core")))
"""


def test_the_projector_loads_no_pydantic_for_a_batch_in_the_written_form() -> None:
    import subprocess
    import sys

    from tests.builders import ROOT

    code = _PROJECTOR_PATH.format(
        layer=str(ROOT / "layers" / "shared"),
        function=str(ROOT / "functions" / "projector"),
        raw=_written("talk-1", 4, "badge-1"),
    )
    ran = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == "[]"


def test_an_id_found_valid_for_a_voter_is_not_thereby_valid_for_a_talk() -> None:
    # Given a voter id that is no talk id ("@"), read first as a voter's
    voter = "badge+7@example.org"
    assert parse_written([_written("talk-1", 3, voter)])[0] is not None
    # When the same text comes as a talk id
    document = json.loads(_written("talk-1", 3))
    document["talkId"] = voter
    parsed = parse_written([json.dumps(document).encode()])
    # Then it is not taken here (and the model refuses it)
    assert parsed == [None]
    assert _model_reading(json.dumps(document).encode()) is None


# --- the writer: Rating.new and Rating.to_json against the model --------------------------------


@settings(max_examples=300, deadline=None)
@given(
    valid_talk_ids,
    st.integers(min_value=1, max_value=5),
    st.none() | valid_voter_ids,
    st.datetimes(
        min_value=datetime(2000, 1, 2),
        max_value=datetime(2200, 1, 1),
        timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30))]),
    ),
)
def test_an_event_built_here_is_written_byte_for_byte_as_the_model_writes_it(
    talk_id: str, value: int, voter_id: str | None, now: datetime
) -> None:
    # Given an event the API builds without pydantic (any moment, in any zone)
    event = Rating.new(talk_id, value, voter_id, now)
    # When it is written, and the model reads and writes it again
    written = event.to_json()
    model = RatingSubmitted.from_json(written)
    # Then the bytes are the model's, the written form reads back the same event, and the
    # moment is `now` to the millisecond, in UTC
    assert model.to_json() == written
    assert parse_written([written]) == [event] == [Rating.of(model)]
    assert event.occurred_at.tzinfo is UTC
    assert timedelta(0) <= now - event.occurred_at < timedelta(milliseconds=1)
    assert event.key == talk_id.encode()


@pytest.mark.parametrize(
    ("talk_id", "voter_id"),
    [
        ('talk"1', None),
        ("talk-1\n", None),
        ("", None),
        ("talk-1", 'badge"},"value":5'),
        ("t" * 201, None),
    ],
)
def test_an_id_outside_its_pattern_is_never_written(talk_id: str, voter_id: str | None) -> None:
    # The API checks ids before it builds an event; a slip there still writes no broken JSON
    with pytest.raises(ValueError, match="outside its pattern"):
        Rating.new(talk_id, 3, voter_id)


@pytest.mark.parametrize(
    ("pattern", "length", "said"),
    [
        (
            TALK_ID_PATTERN,
            200,
            "letters a-z and A-Z (no accents), digits and ._:~- only, at most 200 characters, "
            "starting with a letter or digit",
        ),
        (
            VOTER_ID_PATTERN,
            100,
            "letters a-z and A-Z (no accents), digits and ._:@~+- only, at most 100 characters, "
            "starting with a letter or digit",
        ),
        # The letters named where they are first said: the first character's
        (
            r"^[A-Za-z][0-9_]*$",
            8,
            "digits and _ only, at most 8 characters, starting with a letter a-z or A-Z "
            "(no accents)",
        ),
        (r"^[0-9][0-9]*$", 1, "digits only, at most 1 character, starting with a digit"),
    ],
)
def test_an_id_s_rule_is_said_from_its_pattern(pattern: str, length: int, said: str) -> None:
    # Given an id's pattern, When its rule is said in words, Then they name what it holds
    assert id_rule(pattern, length) == said


@pytest.mark.parametrize(
    "pattern",
    [r"^[a-f][a-f0-9]*$", r"^[A-Za-z0-9][\w.-]*$", r"^\w+$", r"^[A-Z][]*$", r"^[A-Z][A-Z]*"],
)
def test_an_id_pattern_its_rule_cannot_say_is_refused(pattern: str) -> None:
    # Given a pattern whose classes hold ranges or escapes the words do not name, or that is
    # not of an id's form: refused where it is declared, never said wrongly to a client
    with pytest.raises(ValueError, match="id"):
        id_rule(pattern, 10)
