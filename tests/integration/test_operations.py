"""The operator's commands against the real services: dead letters listed, repaired, redriven."""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg2
import pytest
import redis
from kafka import KafkaProducer

from sam_emulator.events.kafka import ensure_topics
from talkrate import wiring
from talkrate.adapters.redis_store import REBUILD_LOCK_KEY, RedisReadModel, histogram_key
from talkrate.errors import BackendUnavailable
from talkrate.locations import redis_location
from talkrate.models import RatingSubmitted
from talkrate.rating import rating_status
from talkrate.rebuild import rebuild_if_lost, rebuild_read_model
from talkrate_cli.main import main
from talkrate_local.database import event_store, prepare, recreate
from tests.backends import ELSEWHERE_RATINGS, ELSEWHERE_TALKS, REDIS, RELAY_TALKS
from tests.builders import (
    LambdaContextStub,
    kafka_event,
    kafka_record,
    load_function,
    ratings_batch,
)
from tests.integration.test_kafka_publisher import (
    consume_all,
    consume_to_end,
    count_records,
    held_still,
)

pytestmark = pytest.mark.integration


def rated_seven(talk: str, count: int) -> list[dict[str, Any]]:
    """`count` RatingSubmitted events of the talk whose value, 7, the model refuses."""
    return [
        {
            "eventId": str(uuid.uuid4()),
            "type": "RatingSubmitted",
            "schemaVersion": 1,
            "talkId": talk,
            "value": 7,
            "occurredAt": "2026-11-21T10:00:00Z",
        }
        for _ in range(count)
    ]


def set_aside_and_listed(
    *broken: dict[str, Any], first_offset: int, capsys: pytest.CaptureFixture[str]
) -> list[dict[str, Any]]:
    """The events projected as records of a topic of their own from `first_offset` on (the
    projector sets them aside), then the dead letters `ops dead-letters` lists of that topic,
    by offset."""
    source = f"dlq-{uuid.uuid4().hex[:8]}"
    records = [
        kafka_record(source, 0, first_offset + n, json.dumps(event).encode())
        for n, event in enumerate(broken)
    ]
    load_function("projector")(kafka_event(records), LambdaContextStub("projector"))
    capsys.readouterr()  # the projector's own logs
    assert main(["ops", "dead-letters"]) == 0
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    return sorted((d for d in listed if d["topic"] == source), key=lambda d: d["offset"])


def one_set_aside(
    talk: str, capsys: pytest.CaptureFixture[str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """One event of the talk the projector set aside (valued 7, at offset 0 of a topic of its
    own), and its dead letter as `ops dead-letters` lists it."""
    [broken] = rated_seven(talk, 1)
    [letter] = set_aside_and_listed(broken, first_offset=0, capsys=capsys)
    return broken, letter


def ops_json(capsys: pytest.CaptureFixture[str], code: int, *args: str) -> Any:
    """The document `talkrate --json ops ARGS` printed, once it exited `code`."""
    assert main(["--json", "ops", *args]) == code, args
    return json.loads(capsys.readouterr().out)


def said_unset(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], name: str, command: str
) -> str:
    """What `talkrate ops COMMAND` says (refused) with the variable `name` not set at all."""
    monkeypatch.delenv(name)
    wiring.reset()
    assert main(["ops", command]) == 1
    return capsys.readouterr().err


def test_a_dead_letter_is_listed_repaired_and_redriven_once(
    configure: Callable[..., None],
    talk: str,
    topic: str,
    kafka_bootstrap: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a record that was set aside: its value is 7
    [broken] = rated_seven(talk, 1)
    event_id = broken["eventId"]
    # When the operator lists the dead letters
    [letter] = set_aside_and_listed(broken, first_offset=3, capsys=capsys)
    assert letter["offset"] == 3
    assert "value" in letter["reason"]
    # (its time in UTC as the API writes times; it was PostgreSQL's "2026-12-04 03:35:47+00:00")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", letter["created_at"])
    assert letter["redriven_at"] is None
    # Then redriving it unrepaired is refused, and nothing is published
    assert main(["ops", "redrive", str(letter["id"])]) == 1
    # And redriving it with the repaired value publishes it once and marks it redriven, under
    # the letter's own eventId, not the one the repair carries, saying so
    other_id = str(uuid.uuid4())
    repaired = json.dumps({**broken, "value": 5, "eventId": other_id})
    capsys.readouterr()
    assert main(["ops", "redrive", str(letter["id"]), "--value", repaired]) == 0
    [(_, value)] = consume_all(kafka_bootstrap, topic, 1)
    assert RatingSubmitted.from_json(value).value == 5
    assert str(RatingSubmitted.from_json(value).event_id) == event_id
    said = " ".join(capsys.readouterr().out.split())
    assert (
        f"republished as event {event_id}, the letter's eventId, not the value's {other_id}" in said
    )
    assert main(["ops", "redrive", str(letter["id"])]) == 2  # no longer pending
    assert f"dead letter {letter['id']} was redriven already (at " in capsys.readouterr().err


def test_a_redrive_kafka_does_not_acknowledge_leaves_the_letter_to_redrive_again(
    configure: Callable[..., None],
    talk: str,
    topic: str,
    kafka_bootstrap: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a record set aside, and the stream away
    broken, letter = one_set_aside(talk, capsys)
    # (repaired without an eventId: the letter's is taken)
    repaired = json.dumps({k: v for k, v in {**broken, "value": 2}.items() if k != "eventId"})
    configure(STREAMS_CONNECTION="127.0.0.1:1", PUBLISH_TIMEOUT_SECONDS="1")
    # When the operator redrives it
    assert main(["ops", "redrive", str(letter["id"]), "--value", repaired]) == 1
    # Then it is still pending (the mark is taken with the publish, not before it)
    configure()
    assert main(["--json", "ops", "dead-letters"]) == 0
    assert letter["id"] in {d["id"] for d in json.loads(capsys.readouterr().out)}
    # And redriven again with the stream back, it is published, once
    assert main(["ops", "redrive", str(letter["id"]), "--value", repaired]) == 0
    [record] = consume_to_end(kafka_bootstrap, topic)
    assert str(RatingSubmitted.from_json(record.value).event_id) == broken["eventId"]


def project_all(topic: str, kafka_bootstrap: str) -> list[Any]:
    """Every record the topic holds, handed to the projector as one batch (as its mapping
    would deliver them); the records."""
    records = consume_to_end(kafka_bootstrap, topic)
    load_function("projector")(
        kafka_event([kafka_record(topic, r.partition, r.offset, r.value) for r in records]),
        LambdaContextStub("projector"),
    )
    return records


@pytest.mark.parametrize("stored", ["an eventId of its own", "no eventId"])
def test_a_redrive_cut_off_after_kafka_took_it_counts_once_whatever_eventid_the_next_carries(
    stored: str,
    configure: Callable[..., None],
    talk: str,
    topic: str,
    kafka_bootstrap: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a record set aside: a rating of 7 with an eventId of its own, or one without any
    [broken] = rated_seven(talk, 1)
    if stored == "no eventId":
        del broken["eventId"]
    [letter] = set_aside_and_listed(broken, first_offset=0, capsys=capsys)
    # And a redrive cut off between Kafka's acknowledgement and its commit (the broker took
    # the record, the answer did not come back in time): it exits 1, the letter still pending
    publisher = wiring.rating_publisher()
    taken = publisher.publish

    def acknowledged_then_cut_off(event: Any) -> None:
        taken(event)
        raise BackendUnavailable("the event stream did not acknowledge: timed out")

    monkeypatch.setattr(publisher, "publish", acknowledged_then_cut_off)
    first = {**broken, "value": 5, "eventId": str(uuid.uuid4())}
    assert main(["ops", "redrive", str(letter["id"]), "--value", json.dumps(first)]) == 1
    monkeypatch.setattr(publisher, "publish", taken)
    capsys.readouterr()
    # When the operator redrives it again, repaired with another eventId
    again = {**broken, "value": 5, "eventId": str(uuid.uuid4())}
    assert main(["--json", "ops", "redrive", str(letter["id"]), "--value", json.dumps(again)]) == 0
    [done] = json.loads(capsys.readouterr().out)["redriven"]
    # Then both copies on the topic, projected, count once (they counted twice)
    records = project_all(topic, kafka_bootstrap)
    assert len(records) == 2
    assert wiring.read_model().histogram(talk).total == 1
    # And both carry one eventId, the one the command reports (the letter's own where it had
    # one), and the command names the eventId of the value it replaced
    published = {str(RatingSubmitted.from_json(r.value).event_id) for r in records}
    assert published == {done["eventId"]}
    if stored == "an eventId of its own":
        assert done["eventId"] == broken["eventId"]
    assert done["valueEventId"] == again["eventId"]


def test_a_redrive_for_a_talk_not_in_the_programme_or_still_broken_publishes_nothing(
    configure: Callable[..., None],
    talk: str,
    topic: str,
    kafka_bootstrap: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given two records set aside: both with a value of 7
    broken = rated_seven(talk, 2)
    first, second = set_aside_and_listed(*broken, first_offset=0, capsys=capsys)
    # When one is repaired for a talk that is not in the programme
    ghost = json.dumps({**broken[0], "value": 3, "talkId": f"no-such-{uuid.uuid4().hex[:6]}"})
    assert main(["ops", "redrive", str(first["id"]), "--value", ghost]) == 1
    # Then it is refused, saying why
    assert "not in the programme" in capsys.readouterr().err
    # And a repaired value still wrong names its problem, as bad input (it exited 1)
    assert main(["ops", "redrive", str(first["id"]), "--value", json.dumps(broken[0])]) == 2
    assert "the value given is not a RatingSubmitted event (value:" in capsys.readouterr().err
    # And a value for two letters is a usage error, said first (with ids of no pending letter
    # it said "no pending dead letter with id [...]")
    both = ["999999998", "999999999"]
    assert main(["ops", "redrive", *both, "--value", json.dumps(broken[0])]) == 2
    assert "--value repairs one dead letter at a time" in capsys.readouterr().err
    # And two letters redriven together, one still broken, publish neither, and say so (it
    # said only why the one was refused, and the doc that the letters before it were redriven)
    ids = [str(first["id"]), str(second["id"])]
    assert main(["ops", "redrive", *ids]) == 1
    said = " ".join(capsys.readouterr().err.split())
    assert f"; nothing redriven: dead letters {first['id']} and {second['id']} wait" in said
    assert main(["--json", "ops", "redrive", *ids]) == 1
    document = json.loads(capsys.readouterr().out)
    assert document["redriven"] == []
    assert "nothing redriven" in document["error"]["detail"]
    assert count_records(kafka_bootstrap, topic) == 0
    assert main(["ops", "dead-letters"]) == 0
    pending = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {d["id"] for d in pending} >= {first["id"], second["id"]}


def test_a_letter_stamped_in_the_future_is_redriven_only_once_its_time_is_repaired(
    configure: Callable[..., None],
    talk: str,
    topic: str,
    kafka_bootstrap: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a rating set aside for its occurredAt in 2099
    [ahead] = rated_seven(talk, 1)
    ahead |= {"value": 4, "occurredAt": "2099-01-01T00:00:00Z"}
    [letter] = set_aside_and_listed(ahead, first_offset=0, capsys=capsys)
    assert "is later than the projector's clock" in letter["reason"]
    # When the operator redrives it as it is, or repaired to another time still ahead
    later = json.dumps({**ahead, "occurredAt": "2098-01-01T00:00:00Z"})
    as_it_is = main(["ops", "redrive", str(letter["id"])])
    refused = capsys.readouterr().err
    repaired_ahead = main(["ops", "redrive", str(letter["id"]), "--value", later])
    # Then nothing is published (the projector would set it aside again), saying why
    assert (as_it_is, repaired_ahead) == (1, 2)
    said = " ".join(refused.split())
    assert f"the projector would set dead letter {letter['id']} aside again (occurredAt: " in said
    assert "is later than the projector's clock" in said
    assert count_records(kafka_bootstrap, topic) == 0
    # And repaired to the time it was sent, it is published, once
    repaired = json.dumps({**ahead, "occurredAt": "2026-11-21T10:00:00Z"})
    assert main(["ops", "redrive", str(letter["id"]), "--value", repaired]) == 0
    [(_, value)] = consume_all(kafka_bootstrap, topic, 1)
    assert RatingSubmitted.from_json(value).occurred_at.year == 2026


def test_a_letter_set_aside_for_its_future_time_is_refused_after_that_time_has_passed(
    configure: Callable[..., None],
    talk: str,
    topic: str,
    talks_dsn: str,
    kafka_bootstrap: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a voter's rating stamped 5 minutes 20 seconds ahead of the projector's clock (past
    # its margin), set aside, while the voter's real ratings count
    [ahead] = rated_seven(talk, 1)
    stamped = datetime.now(UTC) + timedelta(minutes=5, seconds=20)
    ahead |= {"value": 1, "voterId": "voter-ahead", "occurredAt": stamped.isoformat()}
    [letter] = set_aside_and_listed(ahead, first_offset=0, capsys=capsys)
    assert "is later than the projector's clock" in letter["reason"]
    # And its time has passed since: the letter as set aside an hour ago, of a record stamped
    # an hour earlier (both moved by the same hour, so it was as far ahead when set aside)
    passed = {**ahead, "occurredAt": (stamped - timedelta(hours=1)).isoformat()}
    with psycopg2.connect(talks_dsn) as connection, connection.cursor() as cursor:
        cursor.execute(
            "UPDATE dead_letters SET created_at = created_at - interval '1 hour', value = %s "
            "WHERE id = %s",
            (psycopg2.Binary(json.dumps(passed).encode()), letter["id"]),
        )
    connection.close()
    # When the operator redrives it as it is
    as_it_is = main(["ops", "redrive", str(letter["id"])])
    # Then nothing is published (it would stand over the voter's real ratings sent after it),
    # saying why and how to repair it
    assert as_it_is == 1
    said = " ".join(capsys.readouterr().err.split())
    assert f"dead letter {letter['id']} was set aside for an occurredAt" in said
    assert "later than the projector's clock when it was set aside" in said
    assert f"talkrate ops redrive {letter['id']} --value" in said
    assert count_records(kafka_bootstrap, topic) == 0
    assert main(["ops", "dead-letters"]) == 0
    pending = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert letter["id"] in {d["id"] for d in pending}
    # And repaired to the time the rating was sent, it is published, once
    sent = {**passed, "occurredAt": (stamped - timedelta(hours=1, minutes=6)).isoformat()}
    assert main(["ops", "redrive", str(letter["id"]), "--value", json.dumps(sent)]) == 0
    [(_, value)] = consume_all(kafka_bootstrap, topic, 1)
    assert RatingSubmitted.from_json(value).occurred_at < datetime.now(UTC)


def test_a_letter_whose_eventid_is_stored_for_another_rating_is_refused_and_can_go_under_a_new_one(
    configure: Callable[..., None],
    talk: str,
    topic: str,
    kafka_bootstrap: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a producer that reused an eventId: a rating of 4, stored and counted, then a
    # rating of 7 under the same eventId, set aside
    [broken] = rated_seven(talk, 1)
    counted = {**broken, "value": 4, "occurredAt": "2026-11-21T09:00:00Z"}
    [letter] = set_aside_and_listed(counted, broken, first_offset=0, capsys=capsys)
    assert wiring.read_model().histogram(talk).total == 1
    # When the operator redrives the letter repaired (its eventId is the letter's)
    repaired = json.dumps({k: v for k, v in {**broken, "value": 3}.items() if k != "eventId"})
    capsys.readouterr()
    refused = main(["--json", "ops", "redrive", str(letter["id"]), "--value", repaired])
    document = json.loads(capsys.readouterr().out)
    # Then it is refused, nothing published, the letter still pending, and the operator is
    # told which rating holds the eventId and how to go on (it was published under it, exit
    # 0, and the projector dropped it as a copy: the rating counted nowhere, nothing said)
    assert refused == 1, document
    said = document["error"]["detail"]
    assert f"dead letter {letter['id']}'s eventId {broken['eventId']} is stored already" in said
    assert f"talk {talk!r}, value 4, occurred 2026-11-21T09:00:00.000Z" in said
    assert f"talkrate ops redrive {letter['id']} --new-event-id" in said
    assert count_records(kafka_bootstrap, topic) == 0
    assert main(["--json", "ops", "dead-letters"]) == 0
    assert letter["id"] in {d["id"] for d in json.loads(capsys.readouterr().out)}
    # And redriven under a new eventId, cut off once after Kafka took it and run again, it
    # is published under one eventId (the one its record fixes), counted once, beside the 4
    publisher = wiring.rating_publisher()
    taken = publisher.publish

    def acknowledged_then_cut_off(event: Any) -> None:
        taken(event)
        raise BackendUnavailable("the event stream did not acknowledge: timed out")

    monkeypatch.setattr(publisher, "publish", acknowledged_then_cut_off)
    again = ["ops", "redrive", str(letter["id"]), "--value", repaired, "--new-event-id"]
    assert main(again) == 1
    monkeypatch.setattr(publisher, "publish", taken)
    capsys.readouterr()
    assert main(["--json", *again]) == 0
    [done] = json.loads(capsys.readouterr().out)["redriven"]
    assert done["eventId"] != broken["eventId"]
    records = project_all(topic, kafka_bootstrap)
    assert {str(RatingSubmitted.from_json(r.value).event_id) for r in records} == {done["eventId"]}
    assert len(records) == 2
    assert wiring.read_model().histogram(talk).counts == {"1": 0, "2": 0, "3": 1, "4": 1, "5": 0}


def redrive_elsewhere(letter_id: int, value: str, *options: str) -> subprocess.Popen[str]:
    """`talkrate ops redrive ID --value VALUE [OPTIONS]` begun in a process of its own (another
    operator's terminal), on the backends the environment names."""
    command = [sys.executable, "-m", "talkrate_cli", "ops", "redrive", str(letter_id)]
    return subprocess.Popen(
        [*command, "--value", value, *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def a_session_waits_for_a_dead_letter(talks_dsn: str, within: float = 15.0) -> bool:
    """Whether a session waits for a dead letter's row, or the eventId of a redrive, another
    holds (looked for `within` s)."""
    deadline = time.monotonic() + within
    with psycopg2.connect(talks_dsn) as connection, connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND (query LIKE '%%dead_letters%%' "
                "OR query LIKE '%%pg_advisory_xact_lock%%')"
            )
            if (cursor.fetchone() or (0,))[0]:
                return True
            connection.rollback()
            time.sleep(0.05)
    connection.close()
    return False


def test_two_operators_redriving_one_letter_at_once_publish_it_once(
    configure: Callable[..., None],
    talk: str,
    topic: str,
    talks_dsn: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from sam_emulator.events.kafka import ensure_topics
    from talkrate_local.broker import LocalBroker

    # Given a record set aside, and a broker slow to acknowledge (held still): both operators'
    # publishes are under way together
    broken, letter = one_set_aside(talk, capsys)
    with LocalBroker() as broker:
        ensure_topics(broker.bootstrap, [topic], partitions=1)
        configure(STREAMS_CONNECTION=broker.bootstrap, PUBLISH_TIMEOUT_SECONDS="20")
        process = broker._process
        assert process is not None
        process.send_signal(signal.SIGSTOP)
        assert held_still(process.pid), broker.log_tail()
        # When two operators redrive it at the same time, each repairing it with an eventId
        # of its own
        # (on a broker of its own, which no projector's group has committed offsets on, and
        # held still, which would not say: --new-topic)
        repairs = [{**broken, "value": 5, "eventId": str(uuid.uuid4())} for _ in range(2)]
        runs = [redrive_elsewhere(letter["id"], json.dumps(r), "--new-topic") for r in repairs]
        try:
            waited = a_session_waits_for_a_dead_letter(talks_dsn)
        finally:
            process.send_signal(signal.SIGCONT)
            ended = [run.communicate(timeout=60) for run in runs]
        records = consume_to_end(broker.bootstrap, topic)
    # Then one publishes it and the other, which waited for it, publishes nothing and says
    # why (both published, and the rating counted twice)
    codes = sorted(run.returncode for run in runs)
    said = "".join(err for _, err in ended)
    assert codes == [0, 2], ended
    assert waited
    assert f"dead letter {letter['id']} was redriven by another run while this one" in said
    assert len(records) == 1
    # And projected, it counts once
    load_function("projector")(
        kafka_event([kafka_record(topic, 0, r.offset, r.value) for r in records]),
        LambdaContextStub("projector"),
    )
    assert wiring.read_model().histogram(talk).total == 1


def test_a_letter_rewritten_while_a_redrive_waits_for_it_is_not_published(
    configure: Callable[..., None],
    talk: str,
    topic: str,
    talks_dsn: str,
    kafka_bootstrap: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a record set aside, whose row another session holds (`ops forget-voter`, about to
    # rename the voter it names)
    broken, letter = one_set_aside(talk, capsys)
    holder = psycopg2.connect(talks_dsn)
    try:
        with holder.cursor() as cursor:
            cursor.execute("SELECT 1 FROM dead_letters WHERE id = %s FOR UPDATE", (letter["id"],))
            # When an operator redrives it repaired meanwhile, and the other session rewrites
            # it before letting it go
            run = redrive_elsewhere(letter["id"], json.dumps({**broken, "value": 5}))
            waited = a_session_waits_for_a_dead_letter(talks_dsn)
            rewritten = json.dumps({**broken, "voterId": "forgotten-0"}).encode()
            cursor.execute(
                "UPDATE dead_letters SET value = %s WHERE id = %s",
                (psycopg2.Binary(rewritten), letter["id"]),
            )
        holder.commit()
        _, err = run.communicate(timeout=60)
    finally:
        holder.close()
    # Then the redrive waited for it, published nothing of what it had read, and says so (it
    # published at once the value it had repaired from the letter as it was)
    assert waited
    assert run.returncode == 1, err
    assert f"dead letter {letter['id']} was changed while this run read it" in err
    assert count_records(kafka_bootstrap, topic) == 0
    assert main(["ops", "dead-letters"]) == 0
    assert letter["id"] in {json.loads(line)["id"] for line in capsys.readouterr().out.splitlines()}


def test_an_entry_forget_voter_is_renaming_is_not_said_held_by_another_relay_run(
    configure: Callable[..., None],
    talk: str,
    topic: str,
    kafka_bootstrap: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from talkrate.adapters.postgres import PostgresDatabase, PostgresEventStore, PostgresOutbox
    from talkrate.events import Rating
    from talkrate.voters import forgotten_id

    # Given an outbox no runtime relays, with nothing waiting
    prepare(RELAY_TALKS)
    configure(TALKS_CONNECTION=RELAY_TALKS)
    assert main(["ops", "relay"]) == 0
    # And a voter's rating kept in it, and a dead letter naming the voter that another
    # session holds (a redrive of it, publishing)
    voter = f"voter-{uuid.uuid4().hex}"
    kept = Rating.new(talk, 3, voter_id=voter)
    database = PostgresDatabase(RELAY_TALKS)
    PostgresOutbox(database).enqueue(kept)
    holder = psycopg2.connect(RELAY_TALKS)
    with holder.cursor() as cursor:
        cursor.execute(
            'INSERT INTO dead_letters (topic, partition, "offset", value, reason) '
            "VALUES (%s, 0, 0, %s, 'a test letter') RETURNING id",
            (f"dlq-{uuid.uuid4().hex[:8]}", json.dumps({"voterId": voter}).encode()),
        )
        [letter_id] = cursor.fetchone() or ()
        holder.commit()
        cursor.execute("SELECT 1 FROM dead_letters WHERE id = %s FOR UPDATE", (letter_id,))
    # And `ops forget-voter` renaming the voter meanwhile: the outbox entry rewritten, the
    # dead letter waited for
    renaming = threading.Thread(
        target=PostgresEventStore(database).rename_voter, args=(voter, forgotten_id(voter))
    )
    renaming.start()
    try:
        try:
            assert a_session_waits_for_a_dead_letter(RELAY_TALKS)
            # When the operator relays the outbox
            capsys.readouterr()
            assert main(["ops", "relay"]) == 0
            said = capsys.readouterr().out
            assert main(["--json", "ops", "relay"]) == 0
            document = json.loads(capsys.readouterr().out)
        finally:
            holder.rollback()
            holder.close()
            renaming.join(timeout=30)
        # Then the entry still waits, and is not said to be held by another relay run, which
        # would publish it: none holds it (it said "1 held by another relay run")
        assert not renaming.is_alive()
        assert (document["pending"], document["heldElsewhere"]) == (1, 0)
        assert "held by another relay run" not in said
        assert "run it again for them" in said
        # And once the rename is done, a relay publishes it, under the voter's new id
        assert main(["ops", "relay"]) == 0
        records = consume_to_end(kafka_bootstrap, topic)
        events = [RatingSubmitted.from_json(record.value) for record in records]
        [relayed] = [event for event in events if str(event.event_id) == kept.event_id]
        assert relayed.voter_id == forgotten_id(voter)
    finally:
        with psycopg2.connect(RELAY_TALKS) as connection, connection.cursor() as cursor:
            cursor.execute("DELETE FROM rating_outbox WHERE event_id = %s", (kept.event_id,))
            cursor.execute("DELETE FROM dead_letters WHERE id = %s", (letter_id,))
        connection.close()
        database.close()


def published(kafka_bootstrap: str, topic: str, events: list[RatingSubmitted]) -> list[int]:
    """Publish the events to partition 0 of the topic; their offsets."""
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    try:
        futures = [producer.send(topic, e.to_json(), key=e.key, partition=0) for e in events]
        return [future.get(timeout=10).offset for future in futures]
    finally:
        producer.close()


def skipped_batch(
    kafka_bootstrap: str, topic: str, talk: str
) -> tuple[list[int], Callable[[], int]]:
    """Five ratings of the talk on partition 0, of which the projector applied offsets 0, 1 and
    4 only: Lambda gave up on the batch of 2..3 and went on. Returns the offsets and a reader of
    the read model's count for the talk."""
    events = [RatingSubmitted.new(talk, 4) for _ in range(5)]
    offsets = published(kafka_bootstrap, topic, events)
    projector = load_function("projector")
    for chosen in ([0, 1], [4]):
        records = [kafka_record(topic, 0, offsets[i], events[i].to_json()) for i in chosen]
        projector(kafka_event(records), LambdaContextStub("projector"))

    def counted() -> int:
        return wiring.read_model().histogram(talk).total

    return offsets, counted


def carrying(topic: str, partition: int, offset: int, value: bytes) -> dict[str, Any]:
    """An on-failure report that carries its one record (as an S3 destination's does)."""
    return {
        "KafkaBatchInfo": {"batchSize": 1, "recordInfo": {"offset": str(offset)}},
        "payload": kafka_event([kafka_record(topic, partition, offset, value)]),
    }


def test_a_batch_lambda_gave_up_on_is_replayed_from_kafka_once(
    configure: Callable[..., None],
    talk: str,
    topic: str,
    kafka_bootstrap: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a skipped batch: three of five ratings counted, the read model's offset past it
    offsets, counted = skipped_batch(kafka_bootstrap, topic, talk)
    assert counted() == 3
    # When the operator replays its offsets
    span = ["--topic", topic, "--partition", "0", "--first", str(offsets[2])]
    assert main(["ops", "replay", *span, "--last", str(offsets[3])]) == 0
    # Then all five count, and replaying again (or a wider range) changes nothing
    assert counted() == 5
    assert main(["ops", "replay", *span, "--last", str(offsets[4])]) == 0
    assert counted() == 5
    assert "2 records replayed" in capsys.readouterr().out


def test_a_replay_that_meets_another_rebuild_says_its_records_wait_for_one_of_their_own(
    configure: Callable[..., None],
    talk: str,
    topic: str,
    kafka_bootstrap: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a skipped batch, and another rebuild holding the lock (whose snapshot may well
    # have been read before the replay stores anything)
    offsets, counted = skipped_batch(kafka_bootstrap, topic, talk)
    other = RedisReadModel(os.environ["RATINGS_CONNECTION"])
    assert other.lock_for_rebuild()
    try:
        # When the operator replays its offsets
        span = ["--topic", topic, "--partition", "0", "--first", str(offsets[2])]
        capsys.readouterr()
        assert main(["ops", "replay", *span, "--last", str(offsets[3])]) == 1
    finally:
        other.unlock_after_rebuild()
    # Then the replay does not let "another rebuild is running" pass for "it is taken care of":
    # its records are stored, and count only after a rebuild that begins after them
    said = capsys.readouterr().err
    assert "another rebuild" in said
    assert "run this replay again" in said
    assert counted() == 3
    # And running it again, as told, counts them, once
    assert main(["ops", "replay", *span, "--last", str(offsets[3])]) == 0
    assert counted() == 5


def test_a_replay_from_the_on_failure_report_reads_its_ranges_or_its_records(
    configure: Callable[..., None],
    talk: str,
    topic: str,
    kafka_bootstrap: str,
    tmp_path: Path,
) -> None:
    # Given a skipped batch, and Lambda's report of it in both shapes
    offsets, counted = skipped_batch(kafka_bootstrap, topic, talk)
    ranged = {
        "requestContext": {"condition": "RetryAttemptsExhausted", "approximateInvokeCount": 11},
        "KafkaBatchInfo": {
            "batchSize": 2,
            "recordsInfo": {
                f"{topic}-0": {
                    "firstRecordOffset": str(offsets[2]),
                    "lastRecordOffset": str(offsets[3]),
                }
            },
        },
    }
    report = tmp_path / "report.json"
    report.write_text(json.dumps(ranged))
    # When the operator replays the report
    assert main(["ops", "replay", "--failure", str(report)]) == 0
    # Then the batch counts, once
    assert counted() == 5
    # And a report carrying the records is replayed from them, again without a double count
    consumed = consume_all(kafka_bootstrap, topic, 5)
    report.write_text(json.dumps(carrying(topic, 0, offsets[3], consumed[3][1])))
    assert main(["ops", "replay", "--failure", str(report)]) == 0
    assert counted() == 5


def test_a_replay_of_offsets_kafka_does_not_hold_changes_nothing(
    configure: Callable[..., None],
    talk: str,
    topic: str,
    kafka_bootstrap: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    offsets, counted = skipped_batch(kafka_bootstrap, topic, talk)
    beyond = ["--topic", topic, "--partition", "0", "--first", str(offsets[3]), "--last", "99"]
    assert main(["ops", "replay", *beyond]) == 1
    assert "returned nothing past" in capsys.readouterr().err
    (tmp_path / "junk.json").write_text('{"Records": []}')
    assert main(["ops", "replay", "--failure", str(tmp_path / "junk.json")]) == 2
    assert main(["ops", "replay", "--topic", topic]) == 2  # a range needs all four
    # A report that is JSON but not an object, a range backwards, a negative offset: refused
    (tmp_path / "list.json").write_text("[]")
    assert main(["ops", "replay", "--failure", str(tmp_path / "list.json")]) == 2
    assert "not a Kafka on-failure report" in capsys.readouterr().err
    for first, last in ((10, 5), (-1, 2)):
        report = {
            "KafkaBatchInfo": {
                "recordsInfo": {
                    f"{topic}-0": {"firstRecordOffset": first, "lastRecordOffset": last}
                }
            }
        }
        (tmp_path / "span.json").write_text(json.dumps(report))
        assert main(["ops", "replay", "--failure", str(tmp_path / "span.json")]) == 2
        assert "not a range of offsets" in capsys.readouterr().err
    backwards = ["--topic", topic, "--partition", "0", "--first", "5", "--last", "2"]
    assert main(["ops", "replay", *backwards]) == 2
    assert "--last (2) comes before --first (5)" in capsys.readouterr().err
    negative = ["--topic", topic, "--partition", "-1", "--first", "0", "--last", "2"]
    assert main(["ops", "replay", *negative]) == 2
    assert counted() == 3


def test_a_report_carrying_records_kafka_never_held_is_refused_and_skips_nothing(
    configure: Callable[..., None],
    talk: str,
    topic: str,
    kafka_bootstrap: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a skipped batch on a partition whose records end at offset 4
    offsets, counted = skipped_batch(kafka_bootstrap, topic, talk)
    assert counted() == 3
    # When the operator replays reports that carry records of another broker or topic: one at
    # offset 42 of that partition, one on a partition the topic does not have, one at an offset
    # the partition has but with another record
    for partition, offset, said in (
        (0, 42, "never written there"),
        (7, 0, "never written there"),
        (0, offsets[2], "is not the one Kafka holds there"),
    ):
        rating = RatingSubmitted.new(talk, 5).to_json()
        (tmp_path / "report.json").write_text(
            json.dumps(carrying(topic, partition, offset, rating))
        )
        # Then each is refused in one line, before anything is stored
        assert main(["ops", "replay", "--failure", str(tmp_path / "report.json")]) == 1
        err = capsys.readouterr().err
        assert said in err
        assert "(a report of another broker or topic?); nothing replayed" in err
    assert counted() == 3
    # And the next real record of the partition still counts (a stored offset 42 would have
    # made the projector skip it as applied)
    following = RatingSubmitted.new(talk, 2)
    [offset] = published(kafka_bootstrap, topic, [following])
    record = kafka_record(topic, 0, offset, following.to_json())
    load_function("projector")(kafka_event([record]), LambdaContextStub("projector"))
    assert counted() == 4


def a_deployment_s_read_model(
    configure: Callable[..., None], talk: str, topic: str
) -> RedisReadModel:
    """A read model of its own (a deployment's), counting three ratings of the talk projected
    from the suite's event store; RATINGS_CONNECTION names it."""
    redis.Redis.from_url(ELSEWHERE_RATINGS).flushdb()
    configure(RATINGS_CONNECTION=ELSEWHERE_RATINGS)
    events = [RatingSubmitted.new(talk, 4) for _ in range(3)]
    load_function("projector")(
        kafka_event(ratings_batch(topic, 0, 0, events)), LambdaContextStub("projector")
    )
    model = RedisReadModel(ELSEWHERE_RATINGS)
    assert model.histogram(talk).total == 3
    return model


def test_a_rebuild_from_an_event_store_without_the_read_model_s_talks_is_refused(
    configure: Callable[..., None], talk: str, topic: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a read model (a deployment's) counting three ratings of a talk, projected from the
    # suite's event store
    model = a_deployment_s_read_model(configure, talk, topic)
    # When the operator rebuilds it with TALKS_CONNECTION naming another event store (one that
    # holds none of its talks' ratings: a local default left in place)
    recreate(ELSEWHERE_TALKS)
    configure(RATINGS_CONNECTION=ELSEWHERE_RATINGS, TALKS_CONNECTION=ELSEWHERE_TALKS)
    capsys.readouterr()
    try:
        assert main(["ops", "rebuild"]) == 1
        # Then it is refused, saying why and how to go on, and nothing is replaced: the counts
        # stand and the projector is not held off
        said = capsys.readouterr().err
        assert "nothing replaced" in said
        assert "of which the event store in" in said
        assert "--force" in said
        assert model.histogram(talk).total == 3
        assert model.lock_for_rebuild()
        model.unlock_after_rebuild()
        # And --force rebuilds from that event store all the same (the operator's call)
        assert main(["ops", "rebuild", "--force"]) == 0
        assert model.histogram(talk).total == 0
        # And from the read model's own event store it rebuilds without a word of it
        configure(RATINGS_CONNECTION=ELSEWHERE_RATINGS)
        assert main(["ops", "rebuild"]) == 0
        assert model.histogram(talk).total == 3
    finally:
        redis.Redis.from_url(ELSEWHERE_RATINGS).flushdb()


def test_a_recreated_topic_or_a_replay_with_another_event_store_changes_nothing(
    configure: Callable[..., None],
    talk: str,
    topic: str,
    kafka_bootstrap: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a read model (a deployment's) counting three ratings of a talk, projected from the
    # suite's event store, and a fourth rating on the topic that the replay would read
    model = a_deployment_s_read_model(configure, talk, topic)
    [offset] = published(kafka_bootstrap, topic, [RatingSubmitted.new(talk, 2)])
    applied = model.client.hgetall("projector/offsets")
    # When the operator, with TALKS_CONNECTION naming another event store (a local default
    # left in place), says the topic was recreated, then replays a span of it
    recreate(ELSEWHERE_TALKS)
    configure(RATINGS_CONNECTION=ELSEWHERE_RATINGS, TALKS_CONNECTION=ELSEWHERE_TALKS)
    span = ["--topic", topic, "--partition", "0", "--first", str(offset), "--last", str(offset)]
    try:
        for command in (["topic-recreated", topic], ["replay", *span]):
            capsys.readouterr()
            assert main(["ops", *command]) == 1, command
            # Then each is refused, saying why and how to go on (these commands end with a
            # rebuild, which emptied the counts and moved the offsets back)
            said = capsys.readouterr().err
            assert "nothing replaced" in said, command
            assert "Is TALKS_CONNECTION this read model's event store?" in said
            assert "`talkrate ops rebuild --force` first" in said
            # And the read model's counts and offsets stand, and nothing was stored in the
            # other event store (replayed events there would count nowhere)
            assert model.histogram(talk).total == 3
            assert model.client.hgetall("projector/offsets") == applied
            with psycopg2.connect(ELSEWHERE_TALKS) as connection, connection.cursor() as cursor:
                cursor.execute("SELECT count(*) FROM rating_events")
                assert cursor.fetchone() == (0,)
            connection.close()
    finally:
        redis.Redis.from_url(ELSEWHERE_RATINGS).flushdb()


def test_an_operator_command_names_the_backend_that_is_down_in_one_line(
    configure: Callable[..., None],
    talk: str,
    topic: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given Redis, then Kafka, configured where nothing listens (a backend that went away)
    from sam_emulator.serving import free_port

    nowhere = free_port()
    configure(RATINGS_CONNECTION=f"redis://127.0.0.1:{nowhere}/0")
    capsys.readouterr()
    # When the operator rebuilds the read model
    assert main(["ops", "rebuild"]) == 1
    # Then one line says Redis cannot be reached (not an "unexpected" library error)
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("talkrate: Redis (the read model) is unreachable"), line
    assert "unexpected" not in line

    # And a database number that Redis does not have is said as such, naming the setting
    configure(RATINGS_CONNECTION=f"{REDIS}/99")
    assert main(["ops", "rebuild"]) == 1
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("talkrate: Redis refused the database RATINGS_CONNECTION names"), line

    # And when PostgreSQL is the one away, the rebuild says so before it pauses the projector
    # (it paused it and took the rebuild's lock first, then found the event store away)
    configure(TALKS_CONNECTION=f"postgresql://postgres@127.0.0.1:{nowhere}/talkrate")
    assert main(["ops", "rebuild"]) == 1
    said = capsys.readouterr()
    [line] = said.err.strip().splitlines()
    assert line.startswith("talkrate: PostgreSQL is unreachable"), line
    assert "projector paused" not in said.out

    # And when Kafka is the one away, a replay from it says so within seconds
    configure(STREAMS_CONNECTION=f"127.0.0.1:{nowhere}")
    span = ["--topic", topic, "--partition", "0", "--first", "0", "--last", "1"]
    started = time.monotonic()
    assert main(["ops", "replay", *span]) == 1
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"talkrate: Kafka at 127.0.0.1:{nowhere} is unreachable"), line
    assert time.monotonic() - started < 15

    # And a broker named with its scheme is named so, kafka-python's words too (they read
    # `kafka://kafka://…`: the entry past its scheme was replaced inside the entry)
    configure(STREAMS_CONNECTION=f"kafka://127.0.0.1:{nowhere}")
    assert main(["ops", "replay", *span]) == 1
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line == (
        f"talkrate: Kafka at kafka://127.0.0.1:{nowhere} is unreachable: KafkaTimeoutError: "
        f"Unable to bootstrap from ['kafka://127.0.0.1:{nowhere}']"
    )

    # And a broker named with its scheme, and a user and password, is named as GET / names it:
    # the scheme kept, the credentials said nowhere (kafka-python's own words quote them)
    configure(STREAMS_CONNECTION=f"SASL_SSL://app:hunter2@127.0.0.1:{nowhere}")
    assert main(["ops", "replay", *span]) == 1
    said = capsys.readouterr()
    [line] = said.err.strip().splitlines()
    assert line.startswith(f"talkrate: Kafka at SASL_SSL://127.0.0.1:{nowhere} is unreachable")
    assert "hunter2" not in said.out + said.err
    assert "app:" not in said.out + said.err


def test_a_topic_recreated_on_the_broker_is_told_to_the_backends_and_nothing_is_skipped(
    configure: Callable[..., None],
    talk: str,
    topic: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given three ratings projected from the topic, which an operator then deletes and creates
    # again: its offsets begin at 0 again
    projector = load_function("projector")
    context = LambdaContextStub("projector")
    old = [RatingSubmitted.new(talk, 5) for _ in range(3)]
    projector(kafka_event(ratings_batch(topic, 0, 0, old)), context)
    # And the new topic's first record, at an offset the old one had, was skipped as applied
    first = projector(
        kafka_event(ratings_batch(topic, 0, 1, [RatingSubmitted.new(talk, 1)])), context
    )
    assert first["skipped"] == 1
    capsys.readouterr()
    # When the operator first mistypes the topic's name, Then nothing is done (it retired
    # nothing, rebuilt, and exited 0, the skipped rating still not counted)
    assert main(["ops", "topic-recreated", topic + "x"]) == 2
    refused = capsys.readouterr()
    assert f"{topic + 'x'!r} is not the ratings topic ({topic!r}" in refused.err
    assert "filed as retired" not in refused.out
    assert wiring.read_model().histogram(talk).counts["1"] == 0
    # When the operator says the topic was recreated
    assert main(["ops", "topic-recreated", topic]) == 0
    said = capsys.readouterr().out
    assert f"topic-recreated: 4 stored positions of {topic!r} filed as retired" in said
    # Then the skipped rating counts, and the new topic's next record is projected, not skipped
    assert wiring.read_model().histogram(talk).counts == {"1": 1, "2": 0, "3": 0, "4": 0, "5": 3}
    # And the old topic's ratings, stored under its retired positions, are projected still
    for event in old:
        assert (
            rating_status(
                str(event.event_id), wiring.event_store(), wiring.outbox(), wiring.read_model()
            )
            == "projected"
        )
    after = projector(
        kafka_event(ratings_batch(topic, 0, 2, [RatingSubmitted.new(talk, 2)])), context
    )
    assert after["applied"] == 1
    assert wiring.read_model().histogram(talk).counts["2"] == 1


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_dead_letters_read_by_a_reader_that_left_end_quietly_as_other_listings_do(
    configure: Callable[..., None],
    talk: str,
    capsys: pytest.CaptureFixture[str],
    as_json: bool,
) -> None:
    # Given dead letters waiting, and the operator listing them into a pipe whose reader has
    # gone (`talkrate ops dead-letters | head -1` that got its line): closed before the first
    # write, so the write fails whatever the size of the listing
    set_aside_and_listed(*rated_seven(talk, 3), first_offset=0, capsys=capsys)
    command = [sys.executable, "-m", "talkrate_cli", *(["--json"] if as_json else [])]
    process = subprocess.Popen(
        [*command, "ops", "dead-letters"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert process.stderr is not None
    process.stdout.close()
    # Then it ends as `talkrate talks | head -1` does: quietly, without a traceback or an
    # "Exception ignored" line, exit 141
    stderr = process.stderr.read()
    assert (process.wait(timeout=60), stderr) == (141, "")


def test_a_rebuild_s_progress_in_a_log_is_a_few_lines_and_its_json_stays_one_document(
    configure: Callable[..., None], topic: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given an event store of 30,000 ratings (the store reads them 5,000 at a time)
    recreate(ELSEWHERE_TALKS)
    with psycopg2.connect(ELSEWHERE_TALKS) as connection, connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO rating_events (event_id, talk_id, value, occurred_at, topic, partition, "
            '"offset") SELECT gen_random_uuid(), %s, 1 + n %% 5, now(), %s, 0, n '
            "FROM generate_series(0, 29999) AS n",
            ("flight-of-the-gopher", topic),
        )
    connection.close()
    redis.Redis.from_url(ELSEWHERE_RATINGS).flushdb()
    configure(RATINGS_CONNECTION=ELSEWHERE_RATINGS, TALKS_CONNECTION=ELSEWHERE_TALKS)
    capsys.readouterr()
    try:
        # When the operator rebuilds the read model with its output going to a log (no terminal)
        assert main(["ops", "rebuild"]) == 0
        lines = capsys.readouterr().out.splitlines()
        # Then the count is said once, at its end, not at every 5,000 events (200 lines of a
        # log at a million), and the summary follows
        counting = [line for line in lines if line.startswith("rebuild: counted")]
        assert counting == ["rebuild: counted 30000 of 30000 events, over 1 talks"], lines
        assert lines[-1].startswith("rebuild: rebuilt 1 histograms from 30000 events"), lines
        # And with --json stdout is the one document, the progress on stderr as few
        assert main(["--json", "ops", "rebuild"]) == 0
        said = capsys.readouterr()
        assert json.loads(said.out) == {
            "talks": 1,
            "events": 30000,
            "partitions": {f"{topic}-0": 29999},
        }
        assert said.err.count("rebuild: counted") == 1, said.err
    finally:
        redis.Redis.from_url(ELSEWHERE_RATINGS).flushdb()


def test_a_dead_letter_s_bytes_are_told_from_a_text_that_looks_like_them(
    configure: Callable[..., None], capsys: pytest.CaptureFixture[str]
) -> None:
    # Given two records set aside: bytes that are not UTF-8, and a text that reads as the
    # listing wrote those bytes ("base64:" and their base64)
    binary = b"\xff\xfe\x00rating"
    mimic = ("base64:" + base64.b64encode(binary).decode()).encode()
    source = f"dlq-{uuid.uuid4().hex[:8]}"
    records = [kafka_record(source, 0, n, value) for n, value in enumerate((binary, mimic))]
    load_function("projector")(kafka_event(records), LambdaContextStub("projector"))
    capsys.readouterr()
    for args in (["ops", "dead-letters"], ["--json", "ops", "dead-letters"]):
        # When the operator lists the dead letters (a line each, or one JSON document)
        assert main(args) == 0
        out = capsys.readouterr().out
        listed = json.loads(out) if "--json" in args else list(map(json.loads, out.splitlines()))
        shown = sorted((d for d in listed if d["topic"] == source), key=lambda d: d["offset"])
        # Then the two are told apart (both read "base64://4AcmF0aW5n"), each value saying how
        # it is written
        got = [(d["value"], d.get("value_encoding")) for d in shown]
        assert got[0] != got[1], got
        assert got == [
            (base64.b64encode(binary).decode(), "base64"),
            (mimic.decode(), "utf-8"),
        ], args
        # And decoded as each says, they are the bytes set aside
        assert base64.b64decode(shown[0]["value"]) == binary
        assert shown[1]["value"].encode() == mimic


def test_ops_check_names_a_talk_whose_counts_redis_lost_while_keeping_its_built_mark(
    configure: Callable[..., None], talk: str, topic: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given an event store and a read model of their own, built, counting three ratings of a
    # talk and one of another
    recreate(ELSEWHERE_TALKS)
    redis.Redis.from_url(ELSEWHERE_RATINGS).flushdb()
    configure(RATINGS_CONNECTION=ELSEWHERE_RATINGS, TALKS_CONNECTION=ELSEWHERE_TALKS)
    other = f"{talk}-other"
    events = [RatingSubmitted.new(talk, 4) for _ in range(3)] + [RatingSubmitted.new(other, 2)]
    load_function("projector")(
        kafka_event(ratings_batch(topic, 0, 0, events)), LambdaContextStub("projector")
    )
    try:
        assert main(["ops", "rebuild"]) == 0
        capsys.readouterr()
        # When the operator checks it
        assert main(["--json", "ops", "check"]) == 0
        # Then it matches
        assert json.loads(capsys.readouterr().out) == {
            "state": "built",
            "built": True,
            "talks": 2,
            "differing": [],
        }
        # And when a talk's counts are deleted (a mistaken DEL; the built mark kept)
        redis.Redis.from_url(ELSEWHERE_RATINGS).delete(histogram_key(talk))
        assert RedisReadModel(ELSEWHERE_RATINGS).is_built()
        # Then the check fails naming that talk, the three ratings it lacks, and what to run
        assert main(["ops", "check"]) == 1
        said = capsys.readouterr()
        assert f"{talk}: the event store counts 3 ratings, the read model 0" in said.out
        assert other not in said.out
        assert "1 of 2 rated talks differ" in said.err
        assert "talkrate ops rebuild" in said.err
        # And after the rebuild it says, it matches again
        assert main(["ops", "rebuild"]) == 0
        assert main(["ops", "check"]) == 0
        capsys.readouterr()
        # And when the event store lacks a talk the read model counts (restored without it)
        with psycopg2.connect(ELSEWHERE_TALKS) as connection, connection.cursor() as cursor:
            cursor.execute("DELETE FROM rating_events WHERE talk_id = %s", (other,))
        connection.close()
        # Then the check fails naming it too (compared from the store's side alone, it matched)
        assert main(["ops", "check"]) == 1
        said = capsys.readouterr()
        assert f"{other}: the event store counts 0 ratings, the read model 1" in said.out
        assert "1 of 2 rated talks differ" in said.err
    finally:
        redis.Redis.from_url(ELSEWHERE_RATINGS).flushdb()


class HeldRebuild:
    """A rebuild of the read model at `url` from the event store at `dsn`, run in a thread and
    held in its read of the event store (its lock taken) until `finish`: a rebuild in progress,
    as an operator's `ops check` meets it. `lost`: the read model is not built (the rebuild the
    projector runs after Redis lost its data), else an operator's rebuild of a built one."""

    def __init__(self, dsn: str, url: str, lost: bool) -> None:
        self.reading, self.go = threading.Event(), threading.Event()
        self.failed: list[BaseException] = []
        self._dsn, self._url, self._lost = dsn, url, lost
        self._thread = threading.Thread(target=self._run, name="held-rebuild")

    def state(self, progress: Callable[[str], None]) -> Any:
        self.reading.set()
        assert self.go.wait(60)
        return self._store.state(progress)

    def _run(self) -> None:
        try:
            with event_store(self._dsn) as self._store:
                rebuild = rebuild_if_lost if self._lost else rebuild_read_model
                rebuild(self, RedisReadModel(self._url), lambda _: None)
        except BaseException as error:  # said by finish(), in the test's thread
            self.failed.append(error)
            self.reading.set()

    def __enter__(self) -> HeldRebuild:
        self._thread.start()
        assert self.reading.wait(30)
        assert not self.failed, self.failed
        return self

    def __exit__(self, *_: object) -> None:
        self.go.set()
        self._thread.join(60)
        assert not self._thread.is_alive()
        assert not self.failed, self.failed


def test_ops_check_tells_a_rebuild_in_progress_from_a_read_model_lost(
    configure: Callable[..., None], talk: str, topic: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given an event store and a read model of their own, built, counting two ratings of a talk
    recreate(ELSEWHERE_TALKS)
    ratings = redis.Redis.from_url(ELSEWHERE_RATINGS)
    ratings.flushdb()
    configure(RATINGS_CONNECTION=ELSEWHERE_RATINGS, TALKS_CONNECTION=ELSEWHERE_TALKS)
    events = [RatingSubmitted.new(talk, 5) for _ in range(2)]
    load_function("projector")(
        kafka_event(ratings_batch(topic, 0, 0, events)), LambdaContextStub("projector")
    )
    capsys.readouterr()
    try:
        # When Redis loses its data (flushed, or restarted empty) and nothing rebuilds it yet
        ratings.flushdb()
        # Then the check fails, saying the read model is lost and what rebuilds it
        assert main(["ops", "check"]) == 1
        said = capsys.readouterr()
        assert "the read model is lost" in said.err
        assert "no rebuild is running" in said.err
        assert "`talkrate ops rebuild`" in said.err
        assert main(["--json", "ops", "check"]) == 1
        document = json.loads(capsys.readouterr().out)
        assert document["state"] == "lost"
        assert document["built"] is False
        assert "the read model is lost" in document["error"]["detail"]

        # And while a rebuild of it runs (the projector's, after the loss), it says so, with
        # how long its lock has been held and when it runs out, and exits 0: a rebuild ends by
        # itself (or its lock runs out, and the next check says the read model is lost)
        with HeldRebuild(ELSEWHERE_TALKS, ELSEWHERE_RATINGS, lost=True):
            assert main(["ops", "check"]) == 0
            said = capsys.readouterr()
            assert "the read model is being rebuilt" in said.out
            assert re.search(r"its lock held for \d+ s, running out in \d+ s", said.out), said
            assert "lost" not in said.out + said.err
            assert main(["--json", "ops", "check"]) == 0
            document = json.loads(capsys.readouterr().out)
            assert document["state"] == "rebuilding"
            assert document["built"] is False
            lock = document["rebuildLock"]
            assert 0 <= lock["heldSeconds"] < 30
            assert 0 < lock["expiresInSeconds"] <= 60
            assert lock["heldBy"] == "rebuild"
        # And once it ends, the read model is built and matches
        assert main(["--json", "ops", "check"]) == 0
        assert json.loads(capsys.readouterr().out)["state"] == "built"

        # And while an operator's rebuild of the built read model runs (the projector held off,
        # batches stored and not counted until it swaps), nothing is compared: it says so, 0
        with HeldRebuild(ELSEWHERE_TALKS, ELSEWHERE_RATINGS, lost=False):
            assert main(["--json", "ops", "check"]) == 0
            document = json.loads(capsys.readouterr().out)
            assert document["state"] == "rebuilding"
            assert document["built"] is True
            assert main(["ops", "check"]) == 0
            assert "the read model is being rebuilt" in capsys.readouterr().out
    finally:
        ratings.flushdb()


def test_ops_check_s_command_for_a_stale_lock_names_an_acl_user_and_reads_rediscli_auth(
    configure: Callable[..., None], capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a Redis whose default user has a password, reached as an ACL user of its own (as
    # ElastiCache's RBAC users are), and a rebuild's lock without expiry in its read model
    recreate(ELSEWHERE_TALKS)
    admin = redis.Redis.from_url(ELSEWHERE_RATINGS)
    admin.flushdb()
    admin.execute_command("ACL", "SETUSER", "ops", "on", ">opspw", "~*", "+@all")
    admin.execute_command("ACL", "SETUSER", "default", "resetpass", ">defaultpw")
    as_ops = ELSEWHERE_RATINGS.replace("redis://", "redis://ops:opspw@", 1)
    ops_client = redis.Redis.from_url(as_ops)
    try:
        ops_client.set(REBUILD_LOCK_KEY, "x")
        configure(RATINGS_CONNECTION=as_ops, TALKS_CONNECTION=ELSEWHERE_TALKS)
        capsys.readouterr()
        # When the check finds it stale
        assert main(["ops", "check"]) == 1
        said = capsys.readouterr().err
        # Then the command it gives names the user, never the password, and the message says
        # where redis-cli takes the password from
        [command] = re.findall(r"`(redis-cli [^`]+)`", said)
        location = redis_location(ELSEWHERE_RATINGS)
        assert command == f"redis-cli -u {location} --user ops DEL projector/rebuilding", said
        assert "opspw" not in said
        assert "REDISCLI_AUTH" in said
        # And run as given, with the password in REDISCLI_AUTH, it clears the lock
        ran = subprocess.run(
            command.split(),
            env={**os.environ, "REDISCLI_AUTH": "opspw"},
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert (ran.returncode, ran.stdout.strip()) == (0, "1"), ran
        assert not ops_client.exists(REBUILD_LOCK_KEY)
    finally:
        ops_client.execute_command("ACL", "SETUSER", "default", "nopass")
        ops_client.delete(REBUILD_LOCK_KEY)
        ops_client.execute_command("ACL", "DELUSER", "ops")
        ops_client.close()
        admin.close()


def test_ops_check_says_a_lock_without_expiry_is_stale_and_what_holds_a_live_one(
    configure: Callable[..., None], talk: str, topic: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given an event store and a read model of their own, built, counting a rating of a talk
    recreate(ELSEWHERE_TALKS)
    ratings = redis.Redis.from_url(ELSEWHERE_RATINGS)
    ratings.flushdb()
    configure(RATINGS_CONNECTION=ELSEWHERE_RATINGS, TALKS_CONNECTION=ELSEWHERE_TALKS)
    project = load_function("projector")
    project(
        kafka_event(ratings_batch(topic, 0, 0, [RatingSubmitted.new(talk, 5)])),
        LambdaContextStub("projector"),
    )
    capsys.readouterr()
    try:
        # When the rebuild's lock is set without expiry (by hand: `SET projector/rebuilding x`),
        # and a batch comes meanwhile (held off: the projector refuses while the lock exists)
        ratings.set(REBUILD_LOCK_KEY, "x")
        held_off = kafka_event(ratings_batch(topic, 0, 1, [RatingSubmitted.new(talk, 3)]))
        with pytest.raises(BackendUnavailable):
            project(held_off, LambdaContextStub("projector"))
        capsys.readouterr()
        # Then the check fails on every run, calling the lock stale, with the command that
        # clears it, to be run only while nothing that takes the lock runs
        for _ in range(2):
            assert main(["ops", "check"]) == 1
            said = capsys.readouterr()
            assert "held off by a stale lock" in said.err
            assert "has no expiry" in said.err
            assert "(a rebuild or a forget-voter)" in said.err
            assert "Only while no `talkrate ops rebuild`" in said.err
            assert "ops forget-voter` is running" in said.err
            assert "being rebuilt" not in said.out + said.err
        # And a rebuild asked for meanwhile says the lock never runs out, not to wait for it
        assert main(["ops", "rebuild"]) == 1
        refused = capsys.readouterr().err
        assert "the rebuild's lock has no expiry" in refused
        assert "`talkrate ops check` names it" in refused
        assert "has not expired" not in refused
        command = re.findall(r"`(redis-cli [^`]+)`", said.err)
        location = redis_location(ELSEWHERE_RATINGS)
        assert command == [f"redis-cli -u {location} DEL projector/rebuilding"], said.err
        assert main(["--json", "ops", "check"]) == 1
        document = json.loads(capsys.readouterr().out)
        assert document["state"] == "stale-lock"
        assert document["rebuildLock"] == {
            "heldSeconds": None,
            "expiresInSeconds": None,
            "heldBy": None,
        }
        # When the operator runs that command, and the batch is delivered again
        subprocess.run(command[0].split(), check=True, capture_output=True, timeout=30)
        assert project(held_off, LambdaContextStub("projector"))["applied"] == 1
        capsys.readouterr()
        # Then the check finds the read model built and matching
        assert main(["--json", "ops", "check"]) == 0
        assert json.loads(capsys.readouterr().out)["state"] == "built"

        # When `ops forget-voter`'s lock is held (it takes the rebuild's lock, and says so in
        # its value), the check says so, and that it ends by itself: 0
        model = RedisReadModel(ELSEWHERE_RATINGS)
        assert model.lock_for_rebuild(by="forget-voter")
        assert main(["ops", "check"]) == 0
        said = capsys.readouterr()
        assert "the read model is held by `ops forget-voter`" in said.out, said
        assert re.search(
            r"held for \d+ s, running out in \d+ s unless `ops forget-voter`", said.out
        )
        assert main(["--json", "ops", "check"]) == 0
        document = json.loads(capsys.readouterr().out)
        assert (document["state"], document["rebuildLock"]["heldBy"]) == (
            "rebuilding",
            "forget-voter",
        )
        model.unlock_after_rebuild()

        # When an older version's lock is held (its time and id, nothing of what took it)
        ratings.set(REBUILD_LOCK_KEY, f"{int(time.time() * 1000)}-{uuid.uuid4().hex}", ex=60)
        # Then the check names both that take it, with how long it was held: 0
        assert main(["ops", "check"]) == 0
        said = capsys.readouterr()
        assert "being rebuilt or forgetting a voter (its lock held for" in said.out, said
        assert "a rebuild or a forget-voter ends by itself" in said.out
    finally:
        ratings.delete(REBUILD_LOCK_KEY)
        ratings.flushdb()


def a_stack_with_a_topic_of_its_own(
    configure: Callable[..., None], kafka_bootstrap: str, talk: str
) -> tuple[str, RedisReadModel]:
    """An event store and a read model of their own (a dev stack's) and a topic of its own on
    the broker: four ratings of the talk published to its partitions 0 and 1 (two each) and
    projected, then the event store restored from a backup that lost the last of each (no
    longer stored, still counted and applied). RATINGS_TOPIC is left as `configure` set it:
    another stack's topic, which this read model never applied."""
    recreate(ELSEWHERE_TALKS)
    redis.Redis.from_url(ELSEWHERE_RATINGS).flushdb()
    configure(RATINGS_CONNECTION=ELSEWHERE_RATINGS, TALKS_CONNECTION=ELSEWHERE_TALKS)
    own = f"talkrate-dev-ratings-{uuid.uuid4().hex[:8]}"
    ensure_topics(kafka_bootstrap, [own], partitions=2)
    events = [RatingSubmitted.new(talk, value) for value in (5, 4, 3, 2)]
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    try:
        sent = [
            producer.send(own, e.to_json(), key=e.key, partition=n // 2)
            for n, e in enumerate(events)
        ]
        positions = [(m.partition, m.offset) for m in (f.get(timeout=10) for f in sent)]
    finally:
        producer.close()
    load_function("projector")(
        kafka_event(
            [
                kafka_record(own, p, o, e.to_json(), e.key)
                for (p, o), e in zip(positions, events, strict=True)
            ]
        ),
        LambdaContextStub("projector"),
    )
    model = RedisReadModel(ELSEWHERE_RATINGS)
    assert model.histogram(talk).total == 4
    with psycopg2.connect(ELSEWHERE_TALKS) as connection, connection.cursor() as cursor:
        cursor.execute('DELETE FROM rating_events WHERE topic = %s AND "offset" = 1', (own,))
        assert cursor.rowcount == 2
    connection.close()
    return own, model


def test_rebuild_and_check_refuse_a_topic_the_read_model_never_applied(
    configure: Callable[..., None],
    talk: str,
    topic: str,
    kafka_bootstrap: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a dev stack with a topic of its own, whose event store was restored without the
    # last rating of each partition, and an operator whose RATINGS_TOPIC is another stack's
    own, model = a_stack_with_a_topic_of_its_own(configure, kafka_bootstrap, talk)
    applied = model.client.hgetall("projector/offsets")
    try:
        capsys.readouterr()
        for command, nothing in (("check", "nothing compared"), ("rebuild", "nothing replaced")):
            # When they check the read model, or rebuild it
            assert main(["ops", command]) == 1, command
            said = capsys.readouterr()
            # Then it is refused in one line naming the topic the read model applied and how
            # to set RATINGS_TOPIC (they compared the other topic's positions, none: the check
            # said to rebuild, and the rebuild took the two lost ratings out of the counts)
            [line] = said.err.strip().splitlines()
            assert line == (
                f"talkrate: RATINGS_TOPIC is {topic!r}, and the read model in "
                f"{redis_location(ELSEWHERE_RATINGS)} has applied no record of it, only of "
                f"{own!r}: its positions are the ones compared with the event store's, so a "
                f"span the event store lost would go unseen; {nothing}. Set RATINGS_TOPIC to "
                'the stack\'s RatingsTopic (`export RATINGS_TOPIC="$(parameter RatingsTopic)"`: '
                "docs/operations.md, the operator commands' environment)"
            ), line
            # And nothing was replaced: the four ratings still count, the offsets stand, and
            # the projector is not held off
            assert model.histogram(talk).total == 4
            assert model.client.hgetall("projector/offsets") == applied
            assert model.rebuild_lock() is None
        # And with --json, each says so in its error document, with the topics
        for command in ("check", "rebuild"):
            document = ops_json(capsys, 1, command)
            assert document["error"]["type"] == "urn:talkrate:cli:topic-not-applied", document
            assert (document["ratingsTopic"], document["appliedTopics"]) == (topic, [own])
        # And RATINGS_TOPIC not set at all (`ratings`) is said to be its default
        assert "RATINGS_TOPIC is 'ratings' (not set: its default), and the read model" in (
            said_unset(monkeypatch, capsys, "RATINGS_TOPIC", "check")
        )
        # When RATINGS_TOPIC names the stack's own topic
        configure(
            RATINGS_CONNECTION=ELSEWHERE_RATINGS,
            TALKS_CONNECTION=ELSEWHERE_TALKS,
            RATINGS_TOPIC=own,
        )
        # Then the check sees the event store behind on both partitions and names their
        # replays, and the rebuild refuses until they are done
        assert main(["ops", "check"]) == 1
        said = " ".join(capsys.readouterr().err.split())
        for partition in (0, 1):
            assert (
                f"talkrate ops replay --topic {own} --partition {partition} --first 1 --last 1"
                in said
            )
        assert main(["ops", "rebuild"]) == 1
        assert "nothing replaced: the event store is behind" in " ".join(
            capsys.readouterr().err.split()
        )
        assert model.histogram(talk).total == 4
    finally:
        redis.Redis.from_url(ELSEWHERE_RATINGS).flushdb()


def test_a_replay_and_a_recreated_topic_refuse_a_topic_the_read_model_never_applied(
    configure: Callable[..., None],
    talk: str,
    topic: str,
    kafka_bootstrap: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given the dev stack whose restored event store lacks the last rating of each partition,
    # and an operator whose RATINGS_TOPIC is another stack's
    own, model = a_stack_with_a_topic_of_its_own(configure, kafka_bootstrap, talk)
    applied = model.client.hgetall("projector/offsets")
    span = ["--topic", own, "--partition", "0", "--first", "1", "--last", "1"]
    try:
        capsys.readouterr()
        # When they replay the first partition's lost rating (its rebuild compared the other
        # topic's positions, none: it rebuilt, taking the second partition's out of the counts
        # and moving its offsets back, so that no check saw it lost any more)
        assert main(["ops", "replay", *span]) == 1
        [line] = capsys.readouterr().err.strip().splitlines()
        # Then it is refused, and nothing is stored or replaced
        assert line.startswith(f"talkrate: RATINGS_TOPIC is {topic!r}, and the read model"), line
        assert f"only of {own!r}: the rebuild that ends the replay compares" in line
        assert "; nothing stored. Set RATINGS_TOPIC to the stack's RatingsTopic" in line
        with psycopg2.connect(ELSEWHERE_TALKS) as connection, connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM rating_events WHERE topic = %s", (own,))
            assert cursor.fetchone() == (2,)
        connection.close()
        assert model.histogram(talk).total == 4
        assert model.client.hgetall("projector/offsets") == applied
        # And the topic named for recreated (the other stack's: RATINGS_TOPIC's) is refused too,
        # nothing retired
        assert main(["ops", "topic-recreated", topic]) == 1
        [line] = capsys.readouterr().err.strip().splitlines()
        assert "its positions, none the read model's, would be filed as retired" in line, line
        assert line.endswith("the operator commands' environment)"), line
        # When RATINGS_TOPIC names the stack's topic, Then the replay stores the rating and
        # waits for the other partition's replay before it rebuilds, which counts all four
        configure(
            RATINGS_CONNECTION=ELSEWHERE_RATINGS,
            TALKS_CONNECTION=ELSEWHERE_TALKS,
            RATINGS_TOPIC=own,
        )
        assert main(["ops", "replay", *span]) == 1
        assert "the records are stored; nothing replaced" in capsys.readouterr().err
        assert main(["ops", "replay", *span[:2], "--partition", "1", *span[4:]]) == 0
        assert model.histogram(talk).total == 4
        assert main(["ops", "check"]) == 0
    finally:
        redis.Redis.from_url(ELSEWHERE_RATINGS).flushdb()
