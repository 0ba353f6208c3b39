"""What an operator's command says of a database it cannot use: the server, never the password.

Every way a connection string can hold its password that libpq reads in pieces (a space in the
keyword form, quotes and backslashes, an unencoded `&`, `@`, `/` or `%` in a URL) is tried
against a real server refusing it (a database or a user it does not have) and a closed port.
Likewise the stream: Kafka bootstrap servers whose password holds what separates their entries
(a `,`), a user from a host (`@`), a scheme (`://`) or a path (`/`), named by `ops replay` at a
closed port and by GET /.
"""

from __future__ import annotations

import json
import logging
import re
import traceback
from collections.abc import Callable

import pytest

from sam_emulator.serving import free_port
from talkrate import wiring
from talkrate.adapters.postgres import PostgresDatabase
from talkrate.errors import BackendUnavailable
from talkrate_cli.main import main
from tests.builders import LambdaContextStub, load_function, sample_event
from tests.integration.conftest import Call
from tests.integration.test_kafka_publisher import consume_all

pytestmark = pytest.mark.integration

# (how the password is written in the string, what its writer meant it to be, the form)
KEYWORDS = "host=127.0.0.1 port={port} user={user} password={password} dbname={database}"
QUERY = "postgresql://127.0.0.1:{port}/{database}?user={user}&password={password}"
QUERY_THEN = QUERY + "&connect_timeout=5"
USERINFO = "postgresql://{user}:{password}@127.0.0.1:{port}/{database}"
OTHER_SCHEME = "postgres2://{user}:{password}@127.0.0.1:{port}/{database}"
FORMS = {
    "quoted-spaces": (KEYWORDS, "'Qx7 zK9 wJ4'", "Qx7 zK9 wJ4"),
    "quoted-escapes": (KEYWORDS, r"'Qx7\'zK9\\wJ4 vB2'", r"Qx7'zK9\wJ4 vB2"),
    "unquoted-spaces": (KEYWORDS, "Qx7 zK9 wJ4", "Qx7 zK9 wJ4"),
    "unquoted-space-equals": (KEYWORDS, "Qx7 zK9=wJ4", "Qx7 zK9=wJ4"),
    "unquoted-escapes": (KEYWORDS, r"Qx7\ zK9\'wJ4", "Qx7 zK9'wJ4"),
    "unterminated-quote": (KEYWORDS, "'Qx7 zK9 wJ4", "Qx7 zK9 wJ4"),
    "double-quote-space": (KEYWORDS, 'Qx7"zK9 wJ4', 'Qx7"zK9 wJ4'),
    "query-ampersand": (QUERY, "Qx7&zK9wJ4", "Qx7&zK9wJ4"),
    "query-ampersand-then": (QUERY_THEN, "Qx7&zK9wJ4", "Qx7&zK9wJ4"),
    "query-ampersand-equals": (QUERY, "Qx7&zK9=wJ4", "Qx7&zK9=wJ4"),
    "query-two-equals": (QUERY, "Qx7&zK9=wJ4=vB2", "Qx7&zK9=wJ4=vB2"),
    "query-as-port": (QUERY, "Qx7&port=29wJ4", "Qx7&port=29wJ4"),
    "query-as-host": (QUERY, "Qx7&host=zK9wJ4", "Qx7&host=zK9wJ4"),
    "query-as-database": (QUERY, "Qx7&dbname=zK9wJ4", "Qx7&dbname=zK9wJ4"),
    # libpq takes what follows for the user, which the server names: masked as the password's
    "query-as-user": (QUERY, "Qx7&user=zK9wJ4", "Qx7&user=zK9wJ4"),
    "unquoted-space-as-user": (KEYWORDS, "Qx7 user=zK9wJ4", "Qx7 user=zK9wJ4"),
    "query-spaces": (QUERY, "Qx7 zK9 wJ4", "Qx7 zK9 wJ4"),
    "query-percent": (QUERY, "Qx7%zK9wJ4", "Qx7%zK9wJ4"),
    "userinfo-at": (USERINFO, "Qx7@zK9wJ4", "Qx7@zK9wJ4"),
    "userinfo-slash": (USERINFO, "Qx7/zK9wJ4", "Qx7/zK9wJ4"),
    "userinfo-digits-slash": (USERINFO, "2929/Qx7zK9", "2929/Qx7zK9"),
    "userinfo-double-quote": (USERINFO, 'Qx7"zK9@wJ4', 'Qx7"zK9@wJ4'),
    "userinfo-percent": (USERINFO, "Qx7%zzK9wJ4", "Qx7%zzK9wJ4"),
    "userinfo-query": (USERINFO, "Qx7?zK9=wJ4&vB2", "Qx7?zK9=wJ4&vB2"),
    "other-scheme": (OTHER_SCHEME, "Qx7zK9wJ4", "Qx7zK9wJ4"),
}


def slices(*texts: str) -> set[str]:
    """Every three characters of each text, but for a setting's name in it ("host" of
    "&host=", which libpq's own messages say anyway)."""
    setting = r"(?<=[& ])(?:host|port|dbname|user)(?==)"
    parts = [part for text in texts for part in re.split(setting, text)]
    return {part[i : i + 3] for part in parts for i in range(len(part) - 2)}


@pytest.fixture(params=["closed-port", "no-such-database", "no-such-user"])
def server(request: pytest.FixtureRequest) -> dict[str, str]:
    """A place the connection fails: a port nothing listens on, or the real server asked for a
    database, or a user, it does not have."""
    if request.param == "closed-port":
        return {"port": str(free_port()), "user": "postgres", "database": "talkrate"}
    if request.param == "no-such-database":
        return {"port": "5432", "user": "postgres", "database": "talkrate_not_here"}
    return {"port": "5432", "user": "nobody_here", "database": "postgres"}


@pytest.fixture
def operate(
    monkeypatch: pytest.MonkeyPatch, redis_url: str, capsys: pytest.CaptureFixture[str]
) -> Callable[[str], tuple[int, str]]:
    """`talkrate ops rebuild` against the database `dsn`: its exit status and all it printed."""

    def run(dsn: str) -> tuple[int, str]:
        monkeypatch.setenv("TALKS_CONNECTION", dsn)
        monkeypatch.setenv("RATINGS_CONNECTION", redis_url)
        monkeypatch.delenv("CONNECTIONS_SECRET_ARN", raising=False)
        wiring.reset()
        capsys.readouterr()
        status = main(["ops", "rebuild"])
        said = capsys.readouterr()
        wiring.reset()
        return status, said.out + said.err

    return run


@pytest.mark.parametrize("form", FORMS)
def test_no_piece_of_a_password_is_said_however_it_is_written(
    form: str, server: dict[str, str], operate: Callable[[str], tuple[int, str]]
) -> None:
    # Given a connection string holding the password in this form, naming a server that fails
    template, written, meant = FORMS[form]
    dsn = template.format(password=written, **server)
    # When the operator's command needs the database, and the adapter is asked directly
    status, said = operate(dsn)
    with pytest.raises(BackendUnavailable) as raised:
        PostgresDatabase(dsn).run(lambda cursor: cursor.execute("SELECT 1"))
    told = f"{said}\n{raised.value}\n{raised.value.__cause__!r}\n{raised.value.__context__!r}"
    # (the read model's address, which the command names, is not the password's string: its
    # port, a free one, once held "29/" of "2929/Qx7zK9")
    told = re.sub(r"redis://\S+", "redis://…", told)
    # Then it fails in one line saying why, and no three characters of the password are in it
    assert status == 1
    assert "PostgreSQL" in said, said
    leaked = sorted(piece for piece in slices(written, meant) if piece in told)
    assert not leaked, (leaked, told)


@pytest.mark.parametrize(
    "form",
    ["quoted-spaces", "quoted-escapes", "unquoted-escapes", "query-spaces", "userinfo-query"],
)
def test_the_server_that_failed_is_still_named(
    form: str, server: dict[str, str], operate: Callable[[str], tuple[int, str]]
) -> None:
    # Given a password libpq reads whole, on a server that fails
    template, written, _ = FORMS[form]
    dsn = template.format(password=written, **server)
    # When the operator's command needs it
    _, said = operate(dsn)
    # Then it says where it reads from and which server failed (the host and port are no secret)
    assert f"from postgresql://127.0.0.1:{server['port']}/{server['database']}" in said, said
    assert f'"127.0.0.1", port {server["port"]} failed' in said, said
    # And whom it refused, the user named as the database is (it read 'role "***"')
    if server["user"] == "nobody_here":
        assert 'role "nobody_here" does not exist' in said, said


# Bootstrap servers (a closed port's) whose user and password a "," splits into entries, where
# the pieces before it read as a host and a port: (the servers, the user and password)
STREAMS = {
    "comma": ("SASL_SSL://{credentials}@127.0.0.1:{port}", "svc7q:2929,Qx7zK9"),
    "comma-no-scheme": ("{credentials}@127.0.0.1:{port}", "svc7q:2929,Qx7zK9"),
    "comma-second-entry": (
        "127.0.0.1:{port},SASL_SSL://{credentials}@127.0.0.1:{port}",
        "svc7q:2929,Qx7zK9",
    ),
    "commas": ("SASL_SSL://{credentials}@127.0.0.1:{port}", "svc7q:29,29,Qx7zK9"),
    "comma-at": ("SASL_SSL://{credentials}@127.0.0.1:{port}", "svc7q:Qx7@zK9,wJ4"),
    "comma-scheme": ("SASL_SSL://{credentials}@127.0.0.1:{port}", "svc7q:2929,ssl://Qx7zK9"),
    "comma-slash": ("SASL_SSL://{credentials}@127.0.0.1:{port}", "svc7q:2929,Qx7/zK9"),
}


@pytest.mark.parametrize("form", STREAMS)
def test_no_piece_of_a_stream_password_is_said_however_it_is_written(
    form: str,
    configure: Callable[..., None],
    api: Call,
    topic: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given the stream's bootstrap servers holding a user and password in this form, at a port
    # no broker listens on
    template, credentials = STREAMS[form]
    configure(STREAMS_CONNECTION=template.format(credentials=credentials, port=free_port()))
    capsys.readouterr()
    # When the operator replays from it, and GET / says where the stream is
    status = main(
        ["ops", "replay", "--topic", topic, "--partition", "0", "--first", "0", "--last", "0"]
    )
    said = capsys.readouterr()
    response = api("GET", "/")
    # Then the replay fails in one line naming Kafka (unreachable, or an entry kafka-python
    # cannot read: `SASL_SSL://svc7q:Qx7@zK9` has a port that is no number), and GET / answers
    [line] = said.err.strip().splitlines()
    assert status == 1
    assert line.startswith("talkrate: Kafka at (not shown: unparseable) "), line
    assert response["statusCode"] == 200
    assert response["json"]["metadata"]["streams"] == "(not shown: unparseable)"
    # And no three characters of the user and password are in either (the closed port, which
    # they name, is no piece of them; nor is a "://", which every URL says)
    # (nor is the test's topic, whose random hex may hold any three of the password's digits)
    told = re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:…", said.out + said.err + response["body"])
    told = told.replace(topic, "ratings-test-…")
    leaked = sorted(piece for piece in slices(*credentials.split("://")) if piece in told)
    assert not leaked, (leaked, told)


# Bootstrap servers no Kafka client can be built from, at the real broker: (the servers, the
# user and password they hold)
MALFORMED_STREAMS = {
    # kafka-python reads `svc7q:Qx7zK9wJ4` as a host and a port, and quotes the port
    "credentials-no-port": ("{credentials}@127.0.0.1", "svc7q:Qx7zK9wJ4"),
    # the password's "," splits it into entries: `SASL_SSL://svc7q:2929`, `Qx7zK9@127.0.0.1:…`
    "credentials-comma": ("SASL_SSL://{credentials}@{bootstrap}", "svc7q:2929,Qx7zK9"),
    # no credentials, but no host:port either
    "path": ("{bootstrap}/ratings", ""),
}


# A record's own attributes (its time, thread, process), which say nothing a test logged
RECORD_ATTRIBUTES = set(vars(logging.makeLogRecord({})))
# What changes from run to run and may hold any three digits: ids, times, ages
CHANGING = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
    r"|\d{4}-\d\d-\d\d[ T][\d:.,]+(?:\+\d{4})?|\"oldestSeconds\": ?[\d.e-]+"
    # a clock's reading in a record (EMF's Timestamp in ms, `created`), a float's digits: a
    # "29," at the end of one is no piece of a password's "2929,"
    r"|\d{10,}(?:\.\d+)?|\d+\.\d+(?:e-?\d+)?"
)


def said_in_logs(caplog: pytest.LogCaptureFixture) -> str:
    """Every log record's message, fields and traceback."""
    return "\n".join(
        record.getMessage()
        + repr({k: v for k, v in vars(record).items() if k not in RECORD_ATTRIBUTES})
        + ("".join(traceback.format_exception(*record.exc_info)) if record.exc_info else "")
        for record in caplog.records
    )


@pytest.mark.parametrize("form", MALFORMED_STREAMS)
def test_a_rating_sent_to_a_stream_no_client_can_be_built_for_is_kept_and_relayed_later(
    form: str,
    configure: Callable[..., None],
    api: Call,
    talk: str,
    kafka_bootstrap: str,
    topic: str,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given bootstrap servers no Kafka client can be built from (a user and password in them)
    template, credentials = MALFORMED_STREAMS[form]
    configure(
        STREAMS_CONNECTION=template.format(credentials=credentials, bootstrap=kafka_bootstrap),
        PUBLISH_TIMEOUT_SECONDS="1",
    )
    caplog.set_level(logging.DEBUG)
    capsys.readouterr()
    # When a rating is posted, GET / asked, the relay runs and the operator relays
    posted = api("POST", "/ratings", body=json.dumps({"talkId": talk, "value": 4}))
    root = api("GET", "/")
    relay = load_function("relay")
    run = relay(sample_event("relay/schedule.json"), LambdaContextStub("relay", 24_000))
    status = main(["ops", "relay"])
    printed = capsys.readouterr()
    # Then the rating is accepted as a stream that is down makes it: kept in the outbox
    assert posted["statusCode"] == 202, posted["body"]
    assert posted["json"]["status"] == "queued"
    assert root["statusCode"] == 200
    assert root["json"]["backends"]["streams"] == "down"
    assert run["streamFailed"] is True
    # And the API's log says why, naming the setting; the operator's command says one line
    [why] = [
        str(getattr(record, "error", ""))
        for record in caplog.records
        if record.getMessage().startswith("stream unavailable")
    ]
    assert "STREAMS_CONNECTION" in why, why
    assert status == 1
    [line] = printed.err.strip().splitlines()
    # (said before anything is taken: asked whether the projector consumes the topic, the
    # broker cannot be)
    # ("Kafka at … cannot be asked: STREAMS_CONNECTION …" where it holds no '@')
    assert line.startswith("talkrate: relay: nothing published: "), line
    assert "STREAMS_CONNECTION" in line, line
    # And no three characters of the user and password are said anywhere
    answers = [posted["body"], root["body"], json.dumps(run)]
    told = "\n".join([*answers, said_in_logs(caplog), printed.out, printed.err])
    told = CHANGING.sub("…", told.replace(topic, "ratings-test-…"))
    leaked = sorted(piece for piece in slices(*credentials.split("://")) if piece in told)
    assert not leaked, (leaked, told)
    # And once the setting is mended, the relay publishes the rating (never lost)
    configure()
    run = relay(sample_event("relay/schedule.json"), LambdaContextStub("relay", 24_000))
    assert run["pending"] == 0
    relayed = consume_all(kafka_bootstrap, topic, run["published"])
    assert posted["json"]["eventId"] in [json.loads(value)["eventId"] for _, value in relayed]


# A user longer than the 63 bytes PostgreSQL keeps of a role's name, which its password holds
LONG_USER = "conference_ratings_service_account_for_the_eu_region_production_x"


@pytest.mark.parametrize("template", [USERINFO, KEYWORDS], ids=["url", "keywords"])
def test_a_long_user_its_password_holds_is_not_named_by_its_first_63_bytes(
    template: str, operate: Callable[[str], tuple[int, str]]
) -> None:
    # Given a login the real server does not know, whose password starts with its user
    dsn = template.format(
        user=LONG_USER, password=f"{LONG_USER}-Qx7zK9", port="5432", database="postgres"
    )
    # When the operator's command needs the database, and the adapter is asked directly
    status, said = operate(dsn)
    with pytest.raises(BackendUnavailable) as raised:
        PostgresDatabase(dsn).run(lambda cursor: cursor.execute("SELECT 1"))
    told = f"{said}\n{raised.value}"
    # Then the server's refusal is said with the role masked where it names it (cut to 63
    # bytes, the password's first 63 characters), and no stretch of the user is said
    assert status == 1
    assert 'role "***" does not exist' in said, said
    assert 'role "***" does not exist' in str(raised.value)
    assert not [
        LONG_USER[i : i + 8] for i in range(len(LONG_USER) - 7) if LONG_USER[i : i + 8] in told
    ]
