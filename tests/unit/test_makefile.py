"""The Makefile's test routines as a developer calls them: `TESTS=` narrows a run to the file (or
test) named, instead of the routine's whole folder."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

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


def test_tests_narrows_the_browser_routine_to_the_file_named() -> None:
    # (it ran every browser test whatever TESTS named: the suite's slowest part)
    one = "tests/e2e/test_web_admin.py"
    assert pytest_command("test-browser", f"TESTS={one}", "PYTEST_ARGS=-x") == [
        "-m",
        "browser",
        one,
        "-x",
    ]
    assert pytest_command("test-browser") == ["-m", "browser", "tests/e2e"]


# --- The AWS region of each routine -------------------------------------------------------------

# A stand-in for the virtual environment's python and talkrate (and the SAM CLI): each prints
# the region boto3 resolves, as the routine's own script would, and touches no network.
SAYS_REGION = """#!/bin/sh
exec {python} -c "import boto3; print('region:', boto3.session.Session().region_name)"
"""


def region_seen(tmp_path: Path, routine: str, config_region: str | None, **environment: str) -> str:
    """The region a routine's script sees (through boto3), run by make under a HOME whose
    ~/.aws/config names `config_region`, with no AWS variable but those given."""
    home = tmp_path / "home"
    (home / ".aws").mkdir(parents=True, exist_ok=True)
    if config_region:
        (home / ".aws" / "config").write_text(f"[default]\nregion = {config_region}\n")
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True, exist_ok=True)
    for name in ("python", "talkrate", "sam", "cfn-lint"):
        stand_in = venv / "bin" / name
        stand_in.write_text(SAYS_REGION.format(python=sys.executable))
        stand_in.chmod(0o755)
    kept = {"PATH", "LANG", "LC_ALL", "PYTHONPATH", "VIRTUAL_ENV"}
    env = {name: value for name, value in os.environ.items() if name in kept}
    env |= {"HOME": str(home), "AWS_EC2_METADATA_DISABLED": "true", **environment}
    ran = subprocess.run(
        [
            "make",
            "--no-print-directory",
            "-s",
            "-o",
            f"{venv}/.installed",
            routine,
            f"VENV={venv}",
            f"SAM={venv}/bin/sam",
            f"SAM_VENV={venv}",
            "STACK=talkrate-dev",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    regions = {line for line in ran.stdout.splitlines() if line.startswith("region:")}
    assert len(regions) == 1, ran.stdout + ran.stderr
    return regions.pop().removeprefix("region: ")


OPERATORS_ROUTINES = ["publish-web", "stage-throttle", "rebuild", "dead-letters", "redrive"]


@pytest.mark.parametrize("routine", OPERATORS_ROUTINES)
def test_the_operators_routines_take_the_region_of_their_aws_configuration(
    tmp_path: Path, routine: str
) -> None:
    # Given an operator whose AWS configuration names us-east-1, and no region variable
    # When a routine that calls AWS runs its script
    # Then the script sees the configured region, as `sam deploy` does (the Makefile exported
    # eu-west-1: a stage-throttle, a publish-web or a redrive went to another region's stack)
    assert region_seen(tmp_path, routine, "us-east-1") == "us-east-1"
    # And AWS_DEFAULT_REGION, when set, comes before the configuration, as for every AWS tool
    assert region_seen(tmp_path, routine, "us-east-1", AWS_DEFAULT_REGION="ap-south-1") == (
        "ap-south-1"
    )


@pytest.mark.parametrize("routine", ["validate", "test-unit"])
def test_the_offline_routines_have_a_region_without_any_configuration(
    tmp_path: Path, routine: str
) -> None:
    # Given no AWS configuration at all (a fresh checkout, CI)
    # Then the routines that need some region and depend on none (sam validate; the tests'
    # clients of moto and local endpoints) still have one
    assert region_seen(tmp_path, routine, None) == "eu-west-1"
