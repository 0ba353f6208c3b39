"""Domain exceptions and validation errors mapped to problem+json, once, for every route."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)

from talkrate.errors import (
    BackendUnavailable,
    IdempotencyKeyReused,
    NotAllowed,
    NotAuthenticated,
    RatingNotStored,
    RatingUnknown,
    RequestInProgress,
    TalkConflict,
    TalkNotFound,
)
from talkrate.observability import logger
from talkrate.problems import PROBLEM_CONTENT_TYPE, problem

_NOT_AN_OBJECT = {"model_attributes_type", "dict_type", "model_type"}


def problem_response(
    status: int,
    slug: str,
    title: str,
    detail: str,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response[str]:
    """A problem+json response."""
    body = json.dumps(problem(status, slug, title, detail, **extra))
    return Response(status, PROBLEM_CONTENT_TYPE, body, headers=headers)


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(part) for part in loc[1:]] or [str(loc[0])]
    return ".".join(parts)


def invalid_request(error: RequestValidationError) -> Response[str]:
    """400 for what cannot be read at all or a bad query/path/header; 422 for bad body fields."""
    errors = error.errors()
    if any(e["type"] == "json_invalid" for e in errors):
        return problem_response(400, "malformed-json", "Malformed JSON", "the body is not JSON")
    body_level = [e for e in errors if tuple(e["loc"]) == ("body",)]
    if any(e["type"] == "missing" for e in body_level):
        return problem_response(400, "empty-body", "Empty body", "this route needs a JSON body")
    if any(e["type"] in _NOT_AN_OBJECT for e in body_level):
        return problem_response(
            400, "malformed-body", "Malformed body", "the body must be a JSON object"
        )
    in_body = all(e["loc"] and e["loc"][0] == "body" for e in errors)
    status = 422 if in_body else 400
    fields = [{"field": _field(tuple(e["loc"])), "message": e["msg"]} for e in errors]
    return problem_response(
        status, "validation", "Invalid request", "some fields are invalid", errors=fields
    )


def auth_problem(
    error: NotAuthenticated | NotAllowed,
) -> tuple[int, str, str, str, dict[str, str]]:
    """401 without a token, 403 with a wrong one."""
    if isinstance(error, NotAllowed):
        return 403, "forbidden", "Forbidden", "this token may not do that", {}
    return (
        401,
        "unauthenticated",
        "Authentication required",
        "send the admin token as Authorization: Bearer <token>",
        {"WWW-Authenticate": 'Bearer realm="talkrate"'},
    )


def register(app: APIGatewayHttpResolver) -> None:
    """Install the handlers on the resolver."""
    app.exception_handler(RequestValidationError)(invalid_request)

    @app.exception_handler(RequestUnsupportedContentType)
    def unsupported_content_type(_: RequestUnsupportedContentType) -> Response[str]:
        return problem_response(
            415,
            "unsupported-media-type",
            "Unsupported media type",
            "send the body as application/json",
        )

    @app.exception_handler(TalkNotFound)
    def talk_not_found(error: TalkNotFound) -> Response[str]:
        return problem_response(404, "talk-not-found", "Talk not found", str(error))

    @app.exception_handler(RatingUnknown)
    def rating_unknown(error: RatingUnknown) -> Response[str]:
        return problem_response(404, "rating-not-found", "Rating not found", str(error))

    @app.exception_handler(TalkConflict)
    def talk_conflict(error: TalkConflict) -> Response[str]:
        return problem_response(409, "talk-exists", "Talk exists", str(error))

    @app.exception_handler(NotAuthenticated)
    def not_authenticated(_: NotAuthenticated) -> Response[str]:
        return problem_response(
            401,
            "unauthenticated",
            "Authentication required",
            "send the admin token as Authorization: Bearer <token>",
            headers={"WWW-Authenticate": 'Bearer realm="talkrate"'},
        )

    @app.exception_handler(NotAllowed)
    def not_allowed(_: NotAllowed) -> Response[str]:
        return problem_response(403, "forbidden", "Forbidden", "this token may not do that")

    @app.exception_handler(IdempotencyKeyReused)
    def idempotency_key_reused(_: IdempotencyKeyReused) -> Response[str]:
        return problem_response(
            422,
            "idempotency-key-reused",
            "Idempotency-Key reused",
            "this Idempotency-Key was used for a different rating",
        )

    @app.exception_handler(RequestInProgress)
    def request_in_progress(_: RequestInProgress) -> Response[str]:
        return problem_response(
            409,
            "request-in-progress",
            "Request in progress",
            "a request with this Idempotency-Key is still being processed; retry shortly",
            headers={"Retry-After": "1"},
        )

    @app.exception_handler(RatingNotStored)
    def rating_not_stored(error: RatingNotStored) -> Response[str]:
        logger.error("rating not stored", exc_info=error)
        return problem_response(
            503,
            "rating-not-stored",
            "Rating not stored",
            "the rating could not be stored; it was not counted, retry it",
            headers={"Retry-After": str(RatingNotStored.retry_after_seconds)},
        )

    @app.exception_handler(BackendUnavailable)
    def backend_unavailable(error: BackendUnavailable) -> Response[str]:
        logger.warning("backend unavailable", exc_info=error)
        return problem_response(
            503,
            "unavailable",
            "Service unavailable",
            "try again shortly",
            headers={"Retry-After": str(RatingNotStored.retry_after_seconds)},
        )

    @app.exception_handler(Exception)
    def unexpected(_: Exception) -> Response[str]:
        logger.exception("unexpected error")
        return problem_response(500, "internal", "Internal error", "the error was logged")

    @app.not_found
    def route_not_found(_: Exception) -> Response[str]:
        return problem_response(404, "not-found", "Not found", "no such route")
