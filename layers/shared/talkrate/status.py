"""GET /: where each backend is and whether it answers, with credentials removed."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from talkrate.config import Settings
    from talkrate.ports import Pingable

PING_BUDGET_SECONDS = 2.0


def describe_backends(
    settings: Settings, backends: dict[str, Pingable], budget: float = PING_BUDGET_SECONDS
) -> dict[str, Any]:
    """The workshop's `metadata` block, plus an up/down report per backend (never raises):
    "up", "down", or the word a backend answers with instead ("empty": the read model's Redis
    answers without a read model).

    In prod only the up/down report: where the backends are is nobody's business there.

    The backends are asked at once and given one shared time budget, so a backend that hangs
    costs the answer `budget` seconds, not its own connect timeout.
    """
    answers: dict[str, str] = {}

    def ask(name: str, backend: Pingable) -> None:
        try:
            answer = backend.ping()
            answers[name] = answer if isinstance(answer, str) else "up" if answer else "down"
        except Exception:  # a ping that fails says "down", whatever the reason
            answers[name] = "down"

    # Plain threads (daemons: a hung ping finishes in the background, or with the process).
    askers = [
        threading.Thread(target=ask, args=item, name=f"ping-{item[0]}", daemon=True)
        for item in backends.items()
    ]
    for asker in askers:
        asker.start()
    deadline = time.monotonic() + budget
    for asker in askers:
        asker.join(max(0.0, deadline - time.monotonic()))
    report: dict[str, Any] = {
        "backends": {name: answers.get(name, "down") for name in backends},
    }
    if settings.stage != "prod":
        report = {"metadata": settings.where(), **report}
    return report
