"""The web app without a network, in a real Chromium: its service worker (web/sw.js) keeps the
app's files once a page of it was loaded, so a talk page opened offline (its QR code scanned
with the hall's Wi-Fi down) opens and keeps a rating, and a new version of the app drops the
files of the one before. The API's answers are never the worker's.

The fixtures are test_web_app's (its runtime asks for voter tokens and an event code).
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, Response, expect

from tests.builders import unique_talk_id
from tests.e2e import test_web_app as web_app
from tests.e2e.conftest import Runtime, wait_for
from tests.e2e.test_cli import ForwardingHandler
from tests.e2e.test_web_app import TALK_PAGE, WebStack, enter_event_code, star, waited_on
from tests.loopback import LoopbackServer

# test_web_app's fixtures, found by pytest under their names.
browser, phone, page, web = web_app.browser, web_app.phone, web_app.page, web_app.web

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

OFFLINE = "Waiting for the network: your rating will be sent when you are back online."
KNOWN = (
    "You are offline: the title is as this phone last read it. The talk's details and ratings "
    "will show when you are back online; you can rate it now."
)
UNKNOWN = (
    "You are offline: this talk's title and details will show when you are back online. You "
    "can rate it now: your rating is kept and sent then."
)
# Where a test's screenshots go (TALKRATE_SCREENSHOTS=folder), else its own temporary folder.
SHOTS = os.environ.get("TALKRATE_SCREENSHOTS")

# The worker's caches, and the address of every answer each holds.
CACHED = """async () => {
  const kept = {};
  for (const name of await caches.keys()) {
    kept[name] = (await (await caches.open(name)).keys()).map((request) => new URL(request.url).pathname);
  }
  return kept;
}"""


# The app's worker as the browser has it: its installing, waiting and active workers' states.
WORKERS = """async () => {
  const registration = await navigator.serviceWorker.getRegistration("/app/");
  if (!registration) return null;
  const { installing, waiting, active } = registration;
  return { installing: installing?.state, waiting: waiting?.state, active: active?.state };
}"""


def worker_in_charge(page: Page) -> str:
    """Until the app's service worker is in charge of the app's pages (installed with the app's
    files, then activated), so that every page load from then on is its; its cache's name.
    Not until it controls this page: clients.claim() takes the pages already loaded, and one
    whose load was under way as the worker activated (a slow install on a busy machine) stays
    uncontrolled until it loads again, as the specification has it (in Chromium, a page whose
    load was held while the worker activated was still not controlled 10 s on, and was at once
    after a reload). The tests check the next load. 20 s: the install took at most 1.1 s with
    both cores busy."""
    assert waited_on(
        page, lambda: (page.evaluate(WORKERS) or {}).get("active") == "activated", 20
    ), f"no service worker is in charge of the app's pages: {page.evaluate(WORKERS)}"
    names = page.evaluate("() => caches.keys()")
    assert len(names) == 1, names
    assert names[0].startswith("talkrate-app-"), names
    name: str = names[0]
    return name


def api_answers(page: Page) -> list[Response]:
    """Every answer the page gets from the API (not under /app/), as it comes."""
    answers: list[Response] = []
    page.on("response", lambda r: answers.append(r) if "/app/" not in r.url else None)
    return answers


def with_a_pass(web: WebStack, page: Page) -> None:
    """An attendee who rated a talk once online, with the event code: they hold a pass, and
    the app was loaded on their phone (a talk page, then the programme)."""
    warm_up = web.add_talk(title="The first talk of the day")
    page.goto(web.url(TALK_PAGE.format(id=warm_up["id"])))
    star(page, 5).click()
    enter_event_code(page)
    expect(page.get_by_test_id("own-rating")).to_contain_text("You rated 5 out of 5")


def shot(page: Page, tmp_path: Path, name: str) -> None:
    folder = Path(SHOTS) if SHOTS else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def test_a_talk_read_before_opens_offline_keeps_a_rating_and_it_counts_once_back_online(
    web: WebStack, page: Page, phone: BrowserContext, tmp_path: Path
) -> None:
    # Given an attendee whose phone loaded the app and read the programme, with a talk on it
    talk = web.add_talk(title="Rated with the hall's Wi-Fi down", speakers=["Ada Lovelace"])
    answers = api_answers(page)
    with_a_pass(web, page)
    page.goto(web.url("/app/"))
    expect(page.get_by_role("link", name=re.compile("Rated with the hall"))).to_be_visible()
    kept = worker_in_charge(page)

    # When the phone loses its network and they scan the talk's QR code (a new page load)
    phone.set_offline(True)
    page.goto(web.url(TALK_PAGE.format(id=talk["id"])))

    # Then the page opens, named as the phone read it, and says its details come back online
    expect(page.get_by_role("heading", level=1)).to_have_text(talk["title"])
    expect(page.locator(".talk .meta")).to_have_text("Ada Lovelace")
    expect(page.get_by_test_id("talk-read")).to_have_text(KNOWN)
    # And a tap is kept, in the usual words
    star(page, 4).click()
    expect(page.get_by_test_id("message")).to_have_text(OFFLINE)
    expect(page.get_by_test_id("own-rating")).to_have_text(
        "Waiting to send your rating: 4 out of 5."
    )
    shot(page, tmp_path, "offline-known-talk-390x844")
    # And the API is not answered from the worker's cache (the read fails as offline)
    assert (
        page.evaluate(
            "(id) => fetch(`/talks/${encodeURIComponent(id)}`).then(() => 'answered', () => 'failed')",
            talk["id"],
        )
        == "failed"
    )

    # When the network comes back
    phone.set_offline(False)

    # Then the talk is read, the 4 is sent and counted exactly once
    expect(page.get_by_test_id("own-rating")).to_contain_text("You rated 4 out of 5")
    expect(page.get_by_test_id("talk-read")).to_have_text("")
    expect(page.get_by_test_id("message")).to_have_text("")
    assert wait_for(lambda: web.count(talk["id"]) == 1), web.count(talk["id"])
    web.runtime.wait_until_projected()
    assert web.count(talk["id"]) == 1
    # And no answer of the API came from the worker, and the worker keeps only the app's files
    assert answers
    assert [a.url for a in answers if a.from_service_worker] == []
    cached = page.evaluate(CACHED)
    assert list(cached) == [kept]
    assert {"/app/", "/app/js/main.js", "/app/js/known.js"} <= set(cached[kept])
    assert all(path.startswith("/app/") for path in cached[kept]), cached
    assert "/app/config.json" not in cached[kept]


def test_a_talk_never_read_opens_offline_rates_and_shows_its_details_back_online(
    web: WebStack, page: Page, phone: BrowserContext, tmp_path: Path
) -> None:
    # Given an attendee whose phone loaded the app, and a talk added since (never read on it)
    with_a_pass(web, page)
    worker_in_charge(page)
    talk = web.add_talk(unique_talk_id("unseen"), title="A talk added after the programme was read")

    # When the phone is offline and they open the talk's page
    phone.set_offline(True)
    page.goto(web.url(TALK_PAGE.format(id=talk["id"])))

    # Then it opens, says plainly that its details show when back online, and takes a rating
    expect(page.get_by_role("heading", level=1)).to_have_text("Rate this talk")
    expect(page.get_by_test_id("talk-read")).to_have_text(UNKNOWN)
    star(page, 2).click()
    expect(page.get_by_test_id("message")).to_have_text(OFFLINE)
    shot(page, tmp_path, "offline-unknown-talk-390x844")

    # When the network comes back
    phone.set_offline(False)

    # Then its title shows, and the 2 is counted once
    expect(page.get_by_role("heading", level=1)).to_have_text(talk["title"])
    expect(page.get_by_test_id("own-rating")).to_contain_text("You rated 2 out of 5")
    assert wait_for(lambda: web.count(talk["id"]) == 1), web.count(talk["id"])
    web.runtime.wait_until_projected()
    assert web.count(talk["id"]) == 1


class AppProxy(LoopbackServer):
    """A forwarding proxy to the runtime, an origin of its own (so a worker of its own): it
    serves the worker as the runtime writes it for another version once `version` is set, and
    holds each load of a talk page whose id starts with "slow-" until `release` is set (a
    crowded hall's Wi-Fi), noting it in `held`."""

    def __init__(self, runtime: Runtime) -> None:
        proxy = self
        self.version: str | None = None
        self.release = threading.Event()
        self.held: list[str] = []

        class Forward(ForwardingHandler):
            def relay(self) -> None:
                if self.path.startswith("/app/talks/slow-"):
                    proxy.held.append(self.path)
                    proxy.release.wait(30)
                answer = self.forward(self.body())
                content = answer.body
                if self.path == "/app/sw.js" and proxy.version and answer.status == 200:
                    content = re.sub(
                        rb'const VERSION="[^"]+"',
                        f'const VERSION="{proxy.version}"'.encode(),
                        content,
                    )
                self.answer(answer.status, dict(answer.headers), content)

        Forward.runtime = runtime
        super().__init__(Forward)


@pytest.fixture
def proxy(web: WebStack) -> Iterator[AppProxy]:
    through = AppProxy(web.runtime)
    yield through
    through.release.set()
    through.close()


def test_a_new_version_of_the_app_drops_the_cache_of_the_one_before(
    proxy: AppProxy, page: Page, phone: BrowserContext
) -> None:
    # Given a phone that loaded the app: its worker keeps this version's files
    page.goto(proxy.url + "/app/")
    before = worker_in_charge(page)

    # When a new version is published (its worker names another version) and a page loads
    proxy.version = "0123456789abcdef"
    page.reload()

    # Then the new worker takes over at once, with the new version's cache, and the old one
    # is gone
    assert waited_on(
        page, lambda: page.evaluate("() => caches.keys()") == ["talkrate-app-0123456789abcdef"]
    ), (page.evaluate("() => caches.keys()"), before)
    # And the app opens offline from the new cache
    phone.set_offline(True)
    page.goto(proxy.url + "/app/leaderboard")
    expect(page.get_by_role("heading", name="Leaderboard", level=1)).to_be_visible()
    assert page.evaluate("() => navigator.serviceWorker.controller !== null")


def test_a_page_load_waits_for_a_slow_network_only_so_long(
    web: WebStack, proxy: AppProxy, page: Page
) -> None:
    # Given a phone that loaded the app, and a talk
    talk = web.add_talk(unique_talk_id("slow"), title="Opened on a crowded network")
    page.goto(proxy.url + "/app/")
    worker_in_charge(page)
    # When the network holds the talk page's load (a crowded hall's Wi-Fi; its reads pass)
    started = time.monotonic()
    page.goto(proxy.url + TALK_PAGE.format(id=talk["id"]), wait_until="commit")
    # Then the page was asked of the network first, and the kept page shown once the worker's
    # bound (3 s) passed, not left blank for as long as the network holds it
    expect(page.get_by_role("button", name="Rate 4 out of 5")).to_be_visible()
    took = time.monotonic() - started
    expect(page.get_by_role("heading", level=1)).to_have_text(talk["title"])
    assert proxy.held, "the page's load was not asked of the network"
    assert 2.5 <= took < 10, f"shown after {took:.1f} s"
