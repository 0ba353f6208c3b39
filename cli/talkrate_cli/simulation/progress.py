"""What `talkrate simulate` shows while it sends: a bar with its count, and the figures."""

from __future__ import annotations

from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.text import Text

from talkrate_cli.simulation.ledger import Ledger


def milliseconds(seconds: float | None) -> str:
    """A latency in whole milliseconds; "-" before any answer."""
    return "-" if seconds is None else f"{seconds * 1000:.0f} ms"


def figures_line(ledger: Ledger, now: float | None = None) -> str:
    """The figures under the send's bar: the rate of the last 2 s ("now") beside the run's
    average so far (what the report's rate will say), the median latency of the last 2 s, and
    the answers so far (the accepted last: the bar's count says about as much, should a
    terminal cut the line)."""
    rate, median = ledger.window_rate(now=now)
    return (
        f"now {rate:.0f}/s · avg {ledger.average_rate(now):.1f}/s · p50 {milliseconds(median)} · "
        f"errors {ledger.errors} · 429 {ledger.throttled} · accepted {ledger.accepted}"
    )


class SendProgress(Progress):
    """The send's bar, then its figures on a line of their own: in one line they made it
    wider than a terminal of 80 columns, which cut the bar and the count to "12…"."""

    def __init__(self, console: Any) -> None:
        super().__init__(
            TextColumn("sending"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        )

    def get_renderables(self) -> Any:
        yield self.make_tasks_table(self.tasks)
        for task in self.tasks:
            if line := task.fields.get("stats"):
                yield Text(line, no_wrap=True, overflow="ellipsis")
