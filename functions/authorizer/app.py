"""AdminAuthorizerFunction: checks the admin bearer token for the organisers' routes.

It never rejects: API Gateway HTTP APIs cannot give their own 401/403 a problem+json body, so
the verdict travels in the request context and the API answers 401 or 403 itself.
"""

from __future__ import annotations

from typing import Any

from talkrate.admin_token import verdict


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    headers = event.get("headers") or {}
    return {"isAuthorized": True, "context": verdict(headers.get("authorization"))}
