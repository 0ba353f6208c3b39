"""RFC 9457 problem details: the one shape of every error any function answers.

`problem` builds the document; `problem_payload` the whole HTTP answer (API Gateway payload 2.0,
also what a function URL takes). The API, the stats function URL and the early refusals of
`talkrate.api.handle` all answer through them.
"""

from __future__ import annotations

import json
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


def problem_payload(
    status: int,
    slug: str,
    title: str,
    detail: str,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A whole problem+json answer as a Lambda proxy response (payload 2.0, function URLs)."""
    return {
        "statusCode": status,
        "headers": {"Content-Type": PROBLEM_CONTENT_TYPE, **(headers or {})},
        "body": json.dumps(problem(status, slug, title, detail, **extra)),
        "isBase64Encoded": False,
    }
