"""The Makefile's test routines as a developer calls them: `TESTS=` narrows a run to the file (or
test) named, instead of the routine's whole folder."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from tests.builders import ROOT

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def make_prints(*arguments: str) -> str:
    """The commands `make -n` says these targets would run (nothing is run)."""
    # Not the variables of a make this suite may run under (`make test PYTEST_ARGS=…` passes
    # them on to every make below it through MAKEFLAGS).
    inherited = ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "PYTEST_ARGS", "TESTS")
    return subprocess.run(
        ["make", "--no-print-directory", "-s", "-n", *arguments],
        cwd=ROOT,
        env={name: value for name, value in os.environ.items() if name not in inherited},
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def pytest_command(*arguments: str) -> list[str]:
    """The pytest command line `make -n` says a routine would run (nothing is run)."""
    printed = make_prints(*arguments)
    lines = [line for line in printed.splitlines() if " -m pytest" in line]
    assert len(lines) == 1, printed
    return lines[0].split(" -m pytest", 1)[1].split()


@pytest.mark.parametrize(
    ("routine", "folder"),
    [
        ("test-unit", "tests/unit"),
        ("test-integration", "tests/integration"),
        ("test-e2e", "tests/e2e"),
        ("test-faults", "tests/faults"),
    ],
)
def test_tests_narrows_a_routine_to_the_file_named(routine: str, folder: str) -> None:
    # Given one file of the routine's folder
    one = f"{folder}/test_one.py"
    # When the routine is asked for that file, with pytest's own options beside it
    command = pytest_command(routine, f"TESTS={one}", "PYTEST_ARGS=-x")
    # Then pytest gets that file only, not the whole folder as well
    assert command == [one, "-x"]
    # And without TESTS the routine runs its folder
    assert pytest_command(routine) == [folder]
