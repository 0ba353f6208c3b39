"""Domain exceptions and validation errors mapped to problem+json, once, for every route."""

from __future__ import annotations

import json
import re
from typing import Any

from talkrate.api.idempotency import IDEMPOTENCY_KEY_PATTERN, IDEMPOTENCY_KEY_WORDS
from talkrate.api.routing import (
    QUERY_REPEATED,
    MethodNotAllowed,
    RequestValidationError,
    Response,
    RouteNotFound,
    UnsupportedMediaType,
)
from talkrate.api.talks import ENTITY_TAGS, ENTITY_TAGS_WORDS
from talkrate.errors import (
    BackendUnavailable,
    ForgottenVoter,
    IdempotencyKeyReused,
    InvalidVoterToken,
    NotAllowed,
    NotAuthenticated,
    RateLimited,
    RatingNotConfirmed,
    RatingNotStored,
    RatingsPaused,
    RatingUnknown,
    RatingWindowClosed,
    ReadModelUnavailable,
    RequestInProgress,
    TalkChanged,
    TalkConflict,
    TalkNotFound,
    VoterKeysUpdating,
    VoterTokenRequired,
    VoterTokensUnavailable,
    WrongVoterCode,
)
from talkrate.events import TALK_ID_PATTERN, TALK_ID_RULE
from talkrate.observability import logger
from talkrate.problems import PROBLEM_CONTENT_TYPE, problem
from talkrate.requests import NOT_PRINTABLE, PRINTABLE, TALK_TEXT
from talkrate.values import entity_tag

# Every 401 names how to authenticate (RFC 9110): attendees with the Voter-Token header.
_VOTER_CHALLENGE = {"WWW-Authenticate": 'Voter-Token realm="talkrate"'}
_NOT_AN_OBJECT = {"model_attributes_type", "dict_type", "model_type"}


def problem_response(
    status: int,
    slug: str,
    title: str,
    detail: str,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response:
    """A problem+json response."""
    body = json.dumps(problem(status, slug, title, detail, **extra))
    return Response(status, PROBLEM_CONTENT_TYPE, body, headers or {})


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(part) for part in loc[1:]] or [str(loc[0])]
    return ".".join(parts)


# pydantic's sentences (and talkrate.requests', which are the same) said in an organiser's words
# (the organisers' page and the command line show an error's message as it is, after the
# field's name): (its start, the plain words, the words for one of a list's names; None: the
# plain words). "{0}" is what pydantic's sentence names (a number, a reason). Expressions compiled
# at a first refusal, not at a cold start.
_PLAIN_WORDS: tuple[tuple[str, str, str | None], ...] = (
    (
        r"String should have at least 1 character",
        "cannot be empty",
        "a name cannot be empty",
    ),
    (
        r"String should have at least (\d+) characters",
        "must be at least {0} characters long",
        "each name must be at least {0} characters long",
    ),
    (
        r"String should have at most (\d+) characters?",
        "can be at most {0} characters long",
        "each name can be at most {0} characters long",
    ),
    (r"List should have at most (\d+) items?", "at most {0} names", None),
    (r"Field required", "is required", None),
    (QUERY_REPEATED, "is given more than once", None),
    # A value of the wrong type
    # Percent-encoded bytes of a query or path parameter that are not UTF-8 (before "must be text")
    (
        r"Input should be a valid string, unable to parse raw data as a unicode string",
        "must be UTF-8 text: it holds percent-encoded bytes that are not",
        None,
    ),
    (r"Input should be a valid string", "must be text", "each name must be text"),
    (r"Input should be a valid integer", "must be a whole number", None),
    (r"Input should be a valid number", "must be a number", None),
    (r"Input should be a valid boolean", "must be true or false", None),
    (r"Input should be a valid list", "must be a list", None),
    (r"Input should be a valid dictionary", "must be a JSON object", None),
    (r"Input should be a valid UUID", "must be a UUID", None),
    # Not pydantic's reason: past the date it misnames what is wrong (an hour 25, a minute 61
    # or an offset +25:00 is "unexpected extra characters at the end of the input")
    (
        r"Input should be a valid datetime",
        "must be an RFC 3339 date-time, e.g. 2026-12-06T10:00:00Z",
        None,
    ),
    (
        r"Input should be valid Unicode text",
        "must be Unicode text (it holds an unpaired surrogate)",
        None,
    ),
    # A number out of its range
    (r"Input should be greater than or equal to (\S+)", "must be at least {0}", None),
    (r"Input should be less than or equal to (\S+)", "must be at most {0}", None),
    # A field no model of a body has: only the organisers' talks refuse them
    (r"Extra inputs are not permitted", "is not a field an organiser sets", None),
)
_PATTERN_SENTENCE = "String should match pattern '"
# Each pattern a route or a body's model declares, by what a value outside it is told: its
# words are built where it is (a talk id's from its pattern). Never the expression itself.
_PATTERN_WORDS = {
    TALK_ID_PATTERN: f"may hold {TALK_ID_RULE}",
    PRINTABLE: NOT_PRINTABLE,
    TALK_TEXT: NOT_PRINTABLE,
    IDEMPOTENCY_KEY_PATTERN: IDEMPOTENCY_KEY_WORDS,
    ENTITY_TAGS: ENTITY_TAGS_WORDS,
}
# What a value outside a pattern that has no words yet is told (tests keep every pattern worded).
UNKNOWN_FORM = "is not in the form this field takes"
# PUT /talks/{talkId} takes a talk's fields without its id, which its path names.
_ID_IN_A_CHANGE = "goes in the address (/talks/<id>), not in the body"


def plain_message(field: str, message: str) -> str:
    """A field error's message as an organiser reads it: pydantic's "Value error, " dropped, its
    sentences said plainly ("cannot be empty", "must be text"), a pattern by what it takes
    (never the expression), an unknown field as such."""
    message = message.removeprefix("Value error, ")
    path = field.split(".")
    one_name = path[0] == "speakers" and len(path) > 1
    if message.startswith(_PATTERN_SENTENCE):
        pattern = message.removeprefix(_PATTERN_SENTENCE).removesuffix("'")
        return _PATTERN_WORDS.get(pattern, UNKNOWN_FORM)
    if field == "id" and message == "Extra inputs are not permitted":
        return _ID_IN_A_CHANGE
    for start, plain, of_a_name in _PLAIN_WORDS:
        if found := re.match(start, message):
            return (of_a_name if one_name and of_a_name else plain).format(*found.groups())
    return message


def invalid_request(error: RequestValidationError) -> Response:
    """400 for what cannot be read at all or a bad query/path/header; 422 for bad body fields."""
    errors = error.errors
    if any(e["type"] == "json_invalid" for e in errors):
        return problem_response(400, "malformed-json", "Malformed JSON", "the body is not JSON")
    body_level = [e for e in errors if tuple(e["loc"]) == ("body",)]
    if any(e["type"] == "missing" for e in body_level):
        return problem_response(400, "empty-body", "Empty body", "this route needs a JSON body")
    if any(e["type"] in _NOT_AN_OBJECT for e in body_level):
        return problem_response(
            400, "malformed-body", "Malformed body", "the body must be a JSON object"
        )
    in_body = all(e["loc"] and e["loc"][0] == "body" for e in errors)
    status = 422 if in_body else 400
    fields = [
        {"field": (field := _field(tuple(e["loc"]))), "message": plain_message(field, e["msg"])}
        for e in errors
    ]
    return problem_response(
        status, "validation", "Invalid request", "some fields are invalid", errors=fields
    )


def auth_problem(
    error: NotAuthenticated | NotAllowed,
) -> tuple[int, str, str, str, dict[str, str]]:
    """401 without a token, 403 with a wrong one."""
    if isinstance(error, NotAllowed):
        return 403, "forbidden", "Forbidden", "this is not the organiser token of this service", {}
    return (
        401,
        "unauthenticated",
        "Authentication required",
        "send the admin token as Authorization: Bearer <token>",
        {"WWW-Authenticate": 'Bearer realm="talkrate"'},
    )


def problem_for(error: Exception) -> Response:
    """The response to an error a route raised (or a request that matched no route)."""
    match error:
        case RequestValidationError():
            return invalid_request(error)
        case UnsupportedMediaType():
            return problem_response(
                415,
                "unsupported-media-type",
                "Unsupported media type",
                "send the body as application/json",
            )
        case RouteNotFound():
            return problem_response(404, "not-found", "Not found", "no route has this path")
        case MethodNotAllowed():
            return problem_response(
                405,
                "method-not-allowed",
                "Method not allowed",
                f"this path takes {error.allow}",
                headers={"Allow": error.allow},
            )
        case TalkNotFound():
            return problem_response(404, "talk-not-found", "Talk not found", str(error))
        case RatingUnknown():
            return problem_response(404, "rating-not-found", "Rating not found", str(error))
        case TalkConflict():
            return problem_response(409, "talk-exists", "Talk exists", str(error))
        case TalkChanged():
            return problem_response(
                412,
                "talk-changed",
                "Talk changed",
                str(error),
                headers=None if error.revision is None else {"ETag": entity_tag(error.revision)},
                revision=error.revision,
            )
        case RatingWindowClosed():
            return problem_response(
                409,
                "rating-window-closed",
                "Outside the rating window",  # before it opens, or after it closed
                str(error),
                opensAt=error.opens_at,
                closesAt=error.closes_at,
            )
        case RatingsPaused():
            return problem_response(
                409,
                "ratings-paused",
                "Ratings paused",  # by the organisers, until they resume them
                str(error),
                closesAt=error.closes_at,
            )
        case RateLimited():
            return problem_response(
                429,
                "rate-limited",
                "Too many requests",
                f"over the limit: nothing was counted; retry in {error.retry_after} s",
                headers={"Retry-After": str(error.retry_after)},
            )
        case VoterTokenRequired():
            return problem_response(
                401,
                "voter-token-required",
                "Voter token required",
                "ratings need a voter token: get one from POST /voters and send it as the "
                "Voter-Token header",
                headers=dict(_VOTER_CHALLENGE),
            )
        case ForgottenVoter():
            return problem_response(
                401,
                "forgotten-voter",
                "Forgotten voter",
                f"{error}",
                headers=dict(_VOTER_CHALLENGE),
                field="Voter-Token",
            )
        case InvalidVoterToken():
            return problem_response(
                401,
                "invalid-voter-token",
                "Invalid voter token",
                f"{error}",
                headers=dict(_VOTER_CHALLENGE),
                field="Voter-Token",
            )
        case VoterKeysUpdating():
            # Not 401: a page or `talkrate rate` told its pass is refused drops it and asks for
            # another, a new voter, whose re-rated talks then count twice. Not a 5xx either:
            # every stale or forged pass in those 30 s is one, and a trickle of them would fire
            # HttpApi5xxAlarm (and roll a canary back); a 429 no 5xx alarm counts, and
            # RatingsRefusedAlarm leaves out as it does every "later". (Logged, never the pass:
            # lasting, these are passes no key signed.)
            logger.info(f"voter token signed by no key read, {error}: 429")
            return problem_response(
                429,
                "voter-keys-updating",
                "Keys being updated",
                "the service is updating its keys and cannot check this voter token yet: keep "
                f"it, and send the request again in {error.retry_after} s",
                headers={"Retry-After": str(error.retry_after)},
            )
        case WrongVoterCode():
            return problem_response(
                403,
                "wrong-voter-code",
                "Wrong event code",
                'send the event code the organisers gave out, as {"code": "…"}',
            )
        case VoterTokensUnavailable():
            logger.error(f"voter tokens unavailable: {error}")
            return problem_response(
                503,
                "voter-tokens-unavailable",
                "Voter tokens unavailable",
                "voter tokens cannot be issued or checked right now",
                headers={"Retry-After": "60"},
            )
        case NotAuthenticated() | NotAllowed():
            status, slug, title, detail, headers = auth_problem(error)
            return problem_response(status, slug, title, detail, headers=headers or None)
        case IdempotencyKeyReused():
            return problem_response(
                422,
                "idempotency-key-reused",
                "Idempotency-Key reused",
                f"this Idempotency-Key was used for a different {error.what}: send this one"
                " with a new key",
            )
        case RequestInProgress():
            return problem_response(
                409,
                "request-in-progress",
                "Request in progress",
                "a request with this Idempotency-Key is still being processed; retry shortly",
                headers={"Retry-After": "1"},
            )
        case RatingNotStored():
            logger.error("rating not stored", exc_info=error)
            return problem_response(
                503,
                "rating-not-stored",
                "Rating not stored",
                "the rating could not be stored; it was not counted, retry it",
                headers={"Retry-After": str(RatingNotStored.retry_after_seconds)},
            )
        case RatingNotConfirmed():
            logger.error("rating not confirmed", exc_info=error)
            return problem_response(
                503,
                "rating-not-confirmed",
                "Rating not confirmed",
                "the event stream did not confirm the rating in time and it could not be kept:"
                " it may still be counted; send it again with the same Idempotency-Key (or as the"
                " same voter) to count it once",
                headers={"Retry-After": str(RatingNotConfirmed.retry_after_seconds)},
                eventId=error.event_id,
            )
        case ReadModelUnavailable():
            logger.warning("read model unavailable", exc_info=error)
            return problem_response(
                503,
                "read-model-unavailable",
                "Counts unavailable",
                "the counts and averages cannot be read just now (every rating is kept);"
                " try again shortly",
                headers={"Retry-After": str(ReadModelUnavailable.retry_after_seconds)},
            )
        case BackendUnavailable():
            logger.warning("backend unavailable", exc_info=error)
            return problem_response(
                503,
                "unavailable",
                "Service unavailable",
                "try again shortly",
                headers={"Retry-After": str(RatingNotStored.retry_after_seconds)},
            )
        case _:
            logger.exception("unexpected error")
            return problem_response(500, "internal", "Internal error", "the error was logged")
