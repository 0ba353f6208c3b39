"""Node.js for tests that run the web app's scripts outside a browser."""

from __future__ import annotations

import shutil


def node() -> str:
    """The system's Node.js, else the one Playwright's driver ships (always installed here)."""
    found = shutil.which("node")
    if found:
        return found
    from playwright._impl._driver import compute_driver_executable

    return str(compute_driver_executable()[0])
