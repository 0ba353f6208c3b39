"""`talkrate --stack NAME admin …` after the first deploy: the organiser token is the one the
stack generated, read from the secret its AdminTokenSecretArn output names (CloudFormation and
Secrets Manager from moto), and sent to a stand-in API on loopback that takes only that token."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from talkrate_cli.main import main
from tests.loopback import LoopbackServer, StandInHandler

pytestmark = pytest.mark.unit

GENERATED = "generated-organiser-token-48"


class OrganiserApi(LoopbackServer):
    """The catalog's organiser routes, taking only `token`; `presented` holds every bearer
    token an admin request carried, `added` every talk added."""

    def __init__(self, token: str) -> None:
        self.presented: list[str] = []
        self.added: list[dict[str, Any]] = []
        api = self

        class Handler(StandInHandler):
            def organiser(self) -> bool:
                given = self.headers.get("Authorization", "")
                api.presented.append(given.removeprefix("Bearer "))
                if given == f"Bearer {token}":
                    return True
                self.answer(401, {"title": "Not authenticated", "status": 401})
                return False

            def do_GET(self) -> None:
                if self.path == "/organiser":
                    if self.organiser():
                        self.answer(200, {})
                elif self.path.startswith("/talks"):
                    self.answer(200, {"items": [], "total": 0})
                else:
                    self.answer(404, {"title": "Not Found", "status": 404})

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if self.organiser():
                    api.added.append(body)
                    self.answer(201, {**body, "revision": 1})

        super().__init__(Handler)


@pytest.fixture
def api() -> Iterator[OrganiserApi]:
    server = OrganiserApi(GENERATED)
    yield server
    server.close()


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Credentials for moto only, and no organiser token from the shell or a local runtime."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "eu-west-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("TALKRATE_ADMIN_TOKEN", raising=False)
    monkeypatch.delenv("TALKRATE_API", raising=False)
    monkeypatch.setenv("TALKRATE_LOCAL_DATA", str(tmp_path))
    with mock_aws():
        yield


def deployed(api: OrganiserApi, token: str | None = GENERATED, name: str = "talkrate-prod") -> str:
    """A stack in eu-west-1 whose ApiUrl is the stand-in and, unless `token` is None, whose
    AdminTokenSecretArn names a secret holding `token` (as an operator's rotation may leave
    it: with a line end); the secret's ARN."""
    outputs: dict[str, Any] = {"ApiUrl": {"Value": api.url}}
    arn = ""
    if token is not None:
        secrets = boto3.client("secretsmanager", region_name="eu-west-1")
        arn = secrets.create_secret(Name=f"{name}-admin", SecretString=f"{token}\n")["ARN"]
        outputs["AdminTokenSecretArn"] = {"Value": arn}
    template = {"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}, "Outputs": outputs}
    boto3.client("cloudformation", region_name="eu-west-1").create_stack(
        StackName=name, TemplateBody=json.dumps(template)
    )
    return arn


def test_after_the_first_deploy_an_organiser_adds_talks_with_the_stack_s_own_token(
    aws: None, api: OrganiserApi, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a stack just deployed, its organiser token generated into Secrets Manager
    deployed(api)
    # When an operator adds a talk naming only the stack
    status = main(["--stack", "talkrate-prod", "admin", "add", "keynote", "--title", "Keynote"])
    out, err = capsys.readouterr()
    # Then the talk is added with the token the stack generated (it said "no organiser token")
    assert status == 0, err
    assert [talk["id"] for talk in api.added] == ["keynote"]
    assert set(api.presented) == {GENERATED}
    # And the token is printed nowhere
    assert GENERATED not in out + err


def test_the_shell_s_organiser_token_wins_over_the_stack_s(
    aws: None,
    api: OrganiserApi,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    deployed(api)
    monkeypatch.setenv("TALKRATE_ADMIN_TOKEN", "a-token-of-my-own")
    status = main(["--stack", "talkrate-prod", "admin", "add", "keynote", "--title", "Keynote"])
    # (the stand-in refuses it: it is not the stack's)
    assert status == 1
    assert set(api.presented) == {"a-token-of-my-own"}
    assert api.added == []
    assert "401" in capsys.readouterr().err


def test_a_stack_s_token_that_cannot_be_read_is_one_line_saying_what_to_do(
    aws: None, api: OrganiserApi, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a stack deployed before the output existed, and one whose secret is gone
    deployed(api, token=None, name="talkrate-old")
    arn = deployed(api, name="talkrate-gone")
    boto3.client("secretsmanager", region_name="eu-west-1").delete_secret(
        SecretId=arn, ForceDeleteWithoutRecovery=True
    )
    for stack, said in (
        ("talkrate-old", "stack talkrate-old has no AdminTokenSecretArn output"),
        ("talkrate-gone", "stack talkrate-gone: its organiser token (AdminTokenSecretArn) could"),
    ):
        # When an organiser's command is pointed at it
        status = main(["--stack", stack, "admin", "add", "keynote", "--title", "Keynote"])
        err = capsys.readouterr().err
        # Then it fails in one line that names the output and the variable, sending nothing
        assert status == 1, err
        assert said in " ".join(err.split()), err
        assert "TALKRATE_ADMIN_TOKEN" in err
        assert len(err.strip().splitlines()) == 1, err
    assert api.presented == []
    # And commands that need no organiser never read the secret
    assert main(["--stack", "talkrate-gone", "talks"]) == 0


def test_a_stack_s_token_stored_as_bytes_is_read_as_the_authorizer_reads_it(
    aws: None, api: OrganiserApi, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a stack whose organiser token was put by hand with --secret-binary (the authorizer
    # reads it as UTF-8 text, and takes it)
    arn = deployed(api)
    secrets = boto3.client("secretsmanager", region_name="eu-west-1")
    secrets.update_secret(SecretId=arn, SecretBinary=f"{GENERATED}\n".encode())
    # When an operator adds a talk naming only the stack
    status = main(["--stack", "talkrate-prod", "admin", "add", "keynote", "--title", "Keynote"])
    err = capsys.readouterr().err
    # Then it is sent, and the talk added (it said the secret "is empty")
    assert status == 0, err
    assert set(api.presented) == {GENERATED}
    assert [talk["id"] for talk in api.added] == ["keynote"]
    # And bytes that are not text are said as such, nothing sent
    secrets.update_secret(SecretId=arn, SecretBinary=b"\xff\xfe-not-text")
    api.presented.clear()
    status = main(["--stack", "talkrate-prod", "admin", "add", "talk-2", "--title", "Two"])
    err = capsys.readouterr().err
    assert status == 1, err
    assert "holds bytes that are not text" in " ".join(err.split()), err
    assert api.presented == []
