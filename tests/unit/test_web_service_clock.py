"""What an answer's Date header tells the web app of the device's clock (web/js/api.js
`skewHeard`), in Node: a right clock is believed, a wrong one moved the least that fits."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path

import pytest

from tests.nodejs import run_web_module

pytestmark = pytest.mark.unit

_SKEWS = """
const [scripts, cases] = [process.argv[1], JSON.parse(process.argv[2])];
const { skewHeard } = await import(new URL("api.js", scripts));
console.log(JSON.stringify(cases.map(([date, age, sentAt, now]) => skewHeard(date, age, sentAt, now))));
"""

SERVED = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
DATE = format_datetime(SERVED, usegmt=True)  # "Mon, 07 Dec 2026 10:00:00 GMT"
S = int(SERVED.timestamp() * 1000)
DAY = 86_400_000

# (what the case is, [Date, Age, the device's clock as the request went and as its answer came],
# the skew the page takes)
CASES = [
    ("right, 0.4 s into the Date's second", [DATE, None, S + 300, S + 400], 0),
    ("right, 0.999 s into it", [DATE, None, S + 900, S + 999], 0),
    ("right, past the second by the round trip", [DATE, None, S + 800, S + 1500], 0),
    ("0.3 s ahead of all the Date allows", [DATE, None, S + 1300, S + 1400], -300),
    ("three days ahead", [DATE, None, S + 3 * DAY, S + 3 * DAY + 100], 1000 - 3 * DAY),
    ("0.2 s behind", [DATE, None, S - 300, S - 200], 200),
    ("a day behind", [DATE, None, S - DAY - 50, S - DAY], DAY),
    ("right, kept 30 s by a cache", [DATE, "30", S + 31_000, S + 31_500], 0),
    ("behind, kept 30 s by a cache", [DATE, "30", S + 29_000, S + 29_100], 900),
    ("ahead, kept 30 s by a cache", [DATE, "30", S + 33_000, S + 33_100], -1000),
    ("an Age that is no number", [DATE, "soon", S + 1300, S + 1400], -300),
    ("its clock set back while the request went", [DATE, None, S + 5000, S + 1500], -500),
    ("no Date", [None, None, S, S + 100], None),
    ("a Date that is no date", ["yesterday", None, S, S + 100], None),
]


def test_the_device_s_clock_is_believed_within_what_the_date_header_allows(
    tmp_path: Path,
) -> None:
    # Given answers whose Date (whole seconds) and Age fit, or not, the device's clock
    # When the page reads what each tells of its clock
    node_out = run_web_module(tmp_path / "js", _SKEWS, json.dumps([case for _, case, _ in CASES]))
    # Then a clock the Date allows is kept to the millisecond (it was set back to the Date's
    # whole second: up to a second late), and one outside is moved to the nearer end
    skews = dict(zip([what for what, _, _ in CASES], json.loads(node_out), strict=True))
    assert skews == {what: skew for what, _, skew in CASES}
