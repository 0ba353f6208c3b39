"""The operator's commands against the real services: dead letters listed, repaired, redriven."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable

import pytest

from talkrate.models import RatingSubmitted
from talkrate_ops.__main__ import main
from tests.builders import LambdaContextStub, kafka_event, kafka_record, load_function
from tests.integration.test_kafka_publisher import consume_all

pytestmark = pytest.mark.integration


def test_a_dead_letter_is_listed_repaired_and_redriven_once(
    configure: Callable[..., None],
    talk: str,
    topic: str,
    kafka_bootstrap: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a record that was set aside: its value is 7
    event_id = str(uuid.uuid4())
    broken = {
        "eventId": event_id,
        "type": "RatingSubmitted",
        "schemaVersion": 1,
        "talkId": talk,
        "value": 7,
        "occurredAt": "2026-11-21T10:00:00Z",
    }
    source = f"dlq-{uuid.uuid4().hex[:8]}"
    load_function("projector")(
        kafka_event([kafka_record(source, 0, 3, json.dumps(broken).encode())]),
        LambdaContextStub("projector"),
    )
    capsys.readouterr()  # the projector's own logs
    # When the operator lists the dead letters
    assert main(["dead-letters"]) == 0
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    [letter] = [d for d in listed if d["topic"] == source]
    assert letter["offset"] == 3
    assert "value" in letter["reason"]
    # Then redriving it unrepaired is refused, and nothing is published
    assert main(["redrive", str(letter["id"])]) == 1
    # And redriving it with the repaired value publishes it once and marks it redriven
    repaired = json.dumps({**broken, "value": 5})
    assert main(["redrive", str(letter["id"]), "--value", repaired]) == 0
    [(_, value)] = consume_all(kafka_bootstrap, topic, 1)
    assert RatingSubmitted.from_json(value).value == 5
    assert str(RatingSubmitted.from_json(value).event_id) == event_id
    assert main(["redrive", str(letter["id"])]) == 2  # no longer pending
