"""talkrate's web app in the local runtime: the `web/` folder under /app/, and /app/config.json
written from the running stack (the live channel's endpoint when there is one, the voting policy).

On AWS the same document is written to the bucket by the publish command, from the stack's outputs.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final

from sam_emulator.events.static import StaticSite
from sam_emulator.serving import host_name

APP_PREFIX: Final = "/app"
WEB_DIR: Final = "web"
# What CloudFront's response headers policy sends on AWS, so the pages meet the same rules here:
# no inline script or style, nothing from another origin but the live channel's WebSocket.
SECURITY_HEADERS: Final = (
    (
        "content-security-policy",
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'self'; "
        "form-action 'self'; object-src 'none'",
    ),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "strict-origin-when-cross-origin"),
    ("x-frame-options", "DENY"),
)


def page_config(live: Mapping[str, Any] | None, voting_policy: str) -> dict[str, Any]:
    """The document GET /app/config.json answers: `live` is None when pages should poll."""
    return {"live": dict(live) if live else None, "votingPolicy": voting_policy}


def web_app_site(
    template_dir: Path, config: Callable[[str | None], Mapping[str, Any]]
) -> StaticSite:
    """The app's site: `web/` beside the template, under /app/, with config.json from `config`
    (given the host name the page was asked of)."""
    return StaticSite(
        prefix=APP_PREFIX,
        name="the web app",
        folder=template_dir / WEB_DIR,
        entry_prefixes=("talks/",),  # talk ids may hold dots: still deep links, as on CloudFront
        generated={
            "config.json": lambda headers: json.dumps(
                config(host_name(headers.get("host")))
            ).encode()
        },
        headers=SECURITY_HEADERS,
    )
