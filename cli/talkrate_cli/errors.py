"""What can go wrong in a command, as one line a person can act on, and as one JSON document.

With --json a failure is `{"error": {...}}` on stdout (beside what the command got done, when it
got something done): the API's own problem document when the API refused (its `type`, `title`,
`status`, `detail` and field `errors`), else the command's, in the same fields with a type
`urn:talkrate:cli:<kind>` and no `status` (no HTTP answer said it).
"""

from __future__ import annotations

from typing import Any

CLI_PROBLEM = "urn:talkrate:cli:"


class CliError(Exception):
    """A failure the command reports in one line and exits non-zero for (never a traceback).

    `result` is what the command got done before it failed (a simulation's figures, an import's
    rows): with --json it is printed with the error, in the one document."""

    exit_code = 1
    kind = "failed"
    title = "Command failed"
    result: dict[str, Any] | None = None

    def __init__(self, message: str, result: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        if result is not None:
            self.result = result

    def document(self) -> dict[str, Any]:
        """The failure as JSON, for --json: a problem document of the command's own."""
        return {"type": CLI_PROBLEM + self.kind, "title": self.title, "detail": str(self)}

    def said(self) -> list[str]:
        """The failure for a person, a line each: one line, unless it has parts of its own (the
        bad lines of a file), then the one line that sums them up, last."""
        return [str(self)]


# A talk's fields as the organisers' page labels them (web/js/pages/admin.js, FIELD_LABELS).
FIELD_LABELS = {
    "title": "Title",
    "id": "Id",
    "speakers": "Speakers",
    "language": "Language",
    "track": "Track",
    "room": "Room",
    "startsAt": "Starts",
    "endsAt": "Ends",
}


def field_sentence(error: dict[str, Any]) -> str:
    """A field error of the API's problem document as the organisers' page says it: the field's
    label (the first part of its path the page labels; the API's own name for another), then
    the API's plain words as a sentence ("Ends: Must be after the start.")."""
    path = str(error.get("field") or "").split(".")
    name = next((FIELD_LABELS[part] for part in path if part in FIELD_LABELS), None)
    text = str(error.get("message") or "")
    sentence = text[:1].upper() + text[1:] + ("" if text.endswith((".", "!", "?")) else ".")
    field = name or ".".join(path)
    return f"{field}: {sentence}" if field and field != "body" else sentence


class ApiProblem(CliError):
    """The API answered an error: its problem document's title and detail."""

    def __init__(
        self, status: int, problem: dict[str, Any], retry_after: float | None = None
    ) -> None:
        self.status = status
        self.problem = problem
        # Seconds the answer's Retry-After asks to wait before trying again, when it gave some.
        self.retry_after = retry_after
        title = str(problem.get("title") or f"HTTP {status}")
        detail = problem.get("detail")
        fields = [field_sentence(e) for e in problem.get("errors") or [] if isinstance(e, dict)]
        line = f"{title} ({status})"
        if fields:  # each field's refusal said as the organisers' page says it
            line += ": " + " ".join(fields)
        elif detail:
            line += f": {detail}"
        super().__init__(line)

    @property
    def gateway_busy(self) -> bool:
        """API Gateway's throttle turned the request away (a 429 that is no problem of the API's
        own): no function saw it, so it can be sent again as it was."""
        return self.status == 429 and not self.problem.get("type")

    @property
    def answer_lost(self) -> bool:
        """A gateway's own 502 or 504 (CloudFront's HTML page, API Gateway's message): the API
        may have done the request and its answer been lost on the way, as at a timeout."""
        return self.status in (502, 504) and not self.problem.get("type")

    @property
    def slug(self) -> str:
        """The last part of the problem's type (`urn:talkrate:problem:<slug>`)."""
        return str(self.problem.get("type", "")).rsplit(":", 1)[-1]

    def document(self) -> dict[str, Any]:
        """The API's problem document as it answered it (RFC 9457's `about:blank` for an
        answer without one, a gateway's HTML page)."""
        return {"type": "about:blank", **self.problem, "status": self.status}


class BadInput(CliError):
    """What the user gave cannot be used (a file, an id): exit status 2, like a usage error."""

    exit_code = 2
    kind = "bad-input"
    title = "Bad input"


class UsageProblem(CliError):
    """The command line itself is wrong (an unknown option, a value out of range): exit 2."""

    exit_code = 2
    kind = "usage"
    title = "Usage error"


class Interrupted(CliError):
    """Ctrl-C: the command stopped where it was (exit 130, as a shell says SIGINT)."""

    exit_code = 130
    kind = "interrupted"
    title = "Interrupted"


class Aborted(CliError):
    """A question was answered no, or not at all (stdin closed)."""

    kind = "aborted"
    title = "Aborted"


class Unexpected(CliError):
    """A failure the command did not foresee (TALKRATE_DEBUG=1 shows where)."""

    kind = "unexpected"
    title = "Unexpected error"


class Unreachable(CliError):
    """The API could not be reached at all (refused, unknown host, timeout, bad URL)."""

    kind = "unreachable"
    title = "API unreachable"

    def __init__(self, message: str, answer_lost: bool = False) -> None:
        super().__init__(message)
        # The request may have arrived and its answer been lost (a timeout, a dropped
        # connection), as opposed to never leaving (refused, unknown host, bad URL).
        self.answer_lost = answer_lost
