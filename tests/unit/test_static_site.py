"""The emulator's static site: a URL prefix served from a folder, with a single-page-app
fallback, as CloudFront in front of the web bucket serves the app."""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import replace
from pathlib import Path

import pytest

from sam_emulator.events.static import StaticSite
from talkrate_local.embedded import ServiceError
from talkrate_local.stack import LocalConfig
from talkrate_local.web_app import event_time_zone, page_config, web_app_site
from talkrate_local.web_assets import served
from tests.builders import ROOT

pytestmark = pytest.mark.unit


@pytest.fixture
def site(tmp_path: Path) -> StaticSite:
    (tmp_path / "index.html").write_text("<!doctype html><title>entry</title>")
    (tmp_path / "js").mkdir()
    (tmp_path / "js" / "main.js").write_text("export {};")
    (tmp_path.parent / "secret.txt").write_text("outside the folder")
    return StaticSite(
        prefix="/app",
        folder=tmp_path,
        entry_prefixes=("talks/",),
        generated={"config.json": lambda headers: b'{"live": null}'},
        headers=(("x-content-type-options", "nosniff"),),
    )


def header(headers: list[tuple[str, str]], name: str) -> str | None:
    return next((v for n, v in headers if n.lower() == name), None)


def test_files_of_the_folder_are_served_with_their_type_and_the_site_headers(
    site: StaticSite,
) -> None:
    answer = site.respond("GET", "/app/js/main.js")
    assert answer.status == 200
    assert answer.body == b"export {};"
    assert header(answer.headers, "content-type") == "text/javascript; charset=utf-8"
    assert header(answer.headers, "x-content-type-options") == "nosniff"
    assert header(answer.headers, "cache-control") == "no-cache"


@pytest.mark.parametrize(
    "path",
    ["/app/", "/app/leaderboard", "/app/talks/abc", "/app/talks/abc/screen", "/app/talks/v1.2:x"],
)
def test_deep_links_get_the_entry_page(site: StaticSite, path: str) -> None:
    answer = site.respond("GET", path)
    assert answer.status == 200
    assert b"<title>entry</title>" in answer.body
    assert header(answer.headers, "content-type") == "text/html; charset=utf-8"


@pytest.mark.parametrize(
    "path",
    [
        "/app/js/missing.js",
        "/app/../secret.txt",
        "/app/js/../../secret.txt",
        "/app/%2e%2e/secret.txt",
    ],
)
def test_a_missing_asset_or_a_path_out_of_the_folder_is_a_404(site: StaticSite, path: str) -> None:
    answer = site.respond("GET", path)
    assert answer.status == 404
    assert b"outside" not in answer.body


def test_the_prefix_without_its_slash_redirects(site: StaticSite) -> None:
    answer = site.respond("GET", "/app")
    assert answer.status == 308
    assert header(answer.headers, "location") == "/app/"


def test_a_known_version_is_answered_304(site: StaticSite) -> None:
    first = site.respond("GET", "/app/js/main.js")
    etag = header(first.headers, "etag")
    assert etag
    again = site.respond("GET", "/app/js/main.js", {"if-none-match": etag})
    assert again.status == 304
    assert again.body == b""


def test_only_reads_are_allowed(site: StaticSite) -> None:
    answer = site.respond("POST", "/app/")
    assert answer.status == 405
    assert header(answer.headers, "allow") == "GET, HEAD"


def test_generated_files_are_written_at_each_request(site: StaticSite) -> None:
    answer = site.respond("GET", "/app/config.json")
    assert answer.status == 200
    assert json.loads(answer.body) == {"live": None}
    assert header(answer.headers, "cache-control") == "no-store"


def test_owns_the_prefix_and_below_only(site: StaticSite) -> None:
    assert site.owns("/app")
    assert site.owns("/app/talks/x")
    assert not site.owns("/apple")
    assert not site.owns("/talks")


def test_the_web_app_site_serves_web_with_its_config_and_a_strict_csp() -> None:
    live = {"realtimeUrl": "ws://127.0.0.1:1/event/realtime", "host": "127.0.0.1:2", "apiKey": "k"}
    site = web_app_site(ROOT, lambda reached_as: page_config(live, "attendee"))
    config = site.respond("GET", "/app/config.json")
    assert json.loads(config.body) == {"live": live, "votingPolicy": "attendee", "timeZone": None}
    entry = site.respond("GET", "/app/talks/flight-of-the-gopher")
    assert entry.status == 200
    assert b'<script type="module" src="/app/js/main.js">' in entry.body
    csp = header(entry.headers, "content-security-policy") or ""
    assert "script-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp


def test_the_config_names_the_venue_s_time_zone_and_a_zone_that_is_none_stops_the_start() -> None:
    # The template's EventTimeZone, checked against the time zone database
    assert event_time_zone({"EventTimeZone": "America/New_York"}) == "America/New_York"
    assert event_time_zone({"EventTimeZone": ""}) is None
    assert event_time_zone({}) is None
    site = web_app_site(ROOT, lambda _: page_config(None, "open", "America/New_York"))
    assert json.loads(site.respond("GET", "/app/config.json").body)["timeZone"] == (
        "America/New_York"
    )
    for zone in ("America/New_Yrok", "EST+5", "../../etc/passwd", "localtime", "Factory"):
        with pytest.raises(ServiceError, match="is not a time zone") as refused:
            event_time_zone({"EventTimeZone": zone})
        assert repr(zone) in str(refused.value)


def test_the_web_app_s_scripts_and_style_sheet_are_served_minified_with_their_etag() -> None:
    # Given the web app's site as the runtime serves it
    site = web_app_site(ROOT, lambda _: page_config(None, "open"))
    for name, content_type in (
        ("js/main.js", "text/javascript; charset=utf-8"),
        ("js/pages/admin.js", "text/javascript; charset=utf-8"),
        ("app.css", "text/css; charset=utf-8"),
    ):
        source = (ROOT / "web" / name).read_bytes()

        # When a file is asked for
        answer = site.respond("GET", f"/app/{name}")

        # Then the minified bytes come, smaller than the source, tagged by what is served
        assert answer.status == 200
        assert answer.body == served(name, source)
        assert len(answer.body) < len(source)
        assert header(answer.headers, "content-type") == content_type
        etag = header(answer.headers, "etag")
        assert etag == '"' + hashlib.sha256(answer.body).hexdigest()[:32] + '"'
        assert site.respond("GET", f"/app/{name}", {"if-none-match": etag}).status == 304
    # And the entry page is served as written
    assert site.respond("GET", "/app/").body == (ROOT / "web" / "index.html").read_bytes()


def test_an_edited_file_is_served_fresh_and_each_version_minified_once(tmp_path: Path) -> None:
    # Given a site whose transform counts its calls
    script = tmp_path / "web" / "js" / "main.js"
    script.parent.mkdir(parents=True)
    script.write_text("// the first\nexport const a = 1;\n")
    minified: list[str] = []

    def transform(name: str, content: bytes) -> bytes:
        minified.append(name)
        return served(name, content)

    site = replace(web_app_site(tmp_path, lambda _: page_config(None, "open")), transform=transform)
    first = site.respond("GET", "/app/js/main.js")
    assert first.body == b"export const a=1;"
    assert site.respond("GET", "/app/js/main.js").body == first.body
    assert minified == ["js/main.js"]

    # When the file is edited (its modification time moved on too)
    script.write_text("// the second\nexport const a = 2;\n")
    os.utime(script, ns=(time.time_ns(), script.stat().st_mtime_ns + 1_000_000))
    second = site.respond("GET", "/app/js/main.js")

    # Then the new version is served at once, with its own ETag; the old one is no longer current
    assert second.body == b"export const a=2;"
    assert header(second.headers, "etag") != header(first.headers, "etag")
    old = header(first.headers, "etag") or ""
    assert site.respond("GET", "/app/js/main.js", {"if-none-match": old}).status == 200
    assert minified == ["js/main.js", "js/main.js"]


def test_talkrate_web_source_serves_the_files_as_written() -> None:
    # Given TALKRATE_WEB_SOURCE=1 (and not)
    assert LocalConfig.from_environ({"TALKRATE_WEB_SOURCE": "1"}).web_source
    assert not LocalConfig.from_environ({"TALKRATE_WEB_SOURCE": "0"}).web_source
    assert not LocalConfig.from_environ({}).web_source

    # When the site is built unminified, a script is served as written
    site = web_app_site(ROOT, lambda _: page_config(None, "open"), minified=False)
    answer = site.respond("GET", "/app/js/main.js")
    assert answer.body == (ROOT / "web" / "js" / "main.js").read_bytes()
    assert header(answer.headers, "etag") == (
        '"' + hashlib.sha256(answer.body).hexdigest()[:32] + '"'
    )


def test_the_local_security_headers_are_those_cloudfront_adds_on_aws_but_https_s_own() -> None:
    # Given the security headers the template's response headers policy sets on every answer
    from sam_emulator.template.cfn_yaml import load_yaml_file
    from talkrate_local.web_app import SECURITY_HEADERS
    from tests.builders import ROOT

    template = load_yaml_file(ROOT / "template.yaml")
    [policy] = [
        r["Properties"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::CloudFront::ResponseHeadersPolicy"
    ]
    header_of = {
        "ContentSecurityPolicy": "content-security-policy",
        "ContentTypeOptions": "x-content-type-options",
        "FrameOptions": "x-frame-options",
        "ReferrerPolicy": "referrer-policy",
        "StrictTransportSecurity": "strict-transport-security",
        "XSSProtection": "x-xss-protection",
    }
    deployed = {header_of[name] for name in policy}
    local = dict(SECURITY_HEADERS)
    # Then the local runtime sends each, but HSTS (a browser ignores it over plain HTTP)
    assert deployed - set(local) == {"strict-transport-security"}
    assert local["x-content-type-options"] == "nosniff"
    assert local["x-frame-options"] == policy["FrameOptions"]["FrameOption"]
    assert local["referrer-policy"] == policy["ReferrerPolicy"]["ReferrerPolicy"]
    # And the same directives of the CSP but the live channel's host (any WebSocket locally)
    # and the upgrade to HTTPS (none locally)
    deployed_csp = policy["ContentSecurityPolicy"]["ContentSecurityPolicy"]["Fn::Sub"]
    directives = {d.split()[0] for d in deployed_csp.split(";") if d.strip()}
    local_directives = {d.split()[0] for d in local["content-security-policy"].split(";")}
    assert directives - local_directives == {"upgrade-insecure-requests"}
    assert local_directives <= directives
