"""What every part of the template parser shares: the resolver, the globals, the notes, and the
base class of the event-source parsers (one per event source, in this package)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any, ClassVar

from sam_emulator.template.intrinsics import Resolver, Unresolvable, as_text


class TemplateError(Exception):
    """The template cannot be run locally (bad structure, unknown condition, missing code...)."""


class Reader:
    """One template being read: how to resolve its values, its Globals, and the notes for the
    start-up summary (what is not run locally, and why)."""

    def __init__(
        self,
        resolver: Resolver,
        base_dir: Path,
        globals_section: Mapping[str, Any],
        resources: Mapping[str, Any],
    ) -> None:
        self.resolver = resolver
        self.base_dir = base_dir
        self.resources = resources
        self._globals = globals_section
        self.notes: list[str] = []

    def globals(self, kind: str) -> dict[str, Any]:
        """The Globals section of one resource kind (`Function`, `HttpApi`...)."""
        kind_globals = self._globals.get(kind)
        return dict(kind_globals) if isinstance(kind_globals, dict) else {}

    def note(self, text: str) -> None:
        """Something the summary should say (a feature not run locally, a value ignored)."""
        self.notes.append(text)

    def active(self, logical_id: str, resource: Mapping[str, Any]) -> bool:
        """Whether the resource's Condition holds (a skipped resource is noted)."""
        condition = resource.get("Condition")
        if condition is None:
            return True
        try:
            active = self.resolver.condition(str(condition))
        except Unresolvable as error:
            raise TemplateError(f"{logical_id}: cannot evaluate condition: {error}") from error
        if not active:
            self.note(f"{logical_id}: skipped, condition {condition} is false")
        return active

    def resolve(self, value: Any) -> Any:
        """A value with its intrinsics evaluated."""
        return self.resolver.resolve(value)

    def enabled(self, value: Any) -> bool:
        """An `Enabled` flag: anything but false is on."""
        return as_text(self.resolve(value)).lower() != "false"

    def optional_text(self, value: Any) -> str | None:
        """A value as text, or None when it is absent or needs a deployed stack."""
        if value is None:
            return None
        try:
            return self.resolver.text(value)
        except Unresolvable:
            return None


class SourceParser:
    """Reads one event source from the template: the function events of `event_types`, the
    resources of `resource_types`, and anything on a function's own properties.

    The loader calls `read_resource` for every active resource of its types before the functions
    are read, `read_function` and `read_event` for each function, then `finish` once."""

    event_types: ClassVar[frozenset[str]] = frozenset()
    resource_types: ClassVar[frozenset[str]] = frozenset()

    def read_resource(self, reader: Reader, logical_id: str, resource: Mapping[str, Any]) -> None:
        """A resource of one of `resource_types` (its Condition holds)."""

    def read_function(
        self, reader: Reader, function_id: str, properties: Mapping[str, Any]
    ) -> None:
        """A function's own properties (FunctionUrlConfig, for instance)."""

    def read_event(
        self,
        reader: Reader,
        function_id: str,
        name: str,
        kind: str,
        properties: Mapping[str, Any],
    ) -> None:
        """One entry of a function's Events whose Type is one of `event_types`."""

    def finish(self, reader: Reader, functions: Collection[str]) -> None:
        """Every resource and function was read: `functions` are those run locally."""
