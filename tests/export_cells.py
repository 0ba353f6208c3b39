"""Cells of the results file as the organisers' page (`resultsCsv`) and `talkrate admin export`
(`write_results`) both write them: each side's tests check the same cells."""

from __future__ import annotations

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


def listed(talk_id: str, ratings: dict[str, int], **fields: Any) -> dict[str, Any]:
    """A talk as GET /talks lists it, with the summary the API gives of this histogram (its
    `avg` to four places)."""
    summary = RatingSummary.of(Histogram.from_counts(ratings)).document()
    return {"id": talk_id, "title": talk_id, "speakers": [], **fields, "summary": summary}
