"""The HTTP API event source: the template's routes on 127.0.0.1:3000, like `sam local start-api`.

Each request becomes a payload format 2.0 event for the route's function, and the function's answer
becomes the response as API Gateway would make it. With the HttpApi's CorsConfiguration, the gateway
answers CORS preflights itself and adds the CORS headers to the other responses, as API Gateway
does. Under /_docs it serves Swagger UI of docs/openapi.json, unless a route of the template is
under that prefix (a catch-all such as `GET /{proxy+}` or `$default` leaves it to the page); a dev
stack's static sites (events.static: a web app under its prefix, as a CDN in front of a bucket
serves it) answer their prefix before the routes.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final
from urllib.parse import urlsplit

from sam_emulator.apigw import (
    FORBIDDEN,
    INTERNAL_ERROR,
    NOT_FOUND,
    SERVICE_UNAVAILABLE,
    TOO_LARGE,
    UNAUTHORIZED,
    HttpRequest,
    HttpResponse,
    RouteMatch,
    RouteTable,
    authorizer_verdict,
    build_authorizer_event,
    build_event,
    gateway_answers_preflight,
    json_response,
    map_response,
    new_request_id,
    preflight_response,
    with_cors,
)
from sam_emulator.console import console, display
from sam_emulator.docs_ui import DOCS_PREFIX, DocsSite
from sam_emulator.events import EventSource, Options
from sam_emulator.events.static import StaticSite
from sam_emulator.lambda_.pool import STOPPED_ERROR, Invocation, Invoker
from sam_emulator.plugins import Services
from sam_emulator.serving import BackgroundServer, BadRequest, BodyTooLarge, BoundedHandler
from sam_emulator.template import CorsConfiguration, LambdaAuthorizer, Route, Template

# An HTTP method: a token of RFC 9110 (5.6.2).
_METHOD_TOKEN: Final = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# Control characters, escaped in the access line: a request path's raw ESC or NUL bytes would
# otherwise reach the operator's terminal (rewriting lines, hiding text) and the log.
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _printable(text: str) -> str:
    """`text` with each control character as \\xNN."""
    return _CONTROL.sub(lambda found: f"\\x{ord(found.group()):02x}", text)


# API Gateway's HTTP API payload limit; Lambda's synchronous invoke payload limit.
MAX_REQUEST_BYTES: Final = 10 * 1024 * 1024
MAX_EVENT_BYTES: Final = 6 * 1024 * 1024


class GatewayServer(BackgroundServer):
    """The local API Gateway: a route table and a way to invoke functions."""

    label = "gateway"

    def __init__(
        self,
        host: str,
        port: int,
        routes: Iterable[Route],
        invoke: Invoker,
        authorizers: Mapping[str, LambdaAuthorizer] | None = None,
        cors: CorsConfiguration | None = None,
        docs: DocsSite | None = None,
        sites: Iterable[StaticSite] = (),
        function_timeouts: Mapping[str, float] | None = None,
    ) -> None:
        super().__init__(host, port, _GatewayHandler)
        self.routes = RouteTable(routes)
        self.invoke = invoke
        # Each function's Timeout in seconds: one that may outlast its route's integration
        # timeout is waited for only that long (unknown: as if it might).
        self.function_timeouts = dict(function_timeouts or {})
        self.authorizers = dict(authorizers or {})
        self.cors = cors
        self.docs = docs
        self.sites = tuple(sites)
        self.response_headers: tuple[tuple[str, str], ...] = ()

    @property
    def docs_route(self) -> Route | None:
        """The template's route that takes /_docs/ requests instead of the docs page, if any."""
        match = self.routes.match("GET", f"{DOCS_PREFIX}/")
        return match.route if match and self.names_docs(match) else None

    @staticmethod
    def names_docs(match: RouteMatch | None) -> bool:
        """Whether a matched route is one of the docs prefix's own (`GET /_docs/{file}`), which
        the page yields to; a catch-all (`/{proxy+}`, `$default`) is not."""
        return match is not None and DocsSite.owns(match.route.path)

    def event_for(self, request: HttpRequest, match: RouteMatch, request_id: str) -> Any:
        """The event the matched route's function receives."""
        return build_event(request, match, request_id)

    def refusal(self, request: HttpRequest) -> HttpResponse | None:
        """The answer AWS gives such a request before any function runs, if it refuses it."""
        return None


class _GatewayHandler(BoundedHandler):
    server: GatewayServer
    max_body_bytes = MAX_REQUEST_BYTES
    server_version = "sam-emulator"
    _docs_page = False  # this request's answer is the docs page's (its own headers)

    def do_GET(self) -> None:
        self._handle()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    def __getattr__(self, name: str) -> Any:
        # Any other method token (TRACE, PROPFIND, M-SEARCH, "get": methods are case-sensitive)
        # is routed like API Gateway does: no route declares it, so 404, where http.server would
        # answer 501. What is not a token is a malformed request (400, see send_error).
        if name.startswith("do_") and _METHOD_TOKEN.fullmatch(name[3:]):
            return self._handle
        raise AttributeError(name)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # one access line per request is written by _handle instead

    def _handle(self) -> None:
        with self.server.answering():
            self._answer()

    def _answer(self) -> None:
        started = time.perf_counter()
        request_id = new_request_id()
        self._docs_page = False
        cors = self.server.cors
        request_headers = {name.lower(): value for name, value in self.headers.items()}
        preflight = False
        try:
            path = urlsplit(self.path).path or "/"
            if cors is not None and gateway_answers_preflight(
                self.server.routes, self.command, path, request_headers
            ):
                self.read_body()  # whatever it carries, the connection stays in step
                response, preflight = preflight_response(cors, request_headers), True
            else:
                response = self._respond(request_id)
            close = False
        except BodyTooLarge:
            response, close = TOO_LARGE, True  # the body was not read: the connection is unusable
        except BadRequest:
            response, close = json_response(400, {"message": "Bad Request"}), True
        if cors is not None and not preflight:
            response = with_cors(response, cors, request_headers)
        if self.server.response_headers and not self._docs_page:
            response = _with_headers(response, self.server.response_headers)
        headers = [*response.headers, ("apigw-requestid", request_id)]
        self.send_bytes(response.status, headers, response.body, close=close)
        elapsed = (time.perf_counter() - started) * 1000
        console(
            f"[{self.server.label}] {self.command} {_printable(self.path)} {response.status} "
            f"{elapsed:.1f} ms"
        )

    def _respond(self, request_id: str) -> HttpResponse:
        body = self.read_body()
        target = urlsplit(self.path)  # also accepts absolute-form targets
        raw_path = target.path or "/"
        for site in self.server.sites:  # a prefix served from a folder, before the routes
            if site.owns(raw_path):
                headers = {name.lower(): value for name, value in self.headers.items()}
                answer = site.respond(self.command, raw_path, headers)
                return HttpResponse(answer.status, answer.headers, answer.body)
        match = self.server.routes.match(self.command, raw_path)
        docs = self.server.docs
        if docs is not None and docs.owns(raw_path) and not self.server.names_docs(match):
            self._docs_page = True  # its own headers (a CSP for the docs viewer)
            return docs.respond(self.command, raw_path)
        if match is None:
            return NOT_FOUND
        request = HttpRequest(
            method=self.command,
            raw_path=raw_path,
            raw_query=target.query,
            headers=list(self.headers.items()),
            body=body,
            source_ip=self.client_address[0],
            protocol=self.request_version,
        )
        if (refused := self.server.refusal(request)) is not None:
            return refused
        event = self.server.event_for(request, match, request_id)
        if len(json.dumps(event, ensure_ascii=False).encode()) > MAX_EVENT_BYTES:  # UTF-8 bytes
            return TOO_LARGE  # Lambda would refuse the invoke: answered as too large, not a 5xx
        if match.route.authorizer:
            refused = self._authorize(self.server.authorizers[match.route.authorizer], event)
            if refused is not None:
                return refused
        result = self._invoke_within(match.route, event)
        if result is None:
            return SERVICE_UNAVAILABLE
        if result.ok:
            return map_response(result.payload)
        return _failed(result)

    def _invoke_within(self, route: Route, event: dict[str, Any]) -> Invocation | None:
        """The route's function invoked, or None when its integration timed out first: API
        Gateway then answers 503 itself while the function runs on (to its own Timeout)."""
        limit_ms = route.timeout_ms
        function_timeout = self.server.function_timeouts.get(route.function_id)
        if limit_ms is None or (
            function_timeout is not None and function_timeout * 1000 <= limit_ms
        ):
            return self.server.invoke(route.function_id, event)
        outcome: list[Invocation] = []
        invocation = threading.Thread(
            target=lambda: outcome.append(self.server.invoke(route.function_id, event)),
            name=f"invoke-{route.function_id}",
            daemon=True,
        )
        invocation.start()
        invocation.join(limit_ms / 1000)
        if outcome:
            return outcome[0]
        console(
            f"[{self.server.label}] {route.route_key}: no answer from {route.function_id} "
            f"within the integration timeout ({limit_ms / 1000:g} s): 503"
        )
        return None

    def _authorize(
        self, authorizer: LambdaAuthorizer, event: dict[str, Any]
    ) -> HttpResponse | None:
        """Run the route's Lambda authorizer as API Gateway does; None lets the request through
        (with the authorizer's context in the event), else the gateway's own answer."""
        authorizer_event, complete = build_authorizer_event(event, authorizer.identity_sources)
        if not complete:
            return UNAUTHORIZED  # an identity source is missing: the authorizer is not called
        result = self.server.invoke(authorizer.function_id, authorizer_event)
        if not result.ok:
            return _failed(result)
        allowed, context = authorizer_verdict(result.payload, authorizer.simple_responses)
        if not allowed:
            return FORBIDDEN
        event["requestContext"]["authorizer"] = {"lambda": context}
        return None


def _with_headers(response: HttpResponse, headers: Sequence[tuple[str, str]]) -> HttpResponse:
    """The response with `headers` set, over any of the same name."""
    names = {name.lower() for name, _ in headers}
    kept = [(name, value) for name, value in response.headers if name.lower() not in names]
    return HttpResponse(response.status, [*kept, *headers], response.body)


def _failed(result: Invocation) -> HttpResponse:
    """What the gateway answers for an invocation that failed: 500, or 503 when the runtime's
    stop refused or ended it (the request may be tried again once it runs again), in API
    Gateway's own shape."""
    stopped = (result.error or {}).get("errorType") == STOPPED_ERROR
    return SERVICE_UNAVAILABLE if stopped else INTERNAL_ERROR


class HttpApi:
    """The HttpApi routes of the template behind one local API Gateway (an event source)."""

    def __init__(self, template: Template, options: Options, invoke: Invoker) -> None:
        try:
            self.server = GatewayServer(
                options.host,
                options.port,
                template.routes,
                invoke,
                template.authorizers,
                cors=template.cors,
                docs=DocsSite.beside(template.directory),
                function_timeouts={
                    function_id: spec.timeout_seconds
                    for function_id, spec in template.functions.items()
                },
            )
        except OSError as error:
            raise OSError(
                f"HTTP API cannot listen on {options.host}:{options.port}: {error}"
            ) from error
        self.url = f"http://{options.host}:{self.server.port}"
        self._template = template

    def start(self, services: Services) -> None:
        """Serve requests, with the dev stack's static sites (a web app) beside the routes."""
        self.server.sites = tuple(services.sites)
        self.server.response_headers = tuple(services.response_headers)
        self.server.start("gateway")

    def stop(self) -> None:
        """Stop accepting requests."""
        self.server.stop()

    def join(self, timeout: float) -> None:
        """Requests in flight end with their invocation."""

    def answered(self, timeout: float) -> bool:
        """Whether every request read has been answered (written to its client), waiting up
        to `timeout` seconds: once its function has ended, a request's answer is still to be
        mapped and written."""
        return self.server.answered(timeout)

    def summary(self) -> list[str]:
        """The routes, the CORS configuration and where the docs are."""
        template = self._template
        lines = []
        for route in template.routes:
            guard = ""
            if route.authorizer:
                guard = f" (authorizer {template.authorizers[route.authorizer].function_id})"
            lines.append(f"route     {route.route_key:<28} -> {route.function_id}{guard}")
        cors = template.cors
        lines.append(
            f"cors      {cors.describe()}"
            if cors
            else "cors      none (no CorsConfiguration: OPTIONS is routed like any method)"
        )
        lines.extend(
            f"site      {self.url}{site.prefix}/  ({display(site.folder)}, deep links to "
            f"{site.entry})"
            for site in self.server.sites
        )
        return lines + self._docs_lines()

    def _docs_lines(self) -> list[str]:
        docs = self.server.docs
        shadow = self.server.docs_route
        if docs is None:
            return []
        if shadow is not None:
            return [f"docs      not served: {shadow.route_key} takes {DOCS_PREFIX}/"]
        if docs.ui_version is None:
            return [
                f"docs      {self.url}{DOCS_PREFIX}/openapi.json  (Swagger UI is not installed: "
                "pip install swagger-ui-bundle-v2)"
            ]
        spec = display(docs.spec_file)
        missing = "" if docs.spec_file.is_file() else ", missing"
        return [
            f"docs      {self.url}{DOCS_PREFIX}/  (Swagger UI {docs.ui_version} of {spec}{missing})"
        ]


def bind(template: Template, options: Options, invoke: Invoker) -> Sequence[EventSource]:
    """The HTTP API, listening."""
    return [HttpApi(template, options, invoke)]
