"""The voter-token key's secret as ApiFunction meets it (docs/operations.md, "Rotating the
voter-token key"): the API's handler and wiring in process against the real backends, Secrets
Manager moto's (the AWS API only)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters
from moto import mock_aws

from talkrate.voters import VoterTokens
from tests.integration.conftest import Call
from tests.integration.test_kafka_publisher import consume_to_end
from tests.integration.test_votes import address

pytestmark = pytest.mark.integration

OLD_KEY, NEW_KEY = "o" * 48, "n" * 48


@pytest.fixture
def secrets(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """moto's Secrets Manager, for the API's voter-token secret."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    with mock_aws():
        parameters.clear_caches()
        yield boto3.client("secretsmanager", region_name="eu-west-1")
    parameters.clear_caches()


def voter_secret(
    secrets: object, configure: Callable[..., None], **values: str
) -> tuple[str, Callable[..., None]]:
    """The stack's voter-token secret holding `values`, named to the API as on AWS (no key of
    its own); its ARN, and what puts new values into it."""
    arn = secrets.create_secret(  # type: ignore[attr-defined]
        Name=f"talkrate/voter-key-{uuid.uuid4().hex[:8]}", SecretString=json.dumps(values)
    )["ARN"]
    configure(VOTER_TOKEN_SECRET_ARN=arn, VOTER_TOKEN_KEY="", PUBLISH_TIMEOUT_SECONDS="1")

    def put(**changed: str) -> None:
        secrets.put_secret_value(SecretId=arn, SecretString=json.dumps(changed))  # type: ignore[attr-defined]

    return arn, put


def pass_of(key: str) -> str:
    """A pass another API environment signed with `key`."""
    return VoterTokens(key.encode(), timedelta(days=7)).issue(datetime.now(UTC)).token


def test_a_pass_of_a_key_put_since_this_environment_read_the_secret_is_429_not_401_or_5xx(
    api: Call,
    talk: str,
    configure: Callable[..., None],
    secrets: object,
    topic: str,
    kafka_bootstrap: str,
) -> None:
    # Given an API environment that read the secret just now (it handed out a pass)
    _, put = voter_secret(secrets, configure, code="", key=OLD_KEY)
    held = api("POST", "/voters", source_ip=address())["json"]["voterToken"]
    # When the operator rotates as planned, and a pass an environment started since signed
    # with the new key comes to this one before it may read the secret again
    put(key=NEW_KEY, previousKey=OLD_KEY)
    answer = api(
        "POST", "/ratings", {"talkId": talk, "value": 4}, headers={"voter-token": pass_of(NEW_KEY)}
    )
    # Then it is told to send it again once the keys may be read (429, Retry-After), not that
    # the pass is refused (401: the page and `talkrate rate` drop it for a new voter), nor a
    # 5xx (every stale or forged pass then would count in the 5xx alarms, a canary's rollback)
    assert answer["statusCode"] == 429, answer["json"]
    assert answer["headers"]["Content-Type"] == "application/problem+json"
    assert 1 <= int(answer["headers"]["Retry-After"]) <= 30
    assert answer["json"]["type"] == "urn:talkrate:problem:voter-keys-updating"
    assert "updating its keys" in answer["json"]["detail"]
    assert "WWW-Authenticate" not in answer["headers"]
    # And nothing was counted, while the pass it handed out still counts
    assert consume_to_end(kafka_bootstrap, topic) == []
    kept = api("POST", "/ratings", {"talkId": talk, "value": 2}, headers={"voter-token": held})
    assert kept["statusCode"] == 202, kept["json"]


@pytest.mark.parametrize(
    "text",
    [
        '{"key": "' + NEW_KEY,  # JSON cut short
        '{"code": ""}',  # no key
        json.dumps({"key": "short"}),
    ],
    ids=["not-json", "no-key", "short-key"],
)
def test_a_voter_token_secret_without_a_usable_key_fails_passes_only(
    api: Call,
    talk: str,
    configure: Callable[..., None],
    secrets: object,
    text: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Given an API environment started while its voter-token secret holds no usable key
    arn = secrets.create_secret(  # type: ignore[attr-defined]
        Name=f"talkrate/voter-key-{uuid.uuid4().hex[:8]}", SecretString=text
    )["ARN"]
    configure(VOTER_TOKEN_SECRET_ARN=arn, VOTER_TOKEN_KEY="", PUBLISH_TIMEOUT_SECONDS="1")
    # When attendees read the programme, its root, and ask for a pass
    talks = api("GET", "/talks")
    root = api("GET", "/")
    asked = api("POST", "/voters", source_ip=address())
    rated = api(
        "POST", "/ratings", {"talkId": talk, "value": 3}, headers={"voter-token": pass_of(OLD_KEY)}
    )
    # Then the programme and the root answer as ever (every route was a 500 for a secret not
    # JSON), and passes and token ratings are 503, with Retry-After
    assert talks["statusCode"] == 200, talks["json"]
    assert root["statusCode"] == 200, root["json"]
    for answer in (asked, rated):
        assert answer["statusCode"] == 503, answer["json"]
        assert answer["json"]["type"] == "urn:talkrate:problem:voter-tokens-unavailable"
        assert answer["headers"]["Retry-After"]
    # And the log names the variable and why, never the secret's text
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 2, errors
    assert all(f"VOTER_TOKEN_SECRET_ARN ({arn}): " in e for e in errors), errors
    assert NEW_KEY not in caplog.text
    assert '"short"' not in caplog.text


def test_a_voter_token_secret_holding_the_key_alone_signs_with_it(
    api: Call, talk: str, configure: Callable[..., None], secrets: object
) -> None:
    # Given a voter-token secret put as the admin token's recipe puts a token: the key alone
    arn = secrets.create_secret(  # type: ignore[attr-defined]
        Name=f"talkrate/voter-key-{uuid.uuid4().hex[:8]}", SecretString=NEW_KEY + "\n"
    )["ARN"]
    configure(VOTER_TOKEN_SECRET_ARN=arn, VOTER_TOKEN_KEY="", PUBLISH_TIMEOUT_SECONDS="1")
    # When an attendee asks for a pass and rates with it
    issued = api("POST", "/voters", source_ip=address())
    assert issued["statusCode"] == 201, issued["json"]
    token = issued["json"]["voterToken"]
    rated = api("POST", "/ratings", {"talkId": talk, "value": 5}, headers={"voter-token": token})
    # Then the pass is the key's, and counts (every route was a 500)
    assert VoterTokens(NEW_KEY.encode(), timedelta(days=7)).signed(token)
    assert rated["statusCode"] == 202, rated["json"]
