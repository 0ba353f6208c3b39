"""POST /voters: an anonymous attendee token, limited per address, behind the event code if set;
or, presenting a still-valid one, the same voter's token renewed."""

from __future__ import annotations

import json
from typing import Annotated

from talkrate import wiring
from talkrate.api.responses import ok, problems
from talkrate.api.routing import Body, Header, Request, Response, Router
from talkrate.config import load_settings
from talkrate.errors import RateLimited, WrongVoterCode
from talkrate.observability import metrics
from talkrate.ports import Limit
from talkrate.rating import address_subject, admit
from talkrate.requests import VoterBody
from talkrate.values import rfc3339
from talkrate.voters import IssuedToken, now_utc

router = Router()

# Renewals one voter may ask for a minute: a page renews once in the last quarter of its pass's
# life, so this only stops a client renewing in a loop. Not counted against the address's new
# passes: a venue's phones behind one address renewing the same morning mint no new voter.
RENEWALS_PER_VOTER_PER_MINUTE = 10

RenewedToken = Annotated[
    str | None,
    Header(
        alias="voter-token",
        min_length=1,
        max_length=200,
        description="To renew: the attendee's pass, still valid. The answer is a pass for the "
        "same voter (their earlier ratings stay theirs: a changed mind still replaces one) with "
        "a new expiry; no event code is asked (the holder gave it for this pass). An expired, "
        "forged or altered pass is refused (401 invalid-voter-token), and so is a "
        "forgotten voter's (401 forgotten-voter): it renews nothing.",
    ),
]


@router.post(
    "/voters",
    summary="Get an anonymous voter token (send it as Voter-Token with each rating), or renew one",
    responses={
        **ok("VoterIssued", "A voter token: a new voter's, or the presented one's renewed", 201),
        **problems(400, 401, 403, 413, 415, 422, 429, 503),
    },
)
def post_voter(
    request: Request,
    body: Annotated[VoterBody | None, Body()] = None,
    voter_token: RenewedToken = None,
) -> Response:
    settings = load_settings()
    tokens = wiring.voter_tokens()  # before counting: without a key nothing can be issued
    if voter_token is not None:
        # Verified first: a refused pass names no voter, so it spends no one's limit.
        issued = tokens.renew(voter_token, now_utc())
        limit = Limit("voter-renewals", issued.voter_id, RENEWALS_PER_VOTER_PER_MINUTE)
        admit(wiring.request_limiter(), [limit], None, issued.voter_id)
        metrics.add_metric(name="VoterTokenRenewed", unit="Count", value=1)
        return _issued(issued)
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
    return _issued(issued)


def _issued(issued: IssuedToken) -> Response:
    document = {
        "voterToken": issued.token,
        "expiresAt": rfc3339(issued.expires_at),
        "renewAfter": rfc3339(issued.renew_after),
    }
    return Response(201, "application/json", json.dumps(document))
