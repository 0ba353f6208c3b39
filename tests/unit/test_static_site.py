"""The emulator's static site: a URL prefix served from a folder, with a single-page-app
fallback, as CloudFront in front of the web bucket serves the app."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sam_emulator.events.static import StaticSite
from talkrate_local.embedded import ServiceError
from talkrate_local.web_app import event_time_zone, page_config, web_app_site
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
