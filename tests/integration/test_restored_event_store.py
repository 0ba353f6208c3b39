"""PostgreSQL restored from a backup under a read model that counted more (pg_dump, pg_restore):
the rebuild says what the event store lost and how to bring it back, and the replay that brings
it back counts each rating once."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg2
import pytest
from kafka import KafkaProducer

from talkrate import wiring
from talkrate.events import Rating
from talkrate.models import RatingSubmitted
from talkrate_cli.main import main
from talkrate_local.database import recreate
from tests.backends import RESTORED_TALKS
from tests.builders import LambdaContextStub, kafka_event, kafka_record, load_function
from tests.integration.test_kafka_publisher import consume_to_end
from tests.integration.test_redis_replica import lone_redis

pytestmark = pytest.mark.integration

REPLAY = re.compile(r"`talkrate (ops replay [^`]*)`")


class Deployment:
    """A deployment of its own: an event store that is backed up and restored whole, its read
    model, and the test's ratings topic, delivered to the projector as its event source
    mapping does (each delivery: what Kafka holds past what was delivered before)."""

    def __init__(self, bootstrap: str, topic: str, talk: str, backup: Path) -> None:
        self.bootstrap, self.topic, self.talk, self.backup = bootstrap, topic, talk, backup
        self.delivered: set[tuple[int, int]] = set()
        self.projector = load_function("projector")

    def publish(self, partition: int, *values: int) -> list[int]:
        """Ratings of the talk published to one partition (each acknowledged): their offsets."""
        producer = KafkaProducer(bootstrap_servers=self.bootstrap, acks="all")
        try:
            events = [RatingSubmitted.new(self.talk, value) for value in values]
            sent = [
                producer.send(self.topic, e.to_json(), key=e.key, partition=partition)
                for e in events
            ]
            return [future.get(timeout=10).offset for future in sent]
        finally:
            producer.close()

    def deliver(self) -> dict[str, Any]:
        """Hand the projector every record not delivered yet; what its batch did."""
        fresh = [
            r
            for r in consume_to_end(self.bootstrap, self.topic)
            if (r.partition, r.offset) not in self.delivered
        ]
        self.delivered |= {(r.partition, r.offset) for r in fresh}
        records = [kafka_record(self.topic, r.partition, r.offset, r.value, r.key) for r in fresh]
        done: dict[str, Any] = self.projector(kafka_event(records), LambdaContextStub("projector"))
        return done

    def publish_again(self, partition: int, offset: int) -> int:
        """The record Kafka holds at the partition's offset published again to it, as the relay
        publishes an outbox entry Kafka had in fact taken (or a producer retries): its offset."""
        [value] = [
            r.value
            for r in consume_to_end(self.bootstrap, self.topic)
            if (r.partition, r.offset) == (partition, offset)
        ]
        producer = KafkaProducer(bootstrap_servers=self.bootstrap, acks="all")
        try:
            sent = producer.send(self.topic, value, partition=partition).get(timeout=10)
            return int(sent.offset)
        finally:
            producer.close()

    def give_up_on(self, partition: int, offsets: list[int]) -> None:
        """Take these records as delivered without the projector seeing them: the batch Lambda
        gave up on, and went on past."""
        self.delivered |= {(partition, offset) for offset in offsets}

    def copies_of(self, rating: Rating) -> list[tuple[int, int]]:
        """Where Kafka holds records of this event: (partition, offset) each, in order."""
        held = consume_to_end(self.bootstrap, self.topic)
        mine = str(rating.event_id).encode()
        return sorted((r.partition, r.offset) for r in held if mine in r.value)

    def counted(self) -> int:
        """How many of the talk's ratings the read model counts."""
        return wiring.read_model().histogram(self.talk).total

    def applied(self) -> dict[str, int]:
        """The read model's applied offsets of the topic's partitions."""
        applied = wiring.read_model().client.hgetall("projector/offsets")
        return {
            name.decode(): int(offset)
            for name, offset in applied.items()
            if name.decode().startswith(f"{self.topic}-")
        }

    def back_up(self) -> None:
        """pg_dump of the event store's database, as a nightly backup takes it."""
        subprocess.run(
            ["pg_dump", "--format=custom", f"--file={self.backup}", RESTORED_TALKS], check=True
        )

    def restore(self) -> None:
        """pg_restore of the backup over the database, as an operator restores it."""
        subprocess.run(
            [
                "pg_restore",
                "--clean",
                "--if-exists",
                "--no-owner",
                f"--dbname={RESTORED_TALKS}",
                str(self.backup),
            ],
            check=True,
        )


@pytest.fixture
def deployment(
    configure: Callable[..., None], kafka_bootstrap: str, topic: str, talk: str, tmp_path: Path
) -> Iterator[Deployment]:
    """The handlers and commands pointed at a database of their own (which pg_restore can
    replace whole) and a Redis of their own (no other test file empties it meanwhile)."""
    recreate(RESTORED_TALKS)
    with lone_redis() as ratings:
        configure(TALKS_CONNECTION=RESTORED_TALKS, RATINGS_CONNECTION=ratings)
        yield Deployment(kafka_bootstrap, topic, talk, tmp_path / "backup.dump")


def said_replays(said: str) -> list[list[str]]:
    """The `talkrate ops replay` commands a refusal names, as arguments of `main`."""
    return [shlex.split(command) for command in REPLAY.findall(said)]


def test_a_rebuild_after_a_restore_names_what_the_event_store_lost_and_its_replay_counts_it_once(
    deployment: Deployment, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given five ratings counted and stored, then the event store backed up
    topic = deployment.topic
    deployment.publish(0, 4, 4, 3, 2, 3)
    deployment.deliver()
    deployment.back_up()
    # And four more ratings accepted and counted after the backup
    assert deployment.publish(0, 1, 1, 1, 1) == [5, 6, 7, 8]
    deployment.deliver()
    assert deployment.counted() == 9
    # When PostgreSQL is restored from the backup (Redis still counts all nine)
    deployment.restore()
    assert deployment.counted() == 9
    applied = deployment.applied()
    capsys.readouterr()
    # Then a rebuild is refused, replacing nothing, naming the span the event store lost and
    # the replay that brings it back (it exited 0 and the count fell to 5)
    assert main(["ops", "rebuild"]) == 1
    said = capsys.readouterr().err
    assert (
        f"the event store is behind the read model on {topic}-0 (it holds up to offset 4, "
        "the read model applied up to 8)"
    ) in said
    [replay] = said_replays(said)
    assert replay == [
        "ops",
        "replay",
        "--topic",
        topic,
        "--partition",
        "0",
        "--first",
        "5",
        "--last",
        "8",
    ]
    assert "--force" in said
    assert deployment.counted() == 9
    assert deployment.applied() == applied
    # And the projector is not held off by the refused rebuild
    model = wiring.read_model()
    assert model.lock_for_rebuild()
    model.unlock_after_rebuild()
    # When the operator runs the replay it names
    assert main(replay) == 0
    # Then the four are stored again and counted once, and it says they were new
    out = capsys.readouterr().out
    assert "recorded 4 events: 4 new, 0 already stored (0 of them at another position)" in out
    assert deployment.counted() == 9
    # And run again it says it brought nothing back, counting nothing twice
    assert main(["--json", *replay]) == 0
    document = json.loads(capsys.readouterr().out)
    assert (document["new"], document["alreadyStored"], document["storedElsewhere"]) == (0, 4, 0)
    assert deployment.counted() == 9
    # And a rebuild now goes ahead and keeps all nine
    assert main(["ops", "rebuild"]) == 0
    assert deployment.counted() == 9


def rated_past_a_backup_on_two_partitions(deployment: Deployment) -> None:
    """Ratings on both partitions, counted; PostgreSQL backed up; more ratings on both, counted
    (restored, the event store lacks offsets 2-3 of partition 0 and 1-3 of partition 1)."""
    deployment.publish(0, 5, 5)
    deployment.publish(1, 5)
    deployment.deliver()
    deployment.back_up()
    deployment.publish(0, 2, 2)
    deployment.publish(1, 3, 3, 3)
    deployment.deliver()


def test_a_replay_that_leaves_another_span_missing_stores_its_records_and_waits_for_it(
    deployment: Deployment, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given ratings on two partitions, backed up, then more on both after the backup
    topic = deployment.topic
    rated_past_a_backup_on_two_partitions(deployment)
    assert deployment.counted() == 8
    # When PostgreSQL is restored from the backup, and a rebuild refused with --json
    deployment.restore()
    capsys.readouterr()
    assert main(["--json", "ops", "rebuild"]) == 1
    refused = json.loads(capsys.readouterr().out)
    # Then the document names both spans and their replays
    assert [(m["partition"], m["first"], m["last"]) for m in refused["missing"]] == [
        (0, 2, 3),
        (1, 1, 3),
    ]
    first, second = (shlex.split(m["replay"].removeprefix("talkrate ")) for m in refused["missing"])
    # When the operator replays the first span
    assert main(first) == 1
    said = capsys.readouterr()
    # Then its records are stored and said so, and the rebuild waits for the other span (it
    # would take that span's three ratings out of the counts), naming its replay
    assert "recorded 2 events: 2 new, 0 already stored" in said.out
    assert "the records are stored; nothing replaced" in said.err
    assert f"behind the read model on {topic}-1 (it holds up to offset 0" in said.err
    assert (
        "so they are not counted yet. A rebuild now would take out of the counts any rating "
        "that those offsets alone hold"
    ) in said.err
    assert said_replays(said.err) == [second]
    assert deployment.counted() == 8
    # And the replay of the second span rebuilds, every rating counted once
    assert main(second) == 0
    assert deployment.counted() == 8
    assert main(["ops", "rebuild"]) == 0
    assert deployment.counted() == 8


def test_ops_check_after_a_restore_names_the_replays_in_order_then_the_rebuild(
    deployment: Deployment, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given ratings on two partitions, backed up, then more on both after the backup
    topic = deployment.topic
    rated_past_a_backup_on_two_partitions(deployment)
    # When PostgreSQL is restored from the backup, and the operator checks the read model
    deployment.restore()
    capsys.readouterr()
    assert main(["ops", "check"]) == 1
    said = capsys.readouterr().err
    # Then the check names the replay of each span the event store lost, in order, and the
    # rebuild after them (it named the rebuild alone, which refuses and names them)
    assert f"behind the read model on {topic}-0 (it holds up to offset 1" in said
    replays = said_replays(said)
    assert [r[r.index("--partition") + 1] for r in replays] == ["0", "1"]
    assert said.index("ops replay") < said.index("ops rebuild`")
    assert said.rindex("ops replay") < said.index("ops rebuild`")
    # And with --json it lists them as the rebuild's refusal does
    assert main(["--json", "ops", "check"]) == 1
    found = json.loads(capsys.readouterr().out)
    assert [(m["partition"], m["first"], m["last"]) for m in found["missing"]] == [
        (0, 2, 3),
        (1, 1, 3),
    ]
    # And once the operator has run them, in that order, the check finds nothing amiss
    assert main(replays[0]) == 1  # (its records stored; the rebuild waits for the other)
    assert main(replays[1]) == 0
    capsys.readouterr()
    assert main(["ops", "check"]) == 0
    assert deployment.counted() == 8


def test_an_outbox_entry_published_again_after_a_restore_counts_once(
    deployment: Deployment, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given two ratings counted, and a third that waited in the outbox (Kafka did not
    # acknowledge it) when the event store was backed up
    deployment.publish(0, 4, 4)
    deployment.deliver()
    waiting = Rating.of(RatingSubmitted.new(deployment.talk, 1))
    wiring.outbox().enqueue(waiting)
    deployment.back_up()
    # And the relay then published it, and it was counted
    assert main(["ops", "relay"]) == 0
    deployment.deliver()
    assert deployment.counted() == 3
    [first] = deployment.copies_of(waiting)
    # When PostgreSQL is restored (the entry waits in the outbox again) and, the projector held
    # as the runbook says, the relay publishes it again: the same event at another offset
    deployment.restore()
    assert main(["ops", "relay"]) == 0
    capsys.readouterr()
    assert main(["ops", "rebuild"]) == 1
    [replay] = said_replays(capsys.readouterr().err)
    # Then the span the rebuild names ends at the event's first offset, and its replay stores
    # the event there and counts it once
    partition, offset = first
    assert (replay[4:6], replay[-2:]) == (["--partition", str(partition)], ["--last", str(offset)])
    assert main(replay) == 0
    assert "recorded 1 event: 1 new, 0 already stored" in capsys.readouterr().out
    assert deployment.counted() == 3
    # And once the projector runs again, the copy the relay published again is a duplicate:
    # counted nowhere, and a replay of it says so
    again = deployment.deliver()
    assert (again["applied"], again["duplicates"]) == (0, 1)
    assert deployment.counted() == 3
    [_, (_, copy)] = deployment.copies_of(waiting)
    span = ["--topic", deployment.topic, "--partition", str(partition)]
    assert main(["ops", "replay", *span, "--first", str(copy), "--last", str(copy)]) == 0
    out = capsys.readouterr().out
    assert "recorded 1 event: 0 new, 1 already stored (1 of them at another position)" in out
    assert main(["ops", "rebuild"]) == 0
    assert deployment.counted() == 3


def test_the_projector_s_rebuild_after_redis_lost_its_data_names_what_the_event_store_lost(
    deployment: Deployment, caplog: pytest.LogCaptureFixture
) -> None:
    # Given five ratings counted and backed up, four more after the backup, then the restore
    topic = deployment.topic
    deployment.publish(0, 2, 2, 2, 2, 2)
    deployment.deliver()
    deployment.back_up()
    deployment.publish(0, 5, 5, 5, 5)
    deployment.deliver()
    deployment.restore()
    # When Redis loses its data too, and the next rating comes in
    wiring.read_model().client.flushdb()
    deployment.publish(0, 3)
    caplog.clear()
    deployment.deliver()
    # Then the projector rebuilds from what the event store holds (Redis has no offsets left
    # to compare: the four lost ratings are not counted), and its log names their span and
    # the replay that brings them back
    assert deployment.counted() == 6
    [warning] = [
        record
        for record in caplog.records
        if "holds no record of offsets before" in record.getMessage()
    ]
    assert warning.levelname == "WARNING"
    assert warning.missing == [f"{topic}-0@5..8"]
    [replay] = warning.replay
    # And that replay counts them
    assert main(shlex.split(replay.removeprefix("talkrate "))) == 0
    assert deployment.counted() == 10


def test_the_projector_s_rebuild_after_redis_lost_its_data_names_no_duplicate_as_missing(
    deployment: Deployment, caplog: pytest.LogCaptureFixture
) -> None:
    # Given two ratings counted, the second then published again and delivered as a duplicate
    deployment.publish(0, 2, 2)
    deployment.deliver()
    deployment.publish_again(0, 1)
    assert deployment.deliver()["duplicates"] == 1
    # When Redis loses its data, and the next rating comes in
    wiring.read_model().client.flushdb()
    deployment.publish(0, 4)
    caplog.clear()
    deployment.deliver()
    # Then the projector rebuilds all three, and logs nothing missing (it warned that the
    # duplicate's offset was not counted, naming its replay)
    assert deployment.counted() == 3
    assert "holds no record of offsets before" not in caplog.text


def test_a_replay_of_a_batch_lambda_gave_up_on_counts_it_when_a_partition_ends_in_a_copy(
    deployment: Deployment, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # Given two ratings counted on partition 0 and one on partition 1
    topic = deployment.topic
    deployment.publish(0, 5, 5)
    deployment.publish(1, 4)
    deployment.deliver()
    # And partition 0's second record published again (the relay publishing an outbox entry
    # Kafka had in fact taken), delivered as a duplicate: the last record of partition 0
    deployment.publish_again(0, 1)
    assert deployment.deliver()["duplicates"] == 1
    # And two ratings on partition 1 in a batch Lambda gave up on, then one counted after it
    skipped = deployment.publish(1, 2, 2)
    deployment.give_up_on(1, skipped)
    deployment.publish(1, 3)
    deployment.deliver()
    assert deployment.counted() == 4
    # When the operator replays the batch's report, as the ProjectorFailuresAlarm runbook does
    report = tmp_path / "report.json"
    first, last = (str(offset) for offset in (skipped[0], skipped[-1]))
    span = {"firstRecordOffset": first, "lastRecordOffset": last}
    report.write_text(json.dumps({"KafkaBatchInfo": {"recordsInfo": {f"{topic}-1": span}}}))
    capsys.readouterr()
    replayed = main(["ops", "replay", "--failure", str(report)])
    # Then it stores and counts the two (it exited 1, counting nothing, and named partition
    # 0's duplicate as a span whose ratings a rebuild "would take out of the counts")
    said = capsys.readouterr()
    assert "recorded 2 events: 2 new, 0 already stored" in said.out
    assert (replayed, said.err) == (0, "")
    assert deployment.counted() == 6
    # And the rebuilds after it go ahead, counting the same
    assert main(["ops", "rebuild"]) == 0
    assert deployment.counted() == 6


def test_a_rebuild_goes_ahead_where_the_last_records_were_duplicates(
    deployment: Deployment, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given two ratings counted, then both published again (a producer's retry) and delivered
    # as duplicates: the read model applied their offsets
    deployment.publish(0, 3, 4)
    deployment.deliver()
    copies = [deployment.publish_again(0, offset) for offset in (0, 1)]
    assert deployment.deliver()["duplicates"] == 2
    capsys.readouterr()
    # When the operator rebuilds
    rebuilt = main(["ops", "rebuild"])
    # Then it goes ahead (it was refused, naming the copies' offsets as lost) and counts each
    # rating once
    assert "nothing replaced" not in capsys.readouterr().err
    assert rebuilt == 0
    assert deployment.counted() == 2
    # And the projector delivered the copies again stores nothing twice, and still goes ahead
    deployment.delivered -= {(0, offset) for offset in copies}
    again = deployment.deliver()
    assert (again["applied"], again["skipped"]) == (0, 2)
    assert main(["ops", "rebuild"]) == 0
    assert deployment.counted() == 2


def test_copies_projected_before_their_positions_were_kept_are_said_so_and_their_replay_rebuilds(
    deployment: Deployment, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given two ratings counted, then both published again and delivered as duplicates, by a
    # version that kept no position for a duplicate (the event store has none of theirs)
    topic = deployment.topic
    deployment.publish(0, 3, 4)
    deployment.deliver()
    for offset in (0, 1):
        deployment.publish_again(0, offset)
    assert deployment.deliver()["duplicates"] == 2
    with psycopg2.connect(RESTORED_TALKS) as connection, connection.cursor() as cursor:
        cursor.execute("DELETE FROM duplicate_positions WHERE topic = %s", (topic,))
    connection.close()
    capsys.readouterr()
    # When the operator rebuilds, it cannot tell those offsets from lost ones: refused, and said
    # that copies of events stored elsewhere lose nothing
    assert main(["ops", "rebuild"]) == 1
    said = capsys.readouterr().err
    assert f"behind the read model on {topic}-0 (it holds up to offset 1, " in said
    assert "any rating that those offsets alone hold" in said
    [replay] = said_replays(said)
    # Then the replay it names finds both stored at their first offsets, and rebuilds
    assert main(replay) == 0
    out = capsys.readouterr().out
    assert "recorded 2 events: 0 new, 2 already stored (2 of them at another position)" in out
    assert deployment.counted() == 2
    # And the rebuilds after it go ahead
    assert main(["ops", "rebuild"]) == 0
    assert deployment.counted() == 2


def test_ops_check_after_a_restore_that_lost_only_copies_names_their_replay_as_the_rebuild_does(
    deployment: Deployment, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given two ratings counted and stored, then the event store backed up
    topic = deployment.topic
    deployment.publish(0, 3, 4)
    deployment.deliver()
    deployment.back_up()
    # And both published again after the backup (a producer's retry) and delivered as
    # duplicates: the read model applied their offsets, and counts each rating once
    copies = [deployment.publish_again(0, offset) for offset in (0, 1)]
    assert deployment.deliver()["duplicates"] == 2
    # When PostgreSQL is restored from the backup (it lost the copies' positions, and no rating)
    deployment.restore()
    assert deployment.counted() == 2
    capsys.readouterr()
    assert main(["ops", "rebuild"]) == 1
    [asked] = said_replays(capsys.readouterr().err)
    # Then the check does not say the read model matches (a rebuild refuses): it says the
    # counts agree, that the event store is behind on the copies' offsets, and names the
    # replay the rebuild asks for
    assert main(["ops", "check"]) == 1
    said = capsys.readouterr()
    assert "matches" not in said.out
    assert "the read model's counts agree with the event store's (1 rated talk), but" in said.err
    assert (
        f"the event store is behind the read model on {topic}-0 (it holds up to offset 1, "
        f"the read model applied up to {copies[-1]})"
    ) in said.err
    assert said_replays(said.err) == [asked]
    # And with --json it lists the span and its replay as the rebuild's refusal does
    assert main(["--json", "ops", "check"]) == 1
    found = json.loads(capsys.readouterr().out)
    assert (found["state"], found["differing"]) == ("built", [])
    assert [(m["partition"], m["first"], m["last"], m["replay"]) for m in found["missing"]] == [
        (0, copies[0], copies[-1], f"talkrate {shlex.join(asked)}")
    ]
    assert found["error"]["type"] == "urn:talkrate:cli:failed"
    # And once the operator runs it, the check finds nothing amiss and a rebuild goes ahead
    assert main(asked) == 0
    out = capsys.readouterr().out
    assert "recorded 2 events: 0 new, 2 already stored (2 of them at another position)" in out
    assert main(["ops", "check"]) == 0
    assert "the read model matches the event store (1 rated talk)" in capsys.readouterr().out
    assert main(["ops", "rebuild"]) == 0
    assert deployment.counted() == 2
