"""Redis losing the read model while the service runs (a FLUSHALL, a Redis restarted without
persistence), through the local runtime: what attendees, speakers and organisers see is counted
from the event store or said to be rebuilt, never zeros, and the API has the read model rebuilt
within seconds, not at RelayFunction's next run a minute later.

The runtime has a Redis server of its own (the tests empty it) and a catalog of its own."""

from __future__ import annotations

import csv
import io
import json
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
from playwright.sync_api import Page, expect

from talkrate.adapters.redis_store import REBUILD_LOCK_KEY
from tests.backends import READ_MODEL_LOST_TALKS, read_model_lost_ratings
from tests.builders import ROOT, unique_talk_id
from tests.e2e import test_web_app as web_app
from tests.e2e.conftest import Runtime, start_admin_runtime, stop_runtime, wait_for
from tests.e2e.test_cli import Cli
from tests.workers import redis_server_stopped

# test_web_app's fixtures, found by pytest under their names: a browser, a phone, a page.
browser, phone, page = web_app.browser, web_app.phone, web_app.page

pytestmark = pytest.mark.e2e

# RelayFunction's schedule runs it a minute after the runtime's start, then every minute: a
# read model back sooner than that was rebuilt at the API's request.
RELAY_FIRST_RUN_SECONDS = 60.0


@dataclass
class Stack:
    runtime: Runtime
    token: str
    redis: redis.Redis
    ratings: str  # its URL
    started: float  # time.monotonic() at the runtime's start
    talk: str  # rated 5, 4 and 4


@pytest.fixture(scope="module")
def stack(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    ratings = read_model_lost_ratings()
    started = time.monotonic()
    runtime, token = start_admin_runtime(
        READ_MODEL_LOST_TALKS,
        ratings,
        kafka_bootstrap,
        tmp_path_factory.mktemp("lost") / "runtime.log",
        ["--param", "ProjectorBatchWindowSeconds=0"],
    )
    client = redis.Redis.from_url(ratings, decode_responses=True)
    talk = unique_talk_id("lost")
    body = {"title": "Counted before Redis lost it", "track": "Recovery", "room": "Hall R"}
    put = runtime.request(
        "PUT", f"/talks/{talk}", json.dumps(body), {"authorization": f"Bearer {token}"}
    )
    assert put.status == 201, put.body
    for value in (5, 4, 4):
        sent = runtime.request("POST", "/ratings", json.dumps({"talkId": talk, "value": value}))
        assert sent.status == 202, sent.body
    assert wait_for(lambda: total(runtime, talk) == 3)
    yield Stack(runtime, token, client, ratings, started, talk)
    client.close()
    stop_runtime(runtime)


def total(runtime: Runtime, talk: str) -> int:
    return sum(runtime.request("GET", f"/ratings?talkId={talk}").json["ratings"].values())


def ratings_said(stack: Stack) -> str:
    """What GET / says of the read model's Redis."""
    return str(stack.runtime.request("GET", "/").json["backends"]["ratings"])


def lose_the_read_model(stack: Stack, held: bool = False) -> None:
    """Redis loses its data; `held`: another rebuild holds the lock meanwhile (the read model
    stays lost until the test lets it go)."""
    stack.redis.flushdb()
    if held:
        stack.redis.set(REBUILD_LOCK_KEY, "another rebuild", ex=60)
    assert ratings_said(stack) == "empty"


def invoke_relay_rebuild(stack: Stack) -> dict[str, Any]:
    """RelayFunction invoked with the API's rebuild event, through the runtime's Lambda API
    (its answer: "rebuilt", or "built" when a read's request rebuilt it first)."""
    event = (ROOT / "events" / "relay" / "rebuild.json").read_bytes()
    request = urllib.request.Request(
        f"{stack.runtime.lambda_url}/2015-03-31/functions/RelayFunction/invocations",
        data=event,
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        result: dict[str, Any] = json.loads(answer.read())
    return result


def test_a_read_finds_the_read_model_lost_answers_from_the_event_store_and_has_it_rebuilt(
    stack: Stack,
) -> None:
    # Given the read model lost from Redis
    lose_the_read_model(stack)
    # When an attendee reads the talk's ratings
    answer = stack.runtime.request("GET", f"/ratings?talkId={stack.talk}").json
    # Then they come from the event store, the talk's three ratings
    assert (answer["source"], answer["ratings"]["4"], answer["ratings"]["5"]) == (
        "event-store",
        2,
        1,
    )
    # And the read model is rebuilt within seconds, long before RelayFunction's scheduled run
    assert wait_for(lambda: ratings_said(stack) == "up", seconds=10)
    assert time.monotonic() - stack.started < RELAY_FIRST_RUN_SECONDS
    again = stack.runtime.request("GET", f"/ratings?talkId={stack.talk}").json
    assert (again["source"], sum(again["ratings"].values())) == ("read-model", 3)
    board = stack.runtime.request("GET", "/leaderboard").json
    assert [row["talkId"] for row in board["talks"]] == [stack.talk]


def test_the_command_line_says_the_results_are_being_rebuilt_and_writes_no_file(
    stack: Stack, tmp_path: Path
) -> None:
    cli = Cli.of(stack.runtime, tmp_path / "config", stack.token)
    # Given the read model lost, its rebuild held off by another's lock
    lose_the_read_model(stack, held=True)
    try:
        # When an organiser exports the results and an attendee asks for the leaderboard
        results = tmp_path / "results.csv"
        exported = cli.run("admin", "export", str(results))
        top = cli.run("top")
        listed = cli.run("talks")
        watched = cli.run("watch", "--leaderboard", "--poll", "--duration", "1")
    finally:
        stack.redis.delete(REBUILD_LOCK_KEY)
    # Then no file of zeros is written, nor an empty board shown: each says why, and fails
    assert exported.returncode == 1, exported
    assert exported.stdout == ""
    assert "they are being rebuilt from the stored ratings" in exported.stderr
    assert not results.exists()
    assert top.returncode == 1, top
    assert "the leaderboard cannot be read now: it is being rebuilt" in top.stderr
    assert "no rated talks yet" not in top.stdout
    # (the programme is listed, and the watched board, not shown empty, each say why in a line)
    assert listed.returncode == 0, listed
    assert stack.talk in listed.stdout
    assert "no counts or averages now: they are being rebuilt" in listed.stdout
    assert watched.returncode == 0, watched
    assert "the leaderboard cannot be read now: it is being rebuilt" in watched.stdout
    # And once rebuilt, the results are written, the talk with its three ratings
    assert invoke_relay_rebuild(stack)["readModel"] in ("rebuilt", "built")
    cli.ok("admin", "export", str(results))
    rows = csv.DictReader(io.StringIO(results.read_text("utf-8-sig")))
    [row] = [r for r in rows if r["id"] == stack.talk]
    assert (row["count"], row["4"], row["5"]) == ("3", "2", "1")


@pytest.mark.browser
def test_the_room_screen_shows_the_stored_ratings_and_the_leaderboard_says_it_is_recounted(
    stack: Stack, page: Page
) -> None:
    # Given the read model lost, its rebuild held off by another's lock
    lose_the_read_model(stack, held=True)
    try:
        # When the talk's room screen is opened
        page.set_viewport_size(web_app.ROOM)
        page.goto(stack.runtime.url + web_app.SCREEN.format(id=stack.talk))
        # Then it shows the talk's three ratings, counted from the event store, not 0 ratings
        expect(page.get_by_test_id("total")).to_have_text("3 ratings")
        expect(page.get_by_test_id("average")).to_have_text("4.33")
        # And its badge says the counts are being recounted, not "Live" over figures no rating
        # moves until the recount is done
        badge = page.locator(".live-badge")
        expect(badge).to_have_attribute("data-state", "recounting")
        expect(badge).to_have_text("Recounting: the counts are back in a few seconds")
        # And the leaderboard says it is being recounted, not that nobody has rated yet
        page.set_viewport_size(web_app.PHONE)
        page.goto(stack.runtime.url + "/app/leaderboard")
        expect(page.get_by_role("status").filter(has_text="being recounted")).to_be_visible()
        expect(page.get_by_text("has been rated yet")).to_have_count(0)
        expect(badge).to_have_attribute("data-state", "recounting")
    finally:
        stack.redis.delete(REBUILD_LOCK_KEY)
    # And once rebuilt (here, or by the page's next read asking for it), the board comes by
    # itself, live again: the page reads it again while it is recounted
    assert invoke_relay_rebuild(stack)["readModel"] in ("rebuilt", "built")
    expect(page.get_by_role("link", name="Counted before Redis lost it")).to_be_visible(
        timeout=10_000
    )
    expect(badge).to_have_attribute("data-state", "live")


@pytest.mark.browser
def test_the_programme_says_once_that_the_ratings_are_recounted_and_shows_them_once_back(
    stack: Stack, page: Page
) -> None:
    # Given the read model lost, its rebuild held off by another's lock
    lose_the_read_model(stack, held=True)
    try:
        # When the programme is opened
        page.goto(stack.runtime.url + "/app/")
        expect(page.get_by_role("link", name="Counted before Redis lost it")).to_be_visible()
        # Then it says once, above the list, that the counts are being recounted and come back,
        # in the leaderboard's words, not on each talk that its ratings are not available
        notice = page.get_by_role("status").filter(has_text="being recounted")
        expect(notice).to_have_count(1)
        expect(notice).to_have_text(
            "The counts and averages are being recounted from the stored ratings; "
            "they are back in a few seconds."
        )
        expect(page.get_by_text("not available")).to_have_count(0)
    finally:
        stack.redis.delete(REBUILD_LOCK_KEY)
    # And once rebuilt (here, or by the page's next read asking for it), the talk's three ratings
    # come by themselves and the notice goes: the page reads again while they are recounted
    assert invoke_relay_rebuild(stack)["readModel"] in ("rebuilt", "built")
    card = page.locator(".talk-card").filter(has_text="Counted before Redis lost it")
    expect(card.get_by_text("3 ratings")).to_be_visible(timeout=10_000)
    expect(page.get_by_text("being recounted")).to_have_count(0)


@pytest.mark.browser
def test_the_programme_says_once_that_the_counts_cannot_be_read_while_redis_is_down(
    stack: Stack, page: Page
) -> None:
    # Given the read model's Redis down
    with redis_server_stopped(stack.ratings):
        assert ratings_said(stack) == "down"
        # When the programme is opened
        page.goto(stack.runtime.url + "/app/")
        expect(page.get_by_role("link", name="Counted before Redis lost it")).to_be_visible()
        # Then it says once, above the list, that the counts cannot be read just now, not on
        # each talk that its ratings are not available
        notice = page.get_by_test_id("counts-notice")
        expect(notice).to_have_text(
            "The counts and averages cannot be read just now (every rating sent is kept); "
            "trying again shortly."
        )
        expect(page.get_by_text("not available")).to_have_count(0)
        # And the leaderboard says it in the same words, not that the service is busy
        page.goto(stack.runtime.url + "/app/leaderboard")
        expect(page.get_by_role("status").filter(has_text="cannot be read just now")).to_have_text(
            "The leaderboard could not be read. The counts and averages cannot be read just now "
            "(every rating sent is kept); trying again shortly."
        )
        page.goto(stack.runtime.url + "/app/")
    # And once Redis answers again (empty: the read model is rebuilt), the talk's three ratings
    # come by themselves and the notice goes: the page reads again while they cannot be read
    card = page.locator(".talk-card").filter(has_text="Counted before Redis lost it")
    expect(card.get_by_text("3 ratings")).to_be_visible(timeout=30_000)
    expect(notice).to_have_text("")


@pytest.mark.browser
def test_the_talk_page_and_room_screen_say_their_counts_are_the_stored_ones_while_redis_is_down(
    stack: Stack, page: Page
) -> None:
    stored = (
        "Counted from the stored ratings: the live counts cannot be read just now (every rating "
        "sent is kept); trying again shortly."
    )
    # Given the read model's Redis down
    with redis_server_stopped(stack.ratings):
        # When the talk's page is opened
        page.goto(stack.runtime.url + web_app.TALK_PAGE.format(id=stack.talk))
        # Then it shows the talk's three ratings, counted from the event store, and says so
        expect(page.get_by_test_id("total")).to_have_text("3 ratings")
        expect(page.get_by_test_id("counts-notice")).to_have_text(stored)
        # And so does the room screen, in the same words
        page.set_viewport_size(web_app.ROOM)
        page.goto(stack.runtime.url + web_app.SCREEN.format(id=stack.talk))
        expect(page.get_by_test_id("total")).to_have_text("3 ratings")
        expect(page.get_by_test_id("counts-notice")).to_have_text(stored)
    # And once Redis answers again, the screen reads again by itself and the words go (while
    # the emptied read model is recounted, they say so; then nothing)
    expect(page.get_by_test_id("counts-notice")).to_have_text("", timeout=30_000)
    expect(page.get_by_test_id("total")).to_have_text("3 ratings")
