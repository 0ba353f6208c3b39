"""The emulator's reading of AppSync Event APIs: which APIs, which namespaces, and which function
variables name their endpoints (filled locally with the emulation's own)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sam_emulator.template import load_template, parse_template_text
from sam_emulator.template.appsync_events import local_value
from tests.builders import ROOT

pytestmark = pytest.mark.unit

TEMPLATE = """
Transform: AWS::Serverless-2016-10-31
Resources:
  Events:
    Type: AWS::AppSync::Api
    Properties:
      Name: chat
      EventConfig:
        AuthProviders: [{AuthType: API_KEY}]
        ConnectionAuthModes: [{AuthType: API_KEY}]
        DefaultPublishAuthModes: [{AuthType: API_KEY}]
        DefaultSubscribeAuthModes: [{AuthType: API_KEY}]
  GraphQl:
    Type: AWS::AppSync::Api
    Properties:
      Name: not-events
  Rooms:
    Type: AWS::AppSync::ChannelNamespace
    Properties:
      ApiId: !GetAtt Events.ApiId
      Name: rooms
  Publisher:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: fn/
      Handler: app.handler
      Runtime: python3.13
      Environment:
        Variables:
          PUBLISH_URL: !Sub https://${Events.Dns.Http}/event
          REALTIME_HOST: !GetAtt Events.Dns.Realtime
          MIXED: !Sub https://${Events.Dns.Http}/${AWS::AccountId}
          PLAIN: literal
"""


def test_an_event_api_brings_its_namespaces_and_the_variables_naming_it() -> None:
    template = parse_template_text(TEMPLATE, Path("/srv/app"))
    [api] = template.event_apis
    assert (api.logical_id, api.name, api.namespaces) == ("Events", "chat", ("rooms",))
    assert {v.name: v.value for v in api.variables} == {
        "PUBLISH_URL": "https://${Events.Dns.Http}/event",
        "REALTIME_HOST": "${Events.Dns.Realtime}",
        "MIXED": "https://${Events.Dns.Http}/${AWS::AccountId}",
    }
    # Locally they are unresolved: the emulation fills them in
    assert "PUBLISH_URL" not in template.functions["Publisher"].environment


def test_local_values_use_the_emulation_s_endpoints_and_plain_schemes() -> None:
    endpoints = {"Events": ("127.0.0.1:4001", "127.0.0.1:4000")}
    assert (
        local_value("https://${Events.Dns.Http}/event", endpoints) == "http://127.0.0.1:4001/event"
    )
    assert local_value("wss://${Events.Dns.Realtime}/x", endpoints) == "ws://127.0.0.1:4000/x"
    assert local_value("https://${Events.Dns.Http}/${AWS::AccountId}", endpoints) is None
    assert local_value("${Other.Dns.Http}", endpoints) is None


def test_talkrate_s_template_has_its_live_api_with_the_projector_and_the_api_publishing() -> None:
    [api] = load_template(ROOT / "template.yaml").event_apis
    assert api.logical_id == "LiveApi"
    assert api.namespaces == ("talkrate",)
    # (the local runtime gives both its local endpoint: the API announces organisers' changes)
    assert {(v.function_id, v.name) for v in api.variables} == {
        ("ProjectorFunction", "LIVE_PUBLISH_URL"),
        ("ApiFunction", "LIVE_PUBLISH_URL"),
    }


def test_each_namespace_takes_its_own_auth_modes_or_else_the_api_s_defaults() -> None:
    # Given an API whose defaults take the API key, a namespace of its own modes, one without
    template = parse_template_text(
        TEMPLATE
        + """
  Announcements:
    Type: AWS::AppSync::ChannelNamespace
    Properties:
      ApiId: !GetAtt Events.ApiId
      Name: announcements
      PublishAuthModes: [{AuthType: AWS_IAM}]
""",
        Path("/srv/app"),
    )
    # When the template is read
    [api] = template.event_apis
    # Then each namespace says who may publish and subscribe there
    assert api.publish_modes == {
        "rooms": frozenset({"API_KEY"}),
        "announcements": frozenset({"AWS_IAM"}),
    }
    assert api.subscribe_modes == {
        "rooms": frozenset({"API_KEY"}),
        "announcements": frozenset({"API_KEY"}),
    }


def test_talkrate_s_live_channel_takes_publishes_signed_by_iam_only() -> None:
    [api] = load_template(ROOT / "template.yaml").event_apis
    # The pages' API key subscribes; only the projector's role publishes
    assert api.publish_modes == {"talkrate": frozenset({"AWS_IAM"})}
    assert api.subscribe_modes == {"talkrate": frozenset({"API_KEY"})}
