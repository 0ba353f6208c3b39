"""ApiFunction and ProjectorFunction handlers, in process, against the real backends."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis

from talkrate import wiring
from talkrate.config import load_settings
from talkrate.models import RatingSubmitted
from tests.builders import (
    LambdaContextStub,
    http_event,
    kafka_event,
    kafka_record,
    load_function,
    rating_event,
    ratings_batch,
)
from tests.integration.test_kafka_publisher import consume_all

pytestmark = pytest.mark.integration

Call = Callable[..., dict[str, Any]]


def _reset_wiring() -> None:
    wiring.rating_publisher.cache_clear()
    for cached in (load_settings, wiring.talk_catalog, wiring.read_model, wiring.stats_calculator):
        cached.cache_clear()


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
        if wiring.rating_publisher.cache_info().currsize:
            wiring.rating_publisher().close()
        values = {
            "TALKS_CONNECTION": talks_dsn,
            "RATINGS_CONNECTION": redis_url,
            "STREAMS_CONNECTION": kafka_bootstrap,
            "RATINGS_TOPIC": topic,
            "PUBLISH_TIMEOUT_SECONDS": "2",
            **overrides,
        }
        for name in ("STATS_FUNCTION_NAME", "RATINGS_LAMBDA_URL", "CONNECTIONS_SECRET_ARN"):
            monkeypatch.delenv(name, raising=False)
        for name, value in values.items():
            monkeypatch.setenv(name, value)
        _reset_wiring()

    apply()
    yield apply
    if wiring.rating_publisher.cache_info().currsize:
        wiring.rating_publisher().close()
    _reset_wiring()


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


def test_post_answers_503_with_retry_after_when_the_stream_is_down(
    api: Call, configure: Callable[..., None], talk: str
) -> None:
    configure(STREAMS_CONNECTION="127.0.0.1:1", PUBLISH_TIMEOUT_SECONDS="1")
    response = api("POST", "/ratings", body=json.dumps({"talkId": talk, "value": 4}))
    assert response["statusCode"] == 503
    assert response["headers"]["Retry-After"].isdigit()
    assert response["headers"]["Content-Type"] == "application/problem+json"


def test_root_reports_backends_without_credentials(
    api: Call, configure: Callable[..., None]
) -> None:
    configure(RATINGS_CONNECTION="redis://:hunter2@127.0.0.1:1/0")
    response = api("GET", "/")
    assert response["statusCode"] == 200
    assert "hunter2" not in response["body"]
    assert set(response["json"]["metadata"]) == {"talks", "ratings", "streams", "ratings_lambda"}
    assert response["json"]["backends"] == {"talks": "up", "ratings": "down", "streams": "up"}


def test_projector_counts_a_batch_once_however_often_it_is_delivered(
    configure: Callable[..., None], talk: str, topic: str, redis_client: redis.Redis
) -> None:
    projector = load_function("projector")
    records = ratings_batch(topic, 1, 40, [rating_event(talk, v) for v in (5, 4, 4)])
    records.append(kafka_record(topic, 1, 43, b'{"type": "RatingSubmitted"}'))
    event = kafka_event(records)
    first = projector(event, LambdaContextStub("projector"))
    again = projector(event, LambdaContextStub("projector"))
    assert first == {"applied": 3, "skipped": 0, "deadLettered": 1}
    assert again == {"applied": 0, "skipped": 4, "deadLettered": 0}
    assert redis_client.hgetall(f"ratings/{talk}") == {"5": "1", "4": "2"}


def test_projector_takes_the_msk_shape_too(
    configure: Callable[..., None], talk: str, topic: str, redis_client: redis.Redis
) -> None:
    projector = load_function("projector")
    event = kafka_event(
        ratings_batch(topic, 0, 0, [rating_event(talk, 2)]), source="projector/msk.json"
    )
    assert projector(event, LambdaContextStub("projector"))["applied"] == 1
    assert redis_client.hget(f"ratings/{talk}", "2") == "1"
