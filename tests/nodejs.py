"""Node.js for tests that run the web app's scripts outside a browser."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path


def node() -> str:
    """The system's Node.js, else the one Playwright's driver ships (always installed here)."""
    found = shutil.which("node")
    if found:
        return found
    from playwright._impl._driver import compute_driver_executable

    return str(compute_driver_executable()[0])


def web_scripts(folder: Path) -> Path:
    """A copy of the web app's scripts in `folder` (made), which Node reads as ES modules."""
    from tests.builders import ROOT

    shutil.copytree(ROOT / "web" / "js", folder)
    (folder / "package.json").write_text('{"type": "module"}')
    return folder


def run_node(*arguments: str, input: str | None = None, timeout: float = 60) -> str:
    """What Node.js run with `arguments` (reading `input`) wrote to its output; the test fails,
    with what it wrote to its errors, when it does not exit 0."""
    done = subprocess.run(
        [node(), *arguments],
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout
