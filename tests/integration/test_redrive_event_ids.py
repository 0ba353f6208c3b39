"""`talkrate ops redrive` against the real PostgreSQL, Redis and broker: a dead letter's rating
counts once, under one eventId, however often and however it is redriven (cut off after Kafka
took it, repaired differently, a copy of its record redriven too, its eventId reused by its
producer for another rating), and a letter is never said redriven while its rating counts
nowhere."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg2
import pytest

from talkrate import wiring
from talkrate.errors import BackendUnavailable
from talkrate.events import Rating
from talkrate.models import RatingSubmitted, record_event_id, reissued_event_id
from talkrate_cli.main import main
from tests.integration.test_kafka_publisher import count_records
from tests.integration.test_operations import project_all, rated_seven, set_aside_and_listed

pytestmark = pytest.mark.integration

NONE = {"1": 0, "2": 0, "3": 0, "4": 0, "5": 0}


class Scene:
    """One test's talk and topic, the dead letters it sets aside, and what the operator runs
    and sees: each `ops` command as the CLI runs it, the records on the topic, the counts."""

    def __init__(
        self, talk: str, topic: str, kafka_bootstrap: str, talks_dsn: str, capsys: Any
    ) -> None:
        self.talk, self.topic, self.kafka_bootstrap = talk, topic, kafka_bootstrap
        self.talks_dsn, self.capsys = talks_dsn, capsys

    def seven(self) -> dict[str, Any]:
        """A RatingSubmitted of the talk whose value, 7, the event model refuses."""
        [broken] = rated_seven(self.talk, 1)
        return broken

    def set_aside(self, *events: dict[str, Any]) -> list[dict[str, Any]]:
        """The events projected as records of a topic of their own from offset 0 on (set aside),
        listed as `ops dead-letters` lists them, by offset."""
        return set_aside_and_listed(*events, first_offset=0, capsys=self.capsys)

    def set_aside_as_they_are(self, *events: dict[str, Any]) -> list[int]:
        """Events a projector set aside although it takes them (a release that could not read
        them): their letters' ids."""
        source = f"dlq-{uuid.uuid4().hex[:8]}"
        with psycopg2.connect(self.talks_dsn) as connection, connection.cursor() as cursor:
            ids = []
            for offset, event in enumerate(events):
                cursor.execute(
                    'INSERT INTO dead_letters (topic, partition, "offset", key, value, reason) '
                    "VALUES (%s, 0, %s, %s, %s, 'unknown form') RETURNING id",
                    (source, offset, event["talkId"].encode(), json.dumps(event).encode()),
                )
                ids.append(cursor.fetchone()[0])
        connection.close()
        return ids

    def set_aside_bytes(self, *values: bytes) -> list[int]:
        """Records' values, byte for byte, set aside by a projector release that could not read
        them: their letters' ids."""
        source = f"dlq-{uuid.uuid4().hex[:8]}"
        with psycopg2.connect(self.talks_dsn) as connection, connection.cursor() as cursor:
            ids = []
            for offset, value in enumerate(values):
                key = RatingSubmitted.from_json(value).talk_id.encode()
                cursor.execute(
                    'INSERT INTO dead_letters (topic, partition, "offset", key, value, reason) '
                    "VALUES (%s, 0, %s, %s, %s, 'unknown form') RETURNING id",
                    (source, offset, key, value),
                )
                ids.append(cursor.fetchone()[0])
        connection.close()
        return ids

    def two_and_five(self) -> tuple[dict[str, Any], int, int]:
        """A 2 and a 5 its producer sent under one eventId, both events as they are, set aside:
        the 2, and the two letters' ids."""
        two = {**self.seven(), "value": 2}
        five = {**two, "value": 5, "occurredAt": "2026-11-21T10:05:00Z"}
        first, second = self.set_aside_as_they_are(two, five)
        return two, first, second

    def reused(self, copies: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """A producer that reused an eventId: a 4 under it, stored and counted, then a 7 under
        it sent `copies` times (its retries), set aside as that many letters. The 7 and its
        letters."""
        broken = self.seven()
        counted = {**broken, "value": 4, "occurredAt": "2026-11-21T09:00:00Z"}
        letters = self.set_aside(counted, *[broken] * copies)
        assert self.counts() == {**NONE, "4": 1}
        return broken, letters

    def redrive(self, *args: str) -> tuple[int, str]:
        """`talkrate ops redrive ARGS`: its status, and what it said (stdout and stderr, one
        line)."""
        self.capsys.readouterr()
        status = main(["ops", "redrive", *args])
        out, err = self.capsys.readouterr()
        return status, " ".join(f"{out} {err}".split())

    def redriven(self, *args: str) -> dict[str, Any]:
        """`talkrate --json ops redrive ARGS`, which must succeed: its one letter's entry."""
        self.capsys.readouterr()
        status = main(["--json", "ops", "redrive", *args])
        out = self.capsys.readouterr().out
        assert status == 0, out
        [done] = json.loads(out)["redriven"]
        return dict(done)

    def listed(self) -> list[dict[str, Any]]:
        """`talkrate --json ops dead-letters`: the letters waiting."""
        self.capsys.readouterr()
        assert main(["--json", "ops", "dead-letters"]) == 0
        return list(json.loads(self.capsys.readouterr().out))

    def pending(self) -> set[int]:
        """The ids of the letters waiting."""
        return {d["id"] for d in self.listed()}

    def project(self) -> list[Any]:
        """Every record on the topic handed to the projector as one batch; the records."""
        return project_all(self.topic, self.kafka_bootstrap)

    def on_topic(self) -> int:
        """How many records the topic holds."""
        return count_records(self.kafka_bootstrap, self.topic)

    def counts(self) -> dict[str, int]:
        """The talk's histogram in the read model."""
        return dict(wiring.read_model().histogram(self.talk).counts)


@pytest.fixture
def scene(
    configure: Callable[..., None],
    talk: str,
    topic: str,
    kafka_bootstrap: str,
    talks_dsn: str,
    capsys: pytest.CaptureFixture[str],
) -> Scene:
    return Scene(talk, topic, kafka_bootstrap, talks_dsn, capsys)


@contextmanager
def cut_off_after_kafka_took_it(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every redrive within publishes its record, then fails as a publish whose answer did not
    come back in time does (the broker took it; the letter stays pending)."""
    publisher = wiring.rating_publisher()
    taken = publisher.publish

    def acknowledged_then_cut_off(event: Any) -> None:
        taken(event)
        raise BackendUnavailable("the event stream did not acknowledge: timed out")

    monkeypatch.setattr(publisher, "publish", acknowledged_then_cut_off)
    yield
    monkeypatch.setattr(publisher, "publish", taken)


def repaired(broken: dict[str, Any], value: int) -> str:
    """A repair of the letter: its value, its eventId left out (the letter's is taken)."""
    return json.dumps({k: v for k, v in {**broken, "value": value}.items() if k != "eventId"})


def marking(said: str, letter_id: int) -> list[str]:
    """The command a refusal says marks the letter (the stored rating again), as arguments."""
    found = re.search(
        rf"mark it redriven with `talkrate ops redrive {letter_id} --value '([^']+)'"
        r"( --new-event-id)?`",
        said,
        re.IGNORECASE,
    )
    assert found, said
    return [str(letter_id), "--value", found[1], *(["--new-event-id"] if found[2] else [])]


def test_two_copies_of_one_record_under_a_reused_eventid_count_once_under_one_new_eventid(
    scene: Scene,
    talk: str,
) -> None:
    # Given a producer that reused an eventId for a 4, then sent a 7 under it twice (a retry):
    # two letters of one record, at offsets 1 and 2
    broken, (first, second) = scene.reused(2)
    published = []
    for letter in (first, second):
        # When the operator redrives each, repaired to 3: refused, the 4 named, from a record
        # before the letter, and the way on said
        status, said = scene.redrive(str(letter["id"]), "--value", repaired(broken, 3))
        assert status == 1, said
        assert (
            f"dead letter {letter['id']}'s eventId {broken['eventId']} is stored already for "
            f"another rating (talk {talk!r}, value 4, occurred 2026-11-21T09:00:00.000Z;"
        ) in said
        assert "from a record before this letter (no redrive of it)" in said
        assert (
            f"`talkrate ops redrive {letter['id']} --new-event-id` (with the same --value)" in said
        )
        # And with --new-event-id, it goes
        done = scene.redriven(str(letter["id"]), "--value", repaired(broken, 3), "--new-event-id")
        assert done["letterEventId"] == broken["eventId"]
        published.append(done["eventId"])
    # Then both went under one new eventId (made from what the copies share, not their
    # offsets: they went under two, and the 3 counted twice), and the 3 counts once
    assert published[0] == published[1] != broken["eventId"]
    records = scene.project()
    assert {str(RatingSubmitted.from_json(r.value).event_id) for r in records} == {published[0]}
    assert scene.counts() == {**NONE, "3": 1, "4": 1}
    assert not {first["id"], second["id"]} & scene.pending()


def test_a_letter_whose_cut_off_redrive_counts_is_only_marked_whatever_the_next_carries(
    scene: Scene,
    talk: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a letter (no voter) redriven repaired to 5, cut off after Kafka took it (pending),
    # and projected: its rating counts
    broken = scene.seven()
    [letter] = scene.set_aside(broken)
    with cut_off_after_kafka_took_it(monkeypatch):
        assert scene.redrive(str(letter["id"]), "--value", repaired(broken, 5))[0] == 1
    scene.project()
    assert scene.counts() == {**NONE, "5": 1}
    # When the operator redrives it repaired to 2
    status, said = scene.redrive(str(letter["id"]), "--value", repaired(broken, 2))
    # Then it is refused: its rating counts already, by this letter's redrive (it said
    # "another rating", and steered to --new-event-id first)
    assert status == 1, said
    assert (
        f"dead letter {letter['id']}'s rating counts already, as event {broken['eventId']} "
        f"(talk {talk!r}, value 5, occurred 2026-11-21T10:00:00.000Z;"
    ) in said
    assert "published by this letter's redrive at 20" in said
    assert "another rating" not in said
    mark = marking(said, letter["id"])
    assert json.loads(mark[2])["value"] == 5
    assert "--new-event-id" not in mark
    # And under a new eventId too (it published the 2 beside the 5: counted twice)
    again = [str(letter["id"]), "--value", repaired(broken, 2), "--new-event-id"]
    status, said = scene.redrive(*again)
    assert status == 1, said
    assert f"dead letter {letter['id']}'s rating counts already" in said
    assert scene.on_topic() == 1
    # And the command it names marks it: the 5 again, a copy the event store holds already
    done = scene.redriven(*mark)
    assert done == {"deadLetter": letter["id"], "eventId": broken["eventId"], "storedAlready": True}
    scene.project()
    assert scene.counts() == {**NONE, "5": 1}
    assert letter["id"] not in scene.pending()


@pytest.mark.parametrize("first_redrive", ["marked", "cut off"])
def test_a_copy_of_a_redriven_record_counts_with_it_once(
    first_redrive: str,
    scene: Scene,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given one broken record set aside twice (a producer's retry: one eventId, the same
    # bytes), the first letter redriven repaired to 3 (marked, or cut off after Kafka took it),
    # and projected
    broken = scene.seven()
    first, second = scene.set_aside(broken, broken)
    if first_redrive == "marked":
        assert scene.redrive(str(first["id"]), "--value", repaired(broken, 3))[0] == 0
    else:
        with cut_off_after_kafka_took_it(monkeypatch):
            assert scene.redrive(str(first["id"]), "--value", repaired(broken, 3))[0] == 1
    scene.project()
    # When the operator redrives the second repaired to 1, with and without --new-event-id
    for flag in ([], ["--new-event-id"]):
        status, said = scene.redrive(str(second["id"]), "--value", repaired(broken, 1), *flag)
        # Then it is refused: the record counts already, by the first letter's redrive (it
        # said "another rating", and --new-event-id published the 1 beside the 3)
        assert status == 1, said
        assert f"dead letter {second['id']}'s rating counts already" in said
        assert f"published by the redrive of dead letter {first['id']} (a copy of its record)" in (
            said
        )
    assert scene.on_topic() == 1
    # And the command it names marks it, saying the rating counts once
    status, said = scene.redrive(*marking(said, second["id"]))
    assert status == 0, said
    assert "the event store holds that rating already" in said
    scene.project()
    assert scene.counts() == {**NONE, "3": 1}


def test_a_second_redrive_under_the_new_eventid_with_another_repair_is_refused_not_lost(
    scene: Scene,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a letter whose eventId its producer reused for a 4, redriven with --new-event-id
    # repaired to 3, cut off after Kafka took it, and projected
    broken, [letter] = scene.reused(1)
    with cut_off_after_kafka_took_it(monkeypatch):
        status, _ = scene.redrive(
            str(letter["id"]), "--value", repaired(broken, 3), "--new-event-id"
        )
        assert status == 1
    [record] = scene.project()
    new_id = str(RatingSubmitted.from_json(record.value).event_id)
    assert scene.counts() == {**NONE, "3": 1, "4": 1}
    # When the operator redrives it again repaired to 1, with --new-event-id or without
    for flag in (["--new-event-id"], []):
        status, said = scene.redrive(str(letter["id"]), "--value", repaired(broken, 1), *flag)
        # Then it is refused, the 3 named as counted under the new eventId (it said
        # "republished", exit 0, and the 1 counted nowhere)
        assert status == 1, said
        assert f"dead letter {letter['id']}'s rating counts already, as event {new_id}" in said
        assert "published by this letter's redrive at 20" in said
    assert scene.on_topic() == 1
    # And the command it names (with --new-event-id) marks it, the 3 under its new eventId
    mark = marking(said, letter["id"])
    assert mark[-1] == "--new-event-id"
    done = scene.redriven(*mark)
    assert (done["eventId"], done["letterEventId"], done["storedAlready"]) == (
        new_id,
        broken["eventId"],
        True,
    )
    scene.project()
    assert scene.counts() == {**NONE, "3": 1, "4": 1}
    assert letter["id"] not in scene.pending()


def test_two_letters_under_one_eventid_for_two_ratings_go_one_after_the_other(
    scene: Scene,
) -> None:
    # Given two letters its producer sent under one eventId, a 2 and a 5, both events as
    # they are
    two, first, second = scene.two_and_five()
    # When the operator redrives both in one run
    status, said = scene.redrive(str(first), str(second))
    # Then neither is published (the one projected second would count nowhere), saying how
    # to go on
    assert status == 1, said
    assert (
        f"dead letters {first} and {second} carry one eventId, {two['eventId']}, for two "
        f"ratings (their producer reused it): nothing published. Redrive {first} alone first, "
        f"then {second} with --new-event-id"
    ) in said
    assert scene.on_topic() == 0
    assert {first, second} <= scene.pending()
    # And redriven as it says, the second before the first is projected: without
    # --new-event-id it is refused (it was published under the first's eventId, counted
    # nowhere), with it it goes
    assert scene.redrive(str(first))[0] == 0
    status, said = scene.redrive(str(second))
    assert status == 1, said
    assert f"recorded for the redrive of dead letter {first} at 20" in said
    assert "(perhaps not published), another record under that eventId" in said
    assert f"`talkrate ops redrive {second} --new-event-id`" in said
    assert scene.redriven(str(second), "--new-event-id")["eventId"] != two["eventId"]
    # And both count
    scene.project()
    assert scene.counts() == {**NONE, "2": 1, "5": 1}


def test_a_letter_without_an_eventid_of_its_own_is_refused_a_new_one(
    scene: Scene,
) -> None:
    # Given a record without an eventId, set aside
    broken = scene.seven()
    del broken["eventId"]
    [letter] = scene.set_aside(broken)
    # When the operator redrives it with --new-event-id
    status, said = scene.redrive(
        str(letter["id"]), "--value", repaired(broken, 3), "--new-event-id"
    )
    # Then it is refused as bad input: its eventId is the one its record fixes
    assert status == 2, said
    assert (
        f"dead letter {letter['id']} has no eventId of its own: it is always redriven under one "
        "its record fixes; drop --new-event-id"
    ) in said
    assert scene.on_topic() == 0
    # And without it, it goes under that one
    made = record_event_id(letter["topic"], 0, 0, json.dumps(broken).encode())
    done = scene.redriven(str(letter["id"]), "--value", repaired(broken, 3))
    assert done == {"deadLetter": letter["id"], "eventId": str(made)}


@pytest.mark.parametrize("it_was", ["an earlier redrive of the letter", "another rating"])
def test_a_rating_under_the_letter_s_eventid_no_recorded_redrive_explains_is_left_to_the_operator(
    it_was: str,
    scene: Scene,
) -> None:
    # Given a letter, and a 5 under its eventId stored after it was set aside with no redrive
    # recorded on it: a redrive by an earlier release, or one whose record a database restore
    # lost, or its producer's other rating
    broken = scene.seven()
    [letter] = scene.set_aside(broken)
    five = RatingSubmitted.from_json(json.dumps({**broken, "value": 5}))
    wiring.rating_publisher().publish(Rating.of(five))
    scene.project()
    # When the operator redrives it repaired to 2
    status, said = scene.redrive(str(letter["id"]), "--value", repaired(broken, 2))
    # Then it is refused, saying the command cannot tell which, and what to run for each
    assert status == 1, said
    assert "either its producer reused the eventId for another rating, or it is an earlier" in (
        said
    )
    new = f"`talkrate ops redrive {letter['id']} --new-event-id` (with the same --value)"
    assert new in said
    mark = marking(said, letter["id"])
    assert json.loads(mark[2])["value"] == 5
    assert scene.on_topic() == 1
    # And what the operator runs for theirs counts the letter's rating once
    if it_was == "another rating":
        scene.redriven(str(letter["id"]), "--value", repaired(broken, 2), "--new-event-id")
        expected = {**NONE, "2": 1, "5": 1}
    else:
        scene.redriven(*mark)
        expected = {**NONE, "5": 1}
    scene.project()
    assert scene.counts() == expected
    assert letter["id"] not in scene.pending()


def test_a_letter_an_earlier_release_redrove_under_a_new_eventid_is_not_published_under_another(
    scene: Scene,
) -> None:
    # Given a letter whose eventId its producer reused for a 4, redriven repaired to 3 by a
    # release before this one with --new-event-id (under an eventId made from its position),
    # cut off before its mark, and projected
    broken, [letter] = scene.reused(1)
    old = record_event_id(letter["topic"], 0, letter["offset"], json.dumps(broken).encode())
    three = RatingSubmitted.from_json(json.dumps({**broken, "value": 3, "eventId": str(old)}))
    wiring.rating_publisher().publish(Rating.of(three))
    scene.project()
    assert scene.counts() == {**NONE, "3": 1, "4": 1}
    # When the operator redrives it with --new-event-id repaired to 1
    again = [str(letter["id"]), "--value", repaired(broken, 1), "--new-event-id"]
    status, said = scene.redrive(*again)
    # Then it is refused: the 3 counts already under the earlier eventId (it published the 1
    # under that one, counted nowhere)
    assert status == 1, said
    assert f"dead letter {letter['id']}'s rating counts already, as event {old}" in said
    # And the command it names marks it under that eventId, a copy
    done = scene.redriven(*marking(said, letter["id"]))
    assert (done["eventId"], done["storedAlready"]) == (str(old), True)
    scene.project()
    assert scene.counts() == {**NONE, "3": 1, "4": 1}


def test_two_operators_redriving_two_ratings_under_one_eventid_never_count_one_nowhere(
    scene: Scene,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given two letters its producer sent under one eventId, a 2 and a 5
    _, first, second = scene.two_and_five()
    store = wiring.event_store()
    original = store.record_redrive
    other: list[tuple[int, str]] = []

    def b_runs_between_a_s_judging_and_recording(*args: Any, **kwargs: Any) -> bool:
        if not other:
            monkeypatch.setattr(store, "record_redrive", original)
            other.append(scene.redrive(str(second)))
        return bool(original(*args, **kwargs))

    # When operator A redrives the 2 and operator B the 5, B's whole run after A judged the 2
    # and before A recorded its redrive
    monkeypatch.setattr(store, "record_redrive", b_runs_between_a_s_judging_and_recording)
    status, said = scene.redrive(str(first))
    # Then B's 5 goes, and A's 2 is refused (under that eventId it would count nowhere), the
    # way on said, and left pending
    assert other[0][0] == 0, other
    assert status == 1, said
    assert f"recorded for the redrive of dead letter {second}" in said
    assert f"`talkrate ops redrive {first} --new-event-id`" in said
    assert scene.pending() >= {first}
    # And redriven as it says, the 2 counts too: each once
    scene.redriven(str(first), "--new-event-id")
    scene.project()
    assert scene.counts() == {**NONE, "2": 1, "5": 1}


def test_after_a_restore_replayed_partition_by_partition_the_command_cannot_tell_and_says_both(
    scene: Scene,
    talk: str,
    topic: str,
    kafka_bootstrap: str,
    talks_dsn: str,
) -> None:
    from kafka import KafkaProducer

    from tests.integration.test_kafka_publisher import consume_to_end

    # Given a 4 of the talk, counted (in the backup)
    earlier = scene.seven()
    wiring.rating_publisher().publish(
        Rating.of(RatingSubmitted.from_json(json.dumps({**earlier, "value": 4})))
    )
    scene.project()
    # And a broken 7 an outside producer keyed otherwise, set aside in a partition after the
    # talk's, then redriven repaired to 3 (under its eventId, into the talk's partition)
    broken = scene.seven()
    talk_partition = consume_to_end(kafka_bootstrap, topic)[0].partition
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    producer.send(
        topic, json.dumps(broken).encode(), key=b"outside", partition=(talk_partition + 1) % 3
    ).get(timeout=10)
    producer.close()
    scene.project()
    [letter] = [d for d in scene.listed() if d["topic"] == topic]
    assert scene.redrive(str(letter["id"]), "--value", repaired(broken, 3))[0] == 0
    records = scene.project()
    assert scene.counts() == {**NONE, "3": 1, "4": 1}
    # And the database restored from the backup, then the two records replayed a partition at
    # a time, the talk's first: the 3 is stored before the letter is set aside again
    with psycopg2.connect(talks_dsn) as connection, connection.cursor() as cursor:
        cursor.execute("DELETE FROM dead_letters WHERE topic = %s", (topic,))
        cursor.execute("DELETE FROM rating_events WHERE event_id = %s", (broken["eventId"],))
    connection.close()
    positions = sorted(
        (
            (r.partition, r.offset)
            for r in records
            if json.loads(r.value).get("eventId") != earlier["eventId"]
        ),
        key=lambda p: (p[0] != talk_partition, p),
    )
    replayed = []
    for partition, offset in positions:
        replay = ["--topic", topic, "--partition", str(partition)]
        replayed.append(
            main(["ops", "replay", *replay, "--first", str(offset), "--last", str(offset)])
        )
    # (the first says its record is not counted until the last is replayed, which rebuilds)
    assert replayed[-1] == 0, replayed
    [again] = [d for d in scene.listed() if d["topic"] == topic]
    # When the operator, who does not remember the repair, redrives it repaired to 2
    status, said = scene.redrive(str(again["id"]), "--value", repaired(broken, 2))
    # Then it is refused: the 3 may be its earlier redrive, the command cannot tell, and says
    # what to run in each case
    assert status == 1, said
    assert "The command cannot tell which" in said, said
    assert f"`talkrate ops redrive {again['id']} --new-event-id`" in said
    # And what marks it, followed, leaves its rating counted once
    mark = marking(said, again["id"])
    assert json.loads(mark[2])["value"] == 3
    scene.redriven(*mark)
    scene.project()
    assert scene.counts() == {**NONE, "3": 1, "4": 1}


@pytest.mark.parametrize("event_id", ["not-a-uuid", "none-copies", "none-apart"])
def test_two_letters_of_one_record_without_a_uuid_eventid_count_as_the_operator_says(
    event_id: str,
    scene: Scene,
) -> None:
    # Given one broken record without a UUID eventId, set aside twice (the same bytes)
    broken = scene.seven()
    if event_id == "not-a-uuid":
        broken["eventId"] = "retry-42"
    else:
        del broken["eventId"]
    first, second = scene.set_aside(broken, broken)
    fixed = json.dumps({k: v for k, v in {**broken, "value": 3}.items() if k != "eventId"})
    expected = {**NONE, "3": 1}
    if event_id != "not-a-uuid":
        # When the operator redrives the first without saying what the two are: refused, the
        # command cannot tell copies of one record from two ratings, both ways said
        status, said = scene.redrive(str(first["id"]), "--value", fixed)
        assert status == 1, said
        assert f"dead letters {second['id']} hold the same bytes" in said
        assert "The command cannot tell which" in said
        how = event_id.split("-")[1]
        assert f"`talkrate ops redrive {first['id']} --twins {how}`" in said
        assert scene.redrive(str(first["id"]), "--value", fixed, "--twins", how)[0] == 0
        expected = {**NONE, "3": 1 if how == "copies" else 2}
    else:
        assert scene.redrive(str(first["id"]), "--value", fixed)[0] == 0
    # And the second with the same repair (no --twins: the first's redrive says which)
    status, said = scene.redrive(str(second["id"]), "--value", fixed)
    assert status == 0, said
    # Then the record counts once if they are copies, twice if two ratings
    scene.project()
    assert scene.counts() == expected


def test_a_letter_without_an_eventid_whose_redrive_was_cut_off_is_marked_after_forget_voter(
    scene: Scene,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from datetime import timedelta

    from tests.integration.test_forget_voter import forget, token

    # Given a voter's broken rating without an eventId, redriven repaired to 3 and cut off
    # after Kafka took it (it counts), the voter then forgotten (the letter's bytes rewritten)
    attendee, voter = token(expired_ago=timedelta(hours=2))
    broken = scene.seven()
    del broken["eventId"]
    broken["voterId"] = voter
    [letter] = scene.set_aside(broken)
    with cut_off_after_kafka_took_it(monkeypatch):
        scene.redrive(str(letter["id"]), "--value", repaired(broken, 3))
    scene.project()
    assert scene.counts() == {**NONE, "3": 1}
    capsys.readouterr()
    assert forget(attendee, capsys=capsys)[0] == 0
    [again] = [d for d in scene.listed() if d["id"] == letter["id"]]
    renamed = json.loads(again["value"])
    # When the operator redrives it again with the same repair: it goes under the eventId its
    # first redrive recorded, the rating there already, and is marked
    status, said = scene.redrive(str(letter["id"]), "--value", repaired(renamed, 3))
    assert status == 0, said
    assert "the event store holds that rating already" in said
    assert letter["id"] not in scene.pending()
    scene.project()
    assert scene.counts() == {**NONE, "3": 1}


def test_a_database_older_than_the_command_is_said_so(
    scene: Scene, talks_dsn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a database whose schema is a release's before the letters' recorded redrives
    with psycopg2.connect(talks_dsn) as connection, connection.cursor() as cursor:
        cursor.execute("ALTER TABLE dead_letters DROP COLUMN redrives")
    connection.close()
    try:
        # When the operator lists the dead letters, or redrives one
        said = [scene.redrive("1")]
        capsys.readouterr()
        said.append((main(["ops", "dead-letters"]), " ".join(capsys.readouterr().err.split())))
    finally:
        with psycopg2.connect(talks_dsn) as connection, connection.cursor() as cursor:
            cursor.execute(
                "ALTER TABLE dead_letters ADD COLUMN redrives jsonb NOT NULL DEFAULT '[]'"
            )
        connection.close()
    # Then each says what to do, not an unexpected error
    for status, line in said:
        assert status == 1, line
        assert "the database's schema is older than this command" in line, line
        assert "deploy (or apply the schema) first" in line


def test_a_letter_whose_eventid_another_record_s_redrive_published_is_told_that(
    scene: Scene,
) -> None:
    # Given two letters under one eventId for a 2 and a 5, the 2 redriven and projected
    _, first, second = scene.two_and_five()
    assert scene.redrive(str(first))[0] == 0
    scene.project()
    # When the 5 is redriven: refused, the stored 2 named as the other record's redrive's
    status, said = scene.redrive(str(second))
    assert status == 1, said
    assert f"published by the redrive of dead letter {first} at 20" in said
    assert "another record under that eventId" in said
    assert f"`talkrate ops redrive {second} --new-event-id`" in said


def test_a_copy_whose_twin_went_under_a_new_eventid_is_refused_its_own(
    scene: Scene,
) -> None:
    # Given two copies of one record, and a 5 under their eventId stored after they were set
    # aside (the producer's, the operator decides), the first copy redriven under a new eventId
    broken = scene.seven()
    first, second = scene.set_aside(broken, broken)
    wiring.rating_publisher().publish(
        Rating.of(RatingSubmitted.from_json(json.dumps({**broken, "value": 5})))
    )
    scene.project()
    fixed = repaired(broken, 3)
    went = scene.redriven(str(first["id"]), "--value", fixed, "--new-event-id")
    # When the second is redriven without the flag: refused, naming the new eventId
    status, said = scene.redrive(str(second["id"]), "--value", fixed)
    assert status == 1, said
    assert f"record went out under a new eventId, {went['eventId']}" in said
    # And with it, it goes under that one: the 3 counts once
    again = scene.redriven(str(second["id"]), "--value", fixed, "--new-event-id")
    assert again["eventId"] == went["eventId"]
    scene.project()
    assert scene.counts() == {**NONE, "3": 1, "5": 1}


def test_a_new_eventid_is_refused_where_the_letter_s_own_is_free(
    scene: Scene,
) -> None:
    broken = scene.seven()
    [letter] = scene.set_aside(broken)
    status, said = scene.redrive(
        str(letter["id"]), "--value", repaired(broken, 3), "--new-event-id"
    )
    assert status == 2, said
    assert (
        f"dead letter {letter['id']}'s eventId {broken['eventId']} is not stored for another "
        "rating, nor did another letter's redrive go out under it: under it the letter counts "
        "once"
    ) in said
    assert "drop --new-event-id" in said
    # (and what it cannot see is said: a record on Kafka its projector has not reached)
    assert "Not read: records on Kafka the projector has not reached" in said
    assert scene.on_topic() == 0


def test_a_letter_rewritten_and_back_while_its_redrive_was_recorded_is_not_published(
    scene: Scene,
    talks_dsn: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a letter whose bytes another session rewrites just as its redrive is recorded, and
    # writes back before it is published (so no redrive is recorded on it)
    broken = scene.seven()
    [letter] = scene.set_aside(broken)
    store = wiring.event_store()
    original = store.record_redrive

    def rewritten_meanwhile(*args: Any, **kwargs: Any) -> bool:
        with psycopg2.connect(talks_dsn) as connection, connection.cursor() as cursor:
            cursor.execute(
                "UPDATE dead_letters SET value = 'x' || value WHERE id = %s", (letter["id"],)
            )
        recorded = bool(original(*args, **kwargs))
        with connection, connection.cursor() as cursor:
            cursor.execute(
                "UPDATE dead_letters SET value = substr(value, 2) WHERE id = %s", (letter["id"],)
            )
        connection.close()
        return recorded

    monkeypatch.setattr(store, "record_redrive", rewritten_meanwhile)
    status, said = scene.redrive(str(letter["id"]), "--value", repaired(broken, 3))
    # Then nothing is recorded or published: a redrive is never published unrecorded
    assert status == 1, said
    assert "was changed while this run read it" in said
    assert scene.on_topic() == 0
    [again] = [d for d in scene.listed() if d["id"] == letter["id"]]
    assert again["redrives"] == []


def test_a_copy_redriven_under_a_new_eventid_after_forget_voter_goes_under_its_twin_s(
    scene: Scene,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from datetime import timedelta

    from tests.integration.test_forget_voter import forget, token

    # Given a voter's 4 under an eventId, then a 7 under it sent twice (two copies set aside),
    # the first copy redriven under a new eventId, projected, and then the voter forgotten
    # (both copies' bytes rewritten alike)
    attendee, voter = token(expired_ago=timedelta(hours=2))
    broken = scene.seven()
    broken["voterId"] = voter
    counted = {**broken, "value": 4, "occurredAt": "2026-11-21T09:00:00Z"}
    del counted["voterId"]
    first, second = scene.set_aside(counted, broken, broken)
    went = scene.redriven(str(first["id"]), "--value", repaired(broken, 3), "--new-event-id")
    scene.project()
    capsys.readouterr()
    assert forget(attendee, capsys=capsys)[0] == 0
    [again] = [d for d in scene.listed() if d["id"] == second["id"]]
    renamed = json.loads(again["value"])
    # When the second copy is redriven with the same repair under a new eventId
    done = scene.redriven(str(second["id"]), "--value", repaired(renamed, 3), "--new-event-id")
    # Then it goes under the first's, the rating there already: a copy, counted nowhere
    assert done["eventId"] == went["eventId"]
    assert done.get("storedAlready") is True


class ApiOutbox:
    """The API's outbox holding ratings of a test's own: kept as the API keeps one whose publish
    Kafka did not acknowledge, and relayed (published, then marked) as RelayFunction relays it.
    Only these entries: the shared outbox's others are no test's here."""

    def __init__(self, talks_dsn: str) -> None:
        self.talks_dsn = talks_dsn
        self.kept: list[Rating] = []

    def keep(self, event: RatingSubmitted) -> None:
        rating = Rating.of(event)
        wiring.outbox().enqueue(rating)
        self.kept.append(rating)

    def relay(self) -> None:
        for rating in self.kept:
            if wiring.outbox().status(str(rating.event_id)) == "queued":
                wiring.rating_publisher().publish(rating)
                with psycopg2.connect(self.talks_dsn) as connection, connection.cursor() as cur:
                    cur.execute(
                        "UPDATE rating_outbox SET published_at = now() WHERE event_id = %s",
                        (str(rating.event_id),),
                    )
                connection.close()


@pytest.fixture
def api_outbox(talks_dsn: str) -> Iterator[ApiOutbox]:
    outbox = ApiOutbox(talks_dsn)
    yield outbox
    with psycopg2.connect(talks_dsn) as connection, connection.cursor() as cursor:
        ids = [str(r.event_id) for r in outbox.kept]
        cursor.execute("DELETE FROM rating_outbox WHERE event_id::text = ANY(%s)", (ids,))
    connection.close()


STATES = ["waiting for the relay", "relayed, not projected yet", "relayed and projected"]


def api_two(api_outbox: ApiOutbox, scene: Scene) -> tuple[RatingSubmitted, int]:
    """A 2 the API kept in its outbox, and its record on Kafka (the same bytes) set aside by a
    release that could not read it: the 2, and the letter's id."""
    two = RatingSubmitted.from_json(json.dumps({**scene.seven(), "value": 2}))
    api_outbox.keep(two)
    [letter_id] = scene.set_aside_bytes(Rating.of(two).to_json())
    return two, letter_id


def relayed_as(state: str, api_outbox: ApiOutbox, scene: Scene) -> None:
    """The outbox's entries as `state` says: left waiting, relayed, or relayed and projected."""
    if state != "waiting for the relay":
        api_outbox.relay()
    if state == "relayed and projected":
        scene.project()


def test_the_api_s_counted_rating_whose_voter_was_forgotten_is_only_marked_when_set_aside(
    api_outbox: ApiOutbox,
    scene: Scene,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from datetime import timedelta

    from tests.integration.test_forget_voter import forget, token

    # Given a voter's 2 the API kept in its outbox (its publish timed out after the broker took
    # it: a record on Kafka too), relayed and counted; then the voter forgotten (the outbox and
    # the event store renamed); then the API's own record (the voter's real id) set aside by a
    # release that could not read it
    attendee, voter = token(expired_ago=timedelta(hours=2))
    two = RatingSubmitted.from_json(json.dumps({**scene.seven(), "value": 2, "voterId": voter}))
    api_outbox.keep(two)
    relayed_as("relayed and projected", api_outbox, scene)
    assert scene.counts() == {**NONE, "2": 1}
    capsys.readouterr()
    assert forget(attendee, capsys=capsys)[0] == 0
    renamed = wiring.event_store().stored_rating(str(two.event_id))
    assert renamed is not None
    assert renamed["voter_id"] != voter
    [letter_id] = scene.set_aside_bytes(Rating.of(two).to_json())
    # When the operator redrives it with --new-event-id: refused (the 2 counted twice, and the
    # voter's real id went back into the event store)
    status, said = scene.redrive(str(letter_id), "--new-event-id")
    assert status == 2, said
    assert f"dead letter {letter_id}'s eventId {two.event_id} is the API's" in said
    assert "under a new eventId it would count twice; drop --new-event-id" in said
    # And without: only marked, the stored rating named, pseudonym and all (it was refused,
    # "held already for another rating in the API's outbox", pointing to --new-event-id)
    status, said = scene.redrive(str(letter_id))
    assert status == 0, said
    assert "the event store holds that rating already, published by the API" in said
    assert f"value 2, occurred 2026-11-21T10:00:00.000Z, voter {renamed['voter_id']}" in said
    assert "the letter's differs in voterId" in said
    assert voter not in said
    # Then the 2 counts once, under the forgotten voter's new id
    scene.project()
    assert scene.counts() == {**NONE, "2": 1}
    assert wiring.event_store().stored_rating(str(two.event_id)) == renamed
    assert letter_id not in scene.pending()


def test_the_api_s_waiting_rating_goes_as_its_outbox_holds_it_whatever_the_repair(
    api_outbox: ApiOutbox,
    scene: Scene,
) -> None:
    # Given a 2 the API kept in its outbox, waiting for the relay, and its record (in another
    # release's form: other bytes, the same rating) set aside
    broken = {**scene.seven(), "value": 2}
    two = RatingSubmitted.from_json(json.dumps(broken))
    api_outbox.keep(two)
    [letter_id] = scene.set_aside_as_they_are(broken)
    # When the operator redrives it repaired to 5
    status, said = scene.redrive(str(letter_id), "--value", repaired(broken, 5))
    # Then the 2 goes under its own eventId as the outbox holds it, the 5 said not counted (it
    # was refused, "held already for another rating in the API's outbox")
    assert status == 0, said
    assert f"republished as event {two.event_id}, the API's rating as its outbox holds it" in said
    assert "accepted 20" in said
    assert "waiting for the relay" in said
    assert "the --value's differs in value (5, not counted)" in said
    [record] = scene.project()
    assert RatingSubmitted.from_json(record.value) == two
    # And with the relay's copy after it, the 2 counts once
    api_outbox.relay()
    scene.project()
    assert scene.counts() == {**NONE, "2": 1}
    assert letter_id not in scene.pending()


@pytest.mark.parametrize("state", STATES)
def test_a_letter_whose_very_bytes_the_outbox_holds_counts_once_under_its_eventid(
    state: str,
    api_outbox: ApiOutbox,
    scene: Scene,
) -> None:
    # Given a 2 the API kept in its outbox (waiting, relayed, or relayed and counted), and its
    # record on Kafka, the same bytes, set aside by a release that could not read it
    two, letter_id = api_two(api_outbox, scene)
    relayed_as(state, api_outbox, scene)
    # When the operator redrives it
    status, said = scene.redrive(str(letter_id))
    # Then it goes under its own eventId, the outbox said to hold the letter's very bytes
    assert status == 0, said
    assert f"republished as event {two.event_id}" in said
    assert "its outbox holds this letter's very bytes" in said
    if state == "relayed and projected":
        assert "the event store holds that rating already, published by the API" in said
    # And the 2 counts once
    api_outbox.relay()
    scene.project()
    assert scene.counts() == {**NONE, "2": 1}
    assert letter_id not in scene.pending()


def test_a_repair_of_another_value_over_the_api_s_counted_rating_only_marks_it(
    api_outbox: ApiOutbox,
    scene: Scene,
    talk: str,
) -> None:
    # Given a 2 the API kept in its outbox, relayed and counted, and its record (the same bytes)
    # set aside
    broken = {**scene.seven(), "value": 2}
    two = RatingSubmitted.from_json(json.dumps(broken))
    api_outbox.keep(two)
    [letter_id] = scene.set_aside_bytes(Rating.of(two).to_json())
    relayed_as("relayed and projected", api_outbox, scene)
    # When the operator redrives it repaired to 5
    status, said = scene.redrive(str(letter_id), "--value", repaired(broken, 5))
    # Then it is only marked: the 2 counts, and the output says so (it said "cannot tell")
    assert status == 0, said
    assert "the event store holds that rating already, published by the API" in said
    assert f"the rating that counts: talk {talk!r}, value 2, occurred" in said
    assert "the --value's differs in value (5, not counted)" in said
    scene.project()
    assert scene.counts() == {**NONE, "2": 1}
    assert letter_id not in scene.pending()


@pytest.mark.parametrize("state", STATES)
def test_a_new_eventid_for_a_letter_the_api_s_outbox_holds_is_refused(
    state: str,
    api_outbox: ApiOutbox,
    scene: Scene,
) -> None:
    # Given a 2 the API kept in its outbox, and its record set aside
    two, letter_id = api_two(api_outbox, scene)
    relayed_as(state, api_outbox, scene)
    on_topic = scene.on_topic()
    # When the operator redrives it with --new-event-id (repaired to 3 or not)
    for repair in ([], ["--value", repaired(json.loads(Rating.of(two).to_json()), 3)]):
        status, said = scene.redrive(str(letter_id), *repair, "--new-event-id")
        # Then it is refused: under a new eventId the API's 2 would count twice
        assert status == 2, said
        assert f"dead letter {letter_id}'s eventId {two.event_id} is the API's" in said
        assert "drop --new-event-id" in said
    assert scene.on_topic() == on_topic
    assert letter_id in scene.pending()
    api_outbox.relay()
    scene.project()
    assert scene.counts() == {**NONE, "2": 1}


@pytest.mark.parametrize("state", ["waiting for the relay", "relayed and projected"])
def test_a_letter_the_outbox_holds_with_a_redrive_recorded_under_a_new_eventid_counts_once(
    state: str,
    api_outbox: ApiOutbox,
    scene: Scene,
) -> None:
    # Given a 2 the API kept in its outbox, its record set aside, and a redrive of the letter
    # under a new eventId recorded but never published (a release that pointed the operator to
    # --new-event-id, whose publish Kafka then refused: the letter still pending)
    two, letter_id = api_two(api_outbox, scene)
    value = Rating.of(two).to_json()
    relayed_as(state, api_outbox, scene)
    elsewhere = reissued_event_id(two.event_id, value)
    recorded = two.model_copy(update={"event_id": elsewhere})
    assert wiring.event_store().record_redrive(
        letter_id, value, str(elsewhere), recorded.model_dump(mode="json", by_alias=True)
    )
    # When the operator redrives it, and asks for the new eventId
    status, said = scene.redrive(str(letter_id), "--new-event-id")
    # Then the new eventId is refused: the API's 2 would count twice (it was taken, and the 2
    # counted twice: the recorded redrive was followed)
    assert status == 2, said
    assert f"dead letter {letter_id}'s eventId {two.event_id} is the API's" in said
    # And without it the letter goes under the API's eventId, or is only marked
    status, said = scene.redrive(str(letter_id))
    assert status == 0, said
    assert "its outbox holds this letter's very bytes" in said
    # And the 2 counts once, nothing stored under the recorded eventId
    api_outbox.relay()
    scene.project()
    assert scene.counts() == {**NONE, "2": 1}
    assert wiring.event_store().stored_rating(str(elsewhere)) is None
    assert letter_id not in scene.pending()


def test_the_api_s_waiting_rating_of_a_talk_that_left_the_programme_is_not_offered_a_repair(
    api_outbox: ApiOutbox,
    scene: Scene,
) -> None:
    # Given a 2 the API kept in its outbox, waiting for the relay, its record set aside, and
    # then its talk taken out of the programme
    _, letter_id = api_two(api_outbox, scene)
    wiring.talk_catalog().delete(scene.talk)
    # When the operator redrives it
    status, said = scene.redrive(str(letter_id))
    # Then it is refused, and told to add the talk again, not to repair its talkId (the API's
    # rating goes as its outbox holds it, whatever a --value says)
    assert status == 1, said
    assert f"rates {scene.talk!r}, which is not in the programme" in said
    assert "the API accepted it for that talk (its outbox holds it); add the talk again" in said
    assert "--value" not in said
    assert letter_id in scene.pending()


def test_a_letter_whose_rating_counts_already_is_marked_though_its_talk_left_the_programme(
    api_outbox: ApiOutbox,
    scene: Scene,
) -> None:
    # Given a 2 the API kept in its outbox, relayed and counted, its record set aside, and then
    # its talk taken out of the programme
    _, letter_id = api_two(api_outbox, scene)
    relayed_as("relayed and projected", api_outbox, scene)
    wiring.talk_catalog().delete(scene.talk)
    # When the operator redrives it
    status, said = scene.redrive(str(letter_id))
    # Then it is only marked (it was refused: "add the talk first"): nothing new counts
    assert status == 0, said
    assert "the event store holds that rating already, published by the API" in said
    scene.project()
    assert scene.counts() == {**NONE, "2": 1}
    assert letter_id not in scene.pending()
