"""What the command loads to start: a rating, a talk or the programme does not wait for the
modules of the commands it does not run."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.builders import ROOT

pytestmark = pytest.mark.unit

# The modules of the commands loaded when named, and what only they need
HEAVY = [
    "talkrate_cli.commands.simulate",
    "talkrate_cli.commands.admin",
    "talkrate_cli.commands.watch",
    "talkrate_cli.commands.ops",
    "talkrate_cli.simulation.runner",
    "talkrate_cli.simulation.ledger",
]


def loaded_for(*args: str) -> list[str]:
    """The HEAVY modules a fresh interpreter has loaded once `talkrate ARGS` parsed its
    command line and resolved the command (its callback not run: --help)."""
    script = (
        "import sys\n"
        "from talkrate_cli.main import cli\n"
        "try:\n"
        f"    cli.main({list(args)!r}, standalone_mode=False)\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print(__import__('json').dumps([m for m in {HEAVY!r} if m in sys.modules]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    loaded: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
    return loaded


def test_the_reading_commands_start_without_the_others_modules() -> None:
    # Given a command an attendee runs (rate, show, talks)
    for command in ("rate", "show", "talks"):
        # Then none of the other commands' modules is loaded for it
        assert loaded_for(command, "--help") == [], command


def test_a_command_loaded_when_named_is_there_and_listed() -> None:
    # Given the commands loaded when named: each loads its own module when it is run
    assert "talkrate_cli.commands.simulate" in loaded_for("simulate", "--help")
    assert "talkrate_cli.commands.admin" in loaded_for("admin", "add", "--help")
    # And talkrate's help lists every command, those not loaded yet among them
    from click.testing import CliRunner

    from talkrate_cli.main import cli

    listed = CliRunner().invoke(cli, ["--help"]).output
    for name in ("rate", "show", "talks", "top", "watch", "simulate", "admin", "ops"):
        assert f"  {name} " in listed, (name, listed)


def libraries_loaded_for(args: list[str] | None) -> list[str]:
    """Of httpx and rich, those a fresh interpreter has loaded once the command's entry module
    is imported and `talkrate ARGS` has answered (not run when ARGS is None)."""
    script = (
        "import contextlib, io, json, sys\n"
        "from talkrate_cli.main import main\n"
        f"if {args!r} is not None:\n"
        "    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):\n"
        f"        main({args!r})\n"
        "print(json.dumps([m for m in ('httpx', 'rich') if m in sys.modules]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    loaded: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
    return loaded


def test_the_command_starts_without_its_http_client_and_its_terminal_library() -> None:
    # Given the command's entry module, imported by the console script at every start, When
    # nothing is asked of it yet, or only its version or a command's help
    for args in (None, ["--version"], ["rate", "--help"], ["show", "--help"]):
        # Then neither httpx nor rich is loaded (about 50 ms of a start of 130 ms): they come
        # with the first request and the first thing printed through rich
        assert libraries_loaded_for(args) == [], args


def test_the_help_of_every_command_answers_without_them() -> None:
    # Given talkrate's help, which lists every command (and so loads every command's module),
    # each group's help and a command's, a usage error, and `talkrate` alone
    asked = [
        ["--help"],
        ["--json", "--help"],
        [],
        ["no-such-command"],
        ["admin", "--help"],
        ["admin", "import", "--help"],
        ["ops", "--help"],
        ["ops", "rebuild", "--help"],
        ["watch", "--help"],
        ["simulate", "--help"],
    ]
    for args in asked:
        # Then neither httpx nor rich is loaded for it: a command's module imports them only
        # where it runs (httpx 0.28 loads its own command line, and with it rich)
        assert libraries_loaded_for(args) == [], args
