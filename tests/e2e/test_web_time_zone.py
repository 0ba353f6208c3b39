"""The venue's time zone (config.json's timeZone, the template's EventTimeZone) in a real
Chromium: a device far from the venue shows and takes the venue's times, named; without one,
each device keeps its own; a zone the browser does not know breaks no page.

The fixtures and helpers are test_web_app's; the config is the runtime's own, with its timeZone
set by a route (no runtime of its own is started for it).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from datetime import time as dt_time
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Route, expect

from tests.builders import unique_talk_id
from tests.e2e import test_web_app
from tests.e2e.conftest import REACTION_MS
from tests.e2e.test_web_admin import import_file, saved_by_another_organiser, search_talks, sign_in
from tests.e2e.test_web_app import SCREEN, TALK_PAGE, WebStack, an_hour_from
from tests.venue_cells import VENUE_CELLS

browser, web = test_web_app.browser, test_web_app.web

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

DEVICE = "America/Los_Angeles"  # the organiser's laptop and the room PC, far from the venue
VENUE = "Europe/Berlin"
# Each zone the times are expected in, with a locale whose short name of it is the one Python's
# zoneinfo gives ("CET" in en-GB, "PST" in en-US), and how that locale writes a time.
LOCALES = {VENUE: ("en-GB", "%H:%M"), DEVICE: ("en-US", "%I:%M %p")}


def with_time_zone(context: BrowserContext, zone: str | None) -> None:
    """The runtime's config.json, naming `zone` as the venue's (None: none)."""

    def named(route: Route) -> None:
        answer = route.fetch()
        route.fulfill(response=answer, json={**answer.json(), "timeZone": zone})

    context.route("**/app/config.json", named)


def first_read_fails(context: BrowserContext) -> list[str]:
    """The runtime's config.json naming the venue's zone, but for its first read, answered 503
    (a Wi-Fi blip); the reads made, kept in the list returned."""
    reads: list[str] = []

    def first_fails(route: Route) -> None:
        reads.append(route.request.url)
        if len(reads) == 1:
            route.fulfill(status=503, json={"title": "Unavailable"})
            return
        answer = route.fetch()
        route.fulfill(response=answer, json={**answer.json(), "timeZone": VENUE})

    context.route("**/app/config.json", first_fails)
    return reads


@pytest.fixture
def errors() -> Iterator[list[str]]:
    """The script errors of every page a test opens (see `device`): none is expected."""
    seen: list[str] = []
    yield seen
    assert seen == []


def device(browser: Browser, errors: list[str], locale: str, **options: Any) -> BrowserContext:
    """A browser in DEVICE's zone, its pages' script errors kept in `errors`."""
    context = browser.new_context(timezone_id=DEVICE, locale=locale, **options)
    context.on("page", lambda page: page.on("pageerror", lambda error: errors.append(str(error))))
    return context


TALK = timedelta(minutes=30)


# How long what a page calls "today" must stay so while a test reads it
STEADY = timedelta(minutes=1)


def steady_now() -> datetime:
    """Now, to the minute; just after the midnight of VENUE or DEVICE that comes within STEADY
    (waited for): no talk's day can be told the same way on both sides of it."""
    now = datetime.now(UTC)
    for zone in (VENUE, DEVICE):
        local = now.astimezone(ZoneInfo(zone))
        midnight = datetime.combine(local.date() + timedelta(days=1), dt_time(), ZoneInfo(zone))
        if midnight - now <= STEADY:
            time.sleep((midnight - now).total_seconds() + 1)
            now = datetime.now(UTC)
    return now.replace(second=0, microsecond=0)


def days_disagree(now: datetime) -> datetime:
    """The start of a half-hour talk within two days of `now`, today in one of VENUE and DEVICE
    and not in the other (and so for STEADY from now), and over before midnight in both: a day
    compared or named in the wrong zone shows."""

    def day(at: datetime, zone: str) -> Any:
        return at.astimezone(ZoneInfo(zone)).date()

    for minutes in range(40, 48 * 60, 10):
        start = now + timedelta(minutes=minutes)
        today, later = (
            {zone: day(start, zone) == day(at, zone) for zone in (VENUE, DEVICE)}
            for at in (now, now + STEADY)
        )
        if (
            today == later
            and today[VENUE] != today[DEVICE]
            and all(day(start + TALK, zone) == day(start, zone) for zone in (VENUE, DEVICE))
        ):
            return start
    raise AssertionError("no such start")  # (there is one every day: the days end 9 h apart)


# The zone config.json names, and the zone the pages' times are then in: the venue's; none, and
# the device's; one the browser does not know, and the device's.
CONFIGS = [(VENUE, VENUE), (None, DEVICE), ("Mars/Olympus_Mons", DEVICE)]


@pytest.mark.parametrize(("configured", "shown"), CONFIGS)
def test_every_page_shows_its_times_in_the_venue_s_zone_named_whatever_the_device_s(
    web: WebStack, browser: Browser, errors: list[str], configured: str | None, shown: str
) -> None:
    # Given a talk whose start is today in one of the venue's zone and the device's and not in
    # the other, and a room PC and an organiser's laptop in Los Angeles
    locale, time_format = LOCALES[shown]
    start = days_disagree(steady_now())
    track = f"Zoned {unique_talk_id()[-6:]}"
    talk = web.add_talk(
        title=f"Told in one zone {track}",
        track=track,
        startsAt=start.isoformat(),
        endsAt=(start + TALK).isoformat(),
    )
    local_start, local_end = (at.astimezone(ZoneInfo(shown)) for at in (start, start + TALK))
    starts, ends, zone_name = (
        local_start.strftime(time_format),
        local_end.strftime(time_format),
        local_start.tzname(),
    )
    day = local_start.strftime("%a %-d %b" if locale == "en-GB" else "%a, %b %-d")
    today = local_start.date() == datetime.now(UTC).astimezone(ZoneInfo(shown)).date()
    context = device(browser, errors, locale, viewport=test_web_app.ROOM)
    with_time_zone(context, configured)
    try:
        page = context.new_page()
        # When the programme is opened
        page.goto(web.url(f"/app/?track={quote(track)}"))
        # Then the talk's card says its day and time in that zone, named
        expect(page.locator(".talk-card .meta")).to_contain_text(f"{day} {starts} {zone_name}")
        # And so does the talk's page
        page.goto(web.url(TALK_PAGE.format(id=talk["id"])))
        expect(page.locator(".meta")).to_contain_text(f"{day} {starts}\u2013{ends} {zone_name}")
        # And the room screen says when rating opens, with the day only when it is not that
        # zone's today
        page.goto(web.url(SCREEN.format(id=talk["id"])))
        caption = page.get_by_test_id("qr-caption")
        expect(caption).to_contain_text(f"{starts} {zone_name}".replace(" ", "\u00a0"))
        said = re.sub(r"[\u00a0\u202f]", " ", caption.text_content() or "")
        assert said == (
            f"Rating opens {starts} {zone_name}"
            if today
            else f"Rating opens {day} {starts} {zone_name}"
        )
        # And the organisers' table shows the talk's times in it, named, and the form says so
        sign_in(web, page)
        page.get_by_role("searchbox", name="Search talks").fill(track)
        expect(page.locator(".admin-talks tbody tr")).to_have_count(1)
        expect(page.locator(".admin-talks td.when")).to_have_text(
            # (and, under them, whether it takes ratings now)
            re.compile(rf"{re.escape(day)}.* {starts} \u2013 {ends} {zone_name}Rating [^\n]*$")
        )
        page.get_by_role("button", name=f"Edit {talk['title']}").click()
        expect(page.get_by_label("Starts", exact=True)).to_have_value(
            local_start.strftime("%Y-%m-%dT%H:%M"), timeout=REACTION_MS
        )
        whose = "the venue's" if configured == shown else "this device's"
        expect(page.locator("#talk-zone")).to_have_text(f"Times in {shown}, {whose} time zone.")
        # And a zone the browser does not know is said once, on the organisers' page only
        unknown = page.get_by_test_id("zone-unknown")
        if configured and configured != shown:
            expect(unknown).to_have_text(
                f"The venue's time zone, {configured}, is not one this browser knows: times are "
                f"shown in this device's time zone, {DEVICE}."
            )
        else:
            expect(unknown).to_be_empty()
    finally:
        context.close()


def test_a_page_draws_no_time_before_it_knows_the_venue_s_zone(
    web: WebStack, browser: Browser, errors: list[str]
) -> None:
    # Given a talk that starts in two hours, and a room PC whose read of config.json is slow,
    # every caption its room screen ever shows kept
    start = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(hours=2)
    talk = web.add_talk(title="Drawn once", **an_hour_from(start))
    context = device(browser, errors, "en-GB", viewport=test_web_app.ROOM)
    held: list[Route] = []
    context.route("**/app/config.json", lambda route: held.append(route))
    context.add_init_script(
        "window.captions = [];"
        "new MutationObserver(() => document.querySelectorAll('.qr-caption')"
        ".forEach((caption) => window.captions.push(caption.textContent)))"
        ".observe(document, { childList: true, subtree: true, characterData: true });"
    )
    try:
        page = context.new_page()
        # When the room screen is put up, and the talk is read before the config
        with page.expect_response(lambda answer: answer.url.endswith(f"/talks/{talk['id']}")):
            page.goto(web.url(SCREEN.format(id=talk["id"])))
        assert len(held) == 1
        # Then the screen waits for it: no title, no time yet
        expect(page.get_by_role("heading", level=1)).to_have_text("Loading…")
        expect(page.get_by_test_id("qr-caption")).to_be_empty()
        # When the config comes, naming the venue's zone
        answer = held[0].fetch()
        held[0].fulfill(response=answer, json={**answer.json(), "timeZone": VENUE})
        # Then the caption says the venue's time, and never said another
        berlin = start.astimezone(ZoneInfo(VENUE))
        time_named = f"{berlin:%H:%M} {berlin.tzname()}"
        expect(page.get_by_test_id("qr-caption")).to_contain_text(time_named.replace(" ", "\u00a0"))
        captions = [
            re.sub(r"[\u00a0\u202f]", " ", text) for text in page.evaluate("window.captions")
        ]
        drawn = [text for text in captions if text]
        assert drawn, captions
        assert all(re.fullmatch(rf"Rating opens (.* )?{time_named}", text) for text in drawn), drawn
    finally:
        context.close()


def test_a_config_that_hangs_leaves_the_device_s_zone_within_seconds(
    web: WebStack, browser: Browser, errors: list[str]
) -> None:
    # Given a talk that starts in two hours, and a room PC whose config.json never comes (a
    # captive portal, a hall's Wi-Fi half out)
    start = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(hours=2)
    talk = web.add_talk(title="Never configured", **an_hour_from(start))
    context = device(browser, errors, "en-GB", viewport=test_web_app.ROOM)
    held: list[Route] = []
    context.route("**/app/config.json", lambda route: held.append(route))
    try:
        page = context.new_page()
        # When the room screen is put up
        page.goto(web.url(SCREEN.format(id=talk["id"])))
        # Then it shows its talk within seconds (it was blank for the read's whole 15 s), its
        # time in the device's zone, named
        expect(page.get_by_role("heading", level=1)).to_have_text(talk["title"], timeout=12_000)
        there = start.astimezone(ZoneInfo(DEVICE))  # (en-GB names Los Angeles' zone GMT-8)
        expect(page.get_by_test_id("qr-caption")).to_contain_text(f"{there:%H:%M}\u00a0GMT-")
        assert held
    finally:
        context.close()


def test_a_room_screen_whose_first_config_read_failed_takes_the_venue_s_zone_when_quiet(
    web: WebStack, browser: Browser, errors: list[str]
) -> None:
    # Given a talk that starts in two hours (its screen is quiet: no rating yet), and a room PC
    # in Los Angeles whose first read of config.json fails (a Wi-Fi blip), later ones naming
    # Berlin
    start = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(hours=2)
    talk = web.add_talk(title="Put up in a blip", **an_hour_from(start))
    context = device(browser, errors, "en-GB", viewport=test_web_app.ROOM)
    reads = first_read_fails(context)
    try:
        page = context.new_page()
        page.clock.install()
        page.goto(web.url(SCREEN.format(id=talk["id"])))
        # When it is put up, it says the device's time (named), the zone it took
        caption = page.get_by_test_id("qr-caption")
        expect(caption).to_contain_text("GMT-")
        # And when its live channel reads the config again, and it has been quiet a while (the
        # clock moved 5 s at a time, each step given its real time until the screen reloaded:
        # a loaded machine's reads take longer than a fixed count of steps allows)
        berlin = start.astimezone(ZoneInfo(VENUE))
        venue_time = f"{berlin:%H:%M}\u00a0{berlin.tzname()}"
        for _ in range(60):
            test_web_app.run_clock(page, steps=1, step_ms=5_000, settle_ms=300)
            if venue_time in (caption.text_content(timeout=5_000) or ""):
                break
        # Then it has reloaded itself into the venue's zone (nobody reloads a projector)
        expect(caption).to_contain_text(venue_time)
        assert len(reads) >= 3
    finally:
        context.close()


def test_a_room_screen_that_took_the_venue_s_zone_stays_put(
    web: WebStack, browser: Browser, errors: list[str]
) -> None:
    # Given a room screen that took the venue's zone, its talk two hours away (quiet)
    start = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(hours=2)
    talk = web.add_talk(title="Put up and left", **an_hour_from(start))
    context = device(browser, errors, "en-GB", viewport=test_web_app.ROOM)
    with_time_zone(context, VENUE)
    try:
        page = context.new_page()
        page.clock.install()
        page.goto(web.url(SCREEN.format(id=talk["id"])))
        berlin = start.astimezone(ZoneInfo(VENUE))
        expect(page.get_by_test_id("qr-caption")).to_contain_text(f"{berlin:%H:%M}")
        page.evaluate("window.putUp = true")
        # When it stands for a few of its quiet checks
        test_web_app.run_clock(page, steps=8, step_ms=5_000, settle_ms=300)
        # Then it has not reloaded itself (its zone is the config's: nothing to take)
        assert page.evaluate("window.putUp") is True
    finally:
        context.close()


def test_a_config_read_late_changes_no_zone_under_an_open_form(
    web: WebStack, browser: Browser, errors: list[str]
) -> None:
    # Given a talk, and an organiser in Los Angeles whose first read of config.json fails
    # (a Wi-Fi blip) while later ones name Berlin (the live channel reads it again)
    talk = web.add_talk(
        title=f"Kept where it was {unique_talk_id()[-6:]}",
        **an_hour_from(datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(days=2)),
    )
    before = web.runtime.request("GET", f"/talks/{talk['id']}").json
    context = device(browser, errors, "en-GB")
    reads = first_read_fails(context)
    try:
        page = context.new_page()
        sign_in(web, page)
        search_talks(page, talk["title"], 1)
        page.get_by_role("button", name=f"Edit {talk['title']}").click()
        expect(page.locator("#talk-zone")).to_have_text(
            f"Times in {DEVICE}, this device's time zone.", timeout=REACTION_MS
        )
        # When the config is read again, naming the venue's zone, and they save untouched
        deadline = datetime.now(UTC) + timedelta(seconds=20)
        while len(reads) < 2:
            assert datetime.now(UTC) < deadline, reads
            page.wait_for_timeout(200)
        page.get_by_role("button", name="Save").click()
        expect(page.get_by_test_id("admin-message")).to_contain_text("Saved", timeout=REACTION_MS)
        # Then the talk is where it was (its Los Angeles wall times were read as Berlin's, 9 h
        # off), and the page stays in one zone
        after = web.runtime.request("GET", f"/talks/{talk['id']}").json
        assert (after["startsAt"], after["endsAt"]) == (before["startsAt"], before["endsAt"])
        expect(page.locator(".admin-talks td.when").first).not_to_contain_text("CET")
    finally:
        context.close()


@pytest.fixture
def organiser(web: WebStack, browser: Browser, errors: list[str]) -> Iterator[Page]:
    """An organiser on a laptop in Los Angeles, signed in, preparing a conference in Berlin."""
    context = device(browser, errors, "en-GB")
    with_time_zone(context, VENUE)
    page = context.new_page()
    sign_in(web, page)
    yield page
    context.close()


def test_the_talk_form_asks_which_of_a_repeated_hour_and_takes_the_venue_s_wall_times(
    web: WebStack, organiser: Page
) -> None:
    # Given the form of a new talk on the night Berlin's clocks go back (02:00-03:00 twice)
    stem = unique_talk_id()[-6:]
    organiser.get_by_role("button", name="Add a talk").click()
    expect(organiser.locator("#talk-zone")).to_have_text(
        f"Times in {VENUE}, the venue's time zone."
    )
    # When the organiser types Berlin's 02:30 to 03:30 and adds the talk
    organiser.get_by_label("Title", exact=True).fill(f"At the clock change {stem}")
    organiser.get_by_label("Id (in the talk's address)").fill(f"fold-{stem}")
    starts = organiser.get_by_label("Starts", exact=True)
    starts.fill("2026-10-25T02:30")
    organiser.get_by_label("Ends", exact=True).fill("2026-10-25T03:30")
    organiser.get_by_role("button", name="Add the talk").click()
    # Then the start is refused at its field until the organiser says which 02:30 (it was the
    # first, unsaid), and nothing is sent
    assert starts.evaluate("(e) => e.validationMessage") == (
        f"Starts 2026-10-25 02:30 happens twice in {VENUE} (its clocks go back over it): "
        "choose which below"
    )
    assert web.runtime.request("GET", f"/talks/fold-{stem}").status == 404
    which = organiser.get_by_label("Which Starts time")
    expect(which.locator("option")).to_have_text(
        [
            "Which 02:30?",
            "The first, UTC+02:00",
            "The second, UTC+01:00",
        ]
    )
    # When they choose the first and add the talk
    which.select_option("0")
    organiser.get_by_role("button", name="Add the talk").click()
    expect(organiser.get_by_test_id("admin-message")).to_contain_text(
        f"Added “At the clock change {stem}”.", timeout=REACTION_MS
    )
    web.created.append(f"fold-{stem}")
    # Then the API holds the first 02:30 (summer time, 00:30 UTC) and 03:30 winter time
    saved = web.runtime.request("GET", f"/talks/fold-{stem}").json
    assert (saved["startsAt"], saved["endsAt"]) == ("2026-10-25T00:30:00Z", "2026-10-25T02:30:00Z")
    # And the table and the form show them as typed, in Berlin's hours
    organiser.get_by_role("searchbox", name="Search talks").fill(stem)
    expect(organiser.locator(".admin-talks tbody tr")).to_have_count(1)
    expect(organiser.locator(".admin-talks td.when")).to_contain_text("02:30 CEST \u2013 03:30 CET")
    organiser.get_by_role("button", name=f"Edit At the clock change {stem}").click()
    expect(organiser.get_by_label("Starts", exact=True)).to_have_value(
        "2026-10-25T02:30", timeout=REACTION_MS
    )
    expect(organiser.get_by_label("Ends", exact=True)).to_have_value("2026-10-25T03:30")
    # When they move it to the evening and save
    organiser.get_by_label("Starts", exact=True).fill("2026-10-25T19:00")
    organiser.get_by_label("Ends", exact=True).fill("2026-10-25T20:00")
    organiser.get_by_role("button", name="Save").click()
    expect(organiser.get_by_test_id("admin-message")).to_contain_text("Saved", timeout=REACTION_MS)
    # Then the API holds Berlin's 19:00 (18:00 UTC), not Los Angeles'
    saved = web.runtime.request("GET", f"/talks/fold-{stem}").json
    assert (saved["startsAt"], saved["endsAt"]) == ("2026-10-25T18:00:00Z", "2026-10-25T19:00:00Z")


def test_a_talk_from_the_first_to_the_second_of_a_repeated_hour_can_be_added(
    web: WebStack, organiser: Page
) -> None:
    # Given the form of a new talk of 30 minutes over Berlin's autumn change: 02:45 summer
    # time to 02:15 winter time
    stem = unique_talk_id()[-6:]
    organiser.get_by_role("button", name="Add a talk").click()
    organiser.get_by_label("Title", exact=True).fill(f"Over the change {stem}")
    organiser.get_by_label("Id (in the talk's address)").fill(f"over-{stem}")
    organiser.get_by_label("Starts", exact=True).fill("2027-10-31T02:45")
    organiser.get_by_label("Ends", exact=True).fill("2027-10-31T02:15")
    # When the organiser says the first 02:45 and the second 02:15
    organiser.get_by_label("Which Starts time").select_option("0")
    organiser.get_by_label("Which Ends time").select_option("1")
    organiser.get_by_role("button", name="Add the talk").click()
    # Then it is added (it was "The end must be after the start."), 00:45 to 01:15 UTC
    expect(organiser.get_by_test_id("admin-message")).to_contain_text(
        f"Added “Over the change {stem}”.", timeout=REACTION_MS
    )
    web.created.append(f"over-{stem}")
    saved = web.runtime.request("GET", f"/talks/over-{stem}").json
    assert (saved["startsAt"], saved["endsAt"]) == ("2027-10-31T00:45:00Z", "2027-10-31T01:15:00Z")


def test_a_talk_over_the_repeated_hour_is_saved_with_its_times_untouched(
    web: WebStack, organiser: Page
) -> None:
    # Given a talk from 02:45 summer time to 02:15 winter time the night Berlin's clocks go back
    stem = unique_talk_id()[-6:]
    talk = web.add_talk(
        title=f"Across the change {stem}",
        startsAt="2026-10-25T00:45:00Z",
        endsAt="2026-10-25T01:15:00Z",
    )
    # When an organiser changes its title only
    search_talks(organiser, stem, 1)
    organiser.get_by_role("button", name=f"Edit Across the change {stem}").click()
    expect(organiser.get_by_label("Ends", exact=True)).to_have_value(
        "2026-10-25T02:15", timeout=REACTION_MS
    )
    organiser.get_by_label("Title", exact=True).fill(f"Across the clock change {stem}")
    organiser.get_by_role("button", name="Save").click()
    # Then it is saved, its times as they were (the end's 02:15 was read as the first one,
    # before the start: "The end must be after the start.", and nothing could be saved)
    expect(organiser.get_by_test_id("admin-message")).to_contain_text("Saved", timeout=REACTION_MS)
    saved = web.runtime.request("GET", f"/talks/{talk['id']}").json
    assert (saved["title"], saved["startsAt"], saved["endsAt"]) == (
        f"Across the clock change {stem}",
        "2026-10-25T00:45:00Z",
        "2026-10-25T01:15:00Z",
    )


def test_the_choice_follows_the_field_and_moves_a_talk_to_the_other_of_a_repeated_hour(
    web: WebStack, organiser: Page
) -> None:
    # Given a talk at Berlin's second 02:30 (winter time, 01:30 UTC) the night its clocks go back
    stem = unique_talk_id()[-6:]
    talk = web.add_talk(
        title=f"Twice at half two {stem}",
        startsAt="2027-10-31T01:30:00Z",
        endsAt="2027-10-31T03:00:00Z",
    )
    search_talks(organiser, stem, 1)
    organiser.get_by_role("button", name=f"Edit Twice at half two {stem}").click()
    starts = organiser.get_by_label("Starts", exact=True)
    which = organiser.get_by_label("Which Starts time")
    # Then its own 02:30 shows which it is
    expect(which).to_have_value("1", timeout=REACTION_MS)
    # When the organiser types 02:45, then an hour that is not repeated: the choice goes
    starts.fill("2027-10-31T02:45")
    expect(which.locator("option").first).to_have_text("Which 02:45?")
    starts.fill("2027-10-31T04:30")
    expect(which).to_be_hidden()
    # When they type 02:30 again: the choice is 02:30's (it stayed 02:45's, or hidden), its own
    starts.fill("2027-10-31T02:30")
    expect(which.locator("option")).to_have_text(
        [
            "Which 02:30?",
            "The first, UTC+02:00",
            "The second, UTC+01:00",
        ]
    )
    expect(which).to_have_value("1")
    # When they choose the first and save
    which.select_option("0")
    organiser.get_by_role("button", name="Save").click()
    expect(organiser.get_by_test_id("admin-message")).to_contain_text("Saved", timeout=REACTION_MS)
    # Then the talk is at the first 02:30, 00:30 UTC (it stayed at 01:30, "Saved")
    saved = web.runtime.request("GET", f"/talks/{talk['id']}").json
    assert (saved["startsAt"], saved["endsAt"]) == ("2027-10-31T00:30:00Z", "2027-10-31T03:00:00Z")


def test_a_talk_moved_to_the_other_of_a_repeated_hour_keeps_the_move_over_someone_else_s_save(
    web: WebStack, organiser: Page
) -> None:
    # Given a talk at Berlin's second 02:30 (winter time, 01:30 UTC) the night its clocks go
    # back, and an organiser who moves it to the first 02:30 by the choice alone (the field's
    # 02:30 left as it is)
    stem = unique_talk_id()[-6:]
    talk = web.add_talk(
        title=f"Half two, first {stem}",
        room="Hall A",
        startsAt="2028-10-29T01:30:00Z",
        endsAt="2028-10-29T03:00:00Z",
    )
    search_talks(organiser, stem, 1)
    organiser.get_by_role("button", name=f"Edit Half two, first {stem}").click()
    which = organiser.get_by_label("Which Starts time")
    expect(which).to_have_value("1", timeout=REACTION_MS)
    which.select_option("0")
    # When another organiser moves its room and its end meanwhile, and this one saves
    saved_by_another_organiser(web, talk["id"], room="Hall B", endsAt="2028-10-29T03:30:00Z")
    organiser.get_by_role("button", name="Save").click()
    # Then the form says their version is shown with this organiser's change to the start (it
    # said "Save again to apply it", the start not counted as changed), the choice kept
    message = organiser.get_by_test_id("admin-message")
    expect(message).to_contain_text(
        "(they changed the room and the end): nothing was saved. The form now shows their "
        "version with your changes to the start: Save again to apply your changes, or Cancel.",
        timeout=REACTION_MS,
    )
    expect(organiser.get_by_label("Room", exact=True)).to_have_value("Hall B")
    expect(organiser.get_by_label("Starts", exact=True)).to_have_value("2028-10-29T02:30")
    expect(which).to_have_value("0")
    # And saving again keeps both: their room and end, the first 02:30
    organiser.get_by_role("button", name="Save").click()
    expect(message).to_contain_text(f"Saved “Half two, first {stem}”.", timeout=REACTION_MS)
    saved = web.runtime.request("GET", f"/talks/{talk['id']}").json
    assert (saved["room"], saved["startsAt"], saved["endsAt"]) == (
        "Hall B",
        "2028-10-29T00:30:00Z",
        "2028-10-29T03:30:00Z",
    )


def test_a_move_to_the_other_of_a_repeated_hour_stands_over_someone_else_s_new_start(
    web: WebStack, organiser: Page
) -> None:
    # Given a talk at Berlin's second 02:30 the night its clocks go back, moved by an organiser
    # to the first 02:30 by the choice alone
    stem = unique_talk_id()[-6:]
    talk = web.add_talk(
        title=f"Half two, both {stem}",
        startsAt="2028-10-29T01:30:00Z",
        endsAt="2028-10-29T03:00:00Z",
    )
    search_talks(organiser, stem, 1)
    organiser.get_by_role("button", name=f"Edit Half two, both {stem}").click()
    which = organiser.get_by_label("Which Starts time")
    expect(which).to_have_value("1", timeout=REACTION_MS)
    which.select_option("0")
    # When another organiser moves its start to 02:45 winter time (01:45 UTC) meanwhile, and
    # this one saves
    saved_by_another_organiser(web, talk["id"], startsAt="2028-10-29T01:45:00Z")
    organiser.get_by_role("button", name="Save").click()
    # Then both changed the start, and the form keeps this organiser's: 02:30, the first (their
    # 02:45 was taken in its place, the move lost)
    message = organiser.get_by_test_id("admin-message")
    expect(message).to_contain_text(
        "(they changed the start): nothing was saved. The form now shows their version with "
        "your changes to the start; you both changed the start, and the form keeps yours",
        timeout=REACTION_MS,
    )
    expect(organiser.get_by_label("Starts", exact=True)).to_have_value("2028-10-29T02:30")
    expect(which).to_have_value("0")
    organiser.get_by_role("button", name="Save").click()
    expect(message).to_contain_text(f"Saved “Half two, both {stem}”.", timeout=REACTION_MS)
    saved = web.runtime.request("GET", f"/talks/{talk['id']}").json
    assert (saved["startsAt"], saved["endsAt"]) == ("2028-10-29T00:30:00Z", "2028-10-29T03:00:00Z")


def test_a_move_to_the_other_of_a_repeated_hour_is_not_said_saved_by_an_earlier_try(
    web: WebStack, organiser: Page
) -> None:
    # Given a talk at Berlin's second 02:30 the night its clocks go back, whose title an
    # organiser fixes and which they move to the first 02:30 by the choice alone
    stem = unique_talk_id()[-6:]
    talk = web.add_talk(
        title=f"Half two typo {stem}",
        startsAt="2028-10-29T01:30:00Z",
        endsAt="2028-10-29T03:00:00Z",
    )
    search_talks(organiser, stem, 1)
    organiser.get_by_role("button", name=f"Edit Half two typo {stem}").click()
    organiser.get_by_label("Title", exact=True).fill(f"Half two, fixed {stem}")
    which = organiser.get_by_label("Which Starts time")
    which.select_option("0")
    # When another organiser fixes the title the same way meanwhile (the start left), and this
    # one saves
    saved_by_another_organiser(web, talk["id"], title=f"Half two, fixed {stem}")
    organiser.get_by_role("button", name="Save").click()
    # Then the page does not say the save went through (it said "Saved … (an earlier try had
    # gone through)" with the talk still at the second 02:30): the move is still to save
    message = organiser.get_by_test_id("admin-message")
    expect(message).to_contain_text(
        "(they changed the title): nothing was saved. The form now shows their version with "
        "your changes to the title and the start",
        timeout=REACTION_MS,
    )
    expect(which).to_have_value("0")
    organiser.get_by_role("button", name="Save").click()
    expect(message).to_contain_text(f"Saved “Half two, fixed {stem}”.", timeout=REACTION_MS)
    saved = web.runtime.request("GET", f"/talks/{talk['id']}").json
    assert saved["startsAt"] == "2028-10-29T00:30:00Z"


def test_a_device_in_berlin_without_a_venue_s_zone_is_asked_which_of_a_repeated_hour(
    web: WebStack, browser: Browser, errors: list[str]
) -> None:
    # Given an organiser's laptop in Berlin and no venue's zone (each device's own)
    context = browser.new_context(timezone_id=VENUE, locale="en-GB")
    context.on("page", lambda page: page.on("pageerror", lambda error: errors.append(str(error))))
    with_time_zone(context, None)
    page = context.new_page()
    sign_in(web, page)
    stem = unique_talk_id()[-6:]
    page.get_by_role("button", name="Add a talk").click()
    expect(page.locator("#talk-zone")).to_have_text(f"Times in {VENUE}, this device's time zone.")
    # When they type the 02:30 their clocks show twice, and add the talk
    page.get_by_label("Title", exact=True).fill(f"Device's change {stem}")
    page.get_by_label("Id (in the talk's address)").fill(f"devfold-{stem}")
    starts = page.get_by_label("Starts", exact=True)
    starts.fill("2027-10-31T02:30")
    page.get_by_label("Ends", exact=True).fill("2027-10-31T04:00")
    page.get_by_role("button", name="Add the talk").click()
    # Then they are asked which (it was the first, unsaid), and nothing is sent
    assert starts.evaluate("(e) => e.validationMessage") == (
        f"Starts 2027-10-31 02:30 happens twice in {VENUE} (its clocks go back over it): "
        "choose which below"
    )
    assert web.runtime.request("GET", f"/talks/devfold-{stem}").status == 404
    # When they choose the second and add it
    page.get_by_label("Which Starts time").select_option("1")
    page.get_by_role("button", name="Add the talk").click()
    expect(page.get_by_test_id("admin-message")).to_contain_text(
        f"Added “Device's change {stem}”.", timeout=REACTION_MS
    )
    web.created.append(f"devfold-{stem}")
    # Then it starts at the second 02:30 (winter time, 01:30 UTC)
    saved = web.runtime.request("GET", f"/talks/devfold-{stem}").json
    assert (saved["startsAt"], saved["endsAt"]) == ("2027-10-31T01:30:00Z", "2027-10-31T03:00:00Z")
    context.close()


def test_a_wall_time_the_venue_s_clocks_skip_is_refused_at_its_field(
    web: WebStack, organiser: Page
) -> None:
    # Given the form of a new talk on the night Berlin's clocks go forward (02:00 is 03:00)
    stem = unique_talk_id()[-6:]
    organiser.get_by_role("button", name="Add a talk").click()
    organiser.get_by_label("Title", exact=True).fill(f"In the gap {stem}")
    organiser.get_by_label("Id (in the talk's address)").fill(f"gap-{stem}")
    # When the organiser types 02:30 that night as its start, and tries to add it
    starts = organiser.get_by_label("Starts", exact=True)
    starts.fill("2027-03-28T02:30")
    organiser.get_by_label("Ends", exact=True).fill("2027-03-28T04:00")
    organiser.get_by_role("button", name="Add the talk").click()
    # Then the start is refused at its field, saying why, and nothing is sent
    assert starts.evaluate("(e) => e.validationMessage") == (
        f"Starts 2027-03-28 02:30 does not exist in {VENUE} (its clocks skip that hour)"
    )
    assert web.runtime.request("GET", f"/talks/gap-{stem}").status == 404
    # When they type 03:30 instead
    starts.fill("2027-03-28T03:30")
    organiser.get_by_role("button", name="Add the talk").click()
    web.created.append(f"gap-{stem}")
    # Then it is added, at Berlin's summer 03:30
    expect(organiser.get_by_test_id("admin-message")).to_contain_text(
        f"Added “In the gap {stem}”.", timeout=REACTION_MS
    )
    assert (
        web.runtime.request("GET", f"/talks/gap-{stem}").json["startsAt"] == "2027-03-28T01:30:00Z"
    )


def test_an_import_reads_a_time_without_a_zone_as_the_venue_s(
    web: WebStack, organiser: Page
) -> None:
    # Given a programme file whose times name no zone, one of them in the hour Berlin skips
    stem = unique_talk_id()[-6:]
    skipped = (
        "id,title,startsAt,endsAt\n"
        f"naive-{stem},Naive {stem},2026-12-05 10:00,2026-12-05T10:45\n"
        f"gap-{stem},Gap {stem},2027-03-28T02:30,2027-03-28T03:30\n"
    )
    # When the organiser chooses it
    import_file(organiser, skipped)
    # Then the line with the hour that does not exist is refused, alone, in the command line's
    # words: that start is its one problem (its end is not compared with a start refused)
    expect(organiser.locator(".import-errors li")).to_have_text(
        [
            f"line 3: startsAt 2027-03-28T02:30 does not exist in {VENUE} (its clocks skip that "
            "hour)",
        ]
    )
    # When they take that line out and choose the file again
    fixed = skipped.rsplit("\n", 2)[0] + "\n"
    organiser.get_by_label("Programme file (CSV)").set_input_files(
        files=[{"name": "programme.csv", "mimeType": "text/csv", "buffer": fixed.encode()}]
    )
    expect(organiser.locator("form.card")).to_contain_text("1 to add, 0 to change")
    expect(organiser.locator("#import-help")).to_contain_text(
        f"a time without a zone is the venue's, {VENUE}"
    )
    organiser.get_by_role("button", name="Import: add 1, change 0").click()
    web.created.append(f"naive-{stem}")
    expect(organiser.get_by_test_id("admin-message")).to_have_text(
        "Imported: 1 added, 0 changed, 0 unchanged.", timeout=REACTION_MS
    )
    # Then its times are Berlin's 10:00 and 10:45 (09:00 and 09:45 UTC)
    saved = web.runtime.request("GET", f"/talks/naive-{stem}").json
    assert (saved["startsAt"], saved["endsAt"]) == ("2026-12-05T09:00:00Z", "2026-12-05T09:45:00Z")


def test_the_results_file_is_named_by_the_venue_s_day(
    web: WebStack, browser: Browser, errors: list[str]
) -> None:
    # Given an organiser in Los Angeles at 20:00 on 4 December, already the 5th in Berlin
    context = device(browser, errors, "en-GB", accept_downloads=True)
    with_time_zone(context, VENUE)
    try:
        page = context.new_page()
        page.clock.set_system_time(datetime(2026, 12, 5, 4, 0, tzinfo=UTC))
        sign_in(web, page)
        # When they download the results
        with page.expect_download() as download:
            page.get_by_role("button", name="Download results (CSV)").click()
        # Then the file carries the venue's day
        assert download.value.suggested_filename == "talkrate-results-2026-12-05.csv"
    finally:
        context.close()


# Zones whose clocks change in every way a venue's may: forward and back an hour in either
# hemisphere, half an hour (Lord Howe), never (Kolkata), and a whole day skipped (Apia, 2011).
ZONES = [
    "Europe/Berlin",
    "America/New_York",
    "Australia/Sydney",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
    "Pacific/Apia",
]
# Days around their changes, every 15 minutes of each: (zone, first day, days)
DAYS = [
    ("Europe/Berlin", datetime(2027, 3, 27), 3),
    ("Europe/Berlin", datetime(2026, 10, 24), 3),
    ("America/New_York", datetime(2027, 3, 13), 3),
    ("America/New_York", datetime(2026, 11, 1), 2),
    ("Australia/Sydney", datetime(2027, 4, 3), 2),
    ("Australia/Sydney", datetime(2026, 10, 3), 3),
    ("Australia/Lord_Howe", datetime(2027, 4, 3), 2),
    ("Australia/Lord_Howe", datetime(2026, 10, 4), 1),
    ("Asia/Kolkata", datetime(2026, 12, 5), 1),
    ("Pacific/Apia", datetime(2011, 12, 29), 3),
]


def instant_of(wall: datetime, zone: str) -> str | None:
    """The instant a wall time is in the zone as Python's zoneinfo says it (the first of two;
    None for one the clocks skip), in UTC."""
    at = wall.replace(tzinfo=ZoneInfo(zone))  # (fold=0: the first of a repeated hour)
    utc = at.astimezone(UTC)
    if utc.astimezone(ZoneInfo(zone)).replace(tzinfo=None) != wall:
        return None
    return utc.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def test_the_page_turns_a_wall_time_into_the_instant_the_time_zone_database_gives(
    web: WebStack, browser: Browser, errors: list[str]
) -> None:
    # Given wall times every 15 minutes around each clock change of these zones
    walls = [
        (zone, first + timedelta(minutes=15 * n))
        for zone, first, days in DAYS
        for n in range(days * 96)
    ]
    context = device(browser, errors, "en-GB")
    try:
        page = context.new_page()
        page.goto(web.url("/app/"))
        # When the page turns each into an instant in its zone
        made = page.evaluate(
            """async (walls) => {
              const { instantOf, wallTime } = await import('/app/js/zone.js');
              return walls.map(([zone, text]) => {
                const [y, mo, d, h, mi] = text.split(/[-T:]/).map(Number);
                const at = instantOf(wallTime(y, mo, d, h, mi), zone);
                return at === null ? null : new Date(at).toISOString();
              });
            }""",
            [[zone, f"{wall:%Y-%m-%dT%H:%M}"] for zone, wall in walls],
        )
        # Then each is the one zoneinfo gives: the first of a repeated hour, none for a skipped one
        expected = [instant_of(wall, zone) for zone, wall in walls]
        wrong = [
            (z, f"{w:%Y-%m-%d %H:%M}", m, e)
            for (z, w), m, e in zip(walls, made, expected, strict=True)
            if m != e
        ]
        assert wrong == []
        assert None in expected  # (the skipped hours were asked)
    finally:
        context.close()


@pytest.mark.parametrize(("name", "cell", "venue_s", "none"), VENUE_CELLS)
def test_the_page_reads_a_time_without_a_zone_as_the_venue_s_wall_time(
    web: WebStack,
    browser: Browser,
    errors: list[str],
    name: str,
    cell: str,
    venue_s: str,
    none: str | None,
) -> None:
    # Given a programme file whose start cell is this
    text = f"id,title,startsAt\nw,W,{cell}\n"
    context = device(browser, errors, "en-GB")
    try:
        page = context.new_page()
        page.goto(web.url("/app/"))
        # When the organisers' page reads it, with the venue's zone and without one
        read = """async ([text, zone]) => {
          const m = await import('/app/js/programme-file.js');
          const { rows, errors } = m.readProgramme(text, zone);
          return errors.length ? errors[0].message : rows[0].fields.startsAt;
        }"""
        # Then with it a time that names no zone is the venue's, refused only where the venue's
        # clocks skip it (or the API would refuse it anyway)
        assert page.evaluate(read, [text, VENUE]) == venue_s, name
        # And without it such a time is refused, as it always was
        assert page.evaluate(read, [text, None]) == (
            none
            or f"line 2: startsAt {cell} names no time zone (write it as {cell}Z for UTC, or with "
            f"its offset, {cell}+01:00)"
        ), name
    finally:
        context.close()


# Each option's text as drawn in the select's own font, against the room the select gives it
# (its width less its padding, its border and the arrow's 24 px): [text width, room].
OPTION_ROOM = """(select) => {
  const style = getComputedStyle(select);
  const context = document.createElement("canvas").getContext("2d");
  context.font = `${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
  const room = select.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight) - 24;
  return [...select.options].map((option) => [context.measureText(option.text).width, room]);
}"""


def test_the_choice_of_a_repeated_hour_is_read_whole_on_a_narrow_phone(
    web: WebStack, browser: Browser, errors: list[str]
) -> None:
    # Given an organiser on a 320 px phone, adding a talk on the night Berlin's clocks go back
    context = device(browser, errors, "en-GB", viewport={"width": 320, "height": 640})
    with_time_zone(context, VENUE)
    page = context.new_page()
    sign_in(web, page)
    page.get_by_role("button", name="Add a talk").click()
    # When they type 02:30
    page.get_by_label("Starts", exact=True).fill("2026-10-25T02:30")
    which = page.get_by_label("Which Starts time")
    expect(which).to_be_visible()
    # Then the choice's question and both answers fit its field, uncut (the question, with the
    # date the field above shows, was cut to "2026-10-25 02:30 happens twice: w")
    for width, room in which.evaluate(OPTION_ROOM):
        assert width <= room, (width, room)
    assert errors == []
    context.close()
