"""Run a `sam deploy` with the stack's hidden parameters (a connection string, a Kafka password)
asked for on the terminal without echo, and handed to SAM in a file only this user can read,
deleted when the command ends: never on a command line (the shell's history, `ps`), in the
terminal's scrollback or in samconfig.toml (docs/operations.md, "Changed credentials").

    .venv/bin/python scripts/secret_parameters.py TalksConnection -- \\
        .tools/sam/bin/sam deploy --config-env prod --parameter-overrides SchemaRun=2

Refuses, before asking anything, a name that is not a hidden (NoEcho) parameter of
template.yaml, and a command that gives one of the named parameters itself; refuses a value the
template's AllowedPattern would (saying its rule, never the value), before anything is run. The
values go to `parameters.yaml` in a new private folder; the command runs with `file://<that
file>` first among its --parameter-overrides (SAM's parameter file: the command's own
`Name=value` overrides follow it). A command-line --parameter-overrides replaces samconfig.toml's,
as SAM's always does: every parameter not named keeps the stack's value. Exits with the
command's status.
"""

from __future__ import annotations

import getpass
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

TEMPLATE = Path(__file__).resolve().parent.parent / "template.yaml"
OVERRIDES = "--parameter-overrides"


class Refused(ValueError):
    """A name, a command or a value this cannot take (the message says which, never a value)."""


def hidden_parameters(template: Path = TEMPLATE) -> dict[str, dict[str, Any]]:
    """The template's NoEcho parameters, by name."""
    from sam_emulator.template.cfn_yaml import load_yaml

    parameters: dict[str, dict[str, Any]] = load_yaml(template.read_text())["Parameters"]
    return {name: p for name, p in parameters.items() if p.get("NoEcho")}


def checked_names(names: list[str], hidden: Mapping[str, Any], command: list[str]) -> None:
    """Refuse names that are no hidden parameter, and a command that gives one of them."""
    if not names:
        raise Refused("name the hidden parameters to ask for (TalksConnection, KafkaPassword...)")
    unknown = [name for name in names if name not in hidden]
    if unknown:
        raise Refused(
            f"{', '.join(unknown)}: not a hidden parameter of template.yaml "
            f"({', '.join(sorted(hidden))})"
        )
    if not command:
        raise Refused("give the command to run after `--` (.tools/sam/bin/sam deploy ...)")
    given = [name for name in names for arg in command if arg.startswith(f"{name}=")]
    if given:
        raise Refused(
            f"the command gives {', '.join(given)} on its command line: leave it to this (and "
            "out of the shell's history)"
        )


def checked_value(name: str, value: str, parameter: Mapping[str, Any]) -> None:
    """Refuse what CloudFormation would refuse of the value, saying the rule, never the value."""
    if not value:
        raise Refused(f"{name}: nothing given")
    pattern = parameter.get("AllowedPattern")
    if pattern and not re.fullmatch(pattern, value):
        rule = " ".join(str(parameter.get("ConstraintDescription", "")).split())
        raise Refused(f"{name} {rule or 'does not match its AllowedPattern'}")


def with_parameter_file(command: list[str], url: str) -> list[str]:
    """The command with the parameter file first among its --parameter-overrides."""
    if OVERRIDES in command:
        at = command.index(OVERRIDES) + 1
        return [*command[:at], url, *command[at:]]
    return [*command, OVERRIDES, url]


def ask(names: list[str], hidden: Mapping[str, Any]) -> dict[str, str]:
    """Each value, asked on the terminal without echo and checked as it is given."""
    values = {}
    for name in names:
        value = getpass.getpass(f"{name} (not shown): ", stream=sys.stderr)
        checked_value(name, value, hidden[name])
        values[name] = value
    return values


def run(command: list[str], values: Mapping[str, str]) -> int:
    """Run the command with the values in a private parameter file, removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="talkrate-parameters-"))  # 0700
    try:
        path = folder / "parameters.yaml"
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            json.dump(dict(values), file)  # JSON is YAML: every value quoted as it is
        try:
            process = subprocess.Popen(with_parameter_file(command, f"file://{path}"))
        except OSError as error:  # no such command, not executable
            print(f"secret_parameters: {command[0]}: {error.strerror}", file=sys.stderr)
            return 127
        # Ctrl-C reaches the command from the terminal; this waits for it to end its own way,
        # then removes the file (ignored only once it runs: an ignored signal is inherited).
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            return process.wait()
        finally:
            signal.signal(signal.SIGINT, previous)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    cut = args.index("--") if "--" in args else len(args)
    names, command = args[:cut], args[cut + 1 :]
    try:
        if not sys.stdin.isatty():
            raise Refused("asks on a terminal only (the values are typed or pasted there)")
        hidden = hidden_parameters()
        checked_names(names, hidden, command)
        values = ask(names, hidden)
    except Refused as refused:
        print(f"secret_parameters: {refused}; nothing run", file=sys.stderr)
        return 2
    except (EOFError, KeyboardInterrupt):
        print("\nsecret_parameters: nothing given; nothing run", file=sys.stderr)
        return 2
    return run(command, values)


if __name__ == "__main__":
    sys.exit(main())
