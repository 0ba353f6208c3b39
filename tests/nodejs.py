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


def run_web_module(
    folder: Path, script: str, *arguments: str, input: str | None = None, timeout: float = 60
) -> str:
    """What Node.js wrote to its output running `script` as an ES module beside a copy of the
    web app's scripts made in `folder` (web_scripts): `process.argv[1]` is that copy's URL,
    ending in "/" (`await import(new URL("api.js", process.argv[1]))` is the pages' api.js),
    the `arguments` follow it; `input` is its standard input. As run_node, the test fails when
    Node does not exit 0."""
    scripts = web_scripts(folder)
    return run_node(
        "--input-type=module",
        "-e",
        script,
        scripts.as_uri() + "/",
        *arguments,
        input=input,
        timeout=timeout,
    )
