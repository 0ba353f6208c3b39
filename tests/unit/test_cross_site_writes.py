"""A browser's write for a page of another site: which headers refuse it, which origin the stack
lets in, and how the API answers (403 problem+json, before the body is read)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from talkrate.api.cross_site import cross_site_refusal
from talkrate.config import load_settings
from tests.builders import LambdaContextStub, http_event, load_function

pytestmark = pytest.mark.unit

RATING = json.dumps({"talkId": "t-1", "value": 9})  # out of range: 422 once read


@pytest.mark.parametrize(
    ("headers", "refused"),
    [
        ({}, False),  # curl, the talkrate command, any client that is not a browser
        ({"sec-fetch-site": "same-origin", "origin": "https://talkrate.example"}, False),
        ({"sec-fetch-site": "none"}, False),  # typed or bookmarked by the user
        ({"sec-fetch-site": "cross-site", "origin": "https://elsewhere.example"}, True),
        ({"sec-fetch-site": "same-site", "origin": "https://other.talkrate.example"}, True),
        ({"sec-fetch-site": "Cross-Site", "origin": "https://elsewhere.example"}, True),
        ({"sec-fetch-site": "cross-site"}, True),  # no Origin to let in
        # Without Fetch Metadata: an opaque origin (sandboxed frame, data: page) alone
        ({"origin": "null"}, True),
        ({"origin": "https://elsewhere.example"}, False),
        # A same-origin page with Referrer-Policy: no-referrer sends Origin: null
        ({"sec-fetch-site": "same-origin", "origin": "null"}, False),
    ],
)
def test_which_browsers_writes_are_another_site_s(headers: dict[str, str], refused: bool) -> None:
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        assert (cross_site_refusal(method, headers, None) is not None) is refused, method


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS", "get"])
def test_a_read_from_another_site_is_never_refused_here(method: str) -> None:
    headers = {"sec-fetch-site": "cross-site", "origin": "https://elsewhere.example"}
    assert cross_site_refusal(method, headers, None) is None


@pytest.mark.parametrize(
    ("allowed", "origin", "let_in"),
    [
        ("https://app.example.org", "https://app.example.org", True),
        ("https://app.example.org", "https://APP.example.org", True),
        ("https://app.example.org", "http://app.example.org", False),
        ("https://app.example.org", "https://app.example.org:8443", False),
        ("https://app.example.org", "https://evil.example", False),
        ("https://app.example.org", "null", False),
        ("https://*.example.org", "https://a.example.org", True),
        ("https://*.example.org", "https://a.b.example.org", True),
        ("https://*.example.org", "https://example.org", False),
        ("https://*.example.org", "https://evil-example.org", False),
        ("https://*.example.org", "http://a.example.org", False),
        ("https://*.example.org:8443", "https://a.example.org:8443", True),
        ("https://*.example.org:8443", "https://a.example.org", False),
        ("*", "https://anything.example", True),
        ("*", "null", True),
    ],
)
def test_the_origin_the_stack_names_is_let_in_and_no_other(
    allowed: str, origin: str, let_in: bool
) -> None:
    for site in ("cross-site", "same-site"):
        headers = {"sec-fetch-site": site, "origin": origin}
        assert (cross_site_refusal("POST", headers, allowed) is None) is let_in, site


@pytest.fixture
def allowed_origin(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The API's settings with CORS_ALLOW_ORIGIN (the template's CorsAllowOrigin) set."""
    origin = "https://app.example.org"
    monkeypatch.setenv("CORS_ALLOW_ORIGIN", origin)
    load_settings.cache_clear()
    yield origin
    monkeypatch.delenv("CORS_ALLOW_ORIGIN")
    load_settings.cache_clear()


def _answer(event: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    response = load_function("api")(event, LambdaContextStub("api"))
    return response["statusCode"], json.loads(response["body"] or "null")


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/ratings", RATING),
        ("POST", "/ratings", "{"),  # not even JSON: refused all the same, before it is read
        ("POST", "/voters", "{}"),
        ("POST", "/talks", "{}"),
        ("PUT", "/talks/t-1", "{}"),
        ("DELETE", "/talks/t-1", None),
    ],
)
def test_the_api_answers_another_site_s_write_with_its_own_problem(
    method: str, path: str, body: str | None
) -> None:
    # Given a write a browser marked as another site's page's (a blind text/plain post)
    headers = {
        "content-type": "text/plain;charset=UTF-8",
        "sec-fetch-site": "cross-site",
        "sec-fetch-mode": "no-cors",
        "origin": "https://elsewhere.example",
    }
    admin = {"admin": True} if path.startswith("/talks") else None
    # When the API answers it
    status, problem = _answer(http_event(method, path, body, headers=headers, authorizer=admin))
    # Then 403, in the problem shape, a type of its own, naming the header it went by
    assert (status, problem["type"]) == (403, "urn:talkrate:problem:cross-site-request")
    assert problem["title"] == "Cross-site request refused"
    assert problem["status"] == 403
    assert "Sec-Fetch-Site: cross-site" in problem["detail"]


def test_a_write_from_the_api_s_own_pages_or_a_non_browser_goes_on() -> None:
    for headers in ({"sec-fetch-site": "same-origin"}, {}):
        # The body is read (an out-of-range value: 422), the request is not refused as foreign
        status, problem = _answer(http_event("POST", "/ratings", RATING, headers=headers))
        assert (status, problem["type"]) == (422, "urn:talkrate:problem:validation")


def test_the_named_origin_s_write_goes_on_and_another_s_is_refused(allowed_origin: str) -> None:
    def rate_from(origin: str) -> tuple[int, dict[str, Any]]:
        headers = {"sec-fetch-site": "cross-site", "origin": origin}
        return _answer(http_event("POST", "/ratings", RATING, headers=headers))

    assert rate_from(allowed_origin)[0] == 422
    status, problem = rate_from("https://elsewhere.example")
    assert status == 403
    assert f"and from {allowed_origin}" in problem["detail"]
