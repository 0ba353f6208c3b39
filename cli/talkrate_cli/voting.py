"""Rating as an attendee: a voter token, kept between runs (required where the policy asks)."""

from __future__ import annotations

import math
import sys
import time
import uuid
from typing import Any

from talkrate_cli.client import KEYS_UPDATING, Api
from talkrate_cli.errors import ApiProblem, CliError, Unreachable
from talkrate_cli.settings import VoterTokens


def policy(api: Api) -> str | None:
    """The voting policy the API announces in the app's configuration ("open" or "attendee")."""
    config = api.page_config()
    value = (config or {}).get("votingPolicy")
    return str(value) if value else None


# A voter pass is asked for again while the API says "later" after the pauses a rating is sent
# again after (Api.retry_pauses), each the answer's Retry-After when it gives one. A longer
# Retry-After than PASS_WAIT_SECONDS is not waited for (the web app's talk page waits as long,
# then keeps the rating for later): the command says when to try again instead.
PASS_WAIT_SECONDS = 10.0


def new_voter(api: Api, code: str | None) -> dict[str, Any] | None:
    """POST /voters: a voter token, or None where the API hands out none (no POST /voters).

    Too many passes asked for from this network (429) or a busy API (503) is asked again after
    the Retry-After, as is an answer lost on the way, each time under the same Idempotency-Key:
    a pass the API gave and whose answer was lost is given again, one voter, not two. CliError
    saying when to try again, with nothing rated, when the API still has none to give."""
    key = uuid.uuid4().hex
    for pause in api.retry_pauses:
        try:
            return _voter(api, code, key)
        except ApiProblem as problem:
            wait = _wait_for_pass(problem, pause)
        except Unreachable as error:
            if not error.answer_lost:
                raise
            wait = pause
        time.sleep(wait)
    try:
        return _voter(api, code, key)  # the last try
    except ApiProblem as problem:
        _wait_for_pass(problem, None)
        raise


def _wait_for_pass(problem: ApiProblem, pause: float | None) -> float:
    """How long to wait before asking for a pass again after `problem` (its Retry-After, else
    `pause`): raised again when it is no "later", CliError when it is too long to wait for
    here, or when there is no next try (`pause` None)."""
    if problem.status not in (429, 503):
        raise problem
    wait = pause if problem.retry_after is None else problem.retry_after
    if wait is None or pause is None or wait > PASS_WAIT_SECONDS:
        raise _no_pass_now(problem) from None
    return wait


def _voter(api: Api, code: str | None, key: str) -> dict[str, Any] | None:
    """One POST /voters under `key`, a refused event code said as a person gives it."""
    try:
        return api.new_voter(code, key)
    except ApiProblem as problem:
        if problem.status != 403 or not str(problem.problem.get("type", "")).endswith(
            "wrong-voter-code"
        ):
            raise
        # The API's words are for a client writing the request ({"code": "…"}); a person at
        # a terminal is told how to give the code (or that the one given was refused).
        raise CliError(
            "this event asks for its code before you rate: give it with --code CODE "
            "(or TALKRATE_EVENT_CODE)"
            if not code
            else "the event code was refused: check the one given with --code "
            "(or TALKRATE_EVENT_CODE) against the organisers'"
        ) from None


class NoPassNow(CliError):
    """The API has no voter pass to give now (`problem`: its last answer, 429 or 503)."""

    def __init__(self, message: str, problem: ApiProblem) -> None:
        super().__init__(message)
        self.problem = problem


def _no_pass_now(problem: ApiProblem) -> NoPassNow:
    """Nothing rated: the API has no voter pass to give now (said, with when to try again)."""
    if problem.slug == "rate-limited":
        return NoPassNow(
            over_the_pass_limit(problem, "the voter pass", "rate again then, and check --code"),
            problem,
        )
    why = f"{problem.problem.get('title') or 'HTTP'}, {problem.status}"
    after = problem.retry_after
    when = "in a moment" if after is None else f"in {math.ceil(after)} s"
    return NoPassNow(f"not rated: no voter pass now ({why}): try again {when}", problem)


def over_the_pass_limit(problem: ApiProblem, asked: str, advice: str) -> str:
    """A voter pass refused 429 after its tries, in one line, for `rate` and `simulate` alike:
    which limit (`asked`, the pass asked for, "got 429"), that nothing was sent, when the
    passes are back, what to do (the command's `advice`, then the local runtime's way to lift
    the limit)."""
    after = problem.retry_after
    back = "soon" if after is None else f"in {math.ceil(after)} s"
    return (
        f"{asked} got 429: over the API's limit of voter passes from one address a minute "
        "(VotersPerAddressPerMinute), which a wrong event code counts against too: nothing "
        f"was sent. The passes from this address are back {back}; {advice}; against a local "
        "runtime, lift it: make run RUN_ARGS='--param VotersPerAddressPerMinute=0'"
    )


def new_token(api: Api, tokens: VoterTokens, code: str | None) -> str | None:
    """A fresh voter token from POST /voters, kept for next time; None where the API hands out
    none."""
    voter = new_voter(api, code)
    if voter is None:
        return None
    tokens.put(api.url, voter)
    return str(voter["voterToken"])


REPLACED = (
    "talkrate: the kept voter token could not be renewed (expired, or no longer accepted); "
    "this rating is made with a new one, so it counts beside your earlier ones\n"
)


def renew_token(api: Api, tokens: VoterTokens, token: str, code: str | None = None) -> str | None:
    """The kept token renewed (the same voter, a new expiry) and kept; the kept one as it is when
    the API cannot renew it now (it is still valid), or when it answers with another voter
    without saying it renewed nothing (an API that does not renew: that pass would count this
    user twice). A token the API cannot renew (expired by its clock, its key gone, a forgotten
    voter's) it sets aside, answering a new voter's pass (`"renewed": false`, on the event
    code): kept in its place, and said. None, the kept one forgotten and said, when the API
    refuses it (401, an API before passes were set aside) or asks for the event code (403)."""
    try:
        renewed = api.renew_voter(token, code)
    except ApiProblem as problem:
        if problem.status not in (401, 403):
            return token
        tokens.forget(api.url)
        sys.stderr.write(
            "talkrate: the kept voter token was refused; a new one is asked for, so this "
            "rating counts beside your earlier ones\n"
        )
        return None
    except Unreachable:
        return token
    fresh = renewed.get("voterToken")
    if not isinstance(fresh, str):
        return token
    same_voter = fresh.split(".")[1:2] == token.split(".")[1:2]
    if renewed.get("renewed") is False and not same_voter:
        tokens.put(api.url, renewed)
        sys.stderr.write(REPLACED)
        return fresh
    if not same_voter:
        return token
    tokens.put(api.url, renewed)
    return fresh


NO_VOTERS = "the API asks for a voter token but has no POST /voters"


def _say_wait(problem: ApiProblem, seconds: float) -> None:
    if problem.slug == KEYS_UPDATING:
        sys.stderr.write(
            f"talkrate: the service is updating its keys; the rating is sent again with your "
            f"voter pass in {math.ceil(seconds)} s\n"
        )


def _keys_updating(problem: ApiProblem) -> CliError:
    """Nothing rated yet: the API could not check the pass in the time waited (it is kept)."""
    after = problem.retry_after
    when = "in a moment" if after is None else f"in {math.ceil(after)} s"
    return CliError(
        f"not rated: the service is updating its keys and could not check your voter pass yet "
        f"(it is kept): try again {when}"
    )


def rate(
    api: Api, tokens: VoterTokens, talk_id: str, value: int, code: str | None = None
) -> dict[str, Any]:
    """POST /ratings as this user: with their kept token, or a new one (as the web app does, so
    a changed mind replaces the earlier rating under either policy); without one only where the
    API hands out none (no POST /voters) and the policy lets ratings in without. A pass the API
    has none of now (too many asked for from this network, a busy API) is waited for, or the
    command fails with nothing rated: a rating without one would count beside the attendee's
    next. A refused kept token (401) is replaced once; one the API cannot check yet (429
    voter-keys-updating, while it updates its keys) is sent again after the wait it asks, and
    kept: a new one would be a new voter, whose re-rated talks count twice. A kept token past
    its renewAfter is renewed first (the same voter); one the API cannot renew any more is
    replaced by the new voter's pass its renewal is answered with, and one that expired
    unrenewed by a new one: each said, since a rating changed now counts beside the earlier
    one."""
    token = tokens.get(api.url)
    if token is not None and tokens.renew_due(api.url):
        token = renew_token(api, tokens, token, code)
    elif token is None and tokens.expired(api.url):
        sys.stderr.write(
            "talkrate: the kept voter token expired before it was renewed; a new one is asked "
            "for, so this rating counts beside your earlier ones\n"
        )
    if token is None:
        token = new_token(api, tokens, code)
        if token is None and policy(api) == "attendee":
            raise CliError(NO_VOTERS)
    try:
        return _rate_with(api, talk_id, value, token)
    except ApiProblem as problem:
        if problem.status != 401:
            raise
        if token is not None:
            tokens.forget(api.url)
            # (expired, or signed with a key the service no longer has: said, since the
            # ratings made under the old one now count beside this one)
            sys.stderr.write(
                "talkrate: the kept voter token was refused; a new one is asked for, so this "
                "rating counts beside your earlier ones\n"
            )
        fresh = new_token(api, tokens, code)
        if fresh is None:
            raise CliError(NO_VOTERS) from None
        return _rate_with(api, talk_id, value, fresh)


def _rate_with(api: Api, talk_id: str, value: int, token: str | None) -> dict[str, Any]:
    """POST /ratings with this pass, sent again (the same pass) while the API updates its keys;
    CliError when it still cannot check the pass, which stays kept."""
    try:
        return api.rate(talk_id, value, token, waiting=_say_wait)
    except ApiProblem as problem:
        if problem.slug == KEYS_UPDATING:
            raise _keys_updating(problem) from None
        raise
