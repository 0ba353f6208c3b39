"""Hot reload: notice that a function's code or the shared package changed on disk.

The pool asks before each invocation (a scan of a few dozen files, well under a millisecond) and
retires its execution environments when something changed, so the next invocation imports the new
code in a new process. Nothing watches in the background and nothing is imported in the runtime.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Final

# Source files a handler loads; editors' swap and backup files are not among them.
WATCHED_SUFFIXES: Final = frozenset({".py", ".sql", ".json"})
_SKIPPED_DIRS: Final = frozenset({"__pycache__", "node_modules"})

Fingerprint = dict[str, tuple[int, int]]


def package_dir(module: str) -> Path | None:
    """The folder a package is imported from by this Python (a layer's source, locally)."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def fingerprint(roots: Iterable[Path]) -> Fingerprint:
    """Modification time and size of every watched file under the roots."""
    files: Fingerprint = {}
    for root in roots:
        for folder, subfolders, names in os.walk(root):
            subfolders[:] = [
                name
                for name in subfolders
                if name not in _SKIPPED_DIRS and not name.startswith(".")
            ]
            for name in names:
                if os.path.splitext(name)[1] not in WATCHED_SUFFIXES:
                    continue
                path = os.path.join(folder, name)
                try:
                    info = os.stat(path)
                except OSError:
                    continue  # removed while scanning: the next scan sees it gone
                files[path] = (info.st_mtime_ns, info.st_size)
    return files


class CodeWatcher:
    """Remembers the files of some folders and tells which changed since it last looked."""

    def __init__(self, roots: Sequence[Path]) -> None:
        self.roots = tuple(root for root in roots if root.is_dir())
        self._last = fingerprint(self.roots)

    def changes(self) -> list[str]:
        """The files added, changed or removed since the last call (or since creation)."""
        current = fingerprint(self.roots)
        if current == self._last:
            return []
        changed = [
            path
            for path in current.keys() | self._last.keys()
            if current.get(path) != self._last.get(path)
        ]
        self._last = current
        return sorted(changed)
