"""The routines that run the product run this checkout's code, whichever checkout the virtual
environment's editable install points to (a git worktree sharing another's .venv): from such a
worktree `make run` ran this checkout's handlers on the other checkout's shared package and
runtime, and the operator routines ran the other checkout's commands."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.builders import ROOT

pytestmark = pytest.mark.unit

THIS_CHECKOUT = f"{ROOT}/layers/shared:{ROOT}/cli:{ROOT}/local:{ROOT}/ops"
# Routines whose recipe writes nothing into the checkout (`openapi` and `compose-seed`, set the
# same way, write their output there, so they are not run here with a stand-in).
ROUTINES = ["run", "rebuild", "dead-letters", "redrive", "web-size"]


@pytest.fixture
def venv(tmp_path: Path) -> Path:
    """A virtual environment, set up already (its mark newer than what it is made from), whose
    python and talkrate only write down the PYTHONPATH they were started with."""
    folder = tmp_path / "venv"
    (folder / "bin").mkdir(parents=True)
    for program in ("python", "talkrate"):
        script = folder / "bin" / program
        script.write_text('#!/bin/sh\necho "$PYTHONPATH" > "$SAID"\n')
        script.chmod(0o755)
    (folder / ".installed").touch()
    return folder


@pytest.mark.parametrize("routine", ROUTINES)
def test_a_routine_runs_this_checkout_s_packages(venv: Path, routine: str) -> None:
    # Given a shell that sets no PYTHONPATH (the environment's editable install may be another
    # checkout's)
    said = venv / "said"
    shell = {name: value for name, value in os.environ.items() if name != "PYTHONPATH"}
    # When the routine runs
    finished = subprocess.run(
        ["make", "-s", routine, f"VENV={venv}", "IDS=3"],
        cwd=ROOT,
        env={**shell, "SAID": str(said)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    # Then what it started imports this checkout's packages first
    assert finished.returncode == 0, finished.stderr
    assert said.read_text().strip() == THIS_CHECKOUT
