"""Redis (the read model) going down while pages and `talkrate watch` are open, through the
local runtime: the projector's batch that fails for it says so on the live channel, and what is
open reads at once and says its counts cannot be read just now, instead of showing counts that
stand still under "Live" until its next check (a minute later for a page, 30 s for the watch).

The runtime has a Redis server of its own (the tests stop it and start it again, empty)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from talkrate.live import LEADERBOARD_CHANNEL
from talkrate_cli import output
from tests.backends import postgres_dsn
from tests.builders import unique_talk_id
from tests.e2e import test_web_app as web_app
from tests.e2e.conftest import Runtime, start_admin_runtime, stop_runtime, wait_for
from tests.e2e.test_cli import Cli, watch_in_a_terminal
from tests.terminal import read_until
from tests.workers import own_redis_server, redis_server_stopped

# test_web_app's fixtures, found by pytest under their names: a browser, a phone, a page.
browser, phone, page = web_app.browser, web_app.phone, web_app.page

pytestmark = pytest.mark.e2e

# How soon what is open says the counts cannot be read, once a rating's batch failed for it:
# well under the page's minute check (LIVE_CHECK_MS in web/js/live.js) and the watch's 30 s
# safety read (LIVE_REFRESH_SECONDS), each counted from when it went live.
SAID_WITHIN_MS = 10_000
STORED = (
    "Counted from the stored ratings: the live counts cannot be read just now (every rating "
    "sent is kept); trying again shortly."
)
LISTED = (
    "The counts and averages cannot be read just now (every rating sent is kept); "
    "trying again shortly."
)
PAUSED = "Paused: the counts cannot be read just now"


@dataclass
class Stack:
    runtime: Runtime
    token: str
    ratings: str  # its Redis's URL


@pytest.fixture(scope="module")
def stack(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    ratings = f"{own_redis_server()}/1"
    runtime, token = start_admin_runtime(
        postgres_dsn("counts_down_e2e"),
        ratings,
        kafka_bootstrap,
        tmp_path_factory.mktemp("down") / "runtime.log",
        ["--param", "ProjectorBatchWindowSeconds=0"],
    )
    yield Stack(runtime, token, ratings)
    stop_runtime(runtime)


def rated_talk(stack: Stack, title: str) -> str:
    """A new talk of the stack's, rated 5, 4 and 4, counted in the read model."""
    talk = unique_talk_id("down")
    body = {"title": title, "track": "Outage", "room": "Hall D"}
    put = stack.runtime.request(
        "PUT", f"/talks/{talk}", json.dumps(body), {"authorization": f"Bearer {stack.token}"}
    )
    assert put.status == 201, put.body
    for value in (5, 4, 4):
        rate(stack, talk, value)
    assert wait_for(lambda: counted(stack, talk) == (3, "read-model"))
    return talk


def rate(stack: Stack, talk: str, value: int) -> None:
    sent = stack.runtime.request("POST", "/ratings", json.dumps({"talkId": talk, "value": value}))
    assert sent.status == 202, sent.body


def counted(stack: Stack, talk: str) -> tuple[int, str]:
    answer = stack.runtime.request("GET", f"/ratings?talkId={talk}").json
    return sum(answer["ratings"].values()), answer["source"]


@pytest.mark.browser
def test_open_pages_say_at_once_that_the_counts_cannot_be_read_while_redis_is_down(
    stack: Stack, page: Page
) -> None:
    talk = rated_talk(stack, "Rated as Redis went down")
    # Given the talk's page, the programme, the room screen and the leaderboard open and live,
    # showing its three ratings
    page.goto(stack.runtime.url + web_app.TALK_PAGE.format(id=talk))
    badge = page.locator(".live-badge")
    expect(badge).to_have_text("Live")
    expect(page.get_by_test_id("total")).to_have_text("3 ratings")
    programme = page.context.new_page()
    programme.goto(stack.runtime.url + "/app/")
    card = programme.locator(".talk-card").filter(has_text="Rated as Redis went down")
    expect(card.get_by_text("3 ratings")).to_be_visible()
    expect(programme.locator(".live-badge")).to_have_text("Live")
    screen = page.context.new_page()
    screen.set_viewport_size(web_app.ROOM)
    screen.goto(stack.runtime.url + web_app.SCREEN.format(id=talk))
    expect(screen.get_by_test_id("total")).to_have_text("3 ratings")
    expect(screen.locator(".live-badge")).to_have_text("Live")
    board = page.context.new_page()
    board.goto(stack.runtime.url + "/app/leaderboard")
    expect(board.get_by_role("link", name="Rated as Redis went down")).to_be_visible()
    expect(board.locator(".live-badge")).to_have_text("Live")
    # When Redis goes down and the talk is rated (the rating is kept; its batch fails)
    with redis_server_stopped(stack.ratings):
        rate(stack, talk, 5)
        # Then both say, within seconds, that the counts cannot be read just now, and their
        # badges no longer say "Live"
        expect(page.get_by_test_id("counts-notice")).to_have_text(STORED, timeout=SAID_WITHIN_MS)
        expect(badge).to_have_text(PAUSED)
        expect(badge).to_have_attribute("data-state", "paused")
        expect(page.get_by_test_id("total")).to_have_text("3 ratings")  # the stored ones
        expect(programme.get_by_test_id("counts-notice")).to_have_text(
            LISTED, timeout=SAID_WITHIN_MS
        )
        expect(programme.locator(".live-badge")).to_have_text(PAUSED)
        # (the room screen in the talk page's words, the leaderboard in the programme's)
        expect(screen.get_by_test_id("counts-notice")).to_have_text(STORED)
        expect(screen.locator(".live-badge")).to_have_text(PAUSED)
        # (the board shown kept, shown to be of before: on its line that is no live region,
        # the announcer saying the pause with its leaders)
        expect(board.get_by_test_id("leaderboard-held")).to_contain_text(LISTED)
        expect(board.locator(".live-badge")).to_have_text(PAUSED)
        # And a screen reader is told the pause on the pages that say their figures in words,
        # with the figures shown (before: nothing, the badge's "Paused" unsaid); the programme's
        # notice, a status line, says it there
        said = f"{PAUSED}. 3 ratings, average 4.33"
        expect(page.get_by_test_id("announcement")).to_have_text(said)
        expect(screen.get_by_test_id("announcement")).to_have_text(said)
        expect(board.get_by_test_id("announcement")).to_have_text(
            re.compile(rf"^{re.escape(PAUSED)}\. .+\.$")
        )
    # And once Redis answers again (empty: the read model is rebuilt), the rating sent while it
    # was down is counted, the words go and the badges say "Live" again, by the pages' own reads
    expect(page.get_by_test_id("total")).to_have_text("4 ratings", timeout=40_000)
    expect(page.get_by_test_id("counts-notice")).to_have_text("", timeout=40_000)
    expect(badge).to_have_text("Live")
    expect(card.get_by_text("4 ratings")).to_be_visible(timeout=40_000)
    expect(programme.get_by_test_id("counts-notice")).to_have_text("", timeout=40_000)
    expect(programme.locator(".live-badge")).to_have_text("Live")
    # (the counts' return said, as the network's is: before, nothing on the programme; on the
    # talk's page, its figures without the pause, at most 15 s after the pause was said)
    expect(programme.get_by_test_id("live-said")).to_have_text("The counts can be read again.")
    expect(page.get_by_test_id("announcement")).to_have_text(
        "4 ratings, average 4.50", timeout=40_000
    )
    expect(screen.locator(".live-badge")).to_have_text("Live", timeout=40_000)
    expect(board.locator(".live-badge")).to_have_text("Live", timeout=40_000)


@contextmanager
def watched_in_a_terminal(stack: Stack, talk: str, tmp_path: Path) -> Iterator[int]:
    """`talkrate watch TALK` (polling every minute without the live channel) in a terminal of
    its own, once it says it is live: the terminal's end to read what it shows."""
    cli = Cli.of(stack.runtime, tmp_path / "config")
    with watch_in_a_terminal(cli, talk, interval="60") as (_, primary):
        shown = read_until(primary, r"live · ", 30)
        assert "live · " in shown, shown
        yield primary


def test_talkrate_watch_reads_at_once_and_says_so_while_redis_is_down(
    stack: Stack, tmp_path: Path
) -> None:
    talk = rated_talk(stack, "Watched as Redis went down")
    # Given `talkrate watch TALK` live on the talk's channel, in a terminal (polling only every
    # minute without the channel)
    with (
        watched_in_a_terminal(stack, talk, tmp_path) as primary,
        redis_server_stopped(stack.ratings),
    ):
        # When Redis goes down and the talk is rated
        rate(stack, talk, 5)
        # Then within seconds the watch has read again, shows the stored ratings, says so,
        # and no longer says "live"
        said = read_until(primary, r"paused · ", SAID_WITHIN_MS / 1000)
        assert "paused · " in said, said
        assert " ".join(said.split()).count(output.TALK_UNREADABLE) >= 1, said
        assert "count 3 " in said, said


def channel_of(stack: Stack, talk: str) -> str:
    channel = stack.runtime.request("GET", f"/talks/{talk}").json["channel"]
    return channel if channel.startswith("/") else f"/talkrate/talks/{channel}"


@pytest.mark.browser
def test_a_page_that_found_the_counts_unreadable_reads_on_its_own_schedule_whatever_is_said(
    stack: Stack, page: Page
) -> None:
    talk = rated_talk(stack, "Told again and again")
    channel = channel_of(stack, talk)
    # Given the talk's page, live, with its clock in the test's hands
    page.clock.install()
    page.goto(stack.runtime.url + web_app.TALK_PAGE.format(id=talk))
    badge = page.locator(".live-badge")
    expect(badge).to_have_text("Live")
    web_app.reads_answered(page)
    reads: list[str] = []
    page.on(
        "request", lambda request: "/ratings?talkId=" in request.url and reads.append(request.url)
    )
    with redis_server_stopped(stack.ratings):
        # When Redis is down and the channel says so, the page reads within 5 s and says so
        told = {"type": "unavailable", "talkId": talk}
        web_app.publish_live(stack, channel, told)  # type: ignore[arg-type]
        web_app.clock_until(page, lambda: badge.text_content() == PAUSED, step_ms=1000, most=6)
        web_app.reads_answered(page)
        assert len(reads) == 1, reads
        # And the channel says it every 5 s for 45 s more (six projector instances, each every
        # 30 s)
        for _ in range(9):
            web_app.publish_live(stack, channel, told)  # type: ignore[arg-type]
            page.clock.run_for(5000)
            web_app.reads_answered(page)
        # (an organiser's retitle, after them on the channel: every message above was handled)
        title = "Told again and again (retitled)"
        put = stack.runtime.request(
            "PUT",
            f"/talks/{talk}",
            json.dumps({"title": title, "track": "Outage", "room": "Hall D"}),
            {"authorization": f"Bearer {stack.token}"},
        )
        assert put.status == 200, put.body
        expect(page.get_by_role("heading", level=1)).to_have_text(title)
        web_app.reads_answered(page)
    # Then the page read on its own schedule only (5, 10, 20 s after the first: three more),
    # not at each message
    assert len(reads) <= 4, reads
    expect(page.get_by_test_id("counts-notice")).to_have_text(STORED)


@pytest.mark.browser
def test_a_talk_s_live_message_clears_the_pause_at_once(stack: Stack, page: Page) -> None:
    talk = rated_talk(stack, "Moving again")
    channel = channel_of(stack, talk)
    # Given the talk's page and its room screen, which found the counts unreadable
    page.goto(stack.runtime.url + web_app.TALK_PAGE.format(id=talk))
    badge = page.locator(".live-badge")
    expect(badge).to_have_text("Live")
    screen = page.context.new_page()
    screen.set_viewport_size(web_app.ROOM)
    screen.goto(stack.runtime.url + web_app.SCREEN.format(id=talk))
    expect(screen.locator(".live-badge")).to_have_text("Live")
    with redis_server_stopped(stack.ratings):
        web_app.publish_live(stack, channel, {"type": "unavailable", "talkId": talk})  # type: ignore[arg-type]
        expect(page.get_by_test_id("counts-notice")).to_have_text(STORED, timeout=SAID_WITHIN_MS)
        expect(badge).to_have_text(PAUSED)
        expect(screen.get_by_test_id("counts-notice")).to_have_text(STORED)
        expect(screen.locator(".live-badge")).to_have_text(PAUSED)
        # When the talk's new state comes on its channel (the projector read it back from the
        # counts: they can be read again)
        ratings = {"1": 0, "2": 0, "3": 0, "4": 2, "5": 2}
        web_app.publish_live(  # type: ignore[arg-type]
            stack,
            channel,
            {"type": "talk", "talkId": talk, "ratings": ratings, "count": 4, "avg": 4.5},
        )
        # Then both show it, and say so at once: not "Paused" until their next read (5 s
        # from now at the earliest, up to a minute). Redis is still stopped, so a read would
        # say the counts stored again: the message alone can clear the notice and the badge,
        # and the timeout only bounds a hang (3 s was the page's render of a message, not a
        # loaded machine's)
        expect(page.get_by_test_id("total")).to_have_text("4 ratings", timeout=30_000)
        expect(page.get_by_test_id("counts-notice")).to_have_text("", timeout=30_000)
        expect(badge).to_have_text("Live", timeout=30_000)
        expect(screen.get_by_test_id("total")).to_have_text("4 ratings", timeout=30_000)
        expect(screen.get_by_test_id("counts-notice")).to_have_text("", timeout=30_000)
        expect(screen.locator(".live-badge")).to_have_text("Live", timeout=30_000)


@pytest.mark.browser
def test_the_programme_reads_at_once_when_counts_move_while_it_says_they_cannot_be_read(
    stack: Stack, page: Page
) -> None:
    talk = rated_talk(stack, "Listed as Redis came back")
    # Given the programme, live, with its clock in the test's hands
    page.clock.install()
    page.goto(stack.runtime.url + "/app/")
    badge = page.locator(".live-badge")
    card = page.locator(".talk-card").filter(has_text="Listed as Redis came back")
    expect(card.get_by_text("3 ratings")).to_be_visible()
    expect(badge).to_have_text("Live")
    with redis_server_stopped(stack.ratings):
        # When Redis is down and the channel says so, the programme says so
        web_app.publish_live(stack, LEADERBOARD_CHANNEL, {"type": "unavailable"})  # type: ignore[arg-type]
        web_app.clock_until(page, lambda: badge.text_content() == PAUSED, step_ms=1000, most=6)
        expect(page.get_by_test_id("counts-notice")).to_have_text(LISTED)
        # ...and reads again 5, 10 and 20 s later, which say so too: the next in 40 s
        for wait in (5000, 10_000, 20_000):
            web_app.reads_answered(page)
            page.clock.run_for(wait)
        web_app.reads_answered(page)
        expect(badge).to_have_text(PAUSED)
    # When Redis answers again and the talk is rated (its batch rebuilds the counts, and the
    # leaderboard's message carries them)
    rate(stack, talk, 5)
    # Then the programme shows it, and says the counts live again at once, not in 40 s
    # (within the 5 s each page draws its read in: the clock moved a second at a time)
    expect(card.get_by_text("4 ratings")).to_be_visible(timeout=15_000)
    notice = page.get_by_test_id("counts-notice")
    web_app.clock_until(page, lambda: notice.text_content() == "", step_ms=1000, most=7)
    expect(badge).to_have_text("Live")


# The page's reads of the programme (GET /talks), each when it was asked (Date.now()).
READS_COUNTED = """(() => {
  const fetched = window.fetch;
  window.__talkReads = [];
  window.fetch = (url, ...rest) => {
    if (String(url).includes("/talks?")) window.__talkReads.push(Date.now());
    return fetched(url, ...rest);
  };
})()"""


@pytest.mark.browser
def test_programmes_that_say_the_counts_cannot_be_read_do_not_read_at_every_message(
    stack: Stack, page: Page
) -> None:
    talk = rated_talk(stack, "Counted on one shard")
    # Given three programmes open, live
    page.context.add_init_script(READS_COUNTED)
    page.clock.install()  # (the context's: every page of it)
    pages = [page, page.context.new_page(), page.context.new_page()]
    for each in pages:
        each.goto(stack.runtime.url + "/app/")
        expect(each.locator(".live-badge")).to_have_text("Live")
    with redis_server_stopped(stack.ratings):
        # When Redis is down to the API, the channel says so and every programme says so
        web_app.publish_live(stack, LEADERBOARD_CHANNEL, {"type": "unavailable"})  # type: ignore[arg-type]
        for each in pages:
            expect(each.locator(".live-badge")).to_have_text(PAUSED, timeout=SAID_WITHIN_MS)
        before = [each.evaluate("window.__talkReads.length") for each in pages]
        # And counts move on the leaderboard's channel all the same, a message every 0.3 s
        # (a projector that reaches the shards of these talks, where the API's reads do not)
        for n in range(10):
            summaries = {talk: {"count": 4 + n, "avg": 4.0, "ratingsRevision": 4 + n}}
            web_app.publish_live(
                stack,
                LEADERBOARD_CHANNEL,
                {"type": "leaderboard", "summaries": summaries},  # type: ignore[arg-type]
            )
            page.wait_for_timeout(300)
        # (the 5 s in which each page draws its one read, and more: their clock moved a second
        # at a time, each step given real time for the reads it started)
        web_app.run_clock(page, steps=6, step_ms=1000, settle_ms=150)
        reads = [
            each.evaluate("window.__talkReads.length") - n
            for each, n in zip(pages, before, strict=True)
        ]
    # Then each read the programme once for them (at most twice more on its own schedule of
    # 5, 10, 20 s), not at every message: each read it 10 times or more, the three at once
    assert all(count <= 3 for count in reads), reads


def test_talkrate_watch_reads_on_its_own_schedule_while_the_counts_cannot_be_read(
    stack: Stack, tmp_path: Path
) -> None:
    talk = rated_talk(stack, "Watched through an outage")
    channel = channel_of(stack, talk)
    log = stack.runtime.log
    assert log is not None

    def reads() -> int:
        return log.read_text(errors="replace").count(f"GET /ratings?talkId={talk} ")

    # Given `talkrate watch TALK` live on the talk's channel, in a terminal
    with (
        watched_in_a_terminal(stack, talk, tmp_path) as primary,
        redis_server_stopped(stack.ratings),
    ):
        # When Redis is down and the channel says so, the watch reads and says so
        told = {"type": "unavailable", "talkId": talk}
        web_app.publish_live(stack, channel, told)  # type: ignore[arg-type]
        said = read_until(primary, r"paused · ", SAID_WITHIN_MS / 1000)
        assert "paused · " in said, said
        before = reads()
        # And the channel says it again every second for 22 s (six projector instances, each
        # every 30 s, say it every 5 s: here more often, for less time than the 40 s this
        # waited): the time passing is what is looked at, the terminal read meanwhile
        for _ in range(22):
            web_app.publish_live(stack, channel, told)  # type: ignore[arg-type]
            read_until(primary, r"(?!)", 1)
        # Then it read again on its own schedule only (5 and 15 s after the first: two reads,
        # the next 35 s after it), not every 5 s (four at least) nor at each message (22)
        assert reads() - before <= 3, reads() - before


@pytest.mark.browser
def test_a_programme_whose_read_for_moving_counts_found_them_unreadable_reads_again_soon(
    stack: Stack, page: Page
) -> None:
    talk = rated_talk(stack, "Back a moment later")
    # Given the programme, live, with its clock in the test's hands, saying the counts cannot
    # be read for long enough that its own reads come a minute apart
    page.clock.install()
    page.goto(stack.runtime.url + "/app/")
    badge = page.locator(".live-badge")
    notice = page.get_by_test_id("counts-notice")
    expect(badge).to_have_text("Live")
    revision = [10]

    def counts_move() -> None:
        revision[0] += 1
        summaries = {talk: {"count": revision[0], "avg": 4.0, "ratingsRevision": revision[0]}}
        message = {"type": "leaderboard", "summaries": summaries}
        web_app.publish_live(stack, LEADERBOARD_CHANNEL, message)  # type: ignore[arg-type]

    with redis_server_stopped(stack.ratings):
        web_app.publish_live(stack, LEADERBOARD_CHANNEL, {"type": "unavailable"})  # type: ignore[arg-type]
        web_app.clock_until(page, lambda: badge.text_content() == PAUSED, step_ms=1000, most=6)
        for wait in (5000, 10_000, 20_000, 40_000):
            web_app.reads_answered(page)
            page.clock.run_for(wait)
        web_app.reads_answered(page)
        # When counts move on the leaderboard's channel while the API still cannot read them
        # (its read for them, within 5 s, says so too)
        counts_move()
        for _ in range(6):
            page.clock.run_for(1000)
            web_app.reads_answered(page)
        expect(notice).to_have_text(LISTED)
    # And the counts come back a moment later (a rating's batch builds them again), moving
    # every second
    rate(stack, talk, 5)
    assert wait_for(lambda: counted(stack, talk) == (4, "read-model"))
    # Then the programme reads them within seconds and says the counts live again (it waited
    # 30 s after its last such read, 35 s in all, under "Paused")
    web_app.clock_until(
        page,
        lambda: (counts_move(), notice.text_content() == "")[1],
        step_ms=1000,
        most=12,
    )
    expect(badge).to_have_text("Live")
