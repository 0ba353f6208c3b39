"""RFC 9457 problem details: the one shape of every error the API answers."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

PROBLEM_CONTENT_TYPE = "application/problem+json"


def problem(status: int, slug: str, title: str, detail: str, **extra: Any) -> dict[str, Any]:
    """A problem document; `slug` names the kind of problem."""
    return {
        "type": f"urn:talkrate:problem:{slug}",
        "title": title,
        "status": status,
        "detail": detail,
        **extra,
    }


def field_errors(error: ValidationError) -> list[dict[str, str]]:
    """Pydantic errors as `[{"field", "message"}]`, naming fields as the client spelled them."""
    return [
        {
            "field": ".".join(str(part) for part in item["loc"]) or "body",
            "message": item["msg"],
        }
        for item in error.errors(include_url=False, include_input=False)
    ]
