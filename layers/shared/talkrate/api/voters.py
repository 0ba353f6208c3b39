"""POST /voters: an anonymous attendee token, limited per address, behind the event code if set;
or, presenting a still-valid one, the same voter's token renewed. A presented token that cannot
be renewed (expired, forged, altered, malformed, a forgotten voter's) is set aside: the request
is one for a new pass, exactly as without it, and the answer says which it was (`renewed`)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any

from talkrate import wiring
from talkrate.api.idempotency import idempotency_header
from talkrate.api.ratings import idempotency_scope
from talkrate.api.responses import ok, problems
from talkrate.api.routing import Body, Header, Request, Response, Router
from talkrate.config import Settings, load_settings
from talkrate.errors import (
    ForgottenVoter,
    IdempotencyStoreUnavailable,
    InvalidVoterToken,
    RateLimited,
    WrongVoterCode,
)
from talkrate.observability import logger, metrics
from talkrate.rating import address_subject, admit
from talkrate.requests import VoterBody
from talkrate.values import Limit, rfc3339
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

# The shortest key a pass is kept under. Asked again with the key, from the address, the pass
# comes back: a key short enough to guess ("1", "retry") is one a neighbour behind the same
# address (a venue's network) may claim first, so that the attendee's client is handed the
# neighbour's voter, whose ratings the neighbour can then replace. The web app and `talkrate`
# send 16 random bytes in hex (32 characters).
SHORTEST_PASS_KEY = 16

PassKey = Annotated[
    str | None,
    idempotency_header(
        f"A random value of at least {SHORTEST_PASS_KEY} characters (the web app sends 16 "
        "random bytes in hex): it gives the pass again to whoever sends it from the address, "
        "so it is kept as secret as the pass. "
        "Makes a retried POST one new voter: sent again with the same key (its answer lost on "
        "the way), within an hour, it is given the same pass (the same voter, the same expiry) "
        "and mints no other, counted against no limit and asked no event code (the first "
        "request was). The pass itself is kept nowhere: the service keeps the voter and the "
        "expiry under the key's hash and signs them again. Keys are scoped to the address, as a "
        "rating's without a voter token; a renewal (a valid Voter-Token) is the same voter "
        "anyway, and keeps nothing. A request refused (403, 429) keeps nothing. A key whose "
        "voter was forgotten since (at their request) gives their pass no more: the request "
        "is one for a new pass (the address's limit, the event code), kept under the key.",
        shortest=SHORTEST_PASS_KEY,
    ),
]


@router.post(
    "/voters",
    summary="Get an anonymous voter token (send it as Voter-Token with each rating), or renew one",
    responses={
        **ok("VoterIssued", "A voter token: a new voter's, or the presented one's renewed", 201),
        # 409 request-in-progress (the Idempotency-Key's first request still runs) says when.
        **problems(400, 403, 409, 413, 415, 422, 429, 503, retry_after=[409]),
    },
)
def post_voter(
    request: Request,
    body: Annotated[VoterBody | None, Body()] = None,
    voter_token: RenewedToken = None,
    idempotency_key: PassKey = None,
) -> Response:
    settings = load_settings()
    tokens = wiring.voter_tokens()  # before counting: without a key nothing can be issued
    if voter_token is not None:
        renewed = _renewed(tokens, voter_token)
        if renewed is not None:
            metrics.add_metric(name="VoterTokenRenewed", unit="Count", value=1)
            return _issued(renewed, renewed=True)
    address = request.client_address(wiring.edge_secret())
    if idempotency_key is None:
        return _issued(_new_pass(settings, tokens, address, body), renewed=False)
    key = f"voters:{idempotency_scope(None, address)}:{idempotency_key}"
    try:
        # The first run under the key keeps its voter and expiry (never the pass); every run,
        # the first too, answers them signed: the same pass.
        kept = _kept_pass(request, key, lambda: _new_pass(settings, tokens, address, body))
    except IdempotencyStoreUnavailable:
        # Nothing ran: the pass is handed out without the key's record (a retry may make a
        # second voter, as without a key; none of their ratings counts twice).
        logger.warning("idempotency store unreachable: voter pass issued without its key")
        metrics.add_metric(name="IdempotencyBypassed", unit="Count", value=1)
        return _issued(_new_pass(settings, tokens, address, body), renewed=False)
    return _issued(tokens.reissue(str(kept["voterId"]), int(kept["expires"])), renewed=False)


def _kept_pass(request: Request, key: str, new_pass: Callable[[], IssuedToken]) -> dict[str, Any]:
    """The voter and expiry kept under the key: a new pass's (`new_pass`) at its first use, or
    when the voter it kept was forgotten since (`ops forget-voter`): that pass rates and renews
    no more, so the key is dropped and the request is one for a new pass (the address's limit,
    the event code), as a pass set aside at a renewal is."""
    requests = wiring.idempotent_requests()
    ran: list[bool] = []

    def run(_: Any) -> dict[str, Any]:
        ran.append(True)
        return _kept(new_pass())

    kept = requests.once(key, {"request": "a new voter's pass"}, run, request.context)
    if ran or not _forgotten(str(kept["voterId"])):
        return kept
    logger.info("a pass key's voter was forgotten: the key gives a new voter's pass")
    metrics.add_metric(name="VoterTokenSetAside", unit="Count", value=1)
    requests.forget(key)
    return requests.once(key, {"request": "a new voter's pass"}, run, request.context)


def _forgotten(voter_id: str) -> bool:
    """Whether `ops forget-voter` took this voter (Redis's mark, else PostgreSQL's word; 503
    ForgottenUnknown when neither can say: a forgotten voter's pass is never given unchecked)."""
    try:
        admit(wiring.request_limiter(), [], None, voter_id, wiring.event_store())
    except ForgottenVoter:
        return True
    return False


def _new_pass(
    settings: Settings, tokens: VoterTokens, address: str | None, body: VoterBody | None
) -> IssuedToken:
    """A new voter's pass, within the address's limit and behind the event code."""
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
    return issued


def _kept(issued: IssuedToken) -> dict[str, Any]:
    """What a key keeps of the pass it gave: its voter and expiry, which sign it again."""
    return {"voterId": issued.voter_id, "expires": int(issued.expires_at.timestamp())}


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
