"""A read model's Redis whose maxmemory-policy may evict its counts (an allkeys-* one) is said
so: GET /'s word for it, and the local runtime's start. A Redis server of this module's own:
its policy is changed."""

from __future__ import annotations

import pytest
import redis

from talkrate.adapters.redis_store import BUILT_KEY, RedisReadModel
from talkrate_local import stack
from tests.workers import own_redis_server

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def own_redis() -> str:
    return own_redis_server() + "/0"


@pytest.mark.parametrize(
    ("policy", "said"),
    [("allkeys-lru", "evicting"), ("noeviction", True), ("volatile-ttl", True)],
)
def test_get_s_report_says_evicting_of_a_read_model_under_an_allkeys_policy(
    own_redis: str, policy: str, said: object
) -> None:
    # Given a built read model in a Redis whose maxmemory-policy is `policy`
    client = redis.Redis.from_url(own_redis)
    client.set(BUILT_KEY, "1")
    client.config_set("maxmemory-policy", policy)
    try:
        # When GET / asks it whether it answers
        answer = RedisReadModel(own_redis).ping()
        # Then an allkeys-* policy is said, the others are plain "up"
        assert answer == said
    finally:
        client.config_set("maxmemory-policy", "noeviction")
        client.flushdb()


def test_the_local_runtime_warns_at_its_start_of_a_redis_that_may_evict_counts(
    own_redis: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the runtime's Redis under allkeys-lru
    client = redis.Redis.from_url(own_redis)
    client.config_set("maxmemory-policy", "allkeys-lru")
    try:
        # When the runtime checks it at its start
        stack._warn_of_eviction(own_redis)
        # Then it says so, and what to do
        said = capsys.readouterr()
        assert "maxmemory-policy allkeys-lru, which may evict counts" in said.out + said.err
        assert "noeviction" in said.out + said.err
        # And with noeviction it says nothing
        client.config_set("maxmemory-policy", "noeviction")
        stack._warn_of_eviction(own_redis)
        said = capsys.readouterr()
        assert "maxmemory-policy" not in said.out + said.err
    finally:
        client.config_set("maxmemory-policy", "noeviction")
