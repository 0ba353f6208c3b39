"""Memory: a function's RSS over many warm invocations in one process, against the real backends.

    python -m bench.memory --out result.json --function api [--invocations 10000]

One process per function (run by `python -m bench`), the handler loaded by path as Lambda loads
it. VmRSS (/proc/self/status) is read after the import, after the first invocation and every
`--every` invocations; the CPU time the process spends per invocation is recorded too, because
Lambda's MemorySize also sets the CPU share. Each function gets what it gets on AWS:
- api: POST /ratings and GET /ratings in turn, over the dev talks;
- projector: Kafka events of `--records` RatingSubmitted records each, at increasing offsets;
- stats: its direct-invoke and function-URL sample events in turn;
- relay: the schedule's sample event (an empty outbox: one query per invocation).
"""

from __future__ import annotations

import argparse
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

from bench.common import child_main

FUNCTIONS = ("api", "projector", "stats", "relay")


def rss_kb(field: str = "VmRSS") -> int:
    """The resident set size of this process now (VmRSS) or at its highest (VmHWM), in kB.

    Not getrusage's ru_maxrss: Linux carries it over from the parent across fork and exec.
    """
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def _events(function: str, records: int) -> Callable[[int], Any]:
    """The event of the i-th invocation, built when needed (so events never pile up in memory)."""
    from talkrate_local.devdata import ALWAYS_OPEN
    from tests.builders import http_event, kafka_event, rating_event, ratings_batch, sample_event

    talks = list(ALWAYS_OPEN)  # the talks whose rating window never closes
    if function == "api":

        def api(i: int) -> Any:
            talk = talks[i // 2 % len(talks)]
            if i % 2 == 0:
                body = json.dumps({"talkId": talk, "value": i % 5 + 1})
                return http_event("POST", "/ratings", body=body)
            return http_event("GET", "/ratings", query={"talkId": talk})

        return api
    if function == "projector":
        topic = f"bench-memory-{uuid.uuid4().hex[:8]}"

        def projector(i: int) -> Any:
            events = [rating_event(talks[(i + n) % len(talks)], n % 5 + 1) for n in range(records)]
            return kafka_event(ratings_batch(topic, 0, i * records, events))

        return projector
    if function == "stats":
        direct, url = sample_event("stats/direct.json"), sample_event("stats/function-url.json")
        return lambda i: direct if i % 2 == 0 else url
    schedule = sample_event("relay/schedule.json")
    return lambda i: schedule


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """RSS samples and CPU per invocation over `args.invocations` warm invocations."""
    from tests.builders import LambdaContextStub, load_function

    event_for = _events(args.function, args.records)
    harness = rss_kb()  # the bench's own imports (tests.builders brings pydantic)
    handler = load_function(args.function)
    samples: list[dict[str, float]] = [{"invocations": 0, "rss_kb": rss_kb()}]
    failures = 0
    started_cpu, started = time.process_time(), time.perf_counter()
    for i in range(args.invocations):
        answer = handler(event_for(i), LambdaContextStub(args.function))
        if isinstance(answer, dict) and int(answer.get("statusCode", 200)) >= 400:
            failures += 1
        done = i + 1
        if done == 1 or done % args.every == 0:
            samples.append(
                {
                    "invocations": done,
                    "rss_kb": rss_kb(),
                    "cpu_s": round(time.process_time() - started_cpu, 3),
                    "wall_s": round(time.perf_counter() - started, 3),
                }
            )
    elapsed_cpu, elapsed = time.process_time() - started_cpu, time.perf_counter() - started
    steady = [s for s in samples if s["invocations"] >= args.every]
    return {
        "function": args.function,
        "invocations": args.invocations,
        "records_per_batch": args.records if args.function == "projector" else None,
        "failures": failures,
        "harness_kb": harness,
        "samples": samples,
        "start_kb": steady[0]["rss_kb"] if steady else samples[-1]["rss_kb"],
        "end_kb": samples[-1]["rss_kb"],
        "max_kb": max(s["rss_kb"] for s in samples),
        "peak_kb": rss_kb("VmHWM"),
        "slope_kb_per_1000": round(_slope(steady) * 1000, 2),
        "cpu_ms_per_invocation": round(elapsed_cpu * 1000 / args.invocations, 4),
        "wall_ms_per_invocation": round(elapsed * 1000 / args.invocations, 4),
    }


def _slope(samples: list[dict[str, float]]) -> float:
    """Least-squares growth of RSS in kB per invocation."""
    if len(samples) < 2:
        return 0.0
    xs = [s["invocations"] for s in samples]
    ys = [s["rss_kb"] for s in samples]
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    spread = sum((x - mean_x) ** 2 for x in xs)
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / spread


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--function", choices=FUNCTIONS, required=True)
    parser.add_argument("--invocations", type=int, default=10_000)
    parser.add_argument("--every", type=int, default=500)
    parser.add_argument("--records", type=int, default=10, help="records per projector event")


if __name__ == "__main__":
    child_main(__doc__.splitlines()[0], _arguments, measure)
