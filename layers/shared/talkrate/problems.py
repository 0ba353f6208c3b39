"""RFC 9457 problem details: the one shape of every error the API answers."""

from __future__ import annotations

from typing import Any

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
