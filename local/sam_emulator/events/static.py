"""A URL prefix served from a folder, as a CDN in front of a bucket serves a single-page app.

`/app/js/main.js` is the file `js/main.js` of the folder; a path whose last segment has no dot
(`/app/leaderboard`, a deep link) that names no file gets the entry page instead, as a CloudFront
function rewriting such paths to `index.html` does, and so does any path below one of the
`entry_prefixes` (`talks/`, whose ids may hold dots); any other missing file is a 404.
The prefix without its slash redirects to the prefix with it. Generated files (a config document
written from the running stack) are served beside the folder's. A `transform` (a minifier) may
turn each file into what is served: worked out once per version of the file (its path, size and
modification time), so an edit shows at the next request. Nothing here knows the project: the
prefix, the folder, the entry page, the generated files, the transform and the response headers
are given.
"""

from __future__ import annotations

import hashlib
import mimetypes
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final
from urllib.parse import unquote

_READ_METHODS: Final = ("GET", "HEAD")
_TYPES: Final = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".txt": "text/plain; charset=utf-8",
    ".webmanifest": "application/manifest+json",
}


@dataclass(frozen=True)
class StaticResponse:
    """What the site answers: status, headers and body."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes = b""


@dataclass(frozen=True)
class StaticSite:
    """One URL prefix served from one folder, with a single-page-app fallback (`name` says what
    it is when the emulator prints its URL).

    `generated` maps a name under the prefix to a function that writes its content at each
    request from the request's headers, lower-cased (e.g. `config.json` from the running stack,
    naming it by the host the page was asked of); `transform` turns a file (its name under the
    prefix and its bytes) into what is served, the ETag being the served bytes'; `headers` go on
    every answer.
    """

    prefix: str
    folder: Path
    name: str = "site"  # what the start-up lines call it
    entry: str = "index.html"
    entry_prefixes: Sequence[str] = ()
    generated: Mapping[str, Callable[[Mapping[str, str]], bytes]] = field(default_factory=dict)
    headers: Sequence[tuple[str, str]] = ()
    transform: Callable[[str, bytes], bytes] | None = None
    # (file, size, modification time) -> (served bytes, their ETag): the newest version of each file
    _served: dict[Path, tuple[tuple[int, int], bytes, str]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def owns(self, path: str) -> bool:
        """Whether a request path (still percent-encoded) is the site's: the prefix and below."""
        return path == self.prefix or path.startswith(self.prefix + "/")

    def respond(
        self, method: str, path: str, request_headers: Mapping[str, str] | None = None
    ) -> StaticResponse:
        """The answer to a request for a path the site owns (`request_headers` lower-cased)."""
        if method not in _READ_METHODS:
            return self._answer(
                405,
                "text/plain; charset=utf-8",
                b"Method Not Allowed\n",
                [("allow", ", ".join(_READ_METHODS))],
            )
        if path == self.prefix:
            return StaticResponse(308, [*self.headers, ("location", self.prefix + "/")])
        name = unquote(path[len(self.prefix) + 1 :])
        if name in self.generated:
            content = self.generated[name](request_headers or {})
            return self._answer(200, _content_type(name), content, [("cache-control", "no-store")])
        file = self._file(name)
        if file is None:
            last = name.rsplit("/", 1)[-1]
            if "." in last and not name.startswith(tuple(self.entry_prefixes)):
                return self._answer(404, "text/plain; charset=utf-8", b"Not Found\n")
            file = self._file(self.entry)
            if file is None:
                return self._answer(404, "text/plain; charset=utf-8", b"Not Found\n")
        content, etag = self._content(file)
        # Files keep their names from one version to the next (no build step renames them), so
        # a browser revalidates each time: a 304 costs a round trip, never a stale page.
        cache = [("cache-control", "no-cache"), ("etag", etag)]
        if etag in (request_headers or {}).get("if-none-match", ""):
            return StaticResponse(304, [*self.headers, *cache])
        return self._answer(200, _content_type(file.name), content, cache)

    def _content(self, file: Path) -> tuple[bytes, str]:
        """The bytes served for a file and their ETag, worked out again only when the file
        changed (another size or modification time)."""
        stat = file.stat()
        version = (stat.st_size, stat.st_mtime_ns)
        known = self._served.get(file)
        if known is not None and known[0] == version:
            return known[1], known[2]
        content = file.read_bytes()
        if self.transform is not None:
            content = self.transform(file.relative_to(self.folder.resolve()).as_posix(), content)
        etag = '"' + hashlib.sha256(content).hexdigest()[:32] + '"'
        self._served[file] = (version, content, etag)
        return content, etag

    def _file(self, name: str) -> Path | None:
        if not name or name.endswith("/"):
            name += self.entry
        parts = name.split("/")
        if any(part in ("", ".", "..") or "\\" in part or "\0" in part for part in parts):
            return None
        root = self.folder.resolve()
        candidate = root.joinpath(*parts).resolve()
        if not candidate.is_relative_to(root) or not candidate.is_file():
            return None
        return candidate

    def _answer(
        self,
        status: int,
        content_type: str,
        body: bytes,
        extra: Sequence[tuple[str, str]] = (),
    ) -> StaticResponse:
        return StaticResponse(status, [*self.headers, ("content-type", content_type), *extra], body)


def _content_type(name: str) -> str:
    suffix = Path(name).suffix.lower()
    if suffix in _TYPES:
        return _TYPES[suffix]
    guessed, _ = mimetypes.guess_type(name)
    return guessed or "application/octet-stream"
