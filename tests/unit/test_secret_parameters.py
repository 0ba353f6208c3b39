"""scripts/secret_parameters.py, typed into on a terminal (a pseudo-terminal) as an operator
does, running a stand-in for `sam deploy` that reads its --parameter-overrides with the SAM
CLI's own option (its file:// parameter file included): the hidden values reach SAM whole, and
never a command line, the terminal or a file left behind."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from sam_emulator.template.cfn_yaml import load_yaml
from tests.builders import ROOT
from tests.terminal import in_a_terminal, terminal_shows
from tests.unit.test_template_operations import SAM_PYTHON

pytestmark = pytest.mark.unit

SCRIPT = ROOT / "scripts" / "secret_parameters.py"

# `sam deploy` as far as its parameters go: the SAM CLI's --parameter-overrides option parses
# the arguments; it says what it got, its own command line, and the parameter file's modes.
STAND_IN = """
import json, os, stat, sys
import click
from samcli.commands._utils.options import parameter_override_click_option

@click.command()
@parameter_override_click_option()
def deploy(parameter_overrides):
    files = [a[len("file://"):] for a in sys.argv if a.startswith("file://")]
    modes = [[oct(stat.S_IMODE(os.stat(p).st_mode)), oct(stat.S_IMODE(os.stat(os.path.dirname(p)).st_mode))] for p in files]
    with open(os.environ["SAID"], "w") as said:
        json.dump({"overrides": parameter_overrides, "argv": sys.argv, "files": files, "modes": modes}, said)

deploy()
"""


def typed(tmp_path: Path, names: list[str], answers: list[str], *extra: str) -> tuple[int, str]:
    """Run the script on a terminal of its own, typing each answer at its prompt: its exit
    status and all the terminal showed."""
    command = [str(SAM_PYTHON), "-c", STAND_IN, "--parameter-overrides", "SchemaRun=2", *extra]
    with in_a_terminal(
        [sys.executable, str(SCRIPT), *names, "--", *command],
        start_new_session=True,  # no other terminal to ask on than this one
        env={**os.environ, "SAID": str(tmp_path / "said.json")},
    ) as (process, master):
        shown = ""
        for answer in answers:
            shown += terminal_shows(master, r"\(not shown\): ", 20.0)
            os.write(master, answer.encode() + b"\n")
        shown += terminal_shows(master, None, 20.0)
        return process.wait(timeout=30), shown


# A connection string holding what YAML, a shell and a URL each read specially.
DSN = "postgresql://talkrate:p#ss: 'w{o}&*rd é@db.example:5432/talkrate?sslmode=verify-full"
KAFKA_PASSWORD = "k!a$f`k a-pw"


def test_typed_values_reach_sam_whole_and_no_command_line_terminal_or_file(
    tmp_path: Path,
) -> None:
    # Given an operator changing the database and the Kafka password (both hidden parameters)
    # When they type them at the script's prompts, the deploy's own overrides beside them
    status, shown = typed(tmp_path, ["TalksConnection", "KafkaPassword"], [DSN, KAFKA_PASSWORD])
    # Then the deploy ran and read both values as typed, with its own override
    assert status == 0, shown
    said = json.loads((tmp_path / "said.json").read_text())
    assert said["overrides"] == {
        "TalksConnection": DSN,
        "KafkaPassword": KAFKA_PASSWORD,
        "SchemaRun": "2",
    }
    # And neither was on its command line (`ps`), nor shown on the terminal as typed
    for secret in (DSN, KAFKA_PASSWORD, "p#ss", "k!a$f"):
        assert not [arg for arg in said["argv"] if secret in arg], secret
        assert secret not in shown, secret
    # And the file it read was this user's alone, in a folder of its own, and is gone
    [path] = said["files"]
    assert said["modes"] == [["0o600", "0o700"]]
    assert not Path(path).exists()
    assert not Path(path).parent.exists()


def test_a_value_the_template_would_refuse_is_said_and_nothing_runs(tmp_path: Path) -> None:
    # Given a connection string that lost its "://" (libpq would quote it whole, password and all)
    mistyped = "postgresql//talkrate:hunter2@db.example/talkrate"
    # When it is typed
    status, shown = typed(tmp_path, ["TalksConnection"], [mistyped])
    # Then the template's rule is said, not the value, and nothing ran
    assert status == 2, shown
    assert "TalksConnection must be a PostgreSQL URL" in shown
    assert "nothing run" in shown
    assert "hunter2" not in shown
    assert not (tmp_path / "said.json").exists()


@pytest.mark.parametrize(
    ("names", "extra", "said"),
    [
        (["TalkConnection"], [], "TalkConnection: not a hidden parameter of template.yaml"),
        (["SchemaRun"], [], "SchemaRun: not a hidden parameter"),
        (["TalksConnection"], ["TalksConnection=postgresql://u:pw@h/db"], "on its command line"),
    ],
    ids=["misspelt", "not-hidden", "given-on-the-command-line"],
)
def test_what_it_cannot_take_is_refused_before_anything_is_asked(
    tmp_path: Path, names: list[str], extra: list[str], said: str
) -> None:
    status, shown = typed(tmp_path, names, [], *extra)
    assert status == 2, shown
    assert said in shown
    assert "(not shown)" not in shown
    assert not (tmp_path / "said.json").exists()


def test_without_a_terminal_to_ask_on_it_refuses(tmp_path: Path) -> None:
    finished = subprocess.run(
        [sys.executable, str(SCRIPT), "TalksConnection", "--", "true"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert finished.returncode == 2
    assert "asks on a terminal only" in finished.stderr


# Commands of the guides that take a deploy's parameters, a backend's login or a secret's value.
COMMANDS = ("sam deploy", "redis-cli", "pg_restore", "psql ", "aws ")
# An AWS CLI option given a secret's value, other than from a file (file://, fileb://: the
# CLI reads the value there, and the command line holds only the file's name).
INLINE_SECRET = re.compile(
    r"--(secret-string|secret-binary|cli-input-json|cli-input-yaml)(?![= ]+[\"']?fileb?://)"
)
GUIDES = ("README.md", "docs/operations.md", "docs/local-development.md")


def _commands(text: str) -> list[str]:
    """The guide's commands: its bash blocks' lines and its code spans that run one of
    COMMANDS (a span may break across lines, as the guides wrap them)."""
    blocks = re.findall(r"```bash\n(.*?)```", text, re.DOTALL)
    spans = re.findall(r"`([^`]+)`", re.sub(r"```.*?```", "", text, flags=re.DOTALL))
    lines = [line for block in blocks for line in block.replace("\\\n", " ").splitlines()]
    return [c for c in [*lines, *spans] if any(command in c for command in COMMANDS)]


def test_the_guides_put_no_hidden_parameter_or_password_on_a_command_line() -> None:
    # Given the template's hidden parameters (connection strings, the Kafka login), and the
    # secrets the runbook puts (the admin token, the voter-token key, the edge secret)
    template = load_yaml((ROOT / "template.yaml").read_text())
    hidden = [name for name, p in template["Parameters"].items() if p.get("NoEcho")]
    assert {"TalksConnection", "RatingsConnection", "KafkaPassword"} <= set(hidden)
    inline = []
    for guide in GUIDES:
        for command in _commands((ROOT / guide).read_text()):
            # Then no command of the guides gives one (scripts/secret_parameters.py asks),
            # nor a password in a URL or in REDISCLI_AUTH typed before redis-cli
            assert not [n for n in hidden if f"{n}=" in command], (guide, command)
            assert not re.search(r"://[^\s/@]*:[^\s/@]+@", command), (guide, command)
            assert "REDISCLI_AUTH=" not in command, (guide, command)
            # nor a secret's value given to the AWS CLI (put-secret-value) on its command line
            inline += [(guide, command)] if INLINE_SECRET.search(command) else []
    assert not inline, inline
