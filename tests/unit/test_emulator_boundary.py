"""The SAM emulator stands on its own: no module of it imports talkrate or its dev stack."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.builders import ROOT

pytestmark = pytest.mark.unit

EMULATOR = ROOT / "local" / "sam_emulator"
PROJECT_PACKAGES = ("talkrate", "talkrate_local", "talkrate_ops")


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    modules: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.add(node.module)
    return modules


def test_the_emulator_imports_nothing_of_the_project() -> None:
    # Given every module of the emulator
    files = sorted(EMULATOR.rglob("*.py"))
    assert len(files) > 20
    # Then none imports talkrate's packages
    offending = {
        str(path.relative_to(ROOT)): sorted(
            module for module in imported_modules(path) if module.split(".")[0] in PROJECT_PACKAGES
        )
        for path in files
    }
    assert {path: modules for path, modules in offending.items() if modules} == {}
