"""CORS as an HttpApi's CorsConfiguration makes API Gateway behave, and the runtime's /_docs pages:
read from the template, decided without a server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sam_emulator.apigw import (
    HttpResponse,
    RouteTable,
    gateway_answers_preflight,
    is_preflight,
    preflight_response,
    with_cors,
)
from sam_emulator.docs_ui import DocsSite, swagger_ui_dir
from sam_emulator.template import CorsConfiguration, load_template, parse_template_text
from tests.builders import ROOT

pytestmark = pytest.mark.unit

TEMPLATE = """
Transform: AWS::Serverless-2016-10-31
Parameters:
  WebOrigins:
    Type: CommaDelimitedList
    Default: "https://web.example,http://localhost:5173"
Globals:
  HttpApi:
    CorsConfiguration: true
Resources:
  Api:
    Type: AWS::Serverless::HttpApi
    Properties:
      CorsConfiguration:
        AllowOrigins: [!Ref WebOrigins]
        AllowMethods: [get, post]
        AllowHeaders: [content-type]
        ExposeHeaders: [location]
        MaxAge: 300
        AllowCredentials: true
  AppFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: app/
      Handler: app.handler
      Events:
        Talks: {Type: HttpApi, Properties: {ApiId: !Ref Api, Path: /talks, Method: GET}}
        Any: {Type: HttpApi, Properties: {ApiId: !Ref Api, Path: /any, Method: ANY}}
"""

LISTED = CorsConfiguration(
    "Api",
    allow_origins=("https://web.example",),
    allow_methods=("GET", "POST"),
    allow_headers=("content-type",),
    expose_headers=("location",),
    max_age=300,
)
ANY_ORIGIN = CorsConfiguration("Api", allow_origins=("*",), allow_headers=("*",))


def preflight(origin: str = "https://web.example", **extra: str) -> dict[str, str]:
    return {"origin": origin, "access-control-request-method": "POST", **extra}


def test_the_project_template_allows_no_other_origin_by_default() -> None:
    # Given the template as `make run` reads it, CorsAllowOrigin left empty
    template = load_template(ROOT / "template.yaml")
    # Then the gateway has no CORS configuration: a page of any other origin is refused by its
    # browser (the web app and /_docs are on the API's own origin)
    assert template.cors is None
    # And that is the template's choice, not something the runtime could not read
    assert not [note for note in template.notes if "CorsConfiguration" in note]


def test_a_named_origin_gets_the_template_s_cors_configuration() -> None:
    template = load_template(ROOT / "template.yaml", {"CorsAllowOrigin": "https://web.example"})
    cors = template.cors
    assert cors is not None
    assert cors.allow_origins == ("https://web.example",)
    assert set(cors.allow_methods) >= {"GET", "POST", "PUT", "DELETE", "OPTIONS"}
    assert {"authorization", "content-type", "voter-token"} <= set(cors.allow_headers)
    # etag: another origin's admin client reads the revision it sends back as If-Match, which
    # its preflight must be allowed to send (it was not)
    assert {"if-match", "if-none-match"} <= set(cors.allow_headers)
    assert cors.expose_headers == ("etag", "location", "retry-after", "www-authenticate")
    assert cors.max_age == 600
    assert not cors.allow_credentials


def test_any_origin_only_when_asked_for() -> None:
    template = load_template(ROOT / "template.yaml", {"CorsAllowOrigin": "*"})
    assert template.cors is not None
    assert template.cors.allow_origins == ("*",)


CONDITIONAL = """
Transform: AWS::Serverless-2016-10-31
Parameters:
  Origin: {Type: String, Default: ""}
Conditions:
  HasOrigin: !Not [!Equals [!Ref Origin, ""]]
Globals:
  HttpApi:
    CorsConfiguration: true
Resources:
  Api:
    Type: AWS::Serverless::HttpApi
    Properties:
      CorsConfiguration: !If
        - HasOrigin
        - AllowOrigins: [!Ref Origin]
          AllowHeaders: [content-type]
        - !Ref AWS::NoValue
  AppFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: app/
      Handler: app.handler
      Events:
        Talks: {Type: HttpApi, Properties: {ApiId: !Ref Api, Path: /talks, Method: GET}}
"""


def test_a_cors_configuration_under_a_condition_is_resolved_as_cloudformation_would() -> None:
    # Given an HttpApi whose whole CorsConfiguration is an !If (SAM puts it in the API's body,
    # where CloudFormation resolves it): the condition false, AWS::NoValue
    off = parse_template_text(CONDITIONAL, Path("."))
    # Then there is none: not the Globals' (the API's own value wins, as in SAM), and no note
    assert off.cors is None
    assert not [note for note in off.notes if "CorsConfiguration" in note]
    # And with the condition true, the mapping it names
    on = parse_template_text(CONDITIONAL, Path("."), {"Origin": "https://web.example"})
    assert on.cors == CorsConfiguration(
        "Api", allow_origins=("https://web.example",), allow_headers=("content-type",)
    )


def test_an_api_s_own_cors_configuration_wins_over_globals_and_lists_are_flattened() -> None:
    cors = parse_template_text(TEMPLATE, Path(".")).cors
    assert cors == CorsConfiguration(
        "Api",
        allow_origins=("https://web.example", "http://localhost:5173"),
        allow_methods=("GET", "POST"),
        allow_headers=("content-type",),
        expose_headers=("location",),
        max_age=300,
        allow_credentials=True,
    )


@pytest.mark.parametrize(
    ("setting", "origins"),
    [
        ("true", ("*",)),
        ("false", None),
        ("{AllowOrigins: ['https://a.example']}", ("https://a.example",)),
    ],
)
def test_globals_or_true_turn_cors_on(setting: str, origins: tuple[str, ...] | None) -> None:
    text = TEMPLATE.replace("CorsConfiguration: true", f"CorsConfiguration: {setting}")
    text = text.replace("      CorsConfiguration:\n", "      Unused:\n")
    cors = parse_template_text(text, Path(".")).cors
    assert (cors.allow_origins if cors else None) == origins


def test_without_cors_configuration_there_is_none() -> None:
    text = TEMPLATE.replace("    CorsConfiguration: true\n", "    Tags: {}\n")
    text = text.replace("      CorsConfiguration:\n", "      Unused:\n")
    assert parse_template_text(text, Path(".")).cors is None


def test_what_api_gateway_would_refuse_or_the_runtime_cannot_know_is_said_in_a_note() -> None:
    wildcard = TEMPLATE.replace("[!Ref WebOrigins]", '["*"]')
    assert any(
        "AllowCredentials" in note for note in parse_template_text(wildcard, Path(".")).notes
    )
    unknown = TEMPLATE.replace("[!Ref WebOrigins]", "[!GetAtt Site.Url]")
    template = parse_template_text(unknown, Path("."))
    assert template.cors is None
    assert any("CorsConfiguration not applied" in note for note in template.notes)


@pytest.mark.parametrize(
    ("method", "headers", "expected"),
    [
        ("OPTIONS", preflight(), True),
        ("options", preflight(), True),
        ("OPTIONS", {"origin": "https://web.example"}, False),
        ("OPTIONS", {"access-control-request-method": "POST"}, False),
        ("OPTIONS", {}, False),
        ("GET", preflight(), False),
    ],
)
def test_a_preflight_is_options_with_origin_and_request_method(
    method: str, headers: dict[str, str], expected: bool
) -> None:
    assert is_preflight(method, headers) is expected


def test_the_gateway_answers_preflights_no_route_takes_even_on_unknown_paths() -> None:
    routes = RouteTable(parse_template_text(TEMPLATE, Path(".")).routes)
    assert gateway_answers_preflight(routes, "OPTIONS", "/talks", preflight())
    assert gateway_answers_preflight(routes, "OPTIONS", "/no/such/path", preflight())
    # An ANY route takes OPTIONS, preflights included (with its authorizer, as on AWS)
    assert not gateway_answers_preflight(routes, "OPTIONS", "/any", preflight())
    # A plain OPTIONS is routed like any other method
    assert not gateway_answers_preflight(routes, "OPTIONS", "/talks", {})


def test_a_preflight_from_an_allowed_origin_gets_the_allow_headers() -> None:
    answer = preflight_response(LISTED, preflight())
    assert answer.status == 204
    assert answer.body == b""
    assert dict(answer.headers) == {
        "access-control-allow-origin": "https://web.example",
        "access-control-allow-methods": "GET,POST",
        "access-control-allow-headers": "content-type",
        "access-control-max-age": "300",
    }


def test_a_preflight_from_another_origin_gets_204_without_cors_headers() -> None:
    answer = preflight_response(LISTED, preflight("https://evil.example"))
    assert (answer.status, answer.headers) == (204, [])


def test_any_origin_is_answered_with_a_star_and_any_header_with_the_requested_ones() -> None:
    asked = preflight(
        "https://anywhere.example", **{"access-control-request-headers": "x-a, authorization"}
    )
    headers = dict(preflight_response(ANY_ORIGIN, asked).headers)
    assert headers["access-control-allow-origin"] == "*"
    assert headers["access-control-allow-headers"] == "x-a, authorization"
    assert "access-control-allow-methods" not in headers  # none configured


def test_credentials_are_allowed_when_configured() -> None:
    cors = CorsConfiguration("Api", allow_origins=("https://web.example",), allow_credentials=True)
    answer = with_cors(HttpResponse(200), cors, {"origin": "https://web.example"})
    assert dict(answer.headers)["access-control-allow-credentials"] == "true"


def test_an_allowed_origin_s_response_gets_allow_origin_and_expose_headers() -> None:
    response = HttpResponse(201, [("content-type", "application/json")], b"{}")
    answer = with_cors(response, LISTED, {"origin": "https://web.example"})
    assert answer.status == 201
    assert answer.body == b"{}"
    assert dict(answer.headers) == {
        "content-type": "application/json",
        "access-control-allow-origin": "https://web.example",
        "access-control-expose-headers": "location",
    }


def test_the_function_s_own_cors_headers_are_ignored() -> None:
    response = HttpResponse(
        200, [("Access-Control-Allow-Origin", "https://evil.example"), ("x-kept", "1")]
    )
    without_origin = with_cors(response, LISTED, {})
    assert without_origin.headers == [("x-kept", "1")]
    other_origin = with_cors(response, LISTED, {"origin": "https://evil.example"})
    assert other_origin.headers == [("x-kept", "1")]


def docs_site(tmp_path: Path, spec: bool = True) -> DocsSite:
    if spec:
        (tmp_path / "docs").mkdir()
        (tmp_path / "docs" / "openapi.json").write_text('{"openapi": "3.1.0"}')
    return DocsSite.beside(tmp_path)


def test_docs_own_their_prefix_only() -> None:
    assert DocsSite.owns("/_docs")
    assert DocsSite.owns("/_docs/openapi.json")
    assert not DocsSite.owns("/_docsy")
    assert not DocsSite.owns("/talks")


def test_the_docs_index_loads_swagger_ui_and_the_spec(tmp_path: Path) -> None:
    assert swagger_ui_dir() is not None, "swagger-ui-bundle-v2 is in requirements-dev.txt"
    site = docs_site(tmp_path)
    for path in ("/_docs", "/_docs/", "/_docs/index.html"):
        page = site.respond("GET", path)
        assert page.status == 200
        assert dict(page.headers)["content-type"].startswith("text/html")
        assert b"/_docs/swagger-ui-bundle.js" in page.body
        assert b"/_docs/docs-ui.js" in page.body
        assert b"<script>" not in page.body  # no inline script: the policy allows none
    starter = site.respond("GET", "/_docs/docs-ui.js")
    assert starter.status == 200
    assert dict(starter.headers)["content-type"].startswith("application/javascript")
    assert b'url: "/_docs/openapi.json"' in starter.body
    assert site.ui_version == "5.31.0"


@pytest.mark.parametrize(
    "path", ["/_docs/", "/_docs/docs-ui.js", "/_docs/swagger-ui.css", "/_docs/openapi.json"]
)
def test_the_docs_are_sent_under_a_policy_of_their_own_origin_and_never_framed(
    tmp_path: Path, path: str
) -> None:
    # When any of the docs' files is asked for
    headers = dict(docs_site(tmp_path).respond("GET", path).headers)
    # Then it comes with a policy that takes scripts and styles from the runtime only, and
    # refuses to be framed, as the web app's pages do
    policy = headers["content-security-policy"]
    assert "default-src 'none'" in policy
    assert "script-src 'self';" in policy
    assert "style-src 'self';" in policy
    assert "frame-ancestors 'none'" in policy
    assert "unsafe" not in policy
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"


def test_the_docs_serve_the_committed_spec_and_the_bundle(tmp_path: Path) -> None:
    site = docs_site(tmp_path)
    spec = site.respond("GET", "/_docs/openapi.json")
    assert (spec.status, json.loads(spec.body)) == (200, {"openapi": "3.1.0"})
    script = site.respond("GET", "/_docs/swagger-ui-bundle.js")
    assert script.status == 200
    assert dict(script.headers)["content-type"].startswith("application/javascript")
    assert b"SwaggerUIBundle" in script.body
    css = site.respond("HEAD", "/_docs/swagger-ui.css")
    assert (css.status, dict(css.headers)["content-type"]) == (200, "text/css; charset=utf-8")


def test_a_missing_spec_is_a_clear_404(tmp_path: Path) -> None:
    answer = docs_site(tmp_path, spec=False).respond("GET", "/_docs/openapi.json")
    assert answer.status == 404
    message = json.loads(answer.body)["message"]
    assert "no OpenAPI spec at" in message
    assert str(tmp_path / "docs" / "openapi.json") in message


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/_docs/../template.yaml", 404),
        ("GET", "/_docs/index.j2", 404),
        ("GET", "/_docs/nothing.js", 404),
        ("POST", "/_docs/", 405),
        ("DELETE", "/_docs/openapi.json", 405),
    ],
)
def test_nothing_else_is_served(tmp_path: Path, method: str, path: str, status: int) -> None:
    assert docs_site(tmp_path).respond(method, path).status == status
