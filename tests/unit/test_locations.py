"""GET /'s locations: built from parsed host, port and database; no credential, never a failure."""

from __future__ import annotations

import json

import pytest

from talkrate.config import Settings
from talkrate.locations import (
    UNPARSEABLE,
    kafka_located,
    kafka_location,
    postgres_location,
    redis_location,
    url_host,
)
from talkrate.status import describe_backends

pytestmark = pytest.mark.unit

SECRET = "s3cr3t"


@pytest.mark.parametrize(
    ("dsn", "shown"),
    [
        (
            "postgresql://app:s3cr3t@db.internal:5432/talkrate?sslmode=require",
            "postgresql://db.internal:5432/talkrate",
        ),
        ("postgresql://postgres@127.0.0.1:5432/talkrate", "postgresql://127.0.0.1:5432/talkrate"),
        ("host=db user=app password=s3cr3t dbname=talkrate", "postgresql://db/talkrate"),
        ("host=db password = s3cr3t dbname=t", "postgresql://db/t"),
        ("host=db password='a b s3cr3t' dbname=t", "postgresql://db/t"),
        ("host=h1,h2 port=5432,5433 dbname=t password=s3cr3t", "postgresql://h1:5432,h2:5433/t"),
        ("postgresql://app:s3cr3t/x@db:5432/t", UNPARSEABLE),
        ("postgresql://app:s3cr3t?x@db:5432/t", "postgresql://db:5432/t"),
        ("postgresql://app:s3cr3t#x@db:5432/t", "postgresql://db:5432/t"),
        ("postgresql://app:[s3cr3t@db:5432/t", "postgresql://db:5432/t"),
        ("password=s3cr3t host='a b'", UNPARSEABLE),
        ("not a dsn at all ===", UNPARSEABLE),
    ],
)
def test_postgres_locations(dsn: str, shown: str) -> None:
    assert postgres_location(dsn) == shown
    assert SECRET not in postgres_location(dsn)


@pytest.mark.parametrize(
    ("dsn", "shown"),
    [
        # libpq reads these passwords whole: the location shows
        ("host=db password='Qx7 zK9' dbname=t", "postgresql://db/t"),
        (r"host=db password='Qx7\'zK9\\wJ4' dbname=t", "postgresql://db/t"),
        ("postgresql://db:5432/t?password=Qx7zK9&sslmode=require", "postgresql://db:5432/t"),
        ("postgresql://u:Qx7&host=zK9@db:5432/t", "postgresql://db:5432/t"),
        # and a password that holds the host, port, database or scheme as well hides nothing
        ("postgresql://app:my-postgresql-5432-db@db:5432/t", "postgresql://db:5432/t"),
        # libpq splits these at a space or an "&", and takes what follows for a setting the
        # string gave already: a host or a database made of the password is not shown
        ("postgresql://db:5432/t?password=Qx7&host=zK9wJ4", UNPARSEABLE),
        ("postgresql://db:5432/t?password=Qx7&dbname=zK9wJ4", UNPARSEABLE),
        ("postgresql://db:5432/t?password=Qx7&port=2929", UNPARSEABLE),
        ("host=db password=Qx7 host=zK9wJ4 dbname=t", UNPARSEABLE),
        ("host=db dbname=t password=Qx7 dbname=zK9wJ4", UNPARSEABLE),
        # nor anything libpq cannot read
        ("postgresql://db:5432/t?password=Qx7&zK9wJ4", UNPARSEABLE),
        ("host=db password=Qx7 zK9wJ4 dbname=t", UNPARSEABLE),
    ],
)
def test_a_password_libpq_reads_in_pieces_is_not_shown(dsn: str, shown: str) -> None:
    assert postgres_location(dsn) == shown
    password = "Qx7zK9wJ42929"
    assert not [password[i : i + 3] for i in range(10) if password[i : i + 3] in shown]


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("rediss://:s3cr3t@cache.internal:6379/0", "rediss://cache.internal:6379/0"),
        ("redis://user:s3cr3t@cache:6379", "redis://cache:6379"),
        ("redis://cache:6379/0?password=s3cr3t", "redis://cache:6379/0"),
        ("redis://127.0.0.1:6379/0?cluster=true", "redis://127.0.0.1:6379/0"),
        ("redis://[::1]:6379/2", "redis://[::1]:6379/2"),
        ("redis://u:s3cr3t/x@cache:6379/0", UNPARSEABLE),
        ("redis://u:s3cr3t?x@cache:6379/0", UNPARSEABLE),
        ("redis://u:s3cr3t#x@cache:6379/0", UNPARSEABLE),
        ("redis://u:[s3cr3t@cache:6379/0", UNPARSEABLE),
        ("redis://u:1234/s3cr3t@cache:6379/0", UNPARSEABLE),
        ("redis://cache:99999/0", UNPARSEABLE),
        ("", UNPARSEABLE),
    ],
)
def test_redis_locations(url: str, shown: str) -> None:
    assert redis_location(url) == shown
    assert SECRET not in redis_location(url)


@pytest.mark.parametrize(
    ("bootstrap", "shown"),
    [
        ("broker-1:9092,broker-2:9092", "broker-1:9092,broker-2:9092"),
        # A scheme or listener name is kept as written, as the other backends' schemes are
        ("kafka://b1:9092", "kafka://b1:9092"),
        ("kafka://b1:9092,b2:9092", "kafka://b1:9092,b2:9092"),
        ("SASL_SSL://user:s3cr3t@b1:9092", "SASL_SSL://b1:9092"),
        ("kafka://user:s3cr3t@b1:9092", "kafka://b1:9092"),
        ("SASL_SSL://b1:9092, SASL_SSL://b2:9093", "SASL_SSL://b1:9092,SASL_SSL://b2:9093"),
        ("PLAINTEXT://[::1]:9092", "PLAINTEXT://[::1]:9092"),
        # MSK with IAM: its bootstrap brokers as the console lists them (TLS and SASL are
        # settings of their own, STREAMS_SECURITY_PROTOCOL and STREAMS_SASL_MECHANISM)
        (
            "b-1.talkrate.abc123.c2.kafka.eu-west-1.amazonaws.com:9098,"
            "b-2.talkrate.abc123.c2.kafka.eu-west-1.amazonaws.com:9098",
            "b-1.talkrate.abc123.c2.kafka.eu-west-1.amazonaws.com:9098,"
            "b-2.talkrate.abc123.c2.kafka.eu-west-1.amazonaws.com:9098",
        ),
        ("SASL_SSL://user:s3/cr3t@b1:9092", UNPARSEABLE),
        ("SASL_SSL://user:[s3cr3t@b1:9092", UNPARSEABLE),
        # A password holding "://" makes no scheme of what comes before it
        ("SASL_SSL://user:s3://cr3t@b1:9092", UNPARSEABLE),
        ("user:s3://cr3t@b1:9092", UNPARSEABLE),
        (",", UNPARSEABLE),
        # A "," before an "@" may be a password's: no entry is shown
        ("SASL_SSL://alice:2929,Qx7zK9@b1:9096", UNPARSEABLE),
        ("b0:9092,SASL_SSL://user:s3cr3t@b1:9092", UNPARSEABLE),
        # One after the last "@" separates entries, whatever the password holds
        ("SASL_SSL://user:s3@c@r3t@b1:9092,b2:9092", "SASL_SSL://b1:9092,b2:9092"),
    ],
)
def test_kafka_locations(bootstrap: str, shown: str) -> None:
    assert kafka_location(bootstrap) == shown
    assert SECRET not in kafka_location(bootstrap)
    assert "cr3t" not in kafka_location(bootstrap)


@pytest.mark.parametrize(
    ("bootstrap", "said"),
    [
        ("SASL_SSL://user:s3cr3t@b1:9092", "['SASL_SSL://b1:9092']"),
        ("kafka://user:s3cr3t@b1:9092,b2:9092", "['kafka://b1:9092', 'b2:9092']"),
        ("user:s3cr3t@b1:9092", "['b1:9092']"),
        # A list's repr quotes an entry holding "'" in double quotes, a backslash doubled
        ("SASL_SSL://user:s3'cr3t\\@b1:9092", '["SASL_SSL://b1:9092"]'),
        # An entry without credentials is its own location: its scheme is not put in twice
        ("kafka://b1:9092", "['kafka://b1:9092']"),
        ("SASL_SSL://b1:9096", "['SASL_SSL://b1:9096']"),
        ("PLAINTEXT://localhost:1,b2:9092", "['PLAINTEXT://localhost:1', 'b2:9092']"),
        ("b1:9092,kafka://b1:9092", "['b1:9092', 'kafka://b1:9092']"),
        # One entry that cannot be shown is said as such, the others as they are
        ("SASL_SSL://user:s3/cr3t@b1:9092,b2:9092", f"['{UNPARSEABLE}', 'b2:9092']"),
    ],
)
def test_a_kafka_client_s_words_name_the_brokers_as_their_location_does(
    bootstrap: str, said: str
) -> None:
    # Given what kafka-python says of bootstrap servers it cannot reach (it quotes their list)
    entries = [entry.strip() for entry in bootstrap.split(",")]
    message = f"KafkaTimeoutError: Unable to bootstrap from {entries}"
    # When a command says it
    # Then each entry is named as GET / names it, its user and password left out
    assert (
        kafka_located(message, bootstrap) == f"KafkaTimeoutError: Unable to bootstrap from {said}"
    )


# Passwords holding what separates bootstrap entries, credentials, a scheme or a path, in an
# entry with a scheme, without one, and after another entry; a user holding a ","; a "," in the
# second entry's password
PASSWORDS = ["2929,Qx7zK9", "29,29,Qx7zK9", "Qx7@zK9,wJ4", "2929,ssl://Qx7zK9", "2929,Qx7/zK9"]
CREDENTIALED = [
    f"{before}svc7q:{password}@b1:9096"
    for password in PASSWORDS
    for before in ("SASL_SSL://", "", "b0:9092,", "b0:9092,SASL_SSL://")
] + ["svc7q,2929@b1:9096", "SASL_SSL://svc7q:Qx7zK9@b1:9096,SASL_SSL://svc7q:2929,Qx7@b2:9096"]


def slices(text: str) -> set[str]:
    """Every three characters of a text."""
    return {text[i : i + 3] for i in range(len(text) - 2)}


@pytest.mark.parametrize("bootstrap", CREDENTIALED)
def test_no_piece_of_a_kafka_password_is_shown_whatever_it_holds(bootstrap: str) -> None:
    # Given bootstrap servers whose password holds a ",", "@", "://" or "/" (a "," splits the
    # servers into entries before a user and password are read out of one)
    credentials = bootstrap.rpartition("@")[0].removeprefix("b0:9092,").removeprefix("SASL_SSL://")
    entries = [entry.strip() for entry in bootstrap.split(",")]
    # When GET / names them, and a command says kafka-python's words of them
    shown = kafka_location(bootstrap)
    said = kafka_located(f"KafkaTimeoutError: Unable to bootstrap from {entries}", bootstrap)
    # Then no three characters of the user and password are in either: nothing is shown that
    # could be a piece of them
    assert shown == UNPARSEABLE
    assert said == f"KafkaTimeoutError: Unable to bootstrap from {[UNPARSEABLE] * len(entries)}"
    assert not [piece for piece in slices(credentials) if piece in shown + said]


@pytest.mark.parametrize(
    "configured",
    [
        "redis://user:4242#s3cr3t@cache:6379/0",
        "redis://user:4242?s3cr3t@cache:6379",
        "rediss://user:4242#s3cr3t@cache:6379/0?cluster=true",
        "kafka:SASL_SSL://user:4242/s3cr3t@b1:9092",
        "kafka:SASL_SSL://user:4242#s3cr3t@b1:9092",
        "kafka:b0:9092,user:4242?s3cr3t@b1:9092",
    ],
)
def test_a_password_whose_digits_end_where_a_url_part_begins_is_not_shown(configured: str) -> None:
    # Given a password of digits, then an unencoded "#", "?" or "/": urllib ends the host there,
    # and "user:4242" parsed as a host and a port
    kafka = configured.startswith("kafka:")
    shown = kafka_location(configured[6:]) if kafka else redis_location(configured)
    # Then nothing of the user or the password is shown
    assert shown == UNPARSEABLE
    assert "4242" not in shown
    assert "user" not in shown


def test_a_function_url_shows_its_host_only() -> None:
    assert url_host("https://abc.lambda-url.eu-west-1.on.aws/?token=s3cr3t") == (
        "https://abc.lambda-url.eu-west-1.on.aws/"
    )
    assert url_host(None) is None
    assert url_host("https://u:s3cr3t[@x/") == UNPARSEABLE


class Up:
    def ping(self) -> bool:
        return True


def test_prod_answers_only_up_or_down() -> None:
    # Given a prod deployment with credentials in every connection string
    settings = Settings.model_validate(
        {
            "STAGE": "prod",
            "TALKS_CONNECTION": "postgresql://app:s3cr3t@db.internal:5432/talkrate",
            "RATINGS_CONNECTION": "rediss://:s3cr3t@cache.internal:6379/0",
            "STREAMS_CONNECTION": "b-1.kafka.internal:9096",
        }
    )
    # When GET / describes the backends
    report = describe_backends(settings, {"talks": Up(), "ratings": Up(), "streams": Up()})
    # Then only their state: no host, port, database or user
    assert report == {"backends": {"talks": "up", "ratings": "up", "streams": "up"}}


def test_elsewhere_the_locations_show_and_never_fail() -> None:
    settings = Settings.model_validate(
        {
            "TALKS_CONNECTION": "postgresql://app:s3cr3t@db:5432/talkrate",
            "RATINGS_CONNECTION": "redis://u:[s3cr3t@cache:6379/0",
            "STREAMS_CONNECTION": "SASL_SSL://user:s3cr3t@b1:9092",
        }
    )
    report = describe_backends(settings, {"talks": Up()})
    assert report["metadata"]["talks"] == "postgresql://db:5432/talkrate"
    assert report["metadata"]["ratings"] == UNPARSEABLE
    assert SECRET not in json.dumps(report)
