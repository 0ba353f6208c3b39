"""Writes that a browser sends for a page of another site: refused, unless the stack lets that
page's origin in (CorsAllowOrigin).

CORS keeps another site's page from reading the API's answers; it does not keep the page from
sending. A "simple" request (a POST of text/plain or a form, no header of its own) goes out
without a preflight, and each visitor's browser would rate from its own address. Browsers say
where a request comes from: Fetch Metadata's `Sec-Fetch-Site` (every current browser, but only
to a secure origin: HTTPS or loopback), else an `Origin` of `null` (a sandboxed or
privacy-sensitive context), else, for a request that reached the gateway over plain HTTP (a
phone on the network, `--host 0.0.0.0` locally), an `Origin` that is not the request's own
scheme and `Host`. Clients that are not browsers send none of these and are never refused here;
nor is the web app, on the API's own origin.

On AWS the API is HTTPS only (API Gateway says `X-Forwarded-Proto: https`), and CloudFront hands
it the execute-api host, not the page's: Origin is not compared with Host there. A browser
without Fetch Metadata over HTTPS (Safari before 16.4) is refused a POST with an Origin and a
text or form body (what a page of another site can send without a preflight); its JSON writes,
which the web app sends and no other site's page can without a preflight, go on.
"""

from __future__ import annotations

from collections.abc import Mapping

# Methods that change nothing (OPTIONS is API Gateway's own, for CORS preflights).
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# `same-site` too: another port or subdomain of the same site is another origin, another page.
_OTHER_SITES = frozenset({"cross-site", "same-site"})
# The bodies a page may POST to another origin without a preflight (CORS-safelisted types).
_SIMPLE_TYPES = frozenset(
    {"", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data"}
)


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
    if site:
        foreign, said = site in _OTHER_SITES, f"Sec-Fetch-Site: {site}"
    elif origin.lower() == "null":
        foreign, said = True, "Origin: null"
    elif _over_plain_http(headers):
        # Over plain HTTP no browser sends Fetch Metadata: its Origin, when it sends one, is
        # all there is, and the page's own is the request's scheme and Host.
        foreign = bool(origin) and not _is_own(origin, headers)
        said = f"Origin: {origin[:100]}, over plain HTTP without Sec-Fetch-Site"
    else:
        # Over HTTPS behind CloudFront the page's origin is not the Host the API sees. A browser
        # without Fetch Metadata (Safari before 16.4) sends another site's write unasked only as
        # a simple POST: a text or form body (the API reads text as JSON). The web app's own
        # writes are JSON, which another site's page could send only after a preflight.
        media_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
        foreign = bool(origin) and method.upper() == "POST" and media_type in _SIMPLE_TYPES
        said = f"Origin: {origin[:100]}, a {media_type or 'typeless'} body without Sec-Fetch-Site"
    if not foreign or (allowed_origin and _lets_in(allowed_origin, origin)):
        return None
    others = f" and from {allowed_origin}" if allowed_origin else ""
    return (
        f"a browser sent this request for a page of another site ({said}): the API takes "
        f"changes only from its own pages{others}, or from clients that are not browsers"
    )


def _over_plain_http(headers: Mapping[str, str]) -> bool:
    """Whether the request reached the gateway over plain HTTP: the protocol the nearest one
    named last (API Gateway, HTTPS only, never says `http`; the local gateway says it for
    every request, as it serves no TLS)."""
    named = headers.get("x-forwarded-proto", "").rsplit(",", 1)[-1]
    return named.strip().lower() == "http"


def _is_own(origin: str, headers: Mapping[str, str]) -> bool:
    """Whether `origin` is the plain-HTTP request's own: `http://` and its `Host` (or the
    `X-Forwarded-Host` a proxy in front named; no page can send either header unasked)."""
    hosts = (headers.get("host", ""), headers.get("x-forwarded-host", "").split(",", 1)[0])
    return _without_default_port(origin) in {
        _without_default_port(f"http://{host.strip()}") for host in hosts if host.strip()
    }


def _without_default_port(origin: str) -> str:
    """`origin` lower-cased, without HTTP's default port (a Host may name it, Origin does not)."""
    return origin.strip().lower().removesuffix(":80")


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
