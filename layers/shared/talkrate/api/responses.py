"""What the OpenAPI document says each route answers: its documents by name (talkrate.api.schemas
defines them, for the document only), its problems, and the headers of each."""

from __future__ import annotations

from collections.abc import Iterable
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
    422: "Unprocessable body (its fields are listed in errors)",
    429: "Too many requests (Retry-After says when to try again; nothing was counted)",
    500: "Internal error (logged)",
    503: "Service unavailable (Retry-After says when to try again)",
}

_SECONDS = {"type": "integer", "minimum": 0}
_TEXT = {"type": "string"}
HEADERS: dict[str, dict[str, Any]] = {
    "Location": {"description": "Where what was made can be read (a path).", "schema": _TEXT},
    "ETag": {
        "description": 'The talk\'s revision in quotes ("7"): send it as If-Match to change '
        "the talk only if nobody saved it since. It names the talk's fields, not its live "
        "rating summary.",
        "schema": _TEXT,
    },
    "Retry-After": {"description": "Seconds to wait before trying again.", "schema": _SECONDS},
    "WWW-Authenticate": {
        "description": "How to authenticate: Bearer (the admin token) or Voter-Token (the "
        "Voter-Token header, from POST /voters).",
        "schema": _TEXT,
    },
}
# The headers each problem carries, always (True) or only for some of its causes (False).
_PROBLEM_HEADERS: dict[int, dict[str, bool]] = {
    401: {"WWW-Authenticate": True},
    412: {"ETag": False},  # none when the talk was removed meanwhile
    429: {"Retry-After": True},
    503: {"Retry-After": True},
}


def _headers(names: dict[str, bool]) -> dict[str, Any]:
    return {name: {**HEADERS[name], "required": always} for name, always in names.items()}


def ok(
    document: str, description: str, status: int = 200, headers: Iterable[str] = ()
) -> dict[int, Any]:
    """An OpenAPI success response with a JSON body (the talkrate.api.schemas class named), and
    the headers (of HEADERS) it always carries."""
    response: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"model": document}},
    }
    if headers:
        response["headers"] = _headers(dict.fromkeys(headers, True))
    return {status: response}


def problems(*statuses: int, retry_after: Iterable[int] = ()) -> dict[int, Any]:
    """OpenAPI error responses, all application/problem+json; `retry_after` names statuses that
    carry Retry-After for some of their causes."""
    sometimes = set(retry_after)
    answers: dict[int, Any] = {}
    for status in (*statuses, 500):
        response: dict[str, Any] = {
            "description": PROBLEM_TITLES[status],
            "content": {"application/problem+json": {"model": "Problem"}},
        }
        headers = {**({"Retry-After": False} if status in sometimes else {})}
        headers.update(_PROBLEM_HEADERS.get(status, {}))
        if headers:
            response["headers"] = _headers(headers)
        answers[status] = response
    return answers


CROSS_SITE_403 = (
    "a browser's request for a page of another site (urn:talkrate:problem:cross-site-request): "
    "Sec-Fetch-Site cross-site or same-site, or Origin null, or over plain HTTP an Origin other "
    "than the request's own, from an origin other than the stack's CorsAllowOrigin"
)


def with_cross_site_refusal(responses: dict[int, Any]) -> dict[int, Any]:
    """A changing route's responses with the 403 every such route answers to another site's
    page (talkrate.api.cross_site), beside any 403 of its own."""
    if 403 in responses:
        own = responses[403]
        described = f"{own['description']} (the route's own refusal), or {CROSS_SITE_403}"
    else:
        own, described = problems(403)[403], f"Forbidden: {CROSS_SITE_403}"
    return dict(sorted({**responses, 403: {**own, "description": described}}.items()))
