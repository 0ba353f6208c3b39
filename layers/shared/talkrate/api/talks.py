"""Routes of the catalog: GET /talks, GET /talks/{talkId}, admin POST/PUT/DELETE, the leaderboard,
and GET /organiser (whether a token is the organiser's, before an organiser's client writes).

The organisers' POST and PUT live in talkrate.api.talk_admin, imported at their first request:
their bodies are checked by pydantic models, which the attendees' routes never load. The catalog's
logic (talkrate.catalog) and the live channel's names (talkrate.live) are imported by the first
request that reads or changes the catalog: a container that only takes ratings never loads them
(SnapStart's snapshot holds them, as it holds the adapters).
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import urlencode

from talkrate import wiring
from talkrate.api.responses import ok, problems
from talkrate.api.routing import Header, Path, Query, Request, Response, Router
from talkrate.events import MAX_TALK_ID_LENGTH, TALK_ID_PATTERN
from talkrate.leaderboard import PRIOR_MEAN, PRIOR_WEIGHT
from talkrate.requests import PRINTABLE
from talkrate.values import ANY, Precondition, Talk, rfc3339

if TYPE_CHECKING:
    from talkrate.catalog import RatedTalk

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
    str | None,
    Query(min_length=1, max_length=100, pattern=PRINTABLE, description="Only this track."),
]
ADMIN_ONLY: list[dict[str, list[str]]] = [{"bearerAuth": []}]
# RFC 9110's If-Match / If-None-Match: "*" or a list of entity tags, each maybe weak (W/); and
# what a refusal says of a header that is neither.
ENTITY_TAGS = r'^\s*(\*|(W/)?"[\x21\x23-\x7e]*"(\s*,\s*(W/)?"[\x21\x23-\x7e]*")*)\s*$'
ENTITY_TAGS_WORDS = (
    'must be * or entity tags in double quotes, such as "3" or W/"3", separated by commas'
)
_ENTITY_TAG = re.compile(r'(W/)?"([\x21\x23-\x7e]*)"')
IfMatch = Annotated[
    str | None,
    Header(
        alias="if-match",
        max_length=1000,
        pattern=ENTITY_TAGS,
        description="Change the talk only if it is still at one of these revisions (the ETag "
        "of GET /talks/{talkId}, or the talk's revision in quotes), or, with *, only if it "
        "exists; 412 otherwise, nothing changed. Keeps one organiser's edit from silently "
        "undoing another's.",
    ),
]
IfNoneMatch = Annotated[
    str | None,
    Header(
        alias="if-none-match",
        max_length=1000,
        pattern=ENTITY_TAGS,
        description="With *, create the talk only if there is none under this id (412 "
        "otherwise, nothing changed).",
    ),
]


def _revisions(header: str, strong: bool) -> frozenset[int] | str:
    """ANY for "*", else the revisions an If-Match (strong comparison: weak tags name none) or
    If-None-Match (weak comparison) header names; a tag that is not a revision as the API writes
    it (digits, no leading zero: tags compare as text, "039" is not "39") names none."""
    if header.strip() == ANY:
        return ANY
    return frozenset(
        int(value)
        for weak, value in _ENTITY_TAG.findall(header)
        if value.isdigit()
        and len(value) <= 18
        and (value == "0" or not value.startswith("0"))
        and not (strong and weak)
    )


def precondition(if_match: str | None, if_none_match: str | None) -> Precondition | None:
    """What the request's If-Match and If-None-Match ask of the talk (None when neither)."""
    if if_match is None and if_none_match is None:
        return None
    return Precondition(
        None if if_match is None else _revisions(if_match, strong=True),
        None if if_none_match is None else _revisions(if_none_match, strong=False),
    )


def talk_document(talk: Talk) -> dict[str, Any]:
    """A talk as every route answers it: its fields, its live channel, and when its rating
    window closes (its end plus the grace; None when it never closes)."""
    from talkrate.live import channel_for_talk

    closes = talk.window.closes_at(wiring.rating_rules().grace)
    return {
        **talk.document(),
        "channel": channel_for_talk(talk.id),
        "ratingClosesAt": None if closes is None else rfc3339(closes),
    }


def _talk_out(rated: RatedTalk) -> dict[str, Any]:
    body = talk_document(rated.talk)
    if rated.summary is not None:
        body["summary"] = rated.summary.document()
    if rated.unreadable:
        body["unavailable"] = True
    return body


@router.get(
    "/talks",
    summary="Browse and search the programme",
    responses={
        **ok("TalkPageOut", "A page of talks, each with its count and average"),
        **problems(400, 503),
    },
)
def get_talks(
    q: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=100,
            pattern=PRINTABLE,
            description="Words to find, each in the title, a speaker's name, the track or the room"
            " (case, accents and apostrophes aside).",
        ),
    ] = None,
    track: TrackQuery = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> dict[str, Any]:
    # (imported at the request, as the read model's client: the API's init loads no client)
    from talkrate.adapters.cluster_client import one_request
    from talkrate.catalog import find_talks

    with one_request():  # (its reads of a cluster wait in all one call's time: the module)
        page = find_talks(
            wiring.talk_catalog(),
            wiring.read_model(),
            wiring.rebuild_requests(),
            q,
            track,
            limit,
            offset,
        )
    following = offset + limit
    query = {k: v for k, v in {"q": q, "track": track, "limit": limit}.items() if v is not None}
    body: dict[str, Any] = {
        "items": [_talk_out(t) for t in page.talks],
        "total": page.total,
        "limit": limit,
        "offset": offset,
        "links": {"next": f"/talks?{urlencode({**query, 'offset': following})}"}
        if following < page.total
        else {},
    }
    if page.rebuilding:
        body["rebuilding"] = True
    if page.unavailable:
        body["unavailable"] = True
    return body


@router.get(
    "/talks/<talkId>",
    summary="A talk and its rating summary",
    responses={**ok("TalkOut", "The talk", headers=["ETag"]), **problems(400, 404, 503)},
)
def get_talk(talk_id: TalkIdPath) -> Response:
    from talkrate.catalog import talk_details

    rated = talk_details(
        wiring.talk_catalog(),
        wiring.read_model(),
        wiring.event_store(),
        wiring.rebuild_requests(),
        talk_id,
    )
    return Response(
        200,
        "application/json",
        json.dumps(_talk_out(rated), separators=(",", ":")),
        headers={"ETag": rated.talk.etag},
    )


router.later(
    "POST",
    "/talks",
    "talkrate.api.talk_admin:post_talk",
    summary="Add a talk (admin)",
    responses={
        **ok("TalkOut", "Created", 201, headers=["Location", "ETag"]),
        **problems(400, 401, 403, 409, 413, 415, 422, 503),
    },
    security=ADMIN_ONLY,
)
router.later(
    "PUT",
    "/talks/<talkId>",
    "talkrate.api.talk_admin:put_talk",
    summary="Create or replace a talk (admin)",
    responses={
        **ok("TalkOut", "Replaced", headers=["Location", "ETag"]),
        **ok("TalkOut", "Created", 201, headers=["Location", "ETag"]),
        **problems(400, 401, 403, 412, 413, 415, 422, 503),
    },
    security=ADMIN_ONLY,
)


@router.delete(
    "/talks/<talkId>",
    summary="Remove a talk (admin); its ratings are kept, and count again if its id is added back",
    responses={204: {"description": "Removed"}, **problems(400, 401, 403, 404, 412, 503)},
    security=ADMIN_ONLY,
)
def delete_talk(talk_id: TalkIdPath, if_match: IfMatch = None) -> Response:
    from talkrate.api.announce import announce_change  # organisers' writes only
    from talkrate.catalog import remove_talk

    revision = remove_talk(
        wiring.talk_catalog(), wiring.read_model(), talk_id, precondition(if_match, None)
    )
    # Its open pages say it is no longer in the programme; the revision it had orders the
    # removal after the saves it undid, whichever message reaches them first.
    announce_change(talk_id, None, revision)
    return Response(204, None, "")


@router.route(
    "GET",
    "/organiser",
    summary="Whether the bearer token is the organiser token (admin); reads and changes nothing",
    responses={**ok("OrganiserOut", "The token is the organiser token"), **problems(401, 403)},
    security=ADMIN_ONLY,
)
def get_organiser(request: Request) -> dict[str, Any]:
    # The guard has answered 401 or 403 already for any other token: a client (the CLI's
    # import --dry-run) learns that a write would be refused without attempting one.
    return {"organiser": True, "tokenFingerprint": (request.authorizer or {}).get("fingerprint")}


def _score(ratings: dict[str, int]) -> float:
    """A place's score to four places, a tie rounded up, from its histogram's exact quotient
    (as the export writes it; round() of the float it is ranked by rounded 97/32 to 3.0312)."""
    from talkrate.stats import rounded

    count = sum(ratings.values())
    weighted = sum(int(value) * n for value, n in ratings.items())
    return rounded(round(PRIOR_MEAN * PRIOR_WEIGHT) + weighted, PRIOR_WEIGHT + count)


@router.get(
    "/leaderboard",
    summary="The best talks by Bayesian average",
    responses={**ok("LeaderboardOut", "Best first"), **problems(400, 503)},
)
def get_leaderboard(
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
    track: TrackQuery = None,
) -> dict[str, Any]:
    from talkrate.adapters.cluster_client import one_request
    from talkrate.catalog import leaderboard

    with one_request():  # (as the programme's)
        board = leaderboard(
            wiring.talk_catalog(), wiring.read_model(), wiring.rebuild_requests(), limit, track
        )
    body: dict[str, Any] = {
        "talks": [
            {
                "rank": r.rank,
                "talkId": r.talk.id,
                "title": r.talk.title,
                "language": r.talk.language,
                "track": r.talk.track,
                "score": _score(r.summary.ratings),
                "count": r.summary.count,
                "avg": r.summary.avg,
                "ratings": dict(r.summary.ratings),
            }
            for r in board.ranked
        ],
        "track": track,
        "prior": {"mean": PRIOR_MEAN, "weight": PRIOR_WEIGHT},
    }
    if board.rebuilding:
        body["rebuilding"] = True
    if board.unreadable:
        body["unreadable"] = [
            {
                "rank": place.rank,
                "talkId": place.talk.id,
                "title": place.talk.title,
                "language": place.talk.language,
                "track": place.talk.track,
            }
            for place in board.unreadable
        ]
    return body
