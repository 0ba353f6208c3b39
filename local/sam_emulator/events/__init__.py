"""Event sources: one module each, turning something outside (an HTTP request, a Kafka record, a
clock) into invocations. Each module has a `bind` function (see `Bind`) that the runtime lists in
`sam_emulator.runtime.EVENT_SOURCES`, and its template parser in `sam_emulator.template`.

A source's life: `bind` claims what can fail fast (its ports) before any service is started;
`start` begins delivering events once the functions are warm; `stop` takes no new events;
`join` waits for what is in flight. Nothing here is imported by a function process.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from sam_emulator.lambda_.pool import Invoker
from sam_emulator.plugins import Services
from sam_emulator.template import Template


@dataclass(frozen=True)
class Options:
    """Where the emulator's endpoints listen (a port of 0 takes any free one), and the
    environment its settings are read from (SAM_EMULATOR_*). `host` is the HTTP API's, the live
    channel's WebSocket's and open function URLs' address; what AWS takes only signed listens on
    loopback whatever it is (sam_emulator.serving.SIGNED_ONLY_HOST)."""

    host: str = "127.0.0.1"
    port: int = 3000
    lambda_port: int = 3001
    url_port: int = 3002
    environ: Mapping[str, str] = field(default_factory=dict)
    # The first AppSync Event API's WebSocket port; None: 3004 when free, else any free one.
    live_port: int | None = None


class EventSource(Protocol):
    """One running event source."""

    def start(self, services: Services) -> None:
        """Begin delivering events (the functions are warm, the services are up)."""

    def stop(self) -> None:
        """Take no new events; returns at once."""

    def join(self, timeout: float) -> None:
        """Wait, at most `timeout` seconds, for the events in flight."""

    def summary(self) -> list[str]:
        """Lines for the start-up summary: what triggers what, and where."""


Bind = Callable[[Template, Options, Invoker], Sequence[EventSource]]
