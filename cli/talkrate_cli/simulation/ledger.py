"""What the simulator sent and what the API answered, and what that implies for the counts."""

from __future__ import annotations

import statistics
import time
from collections import Counter, deque
from dataclasses import dataclass, field

from talkrate_cli.simulation.scenario import Action

VALUES = ("1", "2", "3", "4", "5")
# An API that has answered nothing (no status of any kind) for this long is taken for gone: the
# run stops and reports what it sent, rather than trying each planned request for minutes.
# (Here, not in the runner, which loads httpx: it is `simulate --give-up-after`'s default, read
# for the command's help.)
SILENCE_SECONDS = 15.0


@dataclass
class Ledger:
    """Every outcome, and the histogram delta the accepted ratings imply.

    With voter tokens an attendee's newest accepted rating of a talk is the one that counts
    (their requests are sent one after another, so the last 202 is the newest); without them
    every accepted rating counts.
    """

    tokens: bool
    sent: int = 0
    accepted: int = 0
    bad_refused: int = 0
    bad_accepted: int = 0
    throttled: int = 0
    window_closed: int = 0
    errors: int = 0
    skipped: int = 0  # not sent: the talk had answered that its rating window is closed
    closed_talks: set[str] = field(default_factory=set)
    uncertain: int = 0  # no answer even after retries: counted or not, nobody knows
    statuses: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    recent: deque[tuple[float, float]] = field(default_factory=deque)  # (finished, latency)
    last_error: str = ""
    events: dict[str, list[str]] = field(default_factory=dict)  # talk: accepted event ids
    accepted_of: Counter[str] = field(default_factory=Counter)  # talk: its accepted ratings
    _newest: dict[tuple[int, str], int] = field(default_factory=dict)
    _every: Counter[tuple[str, int]] = field(default_factory=Counter)
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None

    def answered(
        self,
        action: Action,
        status: int,
        latency: float,
        slug: str = "",
        event_id: str | None = None,
    ) -> None:
        """Record one answer to one action (`event_id`: what a 202 named)."""
        self.sent += 1
        now = time.monotonic()
        self.latencies.append(latency)
        self.recent.append((now, latency))
        label = action.bad or "rating"
        self.statuses[f"{label} {status}"] += 1
        if action.bad is not None:
            if status == 202:
                self.bad_accepted += 1
                self.last_error = f"a bad request ({action.bad}) was accepted"
            else:
                self.bad_refused += 1
            return
        if status == 202:
            self.accepted += 1
            self.accepted_of[action.talk_id] += 1
            if event_id:
                self.events.setdefault(action.talk_id, []).append(event_id)
            if self.tokens:
                self._newest[(action.attendee, action.talk_id)] = action.value
            else:
                self._every[(action.talk_id, action.value)] += 1
        elif status == 429:
            self.throttled += 1
        elif status == 409 and "window" in slug:
            self.window_closed += 1
            self.closed_talks.add(action.talk_id)
        else:
            self.errors += 1
            self.last_error = f"HTTP {status} {slug}".strip()

    def failed(self, action: Action, reason: str) -> None:
        """No answer at all, after the retries."""
        self.sent += 1
        self.statuses[f"{action.bad or 'rating'} no answer"] += 1
        self.last_error = reason
        if action.bad is None:
            self.uncertain += 1
        self.errors += 1

    def expected_delta(self) -> dict[str, Counter[str]]:
        """Per talk, how many ratings of each value the accepted ratings add."""
        delta: dict[str, Counter[str]] = {}
        if self.tokens:
            for (_, talk_id), value in self._newest.items():
                delta.setdefault(talk_id, Counter())[str(value)] += 1
        else:
            for (talk_id, value), count in self._every.items():
                delta.setdefault(talk_id, Counter())[str(value)] += count
        return delta

    @property
    def expected(self) -> int:
        """How many ratings the accepted ones should add to the counts."""
        return sum(sum(c.values()) for c in self.expected_delta().values())

    def window_rate(
        self, seconds: float = 2.0, now: float | None = None
    ) -> tuple[float, float | None]:
        """Answers per second and the median latency over the last `seconds` (before `now`)."""
        now = time.monotonic() if now is None else now
        while self.recent and self.recent[0][0] < now - seconds:
            self.recent.popleft()
        elapsed = min(seconds, max(1e-3, now - self.started))
        median = statistics.median(s for _, s in self.recent) if self.recent else None
        return len(self.recent) / elapsed, median

    def average_rate(self, now: float | None = None) -> float:
        """Answers per second since the run started (the report's rate, at `now`)."""
        now = (self.finished or time.monotonic()) if now is None else now
        return self.sent / max(1e-3, now - self.started)

    def percentile(self, share: float) -> float | None:
        """A latency percentile over every answer, in seconds."""
        if not self.latencies:
            return None
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]
