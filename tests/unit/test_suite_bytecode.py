"""The Pythons the suite starts (each `talkrate` run, each local runtime and its functions'
environments) read the checkout's code compiled, not compiled from source again at each start
(tests/conftest.py's compiled_once)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.builders import ROOT

pytestmark = pytest.mark.unit

# A module of each package a started Python imports: the command, the runtime, the functions'
CHILD_IMPORTS = ("talkrate_cli.main", "talkrate_local.stack", "talkrate.config")


def test_a_python_the_suite_starts_finds_the_checkout_s_code_compiled() -> None:
    # Given a Python started as the suite starts one (its environment, the checkout's folder)
    script = (
        "import importlib, importlib.util, sys\n"
        f"for name in {CHILD_IMPORTS!r}:\n"
        "    source = importlib.import_module(name).__file__\n"
        "    print(source, importlib.util.cache_from_source(source))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    # Then the bytecode it reads for each of its modules is there, as new as the source
    for line in done.stdout.splitlines():
        source, compiled = map(Path, line.split(" "))
        assert compiled.exists(), f"{source} is compiled from source at every start"
        assert compiled.stat().st_mtime >= source.stat().st_mtime, compiled
