"""The runtime's Swagger UI under /_docs/ in a real Chromium: sent under a strict Content Security
Policy, not frameable, and still rendering the committed spec and trying the API out."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from sam_emulator.docs_ui import DocsSite
from sam_emulator.events.http_api import GatewayServer
from sam_emulator.lambda_.pool import Invocation
from sam_emulator.template import parse_template_text
from tests.builders import ROOT
from tests.e2e.test_web_app import CHROMIUM, CHROMIUM_ARGS

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

TEMPLATE = """
Resources:
  ApiFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: api/
      Handler: app.handler
      Events:
        Talks: {Type: HttpApi, Properties: {Path: /talks, Method: GET}}
"""
# What a page records of the policies it breaks, besides what Chromium writes to the console.
VIOLATIONS_WATCHED = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__violations.push(event.violatedDirective + " " + event.blockedURI);
});
"""


@pytest.fixture(scope="module")
def docs_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A gateway of a one-route template beside the committed docs/openapi.json; its route
    answers every call with an empty page of talks."""
    folder = tmp_path_factory.mktemp("docs-ui")
    (folder / "docs").mkdir()
    shutil.copy(ROOT / "docs" / "openapi.json", folder / "docs" / "openapi.json")

    def invoke(function_id: str, event: object) -> Invocation:
        body = {"items": [], "total": 0, "limit": 20, "offset": 0, "links": {}}
        return Invocation("local", {"statusCode": 200, "body": json.dumps(body)})

    routes = parse_template_text(TEMPLATE, folder).routes
    gateway = GatewayServer("127.0.0.1", 0, routes, invoke, docs=DocsSite.beside(folder))
    gateway.start("gateway")
    yield f"http://127.0.0.1:{gateway.port}/_docs/"
    gateway.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert Path(CHROMIUM).exists(), f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()
    opened = context.new_page()
    opened.add_init_script(VIOLATIONS_WATCHED)
    yield opened
    context.close()


def test_the_docs_are_sent_under_a_strict_policy_and_not_frameable(
    docs_url: str, page: Page
) -> None:
    # When a developer opens the docs
    loaded = page.goto(docs_url)
    # Then the page comes with a policy that allows nothing but its own origin, and no framing
    assert loaded is not None
    assert loaded.status == 200
    headers = loaded.all_headers()  # by lower-case name
    policy = {
        directive.split()[0]: directive.split()[1:]
        for directive in headers["content-security-policy"].split(";")
    }
    assert policy["default-src"] == ["'none'"]
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"


def test_swagger_ui_renders_and_tries_the_api_out_under_its_policy(
    docs_url: str, page: Page
) -> None:
    # Given the console and the script errors of the page
    console: list[str] = []
    page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
    page.on("pageerror", lambda error: console.append(f"pageerror: {error}"))
    # When a developer opens the docs
    page.goto(docs_url)
    # Then Swagger UI lists the API's operations
    operations = page.locator(".opblock")
    expect(operations.first).to_be_visible()
    assert operations.count() > 10
    # And "Try it out" reaches the API on the page's own origin
    talks = operations.filter(has=page.locator(".opblock-summary-path", has_text="/talks"))
    talks = talks.filter(has=page.locator(".opblock-summary-method", has_text="GET")).first
    talks.locator(".opblock-summary").click()
    talks.get_by_role("button", name="Execute").click()
    status = talks.locator(".live-responses-table tbody .response-col_status").first
    expect(status).to_have_text("200")
    # And nothing the page does breaks its policy, or fails
    assert page.evaluate("window.__violations") == []
    assert [line for line in console if line.startswith(("error", "pageerror"))] == []
