"""Routes of the rating flow: GET /, POST /ratings, GET /ratings, GET /ratings/{eventId}."""

from __future__ import annotations

import json
import uuid
from typing import Annotated, Any

from talkrate import wiring
from talkrate.api.routing import Body, Header, Path, Query, Request, Response, Router
from talkrate.api.schemas import Index, RatingAccepted, RatingStatus, TalkRatingsOut, ok, problems
from talkrate.config import load_settings
from talkrate.errors import RatingUnknown
from talkrate.models import MAX_TALK_ID_LENGTH, TALK_ID_PATTERN, RatingRequest
from talkrate.observability import metrics
from talkrate.rating import rating_status, read_ratings, submit_rating
from talkrate.status import Pingable, describe_backends

router = Router()

TalkIdQuery = Annotated[
    str,
    Query(
        alias="talkId",
        min_length=1,
        max_length=MAX_TALK_ID_LENGTH,
        pattern=TALK_ID_PATTERN,
        description="The talk's id.",
    ),
]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="idempotency-key",
        min_length=1,
        max_length=255,
        pattern=r"^[\x21-\x7e]+$",
        description="Makes a retried POST count once: the same key and rating get the same "
        "answer; the same key with another rating is refused.",
    ),
]


@router.get(
    "/",
    summary="Where each backend is, and whether it answers",
    responses={**ok(Index, "Backends, with credentials removed"), **problems()},
)
def index() -> dict[str, Any]:
    backends: dict[str, Pingable] = {
        "talks": wiring.talk_catalog(),
        "ratings": wiring.read_model(),
        "streams": wiring.rating_publisher(),
    }
    return describe_backends(load_settings(), backends)


@router.post(
    "/ratings",
    summary="Rate a talk from 1 to 5",
    responses={
        **ok(RatingAccepted, "Accepted: counted within seconds", 202),
        **problems(400, 404, 409, 413, 415, 422, 503),
    },
)
def post_rating(
    rating: Annotated[RatingRequest, Body()],
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    if idempotency_key is None:
        accepted = _rate(rating)
    else:
        accepted = wiring.idempotent_requests().once(
            idempotency_key,
            rating.model_dump(by_alias=True),
            lambda: _rate(rating),
            request.context,
        )
    status_link = accepted["links"]["status"]
    return Response(
        202, "application/json", json.dumps(accepted), headers={"Location": status_link}
    )


def _rate(request: RatingRequest) -> dict[str, Any]:
    submission = submit_rating(
        request,
        wiring.talk_catalog(),
        wiring.rating_publisher(),
        wiring.outbox(),
        wiring.read_model(),
    )
    metrics.add_metric(name="RatingAccepted", unit="Count", value=1)
    if submission.status == "queued":
        metrics.add_metric(name="RatingQueued", unit="Count", value=1)
    event = submission.event
    rating = {"talkId": event.talk_id, "value": event.value}
    if event.voter_id is not None:
        rating["voterId"] = event.voter_id
    return {
        "rating": rating,
        "eventId": str(event.event_id),
        "status": submission.status,
        "links": {
            "status": f"/ratings/{event.event_id}",
            "ratings": f"/ratings?talkId={event.talk_id}",
        },
    }


@router.get(
    "/ratings",
    summary="A talk's histogram and statistics",
    responses={
        **ok(TalkRatingsOut, "The histogram; stats when StatsFunction answered"),
        **problems(400, 404, 503),
    },
)
def get_ratings(talk_id: TalkIdQuery) -> dict[str, Any]:
    ratings = read_ratings(
        talk_id,
        wiring.talk_catalog(),
        wiring.read_model(),
        wiring.event_store(),
        wiring.stats_calculator(),
    )
    return ratings.model_dump(by_alias=True, exclude_none=True)


@router.get(
    "/ratings/<eventId>",
    summary="Where a rating is: queued, accepted or projected",
    responses={**ok(RatingStatus, "The rating's status"), **problems(400, 404, 503)},
)
def get_rating_status(
    event_id: Annotated[uuid.UUID, Path(alias="eventId", description="From the 202.")],
) -> dict[str, Any]:
    key = str(event_id)
    status = rating_status(key, wiring.event_store(), wiring.outbox(), wiring.read_model())
    if status is None:
        raise RatingUnknown(key)
    return {"eventId": key, "status": status}
