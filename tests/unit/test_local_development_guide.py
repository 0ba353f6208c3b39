"""docs/local-development.md's table of the runtime's switches against the runtime: every option
`python -m talkrate_local --help` lists is in it (`--concurrency` and `--param` were not), none
it names is missing, and each environment variable it names is one the runtime reads (the
`--live-port` row named the live channel's API key as if it chose the port)."""

from __future__ import annotations

import re

import pytest

from sam_emulator.cli import parser
from talkrate_local.stack import add_options
from tests.builders import ROOT

pytestmark = pytest.mark.unit

GUIDE = (ROOT / "docs" / "local-development.md").read_text()


def switches() -> list[list[str]]:
    """The rows of the switches table: option, environment, effect."""
    table = GUIDE.split("| option | environment | effect |", 1)[1].split("\n\n", 1)[0]
    return [
        [cell.strip() for cell in line.strip().strip("|").split("|")]
        for line in table.splitlines()[2:]
    ]


def test_the_switches_table_names_every_option_of_the_runtime_and_no_other() -> None:
    # Given the runtime's options (talkrate's dev stack's among them)
    runtime = parser("python -m talkrate_local", "")
    add_options(runtime)
    options = {
        option
        for action in runtime._actions
        for option in action.option_strings
        if option.startswith("--") and option != "--help"
    }
    # When the table's option cells are read
    named = {option for row in switches() for option in re.findall(r"`(--[a-z-]+)", row[0])}
    # Then they are the same
    assert "--embedded" in named  # the table is still read
    assert sorted(options - named) == []
    assert sorted(named - options) == []


def test_each_variable_of_the_switches_table_is_read_by_the_runtime() -> None:
    sources = "\n".join(path.read_text() for path in sorted((ROOT / "local").rglob("*.py")))
    named = {variable for row in switches() for variable in re.findall(r"`([A-Z_]+)=", row[1])}
    assert "TALKRATE_LOCAL_EMBEDDED" in named  # the table is still read
    assert sorted(variable for variable in named if f'"{variable}"' not in sources) == []
    # And one named beside an option sets what that option sets: the same word in both
    for row in switches():
        for variable in re.findall(r"`([A-Z_]+)", row[1]):
            if row[0]:
                assert variable.split("_")[-1].lower() in row[0].replace("-", " "), row
