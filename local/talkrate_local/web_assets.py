"""The web app's files as they are served: scripts and style sheets minified (comments and needless
whitespace gone), everything else as written.

One function for every place the app leaves from: the local runtime's /app/ and the publish to the
stack's bucket (scripts/publish_web.py) serve the same bytes, and bench/web_size.py weighs them.
rJSmin and rCSSmin only drop comments and whitespace (no renaming, no rewriting), so the served
code is the source's, token for token. rJSmin knows template literals but not one nested in
another's `${}`: the app writes none (tests/unit/test_web_assets.py compares every script's syntax
tree before and after).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from pathlib import PurePath
from typing import Final

import rcssmin
import rjsmin

SCRIPTS: Final = (".js", ".mjs")
STYLE_SHEETS: Final = (".css",)
# Set (to anything but empty or 0) for the local runtime to serve the files as written.
SOURCE_VARIABLE: Final = "TALKRATE_WEB_SOURCE"
# The app's service worker, served at /app/sw.js (its scope, /app/, is its folder's), written
# from web/sw.js with the version it keeps and the files of that version (service_worker).
WORKER: Final = "sw.js"
# A file the entry page loads: an href or src under /app/ with an ending, not a talk's page
# (/app/talks/a.b is a page whatever its id looks like).
_ENTRY_FILE = re.compile(r"""(?:href|src)=(["'])/app/((?!talks/)[^"'?#]+\.[A-Za-z0-9]+)\1""")


def served(name: str, content: bytes) -> bytes:
    """What is served for the file `name` (a path or a key: its ending decides) written as
    `content`: a script or style sheet minified, any other file unchanged."""
    suffix = PurePath(name).suffix.lower()
    if suffix in SCRIPTS:
        return rjsmin.jsmin(content)  # type: ignore[no-any-return]
    if suffix in STYLE_SHEETS:
        return rcssmin.cssmin(content)  # type: ignore[no-any-return]
    return content


def entry_files(entry_page: str) -> list[str]:
    """The names under /app/ of the files the entry page loads (its style sheet, icon and every
    module it preloads or runs), in its order, each once."""
    return list(dict.fromkeys(match[2] for match in _ENTRY_FILE.finditer(entry_page)))


def version_of(files: Iterable[tuple[str, bytes]]) -> str:
    """A digest of the app's files, (name, bytes as served) each: the name of its version."""
    digest = hashlib.sha256()
    for name, content in files:
        digest.update(name.encode() + b"\0" + content + b"\0")
    return digest.hexdigest()[:16]


def service_worker(source: bytes, version: str, prefix: str, files: Sequence[str]) -> bytes:
    """web/sw.js (`source`) as served for the version `version` whose files are under `prefix`
    (/app/ as written, /app/b/<build>/ as published): the cache it keeps named by the version,
    and its shell, the entry page (/app/) and `files` (entry_files) under the prefix."""
    text = source.decode()
    shell = ["/app/", *(prefix + name for name in files)]
    for line, written in (
        ('const VERSION = "source";', f"const VERSION = {json.dumps(version)};"),
        ('const PREFIX = "/app/";', f"const PREFIX = {json.dumps(prefix)};"),
        ('const SHELL = ["/app/"];', f"const SHELL = {json.dumps(shell)};"),
    ):
        if line not in text:
            raise ValueError(f"{WORKER} has no line {line!r} to write its version in")
        text = text.replace(line, written, 1)
    return text.encode()
