"""GET /: where each backend is and whether it answers, with credentials removed."""

from __future__ import annotations

from typing import Any, Protocol

from talkrate.config import Settings


class Pingable(Protocol):
    """A backend that can say whether it answers."""

    def ping(self) -> bool:
        """True when the backend answers."""
        ...


def describe_backends(settings: Settings, backends: dict[str, Pingable]) -> dict[str, Any]:
    """The workshop's `metadata` block, plus an up/down report per backend (never raises)."""
    return {
        "metadata": settings.where(),
        "backends": {
            name: ("up" if backend.ping() else "down") for name, backend in backends.items()
        },
    }
