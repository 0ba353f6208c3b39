"""API Gateway HTTP API semantics, without the server: route matching, the payload format 2.0
event, and how API Gateway turns a function's answer into an HTTP response."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import secrets
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import parse_qsl, unquote

from sam_emulator.template import CorsConfiguration, Route
from sam_emulator.template.intrinsics import ACCOUNT_ID, REGION, STACK_NAME

API_ID: Final = "local"
# Content types API Gateway passes as text; any other body arrives base64-encoded.
_TEXT_TYPES: Final = frozenset(
    {"application/json", "application/javascript", "application/xml", "application/graphql"}
)
_NO_BODY_STATUSES: Final = frozenset({204, 304})


@dataclass(frozen=True)
class RouteMatch:
    """The route a request matched and the path parameters it captured."""

    route: Route
    path_parameters: dict[str, str]


@dataclass(frozen=True)
class _CompiledRoute:
    route: Route
    segments: tuple[str, ...]
    specificity: tuple[Any, ...]


class RouteTable:
    """Matches requests to routes the way API Gateway does: the most specific route wins (literal
    segments over {param}, {param} over {proxy+}, a method over ANY), then `$default`."""

    def __init__(self, routes: Iterable[Route]) -> None:
        self._routes: list[_CompiledRoute] = []
        self._default: Route | None = None
        for route in routes:
            if route.path == "$default":
                self._default = route
                continue
            segments = _segments(route.path)
            kinds = tuple(_segment_kind(segment) for segment in segments)
            greedy = bool(segments) and segments[-1].endswith("+}")
            specificity = (not greedy, kinds, route.method != "ANY")
            self._routes.append(_CompiledRoute(route, segments, specificity))

    def match(self, method: str, path: str) -> RouteMatch | None:
        """The best route for a method and a raw (still percent-encoded) path, if any."""
        best: tuple[_CompiledRoute, dict[str, str]] | None = None
        requested = _segments(path)
        for compiled in self._routes:
            if compiled.route.method not in ("ANY", method):  # methods are case-sensitive
                continue
            parameters = _match_segments(compiled.segments, requested)
            if parameters is None:
                continue
            if best is None or compiled.specificity > best[0].specificity:
                best = (compiled, parameters)
        if best is not None:
            return RouteMatch(best[0].route, best[1])
        return RouteMatch(self._default, {}) if self._default else None


def _segments(path: str) -> tuple[str, ...]:
    stripped = path[1:] if path.startswith("/") else path
    return tuple(stripped.split("/")) if stripped else ()


def _segment_kind(segment: str) -> int:
    if segment.startswith("{") and segment.endswith("+}"):
        return 0
    if segment.startswith("{") and segment.endswith("}"):
        return 1
    return 2


def _match_segments(pattern: Sequence[str], requested: Sequence[str]) -> dict[str, str] | None:
    parameters: dict[str, str] = {}
    for index, segment in enumerate(pattern):
        kind = _segment_kind(segment)
        if kind == 0:  # greedy: the rest of the path, at least one segment
            rest = requested[index:]
            if not rest or not "/".join(rest):
                return None
            parameters[segment[1:-2]] = unquote("/".join(rest))
            return parameters
        if index >= len(requested):
            return None
        if kind == 1:
            if not requested[index]:
                return None
            parameters[segment[1:-1]] = unquote(requested[index])
        elif segment != requested[index]:
            return None
    return parameters if len(pattern) == len(requested) else None


@dataclass(frozen=True)
class HttpRequest:
    """What the gateway read from the client."""

    method: str
    raw_path: str
    raw_query: str
    headers: Sequence[tuple[str, str]]
    body: bytes
    source_ip: str
    protocol: str = "HTTP/1.1"


def new_request_id() -> str:
    """An API Gateway style request id (base64 of random bytes)."""
    return base64.b64encode(secrets.token_bytes(10)).decode()


def build_event(
    request: HttpRequest, match: RouteMatch, request_id: str, now: float | None = None
) -> dict[str, Any]:
    """The payload format 2.0 event API Gateway sends for a request."""
    now = time.time() if now is None else now
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in request.headers:
        # The spaces and tabs around a value are not part of it (RFC 9110, 5.5): a parser in
        # front of the function drops them; http.server keeps the trailing ones.
        name, value = name.lower(), value.strip(" \t")
        if name == "cookie":  # cookies get their own field; each becomes one entry
            cookies.extend(part.strip() for part in value.split(";") if part.strip())
            continue
        headers[name] = f"{headers[name]},{value}" if name in headers else value
    # What API Gateway adds in front of the integration.
    forwarded = headers.get("x-forwarded-for")
    headers["x-forwarded-for"] = (
        f"{forwarded}, {request.source_ip}" if forwarded else request.source_ip
    )
    headers.setdefault("x-forwarded-proto", "http")
    headers.setdefault("x-amzn-trace-id", f"Root=1-{int(now):08x}-{secrets.token_hex(12)}")
    host = headers.get("host", "localhost")
    domain = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    headers.setdefault("x-forwarded-port", host.rsplit(":", 1)[1] if ":" in host else "80")

    # An HTTP API hands the function its path percent-decoded, in rawPath and http.path alike
    # (REST APIs and function URLs keep the encoding; rawQueryString stays encoded).
    path = unquote(request.raw_path)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": match.route.route_key,
        "rawPath": path,
        "rawQueryString": request.raw_query,
    }
    if cookies:
        event["cookies"] = cookies
    event["headers"] = headers
    query = _query_parameters(request.raw_query)
    if query:
        event["queryStringParameters"] = query
    event["requestContext"] = {
        "accountId": ACCOUNT_ID,
        "apiId": API_ID,
        "domainName": domain,
        "domainPrefix": domain.split(".", 1)[0],
        "http": {
            "method": request.method,
            "path": path,
            "protocol": request.protocol,
            "sourceIp": request.source_ip,
            "userAgent": headers.get("user-agent", ""),
        },
        "requestId": request_id,
        "routeKey": match.route.route_key,
        "stage": "$default",
        "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
        "timeEpoch": int(now * 1000),
    }
    if match.path_parameters:
        event["pathParameters"] = match.path_parameters
    if request.body:
        if _is_text(headers.get("content-type", ""), request.body):
            event["body"] = request.body.decode()
            event["isBase64Encoded"] = False
        else:
            event["body"] = base64.b64encode(request.body).decode()
            event["isBase64Encoded"] = True
    else:
        event["isBase64Encoded"] = False
    return event


def function_url_id(function_id: str) -> str:
    """The 32-character id of a function's URL (its host's first label on AWS), stable locally."""
    return hashlib.sha256(f"{STACK_NAME}/{function_id}".encode()).hexdigest()[:32]


def build_function_url_event(
    request: HttpRequest,
    function_id: str,
    auth_type: str,
    request_id: str,
    now: float | None = None,
) -> dict[str, Any]:
    """The event a function URL sends: payload format 2.0 with routeKey `$default`, the URL id as
    apiId, and for AuthType AWS_IAM the caller's identity (not checked locally)."""
    match = RouteMatch(Route(function_id, "ANY", "$default"), {})
    event = build_event(request, match, request_id, now)
    context = event["requestContext"]
    # A function URL keeps the path as the client sent it, percent-encoding and all (an HTTP
    # API decodes it): `/a%2Fb` stays one segment for the function's own router.
    event["rawPath"] = context["http"]["path"] = request.raw_path
    context["apiId"] = function_url_id(function_id)
    if auth_type == "AWS_IAM":
        role = f"{STACK_NAME}-local"
        context["authorizer"] = {
            "iam": {
                "accessKey": "LOCALACCESSKEY",
                "accountId": ACCOUNT_ID,
                "callerId": f"AROALOCAL:{role}",
                "cognitoIdentity": None,
                "principalOrgId": None,
                "userArn": f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/{role}/{role}",
                "userId": f"AROALOCAL:{role}",
            }
        }
    else:
        context["accountId"] = "anonymous"  # what AWS puts there for AuthType NONE
    return event


def build_authorizer_event(
    event: dict[str, Any], identity_sources: Sequence[str]
) -> tuple[dict[str, Any], bool]:
    """The payload 2.0 event of a Lambda authorizer for a route's event, and whether every
    identity source is present (API Gateway answers 401 without calling it otherwise)."""
    context = event["requestContext"]
    route_arn = (
        f"arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:{context['apiId']}/{context['stage']}/"
        f"{context['http']['method']}{event['rawPath']}"
    )
    values: list[str] = []
    for source in identity_sources:
        if source.startswith("$request.header."):
            value = event["headers"].get(source.removeprefix("$request.header.").lower())
        elif source.startswith("$request.querystring."):
            value = (event.get("queryStringParameters") or {}).get(
                source.removeprefix("$request.querystring.")
            )
        else:
            value = None
        if value:
            values.append(value)
    authorizer_event: dict[str, Any] = {
        "version": "2.0",
        "type": "REQUEST",
        "routeArn": route_arn,
        "identitySource": values,
        **{k: v for k, v in event.items() if k not in ("version", "body", "isBase64Encoded")},
    }
    return authorizer_event, len(values) == len(identity_sources)


def authorizer_verdict(payload: Any, simple_responses: bool) -> tuple[bool, dict[str, Any]]:
    """Whether an authorizer's answer lets the request through, and the context it passes on:
    `{"isAuthorized": bool, "context": {...}}` with simple responses, an IAM policy otherwise."""
    if not isinstance(payload, dict):
        return False, {}
    context = payload.get("context")
    context = context if isinstance(context, dict) else {}
    if simple_responses:
        return payload.get("isAuthorized") is True, context
    statements = (payload.get("policyDocument") or {}).get("Statement") or []
    effects = {str(statement.get("Effect", "")).lower() for statement in statements}
    return "allow" in effects and "deny" not in effects, context


def _query_parameters(raw_query: str) -> dict[str, str]:
    parameters: dict[str, str] = {}
    for name, value in parse_qsl(raw_query, keep_blank_values=True):
        parameters[name] = f"{parameters[name]},{value}" if name in parameters else value
    return parameters


def _is_text(content_type: str, body: bytes) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    textual = (
        media_type.startswith("text/")
        or media_type in _TEXT_TYPES
        or media_type.endswith(("+json", "+xml"))
    )
    if not textual:
        return False
    try:
        body.decode()
    except UnicodeDecodeError:
        return False
    return True


@dataclass(frozen=True)
class HttpResponse:
    """What the gateway sends back to the client."""

    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""


def json_response(status: int, value: Any) -> HttpResponse:
    """A JSON response of the gateway itself (404, 413, 500...), compact as API Gateway writes
    it: `{"message":"Not Found"}`."""
    body = json.dumps(value, separators=(",", ":")).encode()
    return HttpResponse(status, [("content-type", "application/json")], body)


NOT_FOUND: Final = json_response(404, {"message": "Not Found"})
TOO_LARGE: Final = json_response(413, {"message": "Request Entity Too Large"})
UNAUTHORIZED: Final = json_response(401, {"message": "Unauthorized"})
FORBIDDEN: Final = json_response(403, {"message": "Forbidden"})
INTERNAL_ERROR: Final = json_response(500, {"message": "Internal Server Error"})
SERVICE_UNAVAILABLE: Final = json_response(503, {"message": "Service Unavailable"})


def map_response(payload: Any) -> HttpResponse:
    """Turn a function's result into the client's response, as API Gateway does for format 2.0.

    A dict with statusCode is a response; any other JSON value is a 200 application/json body
    (a string is sent as is). A malformed response (headers that are not an object of values,
    cookies that are not a list of strings...) is a 500, as on AWS.
    """
    if not (isinstance(payload, dict) and "statusCode" in payload):
        text = payload if isinstance(payload, str) else json.dumps(payload)
        return HttpResponse(200, [("content-type", "application/json")], text.encode())
    try:
        status = int(payload["statusCode"])
        if not 100 <= status <= 599:
            raise ValueError(status)
        headers = _response_headers(payload)
        content = _response_body(payload)
    except (TypeError, ValueError, binascii.Error):
        return INTERNAL_ERROR
    return HttpResponse(status, headers, b"" if status in _NO_BODY_STATUSES else content)


def _response_headers(payload: dict[str, Any]) -> list[tuple[str, str]]:
    """The response's headers; TypeError when a field has the wrong shape (a string is not a
    list of cookies: iterated, it made one Set-Cookie a character)."""
    single = _field(payload, "headers", dict)
    multiple = _field(payload, "multiValueHeaders", dict)
    cookies = _field(payload, "cookies", list)
    headers: list[tuple[str, str]] = []
    for name, value in single.items():
        if value is not None:  # a header set to null is left out
            headers.append((str(name), _header_value(value)))
    for name, values in multiple.items():
        if not isinstance(values, list):
            raise TypeError(f"multiValueHeaders.{name} is not a list")
        headers.extend((str(name), _header_value(value)) for value in values)
    for cookie in cookies:
        if not isinstance(cookie, str):
            raise TypeError("a cookie is not a string")
        headers.append(("set-cookie", cookie))
    if any("\r" in n or "\n" in n or "\r" in v or "\n" in v for n, v in headers):
        raise ValueError("header with a line break")
    return headers


def _field(payload: dict[str, Any], name: str, kind: type) -> Any:
    """A field of a function's response: absent or null is empty, another shape a TypeError."""
    value = payload.get(name)
    if value is None:
        return kind()
    if not isinstance(value, kind):
        raise TypeError(f"{name} is not a {kind.__name__}")
    return value


def _header_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if not isinstance(value, (str, int, float)):
        raise TypeError("a header value is not a string, number or boolean")
    return str(value)


def _response_body(payload: dict[str, Any]) -> bytes:
    body = payload.get("body")
    if body is None:
        return b""
    if not isinstance(body, str):
        body = json.dumps(body)
    if payload.get("isBase64Encoded"):
        return base64.b64decode(body, validate=True)
    return body.encode()


# --- CORS, as an HttpApi's CorsConfiguration makes API Gateway behave -------------------------


def is_preflight(method: str, headers: Mapping[str, str]) -> bool:
    """A CORS preflight: OPTIONS with Origin and Access-Control-Request-Method (header names
    lower-cased). API Gateway answers one itself when no route takes the OPTIONS request."""
    return (
        method.upper() == "OPTIONS"
        and bool(headers.get("origin"))
        and bool(headers.get("access-control-request-method"))
    )


def gateway_answers_preflight(
    routes: RouteTable, method: str, path: str, headers: Mapping[str, str]
) -> bool:
    """Whether API Gateway answers this request itself as a preflight: it is one, and no route
    takes it. A route that covers OPTIONS (an OPTIONS or ANY route, `$default`) gets the request,
    with its authorizer, as on AWS."""
    return is_preflight(method, headers) and routes.match(method, path) is None


def allowed_origin(cors: CorsConfiguration, origin: str | None) -> str | None:
    """The Access-Control-Allow-Origin value for a request's Origin: `*` when any origin is
    allowed, the origin itself when it is listed, None (no CORS headers) otherwise."""
    if not origin:
        return None
    if "*" in cors.allow_origins:
        return "*"
    listed = {allowed.lower() for allowed in cors.allow_origins}
    return origin if origin.lower() in listed else None


def preflight_response(cors: CorsConfiguration, headers: Mapping[str, str]) -> HttpResponse:
    """The gateway's own answer to a preflight: 204, with the Access-Control-Allow-* headers
    when the origin is allowed and none otherwise (the browser then refuses the request).

    A `*` among the allowed methods or headers is answered with what the preflight asked for,
    which a browser accepts with and without credentials."""
    origin = allowed_origin(cors, headers.get("origin"))
    if origin is None:
        return HttpResponse(204)
    answer = [("access-control-allow-origin", origin)]
    if cors.allow_credentials:
        answer.append(("access-control-allow-credentials", "true"))
    methods = _answered(cors.allow_methods, headers.get("access-control-request-method", ""))
    if methods:
        answer.append(("access-control-allow-methods", methods))
    allow_headers = _answered(cors.allow_headers, headers.get("access-control-request-headers", ""))
    if allow_headers:
        answer.append(("access-control-allow-headers", allow_headers))
    if cors.max_age is not None:
        answer.append(("access-control-max-age", str(cors.max_age)))
    return HttpResponse(204, answer)


def with_cors(
    response: HttpResponse, cors: CorsConfiguration, headers: Mapping[str, str]
) -> HttpResponse:
    """A response as API Gateway sends it with CORS configured: the function's own CORS headers
    dropped, and for an allowed Origin, Allow-Origin (with Expose-Headers and Allow-Credentials
    when configured) added."""
    kept = [(n, v) for n, v in response.headers if not n.lower().startswith("access-control-")]
    origin = allowed_origin(cors, headers.get("origin"))
    if origin is not None:
        kept.append(("access-control-allow-origin", origin))
        if cors.allow_credentials:
            kept.append(("access-control-allow-credentials", "true"))
        if cors.expose_headers:
            kept.append(("access-control-expose-headers", ",".join(cors.expose_headers)))
    return HttpResponse(response.status, kept, response.body)


def _answered(allowed: Sequence[str], requested: str) -> str:
    if "*" in allowed:
        return requested.strip()
    return ",".join(allowed)
