"""Routes of the rating flow: GET /, POST /ratings, GET /ratings, GET /ratings/{eventId}."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

from talkrate import wiring
from talkrate.api.idempotency import idempotency_header
from talkrate.api.responses import ok, problems
from talkrate.api.routing import Body, Header, Path, Query, Request, Response, Router
from talkrate.config import load_settings
from talkrate.errors import (
    ExpiredVoterToken,
    IdempotencyStoreUnavailable,
    RateLimited,
    RatingsPaused,
    RatingUnknown,
    RatingWindowClosed,
    TalkNotFound,
)
from talkrate.events import (
    MAX_TALK_ID_LENGTH,
    TALK_ID_PATTERN,
    from_unix_ms,
    keyed_event_id,
    unix_ms,
)
from talkrate.observability import logger, metrics
from talkrate.rating import Rater, rating_status, read_ratings, submit_rating
from talkrate.requests import RatingBody
from talkrate.voters import identify_voter, now_utc

if TYPE_CHECKING:
    from talkrate.ports import Pingable  # an interface: the API's init defines none

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
VoterToken = Annotated[
    str | None,
    Header(
        alias="voter-token",
        min_length=1,
        max_length=200,
        description="The attendee's token from POST /voters: their newest rating of a talk "
        "counts, once. Required when the deployment's VotingPolicy is attendee. One the API "
        "cannot check yet (it is updating its keys) is answered 429 voter-keys-updating: keep "
        "it, and send the rating again with it after Retry-After.",
    ),
]
IdempotencyKey = Annotated[
    str | None,
    idempotency_header(
        "Makes a retried POST count once, however late: the same key and rating are the same event "
        "(the same eventId) and, while the service keeps the key (an hour), get the same answer; the "
        "same key with another rating is refused while the key is kept, and is a rating of its own "
        "after. Keys are the client's own: scoped to the voter token, or to the address without one. "
        "A retry whose voter token expired since the first try still gets the first try's answer "
        "(for an hour)."
    ),
]


@router.get(
    "/",
    summary="Where each backend is, and whether it answers",
    responses={
        **ok(
            "Index",
            "Whether each backend answers; outside prod also where it is (host, port "
            "and database only)",
        ),
        **problems(),
    },
)
def index() -> dict[str, Any]:
    from talkrate.status import describe_backends  # (GET / only: not at the API's init)

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
        **ok("RatingAccepted", "Accepted: counted within seconds", 202, headers=["Location"]),
        # 409 request-in-progress (the Idempotency-Key's first request still runs) says when.
        **problems(400, 401, 404, 409, 413, 415, 422, 429, 503, retry_after=[409]),
    },
)
def post_rating(
    rating: Annotated[RatingBody, Body()],
    request: Request,
    voter_token: VoterToken = None,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    settings = load_settings()
    now = now_utc()
    try:
        voter_id = identify_voter(voter_token, settings.voting_policy, wiring.voter_tokens, now)
    except ExpiredVoterToken as expired:
        # A pass that expired after it sent this rating: its retry gets the first run's answer
        # (the voter is known from the signature; nothing runs, nothing more counts). Anything
        # else under an expired pass is refused, as before.
        replayed = _answer_of_a_retry(expired.voter_id, idempotency_key, rating)
        if replayed is None:
            raise
        return _accepted(replayed)
    rater = Rater(voter_id, request.client_address(wiring.edge_secret()))
    if idempotency_key is None:
        accepted = _rate(rating, rater, now)
    else:
        scope = idempotency_scope(voter_id, rater.address)
        # The request's own event id: a retry that Redis no longer remembers (flushed,
        # restarted empty, the record expired) publishes the same event, which counts once.
        event_id = keyed_event_id(scope, idempotency_key, rating.talk_id, rating.value)
        try:
            # Every run under the key rates as its first did: the same event id and time, so
            # a first run that wrote before it failed (or died) and its retry count once.
            accepted = wiring.idempotent_requests().once(
                f"{scope}:{idempotency_key}",
                rating.document(),
                lambda first: _rate(rating, rater, *_event_of(first)),
                request.context,
                attempt=_attempt(now, event_id),
                refusals=NOTHING_WRITTEN,
            )
        except IdempotencyStoreUnavailable:
            # Nothing ran. A voter's rating goes on under its own event id, without the
            # record (a retry counts once: the same event); a rating without a voter is
            # refused (503): nothing would answer a key reused for another rating.
            if voter_id is None:
                raise
            logger.warning("idempotency store unreachable: rating taken without its key")
            metrics.add_metric(name="IdempotencyBypassed", unit="Count", value=1)
            accepted = _rate(rating, rater, now, event_id)
    return _accepted(accepted)


def _accepted(accepted: dict[str, Any]) -> Response:
    return Response(
        202,
        "application/json",
        json.dumps(accepted),
        headers={"Location": accepted["links"]["status"]},
    )


def _answer_of_a_retry(
    voter_id: str, idempotency_key: str | None, rating: RatingBody
) -> dict[str, Any] | None:
    """The answer recorded for the voter's rating under this key and body, if there is one."""
    if idempotency_key is None:
        return None
    try:
        return wiring.idempotent_requests().answer(
            f"{idempotency_scope(voter_id, None)}:{idempotency_key}", rating.document()
        )
    except IdempotencyStoreUnavailable:
        return None


# What a rating's run raises when it wrote nothing (refused before publishing): a retry under
# its Idempotency-Key is then a new rating, at its own time.
NOTHING_WRITTEN = (TalkNotFound, RatingWindowClosed, RatingsPaused, RateLimited)


def _attempt(now: datetime, event_id: str) -> dict[str, Any]:
    """A rating's first run under an Idempotency-Key: its event's id and time (milliseconds).
    (A record of an earlier release holds a version 7 id: its retries keep that one.)"""
    return {"eventId": event_id, "at": unix_ms(now)}


def _event_of(attempt: dict[str, Any]) -> tuple[datetime, str]:
    """The time and event id a run rates with: its first run's."""
    return from_unix_ms(int(attempt["at"])), str(attempt["eventId"])


def _rate(
    request: RatingBody, rater: Rater, now: datetime, event_id: str | None = None
) -> dict[str, Any]:
    try:
        submission = submit_rating(
            request,
            rater,
            wiring.rating_rules(),
            wiring.talk_catalog(),
            wiring.api_publisher(),
            wiring.outbox(),
            wiring.request_limiter(),
            now,
            event_id,
            forgotten_voters=wiring.event_store(),  # asked only when Redis cannot say
        )
    except RateLimited:
        metrics.add_metric(name="RatingRateLimited", unit="Count", value=1)
        raise
    metrics.add_metric(name="RatingAccepted", unit="Count", value=1)
    if submission.status == "queued":
        metrics.add_metric(name="RatingQueued", unit="Count", value=1)
    event = submission.event
    return {
        "rating": {"talkId": event.talk_id, "value": event.value},
        "eventId": event.event_id,
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
        **ok("TalkRatingsOut", "The histogram; stats when StatsFunction answered"),
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
        wiring.rebuild_requests(),
    )
    return ratings.document()


@router.get(
    "/ratings/<eventId>",
    summary="Where a rating is: queued, accepted or projected",
    responses={**ok("RatingStatus", "The rating's status"), **problems(400, 404, 503)},
)
def get_rating_status(
    event_id: Annotated[uuid.UUID, Path(alias="eventId", description="From the 202.")],
) -> dict[str, Any]:
    key = str(event_id)
    status = rating_status(key, wiring.event_store(), wiring.outbox(), wiring.read_model())
    if status is None:
        raise RatingUnknown(key)
    return {"eventId": key, "status": status}


def idempotency_scope(voter_id: str | None, address: str | None) -> str:
    """Whose Idempotency-Key it is: another voter (or address) using the same key sends another
    request, not a replay of this one. An IPv6 address is bracketed: with its colons bare,
    `2001:db8::1` with key `5:k` and `2001:db8::1:5` with key `k` would share a record (an IPv4
    address, colon-free, keeps the form records were written in before)."""
    if voter_id:
        return f"voter:{voter_id}"
    return f"address:[{address}]" if address and ":" in address else f"address:{address}"
