"""Watching the embedded services while the runtime runs.

PostgreSQL or Redis that stops on its own (killed, crashed, out of memory) is started again on
its port with its data, which is where the functions were told to find it. So is the broker, on
its port, a few tries apart: tansu in memory comes back new and empty (what the projector had
not stored is gone with the old one; the read model forgets the old offsets first), tansu on the
embedded S3 server comes back with its records. The outbox's ratings are published then.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Final, Protocol

from sam_emulator.console import console
from talkrate_local.backends import Backends
from talkrate_local.embedded import ChildService, ServiceError

CHECK_SECONDS: Final = 2.0
# A broker that will not start again is tried this many times in all, this far apart.
BROKER_TRIES: Final = 3
BROKER_TRY_PAUSE_SECONDS: Final = 1.0


class _Broker(Protocol):
    port: int

    @property
    def running(self) -> bool: ...

    @property
    def exit_status(self) -> int | None: ...

    @property
    def keeps_records(self) -> bool: ...

    def restart(self) -> None: ...


class Watchdog:
    """Checks the embedded services every CHECK_SECONDS on a thread of its own."""

    def __init__(
        self,
        backends: Backends,
        restarted: Callable[[str], None] = lambda _: None,
        every: float = CHECK_SECONDS,
        renewing: Callable[[str], None] = lambda _: None,
    ) -> None:
        self._backends = backends
        self._restarted = restarted  # called with the backend's name once it is back
        self._renewing = renewing  # called before a broker that keeps no records starts anew
        self._every = every
        self._given_up: set[str] = set()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Begin checking (a daemon thread: it never holds the runtime up)."""
        self._thread = threading.Thread(target=self._run, name="watchdog", daemon=True)
        self._thread.start()

    def stop(self, within: float = 1.0) -> None:
        """Stop checking, before the services are stopped on purpose; a restart still under
        way after `within` seconds is left to fail (the services refuse to start once stopped
        for good)."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=within)
            self._thread = None

    def abandon(self) -> None:
        """Stop checking, waiting for nothing."""
        self._stopping.set()

    def _run(self) -> None:
        while not self._stopping.wait(self._every):
            self.check()

    def check(self) -> None:
        """One look at every embedded service: start a stopped one again."""
        for name, service in list(self._backends.services.items()):
            if name in self._given_up or self._stopping.is_set():
                continue
            if isinstance(service, ChildService):
                self._restart_if_stopped(name, service)
            elif not service.running:
                self._restart_broker(name, service)  # type: ignore[arg-type]
        memory = self._backends.memory_broker
        if memory is not None and "streams" not in self._given_up and not memory.running:
            self._given_up.add("streams")
            console(
                f"[runtime] the broker (--broker memory) stopped on its own (its log: "
                f"{memory.log_path}): ratings wait in the outbox until `make run` is started "
                "again"
            )

    def _restart_if_stopped(self, name: str, service: ChildService) -> None:
        if service.running:
            return
        status = service.exit_status
        console(
            f"[runtime] embedded {service.name} stopped on its own (exit status {status}); "
            f"starting it again on port {service.port} with its data"
        )
        try:
            service.restart()
        except (ServiceError, OSError) as error:
            self._given_up.add(name)
            console(
                f"[runtime] could not start {service.name} again: {error}\n"
                f"[runtime] {name} stays down until `make run` is started again"
            )
            return
        console(f"[runtime] embedded {service.name} is back on port {service.port}")
        if self._stopping.is_set():
            return  # the runtime stops meanwhile: no rebuild to cut off under it
        self._restarted(name)

    def _restart_broker(self, name: str, broker: _Broker) -> None:
        kept = broker.keeps_records
        console(
            f"[runtime] the embedded broker stopped on its own (exit status "
            f"{broker.exit_status}); starting it again on port {broker.port}"
            + (
                " with its records"
                if kept
                else ", new and empty: records on it the projector had not stored are gone"
            )
        )
        if not kept:
            # Before any record reaches the new broker: its offsets start again at 0.
            self._renewing(name)
        error: Exception | None = None
        for attempt in range(1, BROKER_TRIES + 1):
            if self._stopping.is_set():
                return
            try:
                broker.restart()
            except (ServiceError, OSError) as failure:
                error = failure
                console(f"[runtime] broker start {attempt} of {BROKER_TRIES} failed: {failure}")
                if self._stopping.wait(BROKER_TRY_PAUSE_SECONDS * attempt):
                    return
                continue
            console(
                f"[runtime] the embedded broker is back on port {broker.port}; ratings kept "
                "in the outbox meanwhile are published now"
            )
            if not self._stopping.is_set():
                self._restarted(name)
            return
        self._given_up.add(name)
        console(
            f"[runtime] could not start the broker again ({BROKER_TRIES} tries; last: {error}); "
            "ratings wait in the outbox until `make run` is started again"
        )
