"""The order in which `make test` hands its files to the workers (tests/file_order.py): the
longest expected first, a file the seconds table does not list estimated from its folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.file_order import (
    SECONDS_PER_TEST,
    expected_seconds,
    file_order,
    read_table,
    table_from_junit,
    write_table,
)

pytestmark = pytest.mark.unit

TABLE = {
    "tests/e2e/test_web_app.py": (200.0, 40),  # 5 s a test
    "tests/e2e/test_contract.py": (30.0, 3),  # 10 s a test
    "tests/unit/test_template_deploys.py": (25.0, 7),
    "tests/unit/test_stats.py": (1.0, 50),
    "tests/integration/test_votes.py": (12.0, 20),
}


def test_the_longest_file_goes_first_whatever_its_folder() -> None:
    # Given files the table lists, a unit file slower than an end-to-end one
    tests_in = {file: tests for file, (_, tests) in TABLE.items()}
    # When they are ordered
    order = file_order(tests_in, TABLE)
    # Then the longest come first: the unit file of 7 slow tests before the integration file
    # of 20 (folder first, then most tests, left it last of all)
    assert order == [
        "tests/e2e/test_web_app.py",
        "tests/e2e/test_contract.py",
        "tests/unit/test_template_deploys.py",
        "tests/integration/test_votes.py",
        "tests/unit/test_stats.py",
    ]


def test_a_file_the_table_lacks_is_its_tests_times_its_folder_s_seconds_per_test() -> None:
    # Given a new end-to-end file of 4 tests, and a new file of 6 in a folder the table lacks
    tests_in = {
        "tests/e2e/test_new.py": 4,
        "tests/faults/test_new.py": 6,
        "tests/unit/test_stats.py": 50,
        "tests/unit/test_template_deploys.py": 7,
    }
    # When the files' seconds are expected
    seconds = expected_seconds(tests_in, TABLE)
    # Then the e2e one takes its folder's 230 s / 43 tests a test, the other the table's
    # 268 s / 120 tests, and the listed ones their own seconds
    assert seconds["tests/e2e/test_new.py"] == pytest.approx(4 * 230 / 43)
    assert seconds["tests/faults/test_new.py"] == pytest.approx(6 * 268 / 120)
    assert seconds["tests/unit/test_stats.py"] == 1.0
    # And the new e2e file (21.4 s) is handed out before the listed 1-s file, not last
    assert file_order(tests_in, TABLE) == [
        "tests/unit/test_template_deploys.py",
        "tests/e2e/test_new.py",
        "tests/faults/test_new.py",
        "tests/unit/test_stats.py",
    ]


def test_without_a_table_the_files_of_most_tests_go_first_then_by_name() -> None:
    tests_in = {"tests/unit/test_b.py": 3, "tests/unit/test_a.py": 3, "tests/e2e/test_c.py": 9}
    assert expected_seconds(tests_in, {})["tests/e2e/test_c.py"] == 9 * SECONDS_PER_TEST
    assert file_order(tests_in, {}) == [
        "tests/e2e/test_c.py",
        "tests/unit/test_a.py",
        "tests/unit/test_b.py",
    ]


def test_the_table_is_written_from_a_junit_xml_and_read_back(tmp_path: Path) -> None:
    # Given a junit xml of two files, one with a class of tests, and those files on disk
    for file in ("tests/unit/test_one.py", "tests/e2e/test_two.py"):
        (tmp_path / file).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / file).write_text("")
    xml = """<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest">
    <testcase classname="tests.unit.test_one" name="test_a" time="1.25" />
    <testcase classname="tests.unit.test_one.TestGroup" name="test_b" time="2.5" />
    <testcase classname="tests.e2e.test_two" name="test_c[x]" time="30.0"><skipped /></testcase>
    </testsuite></testsuites>"""
    # When the table is made from it, written and read again
    table = table_from_junit(xml, tmp_path)
    text = write_table(table)
    # Then each file has its testcases' seconds summed and their number, the longest first
    assert table == {"tests/unit/test_one.py": (3.75, 2), "tests/e2e/test_two.py": (30.0, 1)}
    assert [line.split()[-1] for line in text.splitlines() if not line.startswith("#")] == [
        "tests/e2e/test_two.py",
        "tests/unit/test_one.py",
    ]
    assert read_table(text) == {
        "tests/unit/test_one.py": (3.8, 2),
        "tests/e2e/test_two.py": (30.0, 1),
    }
