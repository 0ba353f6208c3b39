"""Routes of the catalog: GET /talks, GET /talks/{talkId}, admin POST/PUT/DELETE, the leaderboard."""

from __future__ import annotations

import json
from typing import Annotated, Any
from urllib.parse import urlencode

from talkrate import wiring
from talkrate.api.routing import Body, Path, Query, Response, Router
from talkrate.api.schemas import LeaderboardOut, TalkOut, TalkPageOut, ok, problems
from talkrate.catalog import (
    RatedTalk,
    add_talk,
    find_talks,
    leaderboard,
    remove_talk,
    replace_talk,
    talk_details,
)
from talkrate.leaderboard import PRIOR_MEAN, PRIOR_WEIGHT
from talkrate.live import channel_for_talk
from talkrate.models import (
    MAX_TALK_ID_LENGTH,
    TALK_ID_PATTERN,
    NewTalk,
    RatingWindow,
    Talk,
    TalkFields,
)

router = Router()

TalkIdPath = Annotated[
    str,
    Path(
        alias="talkId",
        min_length=1,
        max_length=MAX_TALK_ID_LENGTH,
        pattern=TALK_ID_PATTERN,
    ),
]
TrackQuery = Annotated[
    str | None, Query(min_length=1, max_length=100, description="Only this track.")
]
ADMIN_ONLY: list[dict[str, list[str]]] = [{"bearerAuth": []}]


def _talk_document(talk: Talk) -> dict[str, Any]:
    """A talk as every route answers it: its fields, its live channel, and when its rating
    window closes (its end plus the grace; None when it never closes)."""
    closes = RatingWindow(talk.starts_at, talk.ends_at).closes_at(wiring.rating_rules().grace)
    return {
        **talk.model_dump(by_alias=True, mode="json"),
        "channel": channel_for_talk(talk.id),
        "ratingClosesAt": None if closes is None else closes.isoformat().replace("+00:00", "Z"),
    }


def _talk_out(rated: RatedTalk) -> dict[str, Any]:
    body = _talk_document(rated.talk)
    if rated.summary is not None:
        body["summary"] = rated.summary.model_dump(mode="json")
    return body


@router.get(
    "/talks",
    summary="Browse and search the programme",
    responses={
        **ok(TalkPageOut, "A page of talks, each with its count and average"),
        **problems(400, 503),
    },
)
def get_talks(
    q: Annotated[
        str | None,
        Query(min_length=1, max_length=100, description="Words of the title or a speaker's name."),
    ] = None,
    track: TrackQuery = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> dict[str, Any]:
    page = find_talks(wiring.talk_catalog(), wiring.read_model(), q, track, limit, offset)
    following = offset + limit
    query = {k: v for k, v in {"q": q, "track": track, "limit": limit}.items() if v is not None}
    return {
        "items": [_talk_out(t) for t in page.talks],
        "total": page.total,
        "limit": limit,
        "offset": offset,
        "links": {"next": f"/talks?{urlencode({**query, 'offset': following})}"}
        if following < page.total
        else {},
    }


@router.get(
    "/talks/<talkId>",
    summary="A talk and its rating summary",
    responses={**ok(TalkOut, "The talk"), **problems(400, 404, 503)},
)
def get_talk(talk_id: TalkIdPath) -> dict[str, Any]:
    return _talk_out(talk_details(wiring.talk_catalog(), wiring.read_model(), talk_id))


@router.post(
    "/talks",
    summary="Add a talk (admin)",
    responses={**ok(TalkOut, "Created", 201), **problems(400, 401, 403, 409, 413, 415, 422, 503)},
    security=ADMIN_ONLY,
)
def post_talk(talk: Annotated[NewTalk, Body()]) -> Response:
    created = add_talk(wiring.talk_catalog(), talk)
    return Response(
        201,
        "application/json",
        json.dumps(_talk_document(created)),
        headers={"Location": f"/talks/{created.id}"},
    )


@router.put(
    "/talks/<talkId>",
    summary="Create or replace a talk (admin)",
    responses={
        **ok(TalkOut, "Replaced"),
        **ok(TalkOut, "Created", 201),
        **problems(400, 401, 403, 413, 415, 422, 503),
    },
    security=ADMIN_ONLY,
)
def put_talk(talk_id: TalkIdPath, fields: Annotated[TalkFields, Body()]) -> Response:
    created = replace_talk(wiring.talk_catalog(), talk_id, fields)
    return Response(
        201 if created else 200,
        "application/json",
        json.dumps(_talk_document(Talk(id=talk_id, **fields.model_dump()))),
        headers={"Location": f"/talks/{talk_id}"},
    )


@router.delete(
    "/talks/<talkId>",
    summary="Remove a talk (admin); its ratings stay in the event store",
    responses={204: {"description": "Removed"}, **problems(400, 401, 403, 404, 503)},
    security=ADMIN_ONLY,
)
def delete_talk(talk_id: TalkIdPath) -> Response:
    remove_talk(wiring.talk_catalog(), wiring.read_model(), talk_id)
    return Response(204, None, "")


@router.get(
    "/leaderboard",
    summary="The best talks by Bayesian average",
    responses={**ok(LeaderboardOut, "Best first"), **problems(400, 503)},
)
def get_leaderboard(
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
    track: TrackQuery = None,
) -> dict[str, Any]:
    ranked = leaderboard(wiring.talk_catalog(), wiring.read_model(), limit, track)
    return {
        "talks": [
            {
                "rank": r.rank,
                "talkId": r.talk.id,
                "title": r.talk.title,
                "track": r.talk.track,
                "score": round(r.score, 4),
                "count": r.summary.count,
                "avg": r.summary.avg,
            }
            for r in ranked
        ],
        "track": track,
        "prior": {"mean": PRIOR_MEAN, "weight": PRIOR_WEIGHT},
    }
