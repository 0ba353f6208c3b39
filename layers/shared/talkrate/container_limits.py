"""The rate limits counted by one container while Redis cannot count them.

Redis counts every container's requests together. While it does not answer, each container
counts the requests it serves itself, by the same rule (a fixed minute per subject; a request
counted only when none of its limits is used up), instead of letting them all through: an
outage lets a voter or an address through at most its limit a minute in each warm container
(API Gateway spreads a client's requests over them), bounded by the function's concurrency,
not without bound. Imported at the first request Redis could not count (never at init).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from talkrate.values import Admission, Limit

WINDOW_SECONDS = 60.0
# Subjects counted at once: an outage under a flood of addresses (of many IPv6 /48s)
# keeps a container's memory bounded (about 2 MB); past it, the subjects counted least recently
# are forgotten (a window ended long ago first).
MAX_SUBJECTS = 10_000


class ContainerLimits:
    """Fixed one-minute counters per (scope, subject), in this process's memory."""

    def __init__(
        self,
        window_seconds: float = WINDOW_SECONDS,
        max_subjects: int = MAX_SUBJECTS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._window = window_seconds
        self._max = max_subjects
        self._clock = clock
        # (scope, subject) -> (the window's start, requests counted in it), least recently counted
        # first
        self._counts: dict[tuple[str, str], tuple[float, int]] = {}
        self._lock = threading.Lock()  # the local runtime serves a container's requests on threads

    def admit(self, limits: list[Limit]) -> Admission:
        """Count the request against every limit unless one is used up (then count nothing)."""
        active = [limit for limit in limits if limit.per_minute > 0]
        now = self._clock()
        with self._lock:
            current = [self._current((limit.scope, limit.subject), now) for limit in active]
            for limit, (start, used) in zip(active, current, strict=True):
                if used >= limit.per_minute:
                    return Admission(False, max(1, math.ceil(start + self._window - now)), limit)
            for limit, (start, used) in zip(active, current, strict=True):
                key = (limit.scope, limit.subject)
                self._counts.pop(key, None)  # to the end: counted most recently
                self._counts[key] = (start, used + 1)
            while len(self._counts) > self._max:
                del self._counts[next(iter(self._counts))]
        return Admission(True)

    def give_back(self, limits: list[Limit]) -> None:
        """Undo an admission whose rating was not stored after all (in windows still open)."""
        now = self._clock()
        with self._lock:
            for limit in limits:
                key = (limit.scope, limit.subject)
                start, used = self._current(key, now)
                if used > 0:
                    self._counts[key] = (start, used - 1)

    def __len__(self) -> int:
        return len(self._counts)

    def _current(self, key: tuple[str, str], now: float) -> tuple[float, int]:
        start, used = self._counts.get(key, (now, 0))
        return (now, 0) if now - start >= self._window else (start, used)
