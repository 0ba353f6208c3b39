"""`python -m bench`: every benchmark of talkrate in one bounded run, loopback only.

    python -m bench [--quick] [--parts cold,hot,projector,freshness,memory,live,web,broker]
        [--python PATH]

Prints every figure beside its target or floor with the ratio, writes bench/results/latest.json
and PNG plots beside it, and refreshes the generated part of docs/performance.md. --quick runs the
same parts with small counts (well under a minute) and writes to a temporary folder instead, so
the committed figures stay those of a full run. Nothing fails on speed: the exit status is 1 only
when a part could not run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import cold_start, report, sizing, web_size
from bench.common import (
    ROOT,
    Figure,
    PartFailed,
    function_environment,
    prepare_catalog,
    reset_backends,
    run_part,
)

RESULTS = ROOT / "bench" / "results"
DOCS = ROOT / "docs" / "performance.md"
PARTS = ("cold", "hot", "memory", "projector", "freshness", "live", "web", "broker")


class Counts:
    """How much each part does: full (make bench, ~5 min) or quick (make bench-quick, < 1 min)."""

    def __init__(self, quick: bool) -> None:
        self.cold_runs = 3 if quick else 40
        self.importtime_runs = 1 if quick else 3
        self.hot_calls = 300 if quick else 2000
        self.memory_invocations = 300 if quick else 10_000
        self.memory_every = 100 if quick else 500
        self.projector_repeats = "5,2,1" if quick else "30,10,3"
        self.freshness_rate = 300
        self.freshness_seconds = 5 if quick else 30
        self.concurrency = 4
        # A low rate as well: below BatchSize per second, the batching window closes batches.
        self.low_rate = 50
        self.low_rate_seconds = 0 if quick else 12
        # The live channel: ratings pushed to subscribed clients at the freshness rate.
        self.live_seconds = 5 if quick else 20
        self.live_subscribers = 200
        # make run's broker: single-client POSTs, seconds of 16 clients, 202-to-visible samples.
        self.broker_requests = 300 if quick else 1000
        self.broker_seconds = 5 if quick else 30
        self.broker_samples = 5 if quick else 20


def main() -> int:
    """Run the parts asked for, print the figures, write results, plots and docs."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small counts, results in a temp dir")
    parser.add_argument("--parts", default=",".join(PARTS), help=f"any of {','.join(PARTS)}")
    parser.add_argument(
        "--python",
        default="/root/.pyenv/versions/3.13.0/bin/python3.13",
        help="the python3.13 the cold start runs (Lambda's runtime version)",
    )
    parser.add_argument("--out", type=Path, help="results folder (default: bench/results)")
    parser.add_argument(
        "--render",
        type=Path,
        metavar="JSON",
        help="measure nothing: redraw the plots and docs from a results file (bench/results/latest.json)",
    )
    args = parser.parse_args()
    if args.render:
        return _render(args.render)
    parts = [p for p in args.parts.split(",") if p]
    if unknown := set(parts) - set(PARTS):
        parser.error(f"unknown parts: {', '.join(sorted(unknown))}")
    counts = Counts(args.quick)
    out = args.out or (
        Path(tempfile.mkdtemp(prefix="talkrate-bench-quick-")) if args.quick else RESULTS
    )
    out.mkdir(parents=True, exist_ok=True)

    started = time.monotonic()
    results: dict[str, Any] = {
        "mode": "quick" if args.quick else "full",
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": _machine(),
        "parts": {},
    }
    print(f"talkrate bench ({results['mode']}): {', '.join(parts)}", flush=True)
    prepare_catalog()
    runners: dict[str, Callable[[], dict[str, Any]]] = {
        "cold": lambda: _cold(args.python, counts, out),
        "hot": lambda: _with_broker(
            lambda bootstrap: run_part(
                "bench.hot_path",
                ["--calls", str(counts.hot_calls)],
                function_environment(bootstrap, "api"),
                timeout=240,
            )
        ),
        "memory": lambda: _with_broker(lambda bootstrap: _memory(bootstrap, counts)),
        "projector": lambda: run_part(
            "bench.projector",
            ["--repeats", counts.projector_repeats],
            function_environment("127.0.0.1:9"),  # no Kafka in this part
            timeout=240,
        ),
        "freshness": lambda: _freshness(counts),
        "live": lambda: run_part(
            "bench.live",
            [
                *("--rate", str(counts.freshness_rate)),
                *("--duration", str(counts.live_seconds)),
                *("--subscribers", str(counts.live_subscribers)),
                *("--concurrency", str(counts.concurrency)),
            ],
            function_environment("127.0.0.1:9"),  # the part starts its own broker
            timeout=counts.live_seconds + 180,
        ),
        "web": web_size.measure,
        "broker": lambda: run_part(
            "bench.broker",
            [
                *("--requests", str(counts.broker_requests)),
                *("--seconds", str(counts.broker_seconds)),
                *("--samples", str(counts.broker_samples)),
            ],
            dict(os.environ),
            timeout=2 * counts.broker_seconds + 300,
        ),
    }
    failed = []
    for part in parts:
        name = report.PART_NAMES[part]
        print(f"\n== {name} ==", flush=True)
        part_started = time.monotonic()
        try:
            reset_backends()
            results["parts"][name] = runners[part]()
        except (PartFailed, RuntimeError, OSError, subprocess.SubprocessError) as error:
            failed.append(part)
            results["parts"][name] = {"error": str(error)}
            print(f"{name}: could not run: {error}", file=sys.stderr)
            traceback.print_exc(limit=3)
        for figure in report.figures_of(name, results["parts"][name]):
            print(figure.line())
        for line in report.notes_of(name, results["parts"][name]):
            print(line)
        results.setdefault("part_seconds", {})[name] = round(time.monotonic() - part_started, 1)
        print(f"({name}: {results['part_seconds'][name]:.0f} s)", flush=True)

    if "functions" in results["parts"].get("memory", {}):
        results["parts"]["memory"]["sizing"] = _sizing(results["parts"])
        for line in report.notes_of("memory", results["parts"]["memory"]):
            print(line)
    results["seconds"] = round(time.monotonic() - started, 1)
    results["machine"]["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    figures = [f for name, data in results["parts"].items() for f in report.figures_of(name, data)]
    results["figures"] = [f.to_json() for f in figures]
    (out / "latest.json").write_text(json.dumps(results, indent=1) + "\n")
    from bench import plots

    pngs = plots.draw_all(results, out)
    _print_summary(figures, results, out, pngs)
    if not args.quick and args.out is None and not failed:
        report.update_docs(DOCS, results)
        print(f"docs: {DOCS.relative_to(ROOT)} updated")
    return 1 if failed else 0


def _render(path: Path) -> int:
    """Recompute the figures of a results file, redraw its plots, refresh the docs from it."""
    from bench import plots

    results = json.loads(path.read_text())
    figures = [f for name, data in results["parts"].items() for f in report.figures_of(name, data)]
    results["figures"] = [f.to_json() for f in figures]
    path.write_text(json.dumps(results, indent=1) + "\n")
    pngs = plots.draw_all(results, path.parent)
    _print_summary(figures, results, path.parent, pngs)
    if path.resolve() == (RESULTS / "latest.json").resolve():
        report.update_docs(DOCS, results)
        print(f"docs: {DOCS.relative_to(ROOT)} updated")
    return 0


def _machine() -> dict[str, Any]:
    def git(*command: str) -> str:
        done = subprocess.run(["git", *command], cwd=ROOT, capture_output=True, text=True)
        return done.stdout.strip()

    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "loadavg_start": [round(x, 2) for x in os.getloadavg()],
        "commit": git("rev-parse", "--short", "HEAD"),
        "uncommitted_files": len(git("status", "--porcelain").splitlines()),
    }


def _with_broker(run: Callable[[str], dict[str, Any]]) -> dict[str, Any]:
    from bench.common import RATINGS_TOPIC
    from sam_emulator.events.kafka import ensure_topics
    from talkrate_local.broker import LocalBroker

    with LocalBroker() as broker:
        ensure_topics(broker.bootstrap, [RATINGS_TOPIC], partitions=3)
        return run(broker.bootstrap)


def _cold(python: str, counts: Counts, out: Path) -> dict[str, Any]:
    if not cold_start.host_python_ok(python):
        raise RuntimeError(f"{python} is not there: the cold start needs Lambda's python3.13")
    with tempfile.NamedTemporaryFile(prefix="talkrate-build-", suffix=".log", delete=False) as log:
        path = Path(log.name)
    result = cold_start.measure(python, counts.cold_runs, counts.importtime_runs, path)
    if not result["build"].get("build_failed"):  # a failed build's log stays for reading
        path.unlink(missing_ok=True)
    return result


def _memory(bootstrap: str, counts: Counts) -> dict[str, Any]:
    functions: dict[str, Any] = {}
    for function in ("api", "projector", "stats", "relay"):
        reset_backends()
        functions[function] = run_part(
            "bench.memory",
            [
                *("--function", function),
                *("--invocations", str(counts.memory_invocations)),
                *("--every", str(counts.memory_every)),
            ],
            function_environment(bootstrap, function),
            timeout=240,
        )
        print(report.memory_line(function, functions[function]), flush=True)
    return {"functions": functions}


def _sizing(parts: dict[str, Any]) -> dict[str, Any]:
    """MemorySize proposals from the memory part, and the cold start when it ran."""
    functions = parts["memory"]["functions"]
    cold: dict[str, float] = {}
    if "variants" in parts.get("cold_start", {}):
        variants = parts["cold_start"]["variants"]
        measured = variants.get("compiled") or variants["as-built"]
        cold = {
            f.removesuffix("Function").lower(): m["median_ms"]
            for f, m in measured["functions"].items()
        }
    proposals = {
        name: sizing.propose(
            name,
            measured["peak_kb"],
            measured["cpu_ms_per_invocation"],
            measured.get("records_per_batch") or 1,
            cold.get(name),
        )
        for name, measured in functions.items()
    }
    for name, size in _template_memory().items():
        if name in proposals:
            proposals[name]["current_mb"] = size
    return proposals


def _freshness(counts: Counts) -> dict[str, Any]:
    def run(rate: int, seconds: int, sample_every: int) -> dict[str, Any]:
        return run_part(
            "bench.freshness",
            [
                *("--rate", str(rate)),
                *("--duration", str(seconds)),
                *("--concurrency", str(counts.concurrency)),
                *("--sample-every", str(sample_every)),
            ],
            function_environment("127.0.0.1:9"),  # the part starts its own broker
            timeout=seconds + 180,
        )

    result = run(counts.freshness_rate, counts.freshness_seconds, 10)
    if counts.low_rate_seconds:
        reset_backends()
        result["low_rate"] = run(counts.low_rate, counts.low_rate_seconds, 2)
    return result


def _template_memory() -> dict[str, int]:
    """MemorySize of each function in template.yaml now, by short name (api, projector, ...)."""
    from sam_emulator.template import load_template

    try:
        template = load_template((ROOT / "template.yaml").resolve(), {})
    except Exception as error:  # the proposal stands without it
        print(f"memory: could not read template.yaml's MemorySize: {error}", file=sys.stderr)
        return {}
    return {
        function_id.removesuffix("Function").lower(): spec.memory_mb
        for function_id, spec in template.functions.items()
    }


def _print_summary(
    figures: list[Figure], results: dict[str, Any], out: Path, pngs: list[Path]
) -> None:
    print("\n== every figure, against its target or floor ==")
    for figure in figures:
        print(figure.line())
    missed = [f for f in figures if f.met is False]
    print(f"\n{len(missed)} of {sum(1 for f in figures if f.met is not None)} targets missed:")
    for figure in missed:
        ratio = f", {figure.ratio:.2f}x" if figure.ratio is not None else ""
        print(
            f"  {figure.part}: {figure.name} = {figure.value:g} {figure.unit} ({figure.against()}{ratio})"
        )
    print(f"\nresults: {out / 'latest.json'}")
    for png in pngs:
        print(f"plot:    {png}")
    print(f"bench took {results['seconds']:.0f} s")


if __name__ == "__main__":
    sys.exit(main())
