"""`--help` answers for every command and group, whatever options come before it: an option a
group refuses (`talkrate --api URL ops …`) is no reason to refuse its help."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.unit


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
