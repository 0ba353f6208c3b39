"""The web app for the people who hold it on a bad network or with assistive settings, in a real
Chromium: a request the network leaves hanging, a phone that goes offline, the system's forced
colours.

The fixtures and helpers are test_web_app's (its runtime asks for voter tokens and an event code),
the runtime test_web_talk_page's (the same, projecting each rating as it comes).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest
from playwright.sync_api import APIResponse, Browser, Page, Route, expect

from talkrate.adapters.postgres import PostgresDatabase, PostgresTalkCatalog
from talkrate.values import Talk
from tests.backends import WEB_RATINGS, WEB_TALKS
from tests.builders import unique_talk_id
from tests.e2e import test_web_app as web_app
from tests.e2e import test_web_talk_page as talk_page
from tests.e2e.conftest import REACTION_MS, Runtime, wait_for
from tests.e2e.test_web_admin import sign_in
from tests.e2e.test_web_app import (
    ANNOUNCEMENTS_WATCH,
    SCREEN,
    TALK_PAGE,
    WebStack,
    announced,
    clock_until,
    enter_event_code,
    live_connections,
    publish_live,
    reads_answered,
    requests_made_so_far_heard,
    run_clock,
    star,
    total,
)
from tests.e2e.test_web_talk_page import (
    UNREACHABLE,
    only,
    past_the_page_s_retries,
    rated_three,
    ratings_of,
    ratings_sent,
    talks_at_the_window_s_edges,
    within_seconds_of,
)

# The fixtures, found by pytest under their names: test_web_app's browser, phone and page, and
# test_web_talk_page's runtime.
browser, phone, page, web = web_app.browser, web_app.phone, web_app.page, talk_page.web

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


def wait_until_held(page: Page, held: list[Any]) -> None:
    """Route handlers run while the page is waited on, not in a sleep."""
    for _ in range(100):
        if held:
            return
        page.wait_for_timeout(100)
    assert held


def test_a_room_screen_whose_read_hangs_keeps_reading_and_shows_new_ratings(
    web: WebStack, page: Page
) -> None:
    # Given a room screen on a network that lets no live channel through (a venue's proxy
    # refusing WebSockets), so that it reads the talk's ratings every five seconds, on a clock
    # the test moves
    talk = web.add_talk(title="Read on a hanging network")
    page.clock.install()
    live_connections(page, refusing=[True])
    reads: list[str] = []
    held: list[Route] = []

    def hang_the_second_read(route: Route) -> None:
        reads.append(route.request.url)
        if len(reads) == 2:
            held.append(route)  # the network never answers this one
        else:
            route.continue_()

    page.route(f"**/ratings?talkId={talk['id']}", hang_the_second_read)
    page.goto(web.url(SCREEN.format(id=talk["id"])))
    expect(total(page)).to_have_text("0 ratings")
    # When one of its reads never gets an answer, and a rating is counted meanwhile
    run_clock(page, 2, 5_500, 300)
    wait_until_held(page, held)
    web.rate(talk["id"], 5)
    assert wait_for(lambda: web.count(talk["id"]) == 1)
    # Then the screen gives that read up and reads again: the room sees the rating
    clock_until(page, lambda: total(page).text_content() == "1 rating", step_ms=5_500, most=10)
    expect(total(page)).to_have_text("1 rating")
    assert len(reads) > 2


def test_a_rating_whose_request_hangs_is_sent_again_and_counted_once(
    web: WebStack, page: Page
) -> None:
    # Given an attendee on a talk's page, whose first rating request the network leaves hanging
    # (sent, never answered), on a clock the test moves
    talk = web.add_talk(title="Rated on a hanging network")
    page.clock.install()
    keys: list[str | None] = []
    held: list[Route] = []

    def hang_the_first(route: Route) -> None:
        if route.request.method != "POST":
            route.continue_()
            return
        keys.append(route.request.headers.get("idempotency-key"))
        if not held:
            held.append(route)
        else:
            route.continue_()

    page.route(lambda url: url.endswith("/ratings"), hang_the_first)
    page.goto(web.url(TALK_PAGE.format(id=talk["id"])))
    own = page.get_by_test_id("own-rating")
    expect(own).to_have_text("Choose a star to rate this talk.")
    # When they tap 4
    star(page, 4).click()
    enter_event_code(page)
    expect(own).to_have_text("Sending your rating: 4 out of 5…")
    wait_until_held(page, held)
    # Then the page does not wait on it for good: it sends the 4 again under the same key
    clock_until(page, lambda: len(keys) == 2, step_ms=5_000, most=10)
    expect(own).to_contain_text("You rated 4 out of 5")
    assert len(keys) == 2
    assert keys[0]
    assert keys[1] == keys[0]
    # And the service counts it once
    assert wait_for(lambda: web.count(talk["id"]) == 1)


@pytest.mark.parametrize("path", [TALK_PAGE, SCREEN])
def test_a_page_offline_says_so_and_shows_what_was_rated_meanwhile_once_back(
    web: WebStack, page: Page, path: str
) -> None:
    # Given a talk's page (an attendee's, or the room screen) live on its channel
    talk = web.add_talk(title="Watched from a tunnel")
    page.goto(web.url(path.format(id=talk["id"])))
    badge = page.locator(".live-badge")
    expect(badge).to_have_attribute("data-state", "live")
    # When the browser loses its network
    page.context.set_offline(True)
    # Then the page says it is offline, not "Live" over figures that cannot move
    expect(badge).to_have_text("Offline: these figures may be out of date")
    # When a rating is counted meanwhile, and the network comes back
    web.rate(talk["id"], 4)
    assert wait_for(lambda: web.count(talk["id"]) == 1)
    page.context.set_offline(False)
    # Then the page shows it, and is live again
    expect(total(page)).to_have_text("1 rating", timeout=web_app.LIVE_WITHIN_MS)
    expect(badge).to_have_text("Live")


@pytest.mark.parametrize("where", ["programme", "organisers"])
def test_a_list_page_going_offline_and_back_says_so_to_a_screen_reader(
    web: WebStack, page: Page, where: str
) -> None:
    # Given the programme, or the organisers' list, live on the channel, with a rated talk
    talk = web.add_talk(title="Listed while the Wi-Fi went")
    web.rate(talk["id"], 4)
    assert wait_for(lambda: web.count(talk["id"]) == 1)
    if where == "programme":
        page.goto(web.url("/app/"))
    else:
        sign_in(web, page)
    badge = page.locator(".live-badge")
    expect(badge).to_have_attribute("data-state", "live")
    said = page.get_by_test_id("live-said")
    # (a polite status region, which a screen reader reads when its words change)
    expect(said).to_have_attribute("role", "status")
    expect(said).to_have_text("")
    # When the browser loses its network
    page.context.set_offline(True)
    # Then that is said, as on the talk's page: its counts have stopped following the ratings
    expect(badge).to_have_attribute("data-state", "offline")
    expect(said).to_have_text("Offline: these figures may be out of date.")
    # When the network comes back, Then that is said too, once the page follows again
    page.context.set_offline(False)
    expect(badge).to_have_text("Live")
    expect(said).to_have_text("Back online.")


BACKGROUND = "(node) => getComputedStyle(node).backgroundColor"


@pytest.mark.parametrize("scheme", ["dark", "light"])
def test_in_forced_colours_the_chosen_star_and_the_bars_still_show(
    web: WebStack, browser: Browser, scheme: str
) -> None:
    # Given a rated talk, and an attendee whose system forces its own colours (Windows' high
    # contrast, dark or light)
    talk = web.add_talk(title="Read in high contrast")
    web.rate(talk["id"], 5)
    assert wait_for(lambda: web.count(talk["id"]) == 1)
    context = browser.new_context(
        viewport=web_app.PHONE, forced_colors="active", color_scheme=scheme
    )
    try:
        page = context.new_page()
        page.goto(web.url(TALK_PAGE.format(id=talk["id"])))
        expect(total(page)).to_have_text("1 rating")
        # When they rate it 4, and move on from the star
        star(page, 4).click()
        enter_event_code(page)
        expect(page.get_by_test_id("own-rating")).to_contain_text("You rated 4 out of 5")
        page.keyboard.press("Tab")
        # Then the chosen star is drawn unlike the others
        chosen = star(page, 4).evaluate(BACKGROUND)
        assert chosen != star(page, 3).evaluate(BACKGROUND)
        # And the bar of the 5 stands out from its track, as the empty 3's does not
        rows = page.locator(".histogram li")
        fives, threes = rows.nth(0), rows.nth(2)
        assert fives.locator(".fill").evaluate(BACKGROUND) != fives.locator(".track").evaluate(
            BACKGROUND
        )
        assert threes.locator(".fill").bounding_box()["width"] == 0  # type: ignore[index]
    finally:
        context.close()


# How a star is drawn: its fill, its border and its star's colour.
STAR_LOOK = """(node) => {
  const style = getComputedStyle(node);
  return [style.backgroundColor, style.borderTopStyle, style.borderTopColor, style.color];
}"""


@pytest.mark.parametrize("scheme", ["dark", "light"])
def test_in_forced_colours_a_waiting_star_is_drawn_unlike_the_chosen_one(
    web: WebStack, browser: Browser, scheme: str
) -> None:
    # Given an attendee whose system forces its own colours, who rated a talk 3
    talk = web.add_talk(title="Rated in high contrast, offline")
    context = browser.new_context(
        viewport=web_app.PHONE, forced_colors="active", color_scheme=scheme
    )
    try:
        page = context.new_page()
        own, _ = rated_three(web, page, talk)
        # When their phone loses its network and they tap 4 (kept, waiting to be sent), and
        # its pulse is over
        context.set_offline(True)
        star(page, 4).click()
        expect(own).to_have_text("Waiting to send your rating: 4 out of 5.")
        page.clock.run_for(10_000)
        page.keyboard.press("Tab")
        page.mouse.move(0, 0)
        # Then the waiting 4 is drawn unlike the chosen 3, and unlike a star not chosen
        chosen, waiting, other = (star(page, n).evaluate(STAR_LOOK) for n in (3, 4, 2))
        assert waiting != chosen, (waiting, chosen)
        assert waiting != other, (waiting, other)
        assert chosen != other, (chosen, other)
    finally:
        context.close()


def test_an_organiser_pressing_save_twice_on_a_slow_network_saves_once_and_is_told_so(
    web: WebStack, page: Page
) -> None:
    # Given an organiser editing a talk on a slow network: their save is held on its way
    talk = web.add_talk(title="Saved on a slow network")
    held: list[Route] = []

    def hold_saves(route: Route) -> None:
        if route.request.method == "PUT":
            held.append(route)
        else:
            route.continue_()

    page.route(f"**/talks/{talk['id']}", hold_saves)
    sign_in(web, page)
    page.get_by_role("button", name=f"Edit {talk['title']}").click()
    page.get_by_label("Room").fill("Hall 7")
    # When they press Save, and again while the first is on its way
    page.get_by_role("button", name="Save", exact=True).click()
    wait_until_held(page, held)
    save = page.locator(".talk-form button[type=submit]")
    expect(save).to_have_text("Saving…", timeout=REACTION_MS)
    save.click()
    requests_made_so_far_heard(page)  # (a second save, if the click sent one, is held now)
    for route in list(held):
        route.continue_()
    # Then the talk is saved once, and the page says it was saved, not that someone else did
    expect(page.get_by_test_id("admin-message")).to_have_text(
        f"Saved “{talk['title']}”.", timeout=REACTION_MS
    )
    assert len(held) == 1
    assert web.runtime.request("GET", f"/talks/{talk['id']}").json["room"] == "Hall 7"


def test_an_organiser_pressing_add_twice_on_a_slow_network_adds_the_talk_once(
    web: WebStack, page: Page
) -> None:
    # Given an organiser adding a talk on a slow network: the request is held on its way
    talk_id = unique_talk_id("web")
    held: list[Route] = []

    def hold_adds(route: Route) -> None:
        if route.request.method == "POST":
            held.append(route)
        else:
            route.continue_()

    page.route("**/talks", hold_adds)
    sign_in(web, page)
    page.get_by_role("button", name="Add a talk").click()
    page.get_by_label("Title").fill("Added on a slow network")
    page.get_by_label("Id (in the talk's address)").fill(talk_id)
    # When they press "Add the talk", and again while the first is on its way
    page.get_by_role("button", name="Add the talk").click()
    wait_until_held(page, held)
    page.locator(".talk-form button[type=submit]").click()
    requests_made_so_far_heard(page)  # (a second add, if the click sent one, is held now)
    for route in list(held):
        route.continue_()
    # Then the talk is added once, and the page says so, not that the id is taken
    web.created.append(talk_id)
    expect(page.get_by_test_id("admin-message")).to_have_text(
        "Added “Added on a slow network”.", timeout=REACTION_MS
    )
    assert len(held) == 1


RECORD_CHANGES = """() => {
  window.said = [];
  const watched = document.querySelectorAll('[data-testid=own-rating], [data-testid=message]');
  const observer = new MutationObserver(() => watched.forEach((node) => window.said.push(node.textContent)));
  watched.forEach((node) => observer.observe(node, {childList: true, characterData: true, subtree: true}));
}"""


def test_a_rating_waiting_for_the_service_is_tried_again_without_a_word_until_it_counts(
    web: WebStack, page: Page
) -> None:
    # Given an attendee who rated a talk 3, whose Wi-Fi then stops reaching the service while
    # the phone says it is online, and whose 4 now waits for the service to answer
    talk = web.add_talk(title="Waiting without a word")
    unreachable = [False]
    keys = ratings_sent(page, unreachable)
    own, message = rated_three(web, page, talk)
    unreachable[0] = True
    star(page, 4).click()
    past_the_page_s_retries(page, lambda: message.text_content() == UNREACHABLE)
    expect(message).to_have_text(UNREACHABLE)
    tries = len(keys)
    # When the page tries it again by itself, at two of its 30 s checks, in vain
    page.evaluate(RECORD_CHANGES)
    for _ in range(2):
        page.clock.run_for(31_000)
        past_the_page_s_retries(page)
    assert len(keys) > tries
    # Then what a screen reader hears of the rating (its line, the alert under it) stays as it
    # was: no alert, no line said again at each try
    assert page.evaluate("window.said") == []
    expect(message).to_have_text(UNREACHABLE)
    expect(own).to_have_text("Waiting to send your rating: 4 out of 5.")
    # When the service can be reached again, the next try counts it, and that is said
    unreachable[0] = False
    page.clock.run_for(31_000)
    expect(own).to_contain_text("You rated 4 out of 5")
    expect(message).to_have_text("")
    assert wait_for(lambda: ratings_of(web, talk["id"]) == only(4))


def test_an_attendee_whose_pass_could_not_be_fetched_still_changes_their_mind_as_one(
    runtime: Runtime, talk: str, page: Page
) -> None:
    # Given an open-voting event (ratings without an attendee pass count too), and an attendee
    # whose phone cannot reach the service when they first tap: their pass is not to be had
    reached = [False]

    def voters(route: Route) -> None:
        if reached[0]:
            route.continue_()
        else:
            route.abort("internetdisconnected")

    page.route("**/voters", voters)
    page.clock.install()
    page.goto(runtime.url + TALK_PAGE.format(id=talk))
    own = page.get_by_test_id("own-rating")
    expect(own).to_have_text("Choose a star to rate this talk.")
    # When they tap 4, and the page says the 4 waits (its pass could not be fetched)
    star(page, 4).click()
    expect(own).to_have_text("Waiting to send your rating: 4 out of 5.")
    # And the network comes back, and the page's next check (every 30 s) sends the 4
    reached[0] = True
    page.clock.run_for(31_000)
    expect(own).to_contain_text("You rated 4 out of 5")
    # And then they change their mind to 2
    star(page, 2).click()
    expect(own).to_contain_text("You rated 2 out of 5")
    # Then the service counts one rating of theirs, the 2: the 4 was replaced, not joined
    assert wait_for(
        lambda: runtime.request("GET", f"/ratings?talkId={talk}").json["ratings"] == only(2)
    )


def test_a_leaderboard_whose_programme_read_failed_offers_its_tracks_all_the_same(
    web: WebStack, page: Page
) -> None:
    # Given a talk of a track of its own, and an attendee who opens the leaderboard on a Wi-Fi
    # that loses the page's first read of the programme (where the tracks come from), on a
    # clock the test moves
    track = f"Track {unique_talk_id()}"
    web.add_talk(title="In a track of its own", track=track)
    failed: list[str] = []

    def lose_the_first(route: Route) -> None:
        if not failed:
            failed.append(route.request.url)
            route.abort("internetdisconnected")
        else:
            route.continue_()

    page.route("**/talks?limit=*", lose_the_first)
    page.clock.install()
    page.goto(web.url("/app/leaderboard"))
    expect(page.locator(".live-badge")).to_have_attribute("data-state", "live")
    assert failed
    # When the board is read again (its check, a minute on)
    page.clock.run_for(61_000)
    # Then the tracks are offered, this one among them
    expect(page.get_by_label("Track")).to_be_visible()
    page.get_by_label("Track").select_option(track)
    expect(page.get_by_text(f"No talk in {track} has been rated yet.")).to_be_visible()


def test_a_room_screen_whose_live_channel_never_answers_keeps_fresh_over_http(
    web: WebStack, page: Page
) -> None:
    # Given a room screen whose live channel opens and then never answers (a proxy that holds
    # the connection), on a clock the test moves
    talk = web.add_talk(title="A channel that never answers")
    page.clock.install()
    page.route_web_socket("**/event/realtime", lambda ws: None)  # open, and silent
    page.goto(web.url(SCREEN.format(id=talk["id"])))
    expect(total(page)).to_have_text("0 ratings")
    # When a rating is counted
    web.rate(talk["id"], 5)
    assert wait_for(lambda: web.count(talk["id"]) == 1)
    # Then the screen gives the silent connection up, and shows the rating from its reads
    clock_until(page, lambda: total(page).text_content() == "1 rating", step_ms=5_500, most=8)
    expect(total(page)).to_have_text("1 rating")
    expect(page.locator(".live-badge")).not_to_have_attribute("data-state", "live")


def silenceable_connections(
    page: Page, silent: list[bool], withheld: list[str | bytes] | None = None
) -> tuple[list[Any], list[Any]]:
    """The page's connections to the live channel, and those of them the channel took the
    subscription on, passing the channel's messages on; while `silent[0]`, the first one
    passes nothing (held open: a NAT or proxy that forgot it), noting in `withheld` what it
    kept from the page."""
    connected: list[Any] = []
    subscribed: list[Any] = []

    def through(ws: Any) -> None:
        server = ws.connect_to_server()
        connected.append(ws)
        first = len(connected) == 1

        def to_the_page(message: str | bytes) -> None:
            if first and silent[0]:
                if withheld is not None:
                    withheld.append(message)
                return
            if "subscribe_success" in str(message):
                subscribed.append(ws)
            ws.send(message)

        server.on_message(to_the_page)

    page.route_web_socket("**/event/realtime", through)
    return connected, subscribed


def until(page: Page, check: Callable[[], bool], seconds: float) -> None:
    """Wait for `check`, letting Playwright run the page's handlers meanwhile."""
    for _ in range(int(seconds * 10)):
        if check():
            return
        page.wait_for_timeout(100)
    assert check()


def shown_count(page: Page, where: str, title: str) -> tuple[Any, Callable[[int], str]]:
    """Where a page shows a talk's count, and the words it shows for n ratings."""
    if where == "room screen":
        return total(page), lambda n: f"{n} rating{'s' if n != 1 else ''}"
    if where == "programme":
        card = page.locator(".talk-card", has_text=title)
        return card.locator(".score"), lambda n: f"{n} rating{'s' if n != 1 else ''}"
    row = page.locator("tr", has_text=title)
    return row.locator("td.num").last, str


@pytest.mark.parametrize("where", ["room screen", "programme", "leaderboard"])
def test_a_page_whose_live_connection_died_silently_connects_again(
    web: WebStack, page: Page, where: str
) -> None:
    # Given a page live on a connection the test can silence, on a clock it moves
    silent = [False]
    withheld: list[str | bytes] = []
    connected, subscribed = silenceable_connections(page, silent, withheld)
    title = f"Forgotten by the hall's Wi-Fi {unique_talk_id()}"
    track = f"Silent {unique_talk_id()}"
    talk = web.add_talk(title=title, track=track)
    if where == "leaderboard":
        web.rate(talk["id"], 4)  # on the board from the start
        assert wait_for(lambda: web.count(talk["id"]) == 1)
    page.clock.install()
    paths = {
        "room screen": SCREEN.format(id=talk["id"]),
        "programme": f"/app/?track={quote(track)}",
        "leaderboard": f"/app/leaderboard?track={quote(track)}",
    }
    page.goto(web.url(paths[where]))
    count, words = shown_count(page, where, title)
    badge = page.locator(".live-badge")  # the programme shows none
    until(page, lambda: len(subscribed) == 1, seconds=10)
    if where != "programme":
        expect(badge).to_have_attribute("data-state", "live")
    rated = 1 if where == "leaderboard" else 0
    expect(count).to_contain_text(words(rated))
    web.rate(talk["id"], 4)
    rated += 1
    expect(count).to_contain_text(words(rated), timeout=web_app.LIVE_WITHIN_MS + 1000)
    # (a minute in which nothing happens keeps the connection: its check finds nothing new; the
    # clock moved on past the 5 s the page gives a suspect connection, and then past the longest
    # first wait before connecting again, 0.75 s, which a close seen after a step starts)
    run_clock(page, 1, 61_000, 300)
    run_clock(page, 2, 3_000, 200)
    run_clock(page, 1, 1_000, 200)
    assert len(connected) == 1
    # (that check's read answered: the next check, a minute on, is set only then, and a move
    # made before it ran none: seen with the page's reads answered 1.5 s late)
    reads_answered(page)
    # When the connection goes silent without closing, and a rating comes
    silent[0] = True
    web.rate(talk["id"], 5)
    rated += 1
    assert wait_for(lambda: web.count(talk["id"]) == rated)
    # (its message published, and kept from the page by the silent connection)
    until(page, lambda: any(json.loads(m)["type"] == "data" for m in withheld), seconds=10)
    expect(count).to_contain_text(words(rated - 1))  # nothing came through it
    # Then the minute's check shows it, and the page, hearing nothing more, connects again
    run_clock(page, 1, 61_000, 300)
    expect(count).to_contain_text(words(rated))
    clock_until(page, lambda: len(subscribed) == 2, step_ms=1_000, most=20)
    if where != "programme":
        expect(badge).to_have_attribute("data-state", "live")
    assert len(connected) == 2
    # And the new connection carries the next rating
    web.rate(talk["id"], 3)
    rated += 1
    expect(count).to_contain_text(words(rated), timeout=web_app.LIVE_WITHIN_MS + 1000)


def test_the_skip_link_s_focus_ring_is_seen_whole(web: WebStack, page: Page) -> None:
    # Given a page of the app
    page.goto(web.url("/app/"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Programme")
    # When a keyboard user's first Tab lands on "Skip to content"
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused(timeout=REACTION_MS)
    # Then its focus ring lies within the page, none of it off the top edge
    ring = page.evaluate(
        """() => { const e = document.activeElement, s = getComputedStyle(e), r = e.getBoundingClientRect();
                   const out = parseFloat(s.outlineWidth) + parseFloat(s.outlineOffset);
                   return [r.top - out, r.left - out]; }"""
    )
    assert min(ring) >= 0, ring


def test_an_organiser_offline_is_told_so_in_words_when_a_file_cannot_be_made(
    web: WebStack, page: Page
) -> None:
    # Given a signed-in organiser whose laptop then loses its network (the programme file's
    # rules, fetched when first needed, not fetched yet)
    sign_in(web, page)
    page.context.set_offline(True)
    # When they ask for the results file
    page.get_by_role("button", name="Download results (CSV)").click()
    # Then the page says the service cannot be reached, not the browser's words for a module
    expect(page.get_by_test_id("admin-message")).to_have_text(
        "The service cannot be reached. Check your connection.", timeout=REACTION_MS
    )
    # And once back online, the file is made
    page.context.set_offline(False)
    with page.expect_download() as download:
        page.get_by_role("button", name="Download results (CSV)").click()
    assert download.value.suggested_filename.startswith("talkrate-results-")


def test_a_star_with_the_keyboard_focus_when_rating_closes_hands_it_to_the_line_saying_so(
    web: WebStack, page: Page
) -> None:
    # Given the page of a talk whose rating closes in a few seconds, its fourth star reached
    # with the keyboard, on a clock the test moves (the page keeps the service's clock as the
    # offset of its own from the service's last Date: it moves with the page's; that the stars
    # go off on time in real time is test_web_talk_page's to show)
    _, closing, edge = talks_at_the_window_s_edges(web)
    page.clock.install()
    page.goto(web.url(TALK_PAGE.format(id=closing["id"])))
    star(page, 4).focus()
    expect(star(page, 4)).to_be_focused(timeout=REACTION_MS)
    # (the talk read and the page live, every answer taken before its clock moves: one taken
    # after, dated by the service's clock, would set the page's back by the move, by which
    # rating is still open)
    expect(page.get_by_role("heading", level=1)).to_have_text(closing["title"])
    expect(page.locator(".live-badge")).to_have_attribute("data-state", "live")
    reads_answered(page)
    # When rating closes (the clock moved to two seconds past it: a Date's whole seconds)
    page.clock.run_for(int(within_seconds_of(edge, 2)))
    expect(star(page, 4)).to_be_disabled()
    # Then the focus is on the line that says rating closed, not lost to the page's start
    # (where a screen reader says nothing of why the stars went)
    hint = page.locator(".hint")
    expect(hint).to_contain_text("Rating closed")
    expect(hint).to_be_focused(timeout=REACTION_MS)


def test_the_programme_read_while_an_organiser_adds_a_talk_has_every_talk_once(
    web: WebStack, page: Page
) -> None:
    # Given a programme of more than one page (100 talks a page): talks written to the catalog
    # as the admin route writes them (through it, 101 took 5 s to add and 7 s to remove)
    stem = unique_talk_id("paged")
    paged = [f"{stem}-{n:03}" for n in range(101)]
    catalog = PostgresDatabase(WEB_TALKS)
    talks = PostgresTalkCatalog(catalog)
    for n, talk_id in enumerate(paged):
        talks.save(Talk(talk_id, f"Paged {n}", []))
    # (and a page of the app's origin that runs no app: the programme's own reads, as it loads,
    # would meet the organiser below before the test's read does)
    page.goto(web.url("/app/config.json"))
    added: list[str] = []

    def at_the_desk(route: Route) -> None:
        # When an organiser adds a talk before all the others once the first page was read (every
        # later talk moves one place on: one read twice, the new one on no page read)
        if not added:
            added.append(
                web.add_talk(
                    talk_id=f"{stem}-early",
                    title="Added at the desk",
                    startsAt="2020-01-01T09:00:00Z",
                    endsAt="2020-01-01T10:00:00Z",
                )["id"]
            )
        route.continue_()

    page.route("**/talks?limit=100&offset=100", at_the_desk)
    try:
        read = page.evaluate("async () => (await import('/app/js/api.js')).allTalks()")
        # Then the programme the page has holds each talk once, the new one too, as many as the
        # service counts
        ids = [talk["id"] for talk in read]
        assert added
        assert len(ids) == len(set(ids))
        assert f"{stem}-early" in ids
        assert set(paged) <= set(ids)
        total = web.runtime.request("GET", "/talks?limit=1").json["total"]
        assert len(ids) == total
    finally:
        # (the module's other tests read the programme too: it is left as it was)
        for talk_id in paged:
            talks.delete(talk_id)
        catalog.close()
        for talk_id in added:
            web.as_organiser("DELETE", f"/talks/{talk_id}")


@pytest.mark.parametrize(("path", "every_ms"), [(TALK_PAGE, 15_000), (SCREEN, 60_000)])
def test_live_figures_reach_a_screen_reader_now_and_then_not_at_every_rating(
    web: WebStack, page: Page, path: str, every_ms: int
) -> None:
    from talkrate.adapters.redis_store import connect, histogram_key

    # Given a talk's page (or its room screen) live on its channel, on a clock the test moves
    talk = web.add_talk(title="Heard, not shouted")
    state = {"type": "talk", "talkId": talk["id"]}
    page.clock.install()
    page.goto(web.url(path.format(id=talk["id"])))
    expect(page.locator(".live-badge")).to_have_attribute("data-state", "live")
    expect(total(page)).to_have_text("0 ratings")
    region = page.get_by_test_id("announcement")
    # Then a polite status region is there from the start, silent: the first figures are read
    # with the page
    expect(region).to_have_attribute("role", "status")
    expect(region).to_have_attribute("aria-live", "polite")
    expect(region).to_have_attribute("aria-atomic", "true")
    expect(region).to_have_text("")
    page.evaluate(ANNOUNCEMENTS_WATCH)
    # When a first attendee rates after a quiet spell
    publish_live(web, talk["channel"], {**state, "ratings": {"5": 1}, "count": 1})
    expect(total(page)).to_have_text("1 rating", timeout=5000)
    page.clock.run_for(100)
    # Then it is said at once, in words
    assert page.evaluate("window.__announced") == ["1 rating, average 5.00"]
    # When a busy room sends 19 more updates within a few seconds
    for count in range(2, 21):
        publish_live(web, talk["channel"], {**state, "ratings": {"5": count}, "count": count})
    expect(total(page)).to_have_text("20 ratings", timeout=5000)
    page.clock.run_for(1000)
    # Then none of them is said yet
    assert page.evaluate("window.__announced") == ["1 rating, average 5.00"]
    # (the read model holds what the messages said, for the page's own reads from now on)
    client = connect(WEB_RATINGS)
    try:
        client.hset(histogram_key(talk["id"]), "5", 20)
        # And the figures as they stand are said once the interval has passed, then nothing more
        # while they do not change
        page.clock.run_for(every_ms)
        page.clock.run_for(3 * every_ms)
        assert page.evaluate("window.__announced") == [
            "1 rating, average 5.00",
            "20 ratings, average 5.00",
        ]
        expect(region).to_have_text("20 ratings, average 5.00")
        # When the browser loses its network
        page.context.set_offline(True)
        expect(page.locator(".live-badge")).to_have_attribute("data-state", "offline")
        page.clock.run_for(every_ms)
        # Then that is said, with the figures it can no longer keep fresh
        expect(region).to_have_text(
            "Offline: these figures may be out of date. 20 ratings, average 5.00"
        )
    finally:
        client.delete(histogram_key(talk["id"]))
        client.close()


def board_shows(page: Page, titles: list[str], counts: list[str] | None = None) -> None:
    """Step the page's clock (past its debounce of live messages) until its board lists these
    titles, in this order (and, if given, these counts)."""
    rows = page.locator("table.board tbody tr")

    def shown() -> bool:
        if rows.locator("td a").all_inner_texts() != titles:
            return False
        return counts is None or rows.locator("td.num:last-child").all_inner_texts() == counts

    for _ in range(50):
        if shown():
            return
        page.clock.run_for(400)
        page.wait_for_timeout(100)
    assert shown(), rows.all_inner_texts()


def test_the_leaderboard_says_each_title_in_its_own_language(web: WebStack, page: Page) -> None:
    # Given two Hebrew talks of a track of their own, one rated, its leaderboard open and live
    track = f"Heard in Hebrew {unique_talk_id()}"
    first = web.add_talk(title="עולם חדש", track=track, language="he")
    second = web.add_talk(title="שפה אחרת", track=track, language="he")
    web.rate(first["id"], 4)
    assert wait_for(lambda: web.count(first["id"]) == 1)
    page.clock.install()
    page.goto(web.url(f"/app/leaderboard?track={quote(track)}"))
    expect(page.locator(".live-badge")).to_have_attribute("data-state", "live")
    board_shows(page, ["עולם חדש"])
    page.evaluate(ANNOUNCEMENTS_WATCH)
    # When the other takes the lead
    for _ in range(2):
        web.rate(second["id"], 5)
    board_shows(page, ["שפה אחרת", "עולם חדש"])
    page.clock.run_for(100)
    # Then the region says so with each title marked Hebrew, read in that language's voice
    # (the whole line was the page's English: no lang on the titles)
    assert announced(page) == ["“שפה אחרת” leads the board, then “עולם חדש”."]
    region = page.get_by_test_id("announcement")
    titles = region.locator("span[lang=he]")
    expect(titles).to_have_text(["שפה אחרת", "עולם חדש"])


def test_the_leaderboard_says_who_leads_to_a_screen_reader_at_most_once_a_minute(
    web: WebStack, page: Page
) -> None:
    # Given two talks of a track of their own, one rated, and that track's leaderboard open and
    # live, on a clock the test moves
    track = f"Heard board {unique_talk_id()}"
    early = web.add_talk(title="Early favourite", track=track)
    late = web.add_talk(title="Late surge", track=track)
    web.rate(early["id"], 4)
    assert wait_for(lambda: web.count(early["id"]) == 1)
    page.clock.install()
    page.goto(web.url(f"/app/leaderboard?track={quote(track)}"))
    expect(page.locator(".live-badge")).to_have_attribute("data-state", "live")
    board_shows(page, ["Early favourite"])
    # Then a polite status region is there, silent: the board is read with the page
    region = page.get_by_test_id("announcement")
    expect(region).to_have_attribute("role", "status")
    expect(region).to_have_attribute("aria-live", "polite")
    expect(region).to_have_text("")
    page.evaluate(ANNOUNCEMENTS_WATCH)
    # When the other talk takes the lead
    for _ in range(2):
        web.rate(late["id"], 5)
    board_shows(page, ["Late surge", "Early favourite"])
    page.clock.run_for(100)
    # Then the new order is said at once
    assert announced(page) == ["“Late surge” leads the board, then “Early favourite”."]
    # When the first takes it back within the minute
    for _ in range(3):
        web.rate(early["id"], 5)
    board_shows(page, ["Early favourite", "Late surge"])
    # Then that is said only once the minute has passed
    assert len(announced(page)) == 1
    page.clock.run_for(60_000)
    assert announced(page)[1:] == ["“Early favourite” leads the board, then “Late surge”."]
    # And a rating that changes counts but not the order is not said at all
    web.rate(late["id"], 4)
    board_shows(page, ["Early favourite", "Late surge"], counts=["4", "3"])
    page.clock.run_for(61_000)
    assert len(announced(page)) == 2
    # And neither is an organiser retitling the leader: its catalog message reads the board
    # again, in the same order
    retitled = {"title": "Early favourite, retitled", "track": track}
    assert web.as_organiser("PUT", f"/talks/{early['id']}", retitled).status == 200
    board_shows(page, ["Early favourite, retitled", "Late surge"])
    page.clock.run_for(61_000)
    assert len(announced(page)) == 2


@pytest.mark.parametrize("where", ["programme", "organisers' table", "leaderboard"])
def test_a_list_read_answered_after_a_newer_one_does_not_put_the_old_list_back(
    web: WebStack, page: Page, where: str
) -> None:
    # Given a rated talk, and a page that lists it (the programme, the organisers' table, the
    # leaderboard) whose live channel loses the organisers' changes, on a network that holds
    # the page's first read of its list: its answer, as the service gave it then, reaches the
    # page only later
    stem = unique_talk_id("reads")
    track = f"Held {stem}"
    talk = web.add_talk(title=f"Before the change {stem}", track=track)
    web.rate(talk["id"], 4)
    assert wait_for(lambda: web.count(talk["id"]) == 1)
    assert web.runtime.request("GET", "/talks?limit=1").json["total"] < 100  # one page a read
    web_app.catalog_messages_lost(page)
    reads: list[Route] = []
    then: list[APIResponse] = []  # the first read's answer, as the service gave it then

    def read(route: Route) -> None:
        if route.request.resource_type != "fetch":  # the page itself
            route.continue_()
            return
        reads.append(route)
        if len(reads) == 1:
            then.append(route.fetch())
        elif len(reads) > 2:
            route.continue_()

    if where == "programme":
        page.route("**/talks?limit=*", read)
        page.goto(web.url(f"/app/?track={quote(track)}"))
        titles = page.locator(".talk-card h2")
    elif where == "organisers' table":
        page.route("**/talks?limit=*", read)
        sign_in(web, page, f"/app/admin?q={quote(stem)}")
        titles = page.locator(".admin-talks tbody tr th a")
    else:
        assert wait_for(
            lambda: (
                len(web.runtime.request("GET", f"/leaderboard?track={quote(track)}").json["talks"])
                == 1
            )
        )
        page.route("**/leaderboard?*", read)
        page.goto(web.url(f"/app/leaderboard?track={quote(track)}"))
        titles = page.locator("table.board tbody td a")
    # When an organiser retitles the talk while the page's second read of its list is on its
    # way (the page reads it again as its live channel takes it), and that read is answered
    until(page, lambda: len(reads) >= 2 and bool(then), seconds=10)
    retitled = {"title": f"After the change {stem}", "track": track}
    assert web.as_organiser("PUT", f"/talks/{talk['id']}", retitled).status == 200
    reads[1].continue_()
    # Then the page shows the talk retitled
    expect(titles).to_have_text([f"After the change {stem}"])
    # And when the first read's answer (of before the change) comes at last, it is older than
    # what is shown, and the page keeps the talk as it is now
    reads[0].fulfill(response=then[0])
    reads_answered(page)
    expect(titles).to_have_text([f"After the change {stem}"])


def test_the_leaderboard_shows_a_shared_rank_and_says_a_shared_lead_is_tied(
    web: WebStack, page: Page
) -> None:
    # Given a track of two talks, one rated 5 and 4, and that track's board open and live
    track = f"Tied board {unique_talk_id()}"
    one = web.add_talk(title="Tied one", track=track)
    other = web.add_talk(title="Tied other", track=track)
    for value in (5, 4):
        web.rate(one["id"], value)
    assert wait_for(lambda: web.count(one["id"]) == 2)
    page.clock.install()
    page.goto(web.url(f"/app/leaderboard?track={quote(track)}"))
    expect(page.locator(".live-badge")).to_have_attribute("data-state", "live")
    board_shows(page, ["Tied one"])
    page.evaluate(ANNOUNCEMENTS_WATCH)
    # When the other talk is rated alike (its score the same: 3.25)
    for value in (4, 5):
        web.rate(other["id"], value)
    # Then both are first (the lower id above), and the lead is said to be shared
    titles = [t["title"] for t in sorted([one, other], key=lambda t: str(t["id"]))]
    board_shows(page, titles, counts=["2", "2"])
    expect(page.locator("table.board tbody td.rank")).to_have_text(["1", "1"])
    # (its first rating may have been said within the minute: the board's last words are said
    # once the minute has passed)
    page.clock.run_for(61_000)
    assert announced(page)[-1] == f"“{titles[0]}” and “{titles[1]}” are tied for the lead."


def test_the_leaderboard_says_a_lead_becoming_shared_and_broken_in_the_same_order(
    web: WebStack, page: Page
) -> None:
    # Given a track whose leader (the lower id) is rated 5 and 4 and whose second is rated 4,
    # its board open and live, on a clock the test moves
    stem = unique_talk_id()
    track = f"Shared lead {stem}"
    first = web.add_talk(f"aaa-{stem}", title="Leader alone", track=track)
    second = web.add_talk(f"bbb-{stem}", title="Catching up", track=track)
    for value in (5, 4):
        web.rate(first["id"], value)
    web.rate(second["id"], 4)
    assert wait_for(lambda: web.count(first["id"]) == 2 and web.count(second["id"]) == 1)
    page.clock.install()
    page.goto(web.url(f"/app/leaderboard?track={quote(track)}"))
    expect(page.locator(".live-badge")).to_have_attribute("data-state", "live")
    board_shows(page, ["Leader alone", "Catching up"])
    page.evaluate(ANNOUNCEMENTS_WATCH)
    # When the second is rated 5: the same ratings as the leader, the order unchanged (the
    # lower id first), the lead now shared
    web.rate(second["id"], 5)
    board_shows(page, ["Leader alone", "Catching up"], counts=["2", "2"])
    expect(page.locator("table.board tbody td.rank")).to_have_text(["1", "1"])
    page.clock.run_for(61_000)
    # Then that is said (the order of the ids had not changed, and nothing was said)
    assert announced(page)[-1:] == ["“Leader alone” and “Catching up” are tied for the lead."]
    # And when the leader is rated again and leads alone, in the same order, that is said too
    web.rate(first["id"], 5)
    board_shows(page, ["Leader alone", "Catching up"], counts=["3", "2"])
    page.clock.run_for(61_000)
    assert announced(page)[-1:] == ["“Leader alone” leads the board, then “Catching up”."]


# The sides of the focused element's ring (its outline, width and offset) that a box around it
# cuts off: an ancestor whose overflow is not visible (a table scrolled on its own), or the window.
RING_CUT = """() => {
  const e = document.activeElement, s = getComputedStyle(e), r = e.getBoundingClientRect();
  const out = parseFloat(s.outlineWidth) + parseFloat(s.outlineOffset);
  const ring = { left: r.left - out, top: r.top - out, right: r.right + out, bottom: r.bottom + out };
  const cut = [];
  for (let box = e.parentElement; box; box = box.parentElement) {
    const b = getComputedStyle(box), c = box.getBoundingClientRect();
    const name = box.tagName.toLowerCase() + (box.className ? "." + box.className.split(" ")[0] : "");
    if (b.overflowX !== "visible") {
      if (ring.left < c.left - 0.5) cut.push(`left, by ${name}`);
      if (ring.right > c.right + 0.5) cut.push(`right, by ${name}`);
    }
    if (b.overflowY !== "visible") {
      if (ring.top < c.top - 0.5) cut.push(`top, by ${name}`);
      if (ring.bottom > c.bottom + 0.5) cut.push(`bottom, by ${name}`);
    }
  }
  if (ring.left < 0 || ring.right > innerWidth) cut.push("by the window");
  return cut;
}"""


@pytest.mark.parametrize(
    ("view", "viewport"),
    [("", web_app.PHONE), ("&view=screen", {"width": 1280, "height": 720})],
    ids=["phone", "hall-screen"],
)
def test_a_leaderboard_title_s_focus_ring_is_seen_whole(
    web: WebStack, browser: Browser, view: str, viewport: dict[str, int]
) -> None:
    # Given a track's board with one rated talk, on a phone (each talk a row of its own, its
    # title across the row's whole width) or on a hall's screen (the talk the board's last row)
    track = f"Ringed {unique_talk_id()}"
    talk = web.add_talk(title="Keyboard users see where they are", track=track)
    web.rate(talk["id"], 4)
    assert wait_for(lambda: web.count(talk["id"]) == 1)
    context = browser.new_context(viewport=viewport)
    try:
        page = context.new_page()
        page.goto(web.url(f"/app/leaderboard?track={quote(track)}{view}"))
        link = page.get_by_role("link", name="Keyboard users see where they are")
        expect(link).to_be_visible()
        # When a keyboard user tabs onto the talk's title
        while not link.evaluate("(a) => a === document.activeElement"):
            page.keyboard.press("Tab")
        # Then its focus ring is seen whole: no side of it is cut off by the table's own
        # scrolling box (on a phone its right side was, on the hall's screen its bottom)
        assert page.evaluate(RING_CUT) == []
    finally:
        context.close()


# The focused element's focus ring: its style, its width and the box it is drawn around (its
# outline grown by its width and offset), and whether the element matches :focus-visible.
RING = """() => {
  const e = document.activeElement, s = getComputedStyle(e), r = e.getBoundingClientRect();
  const out = parseFloat(s.outlineWidth) + parseFloat(s.outlineOffset);
  return { tag: e.tagName, id: e.id, visible: e.matches(':focus-visible'), style: s.outlineStyle,
           width: parseFloat(s.outlineWidth),
           box: [r.left - out, r.top - out, r.right + out, r.bottom + out] };
}"""


def test_a_date_field_s_calendar_button_has_the_app_s_focus_ring(
    web: WebStack, page: Page, tmp_path: Any
) -> None:
    # Given an organiser's form to add a talk
    sign_in(web, page)
    page.get_by_role("button", name="Add a talk").click()
    starts = page.locator("#talk-starts")
    starts.focus()
    # When the keyboard goes through the date and time field's parts to its calendar button
    # (the field keeps the focus, but no longer matches :focus-visible: the button inside has it)
    ring = page.evaluate(RING)
    for _ in range(10):
        if ring["id"] != "talk-starts" or not ring["visible"]:
            break
        page.keyboard.press("Tab")
        ring = page.evaluate(RING)
    assert ring["id"] == "talk-starts", ring
    assert not ring["visible"], ring
    starts.screenshot(path=str(tmp_path / "calendar-button.png"))
    # Then the field is ringed as any focused control of the app is: 3 px, solid
    assert ring["style"] == "solid", ring
    assert ring["width"] >= 3, ring


def test_the_room_screen_reached_from_the_keyboard_draws_no_ring_off_the_window(
    web: WebStack, browser: Browser, tmp_path: Any
) -> None:
    # Given a talk's page on a laptop driving a hall's screen
    talk = web.add_talk(title="Opened from the keyboard")
    hall = browser.new_context(viewport=web_app.PROJECTORS["1920x1080"])
    try:
        page = hall.new_page()
        page.goto(web.url(TALK_PAGE.format(id=talk["id"])))
        expect(total(page)).to_have_text("0 ratings")
        # When a keyboard user follows its link to the room screen
        link = page.get_by_role("link", name="Open the room screen")
        link.focus()
        page.keyboard.press("Enter")
        expect(page.get_by_test_id("total")).to_have_text("0 ratings")
        # Then the room screen's content has the focus (where a screen reader reads from) ...
        expect(page.locator("main")).to_be_focused(timeout=REACTION_MS)
        ring = page.evaluate(RING)
        page.screenshot(path=str(tmp_path / "room-screen-focused.png"))
        assert ring["visible"], ring  # (the browser would ring it: focus came from the keyboard)
        # ... and no ring is drawn around it out of the window: none at all (the room screen
        # has nothing to operate, and a frame round a hall's screen would say nothing there)
        assert ring["style"] == "none", ring
    finally:
        hall.close()
