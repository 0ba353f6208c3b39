"""The OpenAPI 3.1 description, generated from the routes: `python -m talkrate.api.openapi`.

Written to docs/openapi.json and committed; a test fails when the file and the code drift apart.
Powertools writes it: each route is handed to its resolver with the same parameters, in
Powertools' terms. Its resolver and OpenAPI models cost ~350 ms of imports, paid here only.
"""

from __future__ import annotations

import inspect
import json
import sys
from typing import TYPE_CHECKING, Annotated, Any, Union

from talkrate.api import build_app
from talkrate.api.cross_site import SAFE_METHODS
from talkrate.api.responses import with_cross_site_refusal
from talkrate.api.routing import Response, Route
from talkrate.requests import union_members

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

_POWERTOOLS_DEFAULTS = ("HTTPValidationError", "ResponseValidationError", "ValidationError")


TITLE = "talkrate"
VERSION = "1.0.0"
DESCRIPTION = (
    "Rate conference talks in real time. Ratings are accepted with 202 and counted within "
    "seconds; every error of the routes is application/problem+json (RFC 9457), and no answer "
    "may be stored by a cache (Cache-Control: no-store).\n\n"
    "A path the API does not have is a problem+json 404 (urn:talkrate:problem:not-found) "
    "whatever the method; a method its path does not take is a problem+json 405 "
    "(urn:talkrate:problem:method-not-allowed) with an Allow header naming those it takes "
    "(HEAD wherever GET is).\n\n"
    "API Gateway answers some requests itself, before any route, with an application/json "
    'body `{"message": "..."}`: 404 for an OPTIONS (the API allows no other origin unless '
    "the stack's CorsAllowOrigin names one: then it answers that origin's CORS preflights "
    "itself, 204) and for a method no route can name (TRACE), 413 for a request "
    "over 10 MB, 429 over the API's throttling (without Retry-After: wait a second or more), "
    "500 or 503 when the function failed or timed out.\n\n"
    "A request that changes something (any method but GET, HEAD and OPTIONS) which a browser "
    "sends for a page of another site is refused with a problem+json 403 "
    "(urn:talkrate:problem:cross-site-request) before its body is read: Sec-Fetch-Site "
    "cross-site or same-site, or, from a browser without Fetch Metadata, Origin null, or "
    "over HTTPS an Origin with a POST of a text or form body (no preflight needed), unless "
    "its Origin is the one the stack's CorsAllowOrigin names (* any). Clients that are not "
    "browsers send neither header and are never refused so; the web app is on the API's own "
    "origin."
)


def document() -> str:
    """The OpenAPI document as stable, indented JSON."""
    from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
    from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer, Server

    app = APIGatewayHttpResolver(enable_validation=True)
    for route in build_app().routes:
        _describe(app, route)
    app.configure_openapi(
        title=TITLE,
        version=VERSION,
        description=DESCRIPTION,
        servers=[Server(url="/")],
        security_schemes={"bearerAuth": HTTPBearer(description="The admin token.")},
    )
    schema = json.loads(app.get_openapi_json_schema(openapi_version="3.1.0"))
    for operations in schema["paths"].values():
        for operation in operations.values():
            # Powertools documents a 422 of its own on every route; ours are problem+json and
            # only body validation answers 422, so its default is dropped where it stands.
            default = operation["responses"].get("422", {}).get("content", {})
            if "application/json" in default:
                del operation["responses"]["422"]
            # 204 has no body; Powertools gives it the handler's return type all the same.
            operation["responses"].get("204", {}).pop("content", None)
    schemas = schema["components"]["schemas"]
    for name in _POWERTOOLS_DEFAULTS:  # each only refers to those after it
        others = {k: v for k, v in schema.items() if k != "components"}
        others["schemas"] = {k: v for k, v in schemas.items() if k != name}
        if f"#/components/schemas/{name}" not in json.dumps(others):
            schemas.pop(name, None)
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def _describe(app: APIGatewayHttpResolver, route: Route) -> None:
    """Register `route` with Powertools, for its description only: never called."""
    from aws_lambda_powertools.event_handler import Response as PowertoolsResponse
    from aws_lambda_powertools.event_handler.openapi import params

    documented = {
        "path": params.Path,
        "query": params.Query,
        "header": params.Header,
        "body": params.Body,
    }
    parameters = [
        inspect.Parameter(
            parameter.name,
            inspect.Parameter.KEYWORD_ONLY,
            default=parameter.default,
            annotation=Annotated[_documented(kind), documented[param.source](**param.options)],
        )
        for parameter, kind, param in route.params()
        if param is not None
    ]
    returns = route.hints["return"]

    def operation(**_: Any) -> Any:
        raise NotImplementedError(route.handler.__name__)

    operation.__name__ = route.handler.__name__  # Powertools names the operation after it
    operation.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        parameters, return_annotation=PowertoolsResponse[str] if returns is Response else returns
    )
    responses = route.responses
    if route.method not in SAFE_METHODS:
        responses = with_cross_site_refusal(responses)
    app.route(
        route.path,
        route.method,
        summary=route.summary,
        responses=_with_documents(responses),
        security=route.security,
    )(operation)


def _documented(kind: Any) -> Any:
    """The type the document shows for a parameter: a body checked without pydantic is shown as
    the model it follows (talkrate.requests)."""
    union = union_members(kind)
    if union is not None:
        return Union[tuple(_documented(k) for k in union)]  # noqa: UP007 (built from a tuple)
    shown = getattr(kind, "documented_as", None)
    return kind if shown is None else shown()


def _with_documents(responses: dict[int, Any]) -> dict[int, Any]:
    """The responses with each document named by the routes replaced by its schemas class."""
    from talkrate.api import schemas

    return {
        status: {
            **response,
            "content": {
                media: {**body, "model": getattr(schemas, body["model"])}
                for media, body in response.get("content", {}).items()
            },
        }
        if "content" in response
        else response
        for status, response in responses.items()
    }


if __name__ == "__main__":
    sys.stdout.write(document())
