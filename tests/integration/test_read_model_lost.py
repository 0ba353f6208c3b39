"""Reads while Redis answers without the read model (a flush, a Redis restarted without its data):
figures from the event store, or a plain "being rebuilt", never zeros passed off as results."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import psycopg2
import pytest
import redis

from talkrate.adapters.redis_store import histogram_key
from tests.builders import (
    LambdaContextStub,
    kafka_event,
    load_function,
    rating_event,
    ratings_batch,
    sample_event,
    unique_talk_id,
)
from tests.integration.conftest import Call, forget_talk

pytestmark = pytest.mark.integration


@pytest.fixture
def rated(talks_dsn: str, redis_client: redis.Redis, topic: str) -> Iterator[tuple[str, str]]:
    """A track of its own with a talk rated 5, 4, 4 (projected) and a talk nobody rated."""
    track = f"track-{unique_talk_id()}"
    talk, unrated = unique_talk_id("rated"), unique_talk_id("unrated")
    with psycopg2.connect(talks_dsn) as connection, connection.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO talks (id, title, track) VALUES (%s, %s, %s)",
            [(talk, "Rated three times", track), (unrated, "Not rated", track)],
        )
    connection.close()
    events = [rating_event(talk, v) for v in (5, 4, 4)]
    load_function("projector")(
        kafka_event(ratings_batch(topic, 0, 0, events)), LambdaContextStub("projector")
    )
    yield talk, track
    for talk_id in (talk, unrated):
        forget_talk(talks_dsn, redis_client, talk_id)


def test_a_talk_s_ratings_come_from_the_event_store_while_the_read_model_is_lost(
    api: Call, rated: tuple[str, str], redis_client: redis.Redis
) -> None:
    talk, _ = rated
    # Given the talk's ratings read from the read model
    before = api("GET", "/ratings", query={"talkId": talk})["json"]
    assert (before["source"], before["ratings"]["4"], before["ratings"]["5"]) == (
        "read-model",
        2,
        1,
    )
    # When Redis loses its data (it still answers)
    redis_client.flushdb()
    answer = api("GET", "/ratings", query={"talkId": talk})
    # Then the ratings come from the event store, and say so, as when Redis is down
    assert answer["statusCode"] == 200, answer["body"]
    assert answer["json"]["source"] == "event-store"
    assert answer["json"]["ratings"] == {"1": 0, "2": 0, "3": 0, "4": 2, "5": 1}
    assert answer["json"]["ratingsRevision"] == 3
    # And the talk's own page has its summary from there too, not 0 ratings
    page = api("GET", f"/talks/{talk}")
    assert page["statusCode"] == 200, page["body"]
    assert (page["json"]["summary"]["count"], page["json"]["summary"]["ratings"]["4"]) == (3, 2)


def test_a_talk_nobody_rated_is_read_from_a_built_read_model(api: Call, talk: str) -> None:
    # Given a read model that is built, When a talk nobody rated is read, Then its zeros are the
    # read model's (the event store is asked only when the read model is not built)
    answer = api("GET", "/ratings", query={"talkId": talk})["json"]
    assert (answer["source"], answer["ratings"], answer["ratingsRevision"]) == (
        "read-model",
        dict.fromkeys("12345", 0),
        0,
    )


def test_the_programme_and_leaderboard_say_the_ratings_are_being_rebuilt_never_zeros(
    api: Call, rated: tuple[str, str], redis_client: redis.Redis
) -> None:
    talk, track = rated
    # Given a read model that is built: the track's talks listed with their summaries, ranked
    listed = api("GET", "/talks", query={"track": track})["json"]
    assert [t["summary"]["count"] for t in listed["items"] if t["id"] == talk] == [3]
    assert "rebuilding" not in listed
    board = api("GET", "/leaderboard", query={"track": track})["json"]
    assert [r["talkId"] for r in board["talks"]] == [talk]
    assert "rebuilding" not in board
    # When Redis loses its data
    redis_client.flushdb()
    listed_after = api("GET", "/talks", query={"track": track})
    board_after = api("GET", "/leaderboard", query={"track": track})
    whole_board = api("GET", "/leaderboard")
    # Then the programme lists its talks without summaries (not 0 ratings) and says why
    assert listed_after["statusCode"] == 200, listed_after["body"]
    assert len(listed_after["json"]["items"]) == 2
    assert all("summary" not in t for t in listed_after["json"]["items"])
    assert listed_after["json"]["rebuilding"] is True
    # And the leaderboards (a track's, the whole one) say they are being rebuilt, not empty
    for answer in (board_after, whole_board):
        assert answer["statusCode"] == 200, answer["body"]
        assert (answer["json"]["talks"], answer["json"]["rebuilding"]) == ([], True)


def test_relay_function_asked_by_the_api_rebuilds_the_read_model_and_does_only_that(
    api: Call,
    configure: Callable[..., None],
    rated: tuple[str, str],
    redis_client: redis.Redis,
) -> None:
    talk, _ = rated
    # Given a read model lost, and a stream that does not answer (the outbox's run would wait
    # for it, trying again, for most of the run)
    redis_client.flushdb()
    configure(STREAMS_CONNECTION="127.0.0.1:1", PUBLISH_TIMEOUT_SECONDS="1")
    relay = load_function("relay")
    # When RelayFunction gets the event the API sends when a read finds the read model lost
    started = time.monotonic()
    answer = relay(sample_event("relay/rebuild.json"), LambdaContextStub("relay"))
    # Then it rebuilds the read model at once, without the outbox's run, and says so
    assert answer == {"readModel": "rebuilt"}
    assert time.monotonic() - started < 5
    assert redis_client.hget(histogram_key(talk), "4") == "2"
    assert api("GET", "/ratings", query={"talkId": talk})["json"]["source"] == "read-model"
    # And asked again, finds it built
    assert relay(sample_event("relay/rebuild.json"), LambdaContextStub("relay")) == {
        "readModel": "built"
    }
