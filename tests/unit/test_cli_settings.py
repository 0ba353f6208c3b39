"""Where the command finds its API, its organiser token and its voter tokens."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from talkrate_cli.errors import CliError
from talkrate_cli.settings import VoterTokens, admin_token, api_from_stack, is_loopback

pytestmark = pytest.mark.unit


def make_stack(name: str, outputs: dict[str, str]) -> None:
    template = {
        "Resources": {"Handle": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {key: {"Value": value} for key, value in outputs.items()},
    }
    boto3.client("cloudformation", region_name="eu-west-1").create_stack(
        StackName=name, TemplateBody=json.dumps(template)
    )


@mock_aws
def test_the_api_url_comes_from_the_stack_outputs() -> None:
    make_stack("talkrate-dev", {"ApiUrl": "https://abc.execute-api.eu-west-1.amazonaws.com"})
    make_stack("other", {"Something": "else"})
    assert (
        api_from_stack("talkrate-dev", "eu-west-1")
        == "https://abc.execute-api.eu-west-1.amazonaws.com"
    )
    with pytest.raises(CliError, match="stack other has no ApiUrl output"):
        api_from_stack("other", "eu-west-1")
    with pytest.raises(CliError, match=r"stack missing: .*does not exist"):
        api_from_stack("missing", "eu-west-1")


def test_voter_tokens_are_kept_per_api_privately_until_they_expire(tmp_path: Path) -> None:
    tokens = VoterTokens(tmp_path / "conf")
    tokens.put("http://a", {"voterToken": "t-a", "expiresAt": "2999-01-01T00:00:00Z"})
    tokens.put("http://b", {"voterToken": "t-b", "expiresAt": "2000-01-01T00:00:00Z"})
    again = VoterTokens(tmp_path / "conf")
    assert again.get("http://a") == "t-a"
    assert again.get("http://b") is None  # expired
    assert again.get("http://c") is None
    assert stat.S_IMODE(again.path.stat().st_mode) == 0o600
    again.forget("http://a")
    assert VoterTokens(tmp_path / "conf").get("http://a") is None


def test_the_organiser_token_from_the_environment_else_the_local_runtimes_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TALKRATE_ADMIN_TOKEN", raising=False)
    monkeypatch.setenv("TALKRATE_LOCAL_DATA", str(tmp_path))
    assert admin_token("http://127.0.0.1:3000") is None
    (tmp_path / "organiser-token").write_text("from-the-runtime\n")
    assert admin_token("http://127.0.0.1:3000") == "from-the-runtime"
    assert admin_token("https://api.example.com") is None  # a local secret stays local
    monkeypatch.setenv("TALKRATE_ADMIN_TOKEN", "from-env")
    assert admin_token("https://api.example.com") == "from-env"


@pytest.mark.parametrize(
    ("url", "local"),
    [
        ("http://127.0.0.1:3000", True),
        ("http://localhost", True),
        ("http://[::1]:3000/", True),
        ("https://abc.execute-api.eu-west-1.amazonaws.com", False),
        ("http://127.0.0.1.example.com", False),
    ],
)
def test_loopback_apis_are_recognised(url: str, local: bool) -> None:
    assert is_loopback(url) is local
