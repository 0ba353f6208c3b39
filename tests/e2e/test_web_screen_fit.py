"""The room screen at its fullest still fits its display, through the local runtime: the longest
title (cut at three lines), three long speaker names and the notice about its counts (they
cannot be read, or they are being recounted) leave the notice whole in view and the histogram
with room for its bars, on projectors of each shape and on a phone. With its text spaced wider
and taller by a reader's own style sheet, nothing on it is lost or drawn over another part.

The runtime has a Redis server of its own (the tests stop it and start it again, empty)."""

from __future__ import annotations

import json
import uuid
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


def crowded_talk(
    stack: Stack,
    title: str,
    speakers: list[str] = SPEAKERS,
    room: str | None = "Hall D",
    talk: str | None = None,
) -> str:
    """A talk titled `title` with long speaker names (three), in `room`, rated 5, 4 and 4,
    counted; its id `talk`, else a new one."""
    talk = talk or unique_talk_id("fit")
    body = {
        "title": title,
        "speakers": speakers,
        "track": "Outage",
        **({"room": room} if room else {}),
    }
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


# A reader's own style sheet spacing the text as far as WCAG 2.2's Text Spacing (1.4.12) asks a
# page to bear, in place from the page's start (before it shows its talk), as a user style sheet
# is (the page's CSP refuses a style element: the test's context bypasses it).
TEXT_SPACING = (
    "* { line-height: 1.5 !important; letter-spacing: 0.12em !important;"
    " word-spacing: 0.16em !important } p { margin-bottom: 2em !important }"
)
WITH_TEXT_SPACING = (
    "(() => { const add = () => { const sheet = document.createElement('style');"
    " sheet.textContent = " + json.dumps(TEXT_SPACING) + "; document.head.append(sheet); };"
    " if (document.head) add(); else document.addEventListener('DOMContentLoaded', add); })()"
)
# What of the screen is drawn where: each text by the box its letters take (within its element
# where that cuts it: a title cut at its lines), the bars and the QR code by theirs; which of them
# overlap, which lie outside the page's scrollable area, and which texts are cut.
DRAWN = """() => {
  const words = [".screen-head h1", ".screen-head .speakers", ".summary .average", ".summary .avg-label",
    ".summary .total", ".histogram.big .value", ".histogram.big .count", ".qr-caption", ".qr-url",
    ".live-badge", "[data-testid=loopback-note]", "[data-testid=counts-notice]", ".screen-foot .message"];
  const pictures = [".histogram.big .track", ".screen-qr .qr"];
  const shown = (node) => node.getClientRects().length > 0;
  const onPage = (r) => ({ left: r.left + scrollX, top: r.top + scrollY, right: r.right + scrollX, bottom: r.bottom + scrollY });
  const drawn = [];
  for (const [selectors, text] of [[words, true], [pictures, false]]) {
    for (const selector of selectors) {
      [...document.querySelectorAll(selector)].filter(shown).forEach((node, i) => {
        if (text && !node.textContent.trim()) return;
        let box = node.getBoundingClientRect();
        if (text) {
          const letters = document.createRange();
          letters.selectNodeContents(node);
          const r = letters.getBoundingClientRect();
          const cut = getComputedStyle(node).overflow !== "visible";
          box = { left: cut ? Math.max(r.left, box.left) : r.left, right: cut ? Math.min(r.right, box.right) : r.right,
            top: Math.max(r.top, box.top), bottom: Math.min(r.bottom, box.bottom) };
        }
        drawn.push({ name: `${selector} ${i + 1}`, node, box: onPage(box) });
      });
    }
  }
  const meet = (a, b) => a.left < b.right - 1 && b.left < a.right - 1 && a.top < b.bottom - 1 && b.top < a.bottom - 1;
  const root = document.documentElement;
  return {
    overlapping: drawn.flatMap((a, i) => drawn.slice(i + 1).filter((b) => meet(a.box, b.box)).map((b) => `${a.name} over ${b.name}`)),
    outside: drawn.filter(({ box }) => box.left < -0.5 || box.top < -0.5 || box.right > root.scrollWidth + 0.5
      || box.bottom > root.scrollHeight + 0.5).map(({ name }) => name),
    cut: drawn.filter(({ node }) => getComputedStyle(node).overflow !== "visible"
      && (node.scrollHeight > node.clientHeight + 1 || node.scrollWidth > node.clientWidth + 1)).map(({ name }) => name),
  };
}"""
SPACED_SIZES = {
    "phone 390x844": web_app.PHONE,
    "portrait 1080x1920": {"width": 1080, "height": 1920},
} | {size: web_app.PROJECTORS[size] for size in ("1280x720", "1920x1080", "3840x2160 (4K)")}


@pytest.mark.parametrize("size", SPACED_SIZES)
def test_the_room_screen_loses_nothing_and_overlaps_nothing_with_its_text_spaced_out(
    stack: Stack, browser: Browser, size: str, tmp_path: Path
) -> None:
    # Given a talk of two long speaker names, rated and counted, its room screen opened at this
    # computer's own address (so the note about phones shows too)
    talk = crowded_talk(stack, "Event Sourcing Without Tears", SPEAKERS[:2], room=None)
    # When a reader's own style sheet spaces its text wider and taller
    room = browser.new_context(viewport=SPACED_SIZES[size], bypass_csp=True)
    try:
        room.add_init_script(WITH_TEXT_SPACING)
        screen = room.new_page()
        screen.goto(stack.runtime.url + web_app.SCREEN.format(id=talk))
        expect(screen.locator(".live-badge")).to_have_attribute("data-state", "live")
        expect(screen.get_by_test_id("total")).to_have_text("3 ratings")
        expect(screen.get_by_test_id("loopback-note")).to_be_visible()
        assert screen.evaluate("getComputedStyle(document.body).letterSpacing") != "normal"
        # Then nothing is drawn over anything else, nothing lies off the page (the QR code was
        # pushed off its top, the note drawn over the 1-star row and the live state), and no
        # text is cut: the page grows and scrolls instead
        # (once the screen has fitted its parts to their figures: 200 ms after they change size)
        clean = {"overlapping": [], "outside": [], "cut": []}
        settled = wait_for(lambda: screen.evaluate(DRAWN) == clean, 5, screen)
        name = next(part for part in size.split() if "x" in part)
        screen.screenshot(path=str(tmp_path / f"spaced-{name}.png"), full_page=True)
        assert settled, screen.evaluate(DRAWN)
    finally:
        room.close()


# A talk given by six people with long names, under a title that leaves its spaced-out screen at
# that size a little taller than the window with the names on their four lines (so that one
# line of them stopped the screen scrolling): on a 5:4 and a 4:3 projector.
SIX_SPOKEN = {
    "1280x1024 (5:4)": (
        {"width": 1280, "height": 1024},
        "Event-driven systems in production: what we learned",
    ),
    "1024x768 (4:3)": (web_app.PROJECTORS["1024x768 (4:3)"], "A panel of six"),
}


@pytest.mark.parametrize("size", SIX_SPOKEN)
def test_the_room_screen_shows_six_speakers_whole_with_its_text_spaced_out(
    stack: Stack, browser: Browser, size: str, tmp_path: Path
) -> None:
    # Given a talk given by six people with long names, its room screen opened with a reader's
    # own style sheet spacing its text wider and taller
    viewport, title = SIX_SPOKEN[size]
    # (an id of digits, as wide whatever they are: its address under the QR code takes as many
    # lines at every run)
    talk = crowded_talk(
        stack, title, web_app.SIX_SPEAKERS, None, f"six-{uuid.uuid4().int % 10**6:06d}"
    )
    room = browser.new_context(viewport=viewport, bypass_csp=True)
    try:
        room.add_init_script(WITH_TEXT_SPACING)
        screen = room.new_page()
        screen.goto(stack.runtime.url + web_app.SCREEN.format(id=talk))
        expect(screen.locator(".live-badge")).to_have_attribute("data-state", "live")
        expect(screen.get_by_test_id("total")).to_have_text("3 ratings")
        # Then every name is shown, none cut (they were cut to the first one and a half, on one
        # line, so that the page did not scroll), and nothing is drawn over anything else: the
        # page scrolls instead, as it does at other sizes with this style sheet
        clean = {"overlapping": [], "outside": [], "cut": []}
        settled = wait_for(lambda: screen.evaluate(DRAWN) == clean, 5, screen)
        screen.screenshot(path=str(tmp_path / f"six-{size.split()[0]}.png"), full_page=True)
        assert settled, screen.evaluate(DRAWN)
        names = web_app.SIX_SPEAKERS
        expect(screen.locator(".screen-head .speakers")).to_have_text(
            f"{', '.join(names[:-1])} and {names[-1]}"
        )
    finally:
        room.close()


@pytest.mark.parametrize("size", ["1280x720", "1024x768 (4:3)"])
def test_the_room_screen_s_setup_note_covers_nothing_with_the_text_at_200_percent(
    stack: Stack, browser: Browser, size: str, tmp_path: Path
) -> None:
    # Given a talk whose id is as long as the workshop's (its address takes three lines under
    # the QR code with the text enlarged), its room screen opened at this computer's own
    # address, so that the note about phones shows too
    talk = crowded_talk(
        stack,
        "Modern Integration Testing with Testcontainers",
        ["Oleg Šelajev", "Kevin Wittek"],
        None,
        unique_talk_id("testcontainers-integration-testing"),
    )
    room = browser.new_context(viewport=web_app.PROJECTORS[size])
    try:
        screen = room.new_page()
        screen.goto(stack.runtime.url + web_app.SCREEN.format(id=talk))
        expect(screen.locator(".live-badge")).to_have_attribute("data-state", "live")
        expect(screen.get_by_test_id("total")).to_have_text("3 ratings")
        # When its text is enlarged to 200%
        screen.evaluate("document.documentElement.style.fontSize = '200%'")
        expect(screen.get_by_test_id("loopback-note")).to_be_visible()
        # Then the note covers neither the address nor anything else, nor is the QR code drawn
        # over the speakers (the note's first line was drawn over the address's last, and at
        # 4:3 the code over the speakers' line): the screen grows instead
        # (once the screen has fitted its parts: 200 ms after they change size)
        settled = wait_for(lambda: screen.evaluate(DRAWN)["overlapping"] == [], 5, screen)
        screen.screenshot(path=str(tmp_path / f"text-200-{size.split()[0]}.png"), full_page=True)
        drawn = screen.evaluate(DRAWN)
        assert settled, drawn
        assert drawn["outside"] == [], drawn
    finally:
        room.close()


# The title's box and whether its line clamp cuts it, on the page (a phone scrolled down).
TITLE_SHOWN = """() => {
  const title = document.querySelector(".screen-head h1");
  const r = title.getBoundingClientRect();
  return { cut: title.scrollHeight > title.clientHeight + 1, top: r.top + scrollY, height: r.height };
}"""
TEXT_SIZES = {
    "1280x720 at 200%": (web_app.PROJECTORS["1280x720"], "200%"),
    "phone 390x844 at 200%": (web_app.PHONE, "200%"),
    "phone 390x844": (web_app.PHONE, None),
}


@pytest.mark.parametrize("size", TEXT_SIZES)
def test_a_long_title_is_shown_whole_with_the_text_enlarged_and_stays_still_as_ratings_come(
    stack: Stack, browser: Browser, size: str, tmp_path: Path
) -> None:
    # Given the room screen of a talk whose title takes three lines of a 1080p screen, on a
    # 720p projector or a phone, its text enlarged to 200% by a reader's style sheet or not
    viewport, enlarged = TEXT_SIZES[size]
    talk = crowded_talk(stack, THREE_LINE_TITLE)
    room = browser.new_context(viewport=viewport)
    try:
        screen = room.new_page()
        if enlarged:
            screen.add_init_script(
                "document.addEventListener('DOMContentLoaded', () => "
                f"{{ document.documentElement.style.fontSize = '{enlarged}'; }})"
            )
        screen.goto(stack.runtime.url + web_app.SCREEN.format(id=talk))
        expect(screen.locator(".live-badge")).to_have_attribute("data-state", "live")
        expect(screen.get_by_test_id("total")).to_have_text("3 ratings")
        # Then the title is shown whole (at 720p with the text at 200% its line clamp cut it
        # after "metrics and structured logs…", on a screen that scrolled all the same)
        # (once the screen has fitted its parts to their figures: 200 ms after they change size)
        assert wait_for(lambda: not screen.evaluate(TITLE_SHOWN)["cut"], 5, screen), (
            screen.evaluate(TITLE_SHOWN)
        )
        screen.screenshot(path=str(tmp_path / "whole.png"), full_page=True)
        # When the screen is scrolled down to its figures (a phone; the grown projector's page)
        # and ratings come in live
        screen.locator(".histogram.big").scroll_into_view_if_needed()
        before = screen.evaluate(TITLE_SHOWN)
        bars = screen.locator(".histogram.big").bounding_box()
        screen.evaluate(web_app.LAYOUT_SHIFT_WATCH)
        for count, value in enumerate((1, 2, 3), start=4):
            rate(stack, talk, value)
            expect(screen.get_by_test_id("total")).to_have_text(f"{count} ratings")
        # Then nothing moved: the title as it was (not cut again, nor grown), the bars where
        # the attendee scrolled to, no layout shift
        assert screen.evaluate(web_app.LAYOUT_SHIFT) == 0
        assert screen.evaluate(TITLE_SHOWN) == before
        assert screen.locator(".histogram.big").bounding_box() == bars
    finally:
        room.close()
