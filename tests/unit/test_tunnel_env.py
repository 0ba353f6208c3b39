"""scripts/tunnel_env.py, read as libpq, redis-py and a shell read what it prints: the stack's
connection strings turned to the local ends of SSM port forwards, the database still named for
its certificate, and nothing of the secret said where it should not be."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys

import pytest
from psycopg2.extensions import parse_dsn
from redis.connection import SSLConnection, parse_url

from talkrate.adapters.redis_store import RedisUrl
from tests.builders import ROOT

pytestmark = pytest.mark.unit

SCRIPT = ROOT / "scripts" / "tunnel_env.py"
DATABASE = "talkrate-prod.cluster-abc.eu-west-1.rds.amazonaws.com"
CACHE = "master.talkrate-prod.abc.euw1.cache.amazonaws.com"
# A password with what a shell, a URL and libpq each read specially
PASSWORD = "p@ss w'o\"rd$(x)&%/"


def run(secret: object, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *arguments],
        input=secret if isinstance(secret, str) else json.dumps(secret),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def exported(lines: str) -> dict[str, str]:
    """What a shell that evals the lines holds afterwards (and whether the ARN is gone)."""
    shown = subprocess.run(
        [
            "bash",
            "-c",
            'eval "$(cat)"; printf "%s\\0%s\\0%s" "$TALKS_CONNECTION" "$RATINGS_CONNECTION" '
            '"${CONNECTIONS_SECRET_ARN-unset}"',
        ],
        input=lines,
        env={
            "CONNECTIONS_SECRET_ARN": "arn:aws:secretsmanager:eu-west-1:1:secret:c",
            "PATH": "/usr/bin:/bin",
        },
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    talks, ratings, arn = shown.stdout.split("\0")
    return {"TALKS_CONNECTION": talks, "RATINGS_CONNECTION": ratings, "arn": arn}


def secret(talks: str | None = None, ratings: str | None = None) -> dict[str, str]:
    from urllib.parse import quote

    return {
        "TALKS_CONNECTION": talks
        or f"postgresql://talkrate:{quote(PASSWORD, safe='')}@{DATABASE}:5432/talkrate"
        "?sslmode=verify-full&sslrootcert=/etc/rds/global-bundle.pem",
        "RATINGS_CONNECTION": ratings or f"rediss://:{quote(PASSWORD, safe='')}@{CACHE}:6379/0",
    }


def test_the_database_is_reached_at_the_forward_under_its_own_name() -> None:
    # Given the stack's secret (a URL with TLS checked against the database's name)
    ran = run(secret(), "--postgres-port", "15432")
    assert ran.returncode == 0, ran.stderr
    # When the shell evals the lines and libpq reads the connection string
    talks = parse_dsn(exported(ran.stdout)["TALKS_CONNECTION"])
    # Then it connects to the forward's local end, and checks the certificate against the
    # database's own name, with the same credentials, database and TLS settings
    assert talks["hostaddr"] == "127.0.0.1"
    assert talks["port"] == "15432"
    assert talks["host"] == DATABASE
    assert talks["password"] == PASSWORD
    assert (talks["user"], talks["dbname"]) == ("talkrate", "talkrate")
    assert (talks["sslmode"], talks["sslrootcert"]) == ("verify-full", "/etc/rds/global-bundle.pem")


def test_a_keyword_connection_string_is_forwarded_alike() -> None:
    keywords = f"host={DATABASE} port=5433 dbname=talkrate user=talkrate password='a b\\'c'"
    ran = run(secret(talks=keywords), "--postgres-port", "15999")
    talks = parse_dsn(exported(ran.stdout)["TALKS_CONNECTION"])
    assert (talks["host"], talks["hostaddr"], talks["port"]) == (DATABASE, "127.0.0.1", "15999")
    assert talks["password"] == "a b'c"


def test_the_cache_is_reached_at_the_forward_its_chain_checked_and_the_credentials_kept() -> None:
    ran = run(secret(), "--redis-port", "16379")
    lines = exported(ran.stdout)
    # The ARN, which talkrate reads before any variable, is gone from the shell
    assert lines["arn"] == "unset"
    # And redis-py, given the URL as talkrate hands it over, connects to the forward over TLS,
    # checking the certificate's chain (its default) but not the name it did not connect to
    options = parse_url(RedisUrl.parse(lines["RATINGS_CONNECTION"]).url)
    assert (options["host"], options["port"], options["db"]) == ("127.0.0.1", 16379, 0)
    assert options["connection_class"] is SSLConnection
    assert options["ssl_check_hostname"] is False
    assert "ssl_cert_reqs" not in options
    assert options["password"] == PASSWORD
    # A plain redis:// URL gets no TLS option
    plain = run(secret(ratings=f"redis://{CACHE}:6380/2"), "--redis-port", "16380")
    url = exported(plain.stdout)["RATINGS_CONNECTION"]
    assert url == "redis://127.0.0.1:16380/2"


def test_the_sessions_to_open_are_said_on_stderr_with_the_hosts_and_no_secret() -> None:
    ran = run(secret(), "--bastion", "i-0123456789abcdef0")
    commands = ran.stderr.splitlines()
    assert len(commands) == 2
    forwarded = []
    for command in commands:
        words = shlex.split(command)
        assert words[:4] == ["aws", "ssm", "start-session", "--target"]
        assert words[4] == "i-0123456789abcdef0"
        assert (
            words[words.index("--document-name") + 1]
            == "AWS-StartPortForwardingSessionToRemoteHost"
        )
        forwarded.append(json.loads(words[words.index("--parameters") + 1]))
    assert forwarded == [
        {"host": [DATABASE], "portNumber": ["5432"], "localPortNumber": ["15432"]},
        {"host": [CACHE], "portNumber": ["6379"], "localPortNumber": ["16379"]},
    ]
    assert "p@ss" not in ran.stderr


@pytest.mark.parametrize(
    ("talks", "ratings", "said"),
    [
        (None, f"rediss://{CACHE}:6379?cluster=true", "Redis Cluster"),
        (
            f"host={DATABASE},replica.example port=5432 dbname=t password=Qx7zK9",
            None,
            "single host",
        ),
        ("host=/var/run/postgresql dbname=t password=Qx7zK9", None, "single host"),
        ("postgresql://u:Qx7zK9@[bad", None, "libpq"),
        (None, "memcached://cache:11211", "redis://"),
    ],
)
def test_what_one_forwarded_port_cannot_serve_is_refused_saying_why(
    talks: str | None, ratings: str | None, said: str
) -> None:
    ran = run(secret(talks=talks, ratings=ratings))
    assert ran.returncode == 2
    assert ran.stdout == ""
    assert said in ran.stderr, ran.stderr
    assert "Qx7" not in ran.stderr


def test_input_that_is_not_the_secret_is_refused_without_being_repeated() -> None:
    for text in ("not json Qx7zK9", json.dumps({"TALKS": "Qx7zK9"}), "[]"):
        ran = run(text)
        assert ran.returncode == 2
        assert "not the connections secret" in ran.stderr
        assert "Qx7" not in ran.stderr


@pytest.mark.parametrize("password", ["Qx7zK9#wJ4vB2", "40719#wJ4vB2", "40719/wJ4vB2", "Qx7[zK9"])
def test_a_redis_password_s_unencoded_reserved_character_is_refused_saying_how_to_write_it(
    password: str,
) -> None:
    # Given the stack's cache URL with a password whose #, / or [ is not percent-encoded (its
    # first characters read as the port: the forward and its session named them)
    ran = run(secret(ratings=f"rediss://:{password}@{CACHE}:6379/0"), "--bastion", "i-0abc")
    # Then nothing is exported or opened, and it says what is wrong, not the password
    assert ran.returncode == 2
    assert ran.stdout == ""
    assert "RATINGS_CONNECTION is not a valid Redis URL" in ran.stderr, ran.stderr
    assert "percent-encoded" in ran.stderr
    pieces = {password[i : i + 3] for i in range(len(password) - 2)}
    assert not sorted(piece for piece in pieces if piece in ran.stderr), ran.stderr
