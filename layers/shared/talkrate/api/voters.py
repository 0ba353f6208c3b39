"""POST /voters: an anonymous attendee token, limited per address, behind the event code if set;
or, presenting a still-valid one, the same voter's token renewed. A presented token that cannot
be renewed (expired, forged, altered, malformed, a forgotten voter's) is set aside: the request
is one for a new pass, exactly as without it, and the answer says which it was (`renewed`)."""

from __future__ import annotations

import json
from typing import Annotated

from talkrate import wiring
from talkrate.api.responses import ok, problems
from talkrate.api.routing import Body, Header, Request, Response, Router
from talkrate.config import load_settings
from talkrate.errors import ForgottenVoter, InvalidVoterToken, RateLimited, WrongVoterCode
from talkrate.observability import logger, metrics
from talkrate.ports import Limit
from talkrate.rating import address_subject, admit
from talkrate.requests import VoterBody
from talkrate.values import rfc3339
from talkrate.voters import IssuedToken, VoterTokens, now_utc

router = Router()

# Renewals one voter may ask for a minute: a page renews once in the last quarter of its pass's
# life, so this only stops a client renewing in a loop. Not counted against the address's new
# passes: a venue's phones behind one address renewing the same morning mint no new voter.
RENEWALS_PER_VOTER_PER_MINUTE = 10

RenewedToken = Annotated[
    str | None,
    Header(
        alias="voter-token",
        description="To renew: the attendee's pass, still valid. The answer is a pass for the "
        "same voter (their earlier ratings stay theirs: a changed mind still replaces one) with "
        'a new expiry, and `"renewed": true`; no event code is asked (the holder gave it for '
        "this pass). A pass that cannot be renewed (expired, forged, altered, malformed, or a "
        "forgotten voter's) is set aside: the request is one for a new pass, exactly as without "
        "the header (the address's limit, the event code), answered with a new voter's pass "
        'and `"renewed": false`.',
    ),
]


@router.post(
    "/voters",
    summary="Get an anonymous voter token (send it as Voter-Token with each rating), or renew one",
    responses={
        **ok("VoterIssued", "A voter token: a new voter's, or the presented one's renewed", 201),
        **problems(400, 403, 413, 415, 422, 429, 503),
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
        renewed = _renewed(tokens, voter_token)
        if renewed is not None:
            metrics.add_metric(name="VoterTokenRenewed", unit="Count", value=1)
            return _issued(renewed, renewed=True)
    address = request.client_address(wiring.edge_secret())
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
    return _issued(issued, renewed=False)


def _renewed(tokens: VoterTokens, token: str) -> IssuedToken | None:
    """The presented pass renewed, or None when it cannot be (set aside: the caller hands out a
    new pass on the address's limit and the event code, as to a request without it).

    Verified first: a refused pass names no voter, so it spends no one's renewal limit. A valid
    pass renewing in a loop is still 429 (its own limit), the service updating its keys still
    429 voter-keys-updating and no key at all 503: a pass set aside there would make a new
    voter of an attendee whose pass is good, their re-rated talks counted twice. Whether its
    voter was forgotten is asked of PostgreSQL when Redis cannot say; neither able to, 503
    (ForgottenUnknown): the pass is neither renewed unchecked nor set aside."""
    try:
        issued = tokens.renew(token, now_utc())
        limit = Limit("voter-renewals", issued.voter_id, RENEWALS_PER_VOTER_PER_MINUTE)
        admit(wiring.request_limiter(), [limit], None, issued.voter_id, wiring.event_store())
    except ForgottenVoter:
        why = "a forgotten voter's"
    except InvalidVoterToken as refused:
        why = str(refused)  # (never the token)
    else:
        return issued
    logger.info(f"voter token set aside for a new pass: {why}")
    metrics.add_metric(name="VoterTokenSetAside", unit="Count", value=1)
    return None


def _issued(issued: IssuedToken, renewed: bool) -> Response:
    document = {
        "voterToken": issued.token,
        "expiresAt": rfc3339(issued.expires_at),
        "renewAfter": rfc3339(issued.renew_after),
        "renewed": renewed,
    }
    return Response(201, "application/json", json.dumps(document))
