"""The HTTP API: Powertools' resolver with validation and OpenAPI, routes in two routers."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.models import (
    HTTPBearer,
    Server,
)

from talkrate.api import errors, ratings, talks
from talkrate.api.auth import require_admin
from talkrate.errors import NotAllowed, NotAuthenticated
from talkrate.problems import PROBLEM_CONTENT_TYPE, problem

MAX_BODY_BYTES = 16 * 1024
TITLE = "talkrate"
VERSION = "1.0.0"
DESCRIPTION = (
    "Rate conference talks in real time. Ratings are accepted with 202 and counted within "
    "seconds; every error is application/problem+json (RFC 9457)."
)


def build_app() -> APIGatewayHttpResolver:
    """The resolver with every route, the body limit, the error mapping and the OpenAPI info."""
    app = APIGatewayHttpResolver(enable_validation=True)
    app.include_router(ratings.router)
    app.include_router(talks.router)
    errors.register(app)
    app.configure_openapi(
        title=TITLE,
        version=VERSION,
        description=DESCRIPTION,
        servers=[Server(url="/")],
        security_schemes={"bearerAuth": HTTPBearer(description="The admin token.")},
    )
    return app


def handle(app: APIGatewayHttpResolver, event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Resolve one payload 2.0 event: bodies over the limit refused, HEAD answered as GET."""
    body = event.get("body") or ""
    # Checked before validation parses anything; base64 makes a body 4/3 larger.
    size = len(body) * 3 // 4 if event.get("isBase64Encoded") else len(body.encode())
    if size > MAX_BODY_BYTES:
        detail = f"the body must be at most {MAX_BODY_BYTES} bytes"
        return _problem_payload(413, "body-too-large", "Body too large", detail, {})
    http = event.get("requestContext", {}).get("http", {})
    if is_admin_route(http.get("method", ""), http.get("path", "")):
        # Before validation: a caller without the token learns nothing about the body rules.
        try:
            require_admin(event["requestContext"].get("authorizer", {}).get("lambda"))
        except (NotAuthenticated, NotAllowed) as error:
            return _problem_payload(*errors.auth_problem(error))
    if http.get("method") == "HEAD":
        # HEAD is GET without the body: same status and headers.
        context_as_get = {**event["requestContext"], "http": {**http, "method": "GET"}}
        response = app.resolve({**event, "requestContext": context_as_get}, context)
        return {**response, "body": "", "isBase64Encoded": False}
    return app.resolve(event, context)


def is_admin_route(method: str, path: str) -> bool:
    """The catalog's write routes: the ones behind AdminAuthorizer in template.yaml."""
    return method in {"POST", "PUT", "DELETE"} and (path == "/talks" or path.startswith("/talks/"))


def _problem_payload(
    status: int, slug: str, title: str, detail: str, headers: dict[str, str]
) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"Content-Type": PROBLEM_CONTENT_TYPE, **headers},
        "body": json.dumps(problem(status, slug, title, detail)),
        "isBase64Encoded": False,
    }


__all__ = ["MAX_BODY_BYTES", "Response", "build_app", "handle"]
