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


def test_a_pass_of_a_key_put_since_this_environment_read_the_secret_is_503_not_401(
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
    # Then it is told to send it again once the keys may be read (503, Retry-After), not that
    # the pass is refused (401: the page and `talkrate rate` drop it for a new voter)
    assert answer["statusCode"] == 503, answer["json"]
    assert answer["headers"]["Content-Type"] == "application/problem+json"
    assert 1 <= int(answer["headers"]["Retry-After"]) <= 30
    assert answer["json"]["type"] == "urn:talkrate:problem:voter-keys-updating"
    assert "updating its keys" in answer["json"]["detail"]
    assert "WWW-Authenticate" not in answer["headers"]
    # And nothing was counted, while the pass it handed out still counts
    assert consume_to_end(kafka_bootstrap, topic) == []
    kept = api("POST", "/ratings", {"talkId": talk, "value": 2}, headers={"voter-token": held})
    assert kept["statusCode"] == 202, kept["json"]
