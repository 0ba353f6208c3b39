"""What an attendee's walk through the app found: the pages in the phone's dark mode, a
programme of several days, a slow network. Playwright in Debian's chromium against the local
runtime, like test_web_app (whose fixtures and helpers these tests share)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote, urlparse

import pytest
from playwright.sync_api import Browser, Page, Route, expect

from tests.builders import unique_talk_id
from tests.e2e import test_web_app
from tests.e2e.conftest import REACTION_MS, wait_for
from tests.e2e.test_web_app import (
    PHONE,
    WebStack,
    an_hour_from,
    axe_source,
    contrast,
    enter_event_code,
    star,
)

# test_web_app's fixtures: its runtime (one for this module), the browser, a phone and its page.
web = test_web_app.web
browser = test_web_app.browser
phone = test_web_app.phone
page = test_web_app.page
rated_talk = test_web_app.rated_talk
PROJECTOR_BATCH_WINDOW = "0"
CHROMIUM_MORE_ARGS = test_web_app.CHROMIUM_MORE_ARGS

pytestmark = pytest.mark.browser


@pytest.fixture
def dark_phone(browser: Browser) -> Iterator[Page]:
    """A phone whose system is in dark mode (prefers-color-scheme: dark)."""
    context = browser.new_context(viewport=PHONE, color_scheme="dark")
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    yield opened
    context.close()
    assert errors == []


LUMINANCE = """(selector) => {
  const channel = (c) => { c /= 255; return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
  const [r, g, b] = getComputedStyle(document.querySelector(selector)).backgroundColor.match(/[\\d.]+/g).map(Number);
  return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
}"""


def contrast_violations(page: Page) -> list[tuple[str, list[str]]]:
    """axe-core's colour-contrast findings (injected from its package, not fetched)."""
    page.evaluate(axe_source())
    result = page.evaluate(
        "axe.run(document, {runOnly: ['color-contrast'], resultTypes: ['violations']})"
    )
    return [
        (node["any"][0]["message"] if node["any"] else "", node["target"])
        for violation in result["violations"]
        for node in violation["nodes"]
    ]


@pytest.mark.parametrize("path", ["/app/", "/app/talks/{id}", "/app/leaderboard"])
def test_an_attendee_s_page_follows_the_phone_s_dark_mode_and_reads_well_in_it(
    web: WebStack, dark_phone: Page, rated_talk: str, path: str, tmp_path: Path
) -> None:
    # Given a phone whose system is in dark mode (an attendee in a darkened hall)
    page = dark_phone
    # When the attendee opens one of their pages
    page.goto(web.url(path.format(id=rated_talk)))
    expect(page.get_by_role("heading", level=1)).not_to_have_text("Loading…")
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(tmp_path / "dark.png"), full_page=True)
    # Then the page is dark, as the phone's other apps are (it was white: 1.0)
    assert page.evaluate(LUMINANCE, "html") < 0.05
    # And every text on it reads against what is behind it (WCAG 1.4.3)
    assert contrast_violations(page) == []


STAR_COLOURS = """(chosen) => { const s = document.querySelector(chosen);
  return [getComputedStyle(s).color, getComputedStyle(s.querySelector('.star-value')).color,
          getComputedStyle(s).backgroundColor]; }"""


def test_a_star_on_its_way_and_a_chosen_star_read_in_dark_mode(
    web: WebStack, dark_phone: Page
) -> None:
    # Given a talk's page on a phone in dark mode, whose rating's answer is held on its way
    talk = web.add_talk(title="Dark mode stars", speakers=["Ada Night"])
    page = dark_phone
    held: list[Route] = []
    page.route(
        "**/ratings",
        lambda route: held.append(route) if route.request.method == "POST" else route.continue_(),
    )
    page.goto(web.url(f"/app/talks/{talk['id']}"))
    expect(star(page, 4)).to_be_enabled()
    # When the attendee taps a star (motion reduced: the star's pulse stands still at its start)
    page.emulate_media(reduced_motion="reduce")
    star(page, 4).click()
    enter_event_code(page)
    expect(page.get_by_test_id("own-rating")).to_have_text(re.compile("Sending your rating"))
    # Then the star on its way shows its star and its figure against its fill
    glyph, figure, fill = page.evaluate(STAR_COLOURS, "button.star.sending")
    assert (round(contrast(glyph, fill), 2), round(contrast(figure, fill), 2)) >= (3, 4.5)
    # And once it is sent, the chosen star's too
    assert wait_for(lambda: held, page=page)
    held[0].continue_()
    expect(page.get_by_test_id("own-rating")).to_have_text(re.compile("You rated 4 out of 5"))
    glyph, figure, fill = page.evaluate(STAR_COLOURS, 'button.star[aria-pressed="true"]')
    assert contrast(figure, fill) >= 4.5
    assert contrast(glyph, fill) >= 3
    assert contrast_violations(page) == []


def test_an_attendee_picks_a_day_of_a_programme_of_several(web: WebStack, page: Page) -> None:
    # Given a track whose talks run over three days (today, tomorrow, the day after), and one
    # on no timetable
    track = f"Days {unique_talk_id()}"
    today = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    for day, title in (
        (0, "Today's talk"),
        (1, "Tomorrow morning"),
        (1, "Tomorrow afternoon"),
        (2, "The last day's talk"),
    ):
        start = today + timedelta(days=day, hours=2 if "afternoon" in title else 0)
        web.add_talk(title=title, track=track, **an_hour_from(start))
    web.add_talk(title="On no timetable", track=track)
    # (and another track's talk three days ago, a day this track does not run on)
    web.add_talk(
        title="Another track's talk",
        track=f"Other {track}",
        **an_hour_from(today - timedelta(days=3)),
    )
    cards = page.locator(".talk-card h2")
    # When an attendee opens the programme of that track (every talk shown) and picks tomorrow
    page.goto(web.url(f"/app/?track={quote(track)}"))
    expect(cards).to_have_count(5)
    day = page.get_by_label("Day")
    # (the day tomorrow's talks are on where the phone is)
    tomorrow = page.evaluate(
        "(ms) => new Date(ms - new Date(ms).getTimezoneOffset() * 60000).toISOString().slice(0, 10)",
        (today + timedelta(days=1)).timestamp() * 1000,
    )
    # (the track's days alone: every day, and its three)
    expect(day.locator("option")).to_have_count(4)
    day.select_option(tomorrow)
    # Then only tomorrow's talks are listed, said in the count, the day kept in the address
    expect(cards).to_have_text(["Tomorrow morning", "Tomorrow afternoon"])
    expect(page.get_by_role("status").first).to_have_text(re.compile(r"^2 of \d+ talks$"))
    assert f"day={tomorrow}" in page.url
    # And a reload (or a link shared) opens on that day
    page.reload()
    expect(cards).to_have_text(["Tomorrow morning", "Tomorrow afternoon"])
    expect(page.get_by_label("Day")).to_have_value(tomorrow)
    # And a search that finds nothing that day says so, and leads back to every talk
    page.get_by_label("Search talks").fill("last day")
    expect(page.get_by_role("status").first).to_contain_text("No talk matches “last day”")
    page.get_by_role("button", name="Show all talks").click()
    expect(page.get_by_role("status").first).to_have_text(re.compile(r"^\d+ talks$"))
    expect(page.get_by_label("Day")).to_have_value("")
    assert "day=" not in page.url


def scripts_asked(page: Page) -> list[str]:
    """The paths of the app's scripts the page asks for, as it asks."""
    asked: list[str] = []
    page.on(
        "request",
        lambda request: (
            asked.append(urlparse(request.url).path) if "/app/js/" in request.url else None
        ),
    )
    return asked


def test_a_talk_page_asks_for_its_scripts_at_once_not_one_import_after_another(
    web: WebStack, browser: Browser, page: Page, rated_talk: str
) -> None:
    # Given the scripts a talk page runs (read by a first phone), and the page it opens
    first = browser.new_context(viewport=PHONE)
    try:
        reader = first.new_page()
        needed = scripts_asked(reader)
        reader.goto(web.url(f"/app/talks/{rated_talk}"))
        expect(star(reader, 5)).to_be_enabled()
        reader.wait_for_load_state("networkidle")
    finally:
        first.close()
    assert "/app/js/pages/talk.js" in needed
    # When an attendee's phone opens that page from its QR code, on a slow network: its
    # entry script's answer still on its way
    held: list[Route] = []
    page.route("**/app/js/main.js", lambda route: held.append(route))
    asked = scripts_asked(page)
    page.goto(web.url(f"/app/talks/{rated_talk}"), wait_until="commit")
    # Then every other script it runs is asked for meanwhile, each a round trip of the network
    # at the same time (they were asked for one import after another: five round trips deep)
    wanted = set(needed) - {"/app/js/main.js"}
    assert wait_for(lambda: held and wanted <= set(asked), seconds=5, page=page), sorted(
        wanted - set(asked)
    )
    # And none of the organisers' page (an attendee's phone never loads it)
    assert not [path for path in asked if "admin" in path]
    # And the page runs once its entry script comes
    held[0].continue_()
    expect(star(page, 5)).to_be_enabled()


def test_the_event_code_asked_for_the_first_time_is_no_error(web: WebStack, page: Page) -> None:
    # Given a talk's page, on a phone that has no pass yet (the event asks for its code)
    talk = web.add_talk(title="Asked for the code")
    page.goto(web.url(f"/app/talks/{talk['id']}"))
    # When the attendee taps a star
    star(page, 3).click()
    field = page.get_by_label("Event code")
    expect(field).to_be_focused(timeout=REACTION_MS)
    # Then the field asks for the code, once, and nothing is said in red as if they had done
    # something wrong ("This event asks for its code." stood in the error line above the
    # field's own "This event asks for its code (on your badge …)")
    expect(field).to_have_accessible_description(re.compile(r"^This event asks for its code \("))
    expect(page.get_by_test_id("own-rating")).to_have_text(
        "Your 3 out of 5 is sent once you give the event code."
    )
    expect(page.get_by_test_id("message")).to_be_empty()
    # And a wrong code is said as the error it is, then the right one counts the 3
    field.fill("not the code")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_test_id("message")).to_have_text("That event code is not right.")
    enter_event_code(page)
    expect(page.get_by_test_id("own-rating")).to_contain_text("You rated 3 out of 5")
    assert wait_for(lambda: web.count(talk["id"]) == 1)


NARROW_PHONE = {"width": 320, "height": 640}


def histogram_of(web: WebStack, talk_id: str) -> dict[str, int]:
    """The talk's histogram as the API answers it."""
    ratings: dict[str, int] = web.runtime.request("GET", f"/ratings?talkId={talk_id}").json[
        "ratings"
    ]
    return ratings


@pytest.mark.parametrize("path", ["/app/", "/app/leaderboard", "/app/admin"])
def test_the_site_bar_s_links_keep_to_one_line_on_a_320_px_phone(
    web: WebStack, browser: Browser, path: str
) -> None:
    # Given the narrowest phones (320 px), each page's own link in the bar marked (bolder)
    context = browser.new_context(viewport=NARROW_PHONE, has_touch=True, is_mobile=True)
    try:
        page = context.new_page()
        # When an attendee or an organiser opens a page
        page.goto(web.url(path))
        links = page.get_by_role("navigation", name="Main").get_by_role("link")
        expect(links).to_have_count(3)
        expect(page.locator('.bar nav a[aria-current="page"]')).to_have_count(1)
        boxes = [link.bounding_box() for link in links.all()]
        bar = page.locator(".bar").bounding_box()
        # Then Programme, Leaderboard and Organisers stand on one line under the name, inside
        # the screen (Organisers wrapped to a third line, the bar 150 px of a 640 px screen),
        # each still 44 px tall for a thumb
        assert all(box is not None for box in boxes)
        assert bar is not None
        assert len({round(box["y"]) for box in boxes if box}) == 1, boxes
        assert all(box["x"] + box["width"] <= 320 - 16 for box in boxes if box), boxes
        assert all(box["height"] >= 44 for box in boxes if box), boxes
        assert bar["height"] < 110, bar
        assert page.evaluate("document.documentElement.scrollWidth") == 320
    finally:
        context.close()


def test_the_site_bar_is_as_before_on_a_390_px_phone(web: WebStack, page: Page) -> None:
    # Given a 390 px phone (the bar's links at their size, as before)
    page.goto(web.url("/app/leaderboard"))
    links = page.get_by_role("navigation", name="Main").get_by_role("link")
    expect(links).to_have_count(3)
    # Then the links keep the text's size and the bar its two lines
    sizes = [link.evaluate("(a) => getComputedStyle(a).fontSize") for link in links.all()]
    assert sizes == ["16px"] * 3, sizes
    bar = page.locator(".bar").bounding_box()
    assert bar is not None
    assert 100 < bar["height"] < 110, bar


def test_a_rating_kept_offline_says_when_it_must_arrive_and_is_dropped_when_rating_closes(
    web: WebStack, page: Page
) -> None:
    # Given a talk whose rating closes in half an hour (it ended almost a day ago: its grace
    # ends), and an attendee who rated it 3
    closes_in = datetime.now(UTC) + timedelta(minutes=30)
    probe = web.add_talk(title="Times of the grace", **an_hour_from(closes_in))
    grace = datetime.fromisoformat(probe["ratingClosesAt"]) - datetime.fromisoformat(
        probe["endsAt"]
    )
    talk = web.add_talk(
        title="Closing while offline", **an_hour_from(closes_in - grace - timedelta(hours=1))
    )
    page.clock.install()
    page.goto(web.url(f"/app/talks/{talk['id']}"))
    own, message = page.get_by_test_id("own-rating"), page.get_by_test_id("message")
    star(page, 3).click()
    enter_event_code(page)
    expect(own).to_contain_text("You rated 3 out of 5")
    posts: list[str] = []
    page.on(
        "request",
        lambda request: (
            posts.append(request.url)
            if request.method == "POST" and "/ratings" in request.url
            else None
        ),
    )
    # When their phone loses its network and they tap 4
    page.context.set_offline(True)
    star(page, 4).click()
    # Then the page says the 4 is sent once back online, and counts only if it reaches the
    # service before rating closes, at the time the page shows (it said "will be sent", and
    # the service refused it after the close)
    expect(message).to_have_text(
        re.compile(
            r"^Waiting for the network: your rating will be sent when you are back online, "
            # (with its day when that is another: the tests run near midnight)
            r"and counts if it reaches the service before (\w{3}, \w{3} \d\d? )?"
            r"\d\d?:\d\d( [AP]M)? UTC, "
            r"when rating closes\.$"
        )
    )
    expect(own).to_have_text("Waiting to send your rating: 4 out of 5.")
    # When rating closes while the phone is still offline
    page.clock.run_for(31 * 60_000)
    # Then the page says the 4 could not be counted, and no longer keeps it to send
    expect(message).to_have_text(
        re.compile(
            r"^Rating closed at \d\d?:\d\d( [AP]M)? UTC before your rating of 4 out of 5 "
            r"could be sent: it was not counted\.$"
        )
    )
    expect(own).to_have_text("You rated 3 out of 5.")
    expect(star(page, 4)).to_be_disabled()
    assert (
        page.evaluate(
            "(id) => (JSON.parse(localStorage.getItem('talkrate.sending') || '{}') || {})[id] ?? null",
            talk["id"],
        )
        is None
    )
    # And back online, past the page's next check (a read of the talk), nothing is sent: the
    # 3 alone counts
    page.context.set_offline(False)
    with page.expect_response(lambda answer: f"/talks/{talk['id']}" in answer.url):
        page.clock.run_for(31_000)
    assert posts == []
    assert wait_for(
        lambda: histogram_of(web, talk["id"]) == {"1": 0, "2": 0, "3": 1, "4": 0, "5": 0}
    )
    expect(message).to_contain_text("it was not counted")
