"""The organisers' page and the room screen while the counts cannot be read, through the local
runtime: the organisers' page says why its rows have no counts in the other pages' words, above
its table, reads again on their schedule and keeps its talks editable (the catalog is
PostgreSQL's); the room screen's words about its counts are sized for the room.

The runtime has a Redis server of its own (the tests stop it and start it again, empty)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from playwright.sync_api import Browser, Page, expect

from talkrate.adapters.redis_store import REBUILD_LOCK_KEY
from tests.backends import postgres_dsn
from tests.e2e import test_web_app as web_app
from tests.e2e.conftest import start_admin_runtime, stop_runtime
from tests.e2e.test_web_counts_down import LISTED, PAUSED, STORED, Stack, rate, rated_talk
from tests.e2e.test_web_recovery import read_again_on_the_pages_schedule, reads_of
from tests.workers import own_redis_server, redis_server_stopped

# test_web_app's fixtures, found by pytest under their names: a browser, a phone, a page.
browser, phone, page = web_app.browser, web_app.phone, web_app.page

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

# What the programme and the organisers' page say while the read model is recounted
# (LISTED_COUNTS in web/js/pages/common.js).
LISTED_RECOUNTED = (
    "The counts and averages are being recounted from the stored ratings; they are back in a "
    "few seconds."
)
LIST_READ = "/talks?limit=100&offset=0"
NO_COUNT = "\u2013"  # a row's count while none is shown (an en dash)


@pytest.fixture(scope="module")
def stack(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    ratings = f"{own_redis_server()}/1"
    runtime, token = start_admin_runtime(
        postgres_dsn("web_admin_pause_e2e"),
        ratings,
        kafka_bootstrap,
        tmp_path_factory.mktemp("adminpause") / "runtime.log",
        ["--param", "ProjectorBatchWindowSeconds=0"],
    )
    yield Stack(runtime, token, ratings)
    stop_runtime(runtime)


def signed_in(stack: Stack, page: Page, title: str) -> None:
    """The organisers' page, signed in, its table showing the talk `title`."""
    page.goto(stack.runtime.url + "/app/admin")
    page.get_by_label("Organiser token").fill(stack.token)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("link", name=title)).to_be_visible()


def above_the_table(page: Page) -> bool:
    """Whether the counts' notice is drawn above the organisers' table."""
    notice = page.get_by_test_id("counts-notice").bounding_box()
    table = page.locator("table.admin-talks").bounding_box()
    assert notice is not None
    assert table is not None
    return bool(notice["y"] + notice["height"] <= table["y"])


def test_the_organisers_page_says_why_its_counts_are_missing_and_reads_again_on_the_pages_schedule(
    stack: Stack, page: Page, tmp_path: Path
) -> None:
    title = "Organised through an outage"
    talk = rated_talk(stack, title)
    reads = reads_of(page, LIST_READ)
    notice = page.get_by_test_id("counts-notice")
    badge = page.locator(".live-badge")
    page.clock.install()
    with redis_server_stopped(stack.ratings):
        # Given the organisers' page opened while Redis is down: its reads of the list find
        # the counts unreadable
        signed_in(stack, page, title)
        # Then it says so above its table in the programme's words, not on its badge alone
        expect(notice).to_have_text(LISTED)
        expect(badge).to_have_text(PAUSED)
        assert above_the_table(page)
        row = page.get_by_role("row").filter(has=page.get_by_role("link", name=title))
        expect(row.locator('td[data-label="Ratings"]')).to_have_text(NO_COUNT)
        page.screenshot(path=str(tmp_path / "admin-phone.png"))
        page.set_viewport_size(web_app.ROOM)
        assert above_the_table(page)
        page.screenshot(path=str(tmp_path / "admin-1920x1080.png"))
        page.set_viewport_size(web_app.PHONE)
        # And it reads again on the pages' schedule: 5 s later, then 10 s after that, not 5
        read_again_on_the_pages_schedule(page, reads)
        expect(notice).to_have_text(LISTED)
    # When Redis is back (empty: the runtime recounts the stored ratings), a rating moving the
    # projector on
    rate(stack, talk, 5)
    # Then a read of the page's schedule finds the counts: the notice and the pause are gone
    web_app.clock_until(
        page,
        lambda: notice.text_content() == "" and badge.text_content() == "Live",
        step_ms=1000,
        most=60,
    )
    expect(row.locator('td[data-label="Ratings"]')).not_to_have_text(NO_COUNT)


def test_the_organisers_page_says_the_counts_are_being_recounted_until_they_are(
    stack: Stack, page: Page
) -> None:
    title = "Organised through a recount"
    rated_talk(stack, title)
    client = redis.Redis.from_url(stack.ratings)
    try:
        # Given the read model lost, and a rebuild holding its lock
        client.flushdb()
        client.set(REBUILD_LOCK_KEY, "another rebuild", ex=60)
        # When the organisers' page is opened
        signed_in(stack, page, title)
        # Then it says the counts are being recounted, above its table
        notice = page.get_by_test_id("counts-notice")
        expect(notice).to_have_text(LISTED_RECOUNTED)
        assert above_the_table(page)
    finally:
        client.delete(REBUILD_LOCK_KEY)
        client.close()
    # And once the recount is done (the runtime rebuilds the lost read model once its lock is
    # gone), a read 5 s after the last clears it
    expect(notice).to_have_text("", timeout=30_000)
    expect(page.locator(".live-badge")).to_have_text("Live")


def test_an_organiser_edits_a_talk_while_the_counts_cannot_be_read(
    stack: Stack, page: Page
) -> None:
    title = "Edited through an outage"
    rated_talk(stack, title)
    with redis_server_stopped(stack.ratings):
        # Given the organisers' page saying the counts cannot be read
        signed_in(stack, page, title)
        notice = page.get_by_test_id("counts-notice")
        expect(notice).to_have_text(LISTED)
        # When the organiser edits the talk's title and saves it
        page.get_by_role("button", name=f"Edit {title}").click()
        page.get_by_label("Title", exact=True).fill(f"{title}, renamed")
        page.get_by_role("button", name="Save").click()
        # Then it is saved (the programme is PostgreSQL's) and the table shows it, the notice
        # still saying why its counts are missing
        expect(page.get_by_test_id("admin-message")).to_have_text(
            f"Saved “{title}, renamed”.", timeout=10_000
        )
        expect(page.get_by_role("link", name=f"{title}, renamed")).to_be_visible()
        expect(notice).to_have_text(LISTED)
        expect(page.locator(".live-badge")).to_have_text(PAUSED)


# The room screen's notice about its counts against its title and its badge, as font sizes,
# with whether the page still fits its window, at the window's size.
SCREEN_NOTICE = """() => {
  const size = (selector) => parseFloat(getComputedStyle(document.querySelector(selector)).fontSize);
  const notice = size('[data-testid="counts-notice"]');
  const root = document.documentElement;
  return {
    notice,
    toTitle: notice / size(".screen-head h1"),
    toBadge: notice / size(".live-badge"),
    page: [root.scrollWidth, root.scrollHeight],
  };
}"""

SCREENS = {"phone": web_app.PHONE, **web_app.PROJECTORS}


@pytest.mark.parametrize("size", SCREENS)
def test_the_room_screen_s_words_about_its_counts_read_from_the_back_of_the_room(
    stack: Stack, browser: Browser, size: str, tmp_path: Path
) -> None:
    talk = rated_talk(stack, f"Shown through an outage ({size})")
    viewport = SCREENS[size]
    room = browser.new_context(viewport=viewport)
    try:
        screen = room.new_page()
        with redis_server_stopped(stack.ratings):
            # Given the room screen saying its counts are the stored ratings'
            screen.goto(stack.runtime.url + web_app.SCREEN.format(id=talk))
            notice = screen.get_by_test_id("counts-notice")
            expect(notice).to_have_text(STORED)
            expect(screen.locator(".live-badge")).to_have_text(PAUSED)
            measured = screen.evaluate(SCREEN_NOTICE)
            screen.screenshot(path=str(tmp_path / f"screen-{size.split()[0]}.png"))
            # Then axe-core finds its words readable against their box
            screen.evaluate(web_app.axe_source())
            result = screen.evaluate(
                """axe.run('[data-testid="counts-notice"]',
                     {runOnly: ['color-contrast'], resultTypes: ['violations']})"""
            )
            assert result["violations"] == [], result["violations"]
        # And it is as big as a page's text at least (a phone's, a small projector's)
        assert measured["notice"] >= 16, measured
        if size == "phone":
            # (a phone scrolls: inside its width)
            assert measured["page"][0] == viewport["width"], measured
            return
        # And the screen still fills its display without scrolling
        assert measured["page"] == [viewport["width"], viewport["height"]], measured
        if viewport["width"] >= 1920:
            # And on a room's display, a third bigger than the badge and near half the title's
            # size (1.7 and 3.4 hundredths of the screen's box; it was 16 px whatever the
            # display: a quarter of the title's at 1080p, an eighth at 4K, under the badge's)
            assert measured["toBadge"] >= 1.35, measured
            assert measured["toTitle"] >= 0.45, measured
    finally:
        room.close()
