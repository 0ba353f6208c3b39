"""SigV4 signing, checked against botocore's signer for the same request and moment."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from botocore import auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotocoreCredentials

from talkrate.sigv4 import Credentials, signed_headers

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 21, 13, 5, 9, tzinfo=UTC)


def botocore_authorization(
    monkeypatch: pytest.MonkeyPatch, path: str, body: bytes, token: str | None
) -> dict[str, str]:
    monkeypatch.setattr(auth, "get_current_datetime", lambda: NOW.replace(tzinfo=None))
    request = AWSRequest(
        method="POST",
        url=f"https://lambda.eu-west-1.amazonaws.com{path}",
        data=body,
        headers={"content-type": "application/json"},
    )
    auth.SigV4Auth(
        BotocoreCredentials("AKIDEXAMPLE", "secret/key+", token), "lambda", "eu-west-1"
    ).add_auth(request)
    return {name.lower(): value for name, value in request.headers.items()}


@pytest.mark.parametrize("token", [None, "session-token/with+chars=="])
@pytest.mark.parametrize(
    "function",
    [
        "talkrate-dev-StatsFunction-AbC123",
        "arn%3Aaws%3Alambda%3Aeu-west-1%3A123456789012%3Afunction%3Astats",
    ],
)
def test_the_signature_is_the_one_botocore_computes(
    monkeypatch: pytest.MonkeyPatch, token: str | None, function: str
) -> None:
    # Given an Invoke request (a plain name, and an ARN, whose colons the path encodes)
    path = f"/2015-03-31/functions/{function}/invocations"
    body = b'{"ratings": {"1": 0, "2": 1, "3": 0, "4": 2, "5": 7}}'
    # When both sign it at the same moment with the same credentials
    ours = signed_headers(
        "POST",
        "lambda.eu-west-1.amazonaws.com",
        path,
        {"content-type": "application/json"},
        body,
        "eu-west-1",
        "lambda",
        Credentials("AKIDEXAMPLE", "secret/key+", token),
        NOW,
    )
    theirs = botocore_authorization(monkeypatch, path, body, token)
    # Then the Authorization, the date and the token agree
    assert ours["authorization"] == theirs["authorization"]
    assert ours["x-amz-date"] == theirs["x-amz-date"] == "20261121T130509Z"
    assert ours.get("x-amz-security-token") == theirs.get("x-amz-security-token")


def test_a_different_body_or_moment_gives_another_signature() -> None:
    def sign(body: bytes, now: datetime) -> str:
        credentials = Credentials("AKIDEXAMPLE", "secret")
        headers = signed_headers(
            "POST", "h", "/p", {}, body, "eu-west-1", "lambda", credentials, now
        )
        return headers["authorization"]

    assert sign(b"a", NOW) != sign(b"b", NOW)
    assert sign(b"a", NOW) != sign(b"a", NOW.replace(second=10))


def test_credentials_come_from_the_function_s_environment() -> None:
    environ = {"AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "s", "AWS_SESSION_TOKEN": "t"}
    assert Credentials.from_environment(environ) == Credentials("AKID", "s", "t")
    assert Credentials.from_environment({"AWS_ACCESS_KEY_ID": "AKID"}) is None
