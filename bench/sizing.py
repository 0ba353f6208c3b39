"""A MemorySize proposal per function, from the memory and CPU the bench measured.

Lambda gives a function CPU in proportion to its memory: one full vCPU at 1,769 MB, so at M MB a
CPU-bound millisecond on a full core takes about 1769 / M ms. The proposal is the smallest size,
in steps of 128 MB, that
- holds the peak RSS with half again as headroom (larger batches, fragmentation, the runtime
  client Lambda adds to the process),
- keeps the CPU time of one invocation, stretched by that share, within the function's budget,
- keeps the cold start (import and init, measured on a full core) within its budget, reading
  conservatively that init gets the same CPU share as an invocation.
The budgets say what each function's CPU may cost in wall time; they come from its targets.
"""

from __future__ import annotations

import math
from typing import Any

FULL_CORE_MB = 1769
STEP_MB = 128
HEADROOM = 1.5
# Wall-time budget for one invocation's CPU, and why.
BUDGETS: dict[str, tuple[float, str]] = {
    "api": (2.0, "2 ms of CPU per request: about the loopback floor of a POST"),
    "projector": (50.0, "50 ms of CPU per 100-record batch: 5% of the 1 s freshness budget"),
    "stats": (1.0, "1 ms per call: it sits inside GET /ratings' 1 s stats timeout"),
    "relay": (100.0, "100 ms per run: it runs once a minute, nobody waits on it"),
}
# Wall-time budget for a cold start's import and init, and why.
INIT_BUDGETS: dict[str, tuple[float, str]] = {
    "api": (1000.0, "a cold start is a user's request: init within 1 s"),
    "projector": (2000.0, "a cold projector delays freshness: init within 2 s"),
    "stats": (1000.0, "GET /ratings waits at most 1 s for stats"),
    "relay": (2000.0, "init within 2 s, far from Lambda's 10 s init limit"),
}


def stretched_ms(cpu_ms: float, memory_mb: int) -> float:
    """Wall time of `cpu_ms` full-core CPU milliseconds at `memory_mb` (CPU-bound, estimate)."""
    return cpu_ms * FULL_CORE_MB / min(memory_mb, FULL_CORE_MB)


def propose(
    function: str, peak_rss_kb: int, cpu_ms: float, per: int = 1, init_ms: float | None = None
) -> dict[str, Any]:
    """The proposal for one function; `cpu_ms` per invocation, `per` records per invocation
    (the projector's budget is per 100 records), `init_ms` its cold start on a full core."""
    budget, reason = BUDGETS[function]
    init_budget, init_reason = INIT_BUDGETS[function]
    cpu_budgeted = cpu_ms * (100 / per) if function == "projector" else cpu_ms
    for_memory = _round_up(peak_rss_kb / 1024 * HEADROOM)
    for_cpu = _round_up(FULL_CORE_MB * cpu_budgeted / budget)
    for_init = _round_up(FULL_CORE_MB * init_ms / init_budget) if init_ms else STEP_MB
    proposed = min(max(for_memory, for_cpu, for_init), _round_up(FULL_CORE_MB))
    return {
        "function": function,
        "peak_rss_mb": round(peak_rss_kb / 1024, 1),
        "cpu_ms": round(cpu_budgeted, 3),
        "cpu_per": "100 records" if function == "projector" else "invocation",
        "budget_ms": budget,
        "budget_reason": reason,
        "for_memory_mb": for_memory,
        "for_cpu_mb": for_cpu,
        "init_ms": init_ms,
        "init_budget_ms": init_budget,
        "init_reason": init_reason,
        "for_init_mb": for_init,
        "proposed_mb": proposed,
        "stretched_ms": {
            str(size): round(stretched_ms(cpu_budgeted, size), 2)
            for size in (128, 256, 512, 1024, FULL_CORE_MB)
        },
    }


def _round_up(megabytes: float) -> int:
    return max(STEP_MB, math.ceil(megabytes / STEP_MB) * STEP_MB)
