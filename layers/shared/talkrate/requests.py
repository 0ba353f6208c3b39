"""What a request brings, checked without pydantic: parameters, and the bodies of POST /ratings and
POST /voters.

The API's usual routes are checked here, so a cold start of the API loads no validation library.
The rules are talkrate.models' (RatingRequest and VoterRequest stay the documented shape, and
tests/unit/test_requests.py holds the two against each other on generated bodies), and so are
the errors: each a dict with the type, the place (`loc`) and the message pydantic gives, which
talkrate.api.errors turns into problem+json. The organisers' talk bodies, rarer and richer, are
checked by their pydantic models, loaded at the first such request.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from functools import cache
from typing import Any, NamedTuple, Union, get_args, get_origin

from talkrate.events import MAX_TALK_ID_LENGTH, TALK_ID_PATTERN

Error = dict[str, Any]
Check = Callable[[Any], Any]

# Printable text: no control characters, C0 or C1 (PostgreSQL refuses NUL in text; a terminal
# may take U+009B as the start of an escape sequence when `talkrate` prints a title). The
# catalog's fields (talkrate.models) and the words and tracks the programme is searched by.
PRINTABLE = r"^[^\x00-\x1f\x7f-\x9f]+$"
# What a talk's text may hold from 2026-12-04 (POST and PUT /talks): printable, and without
# Unicode's explicit direction controls, the embeddings and overrides (U+202A..U+202E) and the
# isolates (U+2066..U+2069). The pages isolate an organiser's text, but a terminal, a spreadsheet
# of the export or another client shows the text after an override turned around. The marks
# (U+200E, U+200F, U+061C) stay: right-to-left text needs them, and they reorder nothing beyond
# the characters next to them. U+FEFF (a zero-width no-break space) is dropped before this is
# checked (talkrate.talk_text.DROPPED). The joiners (U+200C, U+200D: Persian words, emoji
# sequences) and the tag characters (U+E0020..U+E007F: a region's flag) stay. Talks saved before
# may hold them: they are read as they are, and searched by PRINTABLE.
# From 2026-12-07 not Unicode's LINE SEPARATOR and PARAGRAPH SEPARATOR (U+2028, U+2029) either:
# line breaks as much as a newline is (a page, a terminal, the export's spreadsheet may break the
# line there), in a text the API says is one line.
TALK_TEXT = r"^[^\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]+$"
# What a text outside PRINTABLE (or TALK_TEXT: a direction control in a talk's text is refused
# before, naming it) holds, as the API's refusals say it.
NOT_PRINTABLE = "cannot hold line breaks or other control characters"

VOTER_ID_REFUSED = (
    "voterId is not accepted: an attendee is who holds a voter token; get one from POST /voters "
    "and send it as the Voter-Token header"
)
# A decimal integer as a query string or header holds it; whitespace around it is let through.
_INTEGER = re.compile(r"[ \t\n\r]*([+-]?)([0-9]+)[ \t\n\r]*")
# Longer than any bound a route sets: judged by its sign alone, never converted.
_LONGEST_INTEGER = 30
_HYPHENATED_UUID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
_HEX_UUID = re.compile(r"[0-9a-fA-F]{32}")


class Invalid(Exception):
    """A value does not pass its checks; `errors` say where (`loc`, within the value) and why."""

    def __init__(self, errors: list[Error]) -> None:
        super().__init__("invalid")
        self.errors = errors


def _error(kind: str, message: str, loc: tuple[Any, ...] = ()) -> Error:
    return {"type": kind, "loc": loc, "msg": message}


def _characters(count: int) -> str:
    return f"{count} character" if count == 1 else f"{count} characters"


def text_errors(
    value: Any,
    min_length: int | None = None,
    max_length: int | None = None,
    pattern: str | None = None,
) -> Error | None:
    """Why `value` is not a string within its length and pattern, or None when it is (pydantic
    checks the length before the pattern and reports the first failure)."""
    if not isinstance(value, str):
        return _error("string_type", "Input should be a valid string")
    if min_length is not None and len(value) < min_length:
        return _error("string_too_short", f"String should have at least {_characters(min_length)}")
    if max_length is not None and len(value) > max_length:
        return _error("string_too_long", f"String should have at most {_characters(max_length)}")
    if pattern is not None and not _anchored(pattern).fullmatch(value):
        return _error("string_pattern_mismatch", f"String should match pattern '{pattern}'")
    return None


@cache
def _anchored(pattern: str) -> re.Pattern[str]:
    # Every pattern talkrate declares is anchored at both ends; fullmatch keeps Python's `$` from
    # accepting a trailing newline, as pydantic's regex engine does not.
    if not (pattern.startswith("^") and pattern.endswith("$")):
        raise ValueError(f"pattern {pattern!r} must be anchored with ^ and $")
    return re.compile(pattern)


def _bounds_error(
    number: int | None, negative: bool, ge: int | None, le: int | None
) -> Error | None:
    if ge is not None and (negative if number is None else number < ge):
        return _error("greater_than_equal", f"Input should be greater than or equal to {ge}")
    if le is not None and (not negative if number is None else number > le):
        return _error("less_than_equal", f"Input should be less than or equal to {le}")
    return None


def check_text(
    min_length: int | None = None, max_length: int | None = None, pattern: str | None = None
) -> Check:
    """A check of a string parameter."""
    if pattern is not None:
        _anchored(pattern)  # refused when the route's checks are built, not at each request

    def check(value: Any) -> str:
        error = text_errors(value, min_length, max_length, pattern)
        if error is not None:
            raise Invalid([error])
        return str(value)

    return check


def check_integer(ge: int | None = None, le: int | None = None) -> Check:
    """A check of an integer parameter, given as text (a query string) or a number."""

    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise Invalid([_error("int_type", "Input should be a valid integer")])
        number: int | None
        if isinstance(value, int):
            number, negative = value, value < 0
        else:
            match = _INTEGER.fullmatch(value)
            if match is None:
                raise Invalid(
                    [
                        _error(
                            "int_parsing",
                            "Input should be a valid integer, unable to parse string as an integer",
                        )
                    ]
                )
            sign, digits = match.groups()
            digits = digits.lstrip("0") or "0"
            negative = sign == "-" and digits != "0"
            number = None if len(digits) > _LONGEST_INTEGER else int(sign + digits)
        error = _bounds_error(number, negative, ge, le)
        if error is not None:
            raise Invalid([error])
        if number is None:  # no bound to judge it by, and too long to read
            raise Invalid(
                [
                    _error(
                        "int_parsing_size",
                        "Unable to parse input string as an integer, exceeded maximum size",
                    )
                ]
            )
        return number

    return check


def check_uuid(value: Any) -> uuid.UUID:
    """A UUID parameter: 32 hex digits, hyphenated as usual (then also in braces or after
    urn:uuid:) or not at all."""
    if not isinstance(value, str):
        raise Invalid([_error("uuid_type", "Input should be a valid UUID")])
    if value.startswith("urn:uuid:"):
        hyphenated = value.removeprefix("urn:uuid:")
    elif value.startswith("{") and value.endswith("}"):
        hyphenated = value[1:-1]
    else:
        hyphenated = value
    if _HYPHENATED_UUID.fullmatch(hyphenated) or _HEX_UUID.fullmatch(value):
        return uuid.UUID(hyphenated)
    raise Invalid([_error("uuid_parsing", "Input should be a valid UUID")])


def union_members(kind: Any) -> tuple[Any, ...] | None:
    """The members of a union type (`X | None` and `Optional[X]` included), None for any other."""
    return get_args(kind) if get_origin(kind) in (Union, type(int | None)) else None


def checker(kind: Any, constraints: dict[str, Any]) -> Check:
    """What checks a parameter of type `kind` (str, int, uuid.UUID, a body class, or one of
    those or None) against its constraints (min_length, max_length, pattern, ge, le)."""
    union = union_members(kind)
    if union is not None:
        members = [k for k in union if k is not type(None)]
        if len(members) != 1:
            raise TypeError(f"a parameter cannot be one of {members}")
        inner = checker(members[0], constraints)
        return lambda value: None if value is None else inner(value)
    unknown = set(constraints) - {"min_length", "max_length", "pattern", "ge", "le"}
    if unknown:
        raise TypeError(f"constraints talkrate does not check: {sorted(unknown)}")
    if kind is str:
        return check_text(**constraints)
    if kind is int:
        return check_integer(**constraints)
    if kind is uuid.UUID:
        return check_uuid
    if constraints:
        raise TypeError(f"{kind!r} takes no constraints")
    from_json = getattr(kind, "from_json", None)
    if from_json is not None:
        return from_json  # type: ignore[no-any-return]
    if hasattr(kind, "model_validate"):
        return _by_pydantic(kind)
    raise TypeError(f"talkrate cannot check a parameter of type {kind!r}")


def _by_pydantic(model: Any) -> Check:
    """A body checked by its pydantic model (the organisers' talks): pydantic is loaded here."""
    from pydantic import ValidationError

    def check(value: Any) -> Any:
        try:
            return model.model_validate(value)
        except ValidationError as error:
            raise Invalid([_as_text_error(e) for e in error.errors()]) from None

    return check


def _as_text_error(error: Any) -> dict[str, Any]:
    """A pydantic error as the API says it. A text field whose value is trimmed before its
    length is checked gets pydantic's words for a list ("at most 100 items after validation"):
    said of a string, as for every other text field."""
    kind, ctx, value = error["type"], error.get("ctx") or {}, error.get("input")
    if kind == "too_long" and isinstance(value, str) and "max_length" in ctx:
        message = f"String should have at most {_characters(ctx['max_length'])}"
        return {"type": "string_too_long", "loc": error["loc"], "msg": message}
    if kind == "too_short" and isinstance(value, str) and "min_length" in ctx:
        message = f"String should have at least {_characters(ctx['min_length'])}"
        return {"type": "string_too_short", "loc": error["loc"], "msg": message}
    return {"type": kind, "loc": error["loc"], "msg": error["msg"]}


# --- bodies --------------------------------------------------------------------------------------


def _object(body: Any, model: str) -> dict[str, Any]:
    """The body as a JSON object, or Invalid as the documented model refuses anything else."""
    if not isinstance(body, dict):
        message = f"Input should be a valid dictionary or instance of {model}"
        raise Invalid([_error("model_type", message)])
    return body


_check_talk_id = (1, MAX_TALK_ID_LENGTH, TALK_ID_PATTERN)


class RatingBody(NamedTuple):
    """The body of POST /ratings, as talkrate.models.RatingRequest documents it: a talk id within
    its pattern and an integer 1 to 5 ("5", true and 3.5 are not ratings); other fields are
    ignored, but `voterId` is refused (identity comes from a voter token)."""

    talk_id: str
    value: int

    @classmethod
    def from_json(cls, body: Any) -> RatingBody:
        """The rating in a JSON body; Invalid lists what is wrong, in the model's order."""
        body = _object(body, "RatingRequest")
        errors: list[Error] = []
        talk_id: Any = body.get("talkId")
        value: Any = body.get("value")
        if "talkId" not in body:
            errors.append(_error("missing", "Field required", ("talkId",)))
        elif (error := text_errors(talk_id, *_check_talk_id)) is not None:
            errors.append({**error, "loc": ("talkId",)})
        if "value" not in body:
            errors.append(_error("missing", "Field required", ("value",)))
        elif isinstance(value, bool) or not isinstance(value, int):
            errors.append(_error("int_type", "Input should be a valid integer", ("value",)))
        elif (error := _bounds_error(value, value < 0, 1, 5)) is not None:
            errors.append({**error, "loc": ("value",)})
        if "voterId" in body:
            errors.append(_error("voter_id_refused", VOTER_ID_REFUSED, ("voterId",)))
        if errors:
            raise Invalid(errors)
        return cls(talk_id, value)

    def document(self) -> dict[str, Any]:
        """The rating as the model dumps it (the Idempotency-Key record's fingerprint)."""
        return {"talkId": self.talk_id, "value": self.value}

    @staticmethod
    def documented_as() -> type[Any]:
        """The model the OpenAPI document shows."""
        from talkrate.models import RatingRequest

        return RatingRequest


class VoterBody(NamedTuple):
    """The body of POST /voters, as talkrate.models.VoterRequest documents it: the event code, if
    the organisers set one (1 to 200 characters); other fields are ignored."""

    code: str | None = None

    @classmethod
    def from_json(cls, body: Any) -> VoterBody:
        """The code in a JSON body; Invalid says what is wrong."""
        code = _object(body, "VoterRequest").get("code")
        if code is not None and (error := text_errors(code, 1, 200)) is not None:
            raise Invalid([{**error, "loc": ("code",)}])
        return cls(code)

    @staticmethod
    def documented_as() -> type[Any]:
        """The model the OpenAPI document shows."""
        from talkrate.models import VoterRequest

        return VoterRequest
