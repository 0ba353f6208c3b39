"""Admin access: the Lambda authorizer identifies the caller, the API decides and explains.

API Gateway HTTP APIs cannot shape their own 401/403 bodies, so the authorizer (functions/
authorizer) never rejects: it checks the bearer token and passes its verdict in the request
context, and the routes that declare security answer 401 or 403 as problem+json
(talkrate.api.routing.Api guards them, once per request).
"""

from __future__ import annotations

from datetime import UTC, datetime

from talkrate.api.routing import Request, Route
from talkrate.errors import NotAllowed, NotAuthenticated
from talkrate.observability import logger


def require_admin(request: Request) -> None:
    """Raise unless the authorizer vouched for the admin token."""
    context = request.authorizer or {}
    if context.get("admin") is True:
        return
    if context.get("reason") == "invalid-token":
        raise NotAllowed
    raise NotAuthenticated


def audit_admin_write(request: Request, route: Route, status: int) -> None:
    """One log line per request to an admin route: who (the token's fingerprint, never the
    token), what (method, route, path), when, and how it ended; `admin read` for a GET (the
    organiser check), `admin write` for the others."""
    context = request.authorizer or {}
    logger.info(
        "admin read" if request.method == "GET" else "admin write",
        extra={
            "audit": True,
            "tokenFingerprint": context.get("fingerprint"),
            "admin": context.get("admin") is True,
            "method": request.method,
            "route": route.path,
            "path": request.path,
            "status": status,
            "at": datetime.now(UTC).isoformat(timespec="milliseconds"),
        },
    )
