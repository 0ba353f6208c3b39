"""The OpenAPI 3.1 description, generated from the routes: `python -m talkrate.api.openapi`.

Written to docs/openapi.json and committed; a test fails when the file and the code drift apart.
"""

from __future__ import annotations

import json
import sys

from talkrate.api import build_app

_POWERTOOLS_DEFAULTS = ("HTTPValidationError", "ResponseValidationError", "ValidationError")


TITLE = "talkrate"
VERSION = "1.0.0"
DESCRIPTION = (
    "Rate conference talks in real time. Ratings are accepted with 202 and counted within "
    "seconds; every error is application/problem+json (RFC 9457)."
)


def document() -> str:
    """The OpenAPI document as stable, indented JSON."""
    # OpenAPI's models cost ~200 ms of imports: described here, never at a function's cold start.
    from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer, Server

    app = build_app()
    app.configure_openapi(
        title=TITLE,
        version=VERSION,
        description=DESCRIPTION,
        servers=[Server(url="/")],
        security_schemes={"bearerAuth": HTTPBearer(description="The admin token.")},
    )
    schema = json.loads(app.get_openapi_json_schema(openapi_version="3.1.0"))
    for operations in schema["paths"].values():
        for operation in operations.values():
            # Powertools documents a 422 of its own on every route; ours are problem+json and
            # only body validation answers 422, so its default is dropped where it stands.
            default = operation["responses"].get("422", {}).get("content", {})
            if "application/json" in default:
                del operation["responses"]["422"]
            # 204 has no body; Powertools gives it the handler's return type all the same.
            operation["responses"].get("204", {}).pop("content", None)
    schemas = schema["components"]["schemas"]
    for name in _POWERTOOLS_DEFAULTS:  # each only refers to those after it
        others = {k: v for k, v in schema.items() if k != "components"}
        others["schemas"] = {k: v for k, v in schemas.items() if k != name}
        if f"#/components/schemas/{name}" not in json.dumps(others):
            schemas.pop(name, None)
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    sys.stdout.write(document())
