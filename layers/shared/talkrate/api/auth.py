"""Admin access: the Lambda authorizer identifies the caller, the API decides and explains.

API Gateway HTTP APIs cannot shape their own 401/403 bodies, so the authorizer (functions/
authorizer) never rejects: it checks the bearer token and passes its verdict in the request
context, and the admin routes answer 401 or 403 as problem+json.
"""

from __future__ import annotations

from typing import Any

from talkrate.errors import NotAllowed, NotAuthenticated


def require_admin(authorizer_context: dict[str, Any] | None) -> None:
    """Raise unless the authorizer vouched for the admin token."""
    context = authorizer_context or {}
    if context.get("admin") is True:
        return
    if context.get("reason") == "invalid-token":
        raise NotAllowed
    raise NotAuthenticated
