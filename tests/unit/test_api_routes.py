"""The HTTP API's routes in template.yaml against the API's own router, and where API Gateway sends
a request no route of the API takes (as the local gateway, which follows AWS's precedence, does):
to ApiFunction, without the organisers' authorizer, while preflights stay the gateway's."""

from __future__ import annotations

import pytest

from sam_emulator.apigw import RouteTable, gateway_answers_preflight
from sam_emulator.template import Route, load_template
from talkrate.api import build_app
from tests.builders import ROOT

pytestmark = pytest.mark.unit

# The methods an HTTP API route can name (ANY and OPTIONS aside); HEAD is answered as GET.
ROUTED_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
# Paths the API does not have, and paths it has, asked with every method.
PATHS = (
    "/",
    "/nope",
    "/ratingz",
    "/ratings",
    "/ratings/",
    "/voters",
    "/talks",
    "/talks/x/y",
    "/talks/flight-of-the-gopher",
    "/leaderboard/",
    "/_docs/",
    "/app-not",
)


def api_routes() -> list[Route]:
    return [
        r for r in load_template(ROOT / "template.yaml").routes if r.function_id == "ApiFunction"
    ]


def router_keys() -> set[str]:
    """The route keys of the API's router, in the template's spelling ({talkId}, not <talkId>)."""
    return {
        f"{route.method} {route.path.replace('<', '{').replace('>', '}')}"
        for route in build_app().routes
    }


def test_the_template_routes_what_the_api_answers_and_the_rest_to_it_but_not_options() -> None:
    # Given the API's router and the template's routes to ApiFunction
    declared = {route.route_key for route in api_routes()}
    # Then each route of the router is declared, HEAD beside GET (one route for every path),
    # and what no route takes has a route per method: the root and /{proxy+} (which needs a segment)
    head = {"HEAD /", "HEAD /{proxy+}", "HEAD /organiser"}
    unrouted = {f"{m} /{{proxy+}}" for m in ("GET", "POST", "PUT", "PATCH", "DELETE")}
    unrouted |= {f"{m} /" for m in ("POST", "PUT", "PATCH", "DELETE")}
    assert declared == router_keys() | head | unrouted
    # And none takes OPTIONS: an OPTIONS, ANY or $default route would take the CORS preflights
    # (with its authorizer, if any) that API Gateway answers itself, on every path
    routes = load_template(ROOT / "template.yaml").routes
    takes_options = [r for r in routes if r.method in ("OPTIONS", "ANY") or r.path == "$default"]
    assert not takes_options
    table = RouteTable(routes)
    preflight = {"origin": "https://web.example", "access-control-request-method": "DELETE"}
    for path in PATHS:
        assert gateway_answers_preflight(table, "OPTIONS", path, preflight), path


@pytest.mark.parametrize("method", ROUTED_METHODS)
def test_every_request_reaches_the_api_and_only_the_organisers_routes_ask_the_authorizer(
    method: str,
) -> None:
    # Given the template's routes, as API Gateway matches them
    table = RouteTable(load_template(ROOT / "template.yaml").routes)
    guarded = {"POST /talks", "PUT /talks/{talkId}", "DELETE /talks/{talkId}", "GET /organiser"}
    guarded |= {"HEAD /organiser"}
    for path in PATHS:
        # When a request comes in for any path, with any method a route can name
        match = table.match(method, path)
        # Then ApiFunction gets it (to answer 404 or 405 itself where it has no route), and the
        # authorizer runs for the organisers' routes only, never for what no route takes
        assert match is not None, (method, path)
        assert match.route.function_id == "ApiFunction"
        guard = match.route.authorizer is not None
        assert guard == (match.route.route_key in guarded), (method, path, match.route.route_key)
    # And the routes that exist keep their requests: the catch-alls take only the rest
    assert table.match("PUT", "/talks/x").route.route_key == "PUT /talks/{talkId}"  # type: ignore[union-attr]
    assert table.match("GET", "/talks").route.route_key == "GET /talks"  # type: ignore[union-attr]
