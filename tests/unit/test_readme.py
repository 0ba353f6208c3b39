"""The README's configuration table against the code: every variable it names is read by
talkrate, and the defaults it states for numbers and for the stats function are the code's; the
web app's weight it states against what `make web-size` measures."""

from __future__ import annotations

import json
import re

from sam_emulator.template import load_template
from talkrate.config import Settings
from tests.builders import ROOT

README = (ROOT / "README.md").read_text()


def configuration_rows() -> dict[str, str]:
    """Each variable of the `## Configuration` table, with its default (local) cell."""
    section = README.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, str] = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not cells[0].startswith("`"):
            continue
        for variable in re.findall(r"`([A-Z][A-Z0-9_]+)`", cells[0]):
            rows[variable] = cells[1]
    return rows


def test_every_variable_of_the_configuration_table_is_a_setting() -> None:
    # Given the README's configuration table
    rows = configuration_rows()
    assert {"TALKS_CONNECTION", "LIVE_PUBLISH_TIMEOUT_SECONDS"} <= rows.keys()
    # Then each variable it names is one the functions' settings read
    fields = set(Settings.__annotations__)
    unread = sorted(variable for variable in rows if variable.lower() not in fields)
    assert unread == []


def test_the_numbers_and_the_stats_function_it_states_are_the_code_s_defaults() -> None:
    rows = configuration_rows()
    # A default that is a plain number is the setting's default
    numbers = {
        variable: float(number[1])
        for variable, default in rows.items()
        if (number := re.fullmatch(r"`(\d+(?:\.\d+)?)`", default))
    }
    assert "LIVE_PUBLISH_TIMEOUT_SECONDS" in numbers  # the table's form is still read
    for variable, number in numbers.items():
        assert number == getattr(Settings, variable.lower()), variable
    # And the stats function named is the one the template hands the API locally
    api = load_template(ROOT / "template.yaml").functions["ApiFunction"]
    assert f"`{api.environment['STATS_FUNCTION_NAME']}`" in rows["STATS_FUNCTION_NAME"]


def test_the_api_table_names_every_route_of_the_openapi_document_and_no_other() -> None:
    # Given the routes of the README's API table (`GET /talks?q=…` is GET /talks)
    table = README.split("| route | what |", 1)[1].split("\n\n", 1)[0]
    documented = {
        (method, path.split("?", 1)[0])
        for method, path in re.findall(r"`(GET|POST|PUT|DELETE) (/[^`\s]*)`", table)
    }
    # Then they are the routes of docs/openapi.json
    spec = json.loads((ROOT / "docs" / "openapi.json").read_text())
    published = {
        (method.upper(), path)
        for path, operations in spec["paths"].items()
        for method in operations
        if method in ("get", "post", "put", "delete")
    }
    assert documented == published


def test_the_json_error_types_it_lists_are_every_kind_the_commands_raise() -> None:
    import pkgutil
    from importlib import import_module

    import talkrate_cli.commands
    import talkrate_cli.main
    from talkrate_cli.errors import CliError

    for module in pkgutil.iter_modules(talkrate_cli.commands.__path__):  # each raises its own
        import_module(f"talkrate_cli.commands.{module.name}")

    kinds, todo = set(), [CliError]
    while todo:
        error = todo.pop()
        kinds.add(error.kind)
        todo.extend(error.__subclasses__())
    listed = README.split("(`type` `urn:talkrate:cli:`", 1)[1].split("), beside", 1)[0]
    assert set(re.findall(r"`([a-z-]+)`", listed)) >= kinds, listed


def test_the_web_app_s_weight_it_states_is_what_make_web_size_measures() -> None:
    from bench.web_size import measure

    # Given the weights the README states for the web app (served, gzipped; the source beside)
    said = re.search(
        r"against the budget of 100 KB gzipped: (\d+) KB \(the source files (\d+) KB beside it; "
        r"the\s+organisers' page, (\d+) KB of it served",
        README,
    )
    assert said, "the README's sentence on the web app's weight is no longer read"
    served, source, admin = (float(figure) for figure in said.groups())
    # When `make web-size` measures them
    sizes = measure()
    measured = {
        "served": sizes["gzip"] / 1024,
        "source": sizes["source_gzip"] / 1024,
        "admin": sizes["files"]["js/pages/admin.js"]["gzip"] / 1024,
    }
    # Then each is within 5% (or 1 KB) of what it says: the figure moves with every change of
    # web/, and a newcomer reads it as what the app weighs now
    for name, stated in {"served": served, "source": source, "admin": admin}.items():
        assert abs(measured[name] - stated) <= max(1.0, stated * 0.05), (name, measured[name])
