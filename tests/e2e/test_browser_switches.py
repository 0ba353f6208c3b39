"""The switches the browser tests start Chromium with (test_web_app.CHROMIUM_ARGS) do what their
comments say: Playwright's own disabled features are kept, and a browser context starts no
renderer for the address bar's popups, which no test shows."""

from __future__ import annotations

from collections.abc import Sequence

import psutil
import pytest
from playwright.sync_api import sync_playwright

from tests.e2e.test_web_app import (
    CHROMIUM,
    CHROMIUM_ARGS,
    PLAYWRIGHT_DISABLED_FEATURES,
    UNSHOWN_FEATURES,
)

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


def _launched(args: Sequence[str]) -> tuple[list[list[str]], list[list[str]]]:
    """Start Chromium with `args`, open two contexts of a page each, and answer the browser
    process's `--disable-features` switches (each a list of names, in the order given) and the
    command lines of the renderers it started meanwhile."""
    seen: dict[int, list[str]] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=list(args))
        try:
            descendants = psutil.Process().children(recursive=True)
            [main] = [p for p in descendants if p.name() == "chromium" and _is_browser(p)]
            for _ in range(2):
                context = browser.new_context()
                page = context.new_page()
                page.set_content("<p>a page</p>")
                page.wait_for_timeout(300)  # the window's own pages start with its first page
                for process in main.children(recursive=True):
                    try:
                        seen[process.pid] = process.cmdline()
                    except psutil.NoSuchProcess:
                        continue
                context.close()
            switches = [
                arg.removeprefix("--disable-features=").split(",")
                for arg in main.cmdline()
                if arg.startswith("--disable-features=")
            ]
        finally:
            browser.close()
    renderers = [line for line in seen.values() if "--type=renderer" in line]
    return switches, renderers


def _is_browser(process: psutil.Process) -> bool:
    return not any(arg.startswith("--type=") for arg in process.cmdline())


def test_the_suite_s_chromium_keeps_playwright_s_switch_and_starts_no_address_bar() -> None:
    # Given Chromium started as the browser tests start it, with two contexts opened
    switches, renderers = _launched(CHROMIUM_ARGS)
    # Then Playwright's own switch is the list the suite repeats (an upgraded Playwright that
    # changed it fails here), and the switch Chromium reads, the last, holds it and the suite's
    playwright_s, *_, read = switches
    assert playwright_s == list(PLAYWRIGHT_DISABLED_FEATURES), (
        "Playwright's --disable-features changed: copy it to PLAYWRIGHT_DISABLED_FEATURES"
    )
    assert read == [*PLAYWRIGHT_DISABLED_FEATURES, *UNSHOWN_FEATURES]
    # And the pages got renderers, none of them the address bar's (a top-chrome WebUI)
    assert renderers
    assert not [line for line in renderers if "--top-chrome-webui" in line]


def test_without_the_suite_s_switch_each_context_starts_the_address_bar_s_renderer() -> None:
    # (what the test above looks for is there to be found)
    plain = [arg for arg in CHROMIUM_ARGS if not arg.startswith("--disable-features=")]
    _, renderers = _launched(plain)
    assert [line for line in renderers if "--top-chrome-webui" in line]
