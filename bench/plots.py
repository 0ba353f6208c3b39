"""PNG figures of a bench run (matplotlib, from requirements-bench.txt)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

TARGET_STYLE: dict[str, Any] = {"color": "#c0392b", "linestyle": "--", "linewidth": 1.2}
COLORS = ("#2e86c1", "#28b463", "#f39c12", "#8e44ad", "#7f8c8d")


def draw_all(results: dict[str, Any], folder: Path) -> list[Path]:
    """Draw every figure the results allow; returns the files written."""
    try:
        import matplotlib

        matplotlib.use("Agg")
    except ImportError:
        print("plots: matplotlib is missing (pip install -r requirements-bench.txt); no PNGs")
        return []
    drawers: dict[str, Callable[[Any, Path], None]] = {
        "cold_start": _cold_start,
        "hot_path": _hot_path,
        "projector": _projector,
        "freshness": _freshness,
        "memory": _memory,
    }
    written = []
    for part, draw in drawers.items():
        data = results.get("parts", {}).get(part)
        if isinstance(data, dict) and "error" not in data:
            path = folder / f"{part}.png"
            draw(data, path)
            written.append(path)
    return written


def _save(figure: Any, path: Path) -> None:
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    import matplotlib.pyplot as plt

    plt.close(figure)


def _cold_start(data: dict[str, Any], path: Path) -> None:
    import matplotlib.pyplot as plt

    variants = data["variants"]
    figure, (runs, imports) = plt.subplots(1, 2, figsize=(13, 4.8))
    functions = list(next(iter(variants.values()))["functions"])
    width = 0.8 / len(variants)
    for v, (variant, measured) in enumerate(variants.items()):
        for f, function in enumerate(functions):
            values = measured["functions"][function]["all_ms"]
            y = f + (v - (len(variants) - 1) / 2) * width
            runs.barh(
                y,
                measured["functions"][function]["median_ms"],
                height=width * 0.9,
                color=COLORS[v],
                alpha=0.6,
                label=variant if f == 0 else None,
            )
            runs.scatter(values, [y] * len(values), s=8, color=COLORS[v], zorder=3)
    for f, function in enumerate(functions):
        target = next(iter(variants.values()))["functions"][function]["target_ms"]
        if target:
            runs.plot([target, target], [f - 0.45, f + 0.45], **TARGET_STYLE)
    runs.set_yticks(range(len(functions)), functions)
    runs.set_xlabel(
        "import + init, ms (fresh python3.13; bars: median, dots: runs; dashed: target)"
    )
    runs.set_title(f"Cold start from the build, {data['runs']} runs each")
    runs.legend(loc="lower right")
    runs.invert_yaxis()

    variant = "compiled" if "compiled" in variants else "as-built"
    by_function = {
        f: variants[variant]["functions"][f]["imports"]["by_package_ms"] for f in functions
    }
    packages: list[str] = []
    for costs in by_function.values():
        packages += [p for p in list(costs)[:6] if p not in packages]
    left = [0.0] * len(functions)
    for p, package in enumerate(packages):
        values = [by_function[f].get(package, 0.0) for f in functions]
        imports.barh(
            range(len(functions)),
            values,
            left=left,
            label=package,
            color=plt.get_cmap("tab20")(p % 20),
        )
        left = [a + b for a, b in zip(left, values, strict=True)]
    imports.set_yticks(range(len(functions)), functions)
    imports.invert_yaxis()
    imports.set_xlabel("import self time by package, ms (python -X importtime, median)")
    imports.set_title(f"Where `import app` spends it ({variant})")
    imports.legend(fontsize=7, ncol=2, loc="lower right")
    _save(figure, path)


def _hot_path(data: dict[str, Any], path: Path) -> None:
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    percentiles = list(range(101))
    for axis, route in zip(axes, ("post", "get"), strict=True):
        curves = data["curves"]
        for n, (series, label) in enumerate(
            (
                (f"{route}_handler", "handler (in process, warm)"),
                (f"{route}_floor", "floor: raw round trips"),
                (f"{route}_handler_cpu", "handler CPU time"),
            )
        ):
            axis.plot(curves[series][:100], percentiles[:100], color=COLORS[n], label=label)
        floor = data["ms"][f"{route}_floor"]["p50"]
        axis.axvline(1.5 * floor, label="1.5 x floor p50 (target for handler p50)", **TARGET_STYLE)
        handler = data["ms"][f"{route}_handler"]
        axis.set_xlim(0, max(handler["p99"], 1.5 * floor) * 1.15)
        axis.set_xlabel("ms")
        axis.set_ylabel("percentile")
        axis.set_title(f"{route.upper()} /ratings, {data['calls']} calls (p0-p99)")
        axis.legend(fontsize=8, loc="lower right")
        axis.grid(alpha=0.3)
    _save(figure, path)


def _projector(data: dict[str, Any], path: Path) -> None:
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(9, 4.5))
    sizes = [str(s) for s in data["sizes"]]
    variants = (
        ("full", "project_batch (event store + read model)"),
        ("read_model_only", "read model only: apply(classify())"),
        ("raw_hincrby", "raw redis-py pipelined HINCRBY"),
    )
    width = 0.27
    for v, (variant, label) in enumerate(variants):
        values = [data["results"][size][variant]["events_per_s"] for size in sizes]
        xs = [i + (v - 1) * width for i in range(len(sizes))]
        axis.bar(xs, values, width=width * 0.95, color=COLORS[v], label=label)
        for x, value in zip(xs, values, strict=True):
            axis.text(x, value, f"{value / 1000:.0f}k", ha="center", va="bottom", fontsize=8)
    axis.axhline(100_000, label="target: 100,000 events/s", **TARGET_STYLE)
    axis.set_xticks(range(len(sizes)), [f"{int(s):,} records" for s in sizes])
    axis.set_ylabel("events/s (median batch)")
    axis.set_title(f"Projector throughput over {data['talks']:,} talks, one core")
    axis.legend(fontsize=8, loc="upper left")
    _save(figure, path)


def _freshness(data: dict[str, Any], path: Path) -> None:
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(9, 4.5))
    timeline = data["freshness_timeline"]
    if timeline:
        axis.scatter(
            [t for t, _ in timeline],
            [ms for _, ms in timeline],
            s=6,
            color=COLORS[0],
            label="one sample rating: 202 -> visible",
        )
    low = data.get("low_rate")
    if low and low["freshness_timeline"]:
        axis.scatter(
            [t for t, _ in low["freshness_timeline"]],
            [ms for _, ms in low["freshness_timeline"]],
            s=6,
            color=COLORS[3],
            label=f"the same at {low['rate']:.0f}/s (p99 {low['freshness_ms']['p99']:.0f} ms)",
        )
    for q, color in (("p50", COLORS[1]), ("p99", COLORS[2])):
        value = data["freshness_ms"].get(q)
        if value is not None:
            axis.axhline(
                value, color=color, linewidth=1, label=f"{q} {value:.0f} ms at {data['rate']:.0f}/s"
            )
    axis.axhline(1000, label="target p99: 1,000 ms (at 300/s)", **TARGET_STYLE)
    axis.set_xlabel("seconds into the run")
    axis.set_ylabel("ms from 202 to visible")
    axis.set_title(
        f"Freshness at {data['rate']:.0f} POST/s for {data['duration_s']:.0f} s "
        f"(--concurrency {data['concurrency']}): {data['errors']} errors, {data['lost']} lost"
    )
    axis.legend(fontsize=8, loc="upper right")
    axis.set_ylim(bottom=0)
    _save(figure, path)


def _memory(data: dict[str, Any], path: Path) -> None:
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(9, 4.5))
    for n, (function, measured) in enumerate(data["functions"].items()):
        if "samples" not in measured:
            continue
        samples = measured["samples"]
        axis.plot(
            [s["invocations"] for s in samples],
            [s["rss_kb"] / 1024 for s in samples],
            marker=".",
            color=COLORS[n],
            label=function,
        )
    harness = [m["harness_kb"] for m in data["functions"].values() if "harness_kb" in m]
    if harness:
        axis.axhline(
            min(harness) / 1024,
            color="#7f8c8d",
            linestyle=":",
            linewidth=1,
            label="the bench's own imports, before the handler loads",
        )
    axis.set_xlabel("warm invocations")
    axis.set_ylabel("RSS, MB")
    axis.set_title("RSS of each function over warm invocations (one process each)")
    axis.set_ylim(bottom=0)
    axis.legend(fontsize=8)
    axis.grid(alpha=0.3)
    _save(figure, path)
