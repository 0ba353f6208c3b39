"""`make build` (and the benchmarks) find the python3.13 the Lambda build needs on the operator's
machine, or say in one line what to install or set, before anything else runs."""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.builders import ROOT

pytestmark = pytest.mark.unit


# make's own line for a failed routine, at any level ("make: ***", "make[2]: ***").
MAKE_FAILED = re.compile(r"make(\[\d+\])?: \*\*\*")


def _bin_with(tmp_path: Path, **tools: str) -> Path:
    """A PATH of its own: bash and make, and the tools named (name -> executable)."""
    folder = tmp_path / "bin"
    folder.mkdir()
    for name in ("bash", "make"):
        found = shutil.which(name)
        assert found, name
        (folder / name).symlink_to(found)
    for name, target in tools.items():
        (folder / name).symlink_to(target)
    return folder


def _make_py313(path: Path, **variables: str) -> subprocess.CompletedProcess[str]:
    # Not the make this suite may run under (`make test`): its MAKEFLAGS and MAKELEVEL made the
    # inner make say `make[2]: ***`, a line of another shape.
    outer = {"PY313", "MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES"}
    environment = {k: v for k, v in os.environ.items() if k not in outer}
    return subprocess.run(
        [str(path / "make"), "--no-print-directory", "-C", str(ROOT), "py313"]
        + [f"{name}={value}" for name, value in variables.items()],
        env={**environment, "PATH": str(path)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _python313() -> str | None:
    """A python3.13 that runs, wherever this machine has one."""
    candidates = [shutil.which("python3.13") or ""]
    candidates += sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.13*/bin/python3.13")))
    for candidate in candidates:
        if candidate and subprocess.run([candidate, "-c", ""], check=False).returncode == 0:
            return candidate
    return None


def test_without_python313_the_build_says_in_one_line_what_to_install_or_set(
    tmp_path: Path,
) -> None:
    # Given a machine with no python3.13 on PATH (nor pyenv), PY313 unset
    path = _bin_with(tmp_path)
    # When make looks for the build's interpreter
    finished = _make_py313(path)
    # Then it stops, with one line of its own naming what to install and what to set
    assert finished.returncode != 0
    [line] = [line for line in finished.stderr.splitlines() if not MAKE_FAILED.match(line)]
    assert "install Python 3.13" in line
    assert "PY313" in line
    # And a PY313 that holds none is told the same way, naming it
    empty = tmp_path / "empty"
    empty.mkdir()
    named = _make_py313(path, PY313=str(empty))
    assert named.returncode != 0
    assert f"PY313={empty}" in named.stderr


def test_the_build_uses_the_python313_on_path(tmp_path: Path) -> None:
    interpreter = _python313()
    if interpreter is None:
        pytest.skip("no python3.13 on this machine")
    # Given python3.13 on PATH, PY313 unset
    path = _bin_with(tmp_path, **{"python3.13": interpreter})
    # Then the build takes that one
    finished = _make_py313(path)
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.strip() == f"python3.13: {path}/python3.13"


def test_every_routine_that_runs_python313_checks_for_it_first() -> None:
    makefile = (ROOT / "Makefile").read_text()
    for target in ("build", "bench", "bench-quick"):
        [prerequisites] = re.findall(rf"^{target}:([^#\n]*)", makefile, re.MULTILINE)
        assert prerequisites.split()[0] == "py313", target
    # bench-import runs the build first
    assert re.search(r"^bench-import: build\b", makefile, re.MULTILINE)
    # and no machine's own path is the default
    assert "/root/" not in makefile
