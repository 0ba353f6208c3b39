"""A forget that did not reach Redis says so, and heals: RelayFunction's scheduled run sets the
marks of forgotten voters PostgreSQL keeps and Redis does not yet; every schema apply fills
`forgotten_voters` from the event store; `ops forgotten-marks` copies marks Redis alone holds.
Real PostgreSQL, Redis and broker; the handlers called in process."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import psycopg2
import pytest
import redis

from talkrate.adapters.limiter import RedisRequestLimiter, forgotten_key
from talkrate.adapters.postgres import apply_schema
from talkrate.adapters.redis_store import BUILT_KEY, connect
from talkrate.errors import ReadModelUnreachable
from talkrate.projection import classify
from talkrate.voters import forgotten_id
from talkrate_cli.main import main
from talkrate_local.database import event_store, recreate
from tests.backends import postgres_dsn
from tests.builders import LambdaContextStub, load_function, sample_event
from tests.integration.conftest import Call
from tests.integration.test_exactly_once import at, voter_event
from tests.integration.test_forgotten_without_redis import (
    UNREACHABLE_REDIS,
    new_pass,
    rate,
    refused_as_forgotten,
)
from tests.integration.test_handlers import counts, project_all
from tests.integration.test_operations_signals import Records, logged, metric_values
from tests.integration.test_rebuild_swap import held_busy
from tests.workers import own_redis_server

__all__ = ["logged"]  # the fixture, shared with the signals' tests

pytestmark = pytest.mark.integration

# The exit status of a forget that kept the voter in PostgreSQL and could not mark Redis.
NOT_FINISHED = 3


def relay_run() -> Any:
    """One scheduled run of RelayFunction, in process; what it answered."""
    return load_function("relay")(sample_event("relay/schedule.json"), LambdaContextStub("relay"))


def relay_run_refused_writes(redis_client: redis.Redis, capsys: pytest.CaptureFixture[str]) -> str:
    """One relay run while Redis refuses every write (full, with no eviction: `maxmemory` 1),
    Redis taking writes again after it; what the run printed (its metrics)."""
    redis_client.config_set("maxmemory", "1")
    try:
        capsys.readouterr()
        relay_run()
        out, _ = capsys.readouterr()
    finally:
        redis_client.config_set("maxmemory", "0")
    return out


def kept_forgotten(dsn: str, *, recorded_marked: bool = False) -> str:
    """A new voter kept as forgotten in PostgreSQL (their mark recorded as set, if asked);
    their pseudonym."""
    pseudonym = forgotten_id(new_pass().split(".")[1])
    with event_store(dsn) as store:
        store.forget(pseudonym)
        if recorded_marked:
            assert store.marked([pseudonym]) == 1
    return pseudonym


def unmarked(dsn: str, pseudonym: str) -> bool:
    """Whether PostgreSQL keeps the voter as forgotten with Redis's mark not known to be set."""
    with psycopg2.connect(dsn) as connection, connection.cursor() as cursor:
        cursor.execute(
            "SELECT marked_at IS NULL FROM forgotten_voters WHERE pseudonym = %s", (pseudonym,)
        )
        row = cursor.fetchone()
    connection.close()
    assert row is not None, "no row in forgotten_voters"
    return bool(row[0])


def test_a_forget_that_failed_at_redis_says_not_finished_and_the_relay_s_run_finishes_it(
    api: Call,
    configure: Callable[..., None],
    talk: str,
    topic: str,
    kafka_bootstrap: str,
    talks_dsn: str,
    redis_client: redis.Redis,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a voter who rated a talk, their rating counted
    configure(VOTING_POLICY="attendee", PUBLISH_TIMEOUT_SECONDS="1")
    token = new_pass()
    pseudonym = forgotten_id(token.split(".")[1])
    assert rate(api, talk, 5, token)["statusCode"] == 202
    project_all(topic, kafka_bootstrap)
    # When they are forgotten while Redis cannot be reached
    configure(
        VOTING_POLICY="attendee", PUBLISH_TIMEOUT_SECONDS="1", RATINGS_CONNECTION=UNREACHABLE_REDIS
    )
    capsys.readouterr()
    status = main(["ops", "forget-voter", token])
    _, err = capsys.readouterr()
    # Then the command says plainly that it did not finish, with a status of its own
    assert status == NOT_FINISHED, err
    assert "NOT finished" in err
    assert "may rate once Redis takes writes again" in err
    assert "run the command again" in err
    assert "none of their ratings is filed away yet" in err
    # And PostgreSQL keeps the voter, Redis's mark not set yet
    assert unmarked(talks_dsn, pseudonym)
    # When Redis answers again (with its data, and no mark of the voter), and RelayFunction
    # runs as it does every minute
    configure(VOTING_POLICY="attendee", PUBLISH_TIMEOUT_SECONDS="1")
    assert not redis_client.exists(forgotten_key(pseudonym))
    relay_run()
    # Then the voter's pass is refused by Redis on its own, and renews nothing
    refused = rate(api, talk, 1, token)
    assert refused_as_forgotten(refused), refused["json"]
    renewal = api("POST", "/voters", headers={"voter-token": token})
    assert renewal["statusCode"] == 201, renewal["json"]
    assert renewal["json"]["renewed"] is False
    assert not unmarked(talks_dsn, pseudonym)
    # And their old rating still counts once, the refused one not at all
    project_all(topic, kafka_bootstrap)
    assert counts(redis_client, talk) == {"5": "1"}
    # And the command run again finishes, filing the rating away
    capsys.readouterr()
    assert main(["--json", "ops", "forget-voter", token]) == 0
    assert json.loads(capsys.readouterr().out)["events"] == 1


def test_the_relay_s_run_with_no_voter_waiting_sets_no_mark(
    configure: Callable[..., None], talks_dsn: str, redis_client: redis.Redis
) -> None:
    # Given a voter kept as forgotten in PostgreSQL, and the relay's run that marked them
    configure()
    pseudonym = kept_forgotten(talks_dsn)
    assert unmarked(talks_dsn, pseudonym)
    relay_run()
    assert redis_client.exists(forgotten_key(pseudonym))
    with psycopg2.connect(talks_dsn) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM forgotten_voters WHERE marked_at IS NULL")
        assert cursor.fetchone() == (0,)
    connection.close()
    # When the relay runs again
    before = redis_client.info("commandstats").get("cmdstat_set", {}).get("calls", 0)
    relay_run()
    # Then it sets nothing in Redis
    after = redis_client.info("commandstats").get("cmdstat_set", {}).get("calls", 0)
    assert after == before


@pytest.fixture
def own_catalog() -> str:
    """A catalog database of this file's own, created empty (schema applied)."""
    dsn = postgres_dsn("forgetheal")
    recreate(dsn)
    return dsn


def test_a_second_schema_apply_fills_the_voters_an_earlier_release_forgot(
    own_catalog: str,
) -> None:
    # Given the schema applied, then a voter forgotten by an earlier release (a rollback's):
    # their rating filed under a `forgotten-` id, and no row in forgotten_voters
    with event_store(own_catalog) as store:
        store.record(
            classify([at("t-heal", 0, 0, voter_event("talk-heal", 4, "forgotten-rolled", 0))])
        )
        assert not store.was_forgotten("forgotten-rolled")
    # When the same schema is applied again (the release rolled forward)
    apply_schema(own_catalog)
    # Then the voter is kept as forgotten, and applying it once more changes nothing
    with event_store(own_catalog) as store:
        assert store.was_forgotten("forgotten-rolled")
    apply_schema(own_catalog)
    with event_store(own_catalog) as store:
        assert store.was_forgotten("forgotten-rolled")


def test_ops_forgotten_marks_copies_the_marks_redis_alone_holds_into_postgresql(
    configure: Callable[..., None],
    talks_dsn: str,
    read_model_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a voter an earlier release forgot before any rating of theirs was stored: a mark
    # in Redis only (one Redis, or a cluster)
    configure(RATINGS_CONNECTION=read_model_url)
    pseudonym = forgotten_id(new_pass().split(".")[1])
    connect(read_model_url).set(forgotten_key(pseudonym), "1")
    with event_store(talks_dsn) as store:
        assert not store.was_forgotten(pseudonym)
    # When `talkrate ops forgotten-marks` runs
    capsys.readouterr()
    assert main(["--json", "ops", "forgotten-marks"]) == 0, capsys.readouterr().err
    document = json.loads(capsys.readouterr().out)
    # Then PostgreSQL keeps the voter too (asked when Redis cannot say), marked
    assert document["copied"] >= 1
    with event_store(talks_dsn) as store:
        assert store.was_forgotten(pseudonym)
    assert not unmarked(talks_dsn, pseudonym)
    # And run again, it copies nothing more of that voter, and Redis still refuses them
    assert main(["--json", "ops", "forgotten-marks"]) == 0
    assert json.loads(capsys.readouterr().out)["copied"] == 0
    assert RedisRequestLimiter(connect(read_model_url)).admit([], None, pseudonym).barred
    # And when Redis loses the mark since (a failover), the command sets it again and says so
    connect(read_model_url).delete(forgotten_key(pseudonym))
    assert main(["ops", "forgotten-marks"]) == 0
    assert "Redis had lost set again" in capsys.readouterr().out
    assert RedisRequestLimiter(connect(read_model_url)).admit([], None, pseudonym).barred


def test_a_relay_s_run_sets_again_a_mark_redis_lost_after_it_was_recorded_as_set(
    configure: Callable[..., None],
    talks_dsn: str,
    read_model_url: str,
    capsys: pytest.CaptureFixture[str],
    logged: Records,
) -> None:
    # Given a forgotten voter whose mark was set and recorded as set, and a Redis (one, or a
    # cluster) that lost it since, keeping the read model (a failover that took the primary
    # before its replica had the mark)
    configure(RATINGS_CONNECTION=read_model_url)
    pseudonym = kept_forgotten(talks_dsn, recorded_marked=True)
    ratings = connect(read_model_url)
    ratings.delete(forgotten_key(pseudonym))
    limiter = RedisRequestLimiter(ratings)
    assert not limiter.admit([], None, pseudonym).barred
    # When the relay runs
    capsys.readouterr()
    relay_run()
    # Then the mark is set again, and the run says Redis lost it
    assert limiter.admit([], None, pseudonym).barred
    [restored] = [r for r in logged.records if r.getMessage().startswith("forgotten voters' marks")]
    assert restored.levelname == "WARNING"
    assert restored.restored >= 1
    assert not unmarked(talks_dsn, pseudonym)
    # And the next run finds every mark held: it sets none and says nothing of it
    logged.records.clear()
    relay_run()
    assert not [r for r in logged.records if r.getMessage().startswith("forgotten voters' marks")]


def test_a_mark_redis_lost_and_refuses_to_take_again_counts_as_waiting(
    configure: Callable[..., None],
    talks_dsn: str,
    redis_client: redis.Redis,
    capsys: pytest.CaptureFixture[str],
    logged: Records,
) -> None:
    # Given a forgotten voter whose mark was recorded as set and that Redis lost, and a Redis
    # that now refuses every write (full, with no eviction)
    configure()
    pseudonym = kept_forgotten(talks_dsn, recorded_marked=True)
    redis_client.delete(forgotten_key(pseudonym))
    # When the relay runs
    out = relay_run_refused_writes(redis_client, capsys)
    # Then the lost mark counts among those waiting (the alarm's metric), said with Redis's
    # refusal, beside the forgotten voters never marked
    with event_store(talks_dsn) as store:
        never_marked = store.unmarked_count()
    [pending] = metric_values(out, "ForgottenMarksPending")
    assert pending >= never_marked + 1
    [waiting] = [r for r in logged.records if r.getMessage().startswith("forgotten voters wait")]
    assert "maxmemory" in waiting.reason
    assert not redis_client.exists(forgotten_key(pseudonym))
    # And once Redis takes writes again, the next run sets it again
    relay_run()
    assert redis_client.exists(forgotten_key(pseudonym))


def test_a_relay_s_run_whose_redis_url_it_cannot_read_looks_for_no_lost_mark(
    configure: Callable[..., None], logged: Records
) -> None:
    # Given a relay whose Redis URL it cannot read (a misspelt option)
    configure(RATINGS_CONNECTION="redis://127.0.0.1:6379/0?clustr=true")
    # When it runs
    relay_run()
    # Then the look for lost marks, with no Redis to look in, says no error of its own (no
    # traceback every minute: the URL is told where it is read)
    assert not [
        r for r in logged.records if "marks Redis lost" in r.getMessage() and r.levelname == "ERROR"
    ]


def test_a_redis_without_a_built_read_model_is_left_to_the_rebuild_to_mark() -> None:
    # Given a Redis that lost everything (flushed, replaced): no built read model, no mark
    ratings = connect(own_redis_server() + "/0")
    limiter = RedisRequestLimiter(ratings)
    # When the relay asks which recorded marks it lost
    # Then it finds none to set again (the rebuild sets them all, the API asks PostgreSQL
    # until then): a flush is not told as writes lost in a failover
    assert limiter.unbarred(["forgotten-a", "forgotten-b"]) == []
    # And once the read model is built, a mark it lacks is found lost
    ratings.set(BUILT_KEY, "1")
    limiter.bar("forgotten-a")
    assert limiter.unbarred(["forgotten-a", "forgotten-b"]) == ["forgotten-b"]
    ratings.close()


def test_a_redis_busy_with_a_long_script_does_not_answer_the_marks_reads_or_writes() -> None:
    # Given a Redis of its own, busy with someone's long script (BUSY to every other client
    # after 100 ms)
    ratings = own_redis_server() + "/0"
    connect(ratings).set(BUILT_KEY, "1")
    limiter = RedisRequestLimiter(connect(ratings))
    with held_busy(ratings):
        # When the relay looks for lost marks (a pipeline) and sets one (a command)
        # Then both fail as Redis not answering (the relay counts nothing), not as a refusal
        with pytest.raises(ReadModelUnreachable, match="BUSY"):
            limiter.unbarred(["forgotten-busy"])
        with pytest.raises(ReadModelUnreachable, match="BUSY"):
            limiter.bar("forgotten-busy")


def test_a_forget_on_a_database_whose_table_has_no_marked_column_yet_still_keeps_the_voter(
    own_catalog: str,
) -> None:
    # Given a catalog of the schema before `marked_at` (a deployment older than the checkout
    # running the command)
    with psycopg2.connect(own_catalog) as connection, connection.cursor() as cursor:
        cursor.execute("ALTER TABLE forgotten_voters DROP COLUMN marked_at")
    connection.close()
    # When a voter is forgotten in it, and their mark recorded as set
    with event_store(own_catalog) as store:
        store.forget("forgotten-older-schema")
        recorded = store.marked(["forgotten-older-schema"])
        # Then the voter is kept as forgotten all the same (nothing to record the mark in)
        assert store.was_forgotten("forgotten-older-schema")
    assert recorded == 0
    recreate(own_catalog)


def test_a_relay_s_run_whose_redis_refuses_writes_tells_how_many_marks_still_wait(
    configure: Callable[..., None],
    talks_dsn: str,
    redis_client: redis.Redis,
    capsys: pytest.CaptureFixture[str],
    logged: Records,
) -> None:
    # Given a voter kept as forgotten in PostgreSQL, their mark not set, and a Redis that answers
    # but refuses every write (full, with no eviction)
    configure()
    pseudonym = kept_forgotten(talks_dsn)
    # When the relay runs
    out = relay_run_refused_writes(redis_client, capsys)
    # Then it says how many forgotten voters still wait for their mark, and counts them
    [waiting] = [r for r in logged.records if r.getMessage().startswith("forgotten voters wait")]
    assert waiting.levelname == "WARNING"
    assert waiting.pending >= 1
    assert f"({waiting.pending})" in waiting.getMessage()
    assert "maxmemory" in waiting.reason
    assert metric_values(out, "ForgottenMarksPending") == [waiting.pending]
    assert unmarked(talks_dsn, pseudonym)
    # And once Redis takes writes again, the next run marks them and counts none waiting
    logged.records.clear()
    relay_run()
    out, _ = capsys.readouterr()
    assert redis_client.exists(forgotten_key(pseudonym))
    assert metric_values(out, "ForgottenMarksPending") == [0]
    assert not [r for r in logged.records if r.getMessage().startswith("forgotten voters wait")]


@pytest.mark.parametrize("away", ["not answering", "not letting the relay in"])
def test_a_relay_s_run_while_redis_does_not_answer_counts_no_mark_waiting(
    configure: Callable[..., None],
    talks_dsn: str,
    redis_url: str,
    capsys: pytest.CaptureFixture[str],
    logged: Records,
    away: str,
) -> None:
    # Given a voter kept as forgotten in PostgreSQL, their mark not set, and Redis not answering,
    # or answering a user it does not know (WRONGPASS): the API refuses their pass meanwhile,
    # asking PostgreSQL, so nothing for the mark's alarm
    pseudonym = kept_forgotten(talks_dsn)
    if away == "not answering":
        configure(RATINGS_CONNECTION=UNREACHABLE_REDIS)
    else:
        where = urlsplit(redis_url)
        configure(RATINGS_CONNECTION=f"redis://no-such-user:pw@{where.hostname}:{where.port}/0")
    # When the relay runs
    capsys.readouterr()
    relay_run()
    out, _ = capsys.readouterr()
    # Then it counts no mark waiting (ForgottenMarksPendingAlarm would page for a Redis outage
    # the read model's alarms tell) and warns of none; the voter is still unmarked
    assert metric_values(out, "ForgottenMarksPending") == []
    assert not [r for r in logged.records if r.getMessage().startswith("forgotten voters wait")]
    assert unmarked(talks_dsn, pseudonym)


def test_a_relay_s_run_on_a_schema_without_marked_at_warns_once_and_relays_all_the_same(
    configure: Callable[..., None],
    own_catalog: str,
    capsys: pytest.CaptureFixture[str],
    logged: Records,
) -> None:
    # Given a catalog of the schema before `marked_at` (a checkout newer than the deployment's
    # database), a voter kept as forgotten in it
    with psycopg2.connect(own_catalog) as connection, connection.cursor() as cursor:
        cursor.execute("ALTER TABLE forgotten_voters DROP COLUMN marked_at")
    connection.close()
    with event_store(own_catalog) as store:
        store.forget("forgotten-older-schema")
    configure(TALKS_CONNECTION=own_catalog)
    # When the relay runs
    result = relay_run()
    # Then the outbox is relayed as ever
    assert result["streamFailed"] is False
    # And the one word of it is a warning naming the schema, without a traceback
    errors = [r for r in logged.records if r.levelname in ("ERROR", "CRITICAL")]
    assert not errors, [r.getMessage() for r in errors]
    [older] = [r for r in logged.records if "schema is older" in r.getMessage()]
    assert older.levelname == "WARNING"
    assert older.exc_info is None
    # And `ops forgotten-marks` says the same of it, exit 1
    capsys.readouterr()
    assert main(["ops", "forgotten-marks"]) == 1
    assert "the database's schema is older than this" in capsys.readouterr().err
    recreate(own_catalog)


def test_a_forget_run_again_while_redis_is_down_says_the_ratings_were_filed_away_before(
    api: Call,
    configure: Callable[..., None],
    talk: str,
    topic: str,
    kafka_bootstrap: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a voter who rated a talk, counted, and was forgotten: their rating filed away
    configure(VOTING_POLICY="attendee", PUBLISH_TIMEOUT_SECONDS="1")
    token = new_pass()
    assert rate(api, talk, 4, token)["statusCode"] == 202
    project_all(topic, kafka_bootstrap)
    capsys.readouterr()
    assert main(["--json", "ops", "forget-voter", token]) == 0
    assert json.loads(capsys.readouterr().out)["events"] == 1
    # When the command is run again while Redis cannot be reached
    configure(
        VOTING_POLICY="attendee", PUBLISH_TIMEOUT_SECONDS="1", RATINGS_CONNECTION=UNREACHABLE_REDIS
    )
    status = main(["ops", "forget-voter", token])
    _, err = capsys.readouterr()
    # Then it is not finished (Redis's mark could not be set again), and says that their
    # ratings were filed away by the earlier run, not that none is
    assert status == NOT_FINISHED, err
    assert "NOT finished" in err
    assert "none of their ratings is filed away yet" not in err
    assert "their stored ratings were filed away by an earlier run" in err
    # And with --json, the same words under the type of its own
    assert main(["--json", "ops", "forget-voter", token]) == NOT_FINISHED
    error = json.loads(capsys.readouterr().out)["error"]
    assert error["type"] == "urn:talkrate:cli:forget-not-finished"
    assert "filed away by an earlier run" in error["detail"]
