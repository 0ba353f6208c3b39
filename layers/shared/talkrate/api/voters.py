"""POST /voters: an anonymous attendee token, limited per address, behind the event code if set."""

from __future__ import annotations

import json
from typing import Annotated

from talkrate import wiring
from talkrate.api.responses import ok, problems
from talkrate.api.routing import Body, Request, Response, Router
from talkrate.config import load_settings
from talkrate.errors import RateLimited, WrongVoterCode
from talkrate.observability import metrics
from talkrate.ports import Limit
from talkrate.rating import address_subject, admit
from talkrate.requests import VoterBody
from talkrate.values import rfc3339
from talkrate.voters import now_utc

router = Router()


@router.post(
    "/voters",
    summary="Get an anonymous voter token (send it as Voter-Token with each rating)",
    responses={
        **ok("VoterIssued", "A new voter token", 201),
        **problems(400, 403, 413, 415, 422, 429, 503),
    },
)
def post_voter(request: Request, body: Annotated[VoterBody | None, Body()] = None) -> Response:
    settings = load_settings()
    tokens = wiring.voter_tokens()  # before counting: without a key nothing can be issued
    address = request.client_address(settings.edge_secret)
    if address:
        # Before the code is checked, so wrong guesses are limited too.
        subject = address_subject(address)
        limit = Limit("voters-address", subject, settings.voters_per_address_per_minute)
        try:
            admit(wiring.request_limiter(), [limit], None)
        except RateLimited:
            metrics.add_metric(name="VoterTokenRateLimited", unit="Count", value=1)
            raise
    if not wiring.event_code().admits(body.code if body else None):
        raise WrongVoterCode
    issued = tokens.issue(now_utc())
    metrics.add_metric(name="VoterTokenIssued", unit="Count", value=1)
    document = {
        "voterToken": issued.token,
        "expiresAt": rfc3339(issued.expires_at),
    }
    return Response(201, "application/json", json.dumps(document))
