"""The function URL event source: each function with FunctionUrlConfig on a port of its own,
every method and path going to that function (payload format 2.0, routeKey `$default`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sam_emulator.apigw import (
    HttpRequest,
    HttpResponse,
    RouteMatch,
    build_function_url_event,
    json_response,
)
from sam_emulator.events import EventSource, Options
from sam_emulator.events.http_api import GatewayServer
from sam_emulator.lambda_.pool import Invoker
from sam_emulator.plugins import Services
from sam_emulator.serving import SIGNED_ONLY_HOST
from sam_emulator.template import FunctionUrl, Route, Template


class FunctionUrlServer(GatewayServer):
    """A function URL: every method and path of its own endpoint goes to its one function."""

    def __init__(self, host: str, port: int, url: FunctionUrl, invoke: Invoker) -> None:
        super().__init__(host, port, [Route(url.function_id, "ANY", "$default")], invoke)
        self.function_url = url
        self.label = f"url {url.function_id}"

    def event_for(self, request: HttpRequest, match: RouteMatch, request_id: str) -> Any:
        """The function URL event (payload 2.0, routeKey $default, the URL's id and auth)."""
        url = self.function_url
        return build_function_url_event(request, url.function_id, url.auth_type, request_id)

    def refusal(self, request: HttpRequest) -> HttpResponse | None:
        """An AWS_IAM URL's signatures are not checked locally, but a web page's request (one
        naming its origin, as browsers do) is refused as AWS refuses it unsigned: a page cannot
        sign, and any site open beside the runtime could otherwise call the function."""
        if self.function_url.auth_type != "AWS_IAM":
            return None
        names = {name.lower() for name, _ in request.headers}
        if names & {"origin", "sec-fetch-site"}:
            return json_response(403, {"Message": "Forbidden"})
        return None


class FunctionUrlEndpoint:
    """One function's URL (an event source)."""

    def __init__(self, host: str, port: int, url: FunctionUrl, invoke: Invoker) -> None:
        try:
            self.server = FunctionUrlServer(host, port, url, invoke)
        except OSError as error:
            raise OSError(
                f"{url.function_id}'s function URL cannot listen on {host}:{port}: {error}"
            ) from error
        self.url = f"http://{host}:{self.server.port}/"

    def start(self, services: Services) -> None:
        """Serve requests."""
        self.server.start(f"url-{self.server.function_url.function_id}")

    def stop(self) -> None:
        """Stop accepting requests."""
        self.server.stop()

    def join(self, timeout: float) -> None:
        """Requests in flight end with their invocation."""

    def answered(self, timeout: float) -> bool:
        """Whether every request read has been answered, waiting up to `timeout` seconds."""
        return self.server.answered(timeout)

    def summary(self) -> list[str]:
        """Where the URL is, and what is not checked locally."""
        url = self.server.function_url
        checked = "  (AWS_IAM: signature not checked locally)" if url.auth_type == "AWS_IAM" else ""
        return [f"url       {self.url:<28} -> {url.function_id}{checked}"]


def bind(template: Template, options: Options, invoke: Invoker) -> Sequence[EventSource]:
    """One endpoint per function URL, from `options.url_port` on (0: any free ports)."""
    endpoints: list[FunctionUrlEndpoint] = []
    try:
        for index, url in enumerate(template.function_urls):
            port = options.url_port + index if options.url_port else 0
            # An IAM URL takes unsigned requests here: on loopback only (an open one is open).
            host = options.host if url.auth_type == "NONE" else SIGNED_ONLY_HOST
            endpoints.append(FunctionUrlEndpoint(host, port, url, invoke))
    except OSError:
        for endpoint in endpoints:  # the ones already bound give their ports back
            endpoint.stop()
        raise
    return endpoints
