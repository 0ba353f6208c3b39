"""`talkrate ops replay` says what it brought back: how many of its events the event store did
not hold, how many it held already (and of those, how many at another position), and the same
of its dead letters. It said "recorded N events" whether they were new or not."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from kafka import KafkaProducer

from talkrate_cli.main import main
from tests.integration.test_kafka_publisher import consume_to_end
from tests.integration.test_operations import skipped_batch

pytestmark = pytest.mark.integration


def test_a_replay_says_how_many_of_its_events_were_new_and_how_many_were_stored_already(
    configure: Callable[..., None],
    talk: str,
    topic: str,
    kafka_bootstrap: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a batch Lambda gave up on: offsets 2 and 3 neither stored nor counted
    offsets, counted = skipped_batch(kafka_bootstrap, topic, talk)
    span = ["--topic", topic, "--partition", "0"]
    skipped = [*span, "--first", str(offsets[2]), "--last", str(offsets[3])]
    capsys.readouterr()
    # When the operator replays it
    assert main(["ops", "replay", *skipped]) == 0
    # Then it says both were new
    out = capsys.readouterr().out
    assert (
        "replay: recorded 2 events: 2 new, 0 already stored (0 of them at another position); "
        "0 dead letters"
    ) in out
    assert counted() == 5
    # And replayed again, or a span the projector stored itself, it says nothing was new
    for again in (skipped, [*span, "--first", str(offsets[0]), "--last", str(offsets[1])]):
        assert main(["ops", "replay", *again]) == 0
        out = capsys.readouterr().out
        assert "recorded 2 events: 0 new, 2 already stored (0 of them at another position)" in out
    assert counted() == 5

    # Given a copy of a stored event at a later offset (a producer's retry) and a malformed
    # record after it
    first = next(r.value for r in consume_to_end(kafka_bootstrap, topic) if r.offset == 0)
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    try:
        later = [
            producer.send(topic, value, partition=0).get(timeout=10).offset
            for value in (first, b"not a rating")
        ]
    finally:
        producer.close()
    tail = [*span, "--first", str(later[0]), "--last", str(later[1])]
    # When the operator replays them, asking for JSON
    assert main(["--json", "ops", "replay", *tail]) == 0
    # Then the copy is said stored already, at another position, and the dead letter new
    said = json.loads(capsys.readouterr().out)
    assert {k: said[k] for k in ("new", "alreadyStored", "storedElsewhere")} == {
        "new": 0,
        "alreadyStored": 1,
        "storedElsewhere": 1,
    }
    assert (said["deadLetters"], said["newDeadLetters"]) == (1, 1)
    # And again, the dead letter too is stored already; nothing counted twice
    assert main(["ops", "replay", *tail]) == 0
    out = capsys.readouterr().out
    assert (
        "1 event: 0 new, 1 already stored (1 of them at another position); 1 dead letter (0 new)"
        in out
    )
    assert counted() == 5
