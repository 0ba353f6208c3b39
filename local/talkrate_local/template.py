"""The local view of template.yaml: functions, HTTP routes, Kafka mappings and schedules.

Everything the runtime serves or triggers comes from here, never from a list in code.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final

from talkrate_local.cfn_yaml import load_yaml, load_yaml_file
from talkrate_local.intrinsics import NO_VALUE, Resolver, Unresolvable, as_text

DEFAULT_TIMEOUT_SECONDS: Final = 3
DEFAULT_MEMORY_MB: Final = 128
KAFKA_DEFAULT_BATCH_SIZE: Final = 100
# Lambda's default batching window for Kafka and MQ sources is 500 ms (0 for the others).
KAFKA_DEFAULT_WINDOW_SECONDS: Final = 0.5
KAFKA_SOURCES: Final = ("SelfManagedKafka", "MSK")
_STARTING_POSITIONS: Final = {"TRIM_HORIZON": "earliest", "LATEST": "latest"}
_RATE = re.compile(r"^rate\(\s*(\d+)\s+(second|minute|hour|day)s?\s*\)$", re.IGNORECASE)
_RATE_UNITS: Final = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
_HTTP_METHODS: Final = frozenset(
    {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY"}
)


class TemplateError(Exception):
    """The template cannot be run locally (bad structure, unknown condition, missing code...)."""


@dataclass(frozen=True)
class FunctionSpec:
    """One function as the local runtime runs it."""

    logical_id: str
    code_dir: Path
    handler: str
    timeout_seconds: float
    memory_mb: int
    environment: Mapping[str, str]
    unresolved_environment: tuple[str, ...] = ()

    @property
    def handler_module(self) -> str:
        """The module part of Handler (`app` in `app.lambda_handler`)."""
        return self.handler.rsplit(".", 1)[0]

    @property
    def handler_function(self) -> str:
        """The function part of Handler (`lambda_handler` in `app.lambda_handler`)."""
        return self.handler.rsplit(".", 1)[1]

    @property
    def handler_file(self) -> Path:
        """The file Lambda would import for Handler: `a/b.handler` and `a.b.handler` are a/b.py."""
        relative = self.handler_module.replace(".", "/")
        module_file = self.code_dir / f"{relative}.py"
        package_file = self.code_dir / relative / "__init__.py"
        return package_file if not module_file.exists() and package_file.exists() else module_file


@dataclass(frozen=True)
class Route:
    """An HttpApi route: `GET /ratings`, `ANY /{proxy+}` or `$default`, and the name of the
    Lambda authorizer in front of it, if any."""

    function_id: str
    method: str
    path: str
    authorizer: str | None = None

    @property
    def route_key(self) -> str:
        """The routeKey API Gateway puts in the event."""
        return "$default" if self.path == "$default" else f"{self.method} {self.path}"


@dataclass(frozen=True)
class KafkaMapping:
    """A Kafka event source mapping (SelfManagedKafka or MSK event, or a raw EventSourceMapping)."""

    function_id: str
    name: str
    source: str
    topics: tuple[str, ...]
    batch_size: int = KAFKA_DEFAULT_BATCH_SIZE
    batching_window_seconds: float = KAFKA_DEFAULT_WINDOW_SECONDS
    starting_position: str = "latest"
    consumer_group_id: str = ""
    event_source_arn: str | None = None


@dataclass(frozen=True)
class Schedule:
    """A Schedule/ScheduleV2 event; interval_seconds is None for expressions run locally (cron)."""

    function_id: str
    name: str
    expression: str
    interval_seconds: float | None
    input: Any = None


@dataclass(frozen=True)
class LambdaAuthorizer:
    """An HttpApi Lambda authorizer (Auth.Authorizers.<name> with a FunctionArn)."""

    name: str
    function_id: str
    payload_version: str = "2.0"
    simple_responses: bool = False
    identity_sources: tuple[str, ...] = ()


@dataclass(frozen=True)
class FunctionUrl:
    """A function's URL (FunctionUrlConfig): its own endpoint, payload format 2.0."""

    function_id: str
    auth_type: str = "NONE"
    invoke_mode: str = "BUFFERED"


@dataclass(frozen=True)
class CorsConfiguration:
    """An HttpApi's CorsConfiguration: what the gateway answers preflights with, and the headers
    it adds to the other responses of an allowed origin."""

    api_id: str
    allow_origins: tuple[str, ...] = ()
    allow_methods: tuple[str, ...] = ()
    allow_headers: tuple[str, ...] = ()
    expose_headers: tuple[str, ...] = ()
    max_age: int | None = None
    allow_credentials: bool = False

    def describe(self) -> str:
        """One line for the start-up summary."""
        parts = [f"origins {','.join(self.allow_origins) or '(none)'}"]
        for label, values in (
            ("methods", self.allow_methods),
            ("headers", self.allow_headers),
            ("expose", self.expose_headers),
        ):
            if values:
                parts.append(f"{label} {','.join(values)}")
        if self.max_age is not None:
            parts.append(f"max-age {self.max_age}s")
        if self.allow_credentials:
            parts.append("credentials")
        return " | ".join(parts)


@dataclass(frozen=True)
class Template:
    """What the local runtime needs from template.yaml."""

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
    """Build the local model from a parsed template document."""
    if not isinstance(document, dict) or not isinstance(document.get("Resources"), dict):
        raise TemplateError("the template has no Resources section")
    resources: dict[str, Any] = document["Resources"]
    parameters = _parameter_values(document.get("Parameters") or {}, overrides or {})
    resolver = Resolver(
        parameters, document.get("Conditions") or {}, document.get("Mappings") or {}, resources
    )
    builder = _Builder(
        resolver, base_dir, _globals(document), resources, _globals(document, "HttpApi")
    )
    for logical_id, resource in resources.items():
        builder.add_http_api(str(logical_id), resource)
    # Functions first: an EventSourceMapping may be declared before the function it targets.
    ordered = sorted(resources.items(), key=lambda item: not _is_serverless_function(item[1]))
    for logical_id, resource in ordered:
        builder.add_resource(str(logical_id), resource)
    return Template(
        path=path,
        parameters=parameters,
        functions=builder.functions,
        routes=tuple(builder.routes),
        kafka_mappings=tuple(builder.kafka_mappings),
        schedules=tuple(builder.schedules),
        notes=tuple(builder.notes),
        function_urls=tuple(builder.function_urls),
        authorizers=builder.authorizers,
        cors=builder.cors,
    )


def rate_seconds(expression: str) -> float | None:
    """Seconds between runs of a `rate(...)` expression; None for cron and anything else."""
    match = _RATE.match(expression.strip())
    return int(match.group(1)) * _RATE_UNITS[match.group(2).lower()] if match else None


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
        kind = str(spec.get("Type", "String"))
        is_list = kind == "CommaDelimitedList" or kind.startswith("List<")
        values[name] = [item.strip() for item in text.split(",")] if is_list else text
    return values


def _is_serverless_function(resource: Any) -> bool:
    return isinstance(resource, dict) and resource.get("Type") == "AWS::Serverless::Function"


def _globals(document: Mapping[str, Any], kind: str = "Function") -> dict[str, Any]:
    section = document.get("Globals") or {}
    kind_globals = section.get(kind) if isinstance(section, dict) else None
    return dict(kind_globals) if isinstance(kind_globals, dict) else {}


class _Builder:
    def __init__(
        self,
        resolver: Resolver,
        base_dir: Path,
        function_globals: Mapping[str, Any],
        resources: Mapping[str, Any],
        http_api_globals: Mapping[str, Any] | None = None,
    ) -> None:
        self.resolver = resolver
        self.base_dir = base_dir
        self.globals = function_globals
        self.http_api_globals = http_api_globals or {}
        self.resources = resources
        self.cors: CorsConfiguration | None = None
        self.functions: dict[str, FunctionSpec] = {}
        self.routes: list[Route] = []
        self.kafka_mappings: list[KafkaMapping] = []
        self.schedules: list[Schedule] = []
        self.function_urls: list[FunctionUrl] = []
        self.authorizers: dict[str, LambdaAuthorizer] = {}
        self.default_authorizers: dict[str, str] = {}  # HttpApi logical id -> authorizer name
        self.notes: list[str] = []

    def add_http_api(self, logical_id: str, resource: Any) -> None:
        """Read an HttpApi's Lambda authorizers, its default one, and its CorsConfiguration."""
        if not isinstance(resource, dict) or resource.get("Type") != "AWS::Serverless::HttpApi":
            return
        if not self._active(logical_id, resource):
            return
        properties = resource.get("Properties") or {}
        cors = properties.get("CorsConfiguration", self.http_api_globals.get("CorsConfiguration"))
        if cors is not None:
            self._add_cors(logical_id, cors)
        auth = properties.get("Auth") or {}
        for name, config in (auth.get("Authorizers") or {}).items():
            self._add_authorizer(logical_id, str(name), config if isinstance(config, dict) else {})
        if auth.get("DefaultAuthorizer"):
            self.default_authorizers[logical_id] = as_text(auth["DefaultAuthorizer"])

    def _add_cors(self, api_id: str, config: Any) -> None:
        try:
            cors = _cors_configuration(api_id, self.resolver.resolve(config))
        except (Unresolvable, ValueError, TypeError) as error:
            self.notes.append(f"{api_id}: CorsConfiguration not applied locally ({error})")
            return
        if cors is None:
            return
        if self.cors is not None and self.cors != replace(cors, api_id=self.cors.api_id):
            # One local gateway serves every HttpApi's routes, so it has one CORS configuration.
            self.notes.append(
                f"{api_id}: CorsConfiguration ignored locally; {self.cors.api_id}'s applies"
            )
            return
        if "*" in cors.allow_origins and cors.allow_credentials:
            self.notes.append(
                f"{api_id}: API Gateway refuses AllowCredentials with AllowOrigins '*'"
            )
        self.cors = self.cors or cors

    def _add_authorizer(self, api_id: str, name: str, config: Mapping[str, Any]) -> None:
        target = config.get("FunctionArn")
        if target is None:
            self.notes.append(f"{api_id}.{name}: JWT authorizers are not checked locally")
            return
        if isinstance(target, dict) and "Fn::GetAtt" in target:
            function_id = str(target["Fn::GetAtt"][0]).split(".")[0]
        else:  # a name or an ARN: the last segment
            function_id = (self._optional_text(target) or "").split(":")[-1]
        version = as_text(
            self.resolver.resolve(config.get("AuthorizerPayloadFormatVersion", "2.0"))
        )
        identity = self.resolver.resolve(config.get("Identity") or {})
        sources: list[str] = []
        for prefix, key in (
            ("$request.header.", "Headers"),
            ("$request.querystring.", "QueryStrings"),
        ):
            sources += [prefix + as_text(value) for value in identity.get(key) or []]
        if version != "2.0":
            self.notes.append(
                f"{api_id}.{name}: authorizer payload {version} is sent as 2.0 locally"
            )
        self.authorizers[name] = LambdaAuthorizer(
            name=name,
            function_id=function_id,
            payload_version=version,
            simple_responses=as_text(
                self.resolver.resolve(config.get("EnableSimpleResponses", False))
            ).lower()
            == "true",
            identity_sources=tuple(sources),
        )

    def add_resource(self, logical_id: str, resource: Any) -> None:
        if not isinstance(resource, dict) or not self._active(logical_id, resource):
            return
        kind = resource.get("Type")
        properties = resource.get("Properties") or {}
        if kind == "AWS::Serverless::Function":
            self._add_function(logical_id, properties)
        elif kind == "AWS::Lambda::EventSourceMapping":
            self._add_event_source_mapping(logical_id, properties)
        elif kind == "AWS::Lambda::Function":
            self.notes.append(f"{logical_id}: AWS::Lambda::Function is not run locally")

    def _active(self, logical_id: str, resource: Mapping[str, Any]) -> bool:
        condition = resource.get("Condition")
        if condition is None:
            return True
        try:
            active = self.resolver.condition(str(condition))
        except Unresolvable as error:
            raise TemplateError(f"{logical_id}: cannot evaluate condition: {error}") from error
        if not active:
            self.notes.append(f"{logical_id}: skipped, condition {condition} is false")
        return active

    def _property(self, properties: Mapping[str, Any], name: str, default: Any = None) -> Any:
        value = properties.get(name, self.globals.get(name, default))
        return self.resolver.resolve(value)

    def _add_function(self, logical_id: str, properties: Mapping[str, Any]) -> None:
        if properties.get("PackageType") == "Image" or "InlineCode" in properties:
            self.notes.append(f"{logical_id}: image and inline-code functions are not run locally")
            return
        code_uri = self._property(properties, "CodeUri", ".")
        handler = self._property(properties, "Handler")
        if not isinstance(code_uri, str) or not isinstance(handler, str) or "." not in handler:
            raise TemplateError(
                f"{logical_id}: needs a local CodeUri and a module.function Handler"
            )
        environment, unresolved = self._environment(properties)
        self.functions[logical_id] = FunctionSpec(
            logical_id=logical_id,
            code_dir=(self.base_dir / code_uri).resolve(),
            handler=handler,
            timeout_seconds=float(
                as_text(self._property(properties, "Timeout", DEFAULT_TIMEOUT_SECONDS))
            ),
            memory_mb=int(as_text(self._property(properties, "MemorySize", DEFAULT_MEMORY_MB))),
            environment=environment,
            unresolved_environment=unresolved,
        )
        if "FunctionUrlConfig" in properties:
            self._add_function_url(logical_id, properties["FunctionUrlConfig"])
        events = properties.get("Events") or {}
        for name, event in events.items() if isinstance(events, dict) else ():
            self._add_event(logical_id, str(name), event if isinstance(event, dict) else {})

    def _add_function_url(self, function_id: str, config: Any) -> None:
        config = self.resolver.resolve(config)
        config = config if isinstance(config, dict) else {}
        url = FunctionUrl(
            function_id,
            auth_type=as_text(config.get("AuthType", "NONE")).upper(),
            invoke_mode=as_text(config.get("InvokeMode", "BUFFERED")).upper(),
        )
        self.function_urls.append(url)
        if url.invoke_mode != "BUFFERED":
            self.notes.append(f"{function_id}: function URL answers buffered locally, not streamed")
        if "Cors" in config:
            self.notes.append(f"{function_id}: function URL CORS settings are not applied locally")

    def _environment(self, properties: Mapping[str, Any]) -> tuple[dict[str, str], tuple[str, ...]]:
        merged: dict[str, Any] = {}
        for source in (self.globals, properties):  # the function's own values win
            environment = source.get("Environment") or {}
            variables = environment.get("Variables") if isinstance(environment, dict) else None
            merged.update(variables if isinstance(variables, dict) else {})
        resolved: dict[str, str] = {}
        unresolved: list[str] = []
        for name, value in merged.items():
            try:
                resolved[str(name)] = self.resolver.environment_value(value)
            except (Unresolvable, ValueError, TypeError, IndexError):
                unresolved.append(str(name))  # needs a deployed stack: dropped locally
        return resolved, tuple(unresolved)

    def _add_event(self, function_id: str, name: str, event: Mapping[str, Any]) -> None:
        kind = event.get("Type")
        properties = event.get("Properties") or {}
        if kind == "HttpApi":
            self._add_route(function_id, properties)
        elif kind in KAFKA_SOURCES:
            self._add_kafka(function_id, name, str(kind), properties)
        elif kind in ("Schedule", "ScheduleV2"):
            self._add_schedule(function_id, name, str(kind), properties)
        else:
            self.notes.append(f"{function_id}.{name}: {kind} events are not run locally")

    def _add_route(self, function_id: str, properties: Mapping[str, Any]) -> None:
        path = self.resolver.resolve(properties.get("Path"))
        method = self.resolver.resolve(properties.get("Method"))
        authorizer = self._route_authorizer(function_id, properties)
        if path is None and method is None:
            self.routes.append(Route(function_id, "ANY", "$default", authorizer))
            return
        method = as_text(method or "ANY").upper()
        if method not in _HTTP_METHODS:
            raise TemplateError(f"{function_id}: unsupported HttpApi method {method}")
        path = as_text(path or "/")
        path = path if path.startswith("/") else "/" + path
        self.routes.append(Route(function_id, method, path, authorizer))

    def _route_authorizer(self, function_id: str, properties: Mapping[str, Any]) -> str | None:
        auth = properties.get("Auth") or {}
        api = properties.get("ApiId")
        api_id = str(api["Ref"]) if isinstance(api, dict) and "Ref" in api else "ServerlessHttpApi"
        name = auth.get("Authorizer") if isinstance(auth, dict) else None
        name = as_text(name) if name is not None else self.default_authorizers.get(api_id)
        if name is None or name == "NONE":
            return None
        if name not in self.authorizers:  # AWS_IAM, JWT: not emulated, said once per route
            self.notes.append(f"{function_id}: authorizer {name} is not checked locally")
            return None
        return name

    def _add_kafka(
        self, function_id: str, name: str, source: str, properties: Mapping[str, Any]
    ) -> None:
        if not self._enabled(properties.get("Enabled", True)):
            self.notes.append(f"{function_id}.{name}: mapping disabled (Enabled: false)")
            return
        consumer_group = self.resolver.resolve(properties.get("ConsumerGroupId"))
        config_key = (
            "SelfManagedKafkaEventSourceConfig"
            if source == "SelfManagedKafka"
            else "AmazonManagedKafkaEventSourceConfig"
        )
        source_config = self.resolver.resolve(properties.get(config_key) or {})
        consumer_group = consumer_group or source_config.get("ConsumerGroupId")
        arn = (
            self._optional_text(properties.get("Stream") or properties.get("EventSourceArn"))
            or None
        )
        self._kafka_mapping(function_id, name, source, properties, consumer_group, arn)

    def _add_event_source_mapping(self, logical_id: str, properties: Mapping[str, Any]) -> None:
        # FunctionName: !Ref Fn, !GetAtt Fn.Arn, a name or an ARN; the last segment is the id.
        function_id = (self._optional_text(properties.get("FunctionName")) or "").split(":")[-1]
        if function_id not in self.functions:
            self.notes.append(f"{logical_id}: mapping target is not a local function")
            return
        if "Topics" not in properties:
            self.notes.append(f"{logical_id}: only Kafka event source mappings are run locally")
            return
        if not self._enabled(properties.get("Enabled", True)):
            self.notes.append(f"{logical_id}: mapping disabled (Enabled: false)")
            return
        managed = "SelfManagedEventSource" not in properties
        config_key = (
            "AmazonManagedKafkaEventSourceConfig"
            if managed
            else "SelfManagedKafkaEventSourceConfig"
        )
        source_config = self.resolver.resolve(properties.get(config_key) or {})
        arn = self._optional_text(properties.get("EventSourceArn")) or None
        source = "MSK" if managed else "SelfManagedKafka"
        group = source_config.get("ConsumerGroupId")
        self._kafka_mapping(function_id, logical_id, source, properties, group, arn)

    def _kafka_mapping(
        self,
        function_id: str,
        name: str,
        source: str,
        properties: Mapping[str, Any],
        consumer_group: Any,
        arn: str | None,
    ) -> None:
        topics = self.resolver.resolve(properties.get("Topics") or [])
        topics = topics if isinstance(topics, list) else [topics]
        position = as_text(self.resolver.resolve(properties.get("StartingPosition", "LATEST")))
        if position not in _STARTING_POSITIONS:
            self.notes.append(f"{function_id}.{name}: StartingPosition {position} read as LATEST")
        window = self.resolver.resolve(properties.get("MaximumBatchingWindowInSeconds"))
        batch_size = self.resolver.resolve(properties.get("BatchSize", KAFKA_DEFAULT_BATCH_SIZE))
        self.kafka_mappings.append(
            KafkaMapping(
                function_id=function_id,
                name=name,
                source=source,
                topics=tuple(as_text(topic) for topic in topics),
                batch_size=int(as_text(batch_size)),
                batching_window_seconds=(
                    KAFKA_DEFAULT_WINDOW_SECONDS
                    if window is None or window is NO_VALUE
                    else float(as_text(window))
                ),
                starting_position=_STARTING_POSITIONS.get(position, "latest"),
                # Lambda defaults the group to the mapping's UUID; a stable name keeps offsets
                # across local restarts against a long-lived broker.
                consumer_group_id=(
                    as_text(consumer_group) if consumer_group else f"{function_id}-{name}"
                ),
                event_source_arn=arn,
            )
        )

    def _add_schedule(
        self, function_id: str, name: str, kind: str, properties: Mapping[str, Any]
    ) -> None:
        properties = self.resolver.resolve(properties)
        enabled = properties.get("Enabled", True) and properties.get("State", "ENABLED") != (
            "DISABLED"
        )
        if not self._enabled(enabled):
            self.notes.append(f"{function_id}.{name}: schedule disabled")
            return
        expression = as_text(
            properties.get("Schedule" if kind == "Schedule" else "ScheduleExpression", "")
        )
        self.schedules.append(
            Schedule(
                function_id=function_id,
                name=name,
                expression=expression,
                interval_seconds=rate_seconds(expression),
                input=properties.get("Input"),
            )
        )

    def _enabled(self, value: Any) -> bool:
        resolved = self.resolver.resolve(value)
        return as_text(resolved).lower() != "false"

    def _optional_text(self, value: Any) -> str | None:
        if value is None:
            return None
        try:
            return self.resolver.text(value)
        except Unresolvable:
            return None


def _cors_configuration(api_id: str, config: Any) -> CorsConfiguration | None:
    """A resolved CorsConfiguration; None when CORS is off. SAM reads `true` as any origin."""
    if isinstance(config, bool | str) and as_text(config).lower() in ("true", "false"):
        on = as_text(config).lower() == "true"
        return CorsConfiguration(api_id, allow_origins=("*",)) if on else None
    if not isinstance(config, dict):
        raise ValueError(f"expected true or a mapping, got {config!r}")
    max_age = config.get("MaxAge")
    return CorsConfiguration(
        api_id=api_id,
        allow_origins=_text_list(config.get("AllowOrigins")),
        allow_methods=tuple(m.upper() for m in _text_list(config.get("AllowMethods"))),
        allow_headers=_text_list(config.get("AllowHeaders")),
        expose_headers=_text_list(config.get("ExposeHeaders")),
        max_age=None if max_age is None else int(as_text(max_age)),
        allow_credentials=as_text(config.get("AllowCredentials", False)).lower() == "true",
    )


def _text_list(value: Any) -> tuple[str, ...]:
    """A list property: a YAML list (a CommaDelimitedList Ref inside it is flattened), or one
    comma-separated string."""
    if value is None:
        return ()
    items = value if isinstance(value, list) else [value]
    texts: list[str] = []
    for item in items:
        texts.extend(part.strip() for part in as_text(item).split(","))
    return tuple(text for text in texts if text)


def iter_triggers(template: Template) -> Iterator[str]:
    """One human-readable line per route, mapping and schedule (for the start-up summary)."""
    for route in template.routes:
        guard = ""
        if route.authorizer:
            guard = f" (authorizer {template.authorizers[route.authorizer].function_id})"
        yield f"route     {route.route_key:<28} -> {route.function_id}{guard}"
    for mapping in template.kafka_mappings:
        yield (
            f"kafka     {','.join(mapping.topics):<28} -> {mapping.function_id} "
            f"({mapping.source}, group {mapping.consumer_group_id}, batch {mapping.batch_size}, "
            f"window {mapping.batching_window_seconds:g}s, from {mapping.starting_position})"
        )
    for schedule in template.schedules:
        unsupported = (
            "  (not run locally: only rate() is)" if schedule.interval_seconds is None else ""
        )
        yield f"schedule  {schedule.expression:<28} -> {schedule.function_id}{unsupported}"
