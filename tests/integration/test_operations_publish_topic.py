"""`ops redrive` and `ops relay` publish only into a topic the stack's projector consumes: its
consumer group (PROJECTOR_CONSUMER_GROUP) has committed offsets on it, as the broker says."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator

import psycopg2
import pytest

from sam_emulator.events.kafka import ensure_topics
from talkrate.adapters.postgres import PostgresDatabase, PostgresOutbox
from talkrate.events import Rating
from talkrate.locations import kafka_location
from talkrate.models import RatingSubmitted
from talkrate_cli.main import main
from talkrate_local.database import prepare
from tests.backends import RELAY_TALKS
from tests.conftest import consumed_by
from tests.integration.test_kafka_publisher import consume_to_end, count_records
from tests.integration.test_operations import one_set_aside, ops_json, said_unset

pytestmark = pytest.mark.integration


def a_stack_s_own_topic(kafka_bootstrap: str) -> tuple[str, str]:
    """A topic of a stack of its own and its projector's consumer group, which has taken
    records of it (its offsets committed there)."""
    own = f"talkrate-dev-ratings-{uuid.uuid4().hex[:8]}"
    group = f"talkrate-dev-projector-{uuid.uuid4().hex[:8]}"
    ensure_topics(kafka_bootstrap, [own], partitions=2)
    consumed_by(kafka_bootstrap, group, own, offset=3)
    return own, group


def refusal(topic: str, group: str, own: str, command: str, where: str) -> str:
    """The one line a refused command says when the group consumes only `own`."""
    return (
        f"talkrate: {command}: nothing published: RATINGS_TOPIC is {topic!r} (RATINGS_TOPIC), "
        f"and the projector's consumer group {group!r} (PROJECTOR_CONSUMER_GROUP) has committed "
        f"offsets at {where} only of {own!r}: what {command} published there this stack's "
        "projector would never count. Set RATINGS_TOPIC and PROJECTOR_CONSUMER_GROUP to the "
        "stack's RatingsTopic and ProjectorConsumerGroup (docs/operations.md, the operator "
        "commands' environment); where the projector has taken no record of the stack's topic "
        "yet (a first deploy, a topic just moved to), `--new-topic` publishes"
    )


def test_a_redrive_into_a_topic_the_projector_does_not_consume_is_refused(
    configure: Callable[..., None],
    talk: str,
    topic: str,
    kafka_bootstrap: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a dev stack with a topic of its own, whose projector set a record aside, and an
    # operator whose RATINGS_TOPIC is another stack's (the tests' topic, another group's)
    own, group = a_stack_s_own_topic(kafka_bootstrap)
    configure(PROJECTOR_CONSUMER_GROUP=group)
    broken, letter = one_set_aside(talk, capsys)
    repaired = json.dumps({**broken, "value": 4})
    # When they redrive it, repaired
    assert main(["ops", "redrive", str(letter["id"]), "--value", repaired]) == 1
    said = capsys.readouterr()
    # Then it is refused in one line naming the topic the projector consumes and what to set
    # (it was published into the other stack's topic: counted there, or by no projector)
    [line] = said.err.strip().splitlines()
    where = kafka_location(kafka_bootstrap)
    assert line == refusal(topic, group, own, "redrive", where), line
    # And nothing was published, and the letter waits as it was, no redrive recorded on it
    assert count_records(kafka_bootstrap, topic) == 0
    [waiting] = [d for d in ops_json(capsys, 0, "dead-letters") if d["id"] == letter["id"]]
    assert (waiting["redriven_at"], waiting["redrives"]) == (None, letter["redrives"])
    # And with --json it says so in its error document, with the topics
    document = ops_json(capsys, 1, "redrive", str(letter["id"]), "--value", repaired)
    assert document["error"]["type"] == "urn:talkrate:cli:topic-not-consumed", document
    assert (
        document["ratingsTopic"],
        document["projectorConsumerGroup"],
        document["consumedTopics"],
    ) == (topic, group, [own])
    # When RATINGS_TOPIC names the stack's topic
    configure(PROJECTOR_CONSUMER_GROUP=group, RATINGS_TOPIC=own)
    # Then the letter is redriven into it
    assert main(["ops", "redrive", str(letter["id"]), "--value", repaired]) == 0
    [record] = consume_to_end(kafka_bootstrap, own)
    assert str(RatingSubmitted.from_json(record.value).event_id) == broken["eventId"]
    assert count_records(kafka_bootstrap, topic) == 0


def test_a_group_that_committed_nothing_is_refused_and_new_topic_publishes(
    configure: Callable[..., None],
    talk: str,
    topic: str,
    kafka_bootstrap: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a letter set aside, and a projector's consumer group that has committed nothing (a
    # group name mistyped, or a first deploy whose projector has taken no record yet)
    group = f"talkrate-new-projector-{uuid.uuid4().hex[:8]}"
    configure(PROJECTOR_CONSUMER_GROUP=group)
    broken, letter = one_set_aside(talk, capsys)
    repaired = json.dumps({**broken, "value": 2})
    # When the operator redrives it
    document = ops_json(capsys, 1, "redrive", str(letter["id"]), "--value", repaired)
    # Then it is refused, saying the group has committed nothing, and nothing is published
    assert document["error"]["type"] == "urn:talkrate:cli:topic-not-consumed", document
    assert document["consumedTopics"] == []
    assert (
        f"the projector's consumer group {group!r} (PROJECTOR_CONSUMER_GROUP) has committed no "
        f"offset at {kafka_location(kafka_bootstrap)}, so nothing says that RATINGS_TOPIC "
        f"{topic!r} (RATINGS_TOPIC) is the one it consumes"
    ) in document["error"]["detail"]
    assert count_records(kafka_bootstrap, topic) == 0
    # When they say it is a first deploy
    assert main(["ops", "redrive", str(letter["id"]), "--value", repaired, "--new-topic"]) == 0
    # Then it is published, once
    [record] = consume_to_end(kafka_bootstrap, topic)
    assert RatingSubmitted.from_json(record.value).value == 2


@pytest.fixture
def outbox_kept() -> Iterator[Callable[[Rating], None]]:
    """An outbox no runtime relays, emptied first and after: keep a rating in it."""
    prepare(RELAY_TALKS)
    database = PostgresDatabase(RELAY_TALKS)

    def emptied() -> None:
        with psycopg2.connect(RELAY_TALKS) as connection, connection.cursor() as cursor:
            cursor.execute("DELETE FROM rating_outbox")
        connection.close()

    emptied()
    yield PostgresOutbox(database).enqueue
    emptied()
    database.close()


def test_a_relay_into_a_topic_the_projector_does_not_consume_is_refused(
    configure: Callable[..., None],
    talk: str,
    topic: str,
    kafka_bootstrap: str,
    outbox_kept: Callable[[Rating], None],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a dev stack with a topic of its own, with a rating waiting in its outbox, and an
    # operator whose RATINGS_TOPIC is another stack's
    own, group = a_stack_s_own_topic(kafka_bootstrap)
    configure(TALKS_CONNECTION=RELAY_TALKS, PROJECTOR_CONSUMER_GROUP=group)
    kept = Rating.new(talk, 5)
    outbox_kept(kept)
    capsys.readouterr()
    # When they relay the outbox
    assert main(["ops", "relay"]) == 1
    said = capsys.readouterr()
    # Then it is refused in one line (it published into the other stack's topic)
    [line] = said.err.strip().splitlines()
    assert line == refusal(topic, group, own, "relay", kafka_location(kafka_bootstrap)), line
    assert said.out == ""
    # And nothing was published: the rating still waits, its publish not even tried
    assert count_records(kafka_bootstrap, topic) == 0
    with psycopg2.connect(RELAY_TALKS) as connection, connection.cursor() as cursor:
        cursor.execute(
            "SELECT published_at, attempts FROM rating_outbox WHERE event_id = %s",
            (kept.event_id,),
        )
        assert cursor.fetchall() == [(None, 0)]
    connection.close()
    # And with --json it says so in its error document
    document = ops_json(capsys, 1, "relay")
    assert document["error"]["type"] == "urn:talkrate:cli:topic-not-consumed", document
    assert document["consumedTopics"] == [own]
    # And with PROJECTOR_CONSUMER_GROUP not set, the group is said to be its default
    configure(TALKS_CONNECTION=RELAY_TALKS)
    assert "'talkrate-projector' (PROJECTOR_CONSUMER_GROUP not set: its default)" in (
        said_unset(monkeypatch, capsys, "PROJECTOR_CONSUMER_GROUP", "relay")
    )
    # When RATINGS_TOPIC names the stack's topic
    configure(TALKS_CONNECTION=RELAY_TALKS, PROJECTOR_CONSUMER_GROUP=group, RATINGS_TOPIC=own)
    # Then the rating is relayed into it
    assert main(["ops", "relay"]) == 0
    assert capsys.readouterr().out.strip() == "relay: published 1, still pending 0"
    [record] = consume_to_end(kafka_bootstrap, own)
    assert str(RatingSubmitted.from_json(record.value).event_id) == kept.event_id


def test_a_relay_with_nothing_waiting_does_not_ask_the_broker(
    configure: Callable[..., None],
    kafka_bootstrap: str,
    outbox_kept: Callable[[Rating], None],
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given an empty outbox, and a projector's consumer group that consumes nothing
    configure(
        TALKS_CONNECTION=RELAY_TALKS,
        PROJECTOR_CONSUMER_GROUP=f"talkrate-none-{uuid.uuid4().hex[:8]}",
    )
    # When the operator relays
    assert main(["ops", "relay"]) == 0
    # Then it says there was nothing to publish, as before (a routine check stays quiet)
    assert capsys.readouterr().out.strip() == "relay: published 0, still pending 0"
