"""`--help` answers for every command and group, whatever options come before it: an option a
group refuses (`talkrate --api URL ops …`) is no reason to refuse its help."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
PATHS = ("layers/shared", "cli", "local", "ops")


@pytest.mark.parametrize(
    ("args", "usage"),
    [
        (["--api", "http://127.0.0.1:3720", "ops", "rebuild", "--help"], "talkrate ops rebuild"),
        (["--api", "http://127.0.0.1:3720", "ops", "--help"], "talkrate ops [OPTIONS]"),
        (
            ["--api", "http://127.0.0.1:3720", "ops", "dead-letters", "-h"],
            "talkrate ops dead-letters",
        ),
        (["--stack", "prod", "ops", "forget-voter", "--help"], "talkrate ops forget-voter"),
        (["--api", "http://x", "--stack", "prod", "show", "--help"], "talkrate show"),
        (
            ["--api", "http://x", "--stack", "prod", "admin", "import", "--help"],
            "talkrate admin import",
        ),
        (["--api", "http://x", "--stack", "prod", "--help"], "talkrate [OPTIONS]"),
        (["--json", "--api", "http://x", "ops", "replay", "--help"], "talkrate ops replay"),
    ],
)
def test_help_answers_whatever_options_come_before_it(
    args: list[str], usage: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from talkrate_cli.main import main

    # When the operator asks a command for its help after options its group refuses
    status = main(args)
    said = capsys.readouterr()
    # Then the help is shown, and nothing refused
    assert (status, said.err) == (0, ""), said
    assert f"Usage: {usage}" in said.out


def test_a_refused_option_is_still_refused_without_help(capsys: pytest.CaptureFixture[str]) -> None:
    from talkrate_cli.main import main

    # When an operation is run (not its help) with --api
    status = main(["--api", "http://127.0.0.1:3720", "ops", "rebuild"])
    # Then it is refused as before, and `--help` given as a value is no help
    assert status == 2
    assert "--api is for the commands that go through the API" in capsys.readouterr().err
    assert main(["--api", "http://x", "--stack", "prod", "rate", "t1", "--help-not"]) == 2


def ops_alias(*args: str) -> subprocess.CompletedProcess[str]:
    """`python -m talkrate_ops ARGS`, as docs/operations.md runs the operator commands."""
    return subprocess.run(
        [sys.executable, "-m", "talkrate_ops", *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(str(ROOT / p) for p in PATHS)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_ops_alias_calls_itself_as_typed_and_shows_every_option_it_takes() -> None:
    # When an operator asks `python -m talkrate_ops` for its help
    done = ops_alias("--help")
    # Then it names itself as they typed it (it said `talkrate ops`, which they had not typed)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Usage: python -m talkrate_ops [OPTIONS] COMMAND"), done.stdout
    # And it lists --json, which it takes before or after the command (it listed only --help)
    assert re.search(r"^  --json\s+Print JSON", done.stdout, re.MULTILINE), done.stdout
    assert "Operate the backends" in done.stdout
    # And a command's help and a usage error name it so too
    relay = ops_alias("relay", "--help")
    assert relay.stdout.startswith("Usage: python -m talkrate_ops relay [OPTIONS]"), relay
    wrong = ops_alias("relay", "--nope")
    assert wrong.returncode == 2
    assert "(see `python -m talkrate_ops relay --help`)" in wrong.stderr, wrong.stderr
    # And --json still asks for the help as a document
    assert json.loads(ops_alias("--help", "--json").stdout)["help"].startswith(
        "Usage: python -m talkrate_ops"
    )


def test_the_ops_alias_has_a_version_and_names_itself_in_its_errors_and_advice() -> None:
    # When an operator asks `python -m talkrate_ops` for its version, as `talkrate` answers it
    version = ops_alias("--version")
    scripted = ops_alias("--version", "--json")
    # Then it says it (it was a usage error: "No such option '--version'")
    assert version.returncode == 0, version.stderr
    assert re.fullmatch(r"python -m talkrate_ops, version \S+\n", version.stdout), version.stdout
    assert scripted.returncode == 0, scripted.stderr
    assert json.loads(scripted.stdout)["version"] == version.stdout.split()[-1]
    # When an operation fails (its database out of reach), its voter given on the command line
    down = {
        "TALKS_CONNECTION": "postgresql://postgres@127.0.0.1:1/talkrate",
        "RATINGS_CONNECTION": "redis://127.0.0.1:1",
    }
    done = subprocess.run(
        [sys.executable, "-m", "talkrate_ops", "forget-voter", "v-1"],
        cwd=ROOT,
        env={
            **os.environ,
            **down,
            "PYTHONPATH": os.pathsep.join(str(ROOT / p) for p in PATHS),
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    # Then its error starts with the command as run (it said `talkrate:`), and its advice
    # names the command as run too (it said `talkrate ops forget-voter -`)
    assert done.returncode == 1
    advice, error = done.stderr.strip().splitlines()
    assert error.startswith("python -m talkrate_ops: PostgreSQL is unreachable"), error
    assert "`python -m talkrate_ops forget-voter -` reads it" in advice, advice
    assert "talkrate ops" not in done.stderr


def test_an_error_s_advice_names_the_command_as_it_was_run(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from talkrate_cli.errors import CliError
    from talkrate_cli.main import report

    # Given an error of an operation whose advice names another operation
    error = CliError("2 of 9 rated talks differ: `talkrate ops rebuild` recounts them")
    # When it is reported as `talkrate ops` and as the alias, as a line and as a document
    report(error, False)
    report(error, False, "python -m talkrate_ops")
    report(error, True, "python -m talkrate_ops")
    said = capsys.readouterr()
    # Then each names the command as it was run, at the start and in its advice
    assert said.err.splitlines() == [
        "talkrate: 2 of 9 rated talks differ: `talkrate ops rebuild` recounts them",
        "python -m talkrate_ops: 2 of 9 rated talks differ: `python -m talkrate_ops rebuild` "
        "recounts them",
        "python -m talkrate_ops: 2 of 9 rated talks differ: `python -m talkrate_ops rebuild` "
        "recounts them",
    ]
    assert json.loads(said.out)["error"]["detail"] == (
        "2 of 9 rated talks differ: `python -m talkrate_ops rebuild` recounts them"
    )
