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

from pathlib import PurePath
from typing import Final

import rcssmin
import rjsmin

SCRIPTS: Final = (".js", ".mjs")
STYLE_SHEETS: Final = (".css",)
# Set (to anything but empty or 0) for the local runtime to serve the files as written.
SOURCE_VARIABLE: Final = "TALKRATE_WEB_SOURCE"


def served(name: str, content: bytes) -> bytes:
    """What is served for the file `name` (a path or a key: its ending decides) written as
    `content`: a script or style sheet minified, any other file unchanged."""
    suffix = PurePath(name).suffix.lower()
    if suffix in SCRIPTS:
        return rjsmin.jsmin(content)  # type: ignore[no-any-return]
    if suffix in STYLE_SHEETS:
        return rcssmin.cssmin(content)  # type: ignore[no-any-return]
    return content
