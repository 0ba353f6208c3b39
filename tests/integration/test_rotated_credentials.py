"""A warm environment whose database password is rotated keeps working: a refused login reads the
connection string again from its secret."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import boto3
import psycopg2
import pytest
from moto import mock_aws

from talkrate import wiring
from talkrate.adapters.postgres import PostgresDatabase
from talkrate.errors import BackendUnavailable
from talkrate_local.embedded import EmbeddedPostgres

USER = "talkrate_app"


@pytest.fixture
def password_server() -> Iterator[EmbeddedPostgres]:
    """A PostgreSQL server of the test's own whose USER logs in with a password (SCRAM), as on
    RDS; the superuser keeps trust on loopback to rotate it."""
    folder = Path(tempfile.mkdtemp(prefix="talkrate-rotated-"))
    folder.chmod(0o755)  # reachable by the unprivileged user it runs as under root
    service = EmbeddedPostgres(folder / "postgres", database="postgres")
    service.start()
    (folder / "postgres" / "data" / "pg_hba.conf").write_text(
        f"host all {USER} 127.0.0.1/32 scram-sha-256\nhost all all 127.0.0.1/32 trust\n"
    )
    as_superuser(service, f"CREATE ROLE {USER} LOGIN PASSWORD %s", "first-password")
    as_superuser(service, "SELECT pg_reload_conf()")
    yield service
    service.stop()
    shutil.rmtree(folder, ignore_errors=True)


def as_superuser(server: EmbeddedPostgres, statement: str, *parameters: str) -> None:
    connection = psycopg2.connect(server.connection)
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(statement, parameters or None)
    connection.close()


def dsn(server: EmbeddedPostgres, password: str) -> str:
    return f"postgresql://{USER}:{password}@127.0.0.1:{server.port}/postgres"


@pytest.fixture
def secret_holds(
    password_server: EmbeddedPostgres, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[str], None]]:
    """The stack's connections secret (moto), named to the functions by its ARN only; calling
    it with a password makes the secret hold USER's connection string with that password."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    with mock_aws():
        client = boto3.client("secretsmanager", region_name="eu-west-1")
        arn = client.create_secret(Name="talkrate/connections", SecretString="{}")["ARN"]
        monkeypatch.setenv("CONNECTIONS_SECRET_ARN", arn)

        def hold(password: str) -> None:
            connection = dsn(password_server, password)
            client.put_secret_value(
                SecretId=arn, SecretString=json.dumps({"TALKS_CONNECTION": connection})
            )

        yield hold
    wiring.reset()


def current_user(database: PostgresDatabase) -> str:
    def read(cursor: psycopg2.extensions.cursor) -> str:
        cursor.execute("SELECT current_user")
        return str(cursor.fetchone()[0])

    return database.run(read)


def test_a_rotated_password_is_read_again_from_its_secret_at_the_next_connection(
    password_server: EmbeddedPostgres, secret_holds: Callable[[str], None]
) -> None:
    # Given a warm environment connected with the secret's password
    secret_holds("first-password")
    wiring.reset()
    database = wiring.database()
    assert current_user(database) == USER
    # When the password is rotated (the role and the secret, as a rotation does) and the
    # environment's connection is dropped (a proxy's idle timeout, a restarted server)
    as_superuser(password_server, f"ALTER ROLE {USER} PASSWORD %s", "second-password")
    secret_holds("second-password")
    as_superuser(
        password_server,
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s",
        USER,
    )
    # Then its next call connects with the new password, instead of answering 503 until Lambda
    # retires the environment
    assert current_user(database) == USER


def test_a_password_the_server_refuses_and_the_secret_still_holds_is_a_clear_unavailability(
    secret_holds: Callable[[str], None],
) -> None:
    # Given a secret whose password the server does not take
    secret_holds("wrong-password")
    wiring.reset()
    # When the environment connects
    with pytest.raises(BackendUnavailable) as refused:
        current_user(wiring.database())
    # Then it is told the login was refused (the API answers 503), without the password
    assert "password authentication failed" in str(refused.value)
    assert "wrong-password" not in str(refused.value)
