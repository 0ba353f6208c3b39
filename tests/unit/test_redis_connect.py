"""The one place a Redis URL becomes a client: a URL it cannot take is said as Redis away,
naming the setting, never repeating the URL (it may hold a password)."""

from __future__ import annotations

import traceback

import pytest
import redis

from talkrate.adapters.redis_store import RedisReadModel, RedisUrl, connect
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


@pytest.mark.parametrize(
    ("url", "kind", "where"),
    [
        ("redis://127.0.0.1:1/3", redis.Connection, {"host": "127.0.0.1", "port": 1, "db": 3}),
        ("rediss://127.0.0.1:2/0", redis.SSLConnection, {"host": "127.0.0.1", "port": 2}),
        ("unix:///r?db=4", redis.UnixDomainSocketConnection, {"path": "/r", "db": 4}),
    ],
)
def test_redis_urls_still_make_clients_of_what_they_name(
    url: str, kind: type, where: dict[str, object]
) -> None:
    client = connect(url)  # nothing is connected before the first command
    try:
        # (it asserted nothing: a connect() ignoring its URL passed)
        pool = client.connection_pool
        assert pool.connection_class is kind
        assert {key: pool.connection_kwargs.get(key) for key in where} == where
    finally:
        client.close()


def slices(text: str) -> set[str]:
    """Every three characters of a text."""
    return {text[i : i + 3] for i in range(len(text) - 2)}


def told(error: BaseException) -> str:
    """All a log line's stack trace would show of the error: its message, and its cause's or
    context's (a traceback prints the chain)."""
    return "".join(traceback.format_exception(error))


# A password holding a character a URL reserves, not percent-encoded. urllib ends the host at its
# #, / or ?: redis-py then read the password's first characters as the port ("Port could not be
# cast to integer value as 'Qx7zK9'", a 500 on every rating), or, when they are digits, connected
# to localhost at them and said so ("Error 111 connecting to localhost:40719"); of a unix socket
# it named the rest of the password as the socket's path.
UNENCODED = [
    ("redis://:{password}@cache.example:6379/0", "Qx7zK9#wJ4vB2"),
    ("redis://:{password}@cache.example:6379/0", "Qx7zK9/wJ4vB2"),
    ("redis://:{password}@cache.example:6379/0", "Qx7zK9?wJ4vB2"),
    ("redis://default:{password}@cache.example:6379/0", "Qx7zK9#wJ4vB2"),
    ("rediss://:{password}@cache.example:6379/0?cluster=true", "Qx7zK9#wJ4vB2"),
    ("redis://:{password}@127.0.0.1:6379/0", "40719#wJ4vB2"),
    ("redis://:{password}@127.0.0.1:6379/0", "40719/wJ4vB2"),
    ("redis://:{password}@127.0.0.1:6379/0", "40719?wJ4vB2"),
    ("redis://user:{password}@127.0.0.1:6379/0", "40719#wJ4vB2"),
    ("unix://:{password}@/var/run/redis.sock", "Qx7zK9/wJ4vB2"),
    ("redis://:{password}@cache.example:6379/0", "Qx7zK9[wJ4vB2"),
]


@pytest.mark.parametrize(("form", "password"), UNENCODED)
def test_a_password_s_unencoded_reserved_character_is_said_naming_the_setting_never_a_piece(
    form: str, password: str
) -> None:
    url = form.format(password=password)
    # When the read model's client is asked for (the first use of it, as every caller does)
    with pytest.raises(BackendUnavailable) as raised:
        RedisReadModel(url).client.ping()
    # Then Redis is said to be away, naming the setting and what to do
    said = told(raised.value)
    assert "RATINGS_CONNECTION is not a valid Redis URL" in said
    assert "percent-encoded" in said
    # and no three characters of the password, in the message or anything chained to it
    assert not sorted(piece for piece in slices(password) if piece in said), said


@pytest.mark.parametrize(
    "url",
    [
        "redis://cache.example:99999/0",  # no port
        "redis://cache.example:6379/0?db=Qx7zK9",  # a database redis-py cannot cast
        "redis://127.0.0.1:6379/0?socket_timeout=Qx7zK9",
        "redis://127.0.0.1:6379/0?Qx7zK9=1",  # an option no connection takes (each command's
        "redis://127.0.0.1:6379/0?replicas=Qx7zK9",  # TypeError: a 500), talkrate's own
        "redis://127.0.0.1:6379?cluster=true&nodes=Qx7zK9",  # a node without its port
        "redis://127.0.0.1:6379?cluster=true&nodes=127.0.0.1:Qx7",
        "redis://127.0.0.1:6379?cluster=true&nodes=127.0.0.1:6380,127.0.0.1:99999",
        "redis://127.0.0.1:6379/0?nodes=127.0.0.1:6380",  # one Redis has no other nodes
        "redis://127.0.0.1:6379?cluster=true&nodes=:Qx7zK9%40cache.example:6380",  # a password
    ],
)
def test_a_port_database_or_option_redis_cannot_take_is_said_naming_the_setting(
    url: str,
) -> None:
    with pytest.raises(BackendUnavailable) as raised:
        RedisReadModel(url).client.ping()
    said = told(raised.value)
    assert "RATINGS_CONNECTION is not a valid Redis URL" in said
    assert "Qx7" not in said, said
    assert "99999" not in said, said


@pytest.mark.parametrize(
    ("url", "password"),
    [
        ("redis://:Qx7zK9%23wJ4vB2@127.0.0.1:1/0", "Qx7zK9#wJ4vB2"),
        ("redis://user:40719%2FwJ4%3FvB2%40x%5B%5D@127.0.0.1:1/0", "40719/wJ4?vB2@x[]"),
        # ElastiCache's AUTH token characters but #, and an @, which only the last one ends
        (
            "rediss://:Qx7!&$^<>-wJ4@vB2@cache.example:6379/0?ssl_cert_reqs=none",
            "Qx7!&$^<>-wJ4@vB2",
        ),
        ("unix://:Qx7zK9%2FwJ4@/var/run/redis.sock?db=2", "Qx7zK9/wJ4"),
        ("redis://[::1]:6379/0?socket_timeout=2&health_check_interval=10", None),
    ],
)
def test_a_percent_encoded_password_is_read_whole(url: str, password: str | None) -> None:
    client = connect(url)  # nothing is connected before the first command
    try:
        assert client.connection_pool.connection_kwargs.get("password") == password
    finally:
        client.close()


def test_a_cluster_s_other_nodes_are_taken_out_of_the_url_for_its_client() -> None:
    parsed = RedisUrl.parse(
        "rediss://:pw@cache.example:6379?cluster=true&nodes=10.0.0.2:6380,%20[fd00::3]:6381"
        "&replicas=1&socket_timeout=2"
    )
    assert parsed.cluster
    assert parsed.replicas == 1
    assert parsed.nodes == (("10.0.0.2", 6380), ("fd00::3", 6381))
    assert parsed.url == "rediss://:pw@cache.example:6379?socket_timeout=2"
