"""What the OpenAPI document says each route answers: its documents by name (talkrate.api.schemas
defines them, for the document only) and its problems."""

from __future__ import annotations

from typing import Any

PROBLEM_TITLES = {
    400: "Bad request",
    401: "Authentication required",
    403: "Forbidden",
    404: "Not found",
    409: "Conflict",
    412: "Precondition failed (the talk changed since it was read; nothing was changed)",
    413: "Body too large",
    415: "Unsupported media type",
    422: "Unprocessable rating",
    429: "Too many requests (Retry-After says when to try again; nothing was counted)",
    500: "Internal error (logged)",
    503: "Service unavailable",
}


def ok(document: str, description: str, status: int = 200) -> dict[int, Any]:
    """An OpenAPI success response with a JSON body: the talkrate.api.schemas class named."""
    return {
        status: {"description": description, "content": {"application/json": {"model": document}}}
    }


def problems(*statuses: int) -> dict[int, Any]:
    """OpenAPI error responses, all application/problem+json."""
    return {
        status: {
            "description": PROBLEM_TITLES[status],
            "content": {"application/problem+json": {"model": "Problem"}},
        }
        for status in (*statuses, 500)
    }
