"""Hot reload's change detection: which edits under the watched folders count."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sam_emulator.lambda_.reload import CodeWatcher, package_dir

pytestmark = pytest.mark.unit


def touch(path: Path, text: str, seconds_later: int) -> None:
    path.write_text(text)
    stamp = path.stat().st_mtime + seconds_later
    os.utime(path, (stamp, stamp))


def test_edits_additions_and_removals_of_sources_are_changes(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    app = tmp_path / "app.py"
    app.write_text("A = 1\n")
    watcher = CodeWatcher([tmp_path])
    assert watcher.changes() == []
    touch(app, "A = 2\n", 1)
    assert watcher.changes() == [str(app)]
    assert watcher.changes() == []  # reported once
    (tmp_path / "pkg" / "schema.sql").write_text("SELECT 1;\n")
    assert watcher.changes() == [str(tmp_path / "pkg" / "schema.sql")]
    app.unlink()
    assert watcher.changes() == [str(app)]


def test_bytecode_caches_and_editor_files_are_not_changes(tmp_path: Path) -> None:
    watcher = CodeWatcher([tmp_path])
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "app.cpython-311.pyc").write_bytes(b"\x00")
    (tmp_path / ".app.py.swp").write_bytes(b"\x00")
    (tmp_path / "app.py~").write_text("old")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "x.py").write_text("")
    assert watcher.changes() == []


def test_missing_folders_are_ignored(tmp_path: Path) -> None:
    watcher = CodeWatcher([tmp_path / "nowhere"])
    assert watcher.roots == ()
    assert watcher.changes() == []


def test_the_shared_package_is_found_where_it_is_imported_from() -> None:
    folder = package_dir("talkrate")
    assert folder is not None
    assert (folder / "__init__.py").is_file()
    assert folder.parts[-3:] == ("layers", "shared", "talkrate")
