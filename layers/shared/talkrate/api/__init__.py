"""The HTTP API: routes in three routers, requests checked by talkrate.requests (the organisers'
talk bodies by their pydantic models), errors as problem+json."""

from __future__ import annotations

import base64
import binascii
import sys
from typing import Any

from talkrate.api import errors, ratings, talks, voters
from talkrate.api.auth import audit_admin_write, require_admin
from talkrate.api.cross_site import SAFE_METHODS, cross_site_refusal
from talkrate.api.routing import Api, Response
from talkrate.config import load_settings
from talkrate.observability import logger
from talkrate.problems import problem_payload

MAX_BODY_BYTES = 16 * 1024


def build_app() -> Api:
    """Every route, and the one mapping of errors to problem+json."""
    return Api(
        [ratings.router, voters.router, talks.router],
        errors.problem_for,
        guard=require_admin,
        audit=audit_admin_write,
    )


def handle(app: Api, event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Resolve one payload 2.0 event: a path or method no route takes refused first (404, 405),
    then a browser's write for another site's page (403, talkrate.api.cross_site), bodies over
    the limit refused, HEAD answered as GET, and no answer stored by a cache
    (`Cache-Control: no-store`)."""
    answer = _answer(app, event, context)
    # What the live channel's thread made of organisers' earlier changes, counted into this
    # request's metrics (by this thread: the announcer's never touches them); the announcer is
    # loaded by a first organiser's write, never for it.
    if (announcer := sys.modules.get("talkrate.announcer")) is not None:
        announcer.count_unsent_changes()
    # Counts change by the second, a 404 may be created the next minute, a voter token is one
    # attendee's: nothing the API answers is for a browser, proxy or CDN to keep.
    answer["headers"] = {"Cache-Control": "no-store", **(answer.get("headers") or {})}
    return answer


def _answer(app: Api, event: dict[str, Any], context: Any) -> dict[str, Any]:
    http = event.get("requestContext", {}).get("http", {})
    head = http.get("method") == "HEAD"
    if head:
        # HEAD is GET without the body: same status and headers.
        event = {
            **event,
            "requestContext": {**event["requestContext"], "http": {**http, "method": "GET"}},
        }
    answer = _answer_routed(app, event, context)
    return {**answer, "body": "", "isBase64Encoded": False} if head else answer


def _answer_routed(app: Api, event: dict[str, Any], context: Any) -> dict[str, Any]:
    # A request for no route is told so whatever its body: the body's rules are a route's.
    unrouted = app.unrouted(event)
    if unrouted is not None:
        return unrouted
    method = event.get("requestContext", {}).get("http", {}).get("method")
    headers = event.get("headers") or {}
    if method not in SAFE_METHODS:
        # Before the body is read: such a request counts for nothing, whatever it holds.
        refusal = cross_site_refusal(method, headers, load_settings().cors_allow_origin)
        if refusal is not None:
            logger.info(
                "cross-site write refused",
                extra={"origin": str(headers.get("origin", ""))[:200], "method": method},
            )
            return problem_payload(
                403, "cross-site-request", "Cross-site request refused", refusal, {}
            )
    if method not in _TAKES_BODY:
        # A body on a GET, HEAD or DELETE means nothing to its route: ignored, never refused.
        event = {**event, "body": None, "isBase64Encoded": False}
    body = event.get("body") or ""
    # Checked before validation parses anything; base64 makes a body 4/3 larger.
    size = (
        len(body) * 3 // 4
        if event.get("isBase64Encoded")
        else len(body.encode(errors="surrogatepass"))
    )
    if size > MAX_BODY_BYTES:
        detail = f"the body must be at most {MAX_BODY_BYTES} bytes"
        return problem_payload(413, "body-too-large", "Body too large", detail, {})
    declared = str(headers.get("content-type", "")).split(";")[0].strip().lower()
    takes_body = bool(event.get("body"))
    if takes_body and declared not in _READ_AS_JSON and not _is_json(declared):
        # Every body talkrate takes is JSON; other parsers (forms, multipart) are never reached.
        return problem_payload(
            415,
            "unsupported-media-type",
            "Unsupported media type",
            "send the body as application/json",
            {},
        )
    encoding = str(headers.get("content-encoding", "")).strip().lower()
    if takes_body and encoding not in ("", "identity"):
        # A compressed body read as text would be refused as not UTF-8, or worse, not at all
        # for what it is: RFC 7694's answer names the encodings taken.
        return problem_payload(
            415,
            "unsupported-content-encoding",
            "Unsupported content encoding",
            f"send the body without Content-Encoding (not {encoding[:40]!r})",
            {"Accept-Encoding": "identity"},
        )
    if takes_body:
        text = _text_body(event)
        if text is None:
            return problem_payload(
                400, "malformed-body", "Malformed body", "the body is not UTF-8 text", {}
            )
        event = {
            **event,
            "body": text,
            "isBase64Encoded": False,
            # Read as JSON, whatever label passed above (a `+json` type is JSON by RFC 6839).
            "headers": {**headers, "content-type": "application/json"},
        }
    return app.resolve(event, context)


_TAKES_BODY = frozenset({"POST", "PUT"})
# What `curl -d` and browsers' text bodies are labelled; their JSON is read as JSON.
_READ_AS_JSON = {"", "text/plain", "application/x-www-form-urlencoded"}


def _text_body(event: dict[str, Any]) -> str | None:
    """The body as text (API Gateway base64-encodes what it takes for binary); None if not UTF-8."""
    body = event.get("body") or ""
    try:
        raw = base64.b64decode(body, validate=True) if event.get("isBase64Encoded") else None
        return raw.decode("utf-8") if raw is not None else body
    except (binascii.Error, ValueError):
        return None


def _is_json(media_type: str) -> bool:
    return media_type == "application/json" or media_type.endswith("+json")


__all__ = ["MAX_BODY_BYTES", "Response", "build_app", "handle"]
