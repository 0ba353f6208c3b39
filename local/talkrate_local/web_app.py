"""talkrate's web app in the local runtime: the `web/` folder under /app/, and /app/config.json
written from the running stack (the live channel's endpoint when there is one, the voting policy,
the venue's time zone).

On AWS the same document is written to the bucket by the publish command, from the stack's outputs.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final

from sam_emulator.events.static import StaticSite
from sam_emulator.serving import host_name
from talkrate.time_zones import time_zone
from talkrate_local.embedded import ServiceError
from talkrate_local.web_assets import WORKER, entry_files, served, service_worker, version_of

APP_PREFIX: Final = "/app"
WEB_DIR: Final = "web"
# What CloudFront's response headers policy (the template's WebSecurityHeaders) sends on AWS
# with every answer, the API's and the web app's, so both meet the same rules here: no inline
# script or style, nothing from another origin but the live channel's WebSocket (any, locally:
# its port is the runtime's), no sniffing, no framing. Not HSTS nor upgrade-insecure-requests:
# the runtime speaks plain HTTP (a browser ignores HSTS over it).
SECURITY_HEADERS: Final = (
    (
        "content-security-policy",
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "font-src 'self'; connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'self'; "
        "form-action 'self'; object-src 'none'",
    ),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "strict-origin-when-cross-origin"),
    ("x-frame-options", "DENY"),
)


def page_config(
    live: Mapping[str, Any] | None, voting_policy: str, time_zone: str | None = None
) -> dict[str, Any]:
    """The document GET /app/config.json answers: `live` is None when pages should poll;
    `timeZone` is the venue's (the template's EventTimeZone), None for each device's own."""
    return {
        "live": dict(live) if live else None,
        "votingPolicy": voting_policy,
        "timeZone": time_zone or None,
    }


def event_time_zone(parameters: Mapping[str, Any]) -> str | None:
    """The template's EventTimeZone (`--param EventTimeZone=…` or EVENT_TIME_ZONE), None when
    empty; a name the time zone database does not hold stops the start, said in one line."""
    zone = parameters.get("EventTimeZone")
    if not isinstance(zone, str) or not zone:
        return None
    if time_zone(zone) is None:
        raise ServiceError(
            f"EventTimeZone {zone!r} is not a time zone: name the venue's as the IANA database "
            "does (Europe/Berlin, America/New_York), or leave it empty for each device's own"
        )
    return zone


class LocalWorker:
    """/app/sw.js as the local runtime serves it: web/sw.js written for the version of the files
    `folder` holds now, as served (minified unless `minified` is False), the digest the publish
    would name that version by. Worked out again only when a file changed (its size or
    modification time), so an edit is a new version, which the browser installs at its next
    check (the next page load)."""

    def __init__(self, folder: Path, minified: bool = True) -> None:
        self.folder = folder
        self.minified = minified
        self._known: tuple[tuple[tuple[str, int, int], ...], bytes] | None = None

    def _files(self) -> list[tuple[str, Path]]:
        return [
            (path.relative_to(self.folder).as_posix(), path)
            for path in sorted(self.folder.rglob("*"))
            if path.is_file()
            and not any(part.startswith(".") for part in path.relative_to(self.folder).parts)
        ]

    def _as_served(self, name: str, content: bytes) -> bytes:
        return served(name, content) if self.minified else content

    def __call__(self, _headers: Mapping[str, str]) -> bytes:
        files = self._files()
        stamp = tuple((name, (s := path.stat()).st_size, s.st_mtime_ns) for name, path in files)
        if self._known is not None and self._known[0] == stamp:
            return self._known[1]
        version = version_of(
            ("app/" + name, self._as_served(name, path.read_bytes())) for name, path in files
        )
        entry = (self.folder / "index.html").read_text(encoding="utf-8")
        source = (self.folder / WORKER).read_bytes()
        worker = self._as_served(
            WORKER, service_worker(source, version, APP_PREFIX + "/", entry_files(entry))
        )
        self._known = (stamp, worker)
        return worker


def web_app_site(
    template_dir: Path, config: Callable[[str | None], Mapping[str, Any]], minified: bool = True
) -> StaticSite:
    """The app's site: `web/` beside the template, under /app/, with config.json from `config`
    (given the host name the page was asked of) and sw.js written for the files' version
    (LocalWorker); its scripts and style sheets minified as the published app's are, unless
    `minified` is False (TALKRATE_WEB_SOURCE=1)."""
    return StaticSite(
        prefix=APP_PREFIX,
        name="the web app",
        folder=template_dir / WEB_DIR,
        entry_prefixes=("talks/",),  # talk ids may hold dots: still deep links, as on CloudFront
        generated={
            "config.json": lambda headers: json.dumps(
                config(host_name(headers.get("host")))
            ).encode(),
            WORKER: LocalWorker(template_dir / WEB_DIR, minified),
        },
        headers=SECURITY_HEADERS,
        transform=served if minified else None,
    )
