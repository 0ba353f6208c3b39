"""The order in which `make test` hands the suite's files to its workers: longest first.

`make test` gives each worker a whole file at a time (`--dist loadfile`), in the collection's
order (`--no-loadscope-reorder`); tests/conftest.py sorts the collection with `file_order`. A
file's seconds come from tests/file_seconds.txt, the seconds each file took in a run (its
tests' setup, call and teardown, read from pytest's junit xml); a file it does not list yet is
given its number of tests times the seconds a test of its folder takes on average there, so
that a new file of slow tests is not handed out last by chance. The longest first (the
longest-processing-time rule): the short files come last and fill the workers' ends evenly.

`make test-seconds JUNIT=report.xml` writes the table again from a run's junit xml
(`make test PYTEST_ARGS=--junitxml=report.xml`): `python -m tests.file_order report.xml`.
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
TABLE = REPOSITORY / "tests" / "file_seconds.txt"
HEADER = """\
# Seconds each test file takes in `make test` (its tests' setup, call and teardown, from a run's
# junit xml), longest first, and its number of tests. tests/conftest.py hands the files to the
# workers in this order (tests/file_order.py); a file missing here is estimated from its folder.
# Written by `make test-seconds JUNIT=report.xml`; the figures vary with the machine's load.
# seconds  tests  file
"""
# Seconds a test takes when the table knows no file at all
SECONDS_PER_TEST = 1.0

Table = dict[str, tuple[float, int]]  # file -> (seconds, tests)


def folder_of(file: str) -> str:
    """The folder a test file is in (tests/unit/test_x.py -> tests/unit)."""
    return file.rsplit("/", 1)[0] if "/" in file else ""


def read_table(text: str) -> Table:
    """The table's rows: each file's seconds and number of tests (comments and blank lines
    skipped)."""
    table: Table = {}
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            seconds, tests, file = line.split()
            table[file] = (float(seconds), int(tests))
    return table


def write_table(table: Mapping[str, tuple[float, int]]) -> str:
    """The table's text, the longest file first."""
    rows = sorted(table.items(), key=lambda row: (-row[1][0], row[0]))
    return HEADER + "".join(
        f"{seconds:7.1f}  {tests:5d}  {file}\n" for file, (seconds, tests) in rows
    )


def expected_seconds(
    tests_in: Mapping[str, int], table: Mapping[str, tuple[float, int]]
) -> dict[str, float]:
    """Each collected file's expected seconds: the table's, else its number of tests times the
    seconds per test of the table's files in its folder (of all its files when it lists none of
    that folder; SECONDS_PER_TEST when it is empty)."""
    seconds_in: dict[str, float] = defaultdict(float)
    tests_of: dict[str, int] = defaultdict(int)
    for file, (seconds, tests) in table.items():
        for group in (folder_of(file), "*"):
            seconds_in[group] += seconds
            tests_of[group] += tests

    def per_test(folder: str) -> float:
        group = folder if tests_of[folder] else "*"
        return seconds_in[group] / tests_of[group] if tests_of[group] else SECONDS_PER_TEST

    return {
        file: table[file][0] if file in table else count * per_test(folder_of(file))
        for file, count in tests_in.items()
    }


def file_order(tests_in: Mapping[str, int], table: Mapping[str, tuple[float, int]]) -> list[str]:
    """The collected files (each with its number of tests), the longest expected first; files
    expected alike by their number of tests, most first, then by name."""
    seconds = expected_seconds(tests_in, table)
    return sorted(tests_in, key=lambda file: (-seconds[file], -tests_in[file], file))


def file_of(classname: str, root: Path = REPOSITORY) -> str:
    """The test file a junit testcase's classname names (tests.unit.test_x.TestY ->
    tests/unit/test_x.py): the longest of its leading parts that is a file under `root`."""
    parts = classname.split(".")
    for end in range(len(parts), 0, -1):
        file = "/".join(parts[:end]) + ".py"
        if (root / file).is_file():
            return file
    return "/".join(parts) + ".py"


def table_from_junit(xml: str, root: Path = REPOSITORY) -> Table:
    """Each file's seconds (its testcases' times summed) and number of tests in a junit xml."""
    table: Table = {}
    for case in ET.fromstring(xml).iter("testcase"):  # noqa: S314 (the suite's own report)
        file = file_of(case.get("classname", ""), root)
        seconds, tests = table.get(file, (0.0, 0))
        table[file] = (seconds + float(case.get("time") or 0), tests + 1)
    return table


def main(arguments: list[str]) -> int:
    """Write tests/file_seconds.txt from the junit xml files named (the files of a later one
    replace those of an earlier one; files none of them ran keep their rows)."""
    if not arguments:
        print("usage: python -m tests.file_order REPORT.xml [REPORT.xml …]", file=sys.stderr)
        return 2
    table = read_table(TABLE.read_text()) if TABLE.exists() else {}
    for report in arguments:
        table.update(table_from_junit(Path(report).read_text()))
    table = {file: row for file, row in table.items() if (REPOSITORY / file).is_file()}
    TABLE.write_text(write_table(table))
    print(
        f"{TABLE.relative_to(REPOSITORY)}: {len(table)} files, {sum(s for s, _ in table.values()):.0f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
