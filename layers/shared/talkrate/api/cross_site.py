"""Writes that a browser sends for a page of another site: refused, unless the stack lets that
page's origin in (CorsAllowOrigin).

CORS keeps another site's page from reading the API's answers; it does not keep the page from
sending. A "simple" request (a POST of text/plain or a form, no header of its own) goes out
without a preflight, and each visitor's browser would rate from its own address. Browsers say
where a request comes from: Fetch Metadata's `Sec-Fetch-Site` (every current browser), else an
`Origin` of `null` (a sandboxed or privacy-sensitive context). Clients that are not browsers send
neither and are never refused here; nor is the web app, on the API's own origin.
"""

from __future__ import annotations

from collections.abc import Mapping

# Methods that change nothing (OPTIONS is API Gateway's own, for CORS preflights).
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# `same-site` too: another port or subdomain of the same site is another origin, another page.
_OTHER_SITES = frozenset({"cross-site", "same-site"})


def cross_site_refusal(
    method: str, headers: Mapping[str, str], allowed_origin: str | None
) -> str | None:
    """Why a request must be refused as a write from another site's page (a problem's detail),
    or None when it may go on: a safe method, a request no browser marked as coming from
    another site, or one from `allowed_origin` (`*`: any origin; `https://*.example.org`: its
    subdomains). `headers` by lower-case name, as API Gateway hands them."""
    if method.upper() in SAFE_METHODS:
        return None
    site = headers.get("sec-fetch-site", "").strip().lower()
    origin = headers.get("origin", "").strip()
    # Fetch Metadata, when sent, is the browser's own account; Origin: null alone is the
    # fallback (a same-origin page with Referrer-Policy: no-referrer sends it too).
    foreign = site in _OTHER_SITES if site else origin.lower() == "null"
    if not foreign or (allowed_origin and _lets_in(allowed_origin, origin)):
        return None
    said = f"Sec-Fetch-Site: {site}" if site else "Origin: null"
    others = f" and from {allowed_origin}" if allowed_origin else ""
    return (
        f"a browser sent this request for a page of another site ({said}): the API takes "
        f"changes only from its own pages{others}, or from clients that are not browsers"
    )


def _lets_in(allowed: str, origin: str) -> bool:
    """Whether `origin` (a browser's Origin header) is the one CorsAllowOrigin names."""
    allowed, origin = allowed.strip().lower(), origin.lower()
    if allowed == "*":
        return True
    scheme, wildcard, parent = allowed.partition("://*.")
    if not wildcard:
        return origin == allowed
    prefix = f"{scheme}://"
    subdomain = origin.removeprefix(prefix).removesuffix(f".{parent}")
    return (
        origin.startswith(prefix)
        and origin.endswith(f".{parent}")
        and bool(subdomain)
        and not any(c in subdomain for c in "/:@")
    )
