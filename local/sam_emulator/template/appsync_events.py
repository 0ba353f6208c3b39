"""AppSync Event APIs: `AWS::AppSync::Api` with an `EventConfig`, their channel namespaces, and
the function environment values that name their endpoints (`!GetAtt Api.Dns.Http`, or a `!Sub`
of it), which the emulation fills with its local endpoints."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from sam_emulator.template.intrinsics import Unresolvable
from sam_emulator.template.reader import Reader, SourceParser

_ATTRIBUTES: Final = ("Dns.Http", "Dns.Realtime")
_PLACEHOLDER: Final = re.compile(r"\$\{([A-Za-z0-9]+)\.(Dns\.Http|Dns\.Realtime)\}")


@dataclass(frozen=True)
class EndpointVariable:
    """A function's environment variable whose value names an Event API's endpoints: `value`
    is the template's text with `${Api.Dns.Http}` / `${Api.Dns.Realtime}` left in it."""

    function_id: str
    name: str
    value: str


@dataclass(frozen=True)
class EventApi:
    """One Event API of the template: its channel namespaces, who is told where it is, and per
    namespace the auth types (`API_KEY`, `AWS_IAM`, ...) that may publish and subscribe there
    (the namespace's own modes, else the API's defaults; a namespace not named: any)."""

    logical_id: str
    name: str
    namespaces: tuple[str, ...]
    variables: tuple[EndpointVariable, ...] = ()
    publish_modes: Mapping[str, frozenset[str]] = field(default_factory=dict)
    subscribe_modes: Mapping[str, frozenset[str]] = field(default_factory=dict)


class AppSyncEventsParser(SourceParser):
    """Collects the Event APIs and their namespaces."""

    resource_types = frozenset({"AWS::AppSync::Api", "AWS::AppSync::ChannelNamespace"})

    def __init__(self) -> None:
        self._apis: dict[str, str] = {}
        self._namespaces: dict[str, list[str]] = {}
        # (API or namespace, "publish" / "subscribe") -> auth types, where the template says
        self._defaults: dict[tuple[str, str], frozenset[str]] = {}
        self._modes: dict[tuple[str, str, str], frozenset[str]] = {}
        self._variables: list[EndpointVariable] = []
        self.event_apis: list[EventApi] = []

    def read_resource(self, reader: Reader, logical_id: str, resource: Mapping[str, Any]) -> None:
        """An Event API (one with an EventConfig), or a namespace of one (`ApiId: !GetAtt X.ApiId`)."""
        properties = resource.get("Properties") or {}
        if resource.get("Type") == "AWS::AppSync::Api":
            config = properties.get("EventConfig")
            if isinstance(config, dict):
                self._apis[logical_id] = reader.optional_text(properties.get("Name")) or logical_id
                for action in _ACTIONS:
                    modes = _auth_types(reader, config.get(f"Default{action}AuthModes"))
                    if modes is not None:
                        self._defaults[logical_id, action.lower()] = modes
            return
        api = _get_att_resource(properties.get("ApiId"), "ApiId")
        name = reader.optional_text(properties.get("Name"))
        if api and name:
            self._namespaces.setdefault(api, []).append(name)
            for action in _ACTIONS:
                modes = _auth_types(reader, properties.get(f"{action}AuthModes"))
                if modes is not None:
                    self._modes[api, name, action.lower()] = modes

    def read_function(
        self, reader: Reader, function_id: str, properties: Mapping[str, Any]
    ) -> None:
        """Environment values that name an Event API's endpoints."""
        merged: dict[str, Any] = {}
        for source in (reader.globals("Function"), properties):
            environment = source.get("Environment") or {}
            variables = environment.get("Variables") if isinstance(environment, dict) else None
            merged.update(variables if isinstance(variables, dict) else {})
        for name, value in merged.items():
            text = _endpoint_text(value)
            if text is not None:
                self._variables.append(EndpointVariable(function_id, str(name), text))

    def finish(self, reader: Reader, functions: Collection[str]) -> None:
        """One EventApi per API, with the variables of the functions run locally."""
        for logical_id, name in self._apis.items():
            namespaces = tuple(self._namespaces.get(logical_id, ())) or ("default",)
            variables = tuple(
                v
                for v in self._variables
                if v.function_id in functions
                and any(m.group(1) == logical_id for m in _PLACEHOLDER.finditer(v.value))
            )
            modes = {
                action: {
                    namespace: found
                    for namespace in namespaces
                    if (
                        found := self._modes.get((logical_id, namespace, action))
                        or self._defaults.get((logical_id, action))
                    )
                }
                for action in ("publish", "subscribe")
            }
            self.event_apis.append(
                EventApi(
                    logical_id,
                    name,
                    namespaces,
                    variables,
                    publish_modes=modes["publish"],
                    subscribe_modes=modes["subscribe"],
                )
            )


_ACTIONS: Final = ("Publish", "Subscribe")


def _auth_types(reader: Reader, value: Any) -> frozenset[str] | None:
    """The AuthTypes of a list of auth modes (`[{AuthType: AWS_IAM}]`); None when it is absent
    or cannot be read (the emulation then takes any)."""
    try:
        modes = reader.resolve(value) if value is not None else None
    except Unresolvable:
        return None
    if not isinstance(modes, list):
        return None
    found = frozenset(
        str(mode["AuthType"]) for mode in modes if isinstance(mode, dict) and "AuthType" in mode
    )
    return found or None


def _get_att_resource(value: Any, attribute: str) -> str | None:
    """X of `!GetAtt X.attribute` (either form), else None."""
    if isinstance(value, dict) and set(value) == {"Fn::GetAtt"}:
        target = value["Fn::GetAtt"]
        parts = target.split(".", 1) if isinstance(target, str) else list(target)
        if len(parts) == 2 and parts[1] == attribute:
            return str(parts[0])
    return None


def _endpoint_text(value: Any) -> str | None:
    """The value as `${Api.Dns.Http}` text when it is a GetAtt of an endpoint or a plain-string
    Sub naming one; None otherwise."""
    if isinstance(value, dict) and set(value) == {"Fn::GetAtt"}:
        target = value["Fn::GetAtt"]
        parts = target.split(".", 1) if isinstance(target, str) else list(target)
        if len(parts) == 2 and parts[1] in _ATTRIBUTES:
            return f"${{{parts[0]}.{parts[1]}}}"
        return None
    if isinstance(value, dict) and set(value) == {"Fn::Sub"} and isinstance(value["Fn::Sub"], str):
        text: str = value["Fn::Sub"]
        return text if _PLACEHOLDER.search(text) else None
    return None


def local_value(text: str, endpoints: Mapping[str, tuple[str, str]]) -> str | None:
    """`text` with each `${Api.Dns.Http}` / `${Api.Dns.Realtime}` replaced by the local
    `host:port` of that API (`endpoints`: logical id -> (http, realtime)), and the secure schemes
    by the plain ones the local endpoints speak; None when the text names anything else."""
    missing = False

    def endpoint(match: re.Match[str]) -> str:
        nonlocal missing
        found = endpoints.get(match.group(1))
        if found is None:
            missing = True
            return match.group(0)
        return found[0] if match.group(2) == "Dns.Http" else found[1]

    replaced = _PLACEHOLDER.sub(endpoint, text)
    if missing or "${" in replaced:
        return None  # another variable of the Sub needs a deployed stack
    return replaced.replace("https://", "http://").replace("wss://", "ws://")
