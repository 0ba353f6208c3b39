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


def test_no_two_read_models_of_the_suite_share_a_redis_database() -> None:
    # Given every read model the suite's files name (a file's runtime empties its own as it
    # starts, and `make test` runs files at once, on workers of their own)
    from tests import backends

    named = {name: url for name, url in vars(backends).items() if name.endswith("_RATINGS")}
    named["streams_setting_ratings()"] = backends.streams_setting_ratings()
    named["cli_proxied_ratings()"] = backends.cli_proxied_ratings()
    # Then each is a database no other names
    users: dict[str, list[str]] = {}
    for name, url in named.items():
        users.setdefault(url, []).append(name)
    assert not {url: names for url, names in users.items() if len(names) > 1}
