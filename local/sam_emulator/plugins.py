"""The one interface between the emulator and a project's dev stack.

The emulator runs what the template declares; the backing services the functions talk to
(databases, a Kafka broker...) belong to the project. A project plugs them in with a `DevStack`:
started after the emulator has bound its ports and before the functions are warmed, stopped after
the functions and the event sources. `python -m sam_emulator` runs without one (`NoDevStack`).
"""

from __future__ import annotations

import argparse
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from sam_emulator.template import Template

if TYPE_CHECKING:  # events imports this module: the site type only for the checker
    from sam_emulator.events.static import StaticSite


class BrokerGenerations:
    """The incarnations of the dev stack's broker at one address, as the Kafka mappings see
    them: when the dev stack replaces a dead broker with a new, empty one, `replace` tells every
    mapping, and returns once each has delivered the records it held from the old one (without
    committing them to the new one) and will read the new broker from its beginning."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._number = 0
        self._readers: dict[int, int] = {}  # reader -> the generation it reads
        self._on_replace: list[Callable[[], None]] = []

    def on_replace(self, call: Callable[[], None]) -> None:
        """Have `call` run at every `replace`, before it waits for the readers (the emulator
        starts the functions afresh there: their clients of the old broker must not reach the
        new one)."""
        self._on_replace.append(call)

    @property
    def number(self) -> int:
        """The current generation."""
        return self._number

    def reader(self) -> int:
        """A new reader, on the current generation."""
        with self._condition:
            reader = len(self._readers)
            self._readers[reader] = self._number
            return reader

    def settled(self, reader: int, number: int) -> None:
        """The reader let go of every generation before `number`."""
        with self._condition:
            self._readers[reader] = number
            self._condition.notify_all()

    def replace(self, within: float) -> bool:
        """A new generation; the `on_replace` calls run, then True once every reader settled on
        it within `within` seconds."""
        with self._condition:
            self._number += 1
            number = self._number
        for call in self._on_replace:
            call()
        with self._condition:
            return self._condition.wait_for(
                lambda: all(seen >= number for seen in self._readers.values()), timeout=within
            )


@dataclass(frozen=True)
class Services:
    """What a dev stack hands the emulator once its services are up."""

    # Added to every function's environment, over the template's (connections, credentials).
    environment: Mapping[str, str] = field(default_factory=dict)
    # Where the Kafka event source mappings consume; empty: they are listed, not run.
    kafka_bootstrap: str = ""
    # kafka-python options for every Kafka client of the emulator (its mappings' consumers, the
    # topics it creates): `bootstrap_servers`, as the project reads its setting (over
    # kafka_bootstrap's comma-split entries), and security settings (protocol, SASL).
    kafka_options: Mapping[str, Any] = field(default_factory=dict)
    # Why no Kafka client can be built from the broker's setting (never a piece of it): the
    # mappings are then listed with it, not run.
    kafka_unusable: str = ""
    # The dev stack replaces the broker at that address with a new, empty one through it: the
    # mappings then read the new one from its start, not from positions in the old one's records.
    kafka_generations: BrokerGenerations = field(default_factory=BrokerGenerations)
    # Folders of code shared by the functions (a layer's source): an edit there reloads them all.
    watch: tuple[Path, ...] = ()
    # Lines under "backends:" in the start-up summary (no secrets in them).
    summary: tuple[str, ...] = ()
    # Lines printed on their own after the summary, for the person who started the emulator
    # (e.g. a token made for them); never logged by the functions.
    announcements: tuple[str, ...] = ()
    # URL prefixes the HTTP API serves from folders before its routes (a web app), each printed
    # with its URL once the emulator runs.
    sites: tuple[StaticSite, ...] = ()
    # Headers set on every answer of the HTTP API, its sites' and the gateway's own included,
    # over any of the same name (a CDN's response headers policy in front of it, as
    # CloudFront's with Override); the docs page keeps its own.
    response_headers: tuple[tuple[str, str], ...] = ()


class DevStack(Protocol):
    """A project's backing services, as the emulator sees them."""

    def claim(self, template: Template) -> None:
        """Take what the stack keeps for one runtime alone (a data folder, say) before the
        emulator binds any port, or raise its start-up error naming who holds it: a second
        runtime of the same project is told that one runs, not only that a port is taken.
        `stop` lets the claim go."""

    def start(self, template: Template, lambda_endpoint: str) -> Services:
        """Start (or find) the services and prepare their data; `lambda_endpoint` is the
        emulator's Lambda Invoke API, for functions that invoke others."""

    def stop(self, within: float) -> None:
        """Stop what `start` started, within `within` seconds (the functions have stopped by
        then)."""

    def abandon(self) -> None:
        """Let go at once, waiting for nothing (a second Ctrl-C while `stop` runs): the process
        ends right after."""


# Builds a dev stack from the command line, once `add_options` declared its options.
DevStackFactory = Callable[[argparse.Namespace], DevStack]
AddOptions = Callable[[argparse.ArgumentParser], None]
# Template parameters whose local value differs from the template's default (under --param).
ParameterDefaults = Callable[[], Mapping[str, str]]


class NoDevStack:
    """No backing services: the functions get the template's environment only."""

    def claim(self, template: Template) -> None:
        """Nothing to claim."""

    def start(self, template: Template, lambda_endpoint: str) -> Services:
        """Nothing to start."""
        return Services()

    def stop(self, within: float) -> None:
        """Nothing to stop."""

    def abandon(self) -> None:
        """Nothing to let go."""
