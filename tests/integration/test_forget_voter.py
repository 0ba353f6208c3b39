"""`talkrate ops forget-voter`, against the real event store and read model (one Redis and a Redis
Cluster): an attendee's ratings filed under a new random id everywhere at once, every count
kept, the rebuild's too."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg2
import pytest

from talkrate.adapters.postgres import PostgresDatabase, PostgresEventStore, PostgresOutbox
from talkrate.adapters.redis_store import (
    ReadModelClient,
    RedisReadModel,
    connect,
    histogram_key,
    votes_key,
)
from talkrate.events import Rating
from talkrate.projection import StreamRecord, classify
from talkrate.rebuild import rebuild_read_model
from talkrate.voters import VoterTokens
from talkrate_cli.main import main
from tests.builders import unique_talk_id
from tests.integration.conftest import TEST_VOTER_TOKEN_KEY
from tests.integration.test_exactly_once import at, raw, voter_event

pytestmark = pytest.mark.integration

LIFETIME = timedelta(days=7)


@pytest.fixture
def backends(
    configure: Callable[..., None], talks_dsn: str, read_model_url: str
) -> Iterator[tuple[PostgresEventStore, RedisReadModel]]:
    """The event store and read model the command works on (one Redis, then the cluster)."""
    configure(RATINGS_CONNECTION=read_model_url)
    database = PostgresDatabase(talks_dsn)
    yield PostgresEventStore(database), RedisReadModel(read_model_url)
    database.close()


@pytest.fixture
def redis_client(read_model_url: str) -> Iterator[ReadModelClient]:
    client = connect(read_model_url, decode_responses=True)
    yield client
    client.close()


def token(expired_ago: timedelta) -> tuple[str, str]:
    """A voter token that expired `expired_ago` (negative: still valid), and its voter id."""
    issued = VoterTokens(TEST_VOTER_TOKEN_KEY.encode(), LIFETIME).issue(
        datetime.now(UTC) - LIFETIME - expired_ago
    )
    return issued.token, issued.voter_id


def rows_of(talks_dsn: str, voter: str) -> list[tuple[str, int]]:
    with psycopg2.connect(talks_dsn) as connection, connection.cursor() as cursor:
        cursor.execute(
            "SELECT talk_id, value FROM rating_events WHERE voter_id = %s ORDER BY occurred_at",
            (voter,),
        )
        rows = cursor.fetchall()
    connection.close()
    return rows


def holding(talks_dsn: str, table: str, column: str, text: str) -> int:
    with psycopg2.connect(talks_dsn) as connection, connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count(*) FROM {table} WHERE position(%s IN {column}) > 0",  # noqa: S608 - the test's own names
            (text.encode(),),
        )
        [count] = cursor.fetchone() or (0,)
    connection.close()
    return int(count)


def forget(*args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, Any, str]:
    """`talkrate --json ops forget-voter ARGS`: its status, its document and its stderr."""
    status = main(["--json", "ops", "forget-voter", *args])
    out, err = capsys.readouterr()
    return status, json.loads(out) if out.strip() else None, err


def test_a_forgotten_voter_s_ratings_keep_every_count_under_a_new_id(
    backends: tuple[PostgresEventStore, RedisReadModel],
    redis_client: ReadModelClient,
    talks_dsn: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    store, model = backends
    first, second = unique_talk_id(), unique_talk_id()
    attendee, voter = token(expired_ago=timedelta(hours=2))
    other = uuid.uuid4().hex
    topic = f"t-{uuid.uuid4().hex[:8]}"
    # Given an attendee who rated one talk 3 then 5 (the 5 counts) and another talk 2, beside
    # someone else's 4; a rating of theirs still in the outbox, and a record naming them that
    # the projector set aside
    events = [
        voter_event(first, 3, voter, 0),
        voter_event(first, 4, other, 1),
        voter_event(first, 5, voter, 2),
        voter_event(second, 2, voter, 3),
    ]
    records: list[StreamRecord] = [at(topic, 0, n, e) for n, e in enumerate(events)]
    records.append(raw(topic, len(records), first, voterId=voter, value=9))
    batch = store.record(classify(records))
    model.apply(batch)
    PostgresOutbox(PostgresDatabase(talks_dsn)).enqueue(Rating.of(voter_event(second, 1, voter, 4)))
    counts = {talk: model.histogram(talk).counts for talk in (first, second)}
    assert counts[first] == {"1": 0, "2": 0, "3": 0, "4": 1, "5": 1}
    assert holding(talks_dsn, "dead_letters", "value", voter) == 1
    # When an operator forgets them, with their token (expired two hours ago)
    status, done, err = forget(attendee, capsys=capsys)
    # Then their three ratings, their two votes, the outbox entry and the dead letter are
    # filed under one new id, and nothing anywhere names them any more
    assert status == 0, err
    assert done == {"events": 3, "talks": 2, "votes": 2, "outbox": 1, "deadLetters": 1}
    assert rows_of(talks_dsn, voter) == []
    assert holding(talks_dsn, "rating_outbox", "payload", voter) == 0
    assert holding(talks_dsn, "dead_letters", "value", voter) == 0
    for talk in (first, second):
        assert voter not in redis_client.hgetall(votes_key(talk))
    # And one pseudonym holds them, as they were
    [pseudonym] = {
        name for name in redis_client.hgetall(votes_key(first)) if name.startswith("forgotten-")
    }
    assert rows_of(talks_dsn, pseudonym) == [(first, 3), (first, 5), (second, 2)]
    assert redis_client.hget(votes_key(first), pseudonym).startswith("5|")
    assert redis_client.hget(votes_key(first), other).startswith("4|")
    # And every count is the same, and stays so through a rebuild
    assert {talk: model.histogram(talk).counts for talk in (first, second)} == counts
    rebuild_read_model(store, model)
    assert {talk: model.histogram(talk).counts for talk in (first, second)} == counts
    for talk in (first, second):
        redis_client.delete(histogram_key(talk), votes_key(talk))


def test_a_voter_whose_token_is_valid_is_not_forgotten(
    backends: tuple[PostgresEventStore, RedisReadModel],
    talks_dsn: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    store, model = backends
    talk = unique_talk_id()
    topic = f"t-{uuid.uuid4().hex[:8]}"
    # Given an attendee whose token expired only ten minutes ago, and one whose token is valid
    recent, recent_voter = token(expired_ago=timedelta(minutes=10))
    valid, valid_voter = token(expired_ago=-timedelta(days=1))
    events = [voter_event(talk, 4, recent_voter, 0), voter_event(talk, 2, valid_voter, 1)]
    model.apply(store.record(classify([at(topic, 0, n, e) for n, e in enumerate(events)])))
    # When an operator tries to forget either
    for attendee, voter in ((recent, recent_voter), (valid, valid_voter)):
        status, done, err = forget(attendee, capsys=capsys)
        # Then it is refused (2), saying from when it can be, and nothing changed: a rating
        # still on its way with the token would count beside the vote filed away
        assert status == 2, err
        assert done is None or "error" in done
        assert "Forget it from" in err, err
        assert [value for _, value in rows_of(talks_dsn, voter)] == [
            4 if voter == recent_voter else 2
        ]


def test_a_voter_id_needs_to_be_said_expired(
    backends: tuple[PostgresEventStore, RedisReadModel], capsys: pytest.CaptureFixture[str]
) -> None:
    # Given an operator holding a voter id, not a token (which says when it expires)
    voter = uuid.uuid4().hex
    # When they forget it without saying its token expired, or give a token cut short
    without, _, err = forget(voter, capsys=capsys)
    cut, _, cut_err = forget(f"v1.{voter}.1", capsys=capsys)
    # Then both are refused as usage or bad input (2), and with --expired it runs (nothing of
    # this voter is stored: it says so)
    assert without == 2
    assert "--expired" in err
    assert cut == 2
    assert "not a whole voter token" in cut_err
    status, done, err = forget(voter, "--expired", capsys=capsys)
    assert status == 0, err
    assert done == {"events": 0, "talks": 0, "votes": 0, "outbox": 0, "deadLetters": 0}
