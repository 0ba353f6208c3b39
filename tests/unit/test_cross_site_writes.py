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
        # (over HTTPS: a JSON body, which another site's page sends only after a preflight)
        ({"origin": "https://elsewhere.example", "content-type": "application/json"}, False),
        # A same-origin page with Referrer-Policy: no-referrer sends Origin: null
        ({"sec-fetch-site": "same-origin", "origin": "null"}, False),
    ],
)
def test_which_browsers_writes_are_another_site_s(headers: dict[str, str], refused: bool) -> None:
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        assert (cross_site_refusal(method, headers, None) is not None) is refused, method


# A request as the local gateway hands it for a phone on the network (`--host 0.0.0.0`): plain
# HTTP, where no browser sends Fetch Metadata.
PLAIN_HTTP = {"host": "talkrate.test:3000", "x-forwarded-proto": "http"}
# A request as API Gateway hands it through CloudFront: HTTPS, the execute-api host (CloudFront
# forwards every viewer header but Host), the page's Origin the CloudFront domain.
JSON = {"content-type": "application/json"}
THROUGH_CLOUDFRONT = {
    "host": "a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com",
    "x-forwarded-proto": "https",
}


@pytest.mark.parametrize(
    ("method", "headers", "refused"),
    [
        # What another site's page sends without a preflight, from a browser without Fetch
        # Metadata (Safari before 16.4): a text or form POST, or one without a type
        ("POST", {"content-type": "text/plain;charset=UTF-8"}, True),
        ("POST", {"content-type": "application/x-www-form-urlencoded"}, True),
        ("POST", {"content-type": "multipart/form-data; boundary=x"}, True),
        ("POST", {"content-type": "Text/Plain"}, True),
        ("POST", {}, True),
        # What such a page could send only after a preflight (which CORS refuses): let in, as
        # the web app's own writes from that browser are
        ("POST", JSON, False),
        ("POST", {"content-type": "application/problem+json"}, False),
        ("PUT", {"content-type": "text/plain"}, False),
        ("DELETE", {}, False),
    ],
)
def test_over_https_a_browser_without_fetch_metadata_is_refused_what_needs_no_preflight(
    method: str, headers: dict[str, str], refused: bool
) -> None:
    request = THROUGH_CLOUDFRONT | {"origin": "https://evil.example"} | headers
    refusal = cross_site_refusal(method, request, None)
    assert (refusal is not None) is refused
    # Non-browsers (no Origin) are never refused, whatever their body
    assert cross_site_refusal(method, THROUGH_CLOUDFRONT | headers, None) is None
    # And the origin the stack names is let in
    assert cross_site_refusal(method, request, "https://evil.example") is None
    if refusal is not None:
        assert "Origin: https://evil.example" in refusal


@pytest.mark.parametrize(
    ("headers", "refused"),
    [
        # Another site's page, over plain HTTP: its real origin, no Fetch Metadata
        (PLAIN_HTTP | {"origin": "http://evil.test:8000"}, True),
        (PLAIN_HTTP | {"origin": "http://talkrate.test"}, True),  # another port
        (PLAIN_HTTP | {"origin": "https://talkrate.test:3000"}, True),  # another scheme
        (PLAIN_HTTP | {"origin": "http://talkrate.test:3000.evil.test"}, True),
        ({"x-forwarded-proto": "http", "origin": "http://evil.test"}, True),  # no Host to match
        # The API's own pages on the network: Origin is the request's scheme and Host
        (PLAIN_HTTP | {"origin": "http://talkrate.test:3000"}, False),
        (PLAIN_HTTP | {"origin": "HTTP://TalkRate.test:3000"}, False),
        (
            {"host": "192.168.1.20", "x-forwarded-proto": "http", "origin": "http://192.168.1.20"},
            False,
        ),
        (
            {
                "host": "talkrate.test:80",
                "x-forwarded-proto": "http",
                "origin": "http://talkrate.test",
            },
            False,
        ),
        (
            {
                "host": "[fd00::5]:3000",
                "x-forwarded-proto": "http",
                "origin": "http://[fd00::5]:3000",
            },
            False,
        ),
        # A proxy in front over plain HTTP that named the host the page was loaded from
        (
            PLAIN_HTTP
            | {"host": "127.0.0.1:3000", "x-forwarded-host": "talkrate.test:8080"}
            | {"origin": "http://talkrate.test:8080"},
            False,
        ),
        (PLAIN_HTTP, False),  # no Origin: a client that is not a browser
        # Fetch Metadata, when sent, still decides
        (PLAIN_HTTP | {"sec-fetch-site": "same-origin", "origin": "http://evil.test"}, False),
        (
            PLAIN_HTTP | {"sec-fetch-site": "cross-site", "origin": "http://talkrate.test:3000"},
            True,
        ),
        # On AWS: HTTPS only, Host the execute-api domain, Origin the CloudFront domain. A
        # browser without Fetch Metadata is let in with a JSON body (the web app's); the
        # gateway's protocol is the last one named.
        (THROUGH_CLOUDFRONT | {"origin": "https://d111111abcdef8.cloudfront.net"} | JSON, False),
        (
            THROUGH_CLOUDFRONT
            | {"x-forwarded-proto": "http, https", "origin": "https://x.example"}
            | JSON,
            False,
        ),
        (PLAIN_HTTP | {"x-forwarded-proto": "https, http", "origin": "http://evil.test"}, True),
    ],
)
def test_over_plain_http_a_browser_s_origin_must_be_the_request_s_own(
    headers: dict[str, str], refused: bool
) -> None:
    assert (cross_site_refusal("POST", headers, None) is not None) is refused


def test_over_plain_http_the_named_origin_is_let_in_and_the_refusal_names_the_origin() -> None:
    allowed = "http://app.talkrate.test:5173"
    assert cross_site_refusal("POST", PLAIN_HTTP | {"origin": allowed}, allowed) is None
    refusal = cross_site_refusal("POST", PLAIN_HTTP | {"origin": "http://evil.test"}, allowed)
    assert refusal is not None
    assert "Origin: http://evil.test, over plain HTTP without Sec-Fetch-Site" in refusal


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


def test_a_blind_write_over_plain_http_is_refused_and_the_own_page_s_goes_on() -> None:
    # Given a rating posted over plain HTTP by a browser without Fetch Metadata
    def rate_from(origin: str) -> tuple[int, dict[str, Any]]:
        headers = PLAIN_HTTP | {"content-type": "text/plain;charset=UTF-8", "origin": origin}
        return _answer(http_event("POST", "/ratings", RATING, headers=headers))

    # When another site's page sent it, then refused before the body is read
    status, problem = rate_from("http://evil.test:8000")
    assert (status, problem["type"]) == (403, "urn:talkrate:problem:cross-site-request")
    assert "Origin: http://evil.test:8000" in problem["detail"]
    # When the API's own page sent it, its body is read (out of range: 422)
    assert rate_from("http://talkrate.test:3000")[0] == 422
