"""The committed OpenAPI description is the one the code generates, and it documents errors."""

from __future__ import annotations

import json

import pytest

from talkrate.api.openapi import document
from tests.builders import ROOT

pytestmark = pytest.mark.unit
SPEC = ROOT / "docs" / "openapi.json"


def test_the_committed_spec_matches_the_code() -> None:
    # When this fails: `make openapi` regenerates docs/openapi.json; review and commit it.
    assert SPEC.read_text() == document()


def test_every_route_documents_its_problem_responses_as_problem_json() -> None:
    spec = json.loads(document())
    assert spec["openapi"].startswith("3.1")
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            errors = {code: r for code, r in operation["responses"].items() if code >= "400"}
            assert errors, f"{method} {path} documents no error"
            for code, response in errors.items():
                assert list(response["content"]) == ["application/problem+json"], (
                    method,
                    path,
                    code,
                )


def test_admin_routes_require_the_bearer_token() -> None:
    spec = json.loads(document())
    admin = {
        ("post", "/talks"),
        ("put", "/talks/{talkId}"),
        ("delete", "/talks/{talkId}"),
        ("get", "/organiser"),
    }
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            secured = operation.get("security") == [{"bearerAuth": []}]
            assert secured == ((method, path) in admin), (method, path)


def test_every_429_503_and_401_documents_the_header_a_client_needs() -> None:
    spec = json.loads(document())
    needed = {"429": "Retry-After", "503": "Retry-After", "401": "WWW-Authenticate"}
    documented = {
        (method, path, code)
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
        for code in needed
        if code in operation["responses"]
    }
    # The answers that need them are documented (a rating and a voter pass are rate limited,
    # a bad voter token or organiser token is 401, any route may be 503)...
    assert {
        ("post", "/ratings", "429"),
        ("post", "/voters", "429"),
        ("post", "/ratings", "401"),
        ("post", "/talks", "401"),
        ("put", "/talks/{talkId}", "401"),
        ("delete", "/talks/{talkId}", "401"),
        ("get", "/organiser", "401"),
        ("get", "/ratings", "503"),
        ("post", "/ratings", "503"),
    } <= documented
    # ... each with its header
    for method, path, code in documented:
        response = spec["paths"][path][method]["responses"][code]
        assert response["headers"][needed[code]]["required"] is True, (method, path, code)
