"""The room screen at its fullest still fits its display, through the local runtime: the longest
title (cut at three lines), three long speaker names and the notice about its counts (they
cannot be read, or they are being recounted) leave the notice whole in view and the histogram
with room for its bars, on projectors of each shape and on a phone.

The runtime has a Redis server of its own (the tests stop it and start it again, empty)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from playwright.sync_api import Browser, Page, expect

from talkrate.adapters.redis_store import REBUILD_LOCK_KEY
from tests.backends import postgres_dsn
from tests.builders import unique_talk_id
from tests.e2e import test_web_app as web_app
from tests.e2e.conftest import start_admin_runtime, stop_runtime, wait_for
from tests.e2e.test_web_counts_down import PAUSED, STORED, Stack, counted, rate
from tests.workers import own_redis_server, redis_server_stopped

# test_web_app's fixture, found by pytest under its name.
browser = web_app.browser

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

# What the room screen says while its counts are recounted (STORED_COUNTS in
# web/js/pages/common.js).
RECOUNTED = (
    "Counted from the stored ratings while the live counts are recounted; live again in a few "
    "seconds."
)
# A title as long as a title may be (300 characters), cut at three lines on a projector; and
# one that takes three lines of a 1080p screen, shown whole on a phone (a phone scrolls a longer
# one: the page's title is never cut there).
LONGEST_TITLE = (
    "Observability for event-driven systems in production: tracing, metrics and structured "
    "logs across Kafka, Redis and PostgreSQL, what we learned running a conference rating "
    "service through three days of peak load, two regional outages and one very long night "
    "of recounting every rating from the stored events"
)[:300]
THREE_LINE_TITLE = (
    "Observability for event-driven systems in production: tracing, metrics and structured "
    "logs across Kafka, Redis and PostgreSQL at conference scale"
)
SPEAKERS = [
    "Maximiliane Alexandra von Hohenzollern-Sigmaringen",
    "Bartholomew Montgomery-Fitzwilliam Ashcroft",
    "Anneliese Konstantina Papadopoulou-Schwarzenegger",
]
SIZES = {"phone 390x844": web_app.PHONE} | {
    size: web_app.PROJECTORS[size]
    for size in (
        "1920x1080",
        "3840x2160 (4K)",
        "1280x720",
        "1024x768 (4:3)",
        "800x600 (4:3)",
        "2560x1440",
    )
}

# Whether the screen fits its window: the page's size against the window's, the notice's and
# the histogram's boxes, the title's lines and the notice's size against the badge's.
FIT = """() => {
  const root = document.documentElement;
  const box = (selector) => {
    const r = document.querySelector(selector).getBoundingClientRect();
    return { top: Math.round(r.top), bottom: Math.round(r.bottom), height: Math.round(r.height) };
  };
  const notice = document.querySelector('[data-testid="counts-notice"]');
  const title = document.querySelector(".screen-head h1");
  const size = (element) => parseFloat(getComputedStyle(element).fontSize);
  const tracks = [...document.querySelectorAll(".histogram.big .track")];
  return {
    window: [innerWidth, innerHeight],
    page: [root.scrollWidth, root.scrollHeight],
    notice: box('[data-testid="counts-notice"]'),
    noticeCut: notice.scrollHeight > notice.clientHeight + 1,
    histogram: box(".histogram.big"),
    parts: Object.fromEntries([".screen-head", ".summary.big", ".screen-qr", ".screen-foot"]
      .map((selector) => [selector, box(selector)])),
    tracks: tracks.map((t) => Math.round(t.getBoundingClientRect().height)),
    titleLines: Math.round(title.clientHeight / parseFloat(getComputedStyle(title).lineHeight)),
    toBadge: size(notice) / size(document.querySelector(".live-badge")),
    qr: document.querySelector(".screen-qr .qr").getBoundingClientRect().width / innerWidth,
  };
}"""


@pytest.fixture(scope="module")
def stack(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    ratings = f"{own_redis_server()}/1"
    runtime, token = start_admin_runtime(
        postgres_dsn("web_screen_fit_e2e"),
        ratings,
        kafka_bootstrap,
        tmp_path_factory.mktemp("screenfit") / "runtime.log",
        ["--param", "ProjectorBatchWindowSeconds=0"],
    )
    yield Stack(runtime, token, ratings)
    stop_runtime(runtime)


def crowded_talk(stack: Stack, title: str) -> str:
    """A talk titled `title` with three long speaker names, rated 5, 4 and 4, counted."""
    talk = unique_talk_id("fit")
    body = {"title": title, "speakers": SPEAKERS, "track": "Outage", "room": "Hall D"}
    put = stack.runtime.request(
        "PUT", f"/talks/{talk}", json.dumps(body), {"authorization": f"Bearer {stack.token}"}
    )
    assert put.status == 201, put.body
    for value in (5, 4, 4):
        rate(stack, talk, value)
    assert wait_for(lambda: counted(stack, talk) == (3, "read-model"))
    return talk


def assert_fits(screen: Page, size: str, viewport: dict[str, int], path: Path) -> None:
    """The screen as shown fits `viewport`: nothing scrolls (on a phone, sideways: its title
    and speakers are shown whole there, and the page scrolls down to the QR code), the notice
    whole in view, the histogram's bars in view and tall enough to read, no part over another."""
    # (once the title has taken its size: fitTitle runs as the talk is shown)
    expect(screen.locator(".speakers")).to_contain_text(SPEAKERS[0][:20])
    measured = screen.evaluate(FIT)
    screen.screenshot(path=str(path))
    width, height = viewport["width"], viewport["height"]
    assert measured["page"][0] <= width, measured
    parts = measured["parts"]
    if not size.startswith("phone"):
        assert measured["page"][1] <= height, measured
        assert parts[".screen-head"]["bottom"] <= parts[".summary.big"]["top"], measured
        assert measured["histogram"]["bottom"] <= parts[".screen-foot"]["top"], measured
        assert parts[".screen-qr"]["bottom"] <= parts[".screen-foot"]["top"], measured
    assert measured["notice"]["top"] >= 0, measured
    assert measured["notice"]["bottom"] <= height, measured
    assert not measured["noticeCut"], measured
    assert measured["histogram"]["top"] >= 0, measured
    assert measured["histogram"]["bottom"] <= height, measured
    # (bars as tall as a line of a page's text at least, and the five of them a fifth of a
    # projector's height: the histogram is the screen's flexible part, not its vanishing one)
    assert len(measured["tracks"]) == 5, measured
    assert min(measured["tracks"]) >= 16, measured
    if not size.startswith("phone"):
        assert measured["titleLines"] == 3, measured
        assert measured["histogram"]["height"] >= height / 5, measured
    if width >= 1920:
        assert measured["toBadge"] >= 1.35, measured
    # (the QR code at its own size, a third of a projector's width, most of a phone's: it gives
    # up size only where the text is enlarged past what the screen holds)
    assert measured["qr"] >= (0.6 if size.startswith("phone") else 0.3), measured


@pytest.mark.parametrize("size", SIZES)
def test_the_fullest_room_screen_fits_its_display_with_its_notice_and_bars_in_view(
    stack: Stack, browser: Browser, size: str, tmp_path: Path
) -> None:
    viewport = SIZES[size]
    name = size.split()[-1] if size.startswith("phone") else size.split()[0]
    talk = crowded_talk(stack, THREE_LINE_TITLE if size.startswith("phone") else LONGEST_TITLE)
    room = browser.new_context(viewport=viewport)
    try:
        screen = room.new_page()
        notice = screen.get_by_test_id("counts-notice")
        # Given the room screen of a talk with the longest title and three long speaker names
        # When its counts cannot be read
        with redis_server_stopped(stack.ratings):
            screen.goto(stack.runtime.url + web_app.SCREEN.format(id=talk))
            expect(notice).to_have_text(STORED)
            expect(screen.locator(".live-badge")).to_have_text(PAUSED)
            # Then it fits its display, the notice whole and the bars in view
            assert_fits(screen, size, viewport, tmp_path / f"unreadable-{name}.png")
        # And when they are being recounted (the read model lost, a rebuild holding its lock)
        client = redis.Redis.from_url(stack.ratings)
        try:
            client.flushdb()
            client.set(REBUILD_LOCK_KEY, "another rebuild", ex=60)
            screen.reload()
            expect(notice).to_have_text(RECOUNTED, timeout=10_000)
            assert_fits(screen, size, viewport, tmp_path / f"recounted-{name}.png")
        finally:
            client.delete(REBUILD_LOCK_KEY)
            client.close()
    finally:
        room.close()
