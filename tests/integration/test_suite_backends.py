"""The integration tests' own backends, whichever suite a test worker ran first."""

from __future__ import annotations

import pytest
import redis

pytestmark = pytest.mark.integration


def test_the_redis_client_reads_the_read_model_the_handlers_are_given(
    redis_url: str, redis_client: redis.Redis
) -> None:
    # Given a worker that may have run e2e tests first (their read model is another database,
    # and the client is a session fixture): the client is still this suite's
    kwargs = redis_client.connection_pool.connection_kwargs
    assert redis_url.endswith(f":{kwargs['port']}/{kwargs['db']}")
