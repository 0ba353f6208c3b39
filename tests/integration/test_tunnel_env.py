"""`talkrate ops` through port forwards, as docs/operations.md tells an operator to run it when
the stack's PostgreSQL and Redis are in a VPC: the environment scripts/tunnel_env.py prints
from the connections secret, eval'd in a shell, against the real servers behind a local TCP
forward standing in for each SSM Session Manager session (which listens on 127.0.0.1 and
connects to the host it was given)."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest
import redis
from psycopg2.extensions import parse_dsn

from sam_emulator.serving import free_port
from talkrate.adapters.redis_store import connect
from tests.backends import own_redis
from tests.builders import ROOT
from tests.tls_redis import tls_redis

pytestmark = pytest.mark.integration

SCRIPT = ROOT / "scripts" / "tunnel_env.py"
# Names the operator's machine cannot resolve, as a VPC's private endpoints are to it.
DATABASE_HOST = "db.talkrate.invalid"
CACHE_HOST = "cache.talkrate.invalid"


class Forward:
    """127.0.0.1:`port` forwarded to `target`, a connection at a time on threads; counts them."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.accepted = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                viewer, _ = self.listener.accept()
            except OSError:
                return
            self.accepted += 1
            upstream = socket.create_connection(self.target)
            for a, b in ((viewer, upstream), (upstream, viewer)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def forwards() -> Iterator[list[Forward]]:
    opened: list[Forward] = []
    yield opened
    for forward in opened:
        forward.close()


def operator_shell(
    secret: dict[str, str], ports: tuple[int, int], command: str
) -> subprocess.CompletedProcess[str]:
    """`command` run in a shell that eval'd the script's output for `secret` (piped in, as from
    `aws secretsmanager get-secret-value`), its AWS calls going nowhere: with
    CONNECTIONS_SECRET_ARN left set, talkrate would ask Secrets Manager and fail."""
    environment = {
        **os.environ,
        "CONNECTIONS_SECRET_ARN": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:Connections",
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "eu-west-1",
    }
    environment.pop("TALKS_CONNECTION", None)
    environment.pop("RATINGS_CONNECTION", None)
    script = (
        f'eval "$({sys.executable} {SCRIPT} --postgres-port {ports[0]} --redis-port {ports[1]})" '
        f"&& {command}"
    )
    return subprocess.run(
        ["bash", "-c", script],
        input=json.dumps(secret),
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def stack_secret(talks_dsn: str, ratings: str) -> dict[str, str]:
    """The connections secret of a stack whose database and cache have private names."""
    named = parse_dsn(talks_dsn)
    port = named.get("port", "5432")
    talks = (
        f"postgresql://{named['user']}@{DATABASE_HOST}:{port}/{named['dbname']}?connect_timeout=5"
    )
    return {"TALKS_CONNECTION": talks, "RATINGS_CONNECTION": ratings}


def test_a_rebuild_reaches_the_stack_s_database_and_cache_through_the_forwards(
    configure: object, talks_dsn: str, forwards: list[Forward]
) -> None:
    # Given the stack's secret naming its database and cache by names only the VPC resolves
    # (a cache of its own, new: the session's read model holds the topics of the files run
    # before, maybe not RATINGS_TOPIC's, which the rebuild refuses as another stack's)
    server = redis.Redis.from_url(own_redis("tunnel")).connection_pool.connection_kwargs
    cache = f"redis://{CACHE_HOST}:{server['port']}/{server['db']}"
    secret = stack_secret(talks_dsn, cache)
    # And a forward open for each, as the two sessions the guide opens
    named = parse_dsn(talks_dsn)
    database = Forward((named.get("host", "127.0.0.1"), int(named.get("port", "5432"))))
    read_model = Forward((server["host"], server["port"]))
    forwards += [database, read_model]
    # When the operator evals the script's lines and rebuilds the read model
    ran = operator_shell(
        secret,
        (database.port, read_model.port),
        f"{sys.executable} -m talkrate_cli ops rebuild && "
        f"{sys.executable} -m talkrate_cli ops dead-letters > /dev/null",
    )
    # Then both commands work, on the database under its own name, through the forwards
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert f"rebuild: from postgresql://{DATABASE_HOST}:" in ran.stdout, ran.stdout
    assert database.accepted >= 2  # the rebuild's and the listing's connections
    assert read_model.accepted >= 1


@pytest.fixture
def tls_cache(tmp_path: Path) -> Iterator[tuple[int, Path, Path]]:
    """A Redis server speaking only TLS, its certificate issued to CACHE_HOST by an authority of
    the test's own: its port, that authority's certificate and another authority's."""
    with tls_redis(tmp_path, CACHE_HOST, f"DNS:{CACHE_HOST}") as served:
        yield served


def _environment(secret: dict[str, str], ports: tuple[int, int]) -> dict[str, str]:
    """The variables the script's lines export."""
    ran = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--postgres-port",
            str(ports[0]),
            "--redis-port",
            str(ports[1]),
        ],
        input=json.dumps(secret),
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    shown = subprocess.run(
        [
            "bash",
            "-c",
            'eval "$(cat)" && printf "%s\\n%s" "$TALKS_CONNECTION" "$RATINGS_CONNECTION"',
        ],
        input=ran.stdout,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    talks, ratings = shown.stdout.split("\n")
    return {"TALKS_CONNECTION": talks, "RATINGS_CONNECTION": ratings}


def test_a_tls_cache_is_reached_through_its_forward_with_its_certificate_chain_checked(
    tls_cache: tuple[int, Path, Path], forwards: list[Forward]
) -> None:
    # Given a cache speaking TLS only (as ElastiCache with encryption in transit), named by a
    # certificate of its own name, and the forward to it
    port, authority, other = tls_cache
    forward = Forward(("127.0.0.1", port))
    forwards.append(forward)
    secret = {
        "TALKS_CONNECTION": f"postgresql://talkrate@{DATABASE_HOST}:5432/talkrate",
        "RATINGS_CONNECTION": f"rediss://{CACHE_HOST}:{port}/0?ssl_ca_certs={authority}",
    }
    # When the read model is opened with the URL the script exports
    url = _environment(secret, (free_port(), forward.port))["RATINGS_CONNECTION"]
    client = connect(url, socket_timeout=5)
    # Then it speaks TLS to the cache through the forward (redis-py cannot check the name it did
    # not connect to: the script turns that check off, and only that)
    assert client.ping() is True
    client.close()
    assert forward.accepted == 1
    # And the certificate's chain is still checked: one of another authority is refused
    with pytest.raises(redis.ConnectionError):
        connect(_with(url, ssl_ca_certs=str(other)), socket_timeout=5).ping()
    # (and without the script's change the name check refuses the forward: 127.0.0.1 is not
    # the name the certificate carries)
    with pytest.raises(redis.ConnectionError):
        connect(_with(url, ssl_check_hostname=None), socket_timeout=5).ping()


def _with(url: str, **query: str | None) -> str:
    """The URL with those query values set (None: removed)."""
    parts = urlsplit(url)
    values = dict(parse_qsl(parts.query)) | query
    kept = {name: value for name, value in values.items() if value is not None}
    return urlunsplit(parts._replace(query=urlencode(kept)))
