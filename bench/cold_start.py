"""Cold start: each function's import and init time in a fresh python3.13, from the built artifact.

`make build` leaves each function in .aws-sam/build/<Function>/ and the layer in
.aws-sam/build/SharedLayer/python (built for arm64). Every run is a new interpreter with
PYTHONPATH=layer:function, as Lambda puts /opt/python and /var/task on the path, timing
`import app` (the module-level init included) and never writing bytecode, as on Lambda where both
folders are read-only: what the build does not ship as bytecode is compiled on every cold start.

On a machine that is not arm64 the layer's native extensions (pydantic-core, psycopg2) cannot load,
so the measured copy has them replaced by the same versions' wheels for this machine; every other
file is the build's, byte for byte. Lambda's python3.13 runtime provides boto3 (its /var/runtime
comes after the layer on the path): the copy gets the project's pinned boto3, compiled, in the same
place, so an import of botocore that succeeds on Lambda succeeds here too. When the build ships no
bytecode, a second copy compiled by the bench (`compileall`) shows what shipping bytecode gives.
"""

from __future__ import annotations

import csv
import email.parser
import importlib.metadata
import json
import os
import platform
import shutil
import statistics
import subprocess
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import FUNCTION_ENVIRONMENT, ROOT, Figure, summary

BUILD = ROOT / ".aws-sam" / "build"
WORK = ROOT / ".aws-sam" / "bench"
# Build folder of each function, its source folder, and its target as a multiple of the
# baseline's cold start in the same run (None: no target). Absolute milliseconds do not compare
# across machines (a shared one is several times slower than a quiet one); a ratio does.
FUNCTIONS: dict[str, tuple[str, float | None]] = {
    "ApiFunction": ("api", 1.5),
    "ProjectorFunction": ("projector", 1.5),
    "StatsFunction": ("stats", None),
    "RelayFunction": ("relay", None),
}
# The yardstick: a function that imports only Powertools' Logger and returns, the least a
# talkrate function does (every one logs through it). Not deployed: the bench writes it beside
# the built functions, on the same layer.
BASELINE = "BaselineFunction"
_BASELINE_APP = (
    '"""The cold start yardstick: Powertools\' Logger and nothing else."""\n\n'
    "from aws_lambda_powertools import Logger\n\n"
    "logger = Logger()\n\n\n"
    "def lambda_handler(event, context):\n"
    "    return {}\n"
)
MEASURED = (*FUNCTIONS, BASELINE)
# Imported by the handler module as Lambda's bootstrap does (`app.lambda_handler`). Lambda's
# Python runtimes (3.12+) offer snapshot_restore_py, where talkrate.snapstart registers the
# modules a function's first request imports (its adapters: they open no connection at import);
# the child offers a stand-in that only notes them, then times importing them after the init:
# what the first request of a container without SnapStart pays besides the init.
_CHILD = (
    "import time, json, sys, types\n"
    "noted = []\n"
    "stand_in = types.ModuleType('snapshot_restore_py')\n"
    "stand_in.register_before_snapshot = lambda hook, modules=(): noted.extend(modules)\n"
    "stand_in.register_after_restore = lambda hook: None\n"
    "sys.modules['snapshot_restore_py'] = stand_in\n"
    "started = time.perf_counter()\n"
    "import app\n"
    "handler = app.lambda_handler\n"
    "elapsed = time.perf_counter() - started\n"
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent across fork and exec.
    "peak = next(l for l in open('/proc/self/status') if l.startswith('VmHWM:')).split()[1]\n"
    "started = time.perf_counter()\n"
    "for name in noted:\n"
    "    __import__(name)\n"
    "first = time.perf_counter() - started\n"
    "print('COLDSTART ' + json.dumps({'ms': elapsed * 1000, 'maxrss_kb': int(peak),"
    " 'first_request_imports_ms': first * 1000, 'first_request_modules': len(noted)}))\n"
)
HEAVY = {"boto3": "boto3", "botocore": "botocore", "aws_xray_sdk": "X-Ray SDK"}


# --- the build ----------------------------------------------------------------------------------


def build_state() -> dict[str, Any]:
    """Whether .aws-sam/build exists and matches the sources, and whether it ships bytecode."""
    if not (BUILD / "SharedLayer" / "python").is_dir():
        return {"exists": False, "stale": [], "pyc": 0, "py": 0}
    pairs = [
        (source, BUILD / "SharedLayer" / "python" / source.relative_to(ROOT / "layers" / "shared"))
        for source in (ROOT / "layers" / "shared" / "talkrate").rglob("*")
        if source.suffix in (".py", ".sql") and "__pycache__" not in source.parts
    ]
    for function, (folder, _) in FUNCTIONS.items():
        pairs.extend(
            (source, BUILD / function / source.name)
            for source in (ROOT / "functions" / folder).glob("*.py")
        )
    stale = [
        str(source.relative_to(ROOT))
        for source, built in pairs
        if not built.exists() or built.read_bytes() != source.read_bytes()
    ]
    layer = BUILD / "SharedLayer" / "python"
    return {
        "exists": True,
        "stale": stale,
        "pyc": sum(1 for _ in layer.rglob("*.pyc")),
        "py": sum(1 for _ in layer.rglob("*.py")),
        "functions_pyc": sum(1 for f in FUNCTIONS for _ in (BUILD / f).rglob("*.pyc")),
    }


def ensure_build(log: Path) -> dict[str, Any]:
    """Run `make build` when the build is missing or older than the sources."""
    state = build_state()
    reason = "missing" if not state["exists"] else ("stale" if state["stale"] else "")
    if not reason:
        return {**state, "built_now": False}
    print(f"cold start: the build is {reason}: make build (log: {log})", flush=True)
    started = time.monotonic()
    with log.open("wb") as output:
        done = subprocess.run(
            ["make", "build"], cwd=ROOT, stdout=output, stderr=subprocess.STDOUT, timeout=600
        )
    if done.returncode != 0:
        if not state["exists"]:
            raise RuntimeError(f"make build failed (exit {done.returncode}); see {log}")
        print(f"cold start: make build failed; measuring the stale build (see {log})", flush=True)
        return {**state, "built_now": False, "build_failed": True}
    return {**build_state(), "built_now": True, "build_seconds": time.monotonic() - started}


# --- a copy this machine can run ----------------------------------------------------------------


@dataclass
class Artifact:
    """A runnable copy of the build: the layer and each function folder."""

    folder: Path
    variant: str
    runtime: Path
    swapped: list[str] = field(default_factory=list)

    @property
    def layer(self) -> Path:
        """The layer's python/ folder (Lambda's /opt/python)."""
        return self.folder / "layer"

    def function(self, name: str) -> Path:
        """A function's folder (Lambda's /var/task)."""
        return self.folder / name


def runnable_copy(python: str, variant: str, compile_bytecode: bool) -> Artifact:
    """Copy the build, swap foreign native extensions for this machine's, compile if asked."""
    artifact = Artifact(WORK / variant, variant, _runtime_packages(python))
    shutil.rmtree(artifact.folder, ignore_errors=True)
    artifact.folder.mkdir(parents=True)
    # copy2 keeps modification times, so bytecode the build ships stays valid for its sources.
    shutil.copytree(BUILD / "SharedLayer" / "python", artifact.layer, symlinks=True)
    for function in FUNCTIONS:
        shutil.copytree(BUILD / function, artifact.function(function), symlinks=True)
    artifact.function(BASELINE).mkdir()
    (artifact.function(BASELINE) / "app.py").write_text(_BASELINE_APP)
    artifact.swapped = _swap_native_extensions(artifact.layer, python)
    if compile_bytecode:
        subprocess.run(
            [python, "-m", "compileall", "-q", "-j", "0", str(artifact.folder)],
            check=True,
            stdout=subprocess.DEVNULL,
            timeout=300,
        )
    return artifact


def _runtime_packages(python: str) -> Path:
    """boto3 as the Lambda runtime provides it (compiled), installed once and reused."""
    version = importlib.metadata.version("boto3")
    folder = WORK / f"runtime-boto3-{version}"
    if (folder / ".complete").exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    _pip_install(python, folder, f"boto3=={version}")
    subprocess.run(
        [python, "-m", "compileall", "-q", "-j", "0", str(folder)],
        check=True,
        stdout=subprocess.DEVNULL,
        timeout=300,
    )
    (folder / ".complete").touch()
    return folder


def _host_wheel(python: str, requirement: str) -> Path:
    """`requirement` installed for this machine into a folder of its own, once, and reused."""
    folder = WORK / f"native-{requirement.replace('==', '-')}-{platform.machine()}"
    if not (folder / ".complete").exists():
        shutil.rmtree(folder, ignore_errors=True)
        _pip_install(python, folder, requirement, "--no-deps")
        (folder / ".complete").touch()
    return folder


def _pip_install(python: str, target: Path, requirement: str, *options: str) -> None:
    done = subprocess.run(
        [
            *(python, "-m", "pip", "install", "--quiet", "--no-compile", "--only-binary=:all:"),
            *("--disable-pip-version-check", "--root-user-action=ignore", *options),
            *("--target", str(target), requirement),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        raise RuntimeError(f"pip could not install {requirement}:\n{done.stderr[-2000:]}")


def _swap_native_extensions(layer: Path, python: str) -> list[str]:
    machine = platform.machine()
    swapped: list[str] = []
    for info in sorted(layer.glob("*.dist-info")):
        tags = [
            line.split(":", 1)[1].strip()
            for line in (info / "WHEEL").read_text().splitlines()
            if line.startswith("Tag:")
        ]
        if not tags or any(t.endswith("-any") or machine in t for t in tags):
            continue
        metadata = email.parser.Parser().parsestr((info / "METADATA").read_text())
        requirement = f"{metadata['Name']}=={metadata['Version']}"
        with (info / "RECORD").open(newline="") as record:
            for row in csv.reader(record):
                path = (layer / row[0]).resolve() if row else layer
                if path.is_relative_to(layer.resolve()) and path.is_file():
                    path.unlink()
        shutil.rmtree(info, ignore_errors=True)
        shutil.copytree(
            _host_wheel(python, requirement),
            layer,
            dirs_exist_ok=True,
            ignore=shutil.ignore_patterns(".complete"),
        )
        swapped.append(f"{requirement} ({tags[0].split('-')[-1]} -> {machine})")
    for folder in sorted(layer.rglob("*"), reverse=True):
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
    return swapped


# --- measuring ----------------------------------------------------------------------------------


def _environment(artifact: Artifact, function: str) -> dict[str, str]:
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "PYTHONPATH": f"{artifact.layer}:{artifact.function(function)}:{artifact.runtime}",
        "PYTHONDONTWRITEBYTECODE": "1",  # Lambda's /opt and /var/task are read-only
        "LAMBDA_TASK_ROOT": str(artifact.function(function)),
        "AWS_LAMBDA_FUNCTION_NAME": function,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
        **FUNCTION_ENVIRONMENT,
    }


def _one_run(python: str, artifact: Artifact, function: str) -> dict[str, float]:
    started = time.perf_counter()
    done = subprocess.run(
        [python, "-c", _CHILD],
        cwd=artifact.function(function),
        env=_environment(artifact, function),
        capture_output=True,
        text=True,
        timeout=60,
    )
    wall = (time.perf_counter() - started) * 1000
    line = next((x for x in done.stdout.splitlines() if x.startswith("COLDSTART ")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"{function} failed to import:\n{done.stderr[-2000:]}")
    measured: dict[str, float] = json.loads(line.removeprefix("COLDSTART "))
    return {**measured, "process_ms": wall}


def _interpreter_ms(python: str, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([python, "-c", "pass"], check=True, env={"PATH": "/usr/bin:/bin"})
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


FIRST_PARTY = ("app", "talkrate")


def _root(module: str) -> str:
    return module.split(".")[0]


@dataclass
class _Import:
    depth: int
    name: str
    self_us: int
    cumulative_us: int
    chain: tuple[str, ...] = ()


def import_costs(python: str, artifact: Artifact, function: str, runs: int) -> dict[str, Any]:
    """`python -X importtime -c 'import app'`: what `import app` spends, by package and by import.

    Medians over `runs`; importtime's own overhead inflates the totals a little, the shares hold.
    """
    by_package_runs: list[dict[str, float]] = []
    heaviest_runs: list[dict[tuple[str, str], float]] = []
    modules: set[str] = set()
    for _ in range(runs):
        done = subprocess.run(
            [python, "-X", "importtime", "-c", "import app"],
            cwd=artifact.function(function),
            env=_environment(artifact, function),
            capture_output=True,
            text=True,
            timeout=60,
        )
        entries = _app_subtree(done.stderr)
        modules.update(e.name for e in entries)
        by_package: dict[str, float] = defaultdict(float)
        for entry in entries:
            by_package[entry.name.split(".")[0]] += entry.self_us / 1000
        by_package_runs.append(by_package)
        # Where the project's own code (app, talkrate) pulls in another package: what to cut.
        heaviest_runs.append(
            {
                (e.chain[-1], e.name): e.cumulative_us / 1000
                for e in entries
                if e.chain
                and _root(e.chain[-1]) in FIRST_PARTY
                and _root(e.name) not in FIRST_PARTY
            }
        )
    packages = {p for run in by_package_runs for p in run}
    by_package_ms = {
        p: statistics.median(run.get(p, 0.0) for run in by_package_runs) for p in packages
    }
    chains = {c for run in heaviest_runs for c in run}
    heaviest = {c: statistics.median(run.get(c, 0.0) for run in heaviest_runs) for c in chains}
    return {
        "runs": runs,
        "by_package_ms": dict(sorted(by_package_ms.items(), key=lambda kv: -kv[1])[:15]),
        "heaviest_ms": [
            {"import": f"{importer} imports {name}", "ms": round(ms, 1)}
            for (importer, name), ms in sorted(heaviest.items(), key=lambda kv: -kv[1])[:15]
        ],
        "modules": len(modules),
        "heavy_on_init_path": sorted(
            {
                label
                for m in modules
                for p, label in HEAVY.items()
                if m == p or m.startswith(p + ".")
            }
        ),
    }


def _app_subtree(stderr: str) -> list[_Import]:
    """The imports under `import app`, each with the chain of imports that led to it."""
    entries: list[_Import] = []
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, cumulative_us, name = line.removeprefix("import time:").split("|", 2)
        depth = (len(name) - len(name.lstrip(" ")) - 1) // 2
        entries.append(_Import(depth, name.strip(), int(self_us), int(cumulative_us)))
    root = next((i for i, e in enumerate(entries) if e.depth == 0 and e.name == "app"), None)
    if root is None:
        return []
    start = root
    while start > 0 and entries[start - 1].depth > 0:
        start -= 1
    subtree = entries[start : root + 1]
    # importtime prints children before their parent: walk backwards to know each one's chain.
    stack: list[_Import] = []
    for entry in reversed(subtree):
        while stack and stack[-1].depth >= entry.depth:
            stack.pop()
        entry.chain = tuple(e.name for e in stack)
        stack.append(entry)
    return subtree


def measure(python: str, runs: int, importtime_runs: int, log: Path) -> dict[str, Any]:
    """Every function's cold start from the build (and from a compiled copy when it has no
    bytecode), median of `runs` fresh interpreters, plus its import costs."""
    build = ensure_build(log)
    ships_bytecode = build["pyc"] > 0
    variants = (
        [("as-built", False)] if ships_bytecode else [("as-built", False), ("compiled", True)]
    )
    version = subprocess.run(
        [python, "-c", "import sys, platform; print(sys.version.split()[0], platform.machine())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    result: dict[str, Any] = {
        "python": f"{python} ({version})",
        "build": build,
        "runs": runs,
        "interpreter_ms": round(_interpreter_ms(python, 5), 1),
        "variants": {},
    }
    for variant, compile_bytecode in variants:
        artifact = runnable_copy(python, variant, compile_bytecode)
        samples: dict[str, list[dict[str, float]]] = {f: [] for f in MEASURED}
        for function in MEASURED:  # one unrecorded run each: the page cache, not the import
            _one_run(python, artifact, function)
        for _ in range(runs):  # interleaved, so a slow moment of the machine hits every function
            for function in MEASURED:
                samples[function].append(_one_run(python, artifact, function))
        baseline_ms = statistics.median(s["ms"] for s in samples[BASELINE])
        result["variants"][variant] = {
            "swapped_native_extensions": artifact.swapped,
            "functions": {
                function: {
                    "import_ms": summary([s["ms"] for s in runs_]),
                    "median_ms": round(statistics.median(s["ms"] for s in runs_), 1),
                    "process_median_ms": round(
                        statistics.median(s["process_ms"] for s in runs_), 1
                    ),
                    "all_ms": [round(s["ms"], 1) for s in runs_],
                    "maxrss_mb": round(max(s["maxrss_kb"] for s in runs_) / 1024, 1),
                    # the adapters the first request imports (SnapStart preloads them)
                    "first_request_modules": runs_[0]["first_request_modules"],
                    "first_request_imports_ms": round(
                        statistics.median(s["first_request_imports_ms"] for s in runs_), 1
                    ),
                    "with_first_request_multiple": round(
                        statistics.median(s["ms"] + s["first_request_imports_ms"] for s in runs_)
                        / baseline_ms,
                        3,
                    ),
                    # the median of this function's runs over the baseline's, and the target
                    "multiple": round(statistics.median(s["ms"] for s in runs_) / baseline_ms, 3),
                    "target_multiple": _target(function),
                    "target_ms": (
                        round(_target(function) * baseline_ms, 1)  # type: ignore[operator]
                        if _target(function)
                        else None
                    ),
                    "imports": import_costs(python, artifact, function, importtime_runs),
                }
                for function, runs_ in samples.items()
            },
        }
        shutil.rmtree(artifact.folder, ignore_errors=True)
    return result


def _target(function: str) -> float | None:
    return FUNCTIONS[function][1] if function in FUNCTIONS else None


def figures(result: dict[str, Any]) -> list[Figure]:
    """The printed figures: each function's median per variant, and as a multiple of the
    baseline's against its target."""
    out: list[Figure] = []
    bytecode = result["build"]["pyc"] > 0
    for variant, data in result["variants"].items():
        label = {
            "as-built": "as built" + (" (with bytecode)" if bytecode else " (no bytecode)"),
            "compiled": "compiled by the bench",
        }[variant]
        for function, measured in data["functions"].items():
            out.append(
                Figure(
                    "cold start", f"{function} import+init, {label}", measured["median_ms"], "ms"
                )
            )
        for function, measured in data["functions"].items():
            if not measured.get("first_request_modules"):
                continue
            out.append(
                Figure(
                    "cold start",
                    f"{function} init and its first request's imports, as a multiple of the "
                    f"baseline, {label}",
                    measured["with_first_request_multiple"],
                    "x",
                    note=(
                        f"the {measured['first_request_modules']} adapter modules a first "
                        f"request imports take {measured['first_request_imports_ms']:.0f} ms "
                        "more; SnapStart's snapshot holds them"
                    ),
                )
            )
        for function, measured in data["functions"].items():
            if function == BASELINE:
                continue
            target = measured.get("target_multiple")
            out.append(
                Figure(
                    "cold start",
                    f"{function} as a multiple of the baseline (Logger only), {label}",
                    measured["multiple"],
                    "x",
                    "at-most" if target else "info",
                    target,
                )
            )
    return out


def describe_imports(result: dict[str, Any], top: int = 6) -> list[str]:
    """Lines naming the costliest imports of each function (the variant closest to shipping)."""
    variant = "compiled" if "compiled" in result["variants"] else "as-built"
    lines = [
        f"import costs (python -X importtime, {variant}, median ms; cumulative ms where the "
        "project's code imports another package):"
    ]
    for function, measured in result["variants"][variant]["functions"].items():
        imports = measured["imports"]
        packages = ", ".join(
            f"{name} {ms:.0f}" for name, ms in list(imports["by_package_ms"].items())[:top]
        )
        heavy = ", ".join(imports["heavy_on_init_path"]) or "none"
        lines.append(f"  {function}: by package (self time): {packages}; boto3/X-Ray: {heavy}")
        for item in imports["heaviest_ms"][:5]:
            lines.append(f"      {item['ms']:7.1f}  {item['import']}")
    return lines


def host_python_ok(python: str) -> bool:
    """Whether the python3.13 the build targets is there."""
    return os.access(python, os.X_OK)
