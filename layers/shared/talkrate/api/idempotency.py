"""The Idempotency-Key header every creating POST takes (/ratings, /talks, /voters): what a key
may hold, and what each route says it does."""

from __future__ import annotations

from talkrate.api.routing import Header

# An Idempotency-Key is printable ASCII without spaces, and what a refusal says of one that is not.
IDEMPOTENCY_KEY_PATTERN = r"^[\x21-\x7e]+$"
IDEMPOTENCY_KEY_WORDS = "may hold printable ASCII characters only, without spaces"


def idempotency_header(description: str, shortest: int = 1) -> Header:
    """The optional Idempotency-Key header of a route, as its `description` says it works (in
    `Annotated[str | None, idempotency_header(...)]`), at least `shortest` characters long."""
    return Header(
        alias="idempotency-key",
        min_length=shortest,
        max_length=255,
        pattern=IDEMPOTENCY_KEY_PATTERN,
        description=description,
    )
