"""ApiFunction and ProjectorFunction handlers, in process, against the real backends."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import psycopg2
import pytest
import redis
from kafka import KafkaProducer

from talkrate import wiring
from talkrate.adapters.idempotency import fingerprint
from talkrate.adapters.postgres import _fetch_one
from talkrate.adapters.redis_store import histogram_key
from talkrate.events import Rating, from_unix_ms
from talkrate.models import RatingSubmitted
from tests.builders import (
    LambdaContextStub,
    http_event,
    kafka_event,
    kafka_record,
    load_function,
    rating_event,
    ratings_batch,
    sample_event,
)
from tests.integration.test_kafka_publisher import consume_all, consume_to_end, count_records

pytestmark = pytest.mark.integration

Call = Callable[..., dict[str, Any]]


@pytest.fixture
def api(configure: Callable[..., None]) -> Call:
    handler = load_function("api")

    def call(method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = handler(http_event(method, path, **kwargs), LambdaContextStub("api"))
        response["json"] = json.loads(response["body"]) if response.get("body") else None
        return response

    return call


def test_post_publishes_one_event_and_answers_202(
    api: Call, talk: str, kafka_bootstrap: str, topic: str
) -> None:
    response = api("POST", "/ratings", body=json.dumps({"talkId": talk, "value": 4}))
    assert response["statusCode"] == 202
    assert response["json"]["rating"] == {"talkId": talk, "value": 4}
    [(key, value)] = consume_all(kafka_bootstrap, topic, 1)
    event = RatingSubmitted.from_json(value)
    assert key == talk.encode()
    assert str(event.event_id) == response["json"]["eventId"]
    assert (event.talk_id, event.value) == (talk, 4)


def test_post_keeps_the_rating_in_the_outbox_while_the_stream_is_down_and_relay_sends_it(
    api: Call, configure: Callable[..., None], talk: str, kafka_bootstrap: str, topic: str
) -> None:
    # Given a stream that does not answer
    configure(STREAMS_CONNECTION="127.0.0.1:1", PUBLISH_TIMEOUT_SECONDS="1")
    # When a rating is posted
    response = api("POST", "/ratings", body=json.dumps({"talkId": talk, "value": 4}))
    # Then it is accepted all the same, as queued
    assert response["statusCode"] == 202, response["body"]
    assert response["json"]["status"] == "queued"
    # And once the stream is back, RelayFunction publishes it with its original eventId
    configure()
    relay = load_function("relay")
    result = relay(sample_event("relay/schedule.json"), LambdaContextStub("relay"))
    assert result["published"] >= 1
    assert result["pending"] == 0
    # (the outbox is shared: other tests' queued ratings may go out with it)
    relayed = consume_all(kafka_bootstrap, topic, result["published"])
    events = [RatingSubmitted.from_json(v) for _, v in relayed]
    assert response["json"]["eventId"] in [str(e.event_id) for e in events]
    assert len(events) == result["published"]


def test_while_the_stream_is_down_ratings_after_the_first_go_to_the_outbox_without_waiting(
    api: Call, configure: Callable[..., None], talk: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a stream that does not answer
    configure(STREAMS_CONNECTION="127.0.0.1:1", PUBLISH_TIMEOUT_SECONDS="1")
    caplog.clear()
    # When three ratings are posted
    answers = [
        api("POST", "/ratings", body=json.dumps({"talkId": talk, "value": v})) for v in (3, 4, 5)
    ]
    # Then each is accepted, kept in the outbox; only the first waited for the stream
    assert [(a["statusCode"], a["json"]["status"]) for a in answers] == [(202, "queued")] * 3
    kept = [
        str(getattr(record, "error", ""))
        for record in caplog.records
        if record.getMessage().startswith("stream unavailable")
    ]
    assert len(kept) == 3
    assert "Kafka at 127.0.0.1:1 is unreachable" in kept[0]
    assert all("not tried again" in error for error in kept[1:])


def test_post_answers_503_with_retry_after_when_postgresql_and_kafka_are_both_down(
    api: Call, configure: Callable[..., None], talk: str
) -> None:
    configure(
        TALKS_CONNECTION="postgresql://postgres@127.0.0.1:1/talkrate",
        STREAMS_CONNECTION="127.0.0.1:1",
        PUBLISH_TIMEOUT_SECONDS="1",
    )
    response = api("POST", "/ratings", body=json.dumps({"talkId": talk, "value": 4}))
    assert response["statusCode"] == 503
    assert response["headers"]["Retry-After"].isdigit()
    assert response["headers"]["Content-Type"] == "application/problem+json"
    assert "Traceback" not in response["body"]


def posted_within(api: Call, talk: str, value: int, seconds: float) -> dict[str, Any] | None:
    """The answer to a rating posted on a thread of its own, or None while it is still waited
    on after `seconds` (a call that never returns does not hold the test)."""
    answers: list[dict[str, Any]] = []
    body = json.dumps({"talkId": talk, "value": value})
    call = threading.Thread(target=lambda: answers.append(api("POST", "/ratings", body=body)))
    call.start()
    call.join(seconds)
    return answers[0] if answers else None


@contextlib.contextmanager
def api_backend_stopped() -> Iterator[None]:
    """The PostgreSQL server process behind the API's connection stopped (SIGSTOP: its kernel
    still acknowledges, so no TCP timeout would ever fire), and let go again after."""
    row = wiring.database().run(lambda cursor: _fetch_one(cursor, "SELECT pg_backend_pid()"))
    assert row is not None
    os.kill(row[0], signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(row[0], signal.SIGCONT)


def test_a_postgresql_that_stops_answering_is_answered_503_within_the_bound(
    api: Call, configure: Callable[..., None], talk: str
) -> None:
    # Given the API's statements bounded at 1 s, no talk remembered between requests, and the
    # server process behind its connection stopped (its kernel still acknowledges: no TCP
    # timeout would ever fire)
    configure(TALKS_TIMEOUT_SECONDS="1", TALK_CACHE_SECONDS="0")
    assert api("GET", "/ratings", query={"talkId": talk})["statusCode"] == 200
    with api_backend_stopped():
        # When a rating is posted (unbounded, the call would never return)
        started = time.monotonic()
        answer = posted_within(api, talk, 4, seconds=10)
        waited = time.monotonic() - started
    # Then it is answered 503 in the documented shape after about the bound, not at the
    # function's timeout
    assert answer is not None, "the API was still waiting for PostgreSQL after 10 s"
    assert answer["statusCode"] == 503, answer["body"]
    assert answer["headers"]["Content-Type"] == "application/problem+json"
    assert answer["headers"]["Retry-After"].isdigit()
    assert answer["json"]["status"] == 503
    assert waited < 4.0
    # And the next request is served, on a new connection
    assert api("GET", "/ratings", query={"talkId": talk})["statusCode"] == 200


def test_while_postgresql_does_not_answer_a_talk_known_lately_is_rated_through_kafka(
    api: Call, configure: Callable[..., None], talk: str, kafka_bootstrap: str, topic: str
) -> None:
    # Given a talk this instance read a moment ago (remembered 1 s), statements bounded at 3 s
    # (a wait for PostgreSQL again takes 3 s on the clock, far from a post at once on a loaded
    # machine's CPU: with 1 s the two were 0.1 s apart), and then the server process behind the
    # API's connection stopped
    configure(TALKS_TIMEOUT_SECONDS="3", TALK_CACHE_SECONDS="1")
    assert api("GET", "/ratings", query={"talkId": talk})["statusCode"] == 200
    with api_backend_stopped():
        time.sleep(1.2)  # (what was remembered is no longer trusted)
        # When two ratings of it are posted, and one of a talk never seen
        first = posted_within(api, talk, 4, seconds=10)
        started = time.monotonic()
        second = posted_within(api, talk, 5, seconds=10)
        second_took = time.monotonic() - started
        unknown = posted_within(api, f"never-seen-{uuid.uuid4().hex[:8]}", 3, seconds=10)
    # Then the known talk's ratings are taken through Kafka (they were 503 while Kafka could
    # take them), the second without waiting for PostgreSQL again; a talk never seen is still
    # asked of PostgreSQL (here on a new connection, which answers: not found)
    assert first is not None
    assert second is not None
    assert unknown is not None
    assert (first["statusCode"], first["json"]["status"]) == (202, "accepted"), first["body"]
    assert (second["statusCode"], second["json"]["status"]) == (202, "accepted")
    assert second_took < 2.0
    assert unknown["statusCode"] == 404, unknown["body"]
    assert count_records(kafka_bootstrap, topic) == 2


def test_an_outbox_write_given_up_on_is_cancelled_so_its_503_rating_never_counts(
    api: Call, configure: Callable[..., None], talk: str, talks_dsn: str
) -> None:
    # Given a stream that does not answer, and the outbox held by another session's lock
    configure(
        TALKS_TIMEOUT_SECONDS="1", STREAMS_CONNECTION="127.0.0.1:1", PUBLISH_TIMEOUT_SECONDS="1"
    )
    holder = psycopg2.connect(talks_dsn)
    try:
        holder.cursor().execute("LOCK TABLE rating_outbox IN EXCLUSIVE MODE")
        # When a rating is posted (unbounded, the call would wait for the lock)
        answer = posted_within(api, talk, 2, seconds=10)
    finally:
        holder.rollback()  # the lock goes: an INSERT still waiting would go through now
        holder.close()
    # Then it was answered 503 (stored nowhere: the attendee tries again), and that stays true:
    # the INSERT given up on was cancelled, so no row reaches the relay to count it later
    assert answer is not None, "the API was still waiting for the outbox after 10 s"
    assert answer["statusCode"] == 503, answer["body"]
    time.sleep(0.5)
    with psycopg2.connect(talks_dsn) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM rating_outbox WHERE talk_id = %s", (talk,))
        assert cursor.fetchone() == (0,)
    connection.close()


def test_an_idempotency_key_makes_a_retried_post_count_once(
    api: Call, talk: str, kafka_bootstrap: str, topic: str
) -> None:
    body = json.dumps({"talkId": talk, "value": 3})
    headers = {"idempotency-key": f"retry-{talk}"}
    first = api("POST", "/ratings", body=body, headers=headers)
    again = api("POST", "/ratings", body=" " + body, headers=headers)  # same rating, other bytes
    assert first["statusCode"] == again["statusCode"] == 202
    assert again["json"] == first["json"]
    assert count_records(kafka_bootstrap, topic) == 1


def test_ipv6_clients_whose_address_and_key_join_alike_are_two_requests(
    api: Call, talk: str, kafka_bootstrap: str, topic: str
) -> None:
    body = json.dumps({"talkId": talk, "value": 3})
    # Given an IPv6 client's keyed rating
    first = api(
        "POST", "/ratings", body=body, headers={"idempotency-key": "5:k"}, source_ip="2001:db8::1"
    )
    # When another client, whose address and key join to the same text, sends its own
    other = api(
        "POST", "/ratings", body=body, headers={"idempotency-key": "k"}, source_ip="2001:db8::1:5"
    )
    # Then it is a rating of its own, not a replay of the first client's answer
    assert first["statusCode"] == other["statusCode"] == 202
    assert other["json"]["eventId"] != first["json"]["eventId"]
    assert count_records(kafka_bootstrap, topic) == 2


def test_an_idempotency_key_reused_for_another_rating_is_refused(api: Call, talk: str) -> None:
    headers = {"idempotency-key": f"reuse-{talk}"}
    api("POST", "/ratings", body=json.dumps({"talkId": talk, "value": 3}), headers=headers)
    other = api("POST", "/ratings", body=json.dumps({"talkId": talk, "value": 5}), headers=headers)
    assert other["statusCode"] == 422
    assert other["json"]["type"].endswith("idempotency-key-reused")


def forget_idempotency_records(client: redis.Redis, talk: str) -> None:
    """Redis forgetting the Idempotency-Key records of the talk's ratings, as a flush, a Redis
    restarted empty or the records' expiry does (the read model itself is left: its counts are
    what the tests read)."""
    requests = {fingerprint({"talkId": talk, "value": v}) for v in range(1, 6)}
    for name in list(client.scan_iter("idempotency/*")):
        if json.loads(client.get(name) or "null").get("request") in requests:
            client.delete(name)


def project_all(topic: str, kafka_bootstrap: str) -> None:
    """Every record the topic holds, handed to the projector as one batch (a redelivery of
    those projected before)."""
    records = consume_to_end(kafka_bootstrap, topic)
    load_function("projector")(
        kafka_event([kafka_record(topic, r.partition, r.offset, r.value) for r in records]),
        LambdaContextStub("projector"),
    )


def test_a_keyed_retry_after_redis_forgot_the_key_counts_once(
    api: Call, talk: str, kafka_bootstrap: str, topic: str, redis_client: redis.Redis
) -> None:
    # Given a keyed rating without a voter token, accepted and counted
    body = json.dumps({"talkId": talk, "value": 3})
    headers = {"idempotency-key": "rev2-retry-0001"}
    first = api("POST", "/ratings", body=body, headers=headers)
    assert first["statusCode"] == 202, first["body"]
    project_all(topic, kafka_bootstrap)
    assert counts(redis_client, talk) == {"3": "1"}
    # When Redis forgets the key's record and the client sends the rating again
    forget_idempotency_records(redis_client, talk)
    again = api("POST", "/ratings", body=body, headers=headers)
    # Then it is answered as the first was: 202, the same event, whose status can be read
    assert again["statusCode"] == 202, again["body"]
    assert again["json"]["eventId"] == first["json"]["eventId"]
    assert again["headers"]["Location"] == first["headers"]["Location"]
    status = api("GET", f"/ratings/{first['json']['eventId']}")
    assert status["statusCode"] == 200, status["body"]
    # And the rating counts once
    project_all(topic, kafka_bootstrap)
    assert counts(redis_client, talk) == {"3": "1"}
    assert api("GET", "/ratings", query={"talkId": talk})["json"]["ratings"]["3"] == 1


def test_a_voter_s_older_keyed_rating_retried_after_redis_forgot_it_does_not_stand_again(
    api: Call, talk: str, kafka_bootstrap: str, topic: str, redis_client: redis.Redis
) -> None:
    # Given a voter who rated 4 under one key, then changed their mind to 5 under another
    token = api("POST", "/voters", source_ip="2001:db8:1d:e1::1")["json"]["voterToken"]
    first_key = {"voter-token": token, "idempotency-key": f"k1-{talk}"}
    four = api("POST", "/ratings", body=json.dumps({"talkId": talk, "value": 4}), headers=first_key)
    five = api(
        "POST",
        "/ratings",
        body=json.dumps({"talkId": talk, "value": 5}),
        headers={**first_key, "idempotency-key": f"k2-{talk}"},
    )
    assert four["statusCode"] == five["statusCode"] == 202
    project_all(topic, kafka_bootstrap)
    assert counts(redis_client, talk) == {"5": "1"}
    # When Redis forgets the keys' records and the 4's answer, lost, makes its client send it again
    forget_idempotency_records(redis_client, talk)
    again = api(
        "POST", "/ratings", body=json.dumps({"talkId": talk, "value": 4}), headers=first_key
    )
    # Then it is the first 4 again, not a newer rating: the voter's 5 stands
    assert again["statusCode"] == 202, again["body"]
    assert again["json"]["eventId"] == four["json"]["eventId"]
    project_all(topic, kafka_bootstrap)
    assert counts(redis_client, talk) == {"5": "1"}


def test_a_rating_another_producer_stamped_in_the_future_never_hides_the_voter_s_next_one(
    api: Call, talk: str, kafka_bootstrap: str, topic: str, redis_client: redis.Redis
) -> None:
    # Given an attendee's rating, accepted
    token = api("POST", "/voters", source_ip="2001:db8:1d:e2::1")["json"]["voterToken"]
    voter = {"voter-token": token}
    first = api("POST", "/ratings", body=json.dumps({"talkId": talk, "value": 2}), headers=voter)
    assert first["statusCode"] == 202, first["body"]
    [(_, written)] = consume_all(kafka_bootstrap, topic, 1)
    # When another Kafka client produces a rating naming that attendee, stamped in 2099, and
    # then the attendee rates again through the API
    forged = RatingSubmitted.from_json(written).model_copy(
        update={
            "event_id": uuid.uuid4(),
            "value": 1,
            "occurred_at": datetime(2099, 1, 1, tzinfo=UTC),
        }
    )
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    try:
        producer.send(topic, forged.to_json(), key=forged.key).get(timeout=10)
    finally:
        producer.close()
    again = api("POST", "/ratings", body=json.dumps({"talkId": talk, "value": 5}), headers=voter)
    assert again["statusCode"] == 202, again["body"]
    project_all(topic, kafka_bootstrap)
    # Then the attendee's newest rating counts, and the forged record waits among the dead
    # letters, saying why
    assert counts(redis_client, talk) == {"5": "1"}
    letters = [d for d in wiring.event_store().dead_letters() if d["topic"] == topic]
    assert [bytes(d["value"]) for d in letters] == [forged.to_json()]
    assert "is later than the projector's clock" in letters[0]["reason"]


def test_a_keyed_rating_kept_in_the_outbox_and_retried_after_redis_forgot_the_key_counts_once(
    api: Call,
    configure: Callable[..., None],
    talk: str,
    kafka_bootstrap: str,
    topic: str,
    redis_client: redis.Redis,
    talks_dsn: str,
) -> None:
    # Given a stream that does not answer, and a keyed rating kept in the outbox
    configure(STREAMS_CONNECTION="127.0.0.1:1", PUBLISH_TIMEOUT_SECONDS="1")
    body, headers = json.dumps({"talkId": talk, "value": 2}), {"idempotency-key": f"q-{talk}"}
    first = api("POST", "/ratings", body=body, headers=headers)
    assert (first["statusCode"], first["json"]["status"]) == (202, "queued")
    # When Redis forgets the key's record and the client sends the rating again
    forget_idempotency_records(redis_client, talk)
    again = api("POST", "/ratings", body=body, headers=headers)
    # Then it is the same event, kept once in the outbox
    assert (again["statusCode"], again["json"]["status"]) == (202, "queued")
    assert again["json"]["eventId"] == first["json"]["eventId"]
    assert api("GET", f"/ratings/{first['json']['eventId']}")["json"]["status"] == "queued"
    with psycopg2.connect(talks_dsn) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM rating_outbox WHERE talk_id = %s", (talk,))
        assert cursor.fetchone() == (1,)
    connection.close()
    # And once the stream is back and the relay has sent it, it counts once
    configure()
    load_function("relay")(sample_event("relay/schedule.json"), LambdaContextStub("relay"))
    project_all(topic, kafka_bootstrap)
    assert counts(redis_client, talk) == {"2": "1"}


@pytest.mark.parametrize("key", ["", "has space", "x" * 256, "caf\u00e9"])
def test_a_malformed_idempotency_key_is_400(api: Call, talk: str, key: str) -> None:
    response = api(
        "POST",
        "/ratings",
        body=json.dumps({"talkId": talk, "value": 3}),
        headers={"idempotency-key": key},
    )
    assert response["statusCode"] == 400


def test_get_ratings_falls_back_to_the_event_store_when_redis_is_down(
    api: Call, configure: Callable[..., None], talk: str, topic: str
) -> None:
    # Given a projected rating
    projector = load_function("projector")
    projector(
        kafka_event(ratings_batch(topic, 0, 0, [rating_event(talk, 5)])),
        LambdaContextStub("projector"),
    )
    # When Redis is unreachable
    configure(RATINGS_CONNECTION="redis://127.0.0.1:1/0")
    response = api("GET", "/ratings", query={"talkId": talk})
    # Then the histogram still comes, from the event store, and says so
    assert response["statusCode"] == 200, response["body"]
    assert response["json"]["source"] == "event-store"
    assert response["json"]["ratings"]["5"] == 1


@pytest.mark.parametrize("ratings", ["redis://127.0.0.1:1/0", "redis://127.0.0.1:1?cluster=true"])
def test_a_cluster_none_of_whose_nodes_answers_is_said_as_one_redis_away(
    api: Call, configure: Callable[..., None], talk: str, topic: str, ratings: str
) -> None:
    # Given a projected rating, then Redis away: one Redis, or a cluster none of whose nodes
    # answers as the API's container starts (redis-py makes a cluster's client by asking a node
    # for its slots, and says it cannot with an error that is no RedisError)
    load_function("projector")(
        kafka_event(ratings_batch(topic, 0, 0, [rating_event(talk, 5)])),
        LambdaContextStub("projector"),
    )
    configure(RATINGS_CONNECTION=ratings)
    # When attendees rate and read, Then a cluster away answers as one Redis away, never 500:
    # a voter's rating is taken (its limits counted here, its key's record skipped), the talk's
    # counts come from the event store, the leaderboard says it cannot be read
    voter = api("POST", "/voters")
    assert voter["statusCode"] == 201, voter["body"]
    posted = api(
        "POST",
        "/ratings",
        body=json.dumps({"talkId": talk, "value": 4}),
        headers={"voter-token": voter["json"]["voterToken"], "idempotency-key": "away-1"},
    )
    assert posted["statusCode"] == 202, posted["body"]
    read = api("GET", "/ratings", query={"talkId": talk})
    assert read["statusCode"] == 200, read["body"]
    assert (read["json"]["source"], read["json"]["ratings"]["5"]) == ("event-store", 1)
    assert api("GET", f"/talks/{talk}")["statusCode"] == 200
    board = api("GET", "/leaderboard")
    assert board["statusCode"] == 503, board["body"]
    assert board["headers"]["Retry-After"]
    assert api("GET", "/")["json"]["backends"]["ratings"] == "down"


def test_a_redis_endpoint_without_its_scheme_is_said_as_redis_down_never_a_500(
    api: Call, configure: Callable[..., None], talk: str, topic: str
) -> None:
    # Given a projected rating, then RATINGS_CONNECTION set as a console shows an endpoint,
    # host:port (with a password in front, which nothing may repeat)
    load_function("projector")(
        kafka_event(ratings_batch(topic, 0, 0, [rating_event(talk, 5)])),
        LambdaContextStub("projector"),
    )
    configure(RATINGS_CONNECTION=":hunter2@127.0.0.1:6379")
    # When attendees rate and read, Then nothing answers 500: a rating is 503 with Retry-After
    # (as with Redis away), reads come from the event store, and GET / says Redis is down
    posted = api("POST", "/ratings", body=json.dumps({"talkId": talk, "value": 4}))
    assert posted["statusCode"] == 503, posted["body"]
    assert posted["json"]["type"] == "urn:talkrate:problem:unavailable"
    assert posted["headers"]["Retry-After"]
    read = api("GET", "/ratings", query={"talkId": talk})
    assert read["statusCode"] == 200, read["body"]
    assert (read["json"]["source"], read["json"]["ratings"]["5"]) == ("event-store", 1)
    root = api("GET", "/")
    assert root["json"]["backends"]["ratings"] == "down"
    assert "hunter2" not in posted["body"] + read["body"] + root["body"]


def test_root_reports_backends_without_credentials(
    api: Call, configure: Callable[..., None]
) -> None:
    configure(RATINGS_CONNECTION="redis://:hunter2@127.0.0.1:1/0")
    response = api("GET", "/")
    assert response["statusCode"] == 200
    assert "hunter2" not in response["body"]
    assert set(response["json"]["metadata"]) == {"talks", "ratings", "streams", "ratings_lambda"}
    assert response["json"]["backends"] == {"talks": "up", "ratings": "down", "streams": "up"}


@pytest.mark.parametrize(
    ("written", "shown", "state"),
    [
        # kafka-python parses past a scheme: the broker answers, and GET / names it as written
        ("kafka://{bootstrap}", "kafka://{bootstrap}", "up"),
        ("{bootstrap}", "{bootstrap}", "up"),
        # a user and password in the bootstrap (no client reads them): named without them
        ("SASL_SSL://app:hunter2@{bootstrap}", "SASL_SSL://{bootstrap}", "down"),
    ],
    ids=["kafka-scheme", "host-port", "credentials"],
)
def test_root_names_the_stream_as_configured_without_credentials(
    api: Call,
    configure: Callable[..., None],
    kafka_bootstrap: str,
    written: str,
    shown: str,
    state: str,
) -> None:
    # Given the stream's bootstrap written with a scheme, without one, or with credentials
    configure(STREAMS_CONNECTION=written.format(bootstrap=kafka_bootstrap))
    # When GET / reports where the backends are
    response = api("GET", "/")
    # Then the stream is named as configured (its scheme kept, as the database's and Redis's
    # are: it read as another broker, a host without its scheme), its credentials left out
    assert response["statusCode"] == 200
    assert response["json"]["metadata"]["streams"] == shown.format(bootstrap=kafka_bootstrap)
    assert response["json"]["backends"]["streams"] == state
    assert "hunter2" not in response["body"]
    assert "app" not in response["json"]["metadata"]["streams"]


def test_projector_counts_a_batch_once_however_often_it_is_delivered(
    configure: Callable[..., None], talk: str, topic: str, redis_client: redis.Redis
) -> None:
    projector = load_function("projector")
    records = ratings_batch(topic, 1, 40, [rating_event(talk, v) for v in (5, 4, 4)])
    records.append(kafka_record(topic, 1, 43, b'{"type": "RatingSubmitted"}'))
    event = kafka_event(records)
    first = projector(event, LambdaContextStub("projector"))
    again = projector(event, LambdaContextStub("projector"))
    assert first == {"applied": 3, "skipped": 0, "duplicates": 0, "deadLettered": 1}
    assert again == {"applied": 0, "skipped": 4, "duplicates": 0, "deadLettered": 0}
    assert redis_client.hgetall(histogram_key(talk)) == {"5": "1", "4": "2", "revision": "3"}


def test_a_read_model_lost_from_redis_comes_back_with_the_projector_s_next_batch(
    api: Call,
    talk: str,
    topic: str,
    redis_client: redis.Redis,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Given two projected ratings
    projector = load_function("projector")
    context = LambdaContextStub("projector")
    first = ratings_batch(topic, 0, 0, [rating_event(talk, 5), rating_event(talk, 4)])
    assert projector(kafka_event(first), context)["applied"] == 2
    assert api("GET", "/")["json"]["backends"]["ratings"] == "up"
    # When Redis loses its data (a flush, a replaced node)
    redis_client.flushdb()
    # Then GET / says the read model is missing, rather than "up" with counts from zero
    assert api("GET", "/")["json"]["backends"] == {
        "talks": "up",
        "ratings": "empty",
        "streams": "up",
    }
    capsys.readouterr()
    # And the next batch rebuilds it from the event store before counting its own rating
    second = ratings_batch(topic, 0, 2, [rating_event(talk, 1)])
    assert projector(kafka_event(second), context)["applied"] == 1
    assert counts(redis_client, talk) == {"5": "1", "4": "1", "1": "1"}
    assert '"ReadModelRebuilt"' in capsys.readouterr().out
    assert "rebuilt from the event store" in caplog.text
    caplog.clear()
    assert api("GET", "/")["json"]["backends"]["ratings"] == "up"
    # And a redelivery of the first batch, or the next batch again, counts nothing twice
    assert projector(kafka_event(first + second), context)["skipped"] == 3
    assert counts(redis_client, talk) == {"5": "1", "4": "1", "1": "1"}
    assert "rebuilt from the event store" not in caplog.text


def counts(client: redis.Redis, talk: str) -> dict[str, str]:
    """The talk's histogram in Redis, without the applied offsets a rebuild keeps beside it."""
    return {k: v for k, v in client.hgetall(histogram_key(talk)).items() if k in "12345"}


def test_projector_takes_the_msk_shape_too(
    configure: Callable[..., None], talk: str, topic: str, redis_client: redis.Redis
) -> None:
    projector = load_function("projector")
    event = kafka_event(
        ratings_batch(topic, 0, 0, [rating_event(talk, 2)]), source="projector/msk.json"
    )
    assert projector(event, LambdaContextStub("projector"))["applied"] == 1
    assert redis_client.hget(histogram_key(talk), "2") == "1"


# An attendee's whole visit, in a fresh interpreter as a new container: a voter token, a rating
# with it, the talk's histogram, the rating's status, the talk, the programme, the leaderboard.
_ATTENDEE_VISIT = """
import json, sys
sys.path[:0] = [{layer!r}, {function!r}]
import app

def event(method, path, body=None, query=None, headers=None):
    return {{
        "version": "2.0", "rawPath": path, "rawQueryString": query or "",
        "queryStringParameters": dict(p.split("=") for p in query.split("&")) if query else None,
        "headers": {{"content-type": "application/json", **(headers or {{}})}},
        "body": body, "isBase64Encoded": False,
        "requestContext": {{"stage": "$default", "requestId": "visit",
            "http": {{"method": method, "path": path, "sourceIp": "203.0.113.9"}}}},
    }}

class Context:
    function_name, memory_limit_in_mb, aws_request_id = "api", 512, "visit"
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:api"
    def get_remaining_time_in_millis(self):
        return 30000

def call(*args, **kwargs):
    answer = app.lambda_handler(event(*args, **kwargs), Context())
    return answer["statusCode"], json.loads(answer["body"]) if answer["body"] else None

statuses = []
status, voter = call("POST", "/voters")
statuses.append(status)
rating = json.dumps({{"talkId": {talk!r}, "value": 5}})
status, accepted = call("POST", "/ratings", rating, headers={{"voter-token": voter["voterToken"]}})
statuses.append(status)
for args in [
    ("GET", "/ratings", None, "talkId=" + {talk!r}),
    ("GET", "/ratings/" + accepted["eventId"]),
    ("GET", "/talks/" + {talk!r}),
    ("GET", "/talks", None, "limit=5"),
    ("GET", "/leaderboard"),
]:
    statuses.append(call(*args)[0])
print(json.dumps(statuses))
print(sorted(m for m in sys.modules if m.split(".")[0] in ("pydantic", "pydantic_core")))
"""


def test_an_attendees_visit_loads_no_pydantic(configure: Callable[..., None], talk: str) -> None:
    import os
    import subprocess
    import sys

    from tests.builders import ROOT

    # Given a new container of the API, with the test backends
    code = _ATTENDEE_VISIT.format(
        layer=str(ROOT / "layers" / "shared"), function=str(ROOT / "functions" / "api"), talk=talk
    )
    # When an attendee gets a token, rates the talk and looks at the programme
    ran = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "POWERTOOLS_METRICS_NAMESPACE": "talkrate"},
    )
    assert ran.returncode == 0, ran.stderr[-3000:]
    statuses, modules = ran.stdout.strip().splitlines()[-2:]
    # Then every answer is a success and no validation library was loaded for any of it
    assert json.loads(statuses) == [201, 202, 200, 200, 200, 200, 200]
    assert modules == "[]"


def test_a_keyed_rating_whose_first_run_failed_after_writing_counts_once_with_its_retry(
    api: Call,
    configure: Callable[..., None],
    talk: str,
    kafka_bootstrap: str,
    topic: str,
    redis_client: redis.Redis,
) -> None:
    # Given an attendee's keyed rating whose first run was answered 503 (PostgreSQL and Kafka
    # not answering), while its outbox INSERT, already sent, would commit once PostgreSQL does
    configure(
        TALKS_CONNECTION="postgresql://postgres@127.0.0.1:1/talkrate",
        STREAMS_CONNECTION="127.0.0.1:1",
        PUBLISH_TIMEOUT_SECONDS="1",
    )
    body, key = json.dumps({"talkId": talk, "value": 4}), {"idempotency-key": f"k-{topic}"}
    assert api("POST", "/ratings", body=body, headers=key)["statusCode"] == 503
    [record] = [
        json.loads(redis_client.get(name) or "null")
        for name in redis_client.scan_iter("idempotency/*")
        if f'"request":"{fingerprint({"talkId": talk, "value": 4})}"'
        in (redis_client.get(name) or "")
    ]
    first = record["attempt"]
    configure()
    late = Rating.new(talk, 4, None, from_unix_ms(first["at"]), first["eventId"])
    wiring.outbox().enqueue(late)  # the late commit
    # When the attendee's client retries with the key, and the relay publishes the late row
    retried = api("POST", "/ratings", body=body, headers=key)
    relay = load_function("relay")(sample_event("relay/schedule.json"), LambdaContextStub("relay"))
    assert relay["pending"] == 0
    # Then the retry rated as the first run did: the same event
    assert retried["statusCode"] == 202, retried["body"]
    assert retried["json"]["eventId"] == first["eventId"]
    # And the two records of it on the stream count once
    records = [r for r in consume_to_end(kafka_bootstrap, topic) if r.key == talk.encode()]
    assert len(records) == 2
    load_function("projector")(
        kafka_event([kafka_record(topic, r.partition, r.offset, r.value) for r in records]),
        LambdaContextStub("projector"),
    )
    assert counts(redis_client, talk) == {"4": "1"}
