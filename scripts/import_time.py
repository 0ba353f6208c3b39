"""How long a function's handler module takes to import from the built artifact, with Python 3.13,
from source only (what Lambda does when no bytecode ships: its disk is read-only, so it compiles
on every cold start) and from the bytecode `make build` ships.

    python scripts/import_time.py --python /path/to/python3.13 [--function ApiFunction] [--runs 7]

The build targets arm64; to import it on this machine, the packages with native code are
reinstalled for this machine at the same versions (their Python files are identical).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

PROBE = (
    "import time; started = time.perf_counter(); import app; "
    "print((time.perf_counter() - started) * 1000)"
)


def native_requirements(layer: Path) -> list[str]:
    """name==version of every distribution in the layer that ships a compiled extension."""
    pinned: list[str] = []
    for info in sorted(layer.glob("*.dist-info")):
        record = info / "RECORD"
        if record.is_file() and ".so," in record.read_text():
            name, version = info.name.removesuffix(".dist-info").rsplit("-", 1)
            pinned.append(f"{name}=={version}")
    return pinned


def prepare(build_dir: Path, function: str, python: str, workdir: Path) -> tuple[Path, Path]:
    """A copy of the layer and the function, with native packages for this machine."""
    layer = workdir / "opt" / "python"
    task = workdir / "task"
    shutil.copytree(build_dir / "SharedLayer" / "python", layer)
    shutil.copytree(build_dir / function, task)
    requirements = native_requirements(layer)
    if requirements:
        subprocess.run(
            [
                python,
                *("-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-deps"),
                *("--only-binary=:all:", "--root-user-action=ignore", "--upgrade"),
                *("--target", str(layer), *requirements),
            ],
            check=True,
        )
    return layer, task


def drop_bytecode(*folders: Path) -> None:
    """Remove every __pycache__ folder."""
    for folder in folders:
        for cache in list(folder.rglob("__pycache__")):
            shutil.rmtree(cache, ignore_errors=True)


def compile_bytecode(python: str, *folders: Path) -> None:
    """Compile as `make build` does: unchecked hashes."""
    for folder in folders:
        subprocess.run(
            [
                python,
                *("-m", "compileall", "-q", "-j", "0"),
                *("--invalidation-mode", "unchecked-hash", str(folder)),
            ],
            check=True,
        )


def measure(python: str, layer: Path, task: Path, runs: int) -> list[float]:
    """Milliseconds to `import app`, once per fresh interpreter; nothing written to disk."""
    environment = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": f"{layer}{os.pathsep}{task}",
        "PYTHONDONTWRITEBYTECODE": "1",  # Lambda cannot write bytecode either
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_REGION": "eu-west-1",
        "POWERTOOLS_SERVICE_NAME": "talkrate",
        "POWERTOOLS_METRICS_NAMESPACE": "talkrate",
    }
    timings: list[float] = []
    for _ in range(runs):
        result = subprocess.run(
            [python, "-c", PROBE],
            cwd=task,
            env=environment,
            capture_output=True,
            text=True,
            check=True,
        )
        timings.append(float(result.stdout.strip().splitlines()[-1]))
    return timings


def main() -> int:
    """Measure both ways and print the medians (JSON)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", required=True, help="Python 3.13, the Lambda runtime's")
    parser.add_argument("--build-dir", type=Path, default=Path(".aws-sam/build"))
    parser.add_argument("--function", default="ApiFunction")
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    if not 1 <= args.runs <= 50:
        parser.error("--runs must be from 1 to 50")
    if not (args.build_dir / args.function).is_dir():
        print(f"import-time: no {args.build_dir / args.function}; run make build", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="talkrate-import-") as scratch:
        layer, task = prepare(args.build_dir, args.function, args.python, Path(scratch))
        drop_bytecode(layer, task)
        source = measure(args.python, layer, task, args.runs)
        compile_bytecode(args.python, layer, task)
        bytecode = measure(args.python, layer, task, args.runs)
    report = {
        "function": args.function,
        "runs": args.runs,
        "source_only_ms": {
            "median": round(statistics.median(source), 1),
            "max": round(max(source), 1),
        },
        "bytecode_ms": {
            "median": round(statistics.median(bytecode), 1),
            "max": round(max(bytecode), 1),
        },
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
