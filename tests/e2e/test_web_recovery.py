"""The pages coming back from counts they could not read, through the local runtime: a talk's
live message says its counts live again whatever the page's last read said, a page that found
them unreadable reads again on its first backoff step, the leaderboard lets the projector's
"unavailable" messages be while it knows (and, once left, reads no more), and the organisers'
table reads again, backing off, as counts move while it says they cannot be read.

The runtime has a Redis server of its own (the tests stop it and start it again, empty, or
empty it)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import redis
from playwright.sync_api import Page, Route, expect

from talkrate.adapters.redis_store import REBUILD_LOCK_KEY
from talkrate.live import LEADERBOARD_CHANNEL
from tests.backends import postgres_dsn
from tests.builders import unique_talk_id
from tests.e2e import test_web_app as web_app
from tests.e2e.conftest import REACTION_MS, start_admin_runtime, stop_runtime, wait_for
from tests.e2e.test_web_counts_down import (
    PAUSED,
    Stack,
    channel_of,
    rated_talk,
)
from tests.workers import own_redis_server, redis_server_stopped

# test_web_app's fixtures, found by pytest under their names: a browser, a phone, a page.
browser, phone, page = web_app.browser, web_app.phone, web_app.page

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

# What a talk's page and its room screen say while the read model is recounted (STORED_COUNTS
# in web/js/pages/common.js).
RECOUNTED = (
    "Counted from the stored ratings while the live counts are recounted; live again in a few "
    "seconds."
)
# And what their badge says meanwhile (liveBadge in web/js/pages/common.js), for "Live".
RECOUNTING = "Recounting: the counts are back in a few seconds"


@pytest.fixture(scope="module")
def stack(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    ratings = f"{own_redis_server()}/1"
    runtime, token = start_admin_runtime(
        postgres_dsn("web_recovery_e2e"),
        ratings,
        kafka_bootstrap,
        tmp_path_factory.mktemp("recovery") / "runtime.log",
        ["--param", "ProjectorBatchWindowSeconds=0"],
    )
    yield Stack(runtime, token, ratings)
    stop_runtime(runtime)


def reads_of(page: Page, part: str) -> list[str]:
    """The page's reads from now on whose address holds `part`, as they are sent."""
    reads: list[str] = []
    page.on("request", lambda request: part in request.url and reads.append(request.url))
    return reads


def read_again_on_the_pages_schedule(page: Page, reads: list[str]) -> None:
    """With the page's clock installed and its counts found unreadable: it has read (`reads`,
    from reads_of), and reads again once 5 s later (its two reads at its start are not two
    failed tries: the first try again came after 10 s), then 10 s after that, not 5."""
    web_app.reads_answered(page)
    first = len(reads)
    assert first >= 1, reads
    page.clock.run_for(5000)
    web_app.reads_answered(page)
    assert len(reads) == first + 1, reads
    page.clock.run_for(5000)
    web_app.reads_answered(page)
    assert len(reads) == first + 1, reads
    page.clock.run_for(5000)
    web_app.reads_answered(page)
    assert len(reads) == first + 2, reads


def test_a_talk_s_live_message_says_its_counts_live_again_after_a_recount(
    stack: Stack, page: Page
) -> None:
    talk = rated_talk(stack, "Recounted, then moving")
    channel = channel_of(stack, talk)
    client = redis.Redis.from_url(stack.ratings)
    try:
        # Given the read model lost, and a rebuild holding its lock (the API's reads say the
        # counts are being recounted for as long as the test keeps it)
        client.flushdb()
        client.set(REBUILD_LOCK_KEY, "another rebuild", ex=60)
        # And the talk's page and its room screen saying so
        page.goto(stack.runtime.url + web_app.TALK_PAGE.format(id=talk))
        expect(page.get_by_test_id("counts-notice")).to_have_text(RECOUNTED)
        expect(page.locator(".live-badge")).to_have_text(RECOUNTING)
        screen = page.context.new_page()
        screen.add_init_script(web_app.READS_WATCHED)
        screen.set_viewport_size(web_app.ROOM)
        screen.goto(stack.runtime.url + web_app.SCREEN.format(id=talk))
        expect(screen.get_by_test_id("counts-notice")).to_have_text(RECOUNTED)
        expect(screen.locator(".live-badge")).to_have_text(RECOUNTING)
        # (the screen's reads too: one of them answered after the message, CI once saw, and
        # said "recounted" again)
        web_app.reads_answered(page)
        web_app.reads_answered(screen)
        # (and no read of theirs answered from now on: one falling due while the test looks
        # would say "recounted" again, as the lock the test keeps says, when a loaded machine
        # makes the test slow; a failed read changes neither page's words)
        page.context.route(lambda url: "/ratings?talkId=" in url, lambda route: route.abort())
        # When the talk's new state comes on its channel (the projector applied a batch, which
        # it is refused while a rebuild holds the lock: the counts are live again)
        ratings = {"1": 0, "2": 0, "3": 0, "4": 2, "5": 2}
        message = {"type": "talk", "talkId": talk, "ratings": ratings, "count": 4, "avg": 4.5}
        web_app.publish_live(stack, channel, message)  # type: ignore[arg-type]
        # Then both show it and no longer say the counts are recounted, at once: not at the
        # page's next read (which would still say so here). No read is answered now, so the
        # message alone can change the words: the timeout only bounds a hang (3 s was the
        # page's render of a message, not a loaded machine's)
        expect(page.get_by_test_id("total")).to_have_text("4 ratings", timeout=30_000)
        expect(page.get_by_test_id("counts-notice")).to_have_text("", timeout=30_000)
        expect(screen.get_by_test_id("total")).to_have_text("4 ratings", timeout=30_000)
        expect(screen.get_by_test_id("counts-notice")).to_have_text("", timeout=30_000)
        # And their badges say "Live" again, no longer "Recounting"
        expect(page.locator(".live-badge")).to_have_text("Live")
        expect(screen.locator(".live-badge")).to_have_text("Live")
    finally:
        page.context.unroute_all()
        client.delete(REBUILD_LOCK_KEY)
        client.close()


@pytest.mark.parametrize("opened", ["room screen", "leaderboard"])
def test_a_read_again_that_fails_while_recounted_is_tried_again_as_the_recount_asked(
    stack: Stack, page: Page, opened: str
) -> None:
    talk = rated_talk(stack, f"Recounted past a dropped read ({opened})")
    client = redis.Redis.from_url(stack.ratings)
    address, read = {
        "room screen": (web_app.SCREEN.format(id=talk), "/ratings?talkId="),
        "leaderboard": ("/app/leaderboard", "/leaderboard"),
    }[opened]
    dropped: list[str] = []

    def drop(route: Route) -> None:
        dropped.append(route.request.url)
        route.abort()

    def is_read(url: str) -> bool:
        return read in url

    try:
        # Given the read model lost and a rebuild holding its lock, and the page saying so
        client.flushdb()
        client.set(REBUILD_LOCK_KEY, "another rebuild", ex=60)
        page.set_viewport_size(web_app.ROOM)
        page.goto(stack.runtime.url + address)
        badge = page.locator(".live-badge")
        expect(badge).to_have_text(RECOUNTING)
        # When its read again, 5 s later, is lost on the way (the hall's Wi-Fi)
        page.route(is_read, drop)
        assert wait_for(lambda: dropped, seconds=10, page=page), "no read again"
        page.unroute(is_read, drop)
        # And the recount is done
        client.delete(REBUILD_LOCK_KEY)
        # Then the page reads again on the recount's schedule, not at its minute check, and
        # is live again within seconds (a read that asks for the rebuild, one that finds it)
        expect(badge).to_have_text("Live", timeout=20_000)
    finally:
        page.unroute_all()
        client.delete(REBUILD_LOCK_KEY)
        client.close()


def test_a_page_offline_while_recounted_waits_for_the_network_to_read_again(
    stack: Stack, page: Page
) -> None:
    talk = rated_talk(stack, "Recounted while offline")
    client = redis.Redis.from_url(stack.ratings)
    try:
        # Given the read model lost and a rebuild holding its lock, and a phone showing the room
        # screen saying so
        client.flushdb()
        client.set(REBUILD_LOCK_KEY, "another rebuild", ex=120)
        page.clock.install()
        page.goto(stack.runtime.url + web_app.SCREEN.format(id=talk))
        expect(page.locator(".live-badge")).to_have_text(RECOUNTING)
        reads = reads_of(page, "/ratings?talkId=")
        # When the phone has no network for 11 s (its clock moved a second at a time, each
        # step given real time for what it started: a read that fails, the next it asks for)
        page.context.set_offline(True)
        web_app.run_clock(page, steps=11, step_ms=1000, settle_ms=150)
        tried = len(reads)
        # Then it tried at most the one read its last read had asked for, not one every 5 s
        # (each failing, each asking for the next)
        assert tried <= 1, reads
        # And when the network is back it reads at once
        page.context.set_offline(False)
        assert wait_for(lambda: len(reads) > tried, seconds=3, page=page), reads
    finally:
        page.context.set_offline(False)
        client.delete(REBUILD_LOCK_KEY)
        client.close()


def test_the_room_screen_s_words_about_its_counts_stand_out_on_its_dark_screen(
    stack: Stack, page: Page
) -> None:
    talk = rated_talk(stack, "Recounted on the big screen")
    client = redis.Redis.from_url(stack.ratings)
    try:
        # Given the read model lost, and a rebuild holding its lock
        client.flushdb()
        client.set(REBUILD_LOCK_KEY, "another rebuild", ex=60)
        # When the room screen says its counts are the stored ratings'
        page.set_viewport_size(web_app.ROOM)
        page.goto(stack.runtime.url + web_app.SCREEN.format(id=talk))
        notice = page.get_by_test_id("counts-notice")
        expect(notice).to_have_text(RECOUNTED)
        # Then axe-core finds its words readable against their box (they were the screen's
        # near-white on the light page's near-white box: a contrast of 1.04 to 1)
        page.evaluate(web_app.axe_source())
        result = page.evaluate(
            """axe.run('[data-testid="counts-notice"]',
                 {runOnly: ['color-contrast'], resultTypes: ['violations']})"""
        )
        assert result["violations"] == [], result["violations"]
    finally:
        client.delete(REBUILD_LOCK_KEY)
        client.close()


# Each page whose counts the test finds unreadable from its start: its address, and the part of
# the address of its read of the counts.
OPENED_UNREADABLE = {
    "talk page": (web_app.TALK_PAGE, "/ratings?talkId="),
    "programme": ("/app/", "/talks?limit=100&offset=0"),
    "leaderboard": ("/app/leaderboard", "/leaderboard?"),
}


@pytest.mark.parametrize("opened", list(OPENED_UNREADABLE))
def test_a_page_opened_while_the_counts_cannot_be_read_reads_again_5_s_later(
    stack: Stack, page: Page, opened: str
) -> None:
    talk = rated_talk(stack, f"Opened during an outage ({opened})")
    address, part = OPENED_UNREADABLE[opened]
    reads = reads_of(page, part)
    page.clock.install()
    with redis_server_stopped(stack.ratings):
        # Given the page opened while Redis is down: its first read, and the one its live
        # channel's subscription makes, find the counts unreadable
        page.goto(stack.runtime.url + address.format(id=talk))
        expect(page.locator(".live-badge")).to_have_text(PAUSED)
        # Then it reads again 5 s later (the pages' first backoff step), then backs off
        read_again_on_the_pages_schedule(page, reads)
        expect(page.locator(".live-badge")).to_have_text(PAUSED)


def test_the_leaderboard_lets_unavailable_messages_be_once_its_read_found_the_counts_unreadable(
    stack: Stack, page: Page
) -> None:
    talk = rated_talk(stack, "Ranked through an outage")
    # Given the leaderboard, live, with its clock in the test's hands
    page.clock.install()
    page.goto(stack.runtime.url + "/app/leaderboard")
    badge = page.locator(".live-badge")
    expect(page.get_by_role("link", name="Ranked through an outage")).to_be_visible()
    expect(badge).to_have_text("Live")
    web_app.reads_answered(page)
    reads = reads_of(page, "/leaderboard?")
    with redis_server_stopped(stack.ratings):
        # When Redis is down and the channel says so, the board reads within 5 s and says so
        told = {"type": "unavailable"}
        web_app.publish_live(stack, LEADERBOARD_CHANNEL, told)  # type: ignore[arg-type]
        web_app.clock_until(page, lambda: badge.text_content() == PAUSED, step_ms=1000, most=6)
        web_app.reads_answered(page)
        assert len(reads) == 1, reads
        # And the channel says it every 5 s for 40 s more (six projector instances, each every
        # 30 s)
        for _ in range(8):
            web_app.publish_live(stack, LEADERBOARD_CHANNEL, told)  # type: ignore[arg-type]
            page.clock.run_for(5000)
            web_app.reads_answered(page)
        told_reads = len(reads)
        # (a leaderboard message after them on the channel, which the board reads for: every
        # message above was handled once its read is sent)
        moved = {"type": "leaderboard", "summaries": {talk: {"count": 4, "avg": 4.25}}}
        web_app.publish_live(stack, LEADERBOARD_CHANNEL, moved)  # type: ignore[arg-type]
        web_app.clock_until(page, lambda: len(reads) > told_reads, step_ms=300, most=10)
        web_app.reads_answered(page)
    # Then the board read on its own schedule only (5, 15 and 35 s after its first: three
    # more), not at each message
    assert told_reads <= 4, reads
    expect(badge).to_have_text(PAUSED)


def test_the_leaderboard_left_while_its_read_is_on_its_way_reads_no_more(
    stack: Stack, page: Page
) -> None:
    rated_talk(stack, "Left during an outage")
    # Given the leaderboard's reads held on their way, with the page's clock in the test's hands
    held: list[Route] = []
    page.route("**/leaderboard?*", lambda route: held.append(route))
    page.clock.install()
    page.goto(stack.runtime.url + "/app/leaderboard")
    page.wait_for_function("() => window.__reads.started > window.__reads.done")
    assert web_app.waited_on(page, lambda: held, seconds=10)
    # When the attendee moves on to the programme before its answer comes
    page.locator("header nav").get_by_role("link", name="Programme").click()
    expect(page.get_by_role("heading", name="Programme", level=1)).to_be_visible()
    reads = reads_of(page, "/leaderboard?")
    with redis_server_stopped(stack.ratings):
        # And the answer, when it comes, says the counts cannot be read
        held[0].continue_()
        web_app.reads_answered(page)
        # Then the board left reads nothing more, however long the outage lasts (its retries
        # would come 5, 15, 35 and 75 s after)
        for _ in range(12):
            page.clock.run_for(10_000)
            page.wait_for_timeout(50)
        web_app.reads_answered(page)
        assert reads == []
    expect(page.get_by_role("heading", name="Programme", level=1)).to_be_visible()


def test_the_organisers_table_reads_again_backing_off_as_counts_move_while_unreadable(
    stack: Stack, page: Page
) -> None:
    talk = rated_talk(stack, "Administered through an outage")
    # Given the organisers' page, signed in and live, with its clock in the test's hands
    page.clock.install()
    page.goto(stack.runtime.url + "/app/admin")
    page.get_by_label("Organiser token").fill(stack.token)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("link", name="Administered through an outage")).to_be_visible()
    badge = page.locator(".live-badge")
    expect(badge).to_have_text("Live")
    web_app.reads_answered(page)
    with redis_server_stopped(stack.ratings):
        # And Redis down, said on the channel: the table reads and says so
        web_app.publish_live(stack, LEADERBOARD_CHANNEL, {"type": "unavailable"})  # type: ignore[arg-type]
        web_app.clock_until(page, lambda: badge.text_content() == PAUSED, step_ms=1000, most=6)
        web_app.reads_answered(page)
        reads = reads_of(page, "/talks?limit=100&offset=0")
        revision = [10]

        def counts_move() -> None:
            revision[0] += 1
            summary = {"count": revision[0], "avg": 4.0, "ratingsRevision": revision[0]}
            message = {"type": "leaderboard", "summaries": {talk: summary}}
            web_app.publish_live(stack, LEADERBOARD_CHANNEL, message)  # type: ignore[arg-type]

        # When counts move on the leaderboard's channel every second for 20 s while the API
        # still cannot read them (a projector that reaches them where the API does not)
        for _ in range(20):
            counts_move()
            page.clock.run_for(1000)
            web_app.reads_answered(page)
        expect(badge).to_have_text(PAUSED)
    # Then the table read the list again for the moving counts within 5 s of the first, and
    # once more 10 s after (RECOVER_READ_MS: 5, 10, 20, then every 30 s), not at every message
    # nor never; and on its own schedule 5 and 15 s after the read that said so (5, 10, 20,
    # 40 s, then every minute: unreadableRetries), as the programme does
    assert len(reads) == 4, reads


# What a screen reader is told from now on: the text of every live region (a status or alert
# role, an aria-live that is not "off") each time it changes, not its emptying (said nothing).
HEARD_WATCH = """() => {
  window.__heard = [];
  const live = '[role="status"], [role="alert"], [aria-live]:not([aria-live="off"])';
  new MutationObserver((records) => {
    const regions = new Set();
    for (const record of records) {
      const at = record.target.nodeType === Node.ELEMENT_NODE ? record.target : record.target.parentElement;
      const region = at && at.closest(live);
      if (region) regions.add(region);
    }
    for (const region of regions) {
      const text = region.textContent.replace(/[\\u2068\\u2069]/g, "");
      if (text.trim()) window.__heard.push(text);
    }
  }).observe(document.body, { childList: true, characterData: true, subtree: true });
}"""

# The pages whose figures an announcer says (announce.js): the address, and how long they may
# take to say a change of state (their pace: 15 s, a minute).
ANNOUNCED = {
    "talk page": (web_app.TALK_PAGE, 15_000),
    "room screen": (web_app.SCREEN, 60_000),
    "leaderboard": ("/app/leaderboard", 60_000),
}


def heard(page: Page, words: str) -> list[str]:
    """What the page's live regions said since HEARD_WATCH that holds `words`."""
    said: list[str] = page.evaluate("window.__heard")
    return [text for text in said if words.lower() in text.lower()]


def live_then_watched(stack: Stack, page: Page, opened: str, talk: str) -> int:
    """The page `opened` live on a clock the test moves, showing the talk's three ratings,
    its live regions watched from now on; its pace (ANNOUNCED)."""
    address, pace = ANNOUNCED[opened]
    page.clock.install()
    page.goto(stack.runtime.url + address.format(id=talk))
    expect(page.locator(".live-badge")).to_have_text("Live")
    if opened == "leaderboard":
        expect(page.locator("table.board tbody tr").first).to_be_visible()
    else:
        expect(page.get_by_test_id("total")).to_have_text("3 ratings")
    web_app.reads_answered(page)
    page.evaluate(HEARD_WATCH)
    return pace


def said_as_the_page_paces_it(page: Page, pace: int) -> None:
    """The page's clock moved past its minute check (it reads its counts then: the test keeps
    every other read away) and the pace of its announcer, each read answered."""
    web_app.clock_answered(page, 5000, (60_000 + pace) // 5000 + 1)


@pytest.mark.parametrize("opened", list(ANNOUNCED))
def test_a_recount_beginning_is_said_once_with_the_figures(
    stack: Stack, page: Page, opened: str
) -> None:
    talk = rated_talk(stack, f"Recount heard {unique_talk_id()[-6:]}")
    client = redis.Redis.from_url(stack.ratings)
    try:
        # Given the page live, showing the talk's three ratings
        pace = live_then_watched(stack, page, opened, talk)
        # When the read model is lost and a rebuild holds its lock (the page's next read finds
        # the counts being recounted, and each read again every 5 s meanwhile)
        client.flushdb()
        client.set(REBUILD_LOCK_KEY, "another rebuild", ex=300)
        said_as_the_page_paces_it(page, pace)
        badge = page.locator(".live-badge")
        expect(badge).to_have_text(RECOUNTING)
        # Then a screen reader is told once, as it begins, with the figures shown, as the
        # pause is told (before: the badge's "Recounting" said by nothing of the announcer)
        said = heard(page, "recount")
        if opened == "leaderboard":
            assert len(said) == 1, said
            assert re.fullmatch(
                rf"{re.escape(RECOUNTING)}\. .+ (leads the board|tied).*\.", said[0]
            )
            # (the board's words about it shown, not said a second time)
            expect(page.get_by_test_id("leaderboard-held")).to_contain_text(
                "The leaderboard is being recounted"
            )
        else:
            assert said == [f"{RECOUNTING}. 3 ratings, average 4.33"], said
            expect(page.get_by_test_id("counts-notice")).to_have_text(RECOUNTED)
        # And not again at its reads again while it lasts
        said_as_the_page_paces_it(page, pace)
        assert len(heard(page, "recount")) == 1, heard(page, "recount")
    finally:
        client.delete(REBUILD_LOCK_KEY)
        client.close()


@pytest.mark.parametrize("opened", ["talk page", "room screen"])
def test_a_pause_of_the_counts_is_heard_once_on_a_talk_s_pages(
    stack: Stack, page: Page, opened: str
) -> None:
    talk = rated_talk(stack, f"Pause heard {unique_talk_id()[-6:]}")
    # Given the page live, showing the talk's three ratings
    pace = live_then_watched(stack, page, opened, talk)
    # When Redis goes down, and the page's next read finds the counts unreadable
    with redis_server_stopped(stack.ratings):
        said_as_the_page_paces_it(page, pace)
        expect(page.locator(".live-badge")).to_have_text(PAUSED)
        # Then the pause is heard once, with the figures (before: the counts' notice, a status
        # line, said it too, in its own words)
        assert heard(page, "cannot be read") == [f"{PAUSED}. 3 ratings, average 4.33"]
        # (the notice still shown, read with the page)
        expect(page.get_by_test_id("counts-notice")).to_contain_text("cannot be read just now")


# HEARD_WATCH from the page's first words on (added before it opens: the document watched, its
# body not there yet).
HEARD_FROM_THE_START = f"({HEARD_WATCH.replace('document.body', 'document')})()"


def every_place_lost(page: Page) -> list[bool]:
    """The service's board answered with every place unreadable while `lost[0]`: ranks and
    titles, no counts (every talk on a lost shard: the answer's shape as
    tests/e2e/test_web_cluster_shard_lost.py has the service give it); else as it is."""
    lost = [False]

    def board(route: Route) -> None:
        if route.request.resource_type != "fetch":  # the page itself
            route.continue_()
            return
        answer = route.fetch()
        body = answer.json()
        if lost[0] and body.get("talks"):
            fields = ("rank", "talkId", "title", "language", "track")
            body["unreadable"] = [{key: row[key] for key in fields} for row in body["talks"]]
            body["talks"] = []
        route.fulfill(response=answer, json=body)

    page.route("**/leaderboard?*", board)
    return lost


def badge_state(page: Page) -> str | None:
    return page.locator(".live-badge").get_attribute("data-state")


@pytest.mark.parametrize("order", ["opened so", "while shown"])
def test_a_board_none_of_whose_counts_can_be_read_is_heard_paused_once(
    stack: Stack, page: Page, order: str
) -> None:
    rated_talk(stack, f"Board heard paused {unique_talk_id()[-6:]}")
    sockets = web_app.live_connections(page)
    lost = every_place_lost(page)
    badge = page.locator(".live-badge")
    rows = page.locator("table.board tbody tr")
    if order == "opened so":
        # Given the board opened with every place unreadable, its live regions watched from
        # its first words
        lost[0] = True
        page.add_init_script(HEARD_FROM_THE_START)
        page.clock.install()
        page.goto(stack.runtime.url + "/app/leaderboard")
        expect(badge).to_have_text(PAUSED)
        expect(rows.first).to_be_visible()
        web_app.reads_answered(page)
    else:
        # Given the board live, showing its leaders, its live regions watched from now on
        pace = live_then_watched(stack, page, "leaderboard", "")
        # When every place of it becomes unreadable, found at its next read (its minute check)
        lost[0] = True
        said_as_the_page_paces_it(page, pace)
        expect(badge).to_have_text(PAUSED)
    # Then the pause is heard once: said by the board's status line as it opens (the announcer
    # says no first figures), by the announcer with the leaders while shown (before: the status
    # line said it too, in its own words)
    said = heard(page, "cannot be read")
    assert len(said) == 1, said
    if order == "while shown":
        assert said[0].startswith(f"{PAUSED}. "), said
    # And a sighted user still reads it under the board, its places at their ranks
    expect(page.get_by_text(web_app.COUNTS_UNREADABLE)).to_be_visible()
    expect(rows.locator('td[data-label="Ratings"]').first).to_have_text("unavailable")
    # And not again at its reads again meanwhile (5 s, then 10, 20, 40), nor through a
    # reconnection of its live channel
    web_app.clock_answered(page, 5000, 16)
    sockets[-1].close(code=1001, reason="gone")
    expect(badge).to_have_text("Reconnecting…")
    web_app.clock_answered(page, 1000, 60, until=lambda: badge_state(page) == "paused")
    web_app.clock_answered(page, 5000, 13)
    assert heard(page, "cannot be read") == said
    expect(page.get_by_text(web_app.COUNTS_UNREADABLE)).to_be_visible()
    # When its counts can be read again (its next read again, at most a minute away)
    lost[0] = False
    web_app.clock_answered(page, 1000, 70, until=lambda: badge_state(page) == "live")
    # Then that is said with the leaders alone (within the announcer's minute), the pause not
    # again, and its words go
    web_app.clock_answered(page, 5000, 13)
    everything: list[str] = page.evaluate("window.__heard")
    assert everything, everything
    assert "cannot be read" not in everything[-1], everything
    assert heard(page, "cannot be read") == said
    expect(page.get_by_text(web_app.COUNTS_UNREADABLE)).to_have_count(0)


def test_the_leaderboard_s_pause_while_redis_is_down_is_heard_once(
    stack: Stack, page: Page
) -> None:
    rated_talk(stack, f"Board down heard {unique_talk_id()[-6:]}")
    # Given the board live, showing its leaders, its live regions watched from now on
    pace = live_then_watched(stack, page, "leaderboard", "")
    with redis_server_stopped(stack.ratings):
        # When Redis goes down, and the board's next read finds the counts unreadable
        said_as_the_page_paces_it(page, pace)
        expect(page.locator(".live-badge")).to_have_text(PAUSED)
        # Then the pause is heard once, by the announcer with the leaders (before: the line
        # saying since when the board shown was read, a status line, said it too)
        said = heard(page, "cannot be read")
        assert len(said) == 1, said
        assert said[0].startswith(f"{PAUSED}. "), said
        # (that line's words still shown: the board kept is of before)
        expect(
            page.get_by_text(
                re.compile(r"cannot be read just now.*The leaderboard shown was read at")
            )
        ).to_be_visible()
        # And not again at its reads again meanwhile
        said_as_the_page_paces_it(page, pace)
        assert heard(page, "cannot be read") == said


# What a page's badge says while the browser has no network (liveBadge in common.js), and
# what a read that fails then says of the service (errorText).
OFFLINE = "Offline: these figures may be out of date"
UNREACHABLE = "The service cannot be reached"
# The pages of an offline test: those an announcer speaks for (ANNOUNCED), and those whose
# badge's own region says the network's loss and return.
OFFLINE_PAGES = [*ANNOUNCED, "programme", "organisers' page"]
# The line a failed read is shown on, while the page shows what it read before (staleNotice;
# the room screen's problem line); none on a talk's page, whose failed reads say nothing.
FAILED_LINE = {
    "room screen": "main p.message",
    "leaderboard": '[data-testid="leaderboard-stale"]',
    "programme": '[data-testid="programme-stale"]',
    "organisers' page": '[data-testid="admin-stale"]',
}


def heard_offline(page: Page) -> list[str]:
    """What the page's live regions said since HEARD_WATCH of its being offline, in either
    words: the badge's, or a failed read's."""
    said: list[str] = page.evaluate("window.__heard")
    return [text for text in said if "offline" in text.lower() or UNREACHABLE in text]


def listed_live_then_watched(stack: Stack, page: Page, opened: str, title: str) -> int:
    """The programme or the organisers' list opened live on a clock the test moves, listing
    the talk titled `title`, its live regions watched from now on; its pace (none: its badge's region says
    the network's loss at once)."""
    page.clock.install()
    if opened == "programme":
        page.goto(stack.runtime.url + "/app/")
    else:
        page.goto(stack.runtime.url + "/app/admin")
        page.get_by_label("Organiser token").fill(stack.token)
        page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("link", name=title, exact=True)).to_be_visible()
    expect(page.locator(".live-badge")).to_have_text("Live")
    web_app.reads_answered(page)
    page.evaluate(HEARD_WATCH)
    return 0


def opened_live_then_watched(stack: Stack, page: Page, opened: str, talk: str, title: str) -> int:
    """`opened` live with the talk's figures (a page with an announcer) or its title listed
    (one without), its live regions watched from now on: its pace (ANNOUNCED; none without an announcer)."""
    if opened in ANNOUNCED:
        return live_then_watched(stack, page, opened, talk)
    return listed_live_then_watched(stack, page, opened, title)


@pytest.mark.parametrize("opened", OFFLINE_PAGES)
def test_a_page_offline_is_heard_offline_once_whatever_its_reads_meanwhile(
    stack: Stack, page: Page, opened: str
) -> None:
    title = f"Unplugged heard {unique_talk_id()[-6:]}"
    talk = rated_talk(stack, title)
    # Given the page live, showing the talk's figures, its live regions watched from now on
    pace = opened_live_then_watched(stack, page, opened, talk, title)
    badge = page.locator(".live-badge")
    try:
        # When the browser loses its network, and the page reads (its minute check; its
        # polling, once its live channel drops) and fails, past its announcer's pace
        page.context.set_offline(True)
        expect(badge).to_have_text(OFFLINE)
        said_as_the_page_paces_it(page, pace)
        # Then it is heard once that the page is offline, by its badge's words (said by the
        # announcer, or the badge's region), not again by the line its failed read wrote
        # (before: "The service cannot be reached…", a live region, said it too)
        said = heard_offline(page)
        assert len(said) == 1, said
        assert said[0].startswith(OFFLINE), said
        # And a sighted user still reads, under what the page shows, that its read failed
        if opened in FAILED_LINE:
            expect(page.locator(FAILED_LINE[opened]).first).to_contain_text(UNREACHABLE)
        # And not again at its reads meanwhile
        said_as_the_page_paces_it(page, pace)
        assert heard_offline(page) == said
        expect(badge).to_have_text(OFFLINE)
        # When the network is back (the page reads at once)
        page.context.set_offline(False)
        expect(badge).to_have_text("Live", timeout=20_000)
        web_app.reads_answered(page)
        # Then the failed read's line goes, and what is new is heard: back online (the badge's
        # region), or the figures alone (the announcer, within its pace); the offline words
        # not again
        if opened in FAILED_LINE:
            expect(page.locator(FAILED_LINE[opened]).first).not_to_contain_text(UNREACHABLE)
        web_app.clock_answered(page, 5000, pace // 5000 + 1)
        everything: list[str] = page.evaluate("window.__heard")
        if opened in ANNOUNCED:
            assert everything, everything
            assert "offline" not in everything[-1].lower(), everything
        else:
            assert "Back online." in everything, everything
        assert heard_offline(page) == said
    finally:
        page.context.set_offline(False)


def test_the_programme_offline_while_its_first_read_is_on_its_way_is_heard_offline_once(
    stack: Stack, page: Page
) -> None:
    # Given the programme opening, its live regions watched from its first words, its reads of
    # the talks held on their way (its first, and the one its live channel asks once connected)
    held: list[Route] = []
    holding = [True]

    def hold(route: Route) -> None:
        if route.request.resource_type == "fetch" and holding[0]:
            held.append(route)
        else:
            route.continue_()

    page.route("**/talks?*", hold)
    page.add_init_script(HEARD_FROM_THE_START)
    page.goto(stack.runtime.url + "/app/")
    assert wait_for(lambda: held, page=page), "the programme asked for no talks"
    badge = page.locator(".live-badge")
    try:
        # When the browser loses its network, and that read fails
        page.context.set_offline(True)
        expect(badge).to_have_text(OFFLINE)
        holding[0] = False
        for route in held:
            route.abort("internetdisconnected")
        # Then the page shows why it lists nothing, and being offline is heard once (the
        # badge's region), not again in the failed read's words (the line said them too)
        line = page.get_by_test_id("programme-line")
        expect(line).to_contain_text(UNREACHABLE, timeout=REACTION_MS)
        said = heard_offline(page)
        assert len(said) == 1, said
        assert said[0].startswith(OFFLINE), said
        # When the network is back (the page reads at once)
        page.context.set_offline(False)
        expect(badge).to_have_text("Live", timeout=20_000)
        # Then the programme's count is heard, the offline words not again
        expect(line).to_have_text(re.compile(r"^\d+ talks?$"), timeout=REACTION_MS)
        assert wait_for(
            lambda: any(
                re.fullmatch(r"\d+ talks?", text) for text in page.evaluate("window.__heard")
            ),
            5,
            page,
        ), page.evaluate("window.__heard")
        assert heard_offline(page) == said
    finally:
        page.context.set_offline(False)


# The reads whose failure the failed read's line (FAILED_LINE) says, by page.
READS = {
    "room screen": "**/ratings?*",
    "leaderboard": "**/leaderboard?*",
    "programme": "**/talks?*",
    "organisers' page": "**/talks?*",
}


@pytest.mark.parametrize("opened", list(FAILED_LINE))
def test_a_service_still_unreachable_once_back_online_is_heard(
    stack: Stack, page: Page, opened: str
) -> None:
    title = f"Unplugged again {unique_talk_id()[-6:]}"
    talk = rated_talk(stack, title)
    # Given the page live, its live regions watched, offline through its reads (its failed
    # read shown, not said: see the test above)
    pace = opened_live_then_watched(stack, page, opened, talk, title)
    line = page.locator(FAILED_LINE[opened]).first
    try:
        page.context.set_offline(True)
        said_as_the_page_paces_it(page, pace)
        expect(line).to_contain_text(UNREACHABLE)
        offline = heard_offline(page)
        assert len(offline) == 1, offline
        # When the network is back but the service still does not answer (its reads dropped)
        page.route(READS[opened], lambda route: route.abort("internetdisconnected"))
        page.context.set_offline(False)
        web_app.waited_on(page, lambda: page.evaluate("navigator.onLine"))
        web_app.reads_answered(page)
        # Then that is news, and heard once, in the failed read's words (its line, a live
        # region again; its words as shown, and so unchanged, said nothing before)
        expect(line).to_contain_text(UNREACHABLE)
        said = heard_offline(page)
        assert said[:1] == offline, said
        assert len(said) == 2, said
        assert said[1].startswith(UNREACHABLE), said
    finally:
        page.unroute_all()
        page.context.set_offline(False)
