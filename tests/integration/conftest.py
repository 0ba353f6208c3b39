"""What the integration tests share: the handlers' settings pointed at the test backends."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import psycopg2
import pytest
import redis

from talkrate import wiring
from talkrate.adapters.redis_store import RedisReadModel, histogram_key
from talkrate.rebuild import rebuild_if_lost
from talkrate_local.database import event_store
from tests.backends import TEST_PROJECTOR_GROUP
from tests.builders import LambdaContextStub, http_event, load_function

TEST_VOTER_TOKEN_KEY = "integration-tests-voter-token-key"


def forget_talk(talks_dsn: str, redis_client: redis.Redis, talk_id: str) -> None:
    """A talk a test made through the API gone again: its catalog row, histogram and place on
    the leaderboard, whatever the test left of them."""
    with psycopg2.connect(talks_dsn) as connection, connection.cursor() as cursor:
        cursor.execute("DELETE FROM talks WHERE id = %s", (talk_id,))
    connection.close()
    redis_client.delete(histogram_key(talk_id))
    redis_client.zrem("leaderboard", talk_id)


@pytest.fixture
def configure(
    monkeypatch: pytest.MonkeyPatch,
    talks_dsn: str,
    redis_url: str,
    kafka_bootstrap: str,
    topic: str,
) -> Iterator[Callable[..., None]]:
    """Point the handlers' settings at the test backends (read once, like a cold start)."""

    def apply(**overrides: str) -> None:
        values = {
            "TALKS_CONNECTION": talks_dsn,
            "RATINGS_CONNECTION": redis_url,
            "STREAMS_CONNECTION": kafka_bootstrap,
            "RATINGS_TOPIC": topic,
            "PROJECTOR_CONSUMER_GROUP": TEST_PROJECTOR_GROUP,
            "PUBLISH_TIMEOUT_SECONDS": "2",
            "VOTER_TOKEN_KEY": TEST_VOTER_TOKEN_KEY,
            **overrides,
        }
        for name in (
            "STATS_FUNCTION_NAME",
            "REBUILD_FUNCTION_NAME",
            "RATINGS_LAMBDA_URL",
            "CONNECTIONS_SECRET_ARN",
        ):
            monkeypatch.delenv(name, raising=False)
        for name, value in values.items():
            monkeypatch.setenv(name, value)
        wiring.reset()

    apply()
    # A test before this one may have left the test Redis without its read model (flushed): the
    # projector would rebuild it with this test's first batch, inside whatever the test times.
    with event_store(talks_dsn) as store:
        rebuild_if_lost(store, RedisReadModel(redis_url), lambda _: None)
    yield apply
    wiring.reset()


# The API handler called in process with an HTTP API event: its answer, with the body parsed
# as `json` (None when there is none).
Call = Callable[..., dict[str, Any]]


@pytest.fixture
def api(configure: Callable[..., None]) -> Call:
    """ApiFunction's handler, loaded by path as Lambda does, with a 1 s Kafka budget."""
    configure(PUBLISH_TIMEOUT_SECONDS="1")
    handler = load_function("api")

    def call(method: str, path: str, body: Any = None, **kwargs: Any) -> dict[str, Any]:
        text = body if isinstance(body, (str, bytes)) or body is None else json.dumps(body)
        response = handler(http_event(method, path, body=text, **kwargs), LambdaContextStub())
        response["json"] = json.loads(response["body"]) if response.get("body") else None
        return response

    return call
