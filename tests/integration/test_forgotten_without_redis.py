"""A forgotten voter's pass never counts again, whatever Redis's state: emptied (flushed, then
rebuilt), paused, or unreachable. PostgreSQL is asked when Redis cannot say; when neither can,
the pass's request is refused (503), never let through unchecked. Real PostgreSQL, Redis and
broker; the API's handler called in process."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg2
import pytest
import redis

from talkrate import wiring
from talkrate.adapters.limiter import RedisRequestLimiter
from talkrate.adapters.postgres import PostgresDatabase, PostgresEventStore
from talkrate.adapters.redis_store import RedisReadModel, connect, votes_key
from talkrate.errors import BackendUnavailable, ForgottenUnknown, ForgottenVoter
from talkrate.projection import classify
from talkrate.rating import Rater, submit_rating
from talkrate.rebuild import rebuild_read_model
from talkrate.requests import RatingBody
from talkrate.values import Admission
from talkrate.voters import VoterTokens, forgotten_id
from talkrate_cli.main import main
from talkrate_local.database import event_store, recreate
from tests.backends import postgres_dsn
from tests.integration.conftest import TEST_VOTER_TOKEN_KEY, Call
from tests.integration.test_exactly_once import at, voter_event
from tests.integration.test_handlers import counts, project_all

pytestmark = pytest.mark.integration

# Nothing listens there: a Redis, or a PostgreSQL, that cannot be reached.
UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"
UNREACHABLE_POSTGRES = "postgresql://postgres@127.0.0.1:1/talkrate"


def new_pass() -> str:
    """A valid pass of a new voter, signed with the tests' key."""
    return (
        VoterTokens(TEST_VOTER_TOKEN_KEY.encode(), timedelta(days=7)).issue(datetime.now(UTC)).token
    )


def rate(api: Call, talk: str, value: int, token: str) -> dict[str, Any]:
    return api("POST", "/ratings", {"talkId": talk, "value": value}, headers={"voter-token": token})


def forget(token: str, capsys: pytest.CaptureFixture[str]) -> None:
    """`talkrate ops forget-voter TOKEN`, done."""
    capsys.readouterr()  # (what the projector printed before)
    status = main(["--json", "ops", "forget-voter", token])
    out, err = capsys.readouterr()
    assert status == 0, err
    assert json.loads(out)["events"] == 1


@pytest.fixture
def forgotten(
    api: Call,
    configure: Callable[..., None],
    talk: str,
    topic: str,
    kafka_bootstrap: str,
    redis_client: redis.Redis,
    capsys: pytest.CaptureFixture[str],
) -> Iterator[str]:
    """The pass of a voter who rated `talk` 5 beside another voter's 3, then was forgotten."""
    configure(VOTING_POLICY="attendee", PUBLISH_TIMEOUT_SECONDS="1")
    token, other = new_pass(), new_pass()
    assert rate(api, talk, 5, token)["statusCode"] == 202
    assert rate(api, talk, 3, other)["statusCode"] == 202
    project_all(topic, kafka_bootstrap)
    forget(token, capsys)
    assert counts(redis_client, talk) == {"3": "1", "5": "1"}
    refused = rate(api, talk, 1, token)
    assert refused["statusCode"] == 401, refused["json"]
    yield token
    redis_client.delete(votes_key(talk))


def refused_as_forgotten(answer: dict[str, Any]) -> bool:
    return answer["statusCode"] == 401 and answer["json"]["type"].endswith(":forgotten-voter")


def test_after_redis_lost_its_data_a_forgotten_voter_s_rating_is_refused_and_never_counted(
    api: Call,
    forgotten: str,
    talk: str,
    topic: str,
    kafka_bootstrap: str,
    redis_url: str,
    talks_dsn: str,
    redis_client: redis.Redis,
) -> None:
    # Given Redis lost its data (flushed): the forgotten voter's mark with the read model
    redis_client.flushdb()
    # When the forgotten voter rates the talk again, and asks for their pass renewed; and a
    # voter who was not forgotten rates it
    answer = rate(api, talk, 1, forgotten)
    renewal = api("POST", "/voters", headers={"voter-token": forgotten})
    other = rate(api, talk, 4, new_pass())
    # Then the rating is refused as a forgotten voter's (PostgreSQL said so), and the pass is
    # set aside for a new voter's; the other voter's rating is taken
    assert refused_as_forgotten(answer), answer["json"]
    assert renewal["statusCode"] == 201, renewal["json"]
    assert renewal["json"]["renewed"] is False
    assert other["statusCode"] == 202, other["json"]
    # And once the read model is rebuilt and every record projected, the talk counts the two
    # ratings of before and the other voter's, not the forgotten voter's new one
    with event_store(talks_dsn) as store:
        rebuild_read_model(store, RedisReadModel(redis_url), lambda _: None)
    project_all(topic, kafka_bootstrap)
    assert counts(redis_client, talk) == {"3": "1", "4": "1", "5": "1"}
    # And the rebuilt Redis refuses the pass on its own again
    assert refused_as_forgotten(rate(api, talk, 2, forgotten))


def test_while_redis_is_unreachable_a_forgotten_voter_s_pass_rates_and_renews_nothing(
    api: Call,
    configure: Callable[..., None],
    forgotten: str,
    talk: str,
    topic: str,
    kafka_bootstrap: str,
    redis_client: redis.Redis,
) -> None:
    # Given Redis cannot be reached
    configure(
        VOTING_POLICY="attendee", PUBLISH_TIMEOUT_SECONDS="1", RATINGS_CONNECTION=UNREACHABLE_REDIS
    )
    # When the forgotten voter rates the talk again, and asks for their pass renewed; and a
    # voter who was not forgotten rates it
    answer = rate(api, talk, 1, forgotten)
    renewal = api("POST", "/voters", headers={"voter-token": forgotten})
    other = rate(api, talk, 4, new_pass())
    # Then the forgotten voter's rating is refused, their pass renews nothing, and the other
    # voter's rating is taken (the container counts the limits; the forgotten check fails closed)
    assert refused_as_forgotten(answer), answer["json"]
    assert renewal["statusCode"] == 201, renewal["json"]
    assert renewal["json"]["renewed"] is False
    assert other["statusCode"] == 202, other["json"]
    # And once Redis answers again, the talk counts the other voter's rating, not theirs
    configure(VOTING_POLICY="attendee")
    project_all(topic, kafka_bootstrap)
    assert counts(redis_client, talk) == {"3": "1", "4": "1", "5": "1"}


def test_while_redis_is_paused_a_forgotten_voter_s_rating_is_refused_when_it_times_out(
    api: Call,
    forgotten: str,
    talk: str,
    topic: str,
    kafka_bootstrap: str,
    redis_client: redis.Redis,
) -> None:
    # Given Redis holds every client's commands (for longer than the API waits for an answer)
    redis_client.execute_command("CLIENT", "PAUSE", 7000, "ALL")
    # When the forgotten voter rates the talk again
    answer = rate(api, talk, 1, forgotten)
    # Then it is refused as a forgotten voter's once Redis did not answer
    assert refused_as_forgotten(answer), answer["json"]
    # And, Redis answering again (this read waits for the pause to end), nothing of it counts
    project_all(topic, kafka_bootstrap)
    assert counts(redis_client, talk) == {"3": "1", "5": "1"}


def test_when_neither_redis_nor_postgresql_can_say_a_pass_s_rating_and_renewal_are_503(
    api: Call,
    configure: Callable[..., None],
    forgotten: str,
    talk: str,
) -> None:
    # Given Redis cannot be reached, nor the database that keeps the forgotten voters
    configure(
        VOTING_POLICY="attendee", PUBLISH_TIMEOUT_SECONDS="1", RATINGS_CONNECTION=UNREACHABLE_REDIS
    )
    unreachable = PostgresEventStore(PostgresDatabase(UNREACHABLE_POSTGRES))
    voter = forgotten.split(".")[1]

    def submitted() -> object:
        try:
            return submit_rating(
                RatingBody(talk, 1),
                Rater(voter, "192.0.2.7"),
                wiring.rating_rules(),
                wiring.talk_catalog(),
                wiring.api_publisher(),
                wiring.outbox(),
                wiring.request_limiter(),
                datetime.now(UTC),
                forgotten_voters=unreachable,
            )
        except (ForgottenUnknown, ForgottenVoter) as refused:
            return type(refused)

    # When the forgotten voter's rating is submitted
    # Then it is refused for the outage, not let through unchecked
    assert submitted() is ForgottenUnknown
    # And at the API, a pass presented for renewal is answered 503 + Retry-After (neither
    # renewed unchecked nor set aside), when PostgreSQL cannot be reached either
    configure(
        VOTING_POLICY="attendee",
        RATINGS_CONNECTION=UNREACHABLE_REDIS,
        TALKS_CONNECTION=UNREACHABLE_POSTGRES,
    )
    renewal = api("POST", "/voters", headers={"voter-token": forgotten})
    assert renewal["statusCode"] == 503, renewal["json"]
    assert int(renewal["headers"]["Retry-After"]) > 0


class CountedForgottenVoters:
    """The event store's forgotten voters, counting how often they are asked."""

    def __init__(self, store: PostgresEventStore) -> None:
        self.store = store
        self.asked = 0

    def was_forgotten(self, pseudonym: str) -> bool:
        self.asked += 1
        return self.store.was_forgotten(pseudonym)


def test_with_redis_healthy_a_rating_asks_postgresql_nothing_more(
    configure: Callable[..., None], talk: str, talks_dsn: str, read_model_url: str
) -> None:
    # Given Redis (one, or a cluster) holding its read model, and a voter never forgotten
    configure(RATINGS_CONNECTION=read_model_url)
    voter = uuid.uuid4().hex
    with event_store(talks_dsn) as store:
        asked = CountedForgottenVoters(store)
        assert not store.was_forgotten(forgotten_id(voter))
        # When the voter rates the talk
        submission = submit_rating(
            RatingBody(talk, 4),
            Rater(voter, "192.0.2.8"),
            wiring.rating_rules(),
            wiring.talk_catalog(),
            wiring.api_publisher(),
            wiring.outbox(),
            wiring.request_limiter(),
            datetime.now(UTC),
            forgotten_voters=asked,
        )
    # Then it is taken in Redis's one round trip: PostgreSQL is not asked who was forgotten
    assert submission.status == "accepted"
    assert asked.asked == 0


def test_a_voter_forgotten_before_any_rating_of_theirs_was_stored_stays_refused_after_a_rebuild(
    configure: Callable[..., None],
    talks_dsn: str,
    redis_url: str,
    redis_client: redis.Redis,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a voter forgotten before any rating of theirs was stored (nothing to file away)
    token = new_pass()
    pseudonym = forgotten_id(token.split(".")[1])
    limiter = RedisRequestLimiter(connect(redis_url))
    capsys.readouterr()
    assert main(["--json", "ops", "forget-voter", token]) == 0, capsys.readouterr().err
    assert limiter.admit([], None, pseudonym).barred
    # When Redis loses its data, and the read model is rebuilt
    redis_client.flushdb()
    with event_store(talks_dsn) as store:
        rebuild_read_model(store, RedisReadModel(redis_url), lambda _: None)
    # Then Redis says on its own again that the voter was forgotten
    assert limiter.admit([], None, pseudonym).barred


class SwapWatched(RedisReadModel):
    """The read model, asking the limiter about a voter the moment its rebuild's swap (which
    sets the built mark) is done: what a request arriving then is told."""

    def __init__(self, url: str, pseudonym: str) -> None:
        super().__init__(url)
        self.limiter = RedisRequestLimiter(connect(url))
        self.pseudonym = pseudonym
        self.told: list[Admission] = []

    def _swap(self, calls: list[tuple[str, list[str], list[Any]]], on_one: bool) -> str | None:
        said = super()._swap(calls, on_one)
        self.told.append(self.limiter.admit([], None, self.pseudonym))
        return said


def test_a_rebuild_marks_the_forgotten_voters_before_it_says_the_read_model_is_built(
    forgotten: str, talks_dsn: str, redis_url: str, redis_client: redis.Redis
) -> None:
    # Given Redis lost its data, the forgotten voter's mark with it
    redis_client.flushdb()
    watched = SwapWatched(redis_url, forgotten_id(forgotten.split(".")[1]))
    # When the read model is rebuilt
    with event_store(talks_dsn) as store:
        rebuild_read_model(store, watched, lambda _: None)
    # Then from the moment Redis holds a built read model, it refuses the forgotten voter: no
    # request finds it built and without their mark (taken as not forgotten, and counted)
    assert watched.told
    assert all(admission.barred for admission in watched.told)


def test_a_recreated_catalog_keeps_no_forgotten_voter_of_before() -> None:
    # Given a suite's catalog of its own in which a voter was forgotten
    dsn = postgres_dsn("recreated")
    recreate(dsn)
    with event_store(dsn) as store:
        store.forget("forgotten-of-before")
        assert store.was_forgotten("forgotten-of-before")
    # When it is recreated empty
    recreate(dsn)
    # Then that voter is forgotten no more (a new catalog, as a new deployment's)
    with event_store(dsn) as store:
        assert not store.was_forgotten("forgotten-of-before")


def test_a_rebuild_reads_a_database_of_a_schema_before_the_forgotten_voters() -> None:
    # Given a catalog of a schema without forgotten_voters (an operator's newer checkout
    # rebuilding a deployment not yet updated), holding a forgotten voter's rating
    dsn = postgres_dsn("recreated")
    recreate(dsn)
    with psycopg2.connect(dsn) as connection, connection.cursor() as cursor:
        cursor.execute("DROP TABLE forgotten_voters")
    connection.close()
    with event_store(dsn) as store:
        store.record(classify([at("t-old", 0, 0, voter_event("talk-old", 4, "forgotten-a", 0))]))
        # When the read model's state is read from it
        state = store.state()
    # Then it is, the forgotten voter known by their filed-away rating
    assert state.histograms["talk-old"]["4"] == 1
    assert "forgotten-a" in state.votes["talk-old"]
    assert state.forgotten == frozenset()
    recreate(dsn)


def test_forgetting_a_voter_in_a_database_of_a_schema_before_the_table_says_so() -> None:
    # Given a catalog of a schema without forgotten_voters
    dsn = postgres_dsn("recreated")
    recreate(dsn)
    with psycopg2.connect(dsn) as connection, connection.cursor() as cursor:
        cursor.execute("DROP TABLE forgotten_voters")
    connection.close()
    # When a voter is forgotten in it
    # Then it is refused, saying why and what to do (not a database's traceback)
    with event_store(dsn) as store, pytest.raises(BackendUnavailable, match="deploy this release"):
        store.forget("forgotten-b")
    recreate(dsn)
