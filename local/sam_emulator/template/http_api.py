"""HTTP APIs: AWS::Serverless::HttpApi resources (Lambda authorizers, CorsConfiguration) and the
HttpApi events of functions (routes)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Final

from sam_emulator.template.intrinsics import NO_VALUE, Unresolvable, as_text
from sam_emulator.template.reader import Reader, SourceParser, TemplateError

_HTTP_METHODS: Final = frozenset(
    {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY"}
)
# An HTTP API's integration timeout: its default and its most (TimeoutInMillis: 50 to 30,000).
INTEGRATION_TIMEOUT_MS: Final = 30_000


@dataclass(frozen=True)
class Route:
    """An HttpApi route: `GET /ratings`, `ANY /{proxy+}` or `$default`, and the name of the
    Lambda authorizer in front of it, if any."""

    function_id: str
    method: str
    path: str
    authorizer: str | None = None
    # How long API Gateway waits for the function (TimeoutInMillis, 30 s at most) before it
    # answers 503 itself; None where nothing waits less than the function (a function URL).
    timeout_ms: int | None = None

    @property
    def route_key(self) -> str:
        """The routeKey API Gateway puts in the event."""
        return "$default" if self.path == "$default" else f"{self.method} {self.path}"


@dataclass(frozen=True)
class LambdaAuthorizer:
    """An HttpApi Lambda authorizer (Auth.Authorizers.<name> with a FunctionArn)."""

    name: str
    function_id: str
    payload_version: str = "2.0"
    simple_responses: bool = False
    identity_sources: tuple[str, ...] = ()


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


class HttpApiParser(SourceParser):
    """Collects routes, Lambda authorizers and the CORS configuration of the HTTP APIs."""

    event_types = frozenset({"HttpApi"})
    resource_types = frozenset({"AWS::Serverless::HttpApi"})

    def __init__(self) -> None:
        self.routes: list[Route] = []
        self.authorizers: dict[str, LambdaAuthorizer] = {}
        self.cors: CorsConfiguration | None = None
        self._default_authorizers: dict[str, str] = {}  # HttpApi logical id -> authorizer name

    def read_resource(self, reader: Reader, logical_id: str, resource: Mapping[str, Any]) -> None:
        """An HttpApi's Lambda authorizers, its default one, and its CorsConfiguration."""
        properties = resource.get("Properties") or {}
        cors = properties.get(
            "CorsConfiguration", reader.globals("HttpApi").get("CorsConfiguration")
        )
        if cors is not None:
            self._add_cors(reader, logical_id, cors)
        auth = properties.get("Auth") or {}
        for name, config in (auth.get("Authorizers") or {}).items():
            config = config if isinstance(config, dict) else {}
            self._add_authorizer(reader, logical_id, str(name), config)
        if auth.get("DefaultAuthorizer"):
            self._default_authorizers[logical_id] = as_text(auth["DefaultAuthorizer"])

    def read_event(
        self,
        reader: Reader,
        function_id: str,
        name: str,
        kind: str,
        properties: Mapping[str, Any],
    ) -> None:
        """An HttpApi event: a route (no Path and no Method: `$default`)."""
        path = reader.resolve(properties.get("Path"))
        method = reader.resolve(properties.get("Method"))
        authorizer = self._route_authorizer(reader, function_id, properties)
        timeout = reader.resolve(properties.get("TimeoutInMillis"))
        timeout_ms = INTEGRATION_TIMEOUT_MS if timeout is None else int(as_text(timeout))
        timeout_ms = min(max(timeout_ms, 50), INTEGRATION_TIMEOUT_MS)
        if path is None and method is None:
            self.routes.append(Route(function_id, "ANY", "$default", authorizer, timeout_ms))
            return
        method = as_text(method or "ANY").upper()
        if method not in _HTTP_METHODS:
            raise TemplateError(f"{function_id}: unsupported HttpApi method {method}")
        path = as_text(path or "/")
        path = path if path.startswith("/") else "/" + path
        self.routes.append(Route(function_id, method, path, authorizer, timeout_ms))

    def _add_cors(self, reader: Reader, api_id: str, config: Any) -> None:
        try:
            # SAM takes an intrinsic as the whole CorsConfiguration (an !If of a condition, a
            # mapping or AWS::NoValue): CloudFormation resolves it in the API's body, where
            # AWS::NoValue leaves no CORS configuration, as no property would.
            resolved = reader.resolve(config)
            if resolved is NO_VALUE:
                return
            cors = _cors_configuration(api_id, resolved)
        except (Unresolvable, ValueError, TypeError) as error:
            reader.note(f"{api_id}: CorsConfiguration not applied locally ({error})")
            return
        if cors is None:
            return
        if self.cors is not None and self.cors != replace(cors, api_id=self.cors.api_id):
            # One local gateway serves every HttpApi's routes, so it has one CORS configuration.
            reader.note(
                f"{api_id}: CorsConfiguration ignored locally; {self.cors.api_id}'s applies"
            )
            return
        if "*" in cors.allow_origins and cors.allow_credentials:
            reader.note(f"{api_id}: API Gateway refuses AllowCredentials with AllowOrigins '*'")
        self.cors = self.cors or cors

    def _add_authorizer(
        self, reader: Reader, api_id: str, name: str, config: Mapping[str, Any]
    ) -> None:
        target = config.get("FunctionArn")
        if target is None:
            reader.note(f"{api_id}.{name}: JWT authorizers are not checked locally")
            return
        if isinstance(target, dict) and "Fn::GetAtt" in target:
            function_id = str(target["Fn::GetAtt"][0]).split(".")[0]
        else:  # a name or an ARN: the last segment
            function_id = (reader.optional_text(target) or "").split(":")[-1]
        version = as_text(reader.resolve(config.get("AuthorizerPayloadFormatVersion", "2.0")))
        identity = reader.resolve(config.get("Identity") or {})
        sources: list[str] = []
        for prefix, key in (
            ("$request.header.", "Headers"),
            ("$request.querystring.", "QueryStrings"),
        ):
            sources += [prefix + as_text(value) for value in identity.get(key) or []]
        if version != "2.0":
            reader.note(f"{api_id}.{name}: authorizer payload {version} is sent as 2.0 locally")
        simple = as_text(reader.resolve(config.get("EnableSimpleResponses", False)))
        self.authorizers[name] = LambdaAuthorizer(
            name=name,
            function_id=function_id,
            payload_version=version,
            simple_responses=simple.lower() == "true",
            identity_sources=tuple(sources),
        )

    def _route_authorizer(
        self, reader: Reader, function_id: str, properties: Mapping[str, Any]
    ) -> str | None:
        auth = properties.get("Auth") or {}
        api = properties.get("ApiId")
        api_id = str(api["Ref"]) if isinstance(api, dict) and "Ref" in api else "ServerlessHttpApi"
        name = auth.get("Authorizer") if isinstance(auth, dict) else None
        name = as_text(name) if name is not None else self._default_authorizers.get(api_id)
        if name is None or name == "NONE":
            return None
        if name not in self.authorizers:  # AWS_IAM, JWT: not emulated, said once per route
            reader.note(f"{function_id}: authorizer {name} is not checked locally")
            return None
        return name


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
