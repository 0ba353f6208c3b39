"""The emulator's view of a SAM template: functions, and what each event source reads from it.

Everything the emulator serves or triggers comes from here, never from a list in code. Each event
source has its parser in this package; `_parsers` lists them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sam_emulator.template.appsync_events import AppSyncEventsParser, EventApi
from sam_emulator.template.cfn_yaml import load_yaml, load_yaml_file
from sam_emulator.template.function_url import FunctionUrl, FunctionUrlParser
from sam_emulator.template.functions import FunctionSpec, read_function
from sam_emulator.template.http_api import (
    CorsConfiguration,
    HttpApiParser,
    LambdaAuthorizer,
    Route,
)
from sam_emulator.template.intrinsics import Resolver, as_text
from sam_emulator.template.kafka import KafkaMapping, KafkaParser
from sam_emulator.template.parameters import check_value
from sam_emulator.template.reader import Reader, SourceParser, TemplateError
from sam_emulator.template.schedule import Schedule, ScheduleParser

_FUNCTION = "AWS::Serverless::Function"


@dataclass(frozen=True)
class Template:
    """What the emulator needs from template.yaml."""

    path: Path | None
    parameters: Mapping[str, str | list[str]]
    functions: Mapping[str, FunctionSpec]
    routes: tuple[Route, ...]
    kafka_mappings: tuple[KafkaMapping, ...]
    schedules: tuple[Schedule, ...]
    notes: tuple[str, ...] = field(default=())
    function_urls: tuple[FunctionUrl, ...] = field(default=())
    authorizers: Mapping[str, LambdaAuthorizer] = field(default_factory=dict)
    cors: CorsConfiguration | None = None
    event_apis: tuple[EventApi, ...] = field(default=())

    @property
    def directory(self) -> Path:
        """The folder the template is in (CodeUri and the local data are relative to it)."""
        return self.path.parent if self.path else Path.cwd()


def load_template(path: Path, overrides: Mapping[str, str] | None = None) -> Template:
    """Load template.yaml from disk; CodeUri paths are relative to its folder."""
    if not path.is_file():
        raise TemplateError(f"template not found: {path}")
    return parse_template(load_yaml_file(path), path.parent, overrides, path)


def parse_template_text(
    text: str, base_dir: Path, overrides: Mapping[str, str] | None = None
) -> Template:
    """Parse template YAML text (for tests and tools); CodeUri paths are relative to base_dir."""
    return parse_template(load_yaml(text), base_dir, overrides)


def parse_template(
    document: Any,
    base_dir: Path,
    overrides: Mapping[str, str] | None = None,
    path: Path | None = None,
) -> Template:
    """Build the emulator's model from a parsed template document: the resources the event
    sources read, then the functions with their events, then what links them."""
    if not isinstance(document, dict) or not isinstance(document.get("Resources"), dict):
        raise TemplateError("the template has no Resources section")
    resources: dict[str, Any] = document["Resources"]
    parameters = _parameter_values(document.get("Parameters") or {}, overrides or {})
    resolver = Resolver(
        parameters, document.get("Conditions") or {}, document.get("Mappings") or {}, resources
    )
    section = document.get("Globals")
    reader = Reader(resolver, base_dir, section if isinstance(section, dict) else {}, resources)
    http_api, function_urls = HttpApiParser(), FunctionUrlParser()
    kafka, schedules, event_apis = KafkaParser(), ScheduleParser(), AppSyncEventsParser()
    parsers: tuple[SourceParser, ...] = (http_api, function_urls, kafka, schedules, event_apis)
    active = {
        str(logical_id): resource
        for logical_id, resource in resources.items()
        if isinstance(resource, dict) and reader.active(str(logical_id), resource)
    }
    for logical_id, resource in active.items():
        kind = resource.get("Type")
        for parser in parsers:
            if kind in parser.resource_types:
                parser.read_resource(reader, logical_id, resource)
        if kind == "AWS::Lambda::Function":
            reader.note(f"{logical_id}: AWS::Lambda::Function is not run locally")
    functions: dict[str, FunctionSpec] = {}
    for logical_id, resource in active.items():
        if resource.get("Type") != _FUNCTION:
            continue
        spec = _read_function(reader, parsers, logical_id, resource.get("Properties") or {})
        if spec is not None:
            functions[logical_id] = spec
    for parser in parsers:
        parser.finish(reader, functions)
    return Template(
        path=path,
        parameters=parameters,
        functions=functions,
        routes=tuple(http_api.routes),
        kafka_mappings=tuple(kafka.kafka_mappings),
        schedules=tuple(schedules.schedules),
        notes=tuple(reader.notes),
        function_urls=tuple(function_urls.function_urls),
        authorizers=http_api.authorizers,
        cors=http_api.cors,
        event_apis=tuple(event_apis.event_apis),
    )


def _read_function(
    reader: Reader,
    parsers: tuple[SourceParser, ...],
    logical_id: str,
    properties: Mapping[str, Any],
) -> FunctionSpec | None:
    spec = read_function(reader, logical_id, properties)
    if spec is None:
        return None
    for parser in parsers:
        parser.read_function(reader, logical_id, properties)
    events = properties.get("Events") or {}
    for name, event in events.items() if isinstance(events, dict) else ():
        event = event if isinstance(event, dict) else {}
        kind = event.get("Type")
        readers = [parser for parser in parsers if kind in parser.event_types]
        if not readers:
            reader.note(f"{logical_id}.{name}: {kind} events are not run locally")
        for parser in readers:
            parser.read_event(
                reader, logical_id, str(name), str(kind), event.get("Properties") or {}
            )
    return spec


def _parameter_values(
    declared: Mapping[str, Any], overrides: Mapping[str, str]
) -> dict[str, str | list[str]]:
    unknown = set(overrides) - set(declared)
    if unknown:
        raise TemplateError(f"unknown parameter(s): {', '.join(sorted(unknown))}")
    values: dict[str, str | list[str]] = {}
    for name, spec in declared.items():
        spec = spec if isinstance(spec, dict) else {}
        if name in overrides:
            raw: Any = overrides[name]
        elif "Default" in spec:
            raw = spec["Default"]
        else:
            continue  # no value: a Ref to it is unresolvable (and dropped where it is used)
        text = as_text(raw)
        check_value(name, spec, text)
        kind = str(spec.get("Type", "String"))
        is_list = kind == "CommaDelimitedList" or kind.startswith("List<")
        values[name] = [item.strip() for item in text.split(",")] if is_list else text
    return values
