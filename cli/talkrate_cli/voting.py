"""Rating as an attendee: a voter token, kept between runs (required where the policy asks)."""

from __future__ import annotations

import sys
from typing import Any

from talkrate_cli.client import Api
from talkrate_cli.errors import ApiProblem, CliError
from talkrate_cli.settings import VoterTokens


def policy(api: Api) -> str | None:
    """The voting policy the API announces in the app's configuration ("open" or "attendee")."""
    config = api.page_config()
    value = (config or {}).get("votingPolicy")
    return str(value) if value else None


def new_token(api: Api, tokens: VoterTokens, code: str | None) -> str:
    """A fresh voter token from POST /voters, kept for next time."""
    try:
        voter = api.new_voter(code)
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
    if voter is None:
        raise CliError("the API asks for a voter token but has no POST /voters")
    tokens.put(api.url, voter)
    return str(voter["voterToken"])


def rate(
    api: Api, tokens: VoterTokens, talk_id: str, value: int, code: str | None = None
) -> dict[str, Any]:
    """POST /ratings as this user: with their kept token, or a new one (as the web app does, so
    a changed mind replaces the earlier rating under either policy); without one only where the
    policy lets ratings in without (an API with no POST /voters, or one asking for a code that
    was not given). A refused kept token is replaced once."""
    token = tokens.get(api.url)
    if token is None:
        try:
            token = new_token(api, tokens, code)
        except CliError:
            if policy(api) == "attendee":
                raise
            token = None
    try:
        return api.rate(talk_id, value, token)
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
        return api.rate(talk_id, value, new_token(api, tokens, code))
