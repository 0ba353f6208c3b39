"""What the integration tests share: the handlers' settings pointed at the test backends."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from talkrate import wiring

TEST_VOTER_TOKEN_KEY = "integration-tests-voter-token-key"


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
            "PUBLISH_TIMEOUT_SECONDS": "2",
            "VOTER_TOKEN_KEY": TEST_VOTER_TOKEN_KEY,
            **overrides,
        }
        for name in ("STATS_FUNCTION_NAME", "RATINGS_LAMBDA_URL", "CONNECTIONS_SECRET_ARN"):
            monkeypatch.delenv(name, raising=False)
        for name, value in values.items():
            monkeypatch.setenv(name, value)
        wiring.reset()

    apply()
    yield apply
    wiring.reset()
