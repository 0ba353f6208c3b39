"""Routes for API Gateway HTTP API (payload 2.0) events, their parameters checked by
talkrate.requests.

This is the part of Powertools' resolver talkrate uses, answering as it did: Powertools' router and
its validation cost ~150 ms of imports at every cold start, for nine routes, and pydantic's import
and the building of its validators about 80 ms more. Routes are declared the Powertools way (a
decorator; parameters as Annotated hints naming where each comes from), and talkrate.api.openapi
hands the same routes to Powertools to write the OpenAPI document. A route can name its handler
as "module:function", imported at the route's first request: the organisers' routes, whose
bodies pydantic checks, cost a cold start nothing.
"""

from __future__ import annotations

import importlib
import inspect
import ipaddress
import json
import re
from collections.abc import Callable, Iterable, Mapping
from functools import cached_property
from typing import (
    TYPE_CHECKING,
    Annotated,
    Any,
    ClassVar,
    NamedTuple,
    get_args,
    get_origin,
    get_type_hints,
)
from urllib.parse import parse_qs, unquote_plus, unquote_to_bytes

from talkrate.errors import DuplicateKey, unique_keys
from talkrate.requests import Check, Invalid, checker

if TYPE_CHECKING:
    from talkrate.edge import EdgeSecret

Handler = Callable[..., Any]

# Where a route's path has <name>: any segment (an HTTP API hands the path decoded, so a
# segment may hold any character); what a parameter may be is its own pattern's to say (400).
_PATH_PARAMETER = re.compile(r"<(\w+)>")
_SEGMENT = r"[^/]+"
# Validation errors are reported in this order, whatever the order of the handler's parameters.
_SOURCES = ("path", "query", "header", "body")
# A query parameter named more than once is refused, as pydantic would word it (no route takes
# a list in its query: which value was meant is not guessed).
QUERY_REPEATED = "Query parameter given more than once"
# The headers the CDN in front of the API sets on each request it forwards (client_address).
EDGE_HEADER = "x-talkrate-edge"
VIEWER_HEADER = "x-talkrate-viewer"
_FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")
# A JSON escape of a UTF-16 surrogate (\ud800 to \udfff): paired, it decodes to one character.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
# What a query or path parameter is told when the client's percent-encoded bytes are not UTF-8
# (pydantic's words for bytes it cannot read as text; talkrate.api.errors says them plainly).
# API Gateway hands such bytes on as U+FFFD, where a search or a check would take them as text.
NOT_UTF8 = "Input should be a valid string, unable to parse raw data as a unicode string"
_REPLACEMENT = "\ufffd"


class Param:
    """Where a handler's parameter comes from, and its constraints (alias, bounds, pattern; named
    as pydantic's Field names them, for the OpenAPI document)."""

    source: ClassVar[str]

    def __init__(self, **options: Any) -> None:
        self.options = options

    @property
    def constraints(self) -> dict[str, Any]:
        """The options that check a value (alias and description only document it)."""
        return {k: v for k, v in self.options.items() if k not in ("alias", "description")}

    def check(self, kind: Any) -> Check:
        """What checks a value of type `kind` against the constraints."""
        return checker(kind, self.constraints)


class Path(Param):
    """A segment of the path: `<name>` in the route."""

    source = "path"


class Query(Param):
    """A query string parameter."""

    source = "query"


class Header(Param):
    """A request header (case-insensitive)."""

    source = "header"


class Body(Param):
    """The JSON body, as a whole."""

    source = "body"


class RequestValidationError(Exception):
    """The request's parameters or body do not validate; `errors` as talkrate.requests and
    pydantic report them (type, loc, msg)."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__("request validation failed")
        self.errors = errors


class UnsupportedMediaType(Exception):
    """A body route got a body in a media type it does not read."""


class RouteNotFound(Exception):
    """No route has this path, whatever the method."""


class MethodNotAllowed(Exception):
    """Routes have this path, none with this method; `allowed` names the methods they take."""

    def __init__(self, method: str, path: str, allowed: Iterable[str]) -> None:
        super().__init__(f"{method} {path}")
        self.allowed = frozenset(allowed)

    @property
    def allow(self) -> str:
        """The Allow header: the routes' methods, and HEAD wherever GET is (talkrate.api.handle
        answers HEAD as GET). Not OPTIONS: API Gateway answers only CORS preflights itself, and
        any other OPTIONS request with its own 404."""
        methods = self.allowed | ({"HEAD"} if "GET" in self.allowed else set())
        return ", ".join(sorted(methods))


class Response:
    """What a route answers; a dict returned by a handler becomes a 200 JSON response."""

    __slots__ = ("body", "content_type", "headers", "status_code")

    def __init__(
        self,
        status_code: int,
        content_type: str | None = None,
        body: str = "",
        headers: dict[str, str] | None = None,
    ) -> None:
        self.status_code = status_code
        self.content_type = content_type
        self.body = body
        self.headers = {} if headers is None else headers

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Response):
            return NotImplemented
        return self.payload() == other.payload()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Response({self.status_code!r}, {self.content_type!r}, {self.body!r})"

    def payload(self) -> dict[str, Any]:
        """The payload 2.0 response API Gateway expects."""
        headers = dict(self.headers)
        if self.content_type:
            headers.setdefault("Content-Type", self.content_type)
        return {
            "statusCode": self.status_code,
            "body": self.body,
            "isBase64Encoded": False,
            "headers": headers,
            "cookies": [],
        }


class Request:
    """The event being answered and its Lambda context; a handler asks for it by type."""

    def __init__(self, event: Mapping[str, Any], context: Any) -> None:
        self.event = event
        self.context = context

    @property
    def method(self) -> str:
        """The HTTP method, upper case."""
        return str(self.event["requestContext"]["http"]["method"]).upper()

    @property
    def path(self) -> str:
        """The path without the stage, when the stage is not `$default`."""
        stage = self.event["requestContext"]["stage"]
        path = str(self.event["rawPath"])
        return path if stage == "$default" else path[len(stage) + 1 :]

    @property
    def authorizer(self) -> dict[str, Any] | None:
        """What the Lambda authorizer put in the request context, if it ran."""
        context: dict[str, Any] | None = (
            self.event["requestContext"].get("authorizer", {}).get("lambda")
        )
        return context

    @property
    def source_ip(self) -> str | None:
        """The client's address as API Gateway saw it (requestContext.http.sourceIp)."""
        address = self.event["requestContext"].get("http", {}).get("sourceIp")
        return str(address) if address else None

    def client_address(self, edge_secret: EdgeSecret | None) -> str | None:
        """The client's address: for a request that came through the CDN (`edge_secret` vouches
        for its X-Talkrate-Edge, which CloudFront adds to every request it forwards), the
        viewer's address CloudFront set in X-Talkrate-Viewer (a viewer's own header of either
        name is overwritten there); else the address API Gateway saw.
        """
        if edge_secret is not None and edge_secret.vouches(self.headers.get(EDGE_HEADER, "")):
            viewer = _ip_address(self.headers.get(VIEWER_HEADER, ""))
            if viewer:
                return viewer
        return self.source_ip

    @cached_property
    def headers(self) -> dict[str, str]:
        """The headers, by lower-case name."""
        return {name.lower(): value for name, value in (self.event.get("headers") or {}).items()}

    @cached_property
    def _repeated(self) -> set[str]:
        raw = self.event.get("rawQueryString") or ""
        return {k for k, v in parse_qs(raw, keep_blank_values=True).items() if len(v) > 1}

    @cached_property
    def undecodable(self) -> frozenset[str]:
        """The query parameters (by name) a value of which has percent-encoded bytes that are not
        UTF-8. Told from rawQueryString, which API Gateway hands on as the client sent it: its
        queryStringParameters hold U+FFFD for such bytes, as they do for a client's own U+FFFD
        (%EF%BF%BD), which is text like any other. A lone surrogate in the string (the gateway's
        JSON can carry one, escaped) is no UTF-8 either: that value is undecodable too."""
        raw = self.event.get("rawQueryString") or ""
        if "%" not in raw and raw.isascii():  # (the usual query: nothing to decode)
            return frozenset()
        names = set()
        for pair in raw.split("&"):
            name, _, value = pair.partition("=")
            try:
                unquote_to_bytes(value.replace("+", " ")).decode("utf-8")
            except UnicodeError:  # bytes that are not UTF-8, or a surrogate not encodable
                names.add(unquote_plus(name))
        return frozenset(names)

    def query(self, name: str) -> str | None:
        """A query parameter as given once; see `repeated` for one given more than once."""
        value: str | None = (self.event.get("queryStringParameters") or {}).get(name)
        return value

    def repeated(self, name: str) -> bool:
        """Whether the query names the parameter more than once. API Gateway (payload 2.0), and
        the local runtime as it does, hands its values on joined by a comma, as one value
        ("a,b" for talkId=a&talkId=b, and for talkId=a%2Cb given once): only the query as sent
        tells the two apart."""
        return name in self._repeated

    def json_body(self) -> Any:
        """The body read as JSON; None when there is none, whatever its label (an empty form
        or text is no body: the contract's 400 empty-body where a route needs one)."""
        body = self.event.get("body")
        if not body:
            return None
        media_type = self.headers.get("content-type", "").strip()
        if media_type.startswith(_FORMS):
            # talkrate.api.handle reads every non-empty body as JSON or refuses it: a form here
            # was not labelled again by it, and holds no fields.
            return {}
        if media_type and not media_type.startswith("application/json"):
            raise UnsupportedMediaType(media_type)
        # RFC 8259 lets a parser ignore a byte order mark, which some clients write.
        body = body.removeprefix("\ufeff")
        try:
            parsed = json.loads(body, object_pairs_hook=unique_keys, parse_int=_bounded_int)
        except DuplicateKey as error:
            # Two parsers may read {"value": 5, "value": 1} as either: neither is guessed.
            raise RequestValidationError(
                [
                    {
                        "type": "duplicate_key",
                        "loc": ("body", error.key),
                        "msg": "Duplicate key: the object names it more than once",
                        "input": {},
                    }
                ]
            ) from error
        except (ValueError, RecursionError) as error:
            # ValueError: not JSON;
            # RecursionError: arrays or objects nested deeper than the parser's stack.
            loc = ("body", getattr(error, "pos", 0))
            raise RequestValidationError(
                [{"type": "json_invalid", "loc": loc, "msg": "JSON decode error", "input": {}}]
            ) from error
        if _SURROGATE_ESCAPE.search(body) and not _unicode(parsed):
            raise RequestValidationError(
                [
                    {
                        "type": "string_unicode",
                        "loc": ("body",),
                        "msg": "Input should be valid Unicode text (an unpaired surrogate)",
                        "input": {},
                    }
                ]
            )
        return parsed


# Python reads an integer of at most 4,300 digits (a guard against quadratic parsing); JSON sets
# no bound. A longer one is well-formed JSON too: it is read as 10**4000 of its sign, a number
# out of every field's range (422 where it stands, as for 4,000 nines), not as malformed JSON.
_LONGEST_INTEGER_READ = 4000
_TOO_LONG: int = 10**_LONGEST_INTEGER_READ


def _bounded_int(digits: str) -> int:
    if len(digits) <= _LONGEST_INTEGER_READ:
        return int(digits)
    return -_TOO_LONG if digits.startswith("-") else _TOO_LONG


def _unicode(parsed: Any) -> bool:
    """Whether every string of a parsed JSON document is Unicode text: "\\ud800" alone decodes
    to a lone surrogate, which no UTF-8 store, hash or log takes."""
    try:
        json.dumps(parsed, ensure_ascii=False).encode()
    except (UnicodeEncodeError, RecursionError):  # too deep to tell: refused as well
        return False
    return True


def _ip_address(value: str) -> str | None:
    """The IP address a header names, in its canonical text, or None."""
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


class _Parameter(NamedTuple):
    name: str
    source: str
    alias: str
    default: Any
    check: Check

    @property
    def required(self) -> bool:
        return self.default is inspect.Parameter.empty


class Route:
    """One method and path, its handler, and what the OpenAPI document says about it."""

    def __init__(
        self,
        method: str,
        path: str,
        target: Handler | str,  # the handler, or "module:function" to import at first request
        summary: str,
        responses: dict[int, Any],
        security: list[dict[str, list[str]]] | None = None,
    ) -> None:
        self.method = method
        self.path = path
        self.target = target
        self.summary = summary
        self.responses = responses
        self.security = security
        rule = _PATH_PARAMETER.sub(lambda name: f"(?P<{name[1]}>{_SEGMENT})", path)
        self.pattern = re.compile(f"^{rule}$")

    def __repr__(self) -> str:
        return f"Route({self.method} {self.path})"

    @cached_property
    def handler(self) -> Handler:
        """The function that answers the route."""
        if not isinstance(self.target, str):
            return self.target
        module, _, name = self.target.partition(":")
        found: Handler = getattr(importlib.import_module(module), name)
        return found

    @property
    def dynamic(self) -> bool:
        """Whether the path has parameters (static paths are matched first)."""
        return self.pattern.groups > 0

    @cached_property
    def hints(self) -> dict[str, Any]:
        """The handler's type hints, Annotated metadata kept."""
        return get_type_hints(self.handler, include_extras=True)

    def params(self) -> Iterable[tuple[inspect.Parameter, type[Any], Param | None]]:
        """Each parameter of the handler with its type and, for an HTTP one, where it comes from."""
        for parameter in inspect.signature(self.handler).parameters.values():
            hint = self.hints[parameter.name]
            if get_origin(hint) is Annotated:
                kind, *metadata = get_args(hint)
                yield parameter, kind, next(m for m in metadata if isinstance(m, Param))
            else:
                yield parameter, hint, None

    @cached_property
    def _parameters(self) -> list[_Parameter]:
        # Built at a route's first request: a cold start pays only for the routes it serves.
        found = [
            _Parameter(
                name=parameter.name,
                source=param.source,
                alias=param.options.get("alias", parameter.name),
                default=parameter.default,
                check=param.check(kind),
            )
            for parameter, kind, param in self.params()
            if param is not None
        ]
        return sorted(found, key=lambda p: _SOURCES.index(p.source))

    @cached_property
    def _request_parameter(self) -> str | None:
        return next((p.name for p, kind, _ in self.params() if kind is Request), None)

    def __call__(self, request: Request, path_values: dict[str, str]) -> Response:
        """Validate the request against the handler's parameters and call it."""
        values: dict[str, Any] = {}
        errors: list[dict[str, Any]] = []
        for parameter in self._parameters:
            loc: tuple[str, ...] = (parameter.source, parameter.alias)
            undecodable = False
            if parameter.source == "path":
                value: Any = path_values.get(parameter.alias)
                # An HTTP API hands the path decoded, bytes that are not UTF-8 as U+FFFD: what
                # a client meant cannot be told, so a path never names the character itself.
                undecodable = value is not None and _REPLACEMENT in value
            elif parameter.source == "query":
                if request.repeated(parameter.alias):  # neither value is guessed
                    errors.append({"type": "query_repeated", "loc": loc, "msg": QUERY_REPEATED})
                    continue
                value = request.query(parameter.alias)
                undecodable = parameter.alias in request.undecodable
            elif parameter.source == "header":
                value = request.headers.get(parameter.alias.lower())
            else:
                loc = ("body",)
                value = request.json_body()
            if undecodable:
                errors.append({"type": "string_unicode", "loc": loc, "msg": NOT_UTF8})
                continue
            if value is None:
                if parameter.required:
                    errors.append({"type": "missing", "loc": loc, "msg": "Field required"})
                else:
                    values[parameter.name] = parameter.default
                continue
            try:
                values[parameter.name] = parameter.check(value)
            except Invalid as error:
                errors.extend({**e, "loc": loc + tuple(e["loc"])} for e in error.errors)
        if errors:
            raise RequestValidationError(errors)
        if self._request_parameter is not None:
            values[self._request_parameter] = request
        result = self.handler(**values)
        if isinstance(result, Response):
            return result
        return Response(200, "application/json", json.dumps(result, separators=(",", ":")))


class Router:
    """Routes declared with decorators, as with Powertools' Router."""

    def __init__(self) -> None:
        self.routes: list[Route] = []

    def route(
        self,
        method: str,
        path: str,
        summary: str,
        responses: dict[int, Any],
        security: list[dict[str, list[str]]] | None = None,
    ) -> Callable[[Handler], Handler]:
        """Register the decorated function as the handler of `method path`."""

        def register(handler: Handler) -> Handler:
            self.routes.append(Route(method, path, handler, summary, responses, security))
            return handler

        return register

    def later(
        self,
        method: str,
        path: str,
        target: str,
        summary: str,
        responses: dict[int, Any],
        security: list[dict[str, list[str]]] | None = None,
    ) -> None:
        """Register `target` ("module:function") as the handler of `method path`, imported at the
        route's first request."""
        self.routes.append(Route(method, path, target, summary, responses, security))

    def get(
        self, path: str, summary: str, responses: dict[int, Any]
    ) -> Callable[[Handler], Handler]:
        """A GET route."""
        return self.route("GET", path, summary, responses)

    def post(
        self,
        path: str,
        summary: str,
        responses: dict[int, Any],
        security: list[dict[str, list[str]]] | None = None,
    ) -> Callable[[Handler], Handler]:
        """A POST route."""
        return self.route("POST", path, summary, responses, security)

    def put(
        self,
        path: str,
        summary: str,
        responses: dict[int, Any],
        security: list[dict[str, list[str]]] | None = None,
    ) -> Callable[[Handler], Handler]:
        """A PUT route."""
        return self.route("PUT", path, summary, responses, security)

    def delete(
        self,
        path: str,
        summary: str,
        responses: dict[int, Any],
        security: list[dict[str, list[str]]] | None = None,
    ) -> Callable[[Handler], Handler]:
        """A DELETE route."""
        return self.route("DELETE", path, summary, responses, security)


class Api:
    """The routes of several routers, and the one mapping of errors to responses.

    A route that declares security (`security=` on its decorator, as the OpenAPI document shows
    it) is guarded once, here, before its parameters are read: `guard` raises to refuse the
    request. `audit` hears of every request to such a route, with its status.
    """

    def __init__(
        self,
        routers: Iterable[Router],
        problem: Callable[[Exception], Response],
        guard: Callable[[Request], None] | None = None,
        audit: Callable[[Request, Route, int], None] | None = None,
    ):
        self.routes = [route for router in routers for route in router.routes]
        # Static paths first, so /talks/new would win over /talks/<talkId>.
        self._matching_order = sorted(self.routes, key=lambda route: route.dynamic)
        self._problem = problem
        self._guard = guard
        self._audit = audit

    def unrouted(self, event: Mapping[str, Any]) -> dict[str, Any] | None:
        """The answer to a request no route takes (404, or 405 with Allow), before anything reads
        its body or asks for a token; None when a route takes it."""
        try:
            self._match(Request(event, None))
        except Exception as error:  # RouteNotFound, MethodNotAllowed; else resolve's own 500
            return self._problem(error).payload()
        return None

    def resolve(self, event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        """Answer one payload 2.0 event."""
        request = Request(event, context)
        route: Route | None = None
        try:
            route, path_values = self._match(request)
            if route.security and self._guard is not None:
                # Before validation: a caller without the token learns nothing of the body rules.
                self._guard(request)
            response = route(request, path_values)
        except Exception as error:
            response = self._problem(error)
        if route is not None and route.security and self._audit is not None:
            self._audit(request, route, response.status_code)
        return response.payload()

    def _match(self, request: Request) -> tuple[Route, dict[str, str]]:
        method, path = request.method, request.path
        for route in self._matching_order:
            # fullmatch: `$` alone would also match before a final line break ("/ratings\n").
            if route.method == method and (match := route.pattern.fullmatch(path)):
                # An HTTP API hands rawPath percent-decoded already (a talk id's %3A comes as
                # ":"): decoding it again would read a client's "%253A" as ":", another id.
                return route, match.groupdict()
        allowed = {route.method for route in self.routes if route.pattern.fullmatch(path)}
        if allowed:
            raise MethodNotAllowed(method, path, allowed)
        raise RouteNotFound(f"{method} {path}")
