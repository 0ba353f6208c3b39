"""The one place a Redis URL becomes a client: a URL it cannot take is said as Redis away,
naming the setting, never repeating the URL (it may hold a password)."""

from __future__ import annotations

import pytest

from talkrate.adapters.redis_store import connect
from talkrate.errors import BackendUnavailable


@pytest.mark.parametrize(
    "url",
    [
        ":s3cret@cache.example:6379",
        "cache.example:6379",
        "http://:s3cret@cache.example/0",
        "REDIS://:s3cret@cache.example/0",  # redis-py reads its schemes in lower case only
    ],
)
def test_a_url_without_a_redis_scheme_is_redis_unavailable_naming_the_setting(url: str) -> None:
    with pytest.raises(BackendUnavailable, match="RATINGS_CONNECTION is not a Redis URL") as said:
        connect(url)
    assert "s3cret" not in str(said.value)
    assert "cache.example" not in str(said.value)


@pytest.mark.parametrize("url", ["redis://127.0.0.1:1/0", "rediss://127.0.0.1:1/0", "unix:///r"])
def test_redis_urls_still_make_clients(url: str) -> None:
    client = connect(url)  # nothing is connected before the first command
    client.close()
