"""GET /: where each backend is and whether it answers, with credentials removed."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any

from talkrate.config import Settings
from talkrate.ports import Pingable

PING_BUDGET_SECONDS = 2.0


def describe_backends(
    settings: Settings, backends: dict[str, Pingable], budget: float = PING_BUDGET_SECONDS
) -> dict[str, Any]:
    """The workshop's `metadata` block, plus an up/down report per backend (never raises).

    In prod only the up/down report: where the backends are is nobody's business there.

    The backends are asked at once and given one shared time budget, so a backend that hangs
    costs the answer `budget` seconds, not its own connect timeout.
    """
    pool = ThreadPoolExecutor(max_workers=max(1, len(backends)))
    futures = {name: pool.submit(backend.ping) for name, backend in backends.items()}
    wait(futures.values(), timeout=budget)
    pool.shutdown(wait=False)  # a hung ping finishes in the background
    report: dict[str, Any] = {
        "backends": {
            name: "up" if future.done() and not future.exception() and future.result() else "down"
            for name, future in futures.items()
        },
    }
    if settings.stage != "prod":
        report = {"metadata": settings.where(), **report}
    return report
