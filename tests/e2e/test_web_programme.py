"""The web app's programme and what a trial found around it: its order, what it downloads while
ratings arrive, Back to where one was, in-page links, right-to-left and long titles, the live
badge's words, dates. Playwright in Debian's chromium against the local runtime, like
test_web_app (whose fixtures and helpers these tests share)."""

from __future__ import annotations

import io
import itertools
import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest
from PIL import Image, ImageChops
from playwright.sync_api import Browser, BrowserContext, Locator, Page, Route, expect

from tests.builders import unique_talk_id
from tests.e2e import test_web_app
from tests.e2e.conftest import REACTION_MS, wait_for
from tests.e2e.test_web_app import PublishedApp, WebStack, an_hour_from, live_connections

# test_web_app's fixtures: its runtime (one for this module), the browser, a phone and its page.
web = test_web_app.web
browser = test_web_app.browser
phone = test_web_app.phone
page = test_web_app.page
# Its runtime projects each rating as it comes (see test_web_app.PROJECTOR_BATCH_WINDOW).
PROJECTOR_BATCH_WINDOW = "0"
# Its browser without site isolation (see test_web_app.CHROMIUM_MORE_ARGS).
CHROMIUM_MORE_ARGS = test_web_app.CHROMIUM_MORE_ARGS

pytestmark = pytest.mark.browser


def test_the_programme_shows_talks_to_come_before_those_that_are_over(
    web: WebStack, page: Page
) -> None:
    # Given a track with a talk running now, two to come, one over but still rated, one whose
    # rating closed, one without times, and one with an end but no start (open until then)
    track = f"Order {unique_talk_id()}"
    now = datetime.now(UTC)
    web.add_talk(
        title="Open until tonight", track=track, endsAt=(now + timedelta(hours=2)).isoformat()
    )
    web.add_talk(title="Closed long ago", track=track, **an_hour_from(now - timedelta(days=3)))
    web.add_talk(title="Just over", track=track, **an_hour_from(now - timedelta(hours=2)))
    web.add_talk(title="Without times", track=track)
    web.add_talk(title="Later today", track=track, **an_hour_from(now + timedelta(hours=3)))
    web.add_talk(title="Next up", track=track, **an_hour_from(now + timedelta(hours=1)))
    web.add_talk(title="Running", track=track, **an_hour_from(now - timedelta(minutes=20)))
    # When an attendee opens that track's programme
    page.goto(web.url(f"/app/?track={quote(track)}"))
    cards = page.locator(".talk-card h2")
    # Then what runs now comes first, then what is just over (to rate on leaving its room),
    # then what comes next (a talk open until a time by that time), then what has no times
    expect(cards).to_have_text(
        [
            "Running",
            "Just over",
            "Next up",
            "Open until tonight",
            "Later today",
            "Without times",
            "Closed long ago",
        ]
    )
    until = page.locator(".talk-card", has_text="Open until tonight").locator(".meta")
    expect(until).to_contain_text(re.compile(r"until \w{3}, \w{3} \d{1,2} \d{1,2}:\d{2}"))


def test_over_two_days_the_talks_just_over_come_before_tomorrow_s_and_follow_the_clock(
    web: WebStack, page: Page
) -> None:
    # Given a two-day programme: this morning's talk (over, still rated), a talk just over, one
    # running that ends in twenty seconds, the next one today, and two tomorrow
    track = f"Two days {unique_talk_id()}"
    now = datetime.now(UTC)
    edge = now + timedelta(seconds=20)

    def talk(title: str, starts: datetime, ends: datetime) -> None:
        web.add_talk(title=title, track=track, startsAt=starts.isoformat(), endsAt=ends.isoformat())

    hours, minutes = timedelta(hours=1), timedelta(minutes=1)
    talk("This morning", now - 5 * hours, now - 4 * hours)
    talk("Just over", now - 70 * minutes, now - 20 * minutes)
    talk("Running", now - 42 * minutes, edge)
    talk("Next today", edge, edge + 50 * minutes)
    talk("Tomorrow's first", now + 23 * hours, now + 24 * hours)
    talk("Tomorrow's second", now + 24 * hours, now + 25 * hours)
    # When an attendee opens that track's programme (its timers and clock the test's to move:
    # the service's clock, as the page keeps it, is its last answer's Date moved on by its own)
    page.clock.install()
    page.goto(web.url(f"/app/?track={quote(track)}"))
    cards = page.locator(".talk-card h2")
    # Then what runs comes first, then what is just over (to rate on leaving its room), then
    # what is to come, tomorrow's after today's, and this morning's talk after them
    expect(cards).to_have_text(
        [
            "Running",
            "Just over",
            "Next today",
            "Tomorrow's first",
            "Tomorrow's second",
            "This morning",
        ]
    )
    test_web_app.no_answer_to_come(page)
    # When "Running" ends and "Next today" starts, and the page's next redraw comes (half a
    # minute on, with no read of the programme between: its next check is a minute away)
    page.clock.run_for(31_000)
    # Then the talk that just ended is the first of those over, the latest first
    expect(cards).to_have_text(
        [
            "Next today",
            "Running",
            "Just over",
            "Tomorrow's first",
            "Tomorrow's second",
            "This morning",
        ]
    )


def test_a_talk_starting_while_the_programme_is_open_says_now_on_time(
    web: WebStack, page: Page
) -> None:
    # Given a programme left open on a talk that starts in twenty seconds, on a clock the test
    # moves
    track = f"Starting {unique_talk_id()}"
    starts = datetime.now(UTC) + timedelta(seconds=20)
    web.add_talk(title="About to start", track=track, **an_hour_from(starts))
    page.clock.install()
    page.goto(web.url(f"/app/?track={quote(track)}"))
    card = page.locator(".talk-card")
    expect(card).to_be_visible()
    expect(card).not_to_contain_text("Now")
    test_web_app.no_answer_to_come(page)
    # When it starts, Then its card says "Now" at once (the page's clock moved 21 s, short of
    # its next 30 s redraw, and stands still after: the real time the page takes to say it,
    # on a loaded machine, moves it no nearer that redraw)
    page.clock.pause_at(page.evaluate("Date.now()") / 1000 + 0.5)
    page.clock.run_for(21_000)
    expect(card).to_contain_text("Now", timeout=10_000)


def the_21st_of_30_opened(web: WebStack, page: Page) -> tuple[Locator, float]:
    """A track of 30 talks on the programme, scrolled down to the 21st, which is then opened:
    the programme's link to it, and how far the programme was scrolled."""
    track = f"Long day {unique_talk_id()}"
    start = datetime.now(UTC) + timedelta(days=1)
    for n in range(30):
        web.add_talk(title=f"Slot {n:02d}", track=track, **an_hour_from(start + timedelta(hours=n)))
    page.goto(web.url(f"/app/?track={quote(track)}"))
    link = page.get_by_role("link", name="Slot 20", exact=True)
    link.scroll_into_view_if_needed()
    scrolled: float = page.evaluate("window.scrollY")
    assert scrolled > 1000
    link.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Slot 20")
    return link, scrolled


def test_back_from_a_talk_returns_to_the_same_place_in_the_programme(
    web: WebStack, page: Page
) -> None:
    # Given a programme of 30 talks, scrolled down to the 21st on a phone
    # When the attendee opens that talk, and comes back
    link, scrolled = the_21st_of_30_opened(web, page)
    page.go_back()
    # Then the programme is where they left it, the keyboard on the talk they came from
    expect(link).to_be_focused(timeout=REACTION_MS)
    assert abs(page.evaluate("window.scrollY") - scrolled) <= 1


def test_back_that_loads_a_newer_version_returns_to_the_same_place_too(
    web: WebStack, page: Page
) -> None:
    # Given a programme of 30 talks in the version published then, scrolled down to the 21st,
    # and that talk opened (drawn in place)
    app = PublishedApp("a1a1a1a1a1a1a1a1")
    app.route(page)
    link, scrolled = the_21st_of_30_opened(web, page)
    # When a newer version is published, the phone has seen it, and the attendee goes Back
    app.publish(page, "b2b2b2b2b2b2b2b2")
    page.go_back()
    # Then the programme is loaded whole in the newer version, where they left it, the keyboard
    # on the talk they came from
    expect(link).to_be_focused(timeout=REACTION_MS)
    assert app.running(page) == ["/app/b/b2b2b2b2b2b2b2b2/js/main.js"]
    assert abs(page.evaluate("window.scrollY") - scrolled) <= 1
    # And a reload afterwards is a reload: the page from its top
    page.evaluate("window.scrollTo(0, 300)")
    page.reload()
    expect(link).to_be_visible()
    test_web_app.reads_answered(page)  # (a position put back as a read's list is drawn, by now)
    assert page.evaluate("window.scrollY") == 0


@pytest.mark.parametrize("path", ["/app/", "/app/admin"])
def test_a_long_search_without_spaces_wraps_in_the_line_that_quotes_it(
    web: WebStack, page: Page, path: str
) -> None:
    # Given the programme (or the organisers' table) on a phone
    web.add_talk(title=f"Wrapped {unique_talk_id()}")
    page.goto(web.url(path))
    if path == "/app/admin":
        page.get_by_label("Organiser token").fill(web.token)
        page.get_by_role("button", name="Sign in").click()
    search = page.get_by_role("searchbox", name="Search talks")
    expect(search).to_be_visible()
    # When an attendee pastes a search of 200 letters without a space
    search.fill("a" * 200)
    expect(page.get_by_text("No talk matches", exact=False)).to_be_visible()
    # Then the line that quotes it wraps: the page does not scroll sideways
    widths = page.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert widths[0] <= widths[1], widths


def test_the_search_s_count_is_said_once_the_typing_pauses(web: WebStack, page: Page) -> None:
    # Given a track of four talks that each letter of "Seas" narrows by one
    track = f"Typed {unique_talk_id()}"
    for title in ["Sandwiches", "Sentinels", "Search engines", "Seaside walks"]:
        web.add_talk(title=title, track=track)
    page.clock.install()  # (time flows; the test moves it on past each pause)
    page.goto(web.url(f"/app/?track={quote(track)}"))
    status = page.locator("main .list-head [role=status]")
    expect(status).to_have_text(re.compile(r"^4 of \d+ talks$"))
    total = status.inner_text().split(" of ")[1]
    # (every text the count line, a live region, is given from now on)
    page.evaluate(
        """(line) => {
          window.said = [];
          new MutationObserver(() => window.said.push(line.textContent))
            .observe(line, { childList: true, characterData: true, subtree: true });
        }""",
        status.element_handle(),
    )
    # When an attendee types "Seas" at a key each quarter of a second, and stops
    search = page.get_by_role("searchbox", name="Search talks")
    search.press_sequentially("Seas", delay=250)
    # Then the list follows the keys, and the count is said once, once the typing paused
    expect(page.locator(".talk-card h2")).to_have_text(["Seaside walks"])
    expect(status).to_have_text(f"1 of {total}")
    page.clock.run_for(1500)  # (the page's timers of the next 1.5 s, run now)
    assert page.evaluate("window.said") == [f"1 of {total}"]
    # When the attendee deletes a letter, Then that search's count is said, once
    search.press("Backspace")
    expect(status).to_have_text(f"2 of {total}")
    page.clock.run_for(1500)
    assert page.evaluate("window.said") == [f"1 of {total}", f"2 of {total}"]


@pytest.mark.parametrize(
    ("language", "speakers", "line"),
    [
        ("ar", ["سميرة حداد", "يوسف علي", "ليلى منصور"], "سميرة حداد ويوسف علي وليلى منصور"),
        ("de", ["Anna Weber", "Jonas Klein", "Eva Roth"], "Anna Weber, Jonas Klein und Eva Roth"),
        ("ja", ["山田花子", "佐藤健"], "山田花子、佐藤健"),
        (None, ["Ada Lovelace", "Grace Hopper", "Alan Turing"], "Ada Lovelace, Grace Hopper and Alan Turing"),
        ("en-US", ["Ada Lovelace", "Grace Hopper"], "Ada Lovelace and Grace Hopper"),
        ("tlh", ["Ada Lovelace", "Grace Hopper"], "Ada Lovelace and Grace Hopper"),
    ],
)  # fmt: skip
def test_a_talk_s_speakers_are_listed_the_way_its_language_lists_them(
    web: WebStack, page: Page, language: str | None, speakers: list[str], line: str
) -> None:
    # Given a talk in a language (or none, or one the browser has no list format for), with
    # its speakers
    track = f"Listed {unique_talk_id()}"
    talk = web.add_talk(
        title=f"Speakers {unique_talk_id()}",
        speakers=speakers,
        track=track,
        **({"language": language} if language else {}),
    )
    # When its card on the programme, its page, its room screen and its row of the organisers'
    # table are shown, Then each lists its speakers as that language does (an Arabic list
    # joined with "و", not a Latin comma), in English ("A, B and C", as `talkrate show` writes
    # them; it was "A, B, C") where the talk is in English or has no language it knows
    page.goto(web.url(f"/app/?track={quote(track)}"))
    card = page.locator(".talk-card .speakers")
    expect(card).to_have_text(line)
    # And a screen reader hears that line, its English "and" in English in a talk of another
    # language (not in the talk's voice)
    expect(card).to_match_aria_snapshot(f"- paragraph: {line}")
    if language == "tlh":
        expect(card.locator("[lang=en]")).to_have_text("and")
    page.goto(web.url(f"/app/talks/{talk['id']}"))
    expect(page.locator("main .meta > span").first).to_have_text(line)
    page.goto(web.url(f"/app/talks/{talk['id']}/screen"))
    expect(page.locator(".screen-head .speakers")).to_have_text(line)
    page.goto(web.url(f"/app/admin?q={quote(talk['title'])}"))
    page.get_by_label("Organiser token").fill(web.token)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator(".talk-speakers")).to_have_text(line)


def test_skip_to_content_moves_to_the_page_without_drawing_it_again(
    web: WebStack, page: Page
) -> None:
    # Given the programme, drawn and live (its read after subscribing sent: CI once saw that
    # read land after the keypress)
    web.add_talk(title=f"Skippable {unique_talk_id()}")
    reads = catalogue_reads(page)
    open_live(page, web.url("/app/"), reads)
    expect(page.locator(".talk-card").first).to_be_visible()
    page.evaluate("window.drawn = document.querySelector('main h1')")
    reads.clear()
    # When a keyboard user follows "Skip to content"
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused(timeout=REACTION_MS)
    page.keyboard.press("Enter")
    # Then the keyboard is in the page's content, which is the same page, not read again
    expect(page.locator("main")).to_be_focused(timeout=REACTION_MS)
    assert page.evaluate("window.drawn === document.querySelector('main h1')")
    assert page.url.endswith("#main")
    assert reads == []


def catalogue_reads(page: Page) -> list[str]:
    """The page's reads of the programme's catalogue (GET /talks?...), as they are sent."""
    reads: list[str] = []
    page.on("request", lambda r: reads.append(r.url) if "/talks?" in r.url else None)
    return reads


def open_live(page: Page, path: str, reads: list[str]) -> None:
    """Open a page and wait until it is subscribed and its read after subscribing is done,
    every page of it (a catalogue past 100 talks, as a whole suite's runtime holds, is read on
    a page after the first: that page, sent after this returned, was taken for a read again)."""
    frames: list[Any] = []
    answered: list[str] = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda frame: frames.append(frame)))
    page.on("requestfinished", lambda r: answered.append(r.url) if "/talks?" in r.url else None)
    page.on("requestfailed", lambda r: answered.append(r.url) if "/talks?" in r.url else None)
    page.goto(path)
    for _ in range(150):
        # Each read of the catalogue starts at offset 0 (a long one reads on, 100 talks a
        # page): the one at the start, and the one after subscribing; each page answered, and
        # no next one sent within 0.3 s of the last answer.
        starts = sum(1 for read in reads if "offset=0" in read)
        live = any("subscribe_success" in str(f) for f in frames) and starts >= 2
        if live and len(answered) == len(reads):
            sent = len(reads)
            page.wait_for_timeout(300)
            if len(reads) == sent:
                return
        page.wait_for_timeout(100)
    raise AssertionError(f"not live: {frames}, {reads}")


def test_ratings_arriving_update_the_programme_without_reading_it_again(
    web: WebStack, page: Page
) -> None:
    # Given the programme of a track, open and live
    track = f"Busy {unique_talk_id()}"
    talk = web.add_talk(title="Much rated", track=track)
    reads = catalogue_reads(page)
    frames: list[str] = []  # what the live channel brought, for a failure's message
    page.on("websocket", lambda ws: ws.on("framereceived", lambda f: frames.append(str(f)[:300])))
    open_live(page, web.url(f"/app/?track={quote(track)}"), reads)
    card = page.locator(".talk-card")
    expect(card).to_contain_text("0 ratings")
    read_before = len(reads)
    # When ratings arrive one after the other
    for n, value in enumerate([4, 5, 5, 4], start=1):
        answer = web.rate(talk["id"], value)
        # (counted first: an expectation looking longer than a quarter second looks again every
        # half second, which a rating shown a moment after its count would wait for)
        assert wait_for(lambda n=n: web.count(talk["id"]) == n), f"rating {n} not counted"
        # Then the card follows each of them
        try:
            expect(card).to_contain_text(f"{n} rating", timeout=10_000)
        except AssertionError as error:
            raise AssertionError(
                f"{error}\nrating {n} ({answer.json}) not shown; live frames, last 6: "
                f"{frames[-6:]}\nthe runtime said: {live_lines(web, talk['id'])}"
            ) from None
    expect(card).to_contain_text("★ 4.50")
    # And the page did not read the whole catalogue again for them
    assert reads[read_before:] == []


def live_lines(web: WebStack, talk_id: str) -> list[str]:
    """The runtime's lines of the live channel and of the rating's way (outbox, projector)."""
    log = web.runtime.log
    if log is None:
        return []
    words = ("announced", "outbox", "batch projected", "live", talk_id)
    lines = [line[:800] for line in log.read_text().splitlines() if any(w in line for w in words)]
    return [line for line in lines if "[gateway]" not in line][-12:]


def test_a_talk_an_organiser_adds_appears_on_an_open_programme_within_a_minute(
    web: WebStack, page: Page
) -> None:
    # Given the programme of a track, open and live (its clock the test's)
    track = f"Growing {unique_talk_id()}"
    web.add_talk(title="Known", track=track)
    page.clock.install()
    reads = catalogue_reads(page)
    open_live(page, web.url(f"/app/?track={quote(track)}"), reads)
    cards = page.locator(".talk-card")
    expect(cards).to_have_count(1)
    # When an organiser adds a talk to it, and a minute passes without any rating
    web.add_talk(title="Added since", track=track)
    page.clock.run_for(61_000)
    # Then the programme shows it
    expect(cards).to_have_count(2)


RTL_TITLE = "מה חדש ב-Python 3.13?"
# Where the first and the last character of a text (its only text node) stand on the screen.
ENDS_OF = """(text) => {
  const node = [...document.querySelectorAll("main *")].flatMap((e) => [...e.childNodes])
    .find((n) => n.nodeType === Node.TEXT_NODE && n.data.trim() === text);
  const at = (i) => {
    const range = document.createRange();
    range.setStart(node, i);
    range.setEnd(node, i + 1);
    return range.getBoundingClientRect().left;
  };
  const start = node.data.indexOf(text);
  return [at(start), at(start + text.length - 1)];
}"""


@pytest.fixture(scope="module")
def rtl_talk(web: WebStack) -> dict[str, Any]:
    """A rated talk with a Hebrew title, in a track of its own."""
    talk = web.add_talk(title=RTL_TITLE, track=f"RTL {unique_talk_id()}")
    web.rate(talk["id"], 5)
    return talk


@pytest.mark.parametrize(
    "path",
    [
        "/app/?track={track}",
        "/app/leaderboard?track={track}",
        "/app/admin",
        "/app/talks/{id}",
        "/app/talks/{id}/screen",
    ],
)
def test_a_right_to_left_title_reads_right_to_left_on_every_page(
    web: WebStack, page: Page, rtl_talk: dict[str, Any], path: str
) -> None:
    # Given a talk whose title is Hebrew, with a Latin name and a question mark in it
    # When it is shown on a page
    page.goto(web.url(path.format(id=rtl_talk["id"], track=quote(rtl_talk["track"]))))
    if path == "/app/admin":
        page.get_by_label("Organiser token").fill(web.token)
        page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text(RTL_TITLE, exact=True).first).to_be_visible(timeout=10_000)
    # Then it starts on the right and ends, with its question mark, on the left
    first, last = page.evaluate(ENDS_OF, RTL_TITLE)
    assert last < first, (first, last)


# The language each text node under `main` holding the text is in, as HTML settles it (the
# nearest `lang` around it), which a screen reader picks its voice by: null where only the
# document's own applies (`<html lang="en">`).
LANGUAGES_OF = """(text) => [...document.querySelectorAll("main *")]
  .flatMap((e) => [...e.childNodes])
  .filter((n) => n.nodeType === Node.TEXT_NODE && n.data.includes(text))
  .map((n) => n.parentElement.closest("[lang]"))
  .map((e) => (e === document.documentElement ? null : e.getAttribute("lang")))"""


def test_a_talk_s_language_is_the_lang_of_its_title_and_speakers_on_every_page(
    web: WebStack, page: Page
) -> None:
    # Given a talk an organiser said is in Hebrew (its title and speaker's name Hebrew), and
    # beside it in its track a talk in no language given; both rated (1: the whole board's
    # top, which other tests read, stays theirs)
    track = f"Lang {unique_talk_id()}"
    hebrew = web.add_talk(
        title="\u05d1\u05d3\u05d9\u05e7\u05d5\u05ea \u05e9\u05de\u05d7\u05d6\u05d9\u05e7\u05d5\u05ea",
        speakers=["\u05e0\u05d5\u05e2\u05d4 \u05db\u05d4\u05df"],
        track=track,
        language="he",
    )
    plain = web.add_talk(title="Tests that hold", speakers=["Ada Byron"], track=track)
    for talk in (hebrew, plain):
        web.rate(talk["id"], 1)
        assert wait_for(lambda talk=talk: web.count(talk["id"]) == 1)  # on the leaderboard
    he_texts = [hebrew["title"], *hebrew["speakers"]]
    plain_texts = [plain["title"], *plain["speakers"]]
    pages = [
        (f"/app/?track={quote(track)}", he_texts + plain_texts),
        (f"/app/talks/{hebrew['id']}", he_texts),
        (f"/app/talks/{plain['id']}", plain_texts),
        (f"/app/talks/{hebrew['id']}/screen", he_texts),
        (f"/app/talks/{plain['id']}/screen", plain_texts),
        (f"/app/leaderboard?track={quote(track)}", [hebrew["title"], plain["title"]]),
        ("/app/admin", he_texts + plain_texts),
        ("/app/admin/qr-codes", [hebrew["title"], plain["title"]]),
    ]
    for path, texts in pages:
        # When each page showing them is opened
        page.goto(web.url(path))
        if path == "/app/admin":
            page.get_by_label("Organiser token").fill(web.token)
            page.get_by_role("button", name="Sign in").click()
        for text in texts:
            expect(page.get_by_text(text, exact=True).first).to_be_visible(timeout=10_000)
            # Then the Hebrew talk's title and speaker are in Hebrew wherever they are shown,
            # and the other talk's in the page's own language
            expected = "he" if text in he_texts else None
            assert set(page.evaluate(LANGUAGES_OF, text)) == {expected}, (path, text)


# Where each letter of a word stands on the screen, [top, left] (in the first text node under
# `main` holding it, a track filter's choices aside).
LETTERS_OF = """(word) => {
  const node = [...document.querySelectorAll("main :not(option)")].flatMap((e) => [...e.childNodes])
    .find((n) => n.nodeType === Node.TEXT_NODE && n.data.includes(word));
  if (!node) return null;
  const start = node.data.indexOf(word);
  return [...word].map((_, i) => {
    const range = document.createRange();
    range.setStart(node, start + i);
    range.setEnd(node, start + i + 1);
    const box = range.getBoundingClientRect();
    return [Math.round(box.top), box.left];
  });
}"""


TRACK_MARK = unique_talk_id("track").replace("-", "")


@pytest.fixture(scope="module")
def overriding_talk(web: WebStack) -> dict[str, Any]:
    """A rated talk whose title, first speaker and track each hold a right-to-left override
    (U+202E), as an organiser may have pasted one before the API refused them (2026-12-04): what
    follows each is plain left-to-right text."""
    now = datetime.now(UTC)
    talk = web.saved_before(
        title="Rated \u202ebackwards on purpose",
        speakers=["\u202eAda Override", "Grace Hopper"],
        track=f"Track{TRACK_MARK} \u202eflipped",
        room="Hall Zeta",
        **an_hour_from(now - timedelta(minutes=10)),
    )
    web.rated({talk["id"]: [5]})  # on the leaderboard
    return talk


@pytest.mark.parametrize(
    ("path", "words"),
    [
        ("/app/?track={track}", ["Hopper", "Zeta"]),
        ("/app/leaderboard?track={track}", [TRACK_MARK]),
        ("/app/admin", ["Hopper"]),
        ("/app/talks/{id}", ["Hopper", TRACK_MARK, "Zeta"]),
        ("/app/talks/{id}/screen", ["Hopper"]),
    ],
)
def test_an_override_in_an_organiser_s_text_does_not_turn_what_follows_it_around(
    web: WebStack, page: Page, overriding_talk: dict[str, Any], path: str, words: list[str]
) -> None:
    # Given a talk whose title, first speaker and track hold a right-to-left override
    talk = overriding_talk
    # When a page shows it
    page.goto(web.url(path.format(id=talk["id"], track=quote(talk["track"]))))
    if path == "/app/admin":
        page.get_by_label("Organiser token").fill(web.token)
        page.get_by_role("button", name="Sign in").click()
    for word in words:
        expect(page.locator("main")).to_contain_text(word, timeout=10_000)
        # (in the page's text, not only in a choice of track, which a page may fill first)
        page.wait_for_function(f"(word) => ({LETTERS_OF})(word) && true", arg=word, timeout=10_000)
    # Then the words shown after an overridden one (the next speaker, the track after the
    # title, the room after the track) still read left to right, letter after letter (on each
    # line, where a narrow column breaks the word)
    for word in words:
        letters = [tuple(at) for at in page.evaluate(LETTERS_OF, word)]
        assert letters == sorted(set(letters)), (word, letters)


# A line joining an organiser's texts (speakers; a track, a room and a time): each of its text
# nodes in the order written, the pieces and the separators between them, with where it
# starts, [text, top, left, right] of its part on the first line it is on (a text the line
# wraps goes on on the next), and where each of its characters stands (their lefts). Words for
# screen readers alone (`.sr-only`: "On now:" beside the "Now" mark) are drawn nowhere: skipped.
TEXTS_OF = """(line) => {
  const shown = { acceptNode: (node) => node.parentElement.closest(".sr-only") ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT };
  const walker = document.createTreeWalker(line, NodeFilter.SHOW_TEXT, shown);
  const texts = [];
  const box = (node, start, end) => {
    const range = document.createRange();
    range.setStart(node, start);
    range.setEnd(node, end);
    return range.getBoundingClientRect();
  };
  while (walker.nextNode()) {
    const node = walker.currentNode;
    const range = document.createRange();
    range.selectNodeContents(node);
    const whole = range.getClientRects()[0] || range.getBoundingClientRect();
    const letters = Array.from(node.data, (_, i) => box(node, i, i + 1).left); // (no surrogates)
    texts.push([node.data, Math.round(whole.top), whole.left, whole.right, letters]);
  }
  return texts;
}"""

ARABIC_NAME = "سارة أحمد"
OTHER_ARABIC_NAME = "ليلى حسن"
BIDI_MARK = unique_talk_id("bidi").replace("-", "")
# The same, in Arabic letters: a right-to-left text made unique reads right to left throughout.
ARABIC_MARK = BIDI_MARK[-8:].translate(str.maketrans("0123456789abcdef", "ابتثجحخدذرزسشصضط"))
# The review's talk: a right-to-left name first, then a Latin one ending in a full stop, a track
# and a room ending in punctuation, which a right-to-left line put on the wrong side.
MIXED = {
    "title": f"Modern C++ Ranges {BIDI_MARK}",
    "speakers": [ARABIC_NAME, "Bjarne S."],
    "track": f"T{BIDI_MARK[-8:]} C++",
    "room": "Hall A (2nd floor)",
}
# Every text right-to-left but the time; the track ending in punctuation, which a left-to-right
# line put on its right.
RIGHT_TO_LEFT = {
    "title": f"نطاقات {BIDI_MARK}",
    "speakers": [ARABIC_NAME, OTHER_ARABIC_NAME],
    "track": f"مسار {ARABIC_MARK}!",
    "room": "قاعة ب",
}


@pytest.fixture(scope="module")
def bidi_talks(web: WebStack) -> dict[str, dict[str, Any]]:
    """The two talks above, running now, each rated (on the leaderboard)."""
    now = datetime.now(UTC)
    talks = {
        name: web.add_talk(**fields, **an_hour_from(now - timedelta(minutes=10)))
        for name, fields in (("mixed", MIXED), ("rtl", RIGHT_TO_LEFT))
    }
    web.rated({talk["id"]: [4] for talk in talks.values()})
    return talks


def reads(texts: list[list[Any]]) -> str:
    """Which way a line's texts follow each other on the screen: "ltr" when each stands on the
    right of the one before it, on one line, "rtl" when on its left, else what it saw."""
    boxes = [(top, left, right) for _, top, left, right, _ in texts]
    if max(top for top, _, _ in boxes) - min(top for top, _, _ in boxes) > 4:  # ("Now", a badge)
        return f"on several lines: {texts}"
    pairs = list(itertools.pairwise(boxes))
    if all(before[2] <= after[1] + 0.5 for before, after in pairs):
        return "ltr"
    if all(after[2] <= before[1] + 0.5 for before, after in pairs):
        return "rtl"
    return f"mixed: {[(text, left) for text, _, left, _, _ in texts]}"


def letters_read(text: str, lefts: list[float]) -> str:
    """Which way a text's letters follow each other: "ltr", "rtl", or what it saw."""
    if lefts == sorted(set(lefts)):
        return "ltr"
    if lefts == sorted(set(lefts), reverse=True):
        return "rtl"
    return f"{text!r} drawn out of order: {lefts}"


def open_bidi_page(web: WebStack, page: Page, path: str, talk: dict[str, Any]) -> None:
    page.goto(web.url(path.format(id=talk["id"], track=quote(talk["track"]))))
    if path == "/app/admin":
        page.get_by_label("Organiser token").fill(web.token)
        page.get_by_role("button", name="Sign in").click()


def assert_line_reads(line: Locator, pieces: list[str], way: str | None) -> None:
    """The line holds `pieces` (each a text node of its own, in this order), they follow each
    other `way` (if said), separators and all, and each piece reads in its own direction:
    Arabic right to left, the others left to right."""
    expect(line).to_contain_text(pieces[-1], timeout=10_000)
    texts = line.evaluate(TEXTS_OF)
    written = [text.strip() for text, *_ in texts]
    assert [text for text in written if text in pieces] == pieces, written
    if way:
        assert reads(texts) == way, (pieces, way)
    for text, _, _, _, lefts in texts:
        if text.strip() in pieces:
            own = "rtl" if re.match(r"\W*[\u0600-\u06ff]", text) else "ltr"
            assert letters_read(text, lefts) == own, (text, own)


# A laptop, and on the programme a window of one column of cards (at a laptop's width its two
# columns wrap a card's line of the track, the room and the time).
def bidi_context(browser: Browser, path: str) -> BrowserContext:
    width = 720 if path.startswith("/app/?") else 1600
    return browser.new_context(viewport={"width": width, "height": 900})


# Where a talk's line is on each page.
def bidi_line(page: Page, path: str, talk: dict[str, Any], line: str) -> Locator:
    if path == "/app/admin":
        return page.locator(".admin-talks tr", has_text=talk["title"]).locator(line)
    if path == "/app/admin/qr-codes":
        return page.locator(".qr-card", has_text=talk["title"]).locator(line)
    return page.locator(line)


@pytest.mark.parametrize(
    ("path", "lines"),
    [
        (
            "/app/?track={track}",
            [
                (".talk-card .speakers", MIXED["speakers"]),
                (".talk-card .meta", [MIXED["track"], MIXED["room"]]),
            ],
        ),
        ("/app/talks/{id}", [(".talk .meta", [*MIXED["speakers"], MIXED["track"], MIXED["room"]])]),
        ("/app/talks/{id}/screen", [(".screen-head .speakers", MIXED["speakers"])]),
        ("/app/admin", [(".talk-speakers", MIXED["speakers"])]),
    ],
)
def test_a_right_to_left_name_first_leaves_the_rest_of_its_line_as_typed(
    web: WebStack,
    browser: Browser,
    bidi_talks: dict[str, dict[str, Any]],
    path: str,
    lines: list[tuple[str, list[str]]],
) -> None:
    # Given a talk whose first speaker's name is Arabic, the second "Bjarne S.", its track
    # "…C++" and its room "Hall A (2nd floor)"
    talk = bidi_talks["mixed"]
    laptop = bidi_context(browser, path)
    try:
        page = laptop.new_page()
        # When a page shows it
        open_bidi_page(web, page, path, talk)
        # Then each line reads as the page does, left to right, one piece after the other in
        # the order typed, and each piece as typed: "Bjarne S." and "C++", not ".Bjarne S" and
        # "++C" (the Arabic name right to left within its place)
        for line, pieces in lines:
            assert_line_reads(bidi_line(page, path, talk, line), pieces, "ltr")
    finally:
        laptop.close()


@pytest.mark.parametrize(
    ("path", "lines"),
    [
        (
            "/app/?track={track}",
            [
                (".talk-card .speakers", RIGHT_TO_LEFT["speakers"], "rtl"),
                (".talk-card .meta", [RIGHT_TO_LEFT["track"], RIGHT_TO_LEFT["room"]], "ltr"),
            ],
        ),
        (
            "/app/talks/{id}",
            [
                (".talk .meta > span[dir='rtl']", RIGHT_TO_LEFT["speakers"], "rtl"),
                (
                    ".talk .meta",
                    [*RIGHT_TO_LEFT["speakers"], RIGHT_TO_LEFT["track"], RIGHT_TO_LEFT["room"]],
                    None,
                ),
            ],
        ),
        ("/app/talks/{id}/screen", [(".screen-head .speakers", RIGHT_TO_LEFT["speakers"], "rtl")]),
        ("/app/admin", [(".talk-speakers", RIGHT_TO_LEFT["speakers"], "rtl")]),
        ("/app/admin/qr-codes", [(".meta", [RIGHT_TO_LEFT["room"]], "ltr")]),
        ("/app/leaderboard?track={track}", [(".track-name", [RIGHT_TO_LEFT["track"]], None)]),
    ],
)
def test_a_line_of_right_to_left_names_reads_right_to_left_and_the_time_as_the_page(
    web: WebStack,
    browser: Browser,
    bidi_talks: dict[str, dict[str, Any]],
    path: str,
    lines: list[tuple[str, list[str], str | None]],
) -> None:
    # Given a talk whose speakers, track and room are Arabic (its time in the page's words)
    talk = bidi_talks["rtl"]
    laptop = bidi_context(browser, path)
    try:
        page = laptop.new_page()
        # When a page shows it
        open_bidi_page(web, page, path, talk)
        # Then a line of Arabic names only reads right to left, the first name on the right
        # (the talk page's speakers too, a group of their own in the line of the time); a line
        # that also holds the time reads as the page does, left to right, its Arabic pieces
        # first in the order typed; each piece reads right to left, its "!" on its left (the
        # leaderboard's track too, alone under the title)
        for line, pieces, way in lines:
            assert_line_reads(bidi_line(page, path, talk, line), pieces, way)
    finally:
        laptop.close()


# The track filter's pictures inside its border, shown closed with the chosen track and as a list
# (`size`, as its choices show when it opens: a browser's list follows each option's own
# direction), as the page draws it, then as it would draw it with the chosen track's text read
# right to left and left to right: the same select, its chosen option's text set plain with
# that direction.
def track_filter_pictures(page: Page, track: str) -> dict[str, list[Image.Image]]:
    select = page.locator("select#track")
    expect(select).to_have_value(track, timeout=10_000)
    # (its width held: a browser may size a select by its options again as one changes)
    select.evaluate("(select) => { select.style.width = `${select.offsetWidth}px`; }")

    def pictures() -> list[Image.Image]:
        shown = []
        for listed in (False, True):
            select.evaluate(
                "(select, listed) => { select.size = listed ? select.options.length : 0; }", listed
            )
            drawn = Image.open(io.BytesIO(select.screenshot())).convert("RGB")
            # (its rounded border aside)
            shown.append(drawn.crop((3, 3, drawn.width - 3, drawn.height - 3)))
        return shown

    drawn = {"drawn": pictures()}
    for way in ("rtl", "ltr"):
        select.evaluate(
            """(select, [text, way]) => {
              const option = select.options[select.selectedIndex];
              option.textContent = text;
              option.dir = way;
            }""",
            [track, way],
        )
        drawn[way] = pictures()
    return drawn


def same_pictures(some: list[Image.Image], others: list[Image.Image]) -> list[bool]:
    """Whether each picture of `some` is the one of `others` in its place, pixel for pixel."""
    return [
        one.size == other.size and ImageChops.difference(one, other).getbbox() is None
        for one, other in zip(some, others, strict=True)
    ]


@pytest.mark.parametrize("path", ["/app/?track={track}", "/app/leaderboard?track={track}"])
@pytest.mark.parametrize(("talk", "way"), [("rtl", "rtl"), ("mixed", "ltr")])
def test_a_track_filter_shows_a_right_to_left_track_as_it_reads_and_a_latin_one_as_before(
    web: WebStack,
    browser: Browser,
    bidi_talks: dict[str, dict[str, Any]],
    talk: str,
    way: str,
    path: str,
) -> None:
    # Given a talk whose track is Arabic ending in "!", and one whose track is Latin ending in
    # "C++"
    chosen = bidi_talks[talk]
    laptop = bidi_context(browser, path)
    try:
        page = laptop.new_page()
        # When the programme or the leaderboard is filtered by its track
        page.goto(web.url(path.format(track=quote(chosen["track"]))))
        pictures = track_filter_pictures(page, chosen["track"])
        # Then the filter draws it, chosen and among the choices, as its text reads: the Arabic
        # one right to left, its "!" on its left; the Latin one left to right, "C++" as typed
        other = "ltr" if way == "rtl" else "rtl"
        assert same_pictures(pictures["drawn"], pictures[way]) == [True, True], (chosen, way)
        assert same_pictures(pictures["drawn"], pictures[other]) == [False, False], (chosen, other)
    finally:
        laptop.close()


def test_a_right_to_left_title_quoted_in_the_organisers_words_reads_right_to_left(
    web: WebStack, page: Page, rtl_talk: dict[str, Any]
) -> None:
    # Given a talk whose title is Hebrew and ends in "Python 3.13?"
    # When an organiser opens it to edit it
    open_bidi_page(web, page, "/app/admin", rtl_talk)
    page.get_by_role("button", name=f"Edit {RTL_TITLE}").click()
    heading = page.get_by_role("heading", name=f"Edit “{RTL_TITLE}”")
    expect(heading).to_be_visible(timeout=REACTION_MS)
    # Then the quoted title starts on the right and ends, with its question mark, on the left,
    # between quotes that stay in the page's order
    texts = heading.evaluate(TEXTS_OF)
    assert [text for text, *_ in texts] == ["Edit ", "“", RTL_TITLE, "”"]
    assert reads(texts) == "ltr"
    lefts = texts[2][4]
    assert lefts[-1] < lefts[0], lefts


# The organisers' form's fields that take names, by their labels.
NAMED_FIELDS = ("Title", "Speakers (one per line)", "Track", "Room")


def test_the_organisers_fields_read_a_right_to_left_name_right_to_left_and_a_latin_one_as_before(
    web: WebStack, page: Page, bidi_talks: dict[str, dict[str, Any]]
) -> None:
    # Given a talk whose title, speakers, track ("…!") and room are Arabic
    talk = bidi_talks["rtl"]
    open_bidi_page(web, page, "/app/admin", talk)
    # When an organiser opens it to edit it
    page.get_by_role("button", name=f"Edit {talk['title']}").click()
    # Then each field that shows a name reads right to left (the direction the browser draws
    # it in), the track's "!" on its left
    for label in NAMED_FIELDS:
        expect(page.get_by_label(label, exact=True)).to_have_css(
            "direction", "rtl", timeout=REACTION_MS
        )
    # When the organiser types Latin names over them, a Latin speaker first
    page.get_by_label("Title", exact=True).fill("Ranges, again!")
    page.get_by_label("Speakers (one per line)").fill(f"Bjarne S.\n{ARABIC_NAME}")
    page.get_by_label("Track", exact=True).fill("C++")
    page.get_by_label("Room", exact=True).fill("Hall A (2nd floor)")
    # Then those read left to right, as before; the speakers' lines each their own way
    for label in NAMED_FIELDS:
        expect(page.get_by_label(label, exact=True)).to_have_css("direction", "ltr")
    speakers = page.get_by_label("Speakers (one per line)")
    expect(speakers).to_have_css("unicode-bidi", "plaintext")
    # When they add a talk and type its title in Arabic, letter by letter
    page.get_by_role("button", name="Cancel").click()
    page.get_by_role("button", name="Add a talk").click()
    title = page.get_by_label("Title", exact=True)
    title.press_sequentially(RIGHT_TO_LEFT["room"] + "!")
    # Then it reads right to left as it is typed; and a name searched for in Arabic too
    expect(title).to_have_css("direction", "rtl")
    search = page.get_by_role("searchbox", name="Search talks")
    search.fill(ARABIC_NAME)
    expect(search).to_have_css("direction", "rtl")


LONG_TITLE = "Unbreakable" * 24 + "Title" * 2 + "!" * 2  # 276 characters, no space


def test_a_title_without_spaces_keeps_the_organisers_table_on_a_desktop(
    web: WebStack, browser: Any
) -> None:
    # Given a talk whose title is one word of 276 characters
    talk = web.add_talk(title=LONG_TITLE, track="Long titles")
    desktop = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = desktop.new_page()
        # When an organiser signs in on a desktop
        page.goto(web.url("/app/admin"))
        page.get_by_label("Organiser token").fill(web.token)
        page.get_by_role("button", name="Sign in").click()
        edit = page.get_by_role("button", name=f"Edit {talk['title']}")
        expect(edit).to_be_visible()
        # Then the table fits its area, and the talk's Edit is on the screen
        widths = page.evaluate(
            """() => { const box = document.querySelector(".table-scroll");
                       return [box.scrollWidth, box.clientWidth]; }"""
        )
        assert widths[0] <= widths[1], widths
        box = edit.bounding_box()
        assert box is not None
        assert box["x"] + box["width"] <= 1280
    finally:
        desktop.close()


ORDINARY = "Everything You Know About Observability Infrastructure"


def test_the_leaderboard_keeps_ordinary_words_whole_on_a_narrow_phone(
    web: WebStack, browser: Any
) -> None:
    # Given a track with a talk of ordinary words and one whose title is one long word, rated
    track = f"Narrow {unique_talk_id()}"
    for title in (ORDINARY, LONG_TITLE):
        web.rate(web.add_talk(title=title, track=track)["id"], 4)
    narrow = browser.new_context(viewport={"width": 320, "height": 568})
    try:
        page = narrow.new_page()
        # When the track's leaderboard is shown on a 320 px phone
        page.goto(web.url(f"/app/leaderboard?track={quote(track)}"))
        expect(page.locator(".board tbody tr")).to_have_count(2, timeout=10_000)
        # Then every word of the ordinary title stands on one line
        broken = page.evaluate(
            """(title) => {
                 const node = [...document.querySelectorAll(".board a")].find((a) => a.textContent === title).firstChild;
                 const broken = [];
                 let at = 0;
                 for (const word of title.split(" ")) {
                   const range = document.createRange();
                   range.setStart(node, at);
                   range.setEnd(node, at + word.length);
                   if (range.getClientRects().length > 1) broken.push(word);
                   at += word.length + 1;
                 }
                 return broken;
               }""",
            ORDINARY,
        )
        assert broken == []
        # And the long one does not push the table or the page wider than the phone
        widths = page.evaluate(
            """() => [document.querySelector(".table-scroll").scrollWidth,
                      document.querySelector(".table-scroll").clientWidth,
                      document.documentElement.scrollWidth]"""
        )
        assert widths[0] <= widths[1], widths
        assert widths[2] <= 320, widths
    finally:
        narrow.close()


@pytest.mark.parametrize("width", [320, 1280])
def test_the_leaderboard_s_ranks_from_10_stand_on_one_line(
    web: WebStack, browser: Any, width: int
) -> None:
    # Given a track of twelve rated talks
    track = f"Ranks {unique_talk_id()}"
    talks = [web.add_talk(title=f"Ranked talk {n:02d}", track=track)["id"] for n in range(12)]
    # (counted before the board is opened: its first read then holds all twelve, with no
    # live message it could miss to wait for)
    web.rated({talk_id: [1 + n % 5] for n, talk_id in enumerate(talks)})
    context = browser.new_context(viewport={"width": width, "height": 900})
    try:
        page = context.new_page()
        # When its leaderboard is shown on a phone or a laptop
        page.goto(web.url(f"/app/leaderboard?track={quote(track)}"))
        expect(page.locator(".board tbody tr")).to_have_count(12, timeout=10_000)
        # Then every rank reads as one number on one line ("10", not "1" over "0"); talks of one
        # score share a rank (two 5s, two 4s, two 3s, three 2s, three 1s)
        lines = page.evaluate(
            """() => [...document.querySelectorAll(".board td.rank")].map((cell) => {
                 const range = document.createRange();
                 range.selectNodeContents(cell);
                 return [cell.textContent, range.getClientRects().length];
               })"""
        )
        ranks = [1, 1, 3, 3, 5, 5, 7, 7, 7, 10, 10, 10]
        assert [text for text, _ in lines] == [str(rank) for rank in ranks]
        assert [text for text, rects in lines if rects != 1] == []
    finally:
        context.close()


BADGE_TEXTS = """window.badgeTexts = [];
new MutationObserver(() => {
  const badge = document.querySelector(".live-badge");
  if (badge && badgeTexts[badgeTexts.length - 1] !== badge.textContent) badgeTexts.push(badge.textContent);
}).observe(document, { subtree: true, childList: true, characterData: true, attributes: true });"""


def test_the_live_badge_says_reconnecting_only_after_a_connection_was_lost(
    web: WebStack, page: Page
) -> None:
    # Given a page that notes every word its live badge says, on a connection the test can cut
    sockets = live_connections(page)
    page.add_init_script(BADGE_TEXTS)
    # When the leaderboard is opened for the first time
    page.goto(web.url("/app/leaderboard"))
    badge = page.locator(".live-badge")
    expect(badge).to_have_attribute("data-state", "live")
    # Then it said it was connecting, then live, never reconnecting
    assert page.evaluate("badgeTexts") == ["Connecting…", "Live"]
    # And once the connection is lost, it says it is reconnecting
    sockets[-1].close(code=1001, reason="gone")
    expect(badge).to_have_text("Reconnecting…")


def test_the_programme_says_whether_its_scores_are_live(web: WebStack, page: Page) -> None:
    # Given a programme on a connection the test can cut
    sockets = live_connections(page)
    track = f"Followed {unique_talk_id()}"
    web.add_talk(title="Scores that move", track=track)
    # When it is opened
    page.goto(web.url(f"/app/?track={quote(track)}"))
    badge = page.locator("main .live-badge")
    # Then it says its scores are live, beside the count of the talks shown (a phone's line
    # holds both)
    expect(badge).to_have_attribute("data-state", "live")
    expect(badge).to_have_text("Live")
    # (its dot drawn, not read out: a screen reader read "● Live" on every page)
    expect(badge).to_match_aria_snapshot("- paragraph: Live")
    # (measured once the count is drawn: "Loading the programme…" is wider, and the badge can
    # say "Live" before the list's read answers; seen once in CI)
    status = page.locator("main [role=status]").first
    expect(status).not_to_have_text("Loading the programme…")
    count = status.bounding_box()
    beside = badge.bounding_box()
    assert count
    assert beside
    assert beside["x"] >= count["x"] + count["width"]
    assert beside["y"] < count["y"] + count["height"]
    # And once the connection is lost, it says it is reconnecting, then live again
    sockets[-1].close(code=1001, reason="gone")
    expect(badge).to_have_text("Reconnecting…")
    expect(badge).to_have_text("Live", timeout=15_000)
    # And without a network, that the scores may be out of date
    page.context.set_offline(True)
    try:
        expect(badge).to_have_attribute("data-state", "offline")
        expect(badge).to_contain_text("may be out of date")
    finally:
        page.context.set_offline(False)


def test_an_average_not_there_yet_stands_by_its_label_and_a_far_day_says_its_year(
    web: WebStack, page: Page
) -> None:
    # Given a talk of 400 days ago, without ratings
    talk = web.add_talk(
        title="Long ago",
        track=f"Past {unique_talk_id()}",
        **an_hour_from(datetime.now(UTC) - timedelta(days=400)),
    )
    # When its page is opened
    page.goto(web.url(f"/app/talks/{talk['id']}"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Long ago")
    # Then its dash, the average not there yet, stands by its label as "4.50" would
    gap = page.evaluate(
        """() => { const avg = document.querySelector(".summary .average");
                   const range = document.createRange();
                   range.selectNodeContents(avg);
                   return document.querySelector(".avg-label").getBoundingClientRect().left
                     - range.getBoundingClientRect().right; }"""
    )
    assert 0 <= gap < 12, gap
    # And the programme says the year of its day
    year = str((datetime.now() - timedelta(days=400)).year)
    page.goto(web.url(f"/app/?track={quote(talk['track'])}"))
    expect(page.locator(".talk-card .meta")).to_contain_text(year)


# A title of the most the API takes (300 characters) in long words, one of a single 60-letter
# word, and a long list of speakers with long names.
WORDS = "Internationalisation Observability Reproducibility Interoperability Containerisation"
TITLE_300 = " ".join([WORDS] * 4)[:299] + "!"
WORD_60 = "Unbreakable" * 5 + "Words"
SPEAKERS = [
    "Maximiliane Wolfeschlegelsteinhausenbergerdorff",
    "Χαράλαμπος Παπαδημητρόπουλος",
    "Anna-Katharina Schmidt-Rottluff",
    "Jean-Baptiste de la Fontaine-Beaumarchais",
    "Siobhán Ní Dhomhnaill",
    "Oluwaseun Adebayo-Ogunleye",
]
# How many lines an element's text takes on the screen, and how many it would take uncut.
LINES = """(node) => {
  const height = parseFloat(getComputedStyle(node).lineHeight);
  return [node.getBoundingClientRect().height / height, node.scrollHeight / height];
}"""


@pytest.fixture(scope="module")
def long_talks(web: WebStack) -> list[dict[str, Any]]:
    """A rated talk with a 300-character title and six speakers, and one titled by a single
    60-letter word, in a track of their own."""
    track = f"Long {unique_talk_id()}"
    talks = [
        web.add_talk(title=TITLE_300, speakers=SPEAKERS, track=track, room="Hall L"),
        web.add_talk(title=WORD_60, speakers=["Ann Example"], track=track, room="Hall L"),
    ]
    for talk in talks:
        web.rate(talk["id"], 4)
    return talks


@pytest.mark.parametrize("width", [320, 390])
@pytest.mark.parametrize("where", ["programme", "leaderboard", "admin"])
def test_a_300_character_title_takes_a_few_lines_of_a_phone_and_is_still_read_whole(
    web: WebStack, browser: Any, long_talks: list[dict[str, Any]], where: str, width: int
) -> None:
    # Given a talk titled with 300 characters of long words, by six speakers, and one whose
    # title is one 60-letter word, on a phone
    track = long_talks[0]["track"]
    narrow = browser.new_context(viewport={"width": width, "height": 844})
    try:
        page = narrow.new_page()
        # When the programme, the leaderboard or the organisers' table shows them
        if where == "programme":
            page.goto(web.url(f"/app/?track={quote(track)}"))
            item = ".talk-card"
        elif where == "leaderboard":
            page.goto(web.url(f"/app/leaderboard?track={quote(track)}"))
            item = ".board tbody tr"
        else:
            page.goto(web.url(f"/app/admin?q={quote(track)}"))
            page.get_by_label("Organiser token").fill(web.token)
            page.get_by_role("button", name="Sign in").click()
            item = ".admin-talks tbody tr"
        expect(page.locator(item)).to_have_count(2, timeout=10_000)
        # Then each title is still its link's whole name, for screen readers
        link = page.get_by_role("link", name=TITLE_300, exact=True)
        expect(link).to_be_visible()
        expect(page.get_by_role("link", name=WORD_60, exact=True)).to_be_visible()
        # And each shows three lines at most (the long one cut), its words wrapped, none running
        # out of its box sideways
        shown, whole = link.evaluate(LINES)
        assert shown <= 3.05 < whole, (shown, whole)
        word = page.get_by_role("link", name=WORD_60, exact=True)
        assert word.evaluate(LINES)[0] <= 3.05
        for each in (link, word):
            assert each.evaluate("(node) => node.scrollWidth <= node.clientWidth")
        # And the speakers, where listed, two at most
        speakers = page.locator(f"{item} :is(.speakers, .talk-speakers)").first
        if where != "leaderboard":
            assert speakers.evaluate(LINES)[0] <= 2.05
        # And no card or row is taller than half the phone, nor the page wider than it
        heights = page.locator(item).evaluate_all("(all) => all.map((e) => e.offsetHeight)")
        assert max(heights) <= 844 / 2, heights
        widths = page.evaluate(
            "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )
        assert widths[0] <= widths[1] == width
    finally:
        narrow.close()


def test_the_talk_page_shows_a_300_character_title_whole_with_its_stars_on_the_first_screen(
    web: WebStack, page: Page, long_talks: list[dict[str, Any]]
) -> None:
    # Given a talk titled with 300 characters of long words, opened on a 390x844 phone
    page.goto(web.url(f"/app/talks/{long_talks[0]['id']}"))
    title = page.get_by_role("heading", level=1)
    expect(title).to_have_text(TITLE_300)
    # Then its title is shown whole, nothing cut
    shown, whole = title.evaluate(LINES)
    assert whole - shown < 0.5, (shown, whole)
    # And the stars are on the first screen, without scrolling
    box = page.get_by_role("button", name="Rate 5 out of 5", exact=True).bounding_box()
    assert box is not None
    assert box["y"] + box["height"] <= 844, box
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    # (so nothing offers to show more of it)
    expect(page.get_by_role("button", name="Show the whole title")).to_be_hidden()


def test_on_a_small_phone_a_300_character_title_is_cut_to_keep_the_stars_on_screen_and_opens_whole(
    web: WebStack, browser: Any, long_talks: list[dict[str, Any]]
) -> None:
    # Given a talk titled with 300 characters of long words, opened on a 320x568 phone (where
    # the title alone is taller than the screen)
    small = browser.new_context(viewport={"width": 320, "height": 568})
    try:
        page = small.new_page()
        page.goto(web.url(f"/app/talks/{long_talks[0]['id']}"))
        title = page.get_by_role("heading", level=1)
        expect(title).to_have_text(TITLE_300)
        more = page.get_by_role("button", name="Show the whole title")
        expect(more).to_be_visible()
        # Then the title is cut to a few lines, its heading still the whole title for screen
        # readers, and the stars are on the first screen
        shown, whole = title.evaluate(LINES)
        assert 2 <= shown < whole - 3, (shown, whole)
        five = page.get_by_role("button", name="Rate 5 out of 5", exact=True)
        box = five.bounding_box()
        assert box is not None
        assert box["y"] + box["height"] <= 568, box
        assert page.evaluate("document.documentElement.scrollWidth") <= 320
        # When the attendee asks for the whole title (from the keyboard), it is shown whole, and
        # the button says so, keeping the keyboard focus (it fell to the page's start)
        expect(more).to_have_attribute("aria-expanded", "false")
        more.focus()
        page.keyboard.press("Enter")
        less = page.get_by_role("button", name="Show less of the title")
        expect(less).to_have_attribute("aria-expanded", "true")
        expect(less).to_be_focused(timeout=REACTION_MS)
        shown, whole = title.evaluate(LINES)
        assert whole - shown < 0.5, (shown, whole)
        # And a second press cuts it again, the focus still on the button
        page.keyboard.press("Space")
        expect(more).to_have_attribute("aria-expanded", "false")
        expect(more).to_be_focused(timeout=REACTION_MS)
        assert title.evaluate(LINES)[0] < whole - 3
        # And with the phone turned, the speakers cut too, the button keeps the focus
        page.set_viewport_size({"width": 568, "height": 320})
        expect(page.get_by_role("button", name="Show the whole title and speakers")).to_be_focused(
            timeout=REACTION_MS
        )
        # And on a taller screen (a window made larger) it is whole again, the keyboard on the
        # title the button opened, not on the page's start
        page.set_viewport_size({"width": 390, "height": 844})
        expect(more).to_be_hidden()
        expect(title).to_be_focused(timeout=REACTION_MS)
        shown, whole = title.evaluate(LINES)
        assert whole - shown < 0.5, (shown, whole)
    finally:
        small.close()


def test_with_text_at_200_percent_a_short_title_is_not_cut_when_cutting_it_saves_nothing(
    web: WebStack, browser: Any
) -> None:
    # Given a talk with a short title, its speakers, room and time, on a 390x844 phone whose
    # text is enlarged to 200% (its stars below the first screen, title whole or not)
    start = datetime.now(UTC) + timedelta(hours=1)
    talk = web.add_talk(
        title="A look at the Go scheduler",
        speakers=["Ann Example", "Bo Example"],
        track="Languages",
        room="Room 1",
        startsAt=start.isoformat(),
        endsAt=(start + timedelta(minutes=45)).isoformat(),
    )
    phone = browser.new_context(viewport={"width": 390, "height": 844})
    try:
        page = phone.new_page()
        page.goto(web.url(f"/app/talks/{talk['id']}"))
        title = page.get_by_role("heading", level=1)
        expect(title).to_have_text("A look at the Go scheduler")
        page.evaluate(
            "document.documentElement.style.fontSize = '200%'; dispatchEvent(new Event('resize'))"
        )
        # Then the title, the speakers and the room are shown whole (cut to two lines, with the
        # button to open it, it took more room than whole and the stars stayed below), once
        # the page has fitted its title again (200 ms after the resize)
        test_web_app.refitted(page)
        shown, whole = title.evaluate(LINES)
        assert whole - shown < 0.5, (shown, whole)
        expect(page.get_by_role("button", name=re.compile("^Show the whole title"))).to_be_hidden()
        expect(page.locator("main")).to_contain_text("Room 1")
        meta = page.locator(".clamped")
        expect(meta).to_have_count(0)
    finally:
        phone.close()


@pytest.mark.parametrize("size", ["1920x1080", "1280x720"])
def test_the_room_screen_fits_a_long_title_and_shows_a_60_letter_word_whole(
    web: WebStack, browser: Any, long_talks: list[dict[str, Any]], size: str
) -> None:
    width, height = map(int, size.split("x"))
    room = browser.new_context(viewport={"width": width, "height": height})
    try:
        screen = room.new_page()
        # Given the room screen of the talk with six speakers and 300 characters of title
        screen.goto(web.url(f"/app/talks/{long_talks[0]['id']}/screen"))
        expect(screen.get_by_role("heading", level=1)).to_have_text(TITLE_300)
        expect(screen.locator(".live-badge")).to_have_attribute("data-state", "live")
        # Then the screen fits the projector: nothing scrolls, the live state in view
        page_size = screen.evaluate(
            "[document.documentElement.scrollWidth, document.documentElement.scrollHeight]"
        )
        assert page_size == [width, height]
        badge = screen.locator(".live-badge").bounding_box()
        assert badge is not None
        assert badge["y"] + badge["height"] <= height
        # When the screen shows the talk titled by one 60-letter word
        screen.goto(web.url(f"/app/talks/{long_talks[1]['id']}/screen"))
        title = screen.get_by_role("heading", level=1)
        expect(title).to_have_text(WORD_60)
        # Then the word is shown whole, not cut with an ellipsis
        shown, whole = title.evaluate(LINES)
        assert whole - shown < 0.5, (shown, whole)
    finally:
        room.close()


def test_a_programme_listed_without_its_ratings_does_not_say_0_ratings(
    web: WebStack, page: Page
) -> None:
    # Given a talk with a rating, and the programme as the API lists it while its read model
    # does not answer: each talk without its summary
    talk = web.add_talk(title=f"Rated while the read model was away {unique_talk_id()}")
    web.rate(talk["id"], 5)
    assert wait_for(lambda: web.count(talk["id"]) == 1)  # its live message has gone by

    def without_summaries(route: Any) -> None:
        listed = route.fetch().json()
        for item in listed["items"]:
            item.pop("summary", None)
        route.fulfill(json=listed)

    page.route("**/talks?*", without_summaries)
    # When an attendee opens the programme
    page.goto(web.url(f"/app/?q={quote(talk['title'])}"))
    card = page.locator(".talk-card").filter(has_text=talk["title"])
    # Then its card says its ratings cannot be read now, not that nobody rated it
    expect(card).to_contain_text("Ratings not available just now")
    expect(card).not_to_contain_text("0 ratings")
    page.unroute_all(behavior="ignoreErrors")  # a read still on its way when the page closes


def test_a_track_s_empty_leaderboard_says_no_talk_of_that_track_was_rated(
    web: WebStack, page: Page
) -> None:
    # Given a rated talk in one track, and a track whose talk nobody rated yet
    stem = unique_talk_id()[-6:]
    rated = web.add_talk(title="Rated elsewhere", track=f"Rated {stem}")
    web.add_talk(title="Not rated yet", track=f"Quiet {stem}")
    web.rated({rated["id"]: [4]})
    page.goto(web.url("/app/leaderboard"))
    # When an attendee chooses the quiet track
    page.get_by_label("Track").select_option(f"Quiet {stem}")
    # Then the board says that no talk of that track was rated, not that no talk was
    # (the board's status line, beside the screen reader's announcements)
    board_status = page.get_by_role("status").filter(has_text="rated yet")
    expect(board_status).to_have_text(f"No talk in Quiet {stem} has been rated yet.")


def test_a_leaderboard_whose_reads_fail_keeps_its_board_and_says_since_when_it_is_shown(
    web: WebStack, page: Page
) -> None:
    # Given a track's leaderboard, open and live, on a clock the test moves
    track = f"Ranked {unique_talk_id()}"
    talk = web.add_talk(title="Ranked over a hall's Wi-Fi", track=track)
    web.rated({talk["id"]: [5]})
    page.clock.install()
    page.goto(web.url(f"/app/leaderboard?track={quote(track)}"))
    rows = page.locator(".board tbody tr")
    stale = page.get_by_test_id("leaderboard-stale")
    expect(rows).to_have_count(1)
    expect(page.locator(".live-badge")).to_have_attribute("data-state", "live")
    expect(stale).to_be_hidden()
    # When its reads start failing (the network drops them), and its minute's check comes
    page.route("**/leaderboard?*", lambda route: route.abort("internetdisconnected"))
    page.clock.run_for(61_000)
    # Then the board stays, and a line of its own says the service cannot be reached and
    # since when the board shown was read
    expect(stale).to_contain_text("The service cannot be reached.")
    expect(stale).to_contain_text(re.compile(r"The leaderboard shown was read at \d{1,2}:\d{2}"))
    expect(rows).to_have_count(1)
    # When the reads go through again, and the next check comes, Then the line goes (the
    # clock jumped past it as a laptop's opened again: a read waits 15 s of the page's clock for
    # its answer, which running through the minute could take from it)
    page.unroute("**/leaderboard?*")
    page.clock.fast_forward(65_000)
    expect(stale).to_be_hidden()
    expect(rows).to_have_count(1)


def test_a_track_whose_board_cannot_be_read_shows_no_other_track_s_board_under_its_name(
    web: WebStack, page: Page
) -> None:
    # Given the whole leaderboard, live, ranking a rated talk of one track, and another track
    # (rated 5 three times, it leads the board: rated 4 once, it tied with eleven talks of the
    # module for the board's 10th to 21st places, and fell out of its 20 as its random id did)
    stem = unique_talk_id()[-6:]
    rated = web.add_talk(title=f"Ranked elsewhere {stem}", track=f"Shown {stem}")
    web.add_talk(title=f"Of the chosen track {stem}", track=f"Chosen {stem}")
    web.rated({rated["id"]: [5, 5, 5]})
    page.goto(web.url("/app/leaderboard"))
    rows = page.locator(".board tbody tr")
    expect(rows.filter(has_text=f"Ranked elsewhere {stem}")).to_have_count(1)
    expect(page.locator(".live-badge")).to_have_attribute("data-state", "live")
    # When the attendee chooses the other track while the board's reads of a track are held
    # on their way (a hall's Wi-Fi), and then fail
    held: list[Route] = []
    failing: list[bool] = []

    def of_a_track(route: Route) -> None:
        if failing:
            route.abort("internetdisconnected")
        else:
            held.append(route)

    page.route(re.compile(r"/leaderboard\?.*track="), of_a_track)
    page.get_by_label("Track").select_option(f"Chosen {stem}")
    # Then while its read is on its way, the board before is gone and the page says the
    # chosen board is loading
    board_status = page.locator("main > p[role=status].muted")
    expect(board_status).to_have_text(f"Loading the board of Chosen {stem}…")
    expect(rows).to_have_count(0)
    # And once its read failed, that the chosen board could not be read, and why: no row of
    # another track ranked under its name, no word of a board shown
    deadline = time.monotonic() + 10
    while not held and time.monotonic() < deadline:
        page.wait_for_timeout(50)  # (the route's handler runs while the page is waited on)
    assert held
    failing.append(True)
    for route in held:
        route.abort("internetdisconnected")
    expect(board_status).to_have_text(
        f"The board of Chosen {stem} could not be read. "
        "The service cannot be reached. Check your connection."
    )
    expect(rows).to_have_count(0)
    expect(page.get_by_test_id("leaderboard-stale")).to_be_hidden()


def test_a_track_added_while_a_keyboard_user_is_on_the_track_field_leaves_them_there(
    web: WebStack, page: Page
) -> None:
    # Given a keyboard user on the live programme's Track field, a track chosen with an arrow key
    stem = unique_talk_id()[-6:]
    web.add_talk(title=f"In a track of its own {stem}", track=f"Before {stem}")
    page.goto(web.url("/app/"))
    expect(page.locator(".live-badge")).to_have_attribute("data-state", "live")
    field = page.get_by_label("Track")
    field.focus()
    page.keyboard.press("ArrowDown")
    chosen = field.input_value()
    assert chosen
    # When an organiser adds a talk in a new track, which the programme shows as it comes
    web.add_talk(title=f"In a new track {stem}", track=f"New {stem}")
    expect(field.locator("option", has_text=f"New {stem}")).to_have_count(1, timeout=10_000)
    # Then the keyboard focus is still on the field, its track still chosen: not thrown back
    # to the top of the page
    expect(field).to_be_focused(timeout=REACTION_MS)
    expect(field).to_have_value(chosen)
    # And the next arrow key moves on from there
    page.keyboard.press("ArrowDown")
    expect(field).not_to_have_value(chosen)


def test_a_track_added_while_the_leaderboard_is_open_can_be_chosen_there_at_once(
    web: WebStack, page: Page
) -> None:
    # Given an open leaderboard, a track chosen with the keyboard
    stem = unique_talk_id()[-6:]
    web.add_talk(title=f"In a track of its own {stem}", track=f"Before {stem}")
    page.goto(web.url("/app/leaderboard"))
    expect(page.locator(".live-badge")).to_have_attribute("data-state", "live")
    field = page.get_by_label("Track")
    expect(field.locator("option", has_text=f"Before {stem}")).to_have_count(1)
    field.focus()
    field.select_option(f"Before {stem}")
    # When an organiser adds a talk in a new track
    web.add_talk(title=f"In a new track {stem}", track=f"New {stem}")
    # Then the board offers it without a reload (it read its tracks once: a reload was needed),
    # keeping the track chosen and the focus
    expect(field.locator("option", has_text=f"New {stem}")).to_have_count(1, timeout=10_000)
    expect(field).to_have_value(f"Before {stem}")
    expect(field).to_be_focused(timeout=REACTION_MS)


def test_a_leaderboard_link_to_a_track_no_talk_has_shows_that_track_chosen(
    web: WebStack, page: Page
) -> None:
    # Given a link to the leaderboard of a track no talk has (renamed since, say)
    gone = f"Renamed {unique_talk_id()[-6:]}"
    # When an attendee follows it
    page.goto(web.url(f"/app/leaderboard?track={quote(gone)}"))
    # Then the board is that track's, and the track field says so, not "All tracks"
    board_status = page.get_by_role("status").filter(has_text="rated yet")
    expect(board_status).to_have_text(f"No talk in {gone} has been rated yet.")
    expect(page.get_by_label("Track")).to_have_value(gone)


def test_the_leaderboard_writes_big_counts_with_separators_as_the_other_pages_do(
    web: WebStack, page: Page
) -> None:
    # Given a leaderboard whose first talk has 25,000 ratings (the service's answer, its
    # count made big)
    talk = web.add_talk(title=f"Rated by a whole hall {unique_talk_id()}")
    web.rated({talk["id"]: [5]})

    def a_big_count(route: Any) -> None:
        board = route.fetch().json()
        for row in board["talks"]:
            row["count"] = 25000
        route.fulfill(json=board)

    page.route("**/leaderboard?*", a_big_count)
    # When an attendee opens it
    page.goto(web.url("/app/leaderboard"))
    # Then the count reads at a glance, as on the programme and the room screen
    expect(page.locator("table.board tbody tr td.num").nth(2)).to_have_text("25,000")
    page.unroute_all(behavior="ignoreErrors")


def test_a_programme_whose_reads_fail_keeps_its_count_and_says_since_when_it_is_shown(
    web: WebStack, page: Page
) -> None:
    # Given the programme of a track, open and live, on a clock the test moves
    track = f"Flaky {unique_talk_id()}"
    web.add_talk(title="Read over a hall's Wi-Fi", track=track)
    page.clock.install()
    reads = catalogue_reads(page)
    open_live(page, web.url(f"/app/?track={quote(track)}"), reads)
    status = page.locator("main [role=status]").first
    stale = page.get_by_test_id("programme-stale")
    expect(status).to_have_text(re.compile(r"^1 of \d+ talks$"))
    expect(stale).to_be_hidden()
    # When its reads start failing (the network drops them), and its minute's check comes
    page.route("**/talks?*", lambda route: route.abort("internetdisconnected"))
    page.clock.run_for(61_000)
    # Then the count stays, and a line of its own says the service cannot be reached and
    # since when the programme shown was read
    expect(stale).to_contain_text("The service cannot be reached.")
    expect(stale).to_contain_text(re.compile(r"The programme shown was read at \d{1,2}:\d{2}"))
    expect(status).to_have_text(re.compile(r"^1 of \d+ talks$"))
    # And the page's redraw (every 30 s, drawn as the clock runs past it) keeps both: the
    # error is not written over
    page.clock.run_for(31_000)
    expect(stale).to_contain_text("cannot be reached")
    expect(status).to_have_text(re.compile(r"^1 of \d+ talks$"))
    # When the reads go through again, and the next check comes, Then the line goes (the
    # clock jumped past it as a laptop's opened again: a read waits 15 s of the page's clock for
    # its answer, which running through the minute could take from it)
    page.unroute("**/talks?*")
    page.clock.fast_forward(65_000)
    expect(stale).to_be_hidden()
    expect(status).to_have_text(re.compile(r"^1 of \d+ talks$"))


def test_a_programme_never_read_keeps_saying_why_whatever_is_searched(
    web: WebStack, page: Page
) -> None:
    # Given the programme opened while the network drops its reads, so no talk is listed
    page.route("**/talks?*", lambda route: route.abort("internetdisconnected"))
    page.goto(web.url("/app/"))
    status = page.locator("main .list-head [role=status]")
    expect(status).to_have_text("The service cannot be reached. Check your connection.")
    # When the attendee types a search, and clears it
    for typed in ["nothing is called this", ""]:
        page.get_by_role("searchbox", name="Search talks").fill(typed)
        # (drawn: the address keeps the search, ?q=, or none)
        expect(page).to_have_url(re.compile(r"\?q=nothing" if typed else r"/app/$"))
        # Then the line still says why nothing is listed (a search wrote "0 talks" over it)
        expect(status).to_have_text("The service cannot be reached. Check your connection.")
    # When the reads go through again, Then the programme is listed and counted
    page.unroute("**/talks?*")
    test_web_app.the_page_reads_again(page)
    expect(status).to_have_text(re.compile(r"^\d+ talks$"))
    expect(page.locator(".talk-card").first).to_be_visible()


def test_a_programme_opened_again_whose_first_read_fails_says_when_the_one_shown_was_read(
    web: WebStack, page: Page
) -> None:
    # Given the programme read at the page's 14:30, on a clock the test moves
    track = f"Kept {unique_talk_id()}"
    web.add_talk(title="Shown again from the last read", track=track)
    page.clock.install(time=datetime(2026, 12, 3, 14, 30, tzinfo=UTC))
    page.goto(web.url(f"/app/?track={quote(track)}"))
    expect(page.locator(".talk-card")).to_have_count(1)
    read_at = page.evaluate(
        "new Date().toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }) + ' '"
        " + new Intl.DateTimeFormat([], { timeZoneName: 'short' }).formatToParts(new Date())"
        ".find((part) => part.type === 'timeZoneName').value"
    )
    # When the attendee goes to the leaderboard and, ten minutes later, back to the programme
    # (which shows the last read at once) while its reads fail
    page.get_by_role("link", name="Leaderboard").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Leaderboard")
    page.clock.fast_forward(600_000)
    page.route("**/talks?*", lambda route: route.abort("internetdisconnected"))
    page.go_back()
    # Then it says the programme shown is the one read at 14:30 (in the zone it names), not a
    # time it never read
    stale = page.get_by_test_id("programme-stale")
    expect(stale).to_contain_text(f"The programme shown was read at {read_at}.")
    expect(page.locator(".talk-card")).to_have_count(1)
