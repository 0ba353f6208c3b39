"""Swagger UI for the API, served by the local gateway under /_docs/, offline.

The page is the runtime's own, not an API route: it is not in the template's route table, and a
route of the template that matches a /_docs path takes the request instead. The UI comes from
the swagger-ui-bundle-v2 package (Swagger UI 5, which renders OpenAPI 3.1); the spec is the
docs/openapi.json beside the template, read at each request so a regenerated spec shows at once.
"""

from __future__ import annotations

import importlib.util
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from sam_emulator.apigw import HttpResponse, json_response

DOCS_PREFIX: Final = "/_docs"
SPEC_PATH: Final = Path("docs") / "openapi.json"
# The files of the bundle the page loads (source maps only when a browser's tools ask).
_ASSETS: Final = {
    "swagger-ui.css": "text/css; charset=utf-8",
    "swagger-ui-bundle.js": "application/javascript; charset=utf-8",
    "swagger-ui.css.map": "application/json",
    "swagger-ui-bundle.js.map": "application/json",
    "favicon-16x16.png": "image/png",
    "favicon-32x32.png": "image/png",
}
_READ_METHODS: Final = ("GET", "HEAD")
# The page's own script, a file rather than inline so the policy below needs no 'unsafe-inline'.
_STARTER_NAME: Final = "docs-ui.js"
_STARTER: Final = """window.addEventListener("load", function () {{
  window.ui = SwaggerUIBundle({{
    url: "{prefix}/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    tryItOutEnabled: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout"
  }});
}});
"""
# Sent with every /_docs answer: the pages are the runtime's own, so nothing loads from another
# origin; Swagger UI sets styles only through the DOM (no inline <style>) and draws its icons
# from data: URLs in its stylesheet; "Try it out" calls the API on this origin. No framing.
SECURITY_HEADERS: Final = (
    (
        "content-security-policy",
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    ),
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "no-referrer"),
)

_INDEX: Final = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>API (local)</title>
  <link rel="stylesheet" href="{prefix}/swagger-ui.css">
  <link rel="icon" type="image/png" href="{prefix}/favicon-32x32.png" sizes="32x32">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="{prefix}/swagger-ui-bundle.js"></script>
  <script src="{prefix}/docs-ui.js"></script>
</body>
</html>
"""


def swagger_ui_dir() -> Path | None:
    """The installed Swagger UI bundle (swagger-ui-bundle-v2), or None when it is missing."""
    if importlib.util.find_spec("swagger_ui_bundle") is None:
        return None
    import swagger_ui_bundle  # optional: without it, the page says how to install it

    folder = Path(str(swagger_ui_bundle.swagger_ui_path))
    return folder if (folder / "swagger-ui-bundle.js").is_file() else None


@dataclass
class DocsSite:
    """The /_docs pages: the UI's index, its assets, and the spec."""

    spec_file: Path
    ui_dir: Path | None
    _assets: dict[str, bytes] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def beside(cls, template_dir: Path) -> DocsSite:
        """The site for a template: its docs/openapi.json and the installed Swagger UI."""
        return cls(template_dir / SPEC_PATH, swagger_ui_dir())

    @property
    def ui_version(self) -> str | None:
        """Swagger UI's version, from the bundle's folder name (swagger-ui-5.31.0)."""
        if self.ui_dir is None:
            return None
        return self.ui_dir.name.removeprefix("swagger-ui-")

    @staticmethod
    def owns(path: str) -> bool:
        """Whether a request path is one of the docs pages' (the prefix and below)."""
        return path == DOCS_PREFIX or path.startswith(DOCS_PREFIX + "/")

    def respond(self, method: str, path: str) -> HttpResponse:
        """The answer to a request for a path the site owns, with the site's security headers."""
        answer = self._answer(method, path)
        answer.headers.extend(SECURITY_HEADERS)
        return answer

    def _answer(self, method: str, path: str) -> HttpResponse:
        if method not in _READ_METHODS:
            return HttpResponse(
                405,
                [("content-type", "application/json"), ("allow", ", ".join(_READ_METHODS))],
                b'{"message": "Method Not Allowed"}',
            )
        name = path[len(DOCS_PREFIX) :].lstrip("/")
        if name in ("", "index.html"):
            return self._index()
        if name == "openapi.json":
            return self._spec()
        if name == _STARTER_NAME and self.ui_dir is not None:
            script = _STARTER.format(prefix=DOCS_PREFIX).encode()
            kind = _ASSETS["swagger-ui-bundle.js"]
            return HttpResponse(
                200, [("content-type", kind), ("cache-control", "no-cache")], script
            )
        if name in _ASSETS and self.ui_dir is not None:
            return self._asset(self.ui_dir, name)
        return json_response(404, {"message": "Not Found"})

    def _index(self) -> HttpResponse:
        if self.ui_dir is None:
            return json_response(
                404,
                {
                    "message": "Swagger UI is not installed: pip install -r requirements-dev.txt "
                    f"(swagger-ui-bundle-v2); the spec itself is at {DOCS_PREFIX}/openapi.json"
                },
            )
        page = _INDEX.format(prefix=DOCS_PREFIX).encode()
        return HttpResponse(
            200, [("content-type", "text/html; charset=utf-8"), ("cache-control", "no-cache")], page
        )

    def _spec(self) -> HttpResponse:
        try:
            spec = self.spec_file.read_bytes()
        except OSError:
            return json_response(
                404,
                {
                    "message": f"no OpenAPI spec at {self.spec_file}: generate it from the "
                    "API's routes"
                },
            )
        return HttpResponse(
            200, [("content-type", "application/json"), ("cache-control", "no-cache")], spec
        )

    def _asset(self, folder: Path, name: str) -> HttpResponse:
        with self._lock:  # read once; the bundle does not change while the runtime runs
            if name not in self._assets:
                try:
                    self._assets[name] = (folder / name).read_bytes()
                except OSError:
                    return json_response(404, {"message": "Not Found"})
            content = self._assets[name]
        return HttpResponse(
            200, [("content-type", _ASSETS[name]), ("cache-control", "max-age=3600")], content
        )
