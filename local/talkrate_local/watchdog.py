"""Watching the embedded services while the runtime runs.

PostgreSQL or Redis that stops on its own (killed, crashed, out of memory) is started again on
its port with its data, which is where the functions were told to find it. A broker that stops
is reported once: its records live in its memory, so what the projector had not stored is gone,
and a new broker (new offsets) is what a new start of the runtime is for.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from sam_emulator.console import console
from talkrate_local.backends import Backends
from talkrate_local.embedded import ChildService, ServiceError

CHECK_SECONDS = 2.0


class Watchdog:
    """Checks the embedded services every CHECK_SECONDS on a thread of its own."""

    def __init__(
        self,
        backends: Backends,
        restarted: Callable[[str], None] = lambda _: None,
        every: float = CHECK_SECONDS,
    ) -> None:
        self._backends = backends
        self._restarted = restarted  # called with the backend's name once it is back
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
        """One look at every embedded service: restart a stopped server, report a broker."""
        for name, service in list(self._backends.services.items()):
            if name in self._given_up or self._stopping.is_set():
                continue
            if isinstance(service, ChildService):
                self._restart_if_stopped(name, service)
            elif not service.running:
                self._report_broker(name, getattr(service, "log_path", None))
        memory = self._backends.memory_broker
        if memory is not None and "streams" not in self._given_up and not memory.running:
            self._report_broker("streams", memory.log_path)

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

    def _report_broker(self, name: str, log: object) -> None:
        self._given_up.add(name)
        where = f" (its log: {log})" if log else ""
        console(
            f"[runtime] the embedded broker stopped on its own{where}: records on it that the "
            "projector had not stored are gone; ratings wait in the outbox until `make run` is "
            "started again (a new broker)"
        )
