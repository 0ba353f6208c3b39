"""Cells of the results file as the organisers' page (`resultsCsv`) and `talkrate admin export`
(`write_results`) both write them: each side's tests check the same cells."""

from __future__ import annotations

import csv
import io
from typing import Any

from talkrate.values import Histogram, RatingSummary

# Histograms and the avg cell each is exported with (the exact average of the counts, to three
# places, a tie rounded up): (name, histogram, cell). The API's `avg` is rounded to four places
# already, and a second rounding of it moved the first four cells.
AVERAGE_CELLS: list[tuple[str, dict[str, int], str]] = [
    # 127/33 = 3.848484...: the API says 3.8485, which rounded again gave 3.849
    ("just under a tie, 127/33", {"1": 1, "2": 3, "3": 5, "4": 15, "5": 9}, "3.848"),
    # 16/11 = 1.454545...: the API's 1.4545 is a float just under it, which gave 1.454
    ("just over a tie, 16/11", {"1": 6, "2": 5}, "1.455"),
    ("17/11", {"1": 5, "2": 6}, "1.545"),
    # 2001/2000 is a tie exactly, which the float 1.0005 is just under (it gave 1.000)
    ("a tie the float is under, 2001/2000", {"1": 1999, "2": 1}, "1.001"),
    ("a tie the float is over, 4001/2000", {"2": 1999, "3": 1}, "2.001"),
    ("a tie exact in binary, 65/16", {"4": 15, "5": 1}, "4.063"),
    ("a tie up to five, 9999/2000", {"4": 1, "5": 1999}, "5.000"),
    ("a third", {"4": 2, "5": 1}, "4.333"),
    ("whole", {"4": 16}, "4.000"),
    ("one rating", {"1": 1}, "1.000"),
    ("a tie of two million ratings, 3001000/2000000", {"1": 999_000, "2": 1_001_000}, "1.501"),
    ("nobody rated it", {}, ""),
]

# Titles and speakers a spreadsheet splitting a line on ";", "," or a tab would have begun a
# cell of with a formula, and ones it would not: (name, title, speakers, the title's cell, the
# speakers' cell), the cells as a CSV reader reads them from the file: one "'" before a formula's
# start at a cell's start, two after a separator inside it. Each reads back as it was.
FORMULA_CELLS: list[tuple[str, str, list[str], str, str]] = [
    (
        "the security review's title and speaker",
        "Scaling teams;=2+3;",
        ["Mallory;=4+4;"],
        "Scaling teams;''=2+3;",
        "Mallory\\;''=4+4\\;",
    ),
    (
        "a second speaker's formula, after the speakers' separator",
        "Links",
        ["Bo", "=HYPERLINK(CHAR(104)&CHAR(116))", "@alice"],
        "Links",
        "Bo; ''=HYPERLINK(CHAR(104)&CHAR(116)); ''@alice",
    ),
    ("after a comma and a space", "Tea, -1 sugar, +1 milk", [], "Tea, ''-1 sugar, ''+1 milk", ""),
    (
        "after a quote a reader opens a cell at",
        'Part 1;"=1+1" and; "@x"',
        [],
        "Part 1;''\"=1+1\" and; ''\"@x\"",
        "",
    ),
    ("an apostrophe of its own before one", "Rock;'=x", ["A;'-b"], "Rock;'''=x", "A\\;'''-b"),
    ("at the start and after each", "=1;=2,=3", ["-a"], "'=1;''=2,''=3", "'-a"),
    (
        "a text's own apostrophes before formula starts, after a comma and a speaker",
        "Vim: ':wq', '=G' and '@q'",
        ["Ann", "'-) Bob"],
        "Vim: ':wq', '''=G' and '@q'",
        "Ann; '''-) Bob",
    ),
    (
        "no formula after a separator: untouched",
        "C++; C#, F# and 'unsafe'; \"quoted\"",
        ["Ana", "'Bo' Smith", "O'Neil, Pat"],
        "C++; C#, F# and 'unsafe'; \"quoted\"",
        "Ana; 'Bo' Smith; O'Neil, Pat",
    ),
]

# Cells typed by hand, or exported before 2026-12-05 (a "'" only at a cell's start), as a CSV
# reader reads them from the file, and the text both imports make of each: (name, the cell, the
# text). An import takes out only what an export puts: one "'" at a cell's start before a
# formula's start or a "'", and "''" after a ";", ",", tab or line break and its spaces before a
# formula's start (or the "'"s, double quotes and spaces leading to one). A single "'" there is
# the text's own.
HAND_TYPED_CELLS: list[tuple[str, str, str]] = [
    ("the read's title", "Vim: ':wq', '=G' and '@q'", "Vim: ':wq', '=G' and '@q'"),
    ("a second speaker's own apostrophe", "Ann; '-) Bob", "Ann; '-) Bob"),
    ("after a semicolon", "Rock;'=x; '+1", "Rock;'=x; '+1"),
    ("before a quote", 'Part 1; \'"=1"', 'Part 1; \'"=1"'),
    ("an old export's guard at the start", "'=x, '=y", "=x, '=y"),
    ("an old export's own apostrophe at the start", "''Tis, '-", "'Tis, '-"),
    # What an export writes for "x, =y" and "x,'@y": taken for its guard
    ("two after a separator", "x, ''=y", "x, =y"),
    ("three after a separator", "x,'''@y", "x,'@y"),
    ("two before no formula", "x, ''y", "x, ''y"),
]

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def listed(talk_id: str, ratings: dict[str, int], **fields: Any) -> dict[str, Any]:
    """A talk as GET /talks lists it, with the summary the API gives of this histogram (its
    `avg` to four places)."""
    summary = RatingSummary.of(Histogram.from_counts(ratings)).document()
    return {"id": talk_id, "title": talk_id, "speakers": [], **fields, "summary": summary}


def formula_starts(text: str) -> list[str]:
    """Each cell of a file's text that starts (after spaces) as a spreadsheet formula, read the
    ways a spreadsheet may read it: split on ",", ";" or a tab, spaces after a separator kept or
    skipped (Python's csv reads a quote as Excel does: one opening a cell, doubled inside)."""
    found = []
    for delimiter in (",", ";", "\t"):
        for skip in (False, True):
            lines = io.StringIO(text.removeprefix("\ufeff"), newline="")
            for record in csv.reader(lines, delimiter=delimiter, skipinitialspace=skip):
                found += [cell for cell in record if cell.lstrip(" ").startswith(FORMULA_STARTS)]
    return found
