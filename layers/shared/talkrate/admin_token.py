"""The admin bearer token check, in constant time (the token itself lives in Settings)."""

from __future__ import annotations

import hmac
from typing import Any

from talkrate.config import load_settings


def verdict(authorization: str | None) -> dict[str, Any]:
    """The authorizer's context for an Authorization header: admin or not, and why not.

    With no admin token configured, no token is the admin's.
    """
    if not authorization or not authorization.lower().startswith("bearer "):
        return {"admin": False, "reason": "missing-token"}
    expected = load_settings().admin_token
    presented = authorization[7:].strip()
    if expected is not None and hmac.compare_digest(
        presented.encode(), expected.get_secret_value().encode()
    ):
        return {"admin": True, "reason": "ok"}
    return {"admin": False, "reason": "invalid-token"}
