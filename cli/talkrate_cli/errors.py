"""What can go wrong in a command, as one line a person can act on."""

from __future__ import annotations

from typing import Any


class CliError(Exception):
    """A failure the command reports in one line and exits non-zero for (never a traceback)."""

    exit_code = 1

    def document(self) -> dict[str, Any]:
        """The failure as JSON, for --json."""
        return {"title": str(self)}


class ApiProblem(CliError):
    """The API answered an error: its problem document's title and detail."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        self.status = status
        self.problem = problem
        title = str(problem.get("title") or f"HTTP {status}")
        detail = problem.get("detail")
        fields = "; ".join(
            f"{e.get('field')}: {e.get('message')}"
            for e in problem.get("errors") or []
            if isinstance(e, dict)
        )
        line = f"{title} ({status})"
        if detail:
            line += f": {detail}"
        if fields:
            line += f" [{fields}]"
        super().__init__(line)

    @property
    def slug(self) -> str:
        """The last part of the problem's type (`urn:talkrate:problem:<slug>`)."""
        return str(self.problem.get("type", "")).rsplit(":", 1)[-1]

    def document(self) -> dict[str, Any]:
        return {"status": self.status, **self.problem}


class BadInput(CliError):
    """What the user gave cannot be used (a file, an id): exit status 2, like a usage error."""

    exit_code = 2


class Unreachable(CliError):
    """The API could not be reached at all (refused, unknown host, timeout, bad URL)."""

    def __init__(self, message: str, answer_lost: bool = False) -> None:
        super().__init__(message)
        # The request may have arrived and its answer been lost (a timeout, a dropped
        # connection), as opposed to never leaving (refused, unknown host, bad URL).
        self.answer_lost = answer_lost
