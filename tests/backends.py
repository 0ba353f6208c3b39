"""Where the suite's databases are: one PostgreSQL server and one Redis server, named once.

`TEST_POSTGRES` (a server DSN without a database) and `TEST_REDIS` (a Redis URL without a database
number) move the whole suite to other servers, and `TEST_DB_SUFFIX` gives its PostgreSQL databases
names of their own, so two checkouts on one machine can run their suites at the same time without
disturbing each other. The older per-database variables still win where they are set.

Under pytest-xdist (`make test` runs the suite on four workers, a file to a worker) the first
worker keeps these names; every other worker adds its own name to the database suffix and runs
a Redis server of its own on a free loopback port (the suite uses all sixteen numbered
databases of one server), so that no two files running at once share a database. A file
whose read model would otherwise share a numbered database with another file's (they could run
at once, and one's runtime empties it under the other) has a Redis server of its own
(`own_redis`).
"""

from __future__ import annotations

import functools
import os

import redis

from tests.workers import own_redis_server

# "gw0", "gw1", ... under pytest-xdist; empty in a run on one process
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
SHARED = WORKER in ("", "gw0")  # the first worker uses the configured servers as they are

POSTGRES = os.environ.get("TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432").rstrip("/")
REDIS = (
    os.environ.get("TEST_REDIS", "redis://127.0.0.1:6379").rstrip("/")
    if SHARED
    else own_redis_server()
)
DB_SUFFIX = os.environ.get("TEST_DB_SUFFIX", "") + ("" if SHARED else f"_{WORKER}")


def configured(name: str, default: str) -> str:
    """An older per-database variable where set, for the first worker only: it names one
    database, which two workers cannot share."""
    return os.environ.get(name, default) if SHARED else default


def postgres_dsn(name: str) -> str:
    """The DSN of the suite's PostgreSQL database `talkrate_<name>` (with the suffix, if any)."""
    return f"{POSTGRES}/talkrate_{name}{DB_SUFFIX}"


def emptied(url: str) -> str:
    """A Redis database emptied: the read model records applied offsets per topic partition;
    the session's broker is new, so offsets left by an earlier session would shadow its records."""
    client = redis.Redis.from_url(url)
    client.flushdb()
    client.close()
    return url


def built(url: str, talks_dsn: str) -> str:
    """The read model at `url` built from the event store at `talks_dsn` when it is not (new,
    or emptied by an earlier test), by the product's own path (`rebuild_if_lost`, as the
    projector's first batch or the local runtime's start builds it): the apply refuses a Redis
    without it."""
    from talkrate.adapters.redis_store import RedisReadModel
    from talkrate.rebuild import rebuild_if_lost
    from talkrate_local.database import event_store

    with event_store(talks_dsn) as store:
        rebuild_if_lost(store, RedisReadModel(url), lambda _: None)
    return url


def redis_url(db: int) -> str:
    """The URL of one numbered database of the suite's Redis server."""
    return f"{REDIS}/{db}"


@functools.cache
def own_redis(user: str) -> str:
    """Database 0 of a Redis server started for `user` alone, when first asked for (it stops
    with the process): every numbered database of the suite's server is another file's."""
    return f"{own_redis_server()}/0"


# Redis databases: 0 dev, 1 a runtime whose ratings topic is deleted and created again, 2 the web app's short voter passes, 3 the talkrate command's one-pass-a-minute runtime, 4 the e2e suite's runtime, 5 a read model beside another event store, 6 web app's limits, 7 and 9 the talkrate command, 8 web app, 10 votes
# e2e, 11 catalog flow, 12 contract tests, 13 bench, 14 fault suite, 15 tests.
TALKS = configured("TEST_TALKS_CONNECTION", postgres_dsn("test"))
RATINGS = configured("TEST_RATINGS_CONNECTION", redis_url(15))
FAULTS_TALKS = configured("TEST_FAULTS_TALKS_CONNECTION", postgres_dsn("faults"))
FAULTS_RATINGS = redis_url(14)
CONTRACT_TALKS = postgres_dsn("contract")
CONTRACT_RATINGS = redis_url(12)
CATALOG_TALKS = postgres_dsn("catalog_e2e")
CATALOG_RATINGS = redis_url(11)
VOTES_TALKS = postgres_dsn("votes_e2e")
VOTES_RATINGS = redis_url(10)
CLI_TALKS = postgres_dsn("cli_e2e")
CLI_RATINGS = redis_url(9)
WEB_TALKS = postgres_dsn("web_e2e")
WEB_RATINGS = redis_url(8)
WEB_LIMITS_TALKS = postgres_dsn("web_limits_e2e")  # a runtime with a voter limit of one a minute
WEB_LIMITS_RATINGS = redis_url(6)
SHORT_PASSES_TALKS = postgres_dsn("short_passes_e2e")  # a runtime renewing 18-s passes early
SHORT_PASSES_RATINGS = redis_url(2)
BRIEF_PASSES_TALKS = postgres_dsn("brief_passes_e2e")  # a runtime whose voter passes last 18 s
# A runtime keeping an organiser's unsent change 5 s (test_live_given_up; its read model: own_redis).
UNSENT_TALKS = postgres_dsn("unsent_e2e")


def brief_passes_ratings() -> str:
    """The read model of the runtime whose voter passes last 18 s (a Redis server of its own:
    a file may have it running beside the short-pass one, whose start empties database 2)."""
    return own_redis("brief_passes")


CLI_ATTENDEE_TALKS = postgres_dsn("cli_attendee_e2e")
CLI_ATTENDEE_RATINGS = redis_url(7)
# The talkrate command against open voting that hands one voter pass a minute to an address.
CLI_LIMITS_TALKS = postgres_dsn("cli_limits_e2e")
CLI_LIMITS_RATINGS = redis_url(3)
SCHEMA_TALKS = postgres_dsn("schema")  # made empty by the schema deploy tests
FRESH_TALKS = postgres_dsn("fresh")  # a new deployment's: no event stored (the relay's test)
# The e2e suite's catalog and read model (its talks_dsn and redis_url): its runtime, alive for
# the whole session, runs a relay every minute, which on TALKS published an integration test's
# outbox entry itself (to the runtime's topic) between the test's write and its own relay run.
E2E_TALKS = postgres_dsn("e2e")
E2E_RATINGS = redis_url(4)
# The outbox of the publisher's relay tests, which each empty.
RELAY_TALKS = postgres_dsn("relay")
# The outbox of the command's relay test: CLI_TALKS's runtime relays its own every minute.
CLI_RELAY_TALKS = postgres_dsn("cli_relay")
# The projector's consumer group of the integration tests (their PROJECTOR_CONSUMER_GROUP): each
# test's topic is one it consumes (an offset committed on it, as a projector's first batch does),
# so `ops relay` and `ops redrive` publish into it.
TEST_PROJECTOR_GROUP = "talkrate-tests-projector"
# Another deployment's event store and read model, for an operator's command pointed at one of
# each (a rebuild from the wrong event store): test_operations.py's alone.
ELSEWHERE_TALKS = postgres_dsn("elsewhere")
ELSEWHERE_RATINGS = redis_url(5)
# An event store backed up and restored whole (pg_dump, pg_restore), beside a Redis of its own.
RESTORED_TALKS = postgres_dsn("restored")
# A runtime whose API is behind a database proxy (RdsProxyEndpoint: no LISTEN), for a watch: a
# catalog of its own, and a read model on a Redis server of its own (`cli_proxied_ratings`).
CLI_PROXIED_TALKS = postgres_dsn("cli_proxied_e2e")
# A runtime as `make run` starts it, for another origin's page (test_web_cross_origin.py): its
# read model on a Redis server of its own (`own_redis("cross_origin")`).
CROSS_ORIGIN_TALKS = postgres_dsn("cross_origin_e2e")


def cli_proxied_ratings() -> str:
    """The proxied runtime's read model (test_cli.py's, beside test_operations.py's
    ELSEWHERE_RATINGS, which it shared: the two files can run at once)."""
    return own_redis("cli_proxied")


# A runtime whose ratings topic is deleted and created again while it runs (the operator's
# runbook rehearsed): a catalog and a read model of its own, which `ops topic-recreated` rebuilds.
RECREATED_TOPIC_TALKS = postgres_dsn("recreated_topic_e2e")
RECREATED_TOPIC_RATINGS = redis_url(1)
# A runtime whose STREAMS_CONNECTION is written with a scheme, or holds a password: a catalog of
# its own, and a read model on a Redis server of its own (`streams_setting_ratings`).
STREAMS_SETTING_TALKS = postgres_dsn("streams_setting_e2e")


def streams_setting_ratings() -> str:
    """The streams-setting runtime's read model (test_local_streams_setting.py's, which shared
    database 1 with test_recreated_topic.py: the two files can run at once, rate the same dev
    talk, and each empties the database as its runtime starts)."""
    return own_redis("streams_setting")


# A runtime whose Redis loses the read model while it runs (test_read_model_lost.py, which
# empties it again and again): a catalog of its own, and a read model on a Redis server of its
# own (`read_model_lost_ratings`).
READ_MODEL_LOST_TALKS = postgres_dsn("read_model_lost_e2e")


def read_model_lost_ratings() -> str:
    """The read model of the runtime whose Redis loses it (a Redis server of its own: no other
    file's runtime may find its database emptied under it)."""
    return own_redis("read_model_lost")


# A runtime for `simulate`'s waits before its crowd starts (test_cli_simulate_waits.py): a
# catalog of its own, and a read model on a Redis server of its own (`cli_waits_ratings`).
CLI_WAITS_TALKS = postgres_dsn("cli_waits_e2e")


def cli_waits_ratings() -> str:
    """The read model of the runtime `simulate`'s waits are tried against (a Redis server of
    its own: every numbered database of the suite's is another file's)."""
    return own_redis("cli_waits")
