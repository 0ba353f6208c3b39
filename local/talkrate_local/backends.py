"""Which PostgreSQL, Redis and Kafka the local runtime uses, and starting the embedded ones.

For each backend, in this order:
1. configured: TALKS_CONNECTION, RATINGS_CONNECTION, STREAMS_CONNECTION;
2. found: something listens on the default localhost port (5432, 6379, 9092), unless embedded
   services are forced (--embedded, TALKRATE_LOCAL_EMBEDDED=1);
3. embedded: started by the runtime, with its data in the local data folder (talkrate_local.embedded);
   the broker is tansu in memory, kept across a killed runtime (`KeptBroker`), or forgotten at
   every stop (--broker memory), or storing into the embedded S3 server (--broker s3).
"""

from __future__ import annotations

import functools
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal, Protocol

from sam_emulator import stopwatch
from sam_emulator.background import side_by_side
from talkrate.locations import postgres_location, redis_location
from talkrate_local.broker import LocalBroker
from talkrate_local.data_lock import DataDirLock, SharedBackendLock
from talkrate_local.embedded import (
    STOP_TIMEOUT_SECONDS,
    EmbeddedKafka,
    EmbeddedPostgres,
    EmbeddedRedis,
    KeptBroker,
    ServiceError,
)

Origin = Literal["configured", "found", "embedded", "memory"]
Probe = Callable[[str, int], bool]

DEFAULT_TALKS: Final = "postgresql://postgres@127.0.0.1:5432/talkrate"
DEFAULT_RATINGS: Final = "redis://127.0.0.1:6379/0"
DEFAULT_STREAMS: Final = "127.0.0.1:9092"


@dataclass(frozen=True)
class _Backend:
    name: str
    variable: str
    default: str
    port: int


BACKENDS: Final = (
    _Backend("talks", "TALKS_CONNECTION", DEFAULT_TALKS, 5432),
    _Backend("ratings", "RATINGS_CONNECTION", DEFAULT_RATINGS, 6379),
    _Backend("streams", "STREAMS_CONNECTION", DEFAULT_STREAMS, 9092),
)


@dataclass(frozen=True)
class Choice:
    """Where one backend comes from; `connection` is empty until an embedded one is started."""

    name: str
    origin: Origin
    connection: str = ""
    reason: str = ""


def listening(host: str, port: int) -> bool:
    """Whether something accepts TCP connections on host:port (within 0.3 s)."""
    try:
        with socket.create_connection((host, port), timeout=0.3):
            return True
    except OSError:
        return False


def choose(
    environ: Mapping[str, str],
    force_embedded: bool = False,
    memory_broker: bool = False,
    probe: Probe = listening,
) -> dict[str, Choice]:
    """Decide, for talks, ratings and streams, between configured, found and embedded."""
    choices: dict[str, Choice] = {}
    for backend in BACKENDS:
        configured = environ.get(backend.variable)
        if configured:
            choices[backend.name] = Choice(
                backend.name, "configured", configured, f"from {backend.variable}"
            )
        elif not force_embedded and probe("127.0.0.1", backend.port):
            choices[backend.name] = Choice(
                backend.name,
                "found",
                backend.default,
                f"something listens on 127.0.0.1:{backend.port}",
            )
        elif backend.name == "streams" and memory_broker:
            choices[backend.name] = Choice(backend.name, "memory", reason="tansu, in memory")
        else:
            choices[backend.name] = Choice(backend.name, "embedded")
    return choices


class _Service(Protocol):
    folder: Path
    fresh: bool

    @property
    def connection(self) -> str: ...

    @property
    def running(self) -> bool: ...

    def start(self) -> None: ...

    def close(self, within: float) -> None: ...

    def abandon(self) -> None: ...


@dataclass
class Backends:
    """The chosen backends, with the embedded ones started (`start`) and stopped (`stop`)."""

    choices: dict[str, Choice]
    data_dir: Path
    s3_broker: bool = False  # tansu storing into the embedded S3 server instead of memory
    topics: tuple[str, ...] = ()  # what the Kafka mappings read: the offsets kept per topic
    services: dict[str, _Service] = field(default_factory=dict)
    memory_broker: LocalBroker | None = None
    lock: DataDirLock | None = None
    shared_locks: list[SharedBackendLock] = field(default_factory=list)

    @property
    def talks(self) -> str:
        """PostgreSQL DSN of the catalog."""
        return self.choices["talks"].connection

    @property
    def ratings(self) -> str:
        """Redis URL of the read model."""
        return self.choices["ratings"].connection

    @property
    def streams(self) -> str:
        """Kafka bootstrap servers."""
        return self.choices["streams"].connection

    @property
    def broker_is_new(self) -> bool:
        """Whether the broker's storage started empty (its topics begin again at offset 0)."""
        if self.memory_broker is not None:
            return True
        kafka = self.services.get("streams")
        return bool(kafka is not None and kafka.fresh)

    def claim_data_dir(self) -> None:
        """Take the data folder when an embedded backend keeps its data there, or raise
        DataDirInUse; with a broker of our own, take the PostgreSQL and Redis others can find
        too, or raise SharedBackendInUse. Before anything else: the services of a runtime still
        running on this folder would otherwise be taken for a killed run's leftovers and
        stopped."""
        if self.lock is None and any(c.origin == "embedded" for c in self.choices.values()):
            lock = DataDirLock(self.data_dir)
            lock.acquire()
            self.lock = lock
        # A broker of our own beside a PostgreSQL or Redis another runtime can find too: its
        # offsets begin at 0 as that runtime's broker's do, kept per topic in one read model.
        # One such runtime per database and topic (SharedBackendInUse otherwise).
        private = self.choices["streams"].origin in ("embedded", "memory")
        if self.shared_locks or not private or not self.topics:
            return
        where = {"talks": postgres_location, "ratings": redis_location}
        try:
            for name, locate in where.items():
                choice = self.choices[name]
                if choice.origin in ("configured", "found"):
                    claim = SharedBackendLock(
                        choice.connection, locate(choice.connection), self.topics
                    )
                    claim.acquire()
                    self.shared_locks.append(claim)
        except BaseException:
            self.stop()  # nothing started yet: what was claimed is let go
            raise

    def start(self) -> None:
        """Start every embedded backend, concurrently; on a failure, stop those that started."""
        factories: dict[str, Callable[[Path], _Service]] = {
            "talks": EmbeddedPostgres,
            "ratings": EmbeddedRedis,
            "streams": EmbeddedKafka if self.s3_broker else KeptBroker,
        }
        folders = {"talks": "postgres", "ratings": "redis", "streams": "kafka"}
        wanted = [name for name, choice in self.choices.items() if choice.origin == "embedded"]
        self.claim_data_dir()
        for name in wanted:
            self.services[name] = factories[name](self.data_dir / folders[name])
        errors: dict[str, BaseException] = {}

        def start(name: str) -> None:
            try:
                self.services[name].start()
            except BaseException as error:  # reported together below
                errors[name] = error

        side_by_side({f"start-{name}": functools.partial(start, name) for name in wanted})
        if self.choices["streams"].origin == "memory" and not errors:
            self.memory_broker = LocalBroker()
            try:
                self.memory_broker.start()
            except BaseException as error:
                errors["streams"] = error
        if errors:
            # A broker taken over from a killed run may hold ratings answered 202 and not
            # stored yet: it stays up for the next start, as a stop that could not tell keeps
            # it (closed here, a PostgreSQL that would not start lost them for good).
            kept = self.kept_broker
            taken_over = kept is not None and "streams" not in errors and not kept.fresh
            self.stop(keep_broker=lambda: taken_over)
            details = "\n".join(f"{name}: {error}" for name, error in errors.items())
            if taken_over:
                details += (
                    "\n(the broker taken over is left running, with any rating it holds not "
                    "stored yet: the next start takes it over again)"
                )
            raise ServiceError(f"could not start the embedded services:\n{details}")
        for name, service in self.services.items():
            age = "new" if service.fresh else "kept"
            if isinstance(service, KeptBroker):
                age = "new, in memory" if service.fresh else "taken over, in memory"
            self.choices[name] = Choice(
                name, "embedded", service.connection, f"{_display(service.folder)}, {age}"
            )
        if self.memory_broker is not None:
            self.choices["streams"] = Choice(
                "streams", "memory", self.memory_broker.bootstrap, "tansu, in memory"
            )

    @property
    def kept_broker(self) -> KeptBroker | None:
        """The embedded in-memory broker that outlives a killed runtime, if that is the broker."""
        service = self.services.get("streams")
        return service if isinstance(service, KeptBroker) else None

    def stop(
        self, keep_broker: Callable[[], bool] | None = None, within: float = STOP_TIMEOUT_SECONDS
    ) -> None:
        """Stop what was started, all at once (the broker before the storage it writes to),
        killing a server that has not stopped within `within` seconds; when `keep_broker` says
        so (asked beside the other servers' shutdown: it may take a while), the kept broker
        stays up for the next start to take over."""
        if self.memory_broker is not None:
            self.memory_broker.stop()
            self.memory_broker = None
        side_by_side(
            {
                f"stop-{name}": (
                    functools.partial(self._close_broker, service, within, keep_broker)
                    if name == "streams"
                    else functools.partial(_close, name, service, within)
                )
                for name, service in self.services.items()
            }
        )
        self.services.clear()
        if self.lock is not None:
            self.lock.release()
            self.lock = None
        for claim in self.shared_locks:
            claim.release()
        self.shared_locks.clear()

    def _close_broker(
        self, service: _Service, within: float, keep: Callable[[], bool] | None
    ) -> None:
        deadline = time.monotonic() + within
        kept = self.kept_broker
        if kept is not None and keep is not None and keep():
            kept.keep_running()
            stopwatch.step("broker kept running")
            return
        _close("streams", service, max(0.0, deadline - time.monotonic()))

    def abandon(self) -> None:
        """Ask every server to stop, waiting for nothing (a kept broker stays up)."""
        if self.memory_broker is not None:
            self.memory_broker.abandon()
        for service in self.services.values():
            service.abandon()


def _close(name: str, service: _Service, within: float) -> None:
    service.close(within)
    stopwatch.step(f"{name} stopped ({within:.2f} s given)")


def _display(folder: Path) -> str:
    cwd = Path.cwd()
    path = folder.resolve()
    return str(path.relative_to(cwd)) if path.is_relative_to(cwd) else str(path)
