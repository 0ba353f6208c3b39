"""Where the command finds its API, its organiser token and its voter tokens."""

from __future__ import annotations

import contextlib
import json
import os
import stat
import threading
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from talkrate_cli.client import Api
from talkrate_cli.errors import BadInput, CliError
from talkrate_cli.settings import (
    VoterTokens,
    admin_token,
    api_from_stack,
    api_key,
    is_loopback,
    retry_pauses,
    sendable_token,
)

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


def test_a_stack_without_a_region_to_look_in_says_how_to_give_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given no region anywhere (no --region, no AWS_REGION, no profile's)
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    # Then the stack is not looked for, and the line says how to give one (it was boto's
    # "You must specify a region.")
    with pytest.raises(CliError, match=r"stack prod: no AWS region .* --region, or .*AWS_REGION"):
        api_from_stack("prod")


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


def test_no_file_of_the_voter_tokens_is_ever_readable_by_others(tmp_path: Path) -> None:
    # Given a umask that leaves new files readable by everyone, and someone watching the folder
    folder = tmp_path / "conf"
    folder.mkdir()
    seen_open: set[str] = set()
    writing = threading.Event()
    writing.set()

    def watch() -> None:
        while writing.is_set():
            for entry in os.scandir(folder):
                with contextlib.suppress(FileNotFoundError):
                    if entry.stat().st_mode & 0o077:
                        seen_open.add(entry.name)

    watcher = threading.Thread(target=watch)
    previous = os.umask(0o022)
    watcher.start()
    try:
        # When tokens are kept again and again
        tokens = VoterTokens(folder)
        for n in range(300):
            tokens.put("http://a", {"voterToken": f"t-{n}", "expiresAt": "2999-01-01T00:00:00Z"})
    finally:
        writing.clear()
        watcher.join()
        os.umask(previous)
    # Then no file there was ever open to others, and the last token is the one kept
    assert seen_open == set()
    assert VoterTokens(folder).get("http://a") == "t-299"
    assert [p.name for p in folder.iterdir()] == ["voters.json"]


@pytest.mark.parametrize(
    ("spelling", "key"),
    [
        ("http://127.0.0.1:3000", "http://127.0.0.1:3000"),
        ("http://127.0.0.1:3000/", "http://127.0.0.1:3000"),
        ("HTTP://127.0.0.1:3000", "http://127.0.0.1:3000"),
        ("https://API.Example.com:443/Prod/", "https://api.example.com/Prod"),
        ("http://api.example.com:80", "http://api.example.com"),
        ("https://api.example.com:80", "https://api.example.com:80"),
        ("http://[::1]:3000/", "http://[::1]:3000"),
    ],
)
def test_an_api_url_has_one_spelling(spelling: str, key: str) -> None:
    assert api_key(spelling) == key


def test_one_api_spelt_three_ways_keeps_one_voter_token(tmp_path: Path) -> None:
    # Given a token kept for the local runtime
    tokens = VoterTokens(tmp_path / "conf")
    tokens.put("http://127.0.0.1:3000", {"voterToken": "t-1", "expiresAt": None})
    # Then the same API spelt otherwise finds it (the same attendee), another API does not
    for spelling in ("http://127.0.0.1:3000/", "HTTP://127.0.0.1:3000", "http://127.0.0.1:3000//"):
        assert VoterTokens(tmp_path / "conf").get(spelling) == "t-1"
    assert tokens.get("http://127.0.0.1:3001") is None
    assert tokens.get("http://127.0.0.1:3000/stage") is None
    # When a new token is kept under another spelling, it replaces the first
    tokens.put("HTTP://127.0.0.1:3000/", {"voterToken": "t-2", "expiresAt": None})
    assert tokens.get("http://127.0.0.1:3000") == "t-2"
    assert list(json.loads(tokens.path.read_text())) == ["http://127.0.0.1:3000"]


def test_a_token_kept_under_an_old_spelling_is_still_read_then_moved(tmp_path: Path) -> None:
    # Given a voters.json written before URLs had one spelling
    folder = tmp_path / "conf"
    folder.mkdir()
    (folder / "voters.json").write_text(
        json.dumps(
            {
                "http://127.0.0.1:3000/": {"voterToken": "old", "expiresAt": None},
                "https://other.example.com": {"voterToken": "other", "expiresAt": None},
            }
        )
    )
    tokens = VoterTokens(folder)
    # Then the attendee's old token is used, whatever the spelling asked with
    assert tokens.get("http://127.0.0.1:3000") == "old"
    assert tokens.get("HTTP://127.0.0.1:3000/") == "old"
    # When the API refuses it, every spelling of it is forgotten, other APIs' tokens kept
    tokens.forget("http://127.0.0.1:3000")
    assert tokens.get("http://127.0.0.1:3000/") is None
    assert tokens.get("https://other.example.com/") == "other"
    # When a token is kept for an old spelling, it moves to the one spelling
    (folder / "voters.json").write_text(
        json.dumps({"HTTP://127.0.0.1:3000": {"voterToken": "old", "expiresAt": None}})
    )
    tokens.put("http://127.0.0.1:3000/", {"voterToken": "new", "expiresAt": None})
    assert json.loads(tokens.path.read_text()) == {
        "http://127.0.0.1:3000": {"voterToken": "new", "expiresAt": None, "renewAfter": None}
    }


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


def test_an_organiser_token_given_with_spaces_or_a_line_end_around_it_is_the_token(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # (it reached the header as given: "cannot reach the API: Illegal header value
    # b'Bearer <the token>\r'", the organiser token printed on stderr)
    for given in ("tok-123 ", "tok-123\r", "tok-123\n", "\ttok-123"):
        monkeypatch.setenv("TALKRATE_ADMIN_TOKEN", given)
        assert admin_token("https://api.example.com") == "tok-123"


@pytest.mark.parametrize("token", ["t\u00f6k-123", "tok\x00123", "tok\r\n123"])
def test_a_token_no_header_can_carry_is_refused_without_being_printed(token: str) -> None:
    with pytest.raises(CliError) as refused:
        sendable_token(token, "TALKRATE_ADMIN_TOKEN")
    assert "TALKRATE_ADMIN_TOKEN" in str(refused.value)
    assert "123" not in str(refused.value)
    assert sendable_token("a phrase of words", "x") == "a phrase of words"


@pytest.mark.parametrize(
    ("url", "local"),
    [
        ("http://127.0.0.1:3000", True),
        ("http://localhost", True),
        ("http://[::1]:3000/", True),
        ("https://abc.execute-api.eu-west-1.amazonaws.com", False),
        ("http://127.0.0.1.example.com", False),
        # The host is what comes after a user name (`simulate` loaded this one without --yes)
        ("http://127.0.0.1:3000@api.example.com/", False),
        ("http://[::1]/", True),
        ("HTTP://LOCALHOST:3000", True),
    ],
)
def test_loopback_apis_are_recognised(url: str, local: bool) -> None:
    assert is_loopback(url) is local


def test_the_admin_help_says_where_the_organiser_token_comes_from(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from talkrate_cli.main import main

    # When an organiser asks the admin commands for help
    assert main(["admin", "--help"]) == 0
    said = " ".join(capsys.readouterr().out.split())
    # Then it names the variable and the local runtime's file the token is taken from, and
    # that an export needs none (it said every admin command needed the token, and not where
    # it came from)
    assert "TALKRATE_ADMIN_TOKEN" in said
    assert "organiser-token" in said
    assert "Exporting needs none" in said


def test_every_option_of_every_command_says_what_it_is_for() -> None:
    import click

    from talkrate_cli.main import cli

    def unexplained(command: click.Command, path: str) -> list[str]:
        found = [
            f"{path} {param.opts[0]}"
            for param in command.params
            if isinstance(param, click.Option)
            and param.name != "help"
            # with the variable it is read from named (rate's and simulate's --code did not)
            and (
                not param.help or (isinstance(param.envvar, str) and param.envvar not in param.help)
            )
        ]
        if isinstance(command, click.Group):
            context = click.Context(command)  # the commands loaded when named among them
            for name in command.list_commands(context):
                sub = command.get_command(context, name)
                assert sub is not None, name
                found += unexplained(sub, f"{path} {name}")
        return found

    # (simulate's -n, --concurrency, --bad-share, --change-mind and --verify-timeout, top's and
    # watch's --limit, ops relay's --limit and ops replay's --topic had no word in --help)
    assert unexplained(cli, "talkrate") == []


def test_an_admin_token_too_long_to_be_one_is_said_so_without_being_printed(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from talkrate_cli.main import main

    # Given a TALKRATE_ADMIN_TOKEN of 100 kB (a file's content exported by mistake), which no
    # header takes: the local runtime answered "Line too long (431)"
    monkeypatch.setenv("TALKRATE_ADMIN_TOKEN", "tok" + "x" * 100_000)
    # When an organiser runs an admin command
    status = main(["--api", "http://127.0.0.1:9", "admin", "rm", "some-talk"])
    said = capsys.readouterr().err
    # Then one line names the variable and says it is too long for a token, printing none of it
    assert status == 1
    assert said.count("\n") == 1, said
    assert "TALKRATE_ADMIN_TOKEN is too long to be an organiser token" in said, said
    assert "xxxx" not in said
    assert "tok" not in said.replace("token", "")


def test_a_lost_answer_is_sent_again_after_1_2_and_4_s_unless_talkrate_retry_seconds_says(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given no setting, or a blank one: the command's own pauses
    monkeypatch.delenv("TALKRATE_RETRY_SECONDS", raising=False)
    assert retry_pauses() is None
    assert Api("http://127.0.0.1:3000", retry_pauses=retry_pauses()).retry_pauses == (1, 2, 4)
    monkeypatch.setenv("TALKRATE_RETRY_SECONDS", " ")
    assert retry_pauses() is None
    # Given a first pause: it, then twice and four times it
    for given, pauses in [("0.05", (0.05, 0.1, 0.2)), (" 3 ", (3, 6, 12)), ("60", (60, 120, 240))]:
        monkeypatch.setenv("TALKRATE_RETRY_SECONDS", given)
        assert retry_pauses() == pytest.approx(pauses), given
        assert Api("http://127.0.0.1:3000", retry_pauses=retry_pauses()).retry_pauses == (
            pytest.approx(pauses)
        )


@pytest.mark.parametrize("given", ["0", "-1", "60.5", "1s", "nan", "inf", "one"])
def test_a_retry_pause_that_is_no_number_of_seconds_is_bad_input_naming_the_setting(
    given: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TALKRATE_RETRY_SECONDS", given)
    with pytest.raises(BadInput) as bad:
        retry_pauses()
    assert str(bad.value) == (
        f"bad TALKRATE_RETRY_SECONDS {given!r}: expected seconds above 0, at most 60 (the first "
        "pause before a write whose answer was lost is sent again; 1 unless set)"
    )
