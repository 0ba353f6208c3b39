"""Settings: one validated model; credentials never shown; secrets from Secrets Manager."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import hypothesis
import pytest
from hypothesis.strategies import from_regex
from moto import mock_aws

from talkrate.config import Secret as ConfigSecret
from talkrate.config import Settings, SettingsError, settings_from, voter_keys_of
from talkrate.voters import SecretVoterTokens, VoterTokens

pytestmark = pytest.mark.unit


def test_get_root_metadata_never_contains_a_password() -> None:
    settings = Settings.model_validate(
        {
            "TALKS_CONNECTION": "postgresql://u:pw-123@h/db",
            "RATINGS_CONNECTION": "redis://:pw-456@h:6379",
            "STREAMS_CONNECTION": "k:9092",
            "STATS_FUNCTION_NAME": "talkrate-stats",
        }
    )
    shown = json.dumps(settings.where())
    assert "pw-123" not in shown
    assert "pw-456" not in shown
    assert settings.where()["ratings_lambda"] == "talkrate-stats"


def test_blank_values_mean_unset() -> None:
    settings = settings_from({"STATS_FUNCTION_NAME": "", "RATINGS_TOPIC": "ratings"})
    assert settings.stats_function_name is None


def test_the_live_api_keys_expiry_is_a_unix_time_or_unset() -> None:
    assert (
        settings_from({"LIVE_API_KEY_EXPIRES": "1800000000"}).live_api_key_expires == 1_800_000_000
    )
    assert settings_from({"LIVE_API_KEY_EXPIRES": ""}).live_api_key_expires is None
    assert settings_from({}).live_api_key_expires is None
    for bad in ("default", "-5", "1.5e9x"):
        with pytest.raises(SettingsError, match="LIVE_API_KEY_EXPIRES"):
            settings_from({"LIVE_API_KEY_EXPIRES": bad})


@pytest.fixture
def secrets() -> Iterator[object]:
    with mock_aws():
        yield boto3.client("secretsmanager", region_name="eu-west-1")


def test_connections_and_kafka_credentials_come_from_secrets_manager(
    secrets: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the two secrets the template creates
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    client = boto3.client("secretsmanager", region_name="eu-west-1")
    connections = client.create_secret(
        Name="talkrate/connections",
        SecretString=json.dumps(
            {
                "TALKS_CONNECTION": "postgresql://app:pw@db/talkrate",
                "RATINGS_CONNECTION": "rediss://:tok@cache:6379/0",
            }
        ),
    )["ARN"]
    streams = client.create_secret(
        Name="talkrate/streams",
        SecretString=json.dumps({"username": "projector", "password": "kafka-pw"}),
    )["ARN"]
    # When the settings are read with only the ARNs in the environment
    settings = settings_from(
        {
            "CONNECTIONS_SECRET_ARN": connections,
            "STREAMS_SECRET_ARN": streams,
            "STREAMS_SASL_MECHANISM": "SCRAM-SHA-512",
        }
    )
    # Then the connections are resolved, and the password is kept out of reprs
    assert settings.talks_connection == "postgresql://app:pw@db/talkrate"
    assert settings.ratings_connection == "rediss://:tok@cache:6379/0"
    assert settings.streams_username == "projector"
    assert settings.streams_password is not None
    assert settings.streams_password.get_secret_value() == "kafka-pw"
    assert "kafka-pw" not in repr(settings)


def test_the_edge_header_value_is_not_read_at_cold_start_but_named() -> None:
    # (talkrate.edge reads it at the first request through the CDN, and again while warm)
    settings = settings_from({"EDGE_SECRET_ARN": "arn:aws:secretsmanager:eu-west-1:1:secret:e"})
    assert settings.edge_secret is None
    assert settings.edge_secret_arn == "arn:aws:secretsmanager:eu-west-1:1:secret:e"
    settings = settings_from({"EDGE_SECRET": "edge-value-48"})
    assert settings.edge_secret is not None
    assert "edge-value-48" not in repr(settings)
    assert settings_from({}).edge_secret is None


def test_the_voter_token_key_and_the_event_code_come_from_their_own_secrets(
    secrets: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the two secrets the template creates (the key's still holds a "code" field)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    client = boto3.client("secretsmanager", region_name="eu-west-1")
    key = client.create_secret(
        Name="talkrate/voter-key", SecretString=json.dumps({"code": "", "key": "k" * 48})
    )["ARN"]
    code = client.create_secret(
        Name="talkrate/voter-code", SecretString=json.dumps({"code": "hall-a-2026"})
    )["ARN"]
    # When the settings read them, and the voter tokens theirs
    settings = settings_from({"VOTER_TOKEN_SECRET_ARN": key, "VOTER_CODE_SECRET_ARN": code})
    issued = SecretVoterTokens(settings).issue(datetime.now(UTC))
    # Then the key is the key's, the code the code's
    assert VoterTokens(b"k" * 48, timedelta(days=1)).signed(issued.token)
    assert settings.voter_code is not None
    assert settings.voter_code.get_secret_value() == "hall-a-2026"
    # And an empty code is no code
    none = client.create_secret(
        Name="talkrate/no-voter-code", SecretString=json.dumps({"code": ""})
    )["ARN"]
    assert settings_from({"VOTER_CODE_SECRET_ARN": none}).voter_code is None


def test_a_debug_log_level_writes_no_secret_the_settings_read(
    secrets: object, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a function deployed at DEBUG: Lambda sets the root logger to the log level
    import logging

    import talkrate.observability  # noqa: F401  (what every function imports first)

    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    client = boto3.client("secretsmanager", region_name="eu-west-1")
    arn = client.create_secret(
        Name="talkrate/voters", SecretString=json.dumps({"key": "signing-key-never-logged"})
    )["ARN"]
    caplog.set_level(logging.DEBUG)
    # When the settings, then the voter tokens, read the secret
    tokens = SecretVoterTokens(settings_from({"VOTER_TOKEN_SECRET_ARN": arn}))
    # Then the client libraries logged nothing of it (their DEBUG lines held response bodies)
    assert tokens.issue(datetime.now(UTC)).token
    assert "signing-key-never-logged" not in caplog.text


@functools.cache
def template_parameters() -> dict[str, Any]:
    """template.yaml's Parameters, read once for the tests below (which only read them)."""
    from sam_emulator.template.cfn_yaml import load_yaml_file
    from tests.builders import ROOT

    parameters: dict[str, Any] = load_yaml_file(ROOT / "template.yaml")["Parameters"]
    return parameters


def test_every_value_the_template_allows_for_the_vote_settings_is_a_valid_setting() -> None:
    # A value the template takes but the settings refuse would fail every cold start.
    parameters = template_parameters()
    environment = {
        "RatingsPerVoterPerMinute": "RATINGS_PER_VOTER_PER_MINUTE",
        "RatingsPerAddressPerMinute": "RATINGS_PER_ADDRESS_PER_MINUTE",
        "VotersPerAddressPerMinute": "VOTERS_PER_ADDRESS_PER_MINUTE",
        "RatingGraceHours": "RATING_GRACE_HOURS",
    }
    for name, variable in environment.items():
        for bound in ("MinValue", "MaxValue", "Default"):
            Settings.model_validate({variable: str(parameters[name][bound])})
    for policy in parameters["VotingPolicy"]["AllowedValues"]:
        Settings.model_validate({"VOTING_POLICY": policy})
    assert parameters["VotingPolicy"]["Default"] == "attendee"
    assert parameters["VoterCode"]["NoEcho"] is True


@pytest.mark.parametrize(
    ("code", "taken"),
    [
        ("", True),  # no code
        ("-", True),  # no code: `sam deploy --guided` takes no empty answer for a hidden one
        ("--", False),
        ("hall-a-2026", True),
        ("devconf 2026", True),
        ("x" * 64, True),
        ("devconf  2026", True),
        ("1234", False),  # ten thousand guesses: minutes from a few addresses
        ("hall-a1", False),
        ("x" * 65, False),
        ("héllo wörld", False),
        # compared without the spaces around it: blank, or "ab"
        (" " * 8, False),
        ("      ab", False),
        ("ab      ", False),
        (" hall-a-2026", False),
    ],
)
def test_the_event_code_parameter_takes_none_or_one_too_long_to_guess(
    code: str, taken: bool
) -> None:
    parameter = template_parameters()["VoterCode"]
    assert (re.fullmatch(parameter["AllowedPattern"], code) is not None) is taken
    assert parameter["Default"] == ""


def voter_code_pattern() -> str:
    return str(template_parameters()["VoterCode"]["AllowedPattern"])


@hypothesis.settings(max_examples=300, deadline=None)
@hypothesis.given(code=from_regex(voter_code_pattern(), fullmatch=True))
def test_every_event_code_the_template_takes_is_one_the_api_compares(code: str) -> None:
    # Given any code the VoterCode parameter takes (a deploy with another is refused)
    from talkrate.voters import SHORTEST_EVENT_CODE, EventCode, spoken

    # Then it is no code at all, or as long as the API needs once compared (without case and
    # the spaces around it), and it admits itself as typed on a phone
    if code == "-":
        assert EventCode(settings_from({"VOTER_CODE": code})).admits(None)
    elif code:
        assert len(spoken(code)) >= SHORTEST_EVENT_CODE
        assert EventCode(settings_from({"VOTER_CODE": code})).admits(code.upper() + " ")


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("PUBLISH_TIMEOUT_SECONDS", "0"),
        ("PUBLISH_TIMEOUT_SECONDS", "26"),
        ("PUBLISH_TIMEOUT_SECONDS", "soon"),
        ("PUBLISH_TIMEOUT_SECONDS", "nan"),
        ("TALK_CACHE_SECONDS", "-1"),
        ("RATINGS_PER_VOTER_PER_MINUTE", "2.5"),
        ("RATINGS_PER_VOTER_PER_MINUTE", "10000001"),
        ("RATING_GRACE_HOURS", "inf"),
        ("VOTING_POLICY", "anyone"),
        ("TALKS_CONNECTION", 5),
    ],
)
def test_a_value_talkrate_cannot_run_with_is_refused_naming_its_variable(
    variable: str, value: object
) -> None:
    with pytest.raises(SettingsError, match=variable):
        Settings.model_validate({variable: value})


TOKEN = "tok-9-of-thirty-two-characters!!"  # (the least an admin token may have)


def test_settings_are_read_from_their_variables_and_cannot_be_changed() -> None:
    settings = Settings.model_validate(
        {"RATINGS_PER_VOTER_PER_MINUTE": "12", "RATING_GRACE_HOURS": "1.5", "ADMIN_TOKEN": TOKEN}
    )
    assert settings.ratings_per_voter_per_minute == 12
    assert settings.rating_grace_hours == 1.5
    assert settings.ratings_topic == "ratings"  # unset: the default
    assert settings.admin_token is not None
    assert settings.admin_token.get_secret_value() == TOKEN
    assert TOKEN not in repr(settings)
    assert TOKEN not in str(settings.admin_token)
    with pytest.raises(AttributeError):
        settings.stage = "prod"  # type: ignore[misc]


def test_a_warm_process_takes_a_changed_event_code_from_its_secret(
    secrets: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an API process that has read the event code of its secret
    from talkrate.voters import EventCode

    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    client = boto3.client("secretsmanager", region_name="eu-west-1")
    arn = client.create_secret(
        Name="talkrate/event-code", SecretString=json.dumps({"code": "hall-a-2026"})
    )["ARN"]
    settings = settings_from({"VOTER_CODE_SECRET_ARN": arn})
    clock = [100.0]
    code = EventCode(settings, clock=lambda: clock[0])
    assert code.admits("hall-a-2026")
    assert not code.admits(None)
    # When the organisers change it in the secret (a deploy with a new VoterCode)
    client.put_secret_value(SecretId=arn, SecretString=json.dumps({"code": "hall-b-2026"}))
    clock[0] += 31
    # Then the new code opens the door without a cold start, and the old one soon no longer
    assert code.admits("hall-b-2026")
    clock[0] += 301
    assert not code.admits("hall-a-2026")
    # And once the code is taken away, attendees need none (a deploy with VoterCode "-", as
    # `sam deploy --guided` takes none, alike)
    client.put_secret_value(SecretId=arn, SecretString=json.dumps({"code": ""}))
    clock[0] += 31
    assert code.admits(None)
    client.put_secret_value(SecretId=arn, SecretString=json.dumps({"code": "hall-c-2026"}))
    clock[0] += 301
    assert not code.admits(None)
    client.put_secret_value(SecretId=arn, SecretString=json.dumps({"code": "-"}))
    clock[0] += 301
    assert code.admits(None)


def test_a_code_secret_blank_or_too_short_once_compared_refuses_every_code(
    secrets: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an API process whose event-code secret holds spaces (a code the template's pattern
    # took), read at its cold start
    from talkrate.errors import VoterTokensUnavailable
    from talkrate.voters import EventCode

    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    client = boto3.client("secretsmanager", region_name="eu-west-1")
    arn = client.create_secret(
        Name="talkrate/event-code-blank", SecretString=json.dumps({"code": " " * 8})
    )["ARN"]
    clock = [100.0]
    code = EventCode(settings_from({"VOTER_CODE_SECRET_ARN": arn}), clock=lambda: clock[0])
    # When an attendee sends no code, or a blank one
    for presented in (None, "", "  "):
        # Then it is refused as the service's fault, naming the secret (any blank was taken)
        with pytest.raises(VoterTokensUnavailable, match='VOTER_CODE_SECRET_ARN\'s "code"'):
            code.admits(presented)
    # And once the organisers put a code padded to 8 with spaces, it is refused too
    client.put_secret_value(SecretId=arn, SecretString=json.dumps({"code": "   hall-a"}))
    clock[0] += 31
    with pytest.raises(VoterTokensUnavailable):
        code.admits("hall-a")
    # And once they put one long enough, it opens the door within the re-read floor
    client.put_secret_value(SecretId=arn, SecretString=json.dumps({"code": "hall-a-2026"}))
    clock[0] += 31
    assert code.admits("Hall-A-2026")
    assert not code.admits("")


def test_without_a_code_secret_the_settings_code_is_the_code() -> None:
    from talkrate.voters import EventCode

    assert EventCode(settings_from({"VOTER_CODE": "hall-c-2026"})).admits("hall-c-2026")
    assert not EventCode(settings_from({"VOTER_CODE": "hall-c-2026"})).admits("hall-d-2026")
    assert EventCode(settings_from({})).admits(None)


def test_a_repr_of_the_settings_shows_where_each_backend_is_without_its_credentials() -> None:
    # Given settings whose connection strings and URLs carry credentials
    settings = Settings.model_validate(
        {
            "TALKS_CONNECTION": "postgresql://app:pg-pass-71@db.internal:5432/talkrate",
            "RATINGS_CONNECTION": "rediss://default:redis-pass-72@cache.internal:6379/0",
            "STREAMS_CONNECTION": "b-1.kafka:9096,b-2.kafka:9096",
            "RATINGS_LAMBDA_URL": "https://user:url-pass-73@stats.lambda-url.on.aws/",
            "LIVE_PUBLISH_URL": "https://live:live-pass-74@events.appsync-api.on.aws/event",
        }
    )
    # When it is written out (a log line, a traceback's locals, a debugger)
    shown = repr(settings)
    # Then no credential is in it, and where each backend is, is
    for secret in (
        "pg-pass-71",
        "redis-pass-72",
        "url-pass-73",
        "live-pass-74",
        "app:",
        "default:",
    ):
        assert secret not in shown
    assert "db.internal:5432/talkrate" in shown
    assert "cache.internal:6379" in shown
    assert "b-1.kafka:9096" in shown
    assert "stats.lambda-url.on.aws" in shown


def test_a_secret_that_cannot_be_read_is_refused_naming_its_variable(
    secrets: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    client = boto3.client("secretsmanager", region_name="eu-west-1")
    text = client.create_secret(Name="talkrate/text", SecretString="not json")["ARN"]
    listed = client.create_secret(Name="talkrate/list", SecretString='["a"]')["ARN"]
    missing = text.replace("talkrate/text", "talkrate/gone")
    # (each was "unexpected GetParameterError" or "JSONDecodeError", naming no variable)
    for variable, arn, said in (
        ("CONNECTIONS_SECRET_ARN", missing, "could not be read: "),
        ("STREAMS_SECRET_ARN", text, "names a secret that is not JSON"),
        ("CONNECTIONS_SECRET_ARN", listed, "names a secret that is not a JSON object"),
    ):
        with pytest.raises(SettingsError) as refused:
            settings_from({variable: arn})
        assert str(refused.value).startswith(variable), refused.value
        assert said in str(refused.value)
        assert arn in str(refused.value)


def test_the_voter_token_secret_never_fails_the_settings(
    secrets: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given voter-token secrets as a hand can leave them: the key alone, JSON broken, a list,
    # and one that is gone
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    client = boto3.client("secretsmanager", region_name="eu-west-1")
    arns = [
        client.create_secret(Name=f"talkrate/voter-key-{n}", SecretString=text)["ARN"]
        for n, text in enumerate(("Xy7" * 16, '{"key": "k', '["a"]'))
    ]
    arns.append(arns[0].replace("voter-key-0", "voter-key-gone"))
    # When an environment reads its settings, Then none of them is read there: every route but
    # the passes' goes on (it was a SettingsError, every route's 500)
    for arn in arns:
        assert settings_from({"VOTER_TOKEN_SECRET_ARN": arn}).voter_token_secret_arn == arn


@pytest.mark.parametrize(
    ("text", "keys"),
    [
        ('{"code": "", "key": "k"}', ("k", None, None)),
        ('{"key": "k", "previousKey": "p"}', ("k", "p", None)),
        # the key alone, as `--secret-string "$key"` puts it (from a file: its line end)
        ("Xy7Xy7Xy7Xy7Xy7Xy7\n", ("Xy7Xy7Xy7Xy7Xy7Xy7", None, None)),
        # a previousKey that is not text is left out, and what it is said (never its value)
        ('{"key": "k", "previousKey": 1234567890123456}', ("k", None, "a number")),
        ('{"key": "k", "previousKey": ["p"]}', ("k", None, "a list")),
        ('{"key": "k", "previousKey": null}', ("k", None, None)),
        ('{"key": 7}', (None, None, None)),
    ],
)
def test_the_voter_token_secret_s_keys(text: str, keys: tuple[str | None, ...]) -> None:
    assert tuple(voter_keys_of(text)) == keys


@pytest.mark.parametrize("text", ['{"key": "s3cret-k3y",}', '["s3cret-k3y"]', '"s3cret-k3y'])
def test_a_voter_token_secret_that_starts_as_json_must_be_an_object(text: str) -> None:
    with pytest.raises(ValueError, match="JSON") as refused:
        voter_keys_of(text)
    assert "s3cret" not in str(refused.value)


@pytest.mark.parametrize(
    "token", ["abc", "a-token-of-thirty-one-characters"[:31], " " + "x" * 31 + "\n"]
)
def test_an_admin_token_shorter_than_32_characters_is_refused_naming_its_variable_only(
    token: str,
) -> None:
    # Given an ADMIN_TOKEN set by hand, shorter than the floor (the stack makes 48 characters;
    # what is around it, a file's line end, is no part of it)
    # When the settings are read (at cold start)
    with pytest.raises(SettingsError) as refused:
        Settings.model_validate({"ADMIN_TOKEN": token})
    # Then they are refused, naming the variable and the floor, never the value
    said = str(refused.value)
    assert "ADMIN_TOKEN" in said, said
    assert "32 characters" in said, said
    assert token.strip() not in said


def test_an_admin_token_of_32_characters_is_taken() -> None:
    settings = Settings.model_validate({"ADMIN_TOKEN": "x" * 32})
    assert settings.admin_token == ConfigSecret("x" * 32)


def test_how_long_a_change_is_kept_unsent_is_a_setting_with_a_floor() -> None:
    # Given the bound after which the API gives up a change the live channel did not take
    assert Settings.model_validate({}).live_unsent_change_seconds == 600
    assert (
        Settings.model_validate({"LIVE_UNSENT_CHANGE_SECONDS": "5"}).live_unsent_change_seconds == 5
    )
    # Then one below 5 s (fewer than the thread's first tries) is refused, naming the variable
    with pytest.raises(SettingsError, match="LIVE_UNSENT_CHANGE_SECONDS must be at least 5"):
        Settings.model_validate({"LIVE_UNSENT_CHANGE_SECONDS": "1"})
