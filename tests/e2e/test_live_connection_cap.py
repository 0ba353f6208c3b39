"""Connections to the live channel end as AppSync ends them: at their maximum duration (a day on
AWS, 3 s here), and refused in the protocol (`connection_error`) when their key is not taken. A
room screen, a talk page and `talkrate watch` left open for days connect again, read what they
missed over HTTP, and show every rating; a refused one polls instead of offering its key again
and again."""

from __future__ import annotations

import json
import re
import secrets
import signal
import time
from collections.abc import Callable, Iterator
from itertools import cycle
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Route, expect

from tests.e2e import test_web_app as web_app
from tests.e2e.conftest import start_runtime, stop_runtime, wait_for
from tests.e2e.test_cli import Cli, watch_in_a_terminal
from tests.e2e.test_web_app import PHONE, ROOM, SCREEN, TALK_PAGE, WebStack
from tests.terminal import read_until

# test_web_app's fixtures, found by pytest under their names: a browser, a phone, a page.
browser, phone, page = web_app.browser, web_app.phone, web_app.page

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

CAP_SECONDS = 3  # the emulated channel's maximum connection duration (AppSync's: a day)
# What a page's badge may say while its connection ends and it connects again: nothing that
# tells an attendee something is wrong
ROUTINE = {"Connecting…", "Live", "Reconnecting…"}
# What the pages showed, as they showed it: the live badge's words and the total, each with
# when (ms), and every alert's words (a MutationObserver: nothing a test polls for is missed)
SEEN = """(() => {
  const seen = (window.__seen = { badges: [], totals: [], alerts: [] });
  const note = (list, text) => {
    if (text && (list.length === 0 || list[list.length - 1][0] !== text)) list.push([text, performance.now()]);
  };
  const look = () => {
    for (const node of document.querySelectorAll(".live-badge")) note(seen.badges, node.textContent);
    for (const node of document.querySelectorAll('[data-testid="total"]')) note(seen.totals, node.textContent);
    for (const node of document.querySelectorAll('[role="alert"]')) {
      if (node.textContent.trim()) seen.alerts.push(node.textContent.trim());
    }
  };
  new MutationObserver(look).observe(document, { subtree: true, childList: true, characterData: true });
})();"""


@pytest.fixture(scope="module")
def capped(
    backends_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WebStack]:
    """The local runtime (open voting, each rating projected as it comes) whose live channel
    ends every connection CAP_SECONDS after it opened."""
    token = secrets.token_urlsafe(24)
    environment = {
        **backends_env,
        "ADMIN_TOKEN": token,
        "SAM_EMULATOR_EVENTS_MAX_CONNECTION_SECONDS": str(CAP_SECONDS),
    }
    runtime = start_runtime(
        environment,
        tmp_path_factory.mktemp("capped") / "runtime.log",
        ["--param", "ProjectorBatchWindowSeconds=0"],
    )
    stack = WebStack(runtime, token)
    yield stack
    for talk_id in stack.created:  # (the e2e suite's catalog: other modules list it)
        stack.as_organiser("DELETE", f"/talks/{talk_id}")
    stop_runtime(runtime)


def rate(web: WebStack, talk_id: str, value: int) -> None:
    """A rating from an attendee's phone (open voting: no voter pass)."""
    body = json.dumps({"talkId": talk_id, "value": value})
    answer = web.runtime.request("POST", "/ratings", body)
    assert answer.status == 202, answer.body


def relayed(page: Page, on_reconnect: Callable[[], None]) -> list[Any]:
    """The page's connections to the live channel, each passed on to it as it is; before each
    one after the first (the page connecting again), `on_reconnect()` runs."""
    connected: list[Any] = []

    def through(ws: Any) -> None:
        if connected:
            on_reconnect()
        ws.connect_to_server()
        connected.append(ws)

    page.route_web_socket("**/event/realtime", through)
    return connected


def shown_total(page: Page) -> int:
    """The number of ratings the page shows (-1 before its first figures)."""
    words = page.get_by_test_id("total").text_content() or ""
    return int(words.split()[0]) if words.split()[0].isdigit() else -1


def shown_histogram(page: Page) -> dict[str, int]:
    """The page's bars, value by value, as it shows their counts."""
    counts = page.locator(".histogram li .count").all_text_contents()
    return {str(value): int(count) for value, count in zip(range(5, 0, -1), counts, strict=True)}


def counted(web: WebStack, talk_id: str) -> dict[str, int]:
    histogram: dict[str, int] = web.runtime.request("GET", f"/ratings?talkId={talk_id}").json[
        "ratings"
    ]
    return histogram


def test_a_room_screen_and_a_talk_page_reconnect_at_the_cap_and_show_every_rating(
    capped: WebStack, browser: Browser
) -> None:
    # Given a talk's room screen and its page on a phone, each live on the talk's channel
    talk_id = capped.add_talk(title="Open for the whole conference")["id"]
    values = cycle([5, 4, 3, 5, 2, 1, 4])
    away: list[int] = []
    made: list[int] = []  # every rating of the test, away or not
    rating = [True]

    def rated_while_away() -> None:
        # A rating counted while a page is away from the channel: its message is published
        # before the page subscribes again, so only the page's read after it can show it
        if not rating[0]:
            return
        value = next(values)
        rate(capped, talk_id, value)
        away.append(value)
        made.append(value)
        assert wait_for(lambda: sum(counted(capped, talk_id).values()) >= len(made), 10)

    contexts = [browser.new_context(viewport=ROOM), browser.new_context(viewport=PHONE)]
    pages = [context.new_page() for context in contexts]
    errors: list[str] = []
    connections = []
    for opened, path in zip(pages, (SCREEN, TALK_PAGE), strict=True):
        opened.add_init_script(SEEN)
        opened.on("pageerror", lambda error: errors.append(str(error)))
        connections.append(relayed(opened, rated_while_away))
        opened.goto(capped.url(path.format(id=talk_id)))
    try:
        for opened in pages:
            expect(opened.locator(".live-badge")).to_have_attribute("data-state", "live")
        # When ratings come, one every few tenths of a second, while the channel ends each
        # page's connection twice (each page connecting again, a rating counted meanwhile)
        deadline = time.monotonic() + 6 * CAP_SECONDS
        while min(len(c) for c in connections) < 3:
            assert time.monotonic() < deadline, [len(c) for c in connections]
            made.append(value := next(values))
            rate(capped, talk_id, value)
            # Then both show every rating counted so far, within seconds (not at a poll)
            assert wait_for(
                lambda: all(
                    shown_total(p) == sum(counted(capped, talk_id).values()) for p in pages
                ),
                3.5,
                page=pages[0],
            ), [shown_total(p) for p in pages]
            pages[0].wait_for_timeout(250)
        # And at the end each shows the talk's ratings exactly, value by value
        rating[0] = False
        # (once every rating made is counted: the last one may be on its way still)
        assert wait_for(lambda: sum(counted(capped, talk_id).values()) == len(made), 10)
        final = counted(capped, talk_id)
        assert len(away) >= 4
        assert sum(final.values()) > len(away)
        for opened in pages:
            assert wait_for(lambda p=opened: shown_histogram(p) == final, 3.5, page=opened), (
                opened.locator(".histogram li .count").all_text_contents(),
                final,
            )
            expect(opened.locator(".live-badge")).to_have_attribute("data-state", "live")
        # And neither told the attendee anything alarming: no alert, a badge that said only
        # Live, or Reconnecting for a moment, and a count that never went back
        for opened in pages:
            seen = opened.evaluate("window.__seen")
            assert seen["alerts"] == []
            words = [text for text, _ in seen["badges"]]
            assert set(words) <= ROUTINE, words
            ends = [*seen["badges"][1:], [None, seen["badges"][-1][1]]]
            spans = zip(seen["badges"], ends, strict=True)
            moments = [after - since for (text, since), (_, after) in spans if text != "Live"]
            assert max(moments[1:], default=0) < 2500, seen["badges"]  # (the first: loading)
            totals = [int(text.split()[0]) for text, _ in seen["totals"] if text[0].isdigit()]
            assert totals == sorted(totals), totals
        assert errors == []
    finally:
        for context in contexts:
            context.close()


def test_a_page_whose_key_the_channel_refuses_polls_instead_of_offering_it_again_and_again(
    capped: WebStack, page: Page
) -> None:
    # Given a talk page whose configuration names a key the channel does not take (as a page
    # would whose deployment's key was renewed, while its configuration is still cached)
    def refused_key(route: Route) -> None:
        config = route.fetch().json()
        config["live"]["apiKey"] = "da2-akeythechannelrefuses"
        route.fulfill(json=config)

    page.route("**/app/config.json", refused_key)
    offered: list[Any] = []
    page.on("websocket", lambda ws: offered.append(ws))
    talk_id = capped.add_talk(title="Refused")["id"]
    started = time.monotonic()
    page.goto(capped.url(TALK_PAGE.format(id=talk_id)))
    # When the channel refuses it (connection_error), and the configuration read again still
    # names that key
    # Then the page keeps itself fresh every few seconds, and says so
    badge = page.locator(".live-badge")
    expect(badge).to_have_attribute("data-state", "polling", timeout=5000)
    expect(badge).to_have_text("Updating every few seconds")
    rate(capped, talk_id, 4)
    expect(page.get_by_test_id("total")).to_have_text("1 rating", timeout=7000)
    # And in all that time it offered the channel its key once: not again every few seconds
    page.wait_for_timeout(max(0, 5500 - 1000 * (time.monotonic() - started)))
    assert len(offered) == 1, len(offered)


def test_talkrate_watch_reconnects_at_the_cap_and_shows_what_was_rated_meanwhile(
    capped: WebStack, tmp_path: Path
) -> None:
    # Given `talkrate watch` of a talk in a terminal, live, polling only once a minute
    talk_id = capped.add_talk(title="Watched from a terminal")["id"]
    cli = Cli.of(capped.runtime, tmp_path / "config")
    with watch_in_a_terminal(cli, talk_id, "--duration", "60", interval="60", ctrl_c=True) as (
        process,
        primary,
    ):
        shown = read_until(primary, r"live · ", 20)
        assert "live · 0 updates" in shown, shown
        for sent, value in enumerate((5, 3), start=1):
            # When the channel ends its connection (its maximum duration) and a rating is
            # counted before it is live again
            shown = read_until(primary, r"reconnecting", 2 * CAP_SECONDS + 5)
            assert "reconnecting (the live channel ended the connection)" in shown, shown
            rate(capped, talk_id, value)
            # Then it shows the rating once live again, within seconds (its poll is a minute
            # away), with nothing alarming said
            shown = read_until(primary, rf"count {sent}\b(?s:.*)live · ", 10)
            assert re.search(rf"count {sent}\b", shown), shown
            assert "polling" not in shown, shown
        # And its view is the talk's ratings exactly
        final = counted(capped, talk_id)
        assert final == {"1": 0, "2": 0, "3": 1, "4": 0, "5": 1}
        last = shown.rsplit("count ", 1)[0]
        for value in ("5", "3"):
            assert re.search(rf"{value}★\s+█+\s+1\s+50%", last), last
        process.send_signal(signal.SIGINT)
        assert process.wait(10) == 0
