"""`talkrate ops forget-voter`, against the real event store and read model (one Redis and a Redis
Cluster): an attendee's ratings filed under a new random id everywhere at once, every count
kept, the rebuild's too."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg2
import pytest
import redis

from talkrate.adapters.limiter import RedisRequestLimiter, forgotten_key
from talkrate.adapters.postgres import PostgresDatabase, PostgresEventStore, PostgresOutbox
from talkrate.adapters.redis_store import (
    ReadModelClient,
    RedisReadModel,
    connect,
    histogram_key,
    votes_key,
)
from talkrate.events import Rating
from talkrate.observability import logger
from talkrate.projected import ProjectionBatch
from talkrate.projection import StreamRecord, classify
from talkrate.rebuild import rebuild_read_model
from talkrate.voters import VoterTokens, forgotten_id
from talkrate_cli.main import main
from talkrate_local.database import event_store
from tests.backends import built
from tests.builders import unique_talk_id
from tests.integration.conftest import TEST_VOTER_TOKEN_KEY, Call
from tests.integration.test_exactly_once import at, raw, voter_event
from tests.integration.test_handlers import counts, project_all
from tests.terminal import in_a_terminal, terminal_shows

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


def counted(
    backends: tuple[PostgresEventStore, RedisReadModel], topic: str, offset: int, *events: Any
) -> ProjectionBatch:
    """Events counted as the projector counts them (stored, then applied), from `offset` on."""
    store, model = backends
    batch = store.record(classify([at(topic, 0, offset + n, e) for n, e in enumerate(events)]))
    model.apply(batch)
    return batch


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
    published_while_kafka_was_down(talks_dsn, Rating.of(voter_event(second, 2, voter, 3)))
    counts = {talk: model.histogram(talk).counts for talk in (first, second)}
    assert counts[first] == {"1": 0, "2": 0, "3": 0, "4": 1, "5": 1}
    assert holding(talks_dsn, "dead_letters", "value", voter) == 1
    # When an operator forgets them, with their token (expired two hours ago)
    status, done, err = forget(attendee, capsys=capsys)
    # Then their three ratings, their two votes, the outbox entry and the dead letter are
    # filed under one new id, and nothing anywhere names them any more
    assert status == 0, err
    assert done == {
        "events": 3,
        "found": 3,
        "talks": 2,
        "votes": 2,
        "outbox": 1,
        "deadLetters": 1,
        "rebuildNeeded": False,
    }
    assert rows_of(talks_dsn, voter) == []
    assert holding(talks_dsn, "rating_outbox", "payload", voter) == 0
    assert holding(talks_dsn, "dead_letters", "value", voter) == 0
    # (nor the outbox's link to the accepting request, whose access-log line has the address)
    assert outbox_links(talks_dsn, forgotten_id(voter)) == [None]
    for talk in (first, second):
        assert voter not in redis_client.hgetall(votes_key(talk))
    # And one pseudonym holds them, as they were
    [pseudonym] = {
        name for name in redis_client.hgetall(votes_key(first)) if name.startswith("forgotten-")
    }
    assert pseudonym == forgotten_id(voter)
    assert rows_of(talks_dsn, pseudonym) == [(first, 3), (first, 5), (second, 2)]
    assert redis_client.hget(votes_key(first), pseudonym).startswith("5|")
    assert redis_client.hget(votes_key(first), other).startswith("4|")
    # And every count is the same, and stays so through a rebuild
    assert {talk: model.histogram(talk).counts for talk in (first, second)} == counts
    rebuild_read_model(store, model)
    assert {talk: model.histogram(talk).counts for talk in (first, second)} == counts
    for talk in (first, second):
        redis_client.delete(histogram_key(talk), votes_key(talk))


def published_while_kafka_was_down(talks_dsn: str, rating: Rating) -> None:
    """A rating the outbox kept and the relay has published since (with its request's id)."""
    logger.set_correlation_id("request-1")
    try:
        PostgresOutbox(PostgresDatabase(talks_dsn)).enqueue(rating)
    finally:
        logger.set_correlation_id(None)
    with psycopg2.connect(talks_dsn) as connection, connection.cursor() as cursor:
        cursor.execute(
            "UPDATE rating_outbox SET published_at = now() WHERE event_id = %s",
            (rating.event_id,),
        )
    connection.close()


def outbox_links(talks_dsn: str, voter: str) -> list[str | None]:
    """The accepting requests' ids of the outbox entries naming a voter."""
    with psycopg2.connect(talks_dsn) as connection, connection.cursor() as cursor:
        cursor.execute(
            "SELECT correlation_id FROM rating_outbox WHERE position(%s IN payload) > 0",
            (voter.encode(),),
        )
        links = [row[0] for row in cursor.fetchall()]
    connection.close()
    return links


def test_only_the_voter_id_itself_is_renamed_not_text_that_contains_it(
    backends: tuple[PostgresEventStore, RedisReadModel],
    talks_dsn: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    store, _ = backends
    talk = unique_talk_id()
    # Given another attendee's rating of 5 waiting in the outbox and a record set aside, both
    # holding "5" in their other fields (and their event ids, perhaps)
    waiting = Rating.of(voter_event(talk, 5, uuid.uuid4().hex, 0))
    PostgresOutbox(PostgresDatabase(talks_dsn)).enqueue(waiting)
    aside = raw(f"t-{uuid.uuid4().hex[:8]}", 0, talk, value=55, voterId="x5")
    store.record(classify([aside]))
    # When an operator forgets the voter "5" (an id another producer might use)
    status, done, err = forget("5", "--expired", capsys=capsys)
    # Then neither changes (the 5 had been rewritten into text that is not JSON: lost)
    assert status == 0, err
    assert done["outbox"] == done["deadLetters"] == 0
    assert holding(talks_dsn, "rating_outbox", "payload", waiting.to_json().decode()) == 1
    assert holding(talks_dsn, "dead_letters", "value", aside.value.decode()) == 1


def test_a_rating_waiting_in_the_outbox_holds_the_voter_back(
    backends: tuple[PostgresEventStore, RedisReadModel],
    talks_dsn: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given an attendee whose rating still waits for the relay (Kafka down for hours)
    attendee, voter = token(expired_ago=timedelta(hours=2))
    PostgresOutbox(PostgresDatabase(talks_dsn)).enqueue(
        Rating.of(voter_event(unique_talk_id(), 4, voter, 0))
    )
    # When an operator forgets them
    status, _, err = forget(attendee, capsys=capsys)
    # Then nothing changes, and they are told why (the relay may be publishing it this moment,
    # under the old id: it would count beside the vote filed away)
    assert status == 1
    assert "1 rating of this voter waits in the outbox" in err
    assert holding(talks_dsn, "rating_outbox", "payload", voter) == 1


def test_a_rating_that_came_after_the_voter_was_forgotten_is_mended_by_a_second_run(
    backends: tuple[PostgresEventStore, RedisReadModel],
    redis_client: ReadModelClient,
    capsys: pytest.CaptureFixture[str],
) -> None:
    store, model = backends
    talk = unique_talk_id()
    topic = f"t-{uuid.uuid4().hex[:8]}"
    attendee, voter = token(expired_ago=timedelta(hours=2))
    # Given an attendee who rated a talk 3, and is forgotten
    counted(backends, topic, 0, voter_event(talk, 3, voter, 0))
    status, done, err = forget(attendee, capsys=capsys)
    assert status == 0, err
    assert done["rebuildNeeded"] is False
    # When their 5 is counted only now, under their old id (as another voter's)
    counted(backends, topic, 1, voter_event(talk, 5, voter, 1))
    assert model.histogram(talk).counts == {"1": 0, "2": 0, "3": 1, "4": 0, "5": 1}
    # Then a second run files it under the same id and says a rebuild must count it once
    status, done, err = forget(attendee, capsys=capsys)
    assert status == 0, err
    assert done["rebuildNeeded"] is True
    assert "ops rebuild" in err
    assert redis_client.hget(votes_key(talk), forgotten_id(voter)).startswith("5|")
    assert voter not in redis_client.hgetall(votes_key(talk))
    # And after the rebuild the attendee's newest rating counts, once
    rebuild_read_model(store, model)
    assert model.histogram(talk).counts == {"1": 0, "2": 0, "3": 0, "4": 0, "5": 1}
    redis_client.delete(histogram_key(talk), votes_key(talk))


@pytest.mark.parametrize("value", [5, 3], ids=["another-value", "the-same-value"])
def test_a_rating_stored_and_not_yet_counted_holds_the_voter_back(
    backends: tuple[PostgresEventStore, RedisReadModel],
    redis_client: ReadModelClient,
    talks_dsn: str,
    capsys: pytest.CaptureFixture[str],
    value: int,
) -> None:
    store, model = backends
    talk = unique_talk_id()
    topic = f"t-{uuid.uuid4().hex[:8]}"
    attendee, voter = token(expired_ago=timedelta(hours=2))
    # Given an attendee who rated a talk 3, then again (`value`), which the projector stored
    # but did not count yet (its batch failed at Redis and is being retried)
    counted(backends, topic, 0, voter_event(talk, 3, voter, 0))
    later = store.record(classify([at(topic, 0, 1, voter_event(talk, value, voter, 1))]))
    # When an operator forgets them
    status, _, err = forget(attendee, capsys=capsys)
    # Then nothing changes, and they are told why: the retried batch carries the old id, and
    # would count it beside the vote filed away (with the same value, no count showed it)
    assert status == 1, err
    assert "1 rating of this voter is stored and not yet counted" in err
    assert [v for _, v in rows_of(talks_dsn, voter)] == [3, value]
    # And once the batch is counted, the command run again files both under the new id, and
    # their newest rating counts once, as in a rebuild
    model.apply(later)
    status, done, err = forget(attendee, capsys=capsys)
    assert status == 0, err
    assert done["rebuildNeeded"] is False
    expected = {"1": 0, "2": 0, "3": 0, "4": 0, "5": 0} | {str(value): 1}
    assert model.histogram(talk).counts == expected
    assert voter not in redis_client.hgetall(votes_key(talk))
    rebuild_read_model(store, model)
    assert model.histogram(talk).counts == expected
    redis_client.delete(histogram_key(talk), votes_key(talk))


def test_a_token_this_deployment_did_not_sign_is_not_forgotten(
    backends: tuple[PostgresEventStore, RedisReadModel],
    configure: Callable[..., None],
    read_model_url: str,
    talks_dsn: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    talk = unique_talk_id()
    topic = f"t-{uuid.uuid4().hex[:8]}"
    # Given an attendee whose token is valid for another day, and who rated with it
    valid, voter = token(expired_ago=-timedelta(days=1))
    counted(backends, topic, 0, voter_event(talk, 5, voter, 0))
    # When they send, as their deletion request, the token with its expiry edited into the past
    prefix, _, rest = valid.partition(f"{voter}.")
    expires, _, signature = rest.partition(".")
    edited = f"{prefix}{voter}.{int(expires) - 2 * 86_400}.{signature}"
    status, _, err = forget(edited, capsys=capsys)
    # Then it is refused (they would be forgotten while the real token still rates, and their
    # next rating would count beside the vote filed away), and nothing changed
    assert status == 2, err
    assert "the token's signature does not match" in err, err
    assert [v for _, v in rows_of(talks_dsn, voter)] == [5]
    # And without the voter-token key no token's expiry is taken on its word
    genuine, other = token(expired_ago=timedelta(hours=2))
    counted(backends, topic, 1, voter_event(talk, 2, other, 1))
    configure(RATINGS_CONNECTION=read_model_url, VOTER_TOKEN_KEY="")
    monkeypatch.setenv("TALKRATE_LOCAL_DATA", str(tmp_path))  # (no local runtime's key there)
    status, _, err = forget(genuine, capsys=capsys)
    assert status == 2, err
    assert "the token's signature cannot be checked" in err, err
    assert "VOTER_TOKEN_KEY" in err
    # (and, the event store on this machine, where a local runtime keeps its own key)
    assert f'`export VOTER_TOKEN_KEY="$(cat {tmp_path / "voter-token.key"})"`' in err, err
    # (it named the secret by its logical id, which no output or recipe gave)
    assert "VOTER_TOKEN_SECRET_ARN to the stack's VoterTokenSecretArn output" in " ".join(
        err.split()
    )
    assert [v for _, v in rows_of(talks_dsn, other)] == [2]


def test_a_run_stopped_after_the_read_model_s_step_is_finished_by_the_next(
    backends: tuple[PostgresEventStore, RedisReadModel],
    redis_client: ReadModelClient,
    talks_dsn: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    store, model = backends
    talk = unique_talk_id()
    topic = f"t-{uuid.uuid4().hex[:8]}"
    attendee, voter = token(expired_ago=timedelta(hours=2))
    # Given a forgotten attendee whose 5 was counted later under their old id (two votes)
    counted(backends, topic, 0, voter_event(talk, 3, voter, 0))
    assert forget(attendee, capsys=capsys)[0] == 0
    counted(backends, topic, 1, voter_event(talk, 5, voter, 1))
    # And a second run that stopped after merging the read model's votes (its word that a
    # rebuild is needed lost with it)
    assert model.rename_voter(voter, forgotten_id(voter), [talk]) == (1, 1)
    # When it is run again
    status, done, err = forget(attendee, capsys=capsys)
    # Then it finishes the event store's step, and still says a rebuild is needed (the counts
    # differ from the event store's)
    assert status == 0, err
    assert rows_of(talks_dsn, voter) == []
    assert done["rebuildNeeded"] is True
    rebuild_read_model(store, model)
    assert model.histogram(talk).counts == {"1": 0, "2": 0, "3": 0, "4": 0, "5": 1}
    redis_client.delete(histogram_key(talk), votes_key(talk))


def test_a_lost_read_model_is_said_lost_not_taken_for_a_batch_still_to_count(
    configure: Callable[..., None],
    redis_url: str,
    talks_dsn: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure(RATINGS_CONNECTION=redis_url)
    database = PostgresDatabase(talks_dsn)
    store, model = PostgresEventStore(database), RedisReadModel(redis_url)
    talk = unique_talk_id()
    topic = f"t-{uuid.uuid4().hex[:8]}"
    attendee, voter = token(expired_ago=timedelta(hours=2))
    # Given an attendee whose rating is stored and counted
    counted((store, model), topic, 0, voter_event(talk, 4, voter, 0))
    try:
        # When Redis loses the read model (flushed, or restarted empty) and no rebuild runs
        model.client.flushdb()
        status, _, err = forget(attendee, capsys=capsys)
        # Then nothing changes, and the operator is told the read model is lost and what
        # rebuilds it, not that a batch of the voter waits to be counted
        assert status == 1, err
        assert "the read model is lost" in err
        assert "`talkrate ops rebuild`" in err
        assert "not yet counted" not in err
        assert [v for _, v in rows_of(talks_dsn, voter)] == [4]
        # And once it is rebuilt, the command run again files the rating under the new id
        rebuild_read_model(store, model, progress=lambda _: None)
        status, done, err = forget(attendee, capsys=capsys)
        assert status == 0, err
        assert done["events"] == 1
        assert rows_of(talks_dsn, voter) == []
        assert model.histogram(talk).counts == {"1": 0, "2": 0, "3": 0, "4": 1, "5": 0}
    finally:
        built(redis_url, talks_dsn)
        model.client.delete(histogram_key(talk), votes_key(talk))
        database.close()


def test_a_voter_whose_pass_is_valid_is_forgotten_at_once_and_every_pass_of_theirs_refused(
    backends: tuple[PostgresEventStore, RedisReadModel],
    read_model_url: str,
    talks_dsn: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    talk = unique_talk_id()
    topic = f"t-{uuid.uuid4().hex[:8]}"
    limiter = RedisRequestLimiter(connect(read_model_url))
    # Given an attendee whose pass is valid (a day left), and one known by voter id only, who
    # rated minutes ago
    valid, valid_voter = token(expired_ago=-timedelta(days=1))
    by_id = uuid.uuid4().hex
    just_now = voter_event(talk, 4, by_id, 1).model_copy(
        update={"occurred_at": datetime.now(UTC) - timedelta(minutes=5)}
    )
    counted(backends, topic, 0, voter_event(talk, 2, valid_voter, 0), just_now)
    for voter in (valid_voter, by_id):
        assert not limiter.admit([], None, forgotten_id(voter)).barred
    # When an operator forgets both, at once (no hour to wait, no word on the pass's expiry)
    for attendee, voter in ((valid, valid_voter), (by_id, by_id)):
        status, done, err = forget(attendee, capsys=capsys)
        # Then it is done, and every pass of theirs is refused from then on (the routes'
        # limiter says barred, counting nothing)
        assert status == 0, err
        assert done["events"] == 1
        assert rows_of(talks_dsn, voter) == []
        assert limiter.admit([], None, forgotten_id(voter)).barred
    # And a rebuild keeps them refused, after a Redis that lost the marks too
    redis_client = connect(read_model_url, decode_responses=True)
    for voter in (valid_voter, by_id):
        redis_client.delete(forgotten_key(forgotten_id(voter)))
    rebuild_read_model(*backends)
    for voter in (valid_voter, by_id):
        assert limiter.admit([], None, forgotten_id(voter)).barred
    redis_client.delete(histogram_key(talk), votes_key(talk))


def test_a_voter_token_must_be_whole(
    backends: tuple[PostgresEventStore, RedisReadModel], capsys: pytest.CaptureFixture[str]
) -> None:
    # Given an operator holding a voter id, and a token cut short
    voter = uuid.uuid4().hex
    # When they forget the cut token, Then it is refused as bad input (2)
    cut, _, cut_err = forget(f"v1.{voter}.1", capsys=capsys)
    assert cut == 2
    assert "not a whole voter token" in cut_err
    # And the voter id runs (with an older runbook's --expired too): nothing of this voter is
    # stored, and it says so
    status, done, err = forget(voter, "--expired", capsys=capsys)
    assert status == 0, err
    assert main(["ops", "forget-voter", voter]) == 0
    said = capsys.readouterr().out
    assert said == (
        f"forget-voter: no rating of voter id {voter} is stored, so none was filed away (the id "
        "is marked forgotten all the same: a pass carrying it is refused)\n"
        "forget-voter: check the id: it is the second part of the attendee's pass, "
        "v1.<voter id>.<expiry>.<signature>; giving their whole pass is the sure way\n"
    ), said
    assert done == {
        "events": 0,
        "found": 0,
        "talks": 0,
        "votes": 0,
        "outbox": 0,
        "deadLetters": 0,
        "rebuildNeeded": False,
    }


def test_an_id_that_names_no_stored_rating_is_said_to_have_filed_nothing_away(
    backends: tuple[PostgresEventStore, RedisReadModel],
    read_model_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    limiter = RedisRequestLimiter(connect(read_model_url))
    # Given an operator answering a deletion request with an id no pass ever carried (a typo)
    # When they forget it
    status = main(["ops", "forget-voter", "nonsense"])
    said = capsys.readouterr().out
    # Then the id is marked all the same (harmless, and right for a voter who never rated)
    assert status == 0, said
    assert limiter.admit([], None, forgotten_id("nonsense")).barred
    # But the words do not read as a deletion done: nothing of that id is stored, and how to
    # check it (the pass's second part; the whole pass is sure)
    assert said.splitlines() == [
        "forget-voter: no rating of voter id nonsense is stored, so none was filed away (the id "
        "is marked forgotten all the same: a pass carrying it is refused)",
        "forget-voter: check the id: it is the second part of the attendee's pass, "
        "v1.<voter id>.<expiry>.<signature>; a pass's voter id is 32 lower-case hex digits, "
        "and nonsense is not one; giving their whole pass is the sure way",
    ]
    # And with --json: the document says none was found, and the same words go to stderr
    status, done, err = forget("nonsense", capsys=capsys)
    assert (status, done["found"], done["events"]) == (0, 0, 0)
    assert "no rating of voter id nonsense is stored" in err, err
    # And an attendee's pass, checked by its signature, who has not rated: no id to check
    attendee, _ = token(expired_ago=-timedelta(days=1))
    assert main(["ops", "forget-voter", attendee]) == 0
    assert capsys.readouterr().out == (
        "forget-voter: no rating of this voter is stored, so none was filed away (they have "
        "not rated); their passes are refused from now on\n"
    )


def test_a_voter_forgotten_again_is_said_filed_away_by_the_earlier_run(
    backends: tuple[PostgresEventStore, RedisReadModel],
    redis_client: ReadModelClient,
    capsys: pytest.CaptureFixture[str],
) -> None:
    talk = unique_talk_id()
    topic = f"t-{uuid.uuid4().hex[:8]}"
    attendee, voter = token(expired_ago=timedelta(hours=2))
    # Given an attendee who rated a talk 3 then 5, and was forgotten
    counted(backends, topic, 0, voter_event(talk, 3, voter, 0), voter_event(talk, 5, voter, 1))
    assert forget(attendee, capsys=capsys)[1]["events"] == 2
    # When the operator runs it again (a second request, a runbook run twice)
    assert main(["ops", "forget-voter", attendee]) == 0
    said = capsys.readouterr().out
    # Then it says their ratings are stored, filed away before (not that none is stored)
    assert said == (
        "forget-voter: nothing left to file away: their 2 stored ratings were filed under "
        f"{forgotten_id(voter)} by an earlier run; their passes are refused\n"
    ), said
    _, done, _ = forget(attendee, capsys=capsys)
    assert (done["events"], done["found"]) == (0, 2)
    redis_client.delete(histogram_key(talk), votes_key(talk))


def test_a_voter_id_in_the_wrong_case_is_refused_before_anything_is_marked(
    backends: tuple[PostgresEventStore, RedisReadModel],
    read_model_url: str,
    talks_dsn: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    talk = unique_talk_id()
    topic = f"t-{uuid.uuid4().hex[:8]}"
    limiter = RedisRequestLimiter(connect(read_model_url))
    # Given an attendee's counted rating, and an operator who typed their id in capitals
    voter = uuid.uuid4().hex
    counted(backends, topic, 0, voter_event(talk, 4, voter, 0))
    # When they forget it, Then it is refused as bad input (2), naming the id that has ratings
    status, done, _ = forget(voter.upper(), capsys=capsys)
    assert (status, done["error"]["type"]) == (2, "urn:talkrate:cli:bad-input")
    assert f"{voter} (its lower-case form) does" in done["error"]["detail"]
    # And nothing was marked or filed away: the rating still names the attendee
    assert not limiter.admit([], None, forgotten_id(voter.upper())).barred
    assert rows_of(talks_dsn, voter) == [(talk, 4)]
    # And another producer's id in capitals is its own voter, beside one in lower case who rated
    producer = f"Attendee-{uuid.uuid4().hex[:8]}"
    counted(backends, topic, 1, voter_event(talk, 2, producer.lower(), 1))
    status, done, _ = forget(producer, capsys=capsys)
    assert (status, done["events"]) == (0, 0)
    assert rows_of(talks_dsn, producer.lower()) == [(talk, 2)]
    # When an id no pass carries and nothing is stored under is forgotten
    assert main(["ops", "forget-voter", "garbage"]) == 0
    # Then it is marked (a voter who has not rated yet is forgotten by their passes), and the
    # words say that no pass carries such an id
    said = capsys.readouterr().out
    assert "32 lower-case hex digits, and garbage is not one" in said, said
    assert limiter.admit([], None, forgotten_id("garbage")).barred


def test_a_voter_whose_ratings_are_of_a_retired_topic_is_forgotten(
    backends: tuple[PostgresEventStore, RedisReadModel],
    redis_client: ReadModelClient,
    capsys: pytest.CaptureFixture[str],
) -> None:
    store, model = backends
    talk = unique_talk_id()
    topic = f"t-{uuid.uuid4().hex[:8]}"
    attendee, voter = token(expired_ago=timedelta(hours=2))
    # Given an attendee's counted rating of a topic since created again, its positions retired
    # and its offsets forgotten, as the local runtime does at a new broker (no rebuild)
    counted(backends, topic, 0, voter_event(talk, 4, voter, 0))
    store.retire_topic(topic)
    model.forget_offsets(topic)
    # When they are forgotten, Then it is done (the retired position, which no projector is
    # delivered again, is not a rating waiting to be counted)
    status, done, err = forget(attendee, capsys=capsys)
    assert status == 0, err
    assert done["rebuildNeeded"] is False
    assert model.histogram(talk).counts["4"] == 1
    redis_client.delete(histogram_key(talk), votes_key(talk))


def test_a_forgotten_voter_s_dead_letter_delivered_again_is_not_told_as_another_record(
    backends: tuple[PostgresEventStore, RedisReadModel],
    talks_dsn: str,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    store, model = backends
    topic = f"t-{uuid.uuid4().hex[:8]}"
    attendee, voter = token(expired_ago=timedelta(hours=2))
    # Given a record naming a voter that the projector set aside, and the voter forgotten
    letter = raw(topic, 0, unique_talk_id(), voterId=voter, value=9)
    model.apply(store.record(classify([letter])))
    assert forget(attendee, capsys=capsys)[0] == 0
    assert holding(talks_dsn, "dead_letters", "value", voter) == 0
    # When the same record is delivered again (a retried batch)
    with caplog.at_level(logging.WARNING):
        store.record(classify([letter]))
    # Then it is that letter again: kept once, under the new id, and not told as a record of a
    # topic created again (whose advice, a replay, would store the voter's id again)
    assert "dead letters not stored" not in caplog.text
    assert holding(talks_dsn, "dead_letters", "value", voter) == 0


def test_a_forgotten_voter_is_named_by_no_redrive_recorded_on_a_dead_letter(
    backends: tuple[PostgresEventStore, RedisReadModel],
    talks_dsn: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    store, _ = backends
    talk = unique_talk_id()
    attendee, voter = token(expired_ago=timedelta(hours=2))
    topic = f"t-{uuid.uuid4().hex[:8]}"
    # Given a record of theirs the projector set aside, and a redrive of it recorded on the
    # letter (`ops redrive` records each before publishing it)
    store.record(classify([raw(topic, 0, talk, voterId=voter, value=9)]))
    [letter] = [d for d in store.dead_letters() if d["topic"] == topic]
    event = {**json.loads(letter["value"]), "value": 3}
    assert store.record_redrive(letter["id"], letter["value"], event["eventId"], event)
    # When an operator forgets them
    status, done, err = forget(attendee, capsys=capsys)
    # Then the letter counts once among those changed, and its recorded redrive names the
    # pseudonym, not them (it kept their voter id)
    assert status == 0, err
    assert done["deadLetters"] == 1
    [again] = [d for d in store.dead_letters() if d["id"] == letter["id"]]
    [redriven] = again["redrives"]
    assert redriven["value"]["voterId"] == forgotten_id(voter)
    assert voter not in json.dumps(again["redrives"])


def test_a_forgotten_voter_s_renewed_pass_never_counts_a_changed_mind_twice(
    api: Call,
    configure: Callable[..., None],
    talk: str,
    topic: str,
    kafka_bootstrap: str,
    talks_dsn: str,
    redis_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure(VOTING_POLICY="attendee", PUBLISH_TIMEOUT_SECONDS="1")
    keys = VoterTokens(TEST_VOTER_TOKEN_KEY.encode(), LIFETIME)
    now = datetime.now(UTC)
    # Given an attendee whose first pass (A) expired a day ago, who rated the talk 5 with it and
    # renewed it two days ago (POST /voters with A then): their pass B, the same voter, is valid
    old = keys.issue(now - LIFETIME - timedelta(days=1))
    with event_store(talks_dsn) as store:
        rated = voter_event(talk, 5, old.voter_id, 0).model_copy(
            update={"occurred_at": now - timedelta(days=3)}
        )
        RedisReadModel(redis_url).apply(
            store.record(classify([at(f"t-{uuid.uuid4().hex[:8]}", 0, 0, rated)]))
        )
    renewed = keys.renew(old.token, now - timedelta(days=2))
    assert renewed.voter_id == old.voter_id
    # When the attendee asks to be forgotten, handing over their old pass A
    status, done, err = forget(old.token, capsys=capsys)
    assert status == 0, err
    assert done["events"] == 1
    # And then changes their mind to 1 with pass B
    answer = api(
        "POST", "/ratings", {"talkId": talk, "value": 1}, headers={"voter-token": renewed.token}
    )
    project_all(topic, kafka_bootstrap)
    # Then their changed mind does not count beside the vote filed away: pass B names a
    # forgotten voter and is refused (401)
    assert counts(redis.Redis.from_url(redis_url, decode_responses=True), talk) == {"5": "1"}
    assert answer["statusCode"] == 401, answer["json"]
    assert answer["json"]["type"].endswith(":forgotten-voter")
    # And presented to POST /voters it renews nothing: it is set aside, and the answer is a new
    # anonymous voter's pass (as for anyone who cleared their phone), said not renewed
    again = api("POST", "/voters", headers={"voter-token": renewed.token})
    assert again["statusCode"] == 201, again["json"]
    assert again["json"]["renewed"] is False
    assert again["json"]["voterToken"].split(".")[1] != old.voter_id
    # And pass B still counts for nothing after that
    after = api(
        "POST", "/ratings", {"talkId": talk, "value": 2}, headers={"voter-token": renewed.token}
    )
    assert after["statusCode"] == 401, after["json"]
    assert after["json"]["type"].endswith(":forgotten-voter")


def test_locally_the_runtime_s_own_voter_token_key_is_found_without_an_export(
    backends: tuple[PostgresEventStore, RedisReadModel],
    configure: Callable[..., None],
    read_model_url: str,
    talks_dsn: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    # Given a local runtime that made its voter-token key in its data folder (VOTER_TOKEN_KEY
    # not set for the command), and an attendee who rated with a token it signed
    local_key = "local-runtime-key-" + uuid.uuid4().hex
    (tmp_path / "voter-token.key").write_text(local_key + "\n")
    monkeypatch.setenv("TALKRATE_LOCAL_DATA", str(tmp_path))
    configure(RATINGS_CONNECTION=read_model_url, VOTER_TOKEN_KEY="")
    issued = VoterTokens(local_key.encode(), LIFETIME).issue(datetime.now(UTC))
    talk, topic = unique_talk_id(), f"t-{uuid.uuid4().hex[:8]}"
    counted(backends, topic, 0, voter_event(talk, 4, issued.voter_id, 0))
    # When the organiser forgets them with the token alone, nothing exported
    status, document, err = forget(issued.token, capsys=capsys)
    # Then the runtime's key checks the token and the voter is forgotten (it said "the token's
    # signature cannot be checked ... set VOTER_TOKEN_KEY"), the key printed nowhere
    assert status == 0, err
    assert document["events"] == 1, document
    assert rows_of(talks_dsn, issued.voter_id) == []
    assert local_key not in err
    # And a token the local key did not sign is refused, naming where that key is kept
    other = VoterTokens(b"another-deployment-key-0123456789", LIFETIME).issue(datetime.now(UTC))
    status, _, err = forget(other.token, capsys=capsys)
    said = " ".join(err.split())
    assert status == 2, err
    assert "does not match the local runtime's voter-token key" in said, said
    assert str(tmp_path / "voter-token.key") in said
    assert local_key not in said


# `talkrate ops forget-voter`, run as an operator runs it: a process of its own, on the
# configured backends (the environment `configure` set).
COMMAND = [sys.executable, "-m", "talkrate_cli"]
ON_THE_COMMAND_LINE = "VOTER was given on the command line"


def run_forget(*args: str, stdin: str | None) -> subprocess.CompletedProcess[str]:
    """`talkrate ARGS`, given `stdin` (None: none to read)."""
    return subprocess.run(
        [*COMMAND, *args],
        input=stdin,
        stdin=subprocess.DEVNULL if stdin is None else None,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_token_given_on_standard_input_is_forgotten_and_never_on_a_command_line(
    backends: tuple[PostgresEventStore, RedisReadModel],
    redis_client: ReadModelClient,
    read_model_url: str,
    talks_dsn: str,
) -> None:
    talk, topic = unique_talk_id(), f"t-{uuid.uuid4().hex[:8]}"
    attendee, voter = token(expired_ago=-timedelta(days=1))
    # Given an attendee whose pass is still valid and who rated a talk 4
    counted(backends, topic, 0, voter_event(talk, 4, voter, 0))
    # When the operator pipes their pass into `forget-voter -` (from the file the attendee sent)
    done = run_forget("--json", "ops", "forget-voter", "-", stdin=attendee + "\n")
    # Then they are forgotten as with the pass on the command line, which held only "-"
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["events"] == 1
    assert rows_of(talks_dsn, voter) == []
    assert rows_of(talks_dsn, forgotten_id(voter)) == [(talk, 4)]
    assert RedisRequestLimiter(connect(read_model_url)).admit([], None, forgotten_id(voter)).barred
    assert done.args == [*COMMAND, "--json", "ops", "forget-voter", "-"]
    # And nothing said repeats the pass or its id, nor asks to keep it off the command line
    assert attendee not in done.stdout + done.stderr
    assert voter not in done.stdout + done.stderr
    assert ON_THE_COMMAND_LINE not in done.stderr
    redis_client.delete(histogram_key(talk), votes_key(talk))


def test_a_voter_on_the_command_line_still_runs_and_is_said_to_be_kept_there(
    backends: tuple[PostgresEventStore, RedisReadModel],
    redis_client: ReadModelClient,
    talks_dsn: str,
) -> None:
    talk, topic = unique_talk_id(), f"t-{uuid.uuid4().hex[:8]}"
    attendee, voter = token(expired_ago=timedelta(hours=1))
    counted(backends, topic, 0, voter_event(talk, 2, voter, 0))
    # When an older runbook's or script's form gives the pass as an argument
    done = run_forget("ops", "forget-voter", attendee, stdin=None)
    # Then it is forgotten, and the operator is told where the pass is now kept, and the form
    # that keeps it off the command line (the pass itself not repeated)
    assert done.returncode == 0, done.stderr
    assert rows_of(talks_dsn, forgotten_id(voter)) == [(talk, 2)]
    said = " ".join(done.stderr.split())
    assert (
        "forget-voter: VOTER was given on the command line, where the shell's history keeps "
        "it and `ps` shows it while this runs; `talkrate ops forget-voter -` reads it from "
        "standard input (asked for, not shown, on a terminal)"
    ) in said, said
    assert attendee not in done.stderr
    redis_client.delete(histogram_key(talk), votes_key(talk))


@pytest.mark.parametrize(
    ("given", "said"),
    [
        ("", "forget-voter: no VOTER on standard input (a voter token or voter id)"),
        (
            "v1.aaaa.1.x\nv1.bbbb.2.y\n",
            "forget-voter: standard input holds 2 words; one VOTER at a time",
        ),
    ],
    ids=["nothing", "two-passes"],
)
def test_standard_input_without_one_voter_is_refused_as_bad_input(
    backends: tuple[PostgresEventStore, RedisReadModel], given: str, said: str
) -> None:
    # When standard input holds no VOTER, or two
    done = run_forget("--json", "ops", "forget-voter", "-", stdin=given)
    # Then it is refused as bad input (2), in --json's shape, and nothing is marked
    assert done.returncode == 2, done.stderr
    error = json.loads(done.stdout)["error"]
    assert error["type"] == "urn:talkrate:cli:bad-input"
    assert error["detail"].startswith(said), error
    assert "v1.aaaa" not in done.stdout + done.stderr


def test_a_token_typed_at_the_prompt_is_not_shown_and_is_forgotten(
    backends: tuple[PostgresEventStore, RedisReadModel],
    redis_client: ReadModelClient,
    talks_dsn: str,
) -> None:
    talk, topic = unique_talk_id(), f"t-{uuid.uuid4().hex[:8]}"
    attendee, voter = token(expired_ago=timedelta(minutes=5))
    counted(backends, topic, 0, voter_event(talk, 5, voter, 0))
    # Given an operator at a terminal (a pseudo-terminal, the command's only one)
    with in_a_terminal([*COMMAND, "ops", "forget-voter", "-"], start_new_session=True) as (
        process,
        master,
    ):
        # When they paste the pass at its prompt
        text = terminal_shows(master, r"\(not shown\): ")
        os.write(master, attendee.encode() + b"\n")
        text += terminal_shows(master, None)
        status = process.wait(timeout=60)
    # Then the terminal never showed it, and the voter is forgotten
    assert status == 0, text
    assert "Voter token or voter id (not shown): " in text
    assert attendee not in text
    assert f"filed under {forgotten_id(voter)}" in " ".join(text.split())
    assert rows_of(talks_dsn, forgotten_id(voter)) == [(talk, 5)]
    redis_client.delete(histogram_key(talk), votes_key(talk))
