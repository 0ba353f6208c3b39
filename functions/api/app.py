"""ApiFunction: the HTTP API behind API Gateway (HTTP API, payload 2.0)."""

from __future__ import annotations

import json
import re
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from talkrate import wiring
from talkrate.config import load_settings
from talkrate.errors import (
    BackendUnavailable,
    IdempotencyKeyReused,
    RatingNotStored,
    RequestInProgress,
    TalkNotFound,
)
from talkrate.models import RatingRequest, TalkQuery
from talkrate.observability import logger, metrics
from talkrate.problems import PROBLEM_CONTENT_TYPE, field_errors, problem
from talkrate.rating import read_ratings, submit_rating
from talkrate.status import Pingable, describe_backends

MAX_BODY_BYTES = 16 * 1024
IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")  # printable ASCII, no spaces
app = APIGatewayHttpResolver()


@app.get("/")
def index() -> dict[str, Any]:
    backends: dict[str, Pingable] = {
        "talks": wiring.talk_catalog(),
        "ratings": wiring.read_model(),
        "streams": wiring.rating_publisher(),
    }
    return describe_backends(load_settings(), backends)


@app.post("/ratings")
def post_rating() -> Response[str]:
    body = app.current_event.decoded_body or ""
    if len(body.encode()) > MAX_BODY_BYTES:
        return _problem(413, "body-too-large", "Body too large", f"at most {MAX_BODY_BYTES} bytes")
    if not body.strip():
        return _problem(400, "empty-body", "Empty body", 'send {"talkId": "...", "value": 1-5}')
    request = RatingRequest.model_validate_json(body)
    key = app.current_event.headers.get("idempotency-key")
    if key is None:
        accepted = _rate(request)
    elif not IDEMPOTENCY_KEY.match(key):
        return _problem(
            400,
            "invalid-idempotency-key",
            "Invalid Idempotency-Key",
            "use 1 to 255 printable ASCII characters without spaces",
        )
    else:
        accepted = wiring.idempotent_requests().once(
            key, request.model_dump(by_alias=True), lambda: _rate(request)
        )
    return Response(202, "application/json", json.dumps(accepted))


def _rate(request: RatingRequest) -> dict[str, Any]:
    submission = submit_rating(
        request, wiring.talk_catalog(), wiring.rating_publisher(), wiring.outbox()
    )
    metrics.add_metric(name="RatingAccepted", unit="Count", value=1)
    if submission.status == "queued":
        metrics.add_metric(name="RatingQueued", unit="Count", value=1)
    event = submission.event
    return {
        "rating": {"talkId": event.talk_id, "value": event.value},
        "eventId": str(event.event_id),
        "status": submission.status,
    }


@app.get("/ratings")
def get_ratings() -> dict[str, Any]:
    query = TalkQuery.model_validate(app.current_event.query_string_parameters or {})
    ratings = read_ratings(
        query.talk_id,
        wiring.talk_catalog(),
        wiring.read_model(),
        wiring.event_store(),
        wiring.stats_calculator(),
    )
    return ratings.model_dump(by_alias=True, exclude_none=True)


@app.exception_handler(ValidationError)
def invalid_request(error: ValidationError) -> Response[str]:
    if any(e["type"] == "json_invalid" for e in error.errors()):
        return _problem(400, "malformed-json", "Malformed JSON", "the body is not valid JSON")
    if any(e["type"] == "model_type" for e in error.errors()):
        return _problem(400, "malformed-body", "Malformed body", "the body must be a JSON object")
    status = 400 if app.current_event.http_method == "GET" else 422
    return _problem(
        status,
        "validation",
        "Invalid request",
        "some fields are invalid",
        errors=field_errors(error),
    )


@app.exception_handler(TalkNotFound)
def talk_not_found(error: TalkNotFound) -> Response[str]:
    return _problem(404, "talk-not-found", "Talk not found", str(error))


@app.exception_handler(IdempotencyKeyReused)
def idempotency_key_reused(_: IdempotencyKeyReused) -> Response[str]:
    return _problem(
        422,
        "idempotency-key-reused",
        "Idempotency-Key reused",
        "this Idempotency-Key was used for a different rating",
    )


@app.exception_handler(RequestInProgress)
def request_in_progress(_: RequestInProgress) -> Response[str]:
    return _problem(
        409,
        "request-in-progress",
        "Request in progress",
        "a request with this Idempotency-Key is still being processed; retry shortly",
        headers={"Retry-After": "1"},
    )


@app.exception_handler(BackendUnavailable)
def backend_unavailable(error: BackendUnavailable) -> Response[str]:
    logger.warning("backend unavailable", exc_info=error)
    return _problem(
        503,
        "unavailable",
        "Service unavailable",
        "try again shortly",
        headers={"Retry-After": str(RatingNotStored.retry_after_seconds)},
    )


@app.exception_handler(RatingNotStored)
def rating_not_stored(error: RatingNotStored) -> Response[str]:
    logger.error("rating not stored", exc_info=error)
    return _problem(
        503,
        "rating-not-stored",
        "Rating not stored",
        "the rating could not be stored; it was not counted, retry it",
        headers={"Retry-After": str(RatingNotStored.retry_after_seconds)},
    )


@app.exception_handler(Exception)
def unexpected(error: Exception) -> Response[str]:
    logger.exception("unexpected error")
    return _problem(500, "internal", "Internal error", "the error was logged")


@app.not_found
def route_not_found(_: Exception) -> Response[str]:
    return _problem(404, "not-found", "Not found", "no such route")


def _problem(
    status: int,
    slug: str,
    title: str,
    detail: str,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response[str]:
    body = json.dumps(problem(status, slug, title, detail, **extra))
    return Response(status, PROBLEM_CONTENT_TYPE, body, headers=headers)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
