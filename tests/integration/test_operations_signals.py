"""What operators follow on AWS, against the real services: one id from the HTTP request through
Kafka to the projector's log line, the outbox's oldest age, the freshness metric."""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import psycopg2
import psycopg2.sql
import pytest
import redis

from talkrate import wiring
from talkrate.adapters.postgres import PostgresDatabase, PostgresOutbox
from talkrate.adapters.redis_store import RedisReadModel
from talkrate.events import Rating
from talkrate.models import CORRELATION_HEADER, RatingSubmitted
from talkrate.observability import logger
from talkrate.ports import Publishable
from talkrate.projection import records_from_event
from talkrate.relay import DEFAULT_BATCH
from talkrate_local.database import prepare
from tests.backends import FRESH_TALKS, RELAY_TALKS
from tests.builders import (
    LambdaContextStub,
    http_event,
    kafka_event,
    load_function,
    rating_event,
    ratings_batch,
    sample_event,
)
from tests.integration.test_kafka_publisher import consume, consume_to_end

pytestmark = pytest.mark.integration


class Records(logging.Handler):
    """The log records of the functions' Powertools Logger (its own handler writes to the stdout
    of the moment it was made)."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def logged() -> Iterator[Records]:
    handler = Records()
    target = logging.getLogger("talkrate")
    target.addHandler(handler)
    yield handler
    target.removeHandler(handler)


def emitted_metrics(out: str) -> list[dict[str, Any]]:
    """The embedded-metric documents Powertools printed (one JSON line per flush)."""
    return [json.loads(line) for line in out.splitlines() if line.startswith('{"_aws"')]


def metric_values(out: str, name: str) -> list[float]:
    """Every value of the metric `name` in the documents Powertools printed, in order."""
    return [value for m in emitted_metrics(out) if name in m for value in m[name]]


def projected(topic: str, *ratings: RatingSubmitted) -> None:
    """Ratings through the projector's handler: stored in the event store, applied to Redis."""
    load_function("projector")(
        kafka_event(ratings_batch(topic, 0, 0, list(ratings))), LambdaContextStub("projector")
    )


def test_the_request_id_travels_in_the_kafka_header_to_the_projectors_batch_line(
    configure: Callable[..., None],
    talk: str,
    kafka_bootstrap: str,
    topic: str,
    capsys: pytest.CaptureFixture[str],
    logged: Records,
) -> None:
    # Given an API request with API Gateway's request id
    configure()
    event = http_event("POST", "/ratings", body=json.dumps({"talkId": talk, "value": 5}))
    request_id = event["requestContext"]["requestId"]
    # When the API accepts it
    response = load_function("api")(event, LambdaContextStub("api"))
    assert response["statusCode"] == 202, response["body"]
    # Then its Kafka record carries the request id as a header
    [record] = consume(kafka_bootstrap, topic, lambda seen: len(seen) == 1)
    assert (CORRELATION_HEADER, request_id.encode()) in record.headers
    rating = RatingSubmitted.from_json(record.value)
    # And the projector, given that record as Lambda delivers it, names the id in its batch line
    delivered = ratings_batch(topic, record.partition, record.offset, [rating])
    delivered[0]["headers"] = [{name: list(value)} for name, value in record.headers]
    delivered[0]["timestamp"] = record.timestamp
    assert records_from_event(kafka_event(delivered))[0].correlation_id == request_id
    capsys.readouterr()
    result = load_function("projector")(kafka_event(delivered), LambdaContextStub("projector"))
    assert result["applied"] == 1
    [batch] = [r for r in logged.records if r.getMessage() == "batch projected"]
    assert batch.correlationIds == [request_id]
    # And it publishes the batch's freshness: from the record's publication to its projection
    [metrics] = [m for m in emitted_metrics(capsys.readouterr().out) if "ProjectionDelay" in m]
    assert 0 <= metrics["ProjectionDelay"][0] < 60_000  # Powertools lists each metric's values


def test_a_relay_run_during_an_outage_tries_again_while_it_can_leave_a_rebuild_its_time(
    relay_outbox: str, configure: Callable[..., None], talk: str
) -> None:
    # Given a rating kept in the outbox while Kafka is down (an outbox no runtime's scheduled
    # relay drains meanwhile)
    PostgresOutbox(PostgresDatabase(relay_outbox)).enqueue(Rating.of(rating_event(talk, 2)))
    configure(
        TALKS_CONNECTION=relay_outbox, STREAMS_CONNECTION="127.0.0.1:1", PUBLISH_TIMEOUT_SECONDS="1"
    )
    # When a relay run with 27 s left starts while Kafka is still down: 1 s a publish, 2 s to
    # record, 20 s for a rebuild leave 4 s of tries
    relay = load_function("relay")
    started = time.monotonic()
    result = relay(
        sample_event("relay/schedule.json"), LambdaContextStub("relay", remaining_ms=27_000)
    )
    took = time.monotonic() - started
    # Then it tried again for about those 4 s (one try fails within its 1 s), no longer, and
    # the rating still waits
    assert result["pending"] >= 1
    assert 3.0 <= took < 27 - 20, took
    # (published afterwards: the next test of this outbox starts with it empty)
    configure(TALKS_CONNECTION=relay_outbox)
    assert relay(sample_event("relay/schedule.json"), LambdaContextStub("relay"))["pending"] == 0


def test_the_relay_publishes_the_age_of_the_oldest_waiting_entry(
    configure: Callable[..., None],
    talk: str,
    talks_dsn: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a rating kept in the outbox while Kafka is down, accepted ten minutes ago
    configure(STREAMS_CONNECTION="127.0.0.1:1", PUBLISH_TIMEOUT_SECONDS="1")
    response = load_function("api")(
        http_event("POST", "/ratings", body=json.dumps({"talkId": talk, "value": 2})),
        LambdaContextStub("api"),
    )
    accepted = json.loads(response["body"])
    assert accepted["status"] == "queued"
    event_id = accepted["eventId"]
    with psycopg2.connect(talks_dsn) as connection, connection.cursor() as cursor:
        cursor.execute(
            "UPDATE rating_outbox SET created_at = now() - interval '600 seconds' "
            "WHERE event_id = %s",
            (event_id,),
        )
    connection.close()
    # When the relay runs while Kafka is still down (with no time to try it again: 23 s left
    # are the rebuild's 20, a publish's 1 and the record's 2)
    capsys.readouterr()
    result = load_function("relay")(
        sample_event("relay/schedule.json"), LambdaContextStub("relay", remaining_ms=23_000)
    )
    # Then the entry still waits, and the metric says how long the oldest has waited
    assert result["pending"] >= 1
    [metrics] = [m for m in emitted_metrics(capsys.readouterr().out) if "OutboxOldestAge" in m]
    assert metrics["OutboxOldestAge"][0] >= 600
    # And once Kafka is back the outbox empties and the age falls to 0
    configure()
    capsys.readouterr()
    result = load_function("relay")(sample_event("relay/schedule.json"), LambdaContextStub("relay"))
    assert result["pending"] == 0
    [metrics] = [m for m in emitted_metrics(capsys.readouterr().out) if "OutboxOldestAge" in m]
    assert metrics["OutboxOldestAge"] == [0]


def test_a_rating_relayed_from_the_outbox_keeps_its_request_id(
    configure: Callable[..., None],
    talk: str,
    kafka_bootstrap: str,
    topic: str,
) -> None:
    # Given a rating kept in the outbox while Kafka was down, accepted by a request with an id
    configure(STREAMS_CONNECTION="127.0.0.1:1", PUBLISH_TIMEOUT_SECONDS="1")
    event = http_event("POST", "/ratings", body=json.dumps({"talkId": talk, "value": 3}))
    request_id = event["requestContext"]["requestId"]
    accepted = json.loads(load_function("api")(event, LambdaContextStub("api"))["body"])
    assert accepted["status"] == "queued"
    # When the relay (a process of its own on Lambda: no request id in its logger) publishes it
    # once Kafka is back
    configure()
    logger.set_correlation_id(None)
    result = load_function("relay")(sample_event("relay/schedule.json"), LambdaContextStub("relay"))
    assert result["pending"] == 0

    # Then its Kafka record carries the accepting request's id, as a direct publish does
    def relayed(record: Any) -> bool:
        return str(RatingSubmitted.from_json(record.value).event_id) == accepted["eventId"]

    record = consume(kafka_bootstrap, topic, lambda seen: relayed(seen[-1]))[-1]
    assert relayed(record)
    assert (CORRELATION_HEADER, request_id.encode()) in record.headers
    # And the relay logs as itself again afterwards
    assert logger.get_correlation_id() is None


@pytest.fixture
def relay_outbox(configure: Callable[..., None]) -> str:
    """The relay's database for a test of the relay alone: one whose outbox no other relay
    drains (see RELAY_TALKS)."""
    prepare(RELAY_TALKS)
    configure(TALKS_CONNECTION=RELAY_TALKS)
    return RELAY_TALKS


def test_a_relay_run_after_postgresql_dropped_its_connection_relays_on_a_new_one(
    relay_outbox: str, talk: str
) -> None:
    talks_dsn = relay_outbox
    # Given a warm relay, its connection open from its last run
    relay = load_function("relay")
    schedule = sample_event("relay/schedule.json")
    relay(schedule, LambdaContextStub("relay"))
    # And a rating the API kept in the outbox meanwhile
    kept = Rating.new(talk, 4)
    database = PostgresDatabase(talks_dsn, name="talkrate-test")
    PostgresOutbox(database).enqueue(kept)
    # When PostgreSQL drops the relay's session between two runs (a restart, a failover)
    with psycopg2.connect(talks_dsn) as connection, connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
            "datname = current_database() AND application_name = 'talkrate'"
        )
        assert cursor.fetchall(), "the relay's session was found"
    connection.close()
    # Then the next run relays on a new connection instead of failing (a failed run raises
    # RelayErrorsAlarm, "the outbox is not being published", and rolls a deploy back)
    result = relay(schedule, LambdaContextStub("relay"))
    assert result["pending"] == 0
    assert PostgresOutbox(database).status(kept.event_id) == "published"
    database.close()


def test_the_relay_publishes_what_another_version_wrote_byte_for_byte(
    relay_outbox: str, talk: str, kafka_bootstrap: str, topic: str
) -> None:
    # Given ratings another version of the API kept in the outbox (a canary, a rollback while
    # Kafka was down): one with a field this version does not know, one of a schema version it
    # cannot read, and one of its own, behind them
    newer_field = Rating.new(talk, 4).to_json()[:-1] + b',"channel":"web"}'
    newer_version = (
        Rating.new(talk, 2).to_json().replace(b'"schemaVersion":1', b'"schemaVersion":2')
    )
    own = Rating.new(talk, 5).to_json()
    written = [newer_field, newer_version, own]
    with psycopg2.connect(relay_outbox) as connection, connection.cursor() as cursor:
        for payload in written:
            cursor.execute(
                "INSERT INTO rating_outbox (event_id, talk_id, payload) VALUES (%s, %s, %s)",
                (json.loads(payload)["eventId"], talk, payload),
            )
    connection.close()
    # When the relay runs
    result = load_function("relay")(sample_event("relay/schedule.json"), LambdaContextStub("relay"))
    # Then all three are published as they were written, keyed by their talk (it dropped the
    # field it did not know, and failed every run at the version it could not read, keeping
    # the rating behind it unpublished too): the projector judges each as it judges any record
    assert result["pending"] == 0
    records = consume_to_end(kafka_bootstrap, topic)
    published = [(record.key, record.value) for record in records if record.value in written]
    assert sorted(published) == sorted((talk.encode(), value) for value in written)


def test_a_relay_run_on_a_slow_broker_stops_within_its_time_and_keeps_what_it_published(
    relay_outbox: str, talk: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given sixty ratings kept in the outbox
    database = PostgresDatabase(relay_outbox, name="talkrate-test")
    kept = [Rating.new(talk, 1 + i % 5) for i in range(60)]
    for event in kept:
        PostgresOutbox(database).enqueue(event)
    # And a broker that acknowledges each record after 0.1 s (degraded, not down)
    broker = wiring.rating_publisher()

    class SlowBroker:
        def publish(self, event: Publishable) -> None:
            time.sleep(0.1)
            broker.publish(event)

    # When the relay runs with 5 s left (Lambda ends a run at its timeout, its transaction
    # with it: whatever it published would be published again by every next run)
    with monkeypatch.context() as patched:
        patched.setattr(wiring, "rating_publisher", SlowBroker)
        started = time.monotonic()
        result = load_function("relay")(
            sample_event("relay/schedule.json"), LambdaContextStub("relay", remaining_ms=5_000)
        )
        elapsed = time.monotonic() - started
    # Then it stops in time, and what it published is marked so, the rest still waiting
    assert elapsed < 5
    assert result["pending"] >= 1
    statuses = [PostgresOutbox(database).status(event.event_id) for event in kept]
    published = statuses.count("published")
    assert 1 <= published < len(kept)
    assert statuses == ["published"] * published + ["queued"] * (len(kept) - published)
    # And the next run goes on from there
    load_function("relay")(sample_event("relay/schedule.json"), LambdaContextStub("relay"))
    assert {PostgresOutbox(database).status(event.event_id) for event in kept} == {"published"}
    database.close()


def test_a_relay_run_drains_a_backlog_larger_than_one_batch(relay_outbox: str, talk: str) -> None:
    # Given more ratings kept in the outbox than one batch of the relay (a broker outage at a
    # conference's pace: 500 a run, a minute apart, took hours to count them all)
    database = PostgresDatabase(relay_outbox, name="talkrate-test")
    kept = [Rating.new(talk, 1 + i % 5) for i in range(DEFAULT_BATCH + 100)]
    for event in kept:
        PostgresOutbox(database).enqueue(event)
    # When the relay runs once on its schedule, the broker back
    result = load_function("relay")(sample_event("relay/schedule.json"), LambdaContextStub("relay"))
    # Then it publishes batch after batch within its time: nothing waits for the next run
    assert result["pending"] == 0
    assert result["published"] >= len(kept)
    assert {PostgresOutbox(database).status(event.event_id) for event in kept} == {"published"}
    database.close()


def test_the_relay_reports_the_days_the_pages_api_key_has_left(
    configure: Callable[..., None], capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a stack whose live API key expires in ten days
    configure(LIVE_API_KEY_EXPIRES=str(int(time.time()) + 10 * 86_400))
    # When the relay runs on its schedule
    capsys.readouterr()
    load_function("relay")(sample_event("relay/schedule.json"), LambdaContextStub("relay"))
    # Then it reports the days left, the metric LiveApiKeyExpiryAlarm watches
    [metrics] = [m for m in emitted_metrics(capsys.readouterr().out) if "LiveApiKeyDaysLeft" in m]
    assert metrics["LiveApiKeyDaysLeft"] in ([10.0], [9.9])


def test_the_relay_rebuilds_a_redis_emptied_while_no_rating_comes_in(
    configure: Callable[..., None],
    talk: str,
    topic: str,
    redis_url: str,
    talks_dsn: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    relay = load_function("relay")
    schedule = sample_event("relay/schedule.json")

    def signals() -> dict[str, list[float]]:
        out = capsys.readouterr().out
        return {name: metric_values(out, name) for name in ("ReadModelMissing", "ReadModelRebuilt")}

    # Given projected ratings (events are stored), and Redis then emptied
    projected(topic, RatingSubmitted.new(talk, 4), RatingSubmitted.new(talk, 2))
    capsys.readouterr()
    relay(schedule, LambdaContextStub("relay"))
    assert signals() == {"ReadModelMissing": [0], "ReadModelRebuilt": []}
    redis.Redis.from_url(redis_url).flushdb()
    assert RedisReadModel(redis_url).histogram(talk).total == 0
    # When the relay runs on its schedule, and no rating comes in
    relay(schedule, LambdaContextStub("relay"))
    # Then it reports the read model missing, and rebuilds it: the talk's counts are back
    assert signals() == {"ReadModelMissing": [1], "ReadModelRebuilt": [1]}
    rebuilt = RedisReadModel(redis_url)
    assert rebuilt.is_built()
    assert rebuilt.histogram(talk).counts == {"1": 0, "2": 1, "3": 0, "4": 1, "5": 0}
    # And its next run finds it there
    relay(schedule, LambdaContextStub("relay"))
    assert signals()["ReadModelMissing"] == [0]
    # And a new deployment's Redis (no event stored yet) is built by the relay, not reported
    connection = psycopg2.connect(talks_dsn)
    connection.autocommit = True
    fresh = FRESH_TALKS.rsplit("/", 1)[1]
    connection.cursor().execute(
        psycopg2.sql.SQL("DROP DATABASE IF EXISTS {}").format(psycopg2.sql.Identifier(fresh))
    )
    connection.close()
    prepare(FRESH_TALKS)
    configure(TALKS_CONNECTION=FRESH_TALKS)
    redis.Redis.from_url(redis_url).flushdb()
    relay(schedule, LambdaContextStub("relay"))
    assert signals() == {"ReadModelMissing": [0], "ReadModelRebuilt": []}
    assert RedisReadModel(redis_url).is_built()


def test_a_relay_run_short_of_time_leaves_the_rebuild_to_the_next(
    configure: Callable[..., None],
    talk: str,
    topic: str,
    redis_url: str,
    capsys: pytest.CaptureFixture[str],
    logged: Records,
) -> None:
    relay = load_function("relay")
    schedule = sample_event("relay/schedule.json")
    projected(topic, RatingSubmitted.new(talk, 3))
    redis.Redis.from_url(redis_url).flushdb()
    capsys.readouterr()
    # When the relay finds Redis empty in a run with 5 s left (its outbox took the rest)
    relay(schedule, LambdaContextStub("relay", remaining_ms=5_000))
    # Then it reports the loss and starts no rebuild it could not finish (a killed one would
    # hold the projector off for the lock's life)
    assert metric_values(capsys.readouterr().out, "ReadModelMissing") == [1]
    assert "too little time left in this run to rebuild the read model: the next run does" in [
        r.getMessage() for r in logged.records
    ]
    assert not RedisReadModel(redis_url).is_built()
    assert not redis.Redis.from_url(redis_url).exists("projector/rebuilding")
    # And the next run, with its minute ahead, rebuilds it
    relay(schedule, LambdaContextStub("relay"))
    assert RedisReadModel(redis_url).histogram(talk).counts["3"] == 1


def test_a_redis_that_refuses_the_relay_s_check_does_not_fail_the_run(
    configure: Callable[..., None],
    redis_url: str,
    capsys: pytest.CaptureFixture[str],
    logged: Records,
) -> None:
    # Given a Redis that answers the relay but refuses its check (an ACL without EXISTS, as a
    # cache's user group set up wrong would; BUSY and READONLY are refusals of the same kind)
    admin = redis.Redis.from_url(redis_url)
    user = f"relay-{uuid.uuid4().hex[:8]}"
    admin.acl_setuser(
        user,
        enabled=True,
        passwords=["+relay-test"],
        keys=["*"],
        channels=["*"],
        commands=["+@all", "-exists"],
    )
    try:
        configure(
            RATINGS_CONNECTION=redis_url.replace("redis://", f"redis://{user}:relay-test@", 1)
        )
        capsys.readouterr()
        # When the relay runs on its schedule
        result = load_function("relay")(
            sample_event("relay/schedule.json"), LambdaContextStub("relay")
        )
        # Then its run succeeds with the outbox's metrics; the refusal is logged
        assert result["pending"] == 0
        assert metric_values(capsys.readouterr().out, "OutboxPending") == [0]
        [refused] = [
            r for r in logged.records if r.getMessage() == "the read model could not be checked"
        ]
        assert refused.exc_info is not None
        assert "'exists'" in str(refused.exc_info[1])
    finally:
        admin.acl_deluser(user)


def test_the_relay_leaves_a_lost_read_model_to_a_rebuild_already_running(
    configure: Callable[..., None],
    talk: str,
    topic: str,
    redis_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    relay = load_function("relay")
    projected(topic, RatingSubmitted.new(talk, 5))
    # Given Redis emptied, and another rebuild holding the lock (an operator's, a projector's)
    redis.Redis.from_url(redis_url).flushdb()
    other = RedisReadModel(redis_url)
    assert other.lock_for_rebuild()
    try:
        capsys.readouterr()
        # When the relay runs on its schedule
        result = relay(sample_event("relay/schedule.json"), LambdaContextStub("relay"))
        # Then it answers as usual, reports the read model missing, and rebuilds nothing itself
        assert result["pending"] == 0
        out = capsys.readouterr().out
        assert metric_values(out, "ReadModelMissing") == [1]
        assert metric_values(out, "ReadModelRebuilt") == []
        assert not RedisReadModel(redis_url).is_built()
    finally:
        other.unlock_after_rebuild()
