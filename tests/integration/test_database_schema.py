"""SchemaFunction, as CloudFormation drives it: each request applies schema.sql to a real
PostgreSQL database (or leaves it alone on Delete) and answers on the request's ResponseURL,
here a real HTTP server on loopback standing in for S3's pre-signed URL."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any

import boto3
import psycopg2
import pytest
from aws_lambda_powertools.utilities import parameters
from moto import mock_aws
from psycopg2 import sql

from talkrate.adapters.postgres import PostgresDatabase, apply_schema
from talkrate.config import load_settings
from talkrate.errors import BackendUnavailable
from talkrate.schema import PHYSICAL_ID, schema_version
from tests.backends import POSTGRES, SCHEMA_TALKS
from tests.builders import LambdaContextStub, load_function
from tests.integration.test_unreadable_connection_strings import FORMS, told_nothing_of
from tests.unit.test_connection_strings import UNREADABLE

pytestmark = pytest.mark.integration

TABLES = {"talks", "rating_events", "rating_outbox", "dead_letters", "duplicate_positions"}


class Answers:
    """What CloudFormation would have received: each PUT's headers and JSON body."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], dict[str, Any]]] = []
        answers = self

        class Handler(BaseHTTPRequestHandler):
            def do_PUT(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                answers.received.append((dict(self.headers), json.loads(body)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/signed?X-Amz-Signature=x"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def answers() -> Iterator[Answers]:
    receiver = Answers()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()


def _admin(statement: sql.Composable) -> None:
    connection = psycopg2.connect(f"{POSTGRES}/postgres")
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute(statement)
    finally:
        connection.close()


@pytest.fixture
def empty_database() -> Iterator[str]:
    """A database without a table, as a new RDS instance is."""
    name = sql.Identifier(SCHEMA_TALKS.rsplit("/", 1)[1])
    _admin(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
    _admin(sql.SQL("CREATE DATABASE {}").format(name))
    yield SCHEMA_TALKS
    _admin(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))


@pytest.fixture
def second_database(empty_database: str) -> Iterator[str]:
    """Another empty database on the same server (the one a deploy moves the stack to)."""
    dsn = f"{empty_database}_moved"
    name = sql.Identifier(dsn.rsplit("/", 1)[1])
    _admin(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
    _admin(sql.SQL("CREATE DATABASE {}").format(name))
    yield dsn
    _admin(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))


def tables(dsn: str) -> set[str]:
    connection = psycopg2.connect(dsn)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            return {row[0] for row in cursor.fetchall()}
    finally:
        connection.close()


@pytest.fixture
def deploy(monkeypatch: pytest.MonkeyPatch, answers: Answers) -> Callable[..., dict[str, Any]]:
    """Send one custom resource request to SchemaFunction for a database (its `Emergency`
    property when given: EmergencyDeploy); CloudFormation's answer."""

    def send(request_type: str, dsn: str, emergency: str | None = None) -> dict[str, Any]:
        monkeypatch.setenv("TALKS_CONNECTION", dsn)
        monkeypatch.delenv("CONNECTIONS_SECRET_ARN", raising=False)
        load_settings.cache_clear()  # a cold start each time: settings read anew
        handler = load_function("schema")
        event = {
            "RequestType": request_type,
            "ResponseURL": answers.url,
            "StackId": "arn:aws:cloudformation:eu-west-1:123456789012:stack/talkrate/1",
            "RequestId": f"request-{len(answers.received)}",
            "LogicalResourceId": "DatabaseSchema",
            "ResourceType": "Custom::DatabaseSchema",
            **({} if request_type == "Create" else {"PhysicalResourceId": PHYSICAL_ID}),
            **({} if emergency is None else {"ResourceProperties": {"Emergency": emergency}}),
        }
        before = len(answers.received)
        handler(event, LambdaContextStub("schema"))
        assert len(answers.received) == before + 1, "CloudFormation got no answer"
        headers, answer = answers.received[-1]
        assert headers.get("Content-Type", "") == ""  # as the pre-signed URL was signed
        assert (answer["RequestId"], answer["LogicalResourceId"]) == (
            event["RequestId"],
            "DatabaseSchema",
        )
        return answer

    return send


def test_a_new_stack_gets_its_tables_and_an_update_keeps_the_data(
    deploy: Callable[[str, str], dict[str, Any]], empty_database: str
) -> None:
    # Given a new, empty database
    assert tables(empty_database) == set()
    # When CloudFormation creates the stack
    created = deploy("Create", empty_database)
    # Then the tables exist and CloudFormation heard of it, with the schema's version
    assert created["Status"] == "SUCCESS", created["Reason"]
    assert created["PhysicalResourceId"] == PHYSICAL_ID
    assert created["Data"] == {"Version": schema_version()}
    assert tables(empty_database) >= TABLES
    # When a talk is stored and a later deploy applies the schema again
    connection = psycopg2.connect(empty_database)
    with connection, connection.cursor() as cursor:
        cursor.execute("INSERT INTO talks (id, title) VALUES ('kept', 'Kept across deploys')")
    connection.close()
    updated = deploy("Update", empty_database)
    # Then it succeeds without touching the data
    assert updated["Status"] == "SUCCESS", updated["Reason"]
    connection = psycopg2.connect(empty_database)
    with connection.cursor() as cursor:
        cursor.execute("SELECT title FROM talks WHERE id = 'kept'")
        assert cursor.fetchone() == ("Kept across deploys",)
    connection.close()


@contextlib.contextmanager
def reading(dsn: str, table: str) -> Iterator[Callable[[], set[int]]]:
    """A transaction that has read `table` and stays open (a relay emptying a backlog, an
    operator's psql): it holds a lock every ALTER TABLE of that table waits for. Gives the
    sessions seen queued behind it so far (waiting for a lock on the table), looked for every
    10 ms from a connection of its own: one that waits does so for the schema's lock_timeout
    (5 s), which no look misses however loaded the machine."""
    connection = psycopg2.connect(dsn)
    watcher = psycopg2.connect(dsn)
    watcher.autocommit = True
    seen: set[int] = set()
    done = threading.Event()

    def watch() -> None:
        with watcher.cursor() as cursor:
            while not done.is_set():
                cursor.execute(
                    "SELECT pid FROM pg_locks WHERE NOT granted AND relation = %s::regclass",
                    (table,),
                )
                seen.update(pid for (pid,) in cursor.fetchall())
                done.wait(0.01)

    thread = threading.Thread(target=watch, daemon=True)
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table)))
            thread.start()
            yield lambda: set(seen)
    finally:
        done.set()
        if thread.is_alive():
            thread.join(10)
        watcher.close()
        connection.rollback()
        connection.close()


@pytest.fixture
def connections_secret(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], None]]:
    """The stack's ConnectionsSecret (moto), named to SchemaFunction by its ARN only, as the
    template names it; calling it with a DSN gives the secret that TalksConnection, as
    CloudFormation does when a deploy changes the parameter."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.delenv("TALKS_CONNECTION", raising=False)
    with mock_aws():
        client = boto3.client("secretsmanager", region_name="eu-west-1")
        arn = client.create_secret(Name="talkrate/connections", SecretString="{}")["ARN"]
        monkeypatch.setenv("CONNECTIONS_SECRET_ARN", arn)

        def hold(dsn: str) -> None:
            client.put_secret_value(
                SecretId=arn,
                SecretString=json.dumps(
                    {"TALKS_CONNECTION": dsn, "RATINGS_CONNECTION": "redis://127.0.0.1:1/0"}
                ),
            )

        yield hold
    parameters.clear_caches()
    load_settings.cache_clear()


def test_a_warm_schema_function_applies_the_schema_to_the_database_the_secret_names_now(
    answers: Answers,
    connections_secret: Callable[[str], None],
    empty_database: str,
    second_database: str,
) -> None:
    # Given a stack created on one database, by a SchemaFunction environment that stays warm
    connections_secret(empty_database)
    load_settings.cache_clear()  # its cold start
    handler = load_function("schema")

    def request(request_type: str, number: int) -> dict[str, Any]:
        event = {
            "RequestType": request_type,
            "ResponseURL": answers.url,
            "StackId": "arn:aws:cloudformation:eu-west-1:123456789012:stack/talkrate/1",
            "RequestId": f"warm-{number}",
            "LogicalResourceId": "DatabaseSchema",
            "ResourceType": "Custom::DatabaseSchema",
            **({} if request_type == "Create" else {"PhysicalResourceId": PHYSICAL_ID}),
        }
        handler(event, LambdaContextStub("schema"))
        answer = answers.received[-1][1]
        assert answer["RequestId"] == event["RequestId"]
        return answer

    assert request("Create", 1)["Status"] == "SUCCESS"
    assert tables(empty_database) >= TABLES
    # When a deploy changes TalksConnection (and SchemaRun) only: the secret names another
    # database, SchemaFunction's code and configuration stay, and so does its environment
    connections_secret(second_database)
    moved = request("Update", 2)
    # Then the schema is applied to the database the secret names now (it was applied to the
    # old one again and SUCCESS reported: the new database had no table)
    assert moved["Status"] == "SUCCESS", moved["Reason"]
    assert tables(second_database) >= TABLES
    # When the next deploy's TalksConnection is mistyped (a closed port), and CloudFormation
    # rolls it back, putting the secret's earlier value back, to the same warm environment
    connections_secret("postgresql://postgres@127.0.0.1:1/talkrate")
    assert request("Update", 3)["Status"] == "FAILED"
    connections_secret(second_database)
    rolled_back = request("Update", 4)
    # Then the rollback succeeds (it failed again, on the mistyped value: UPDATE_ROLLBACK_FAILED)
    assert rolled_back["Status"] == "SUCCESS", rolled_back["Reason"]


def test_a_deploy_whose_schema_was_applied_before_waits_for_no_lock(
    deploy: Callable[[str, str], dict[str, Any]], empty_database: str
) -> None:
    # Given a stack whose schema is in place, and a long transaction that has read the outbox
    assert deploy("Create", empty_database)["Status"] == "SUCCESS"
    with reading(empty_database, "rating_outbox") as queued:
        # When a deploy that changes the code, not the schema, applies it again
        updated = deploy("Update", empty_database)
        # Then it succeeds without queueing behind the read (it waited for the lock 5 s, then
        # failed the deploy)
        assert not queued(), "the deploy waited for a lock on the outbox"
        assert updated["Status"] == "SUCCESS", updated["Reason"]


def test_a_rollback_to_an_earlier_schema_waits_for_no_lock(empty_database: str) -> None:
    # Given the schema of one version, then a later version's, which adds a column
    earlier = resources.files("talkrate").joinpath("schema.sql").read_text()
    later = earlier + "\nALTER TABLE talks ADD COLUMN IF NOT EXISTS abstract text;\n"
    assert apply_schema(empty_database, sql=earlier) is True
    assert apply_schema(empty_database, sql=later) is True
    assert apply_schema(empty_database, sql=later) is False  # nothing to do the second time
    # When the stack rolls back (CloudFormation applies the earlier file again) while a long
    # transaction has read the talks
    with reading(empty_database, "talks") as queued:
        # Then it runs nothing and waits for nothing (it waited 5 s and failed: the stack was
        # left in UPDATE_ROLLBACK_FAILED), and the later column stays for the data it holds
        try:
            applied = apply_schema(empty_database, sql=earlier)
        finally:
            assert not queued(), "the rollback waited for a lock on the talks"
        assert applied is False
    connection = psycopg2.connect(empty_database)
    with connection, connection.cursor() as cursor:
        cursor.execute("SELECT abstract FROM talks LIMIT 0")
    connection.close()


@pytest.mark.parametrize(
    "dropped",
    ["DROP TABLE dead_letters", "ALTER TABLE rating_events DROP COLUMN voter_id"],
    ids=["a table", "an added column"],
)
def test_a_schema_recorded_as_applied_is_applied_again_where_part_of_it_is_gone(
    empty_database: str, dropped: str
) -> None:
    # Given a database on the current schema, from which part was dropped by hand (or which a
    # dump from before it replaced)
    assert apply_schema(empty_database) is True
    connection = psycopg2.connect(empty_database)
    with connection, connection.cursor() as cursor:
        cursor.execute(dropped)
    connection.close()
    # When the next deploy applies the same file
    applied = apply_schema(empty_database)
    # Then it is applied again, and what was dropped is back (its record alone had the deploy
    # run nothing, and the functions fail on the missing part)
    assert applied is True
    assert tables(empty_database) >= TABLES
    connection = psycopg2.connect(empty_database)
    with connection, connection.cursor() as cursor:
        cursor.execute("SELECT voter_id FROM rating_events LIMIT 0")
    connection.close()
    # And the deploy after it runs nothing again
    assert apply_schema(empty_database) is False


def test_a_schema_changed_since_the_last_deploy_is_applied(empty_database: str) -> None:
    # Given a database on the current schema
    current = resources.files("talkrate").joinpath("schema.sql").read_text()
    apply_schema(empty_database, sql=current)
    # When a version whose schema adds a table is deployed
    assert apply_schema(
        empty_database, sql=current + "\nCREATE TABLE IF NOT EXISTS extra (id int);"
    )
    # Then the table exists
    assert "extra" in tables(empty_database)


def test_deleting_the_stack_leaves_the_database_alone(
    deploy: Callable[[str, str], dict[str, Any]], empty_database: str
) -> None:
    assert deploy("Create", empty_database)["Status"] == "SUCCESS"
    deleted = deploy("Delete", empty_database)
    assert deleted["Status"] == "SUCCESS"
    assert deleted["PhysicalResourceId"] == PHYSICAL_ID
    assert tables(empty_database) >= TABLES


def test_an_unreachable_database_fails_the_deploy_without_saying_its_password(
    deploy: Callable[[str, str], dict[str, Any]],
) -> None:
    # Given a connection string whose server does not answer (a closed loopback port)
    unreachable = "postgresql://talkrate:s3cret-pw@127.0.0.1:1/talkrate"
    # When CloudFormation creates the stack
    answer = deploy("Create", unreachable)
    # Then the deploy fails, saying why, and the password is in no answer
    assert answer["Status"] == "FAILED"
    assert answer["Reason"].startswith("DatabaseNotConnected: "), answer["Reason"]
    assert '"127.0.0.1", port 1 failed' in answer["Reason"]
    assert "s3cret-pw" not in json.dumps(answer)


def test_an_emergency_deploy_goes_on_without_the_schema_while_the_database_is_down(
    deploy: Callable[..., dict[str, Any]], empty_database: str
) -> None:
    # Given a database that does not answer (a closed loopback port)
    unreachable = "postgresql://talkrate:s3cret-pw@127.0.0.1:1/talkrate"
    # When a fix is deployed with EmergencyDeploy true (the stack updated), and without
    update = deploy("Update", unreachable, "true")
    ordinary = deploy("Update", unreachable, "false")
    # Then the emergency deploy goes on, saying the schema was not applied and what applies it
    # (it failed and rolled back, whatever the fix), and the ordinary one still fails
    assert update["Status"] == "SUCCESS", update["Reason"]
    assert update["Reason"].startswith("schema NOT applied (DatabaseNotConnected: ")
    assert "the next deploy with EmergencyDeploy false applies it" in update["Reason"]
    assert update["Data"] == {"Version": "not-applied"}
    assert ordinary["Status"] == "FAILED"
    assert "s3cret-pw" not in json.dumps([update, ordinary])
    # And a new stack's (Create) still fails, as does a connection string libpq cannot read
    assert deploy("Create", unreachable, "true")["Status"] == "FAILED"
    assert deploy("Update", UNREADABLE[0], "true")["Status"] == "FAILED"
    # And with the database answering, an emergency deploy applies the schema as any does
    applied = deploy("Update", empty_database, "true")
    assert (applied["Status"], applied["Data"]) == ("SUCCESS", {"Version": schema_version()})
    assert tables(empty_database) >= TABLES


@pytest.mark.parametrize("password", ["50%off!", "Ab/cd3f", "Ab@cd3f"])
def test_a_password_libpq_cannot_read_is_in_no_answer_nor_error(
    deploy: Callable[[str, str], dict[str, Any]], password: str
) -> None:
    # Given a connection string whose password holds what a URL must escape (libpq quotes the
    # part it could not read in its message)
    dsn = f"postgresql://talkrate:{password}@127.0.0.1:5432/talkrate"
    # When CloudFormation creates the stack, and the API's database is asked for
    answer = deploy("Create", dsn)
    with pytest.raises(BackendUnavailable) as raised:
        PostgresDatabase(dsn).run(lambda cursor: cursor.execute("SELECT 1"))
    # Then both fail, saying why, and no piece of the password is in the answer or the error
    assert answer["Status"] == "FAILED"
    told = json.dumps(answer) + repr(raised.value) + repr(raised.value.__cause__)
    assert all(piece not in told for piece in password.replace("/", "@").split("@"))


@pytest.mark.parametrize("dsn", UNREADABLE)
def test_an_unreadable_connection_string_fails_the_deploy_naming_the_forms_never_it(
    deploy: Callable[[str, str], dict[str, Any]],
    dsn: str,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a TalksConnection whose scheme lost its colon or slashes, or that has none
    caplog.clear()
    capsys.readouterr()
    # When CloudFormation creates the stack
    answer = deploy("Create", dsn)
    # Then the deploy fails, its reason naming the forms libpq reads
    assert answer["Status"] == "FAILED"
    assert answer["Reason"].startswith("OperationalError: "), answer["Reason"]
    assert all(form in answer["Reason"] for form in FORMS), answer["Reason"]
    # And nothing of the string is in the stack's events nor in the function's log
    printed = capsys.readouterr()
    told_nothing_of(dsn, f"{json.dumps(answer)}\n{caplog.text}\n{printed.out}\n{printed.err}")


def test_settings_that_cannot_be_read_are_answered_to_cloudformation(
    deploy: Callable[[str, str], dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a setting the function refuses at its cold start
    monkeypatch.setenv("PUBLISH_TIMEOUT_SECONDS", "soon")
    # When CloudFormation creates the stack
    answer = deploy("Create", "postgresql://talkrate@127.0.0.1:5432/talkrate")
    # Then it hears of the failure (rather than waiting an hour for an answer)
    assert answer["Status"] == "FAILED"
    assert "PUBLISH_TIMEOUT_SECONDS" in answer["Reason"]


@pytest.mark.parametrize(
    "dsn",
    [
        "postgresql://talkrate:s3cret-pw@127.0.0.1:1/talkrate",
        "host=127.0.0.1 port=1 user=talkrate password=s3cret-pw dbname=talkrate",
        "postgresql://127.0.0.1:1/talkrate?user=talkrate&password=s3cret-pw",
    ],
    ids=["url", "keywords", "query"],
)
def test_an_unreachable_database_is_named_by_its_address_never_its_credentials(dsn: str) -> None:
    # Given a database that does not answer (a closed loopback port)
    # When a call needs it
    with pytest.raises(BackendUnavailable) as raised:
        PostgresDatabase(dsn).run(lambda cursor: cursor.execute("SELECT 1"))
    told = str(raised.value) + repr(raised.value.__cause__)
    # Then the error names the server, so an operator sees which one failed (it said
    # 'connection to server at "***", port ***'), and neither the password nor the user
    assert '"127.0.0.1", port 1 failed' in told, told
    assert "s3cret-pw" not in told
    assert "talkrate:" not in told
