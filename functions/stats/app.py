"""StatsFunction: statistics of a rating histogram, invoked directly or through its function URL.

Deliberately free of Powertools and pydantic: this function's cold start is the stats module only.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from talkrate.errors import DuplicateKey, InvalidHistogram, unique_keys
from talkrate.problems import problem_payload
from talkrate.stats import MAX_COUNT, compute_stats, parse_histogram

MAX_BODY_BYTES = 16 * 1024
# Digits of the longest count worth converting: past MAX_COUNT's, a number is refused as a count
# (Python would refuse one of 4,300 digits as if the JSON were broken).
COUNT_DIGITS = len(str(MAX_COUNT))


def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    request = event.get("requestContext") if isinstance(event, dict) else None
    if isinstance(request, dict) and isinstance(request.get("http"), dict):
        return _function_url(event)
    return compute_stats(parse_histogram(event))


def _function_url(event: dict[str, Any]) -> dict[str, Any]:
    if event["requestContext"]["http"].get("method") != "POST":
        # A function URL takes every method and path: a GET is most likely someone who took
        # this URL for the API's (talkrate --api), and is told what this is.
        return problem_payload(
            405,
            "method-not-allowed",
            "Method not allowed",
            'this is the stats function: it takes a POST of {"ratings": {"1": n, ..., "5": n}}',
            headers={"Allow": "POST"},
        )
    body = event.get("body") or ""
    try:
        # Bytes, as the limit says: 9,000 "é" are 9,000 characters and 18 KB.
        data = base64.b64decode(body) if event.get("isBase64Encoded") else body.encode()
        if len(data) > MAX_BODY_BYTES:
            raise InvalidHistogram(f"the body must be at most {MAX_BODY_BYTES} bytes")
        parsed = json.loads(data.decode(), parse_int=_count, object_pairs_hook=unique_keys)
        stats = compute_stats(parse_histogram(parsed))
    except DuplicateKey as error:
        # ({"1": 5, "1": 0}: a count is not guessed, as POST /ratings refuses such a body)
        detail = f"the key {error.key!r} is given more than once"
        return problem_payload(400, "invalid-histogram", "Invalid histogram", detail)
    except (InvalidHistogram, ValueError, RecursionError) as error:
        # RecursionError: JSON nested deeper than the parser's stack.
        detail = str(error) if isinstance(error, InvalidHistogram) else "the body is not valid JSON"
        return problem_payload(400, "invalid-histogram", "Invalid histogram", detail)
    return {
        "statusCode": 200,
        "headers": {"content-type": "application/json"},
        "body": json.dumps(stats),
    }


def _count(text: str) -> int:
    """A JSON integer; one longer than any count is MAX_COUNT + 1, which the histogram refuses
    as a count out of range."""
    return int(text) if len(text.lstrip("-")) <= COUNT_DIGITS else MAX_COUNT + 1
