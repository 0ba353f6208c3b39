"""What an answer's Date header tells the web app of the device's clock (web/js/api.js
`skewHeard`), in Node: a right clock is believed, a wrong one moved the least that fits; and what
several answers tell together (`skewNarrowed`): the spans they allow, intersected."""

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


_NARROWED = """
const [scripts, cases] = [process.argv[1], JSON.parse(process.argv[2])];
const { skewSpan, skewNarrowed } = await import(new URL("api.js", scripts));
console.log(JSON.stringify(cases.map((answers) => {
  let heard = { spans: [], skew: 0 };
  for (const [date, age, sentAt, now, at, apart] of answers) {
    heard = skewNarrowed(heard.spans, skewSpan(date, age, sentAt, now), at, apart);
  }
  return [heard.skew, heard.spans.length];
})));
"""

MINUTE = 60_000


def answer(
    stamp: int,
    *,
    behind: int = 2_600,
    trip: int = 40,
    age: int = 0,
    at: int | None = None,
    apart: int = 0,
) -> list[object]:
    """An answer the service dated `stamp` ms after SERVED (the Date whole seconds, cut down; a
    cache's Age, `age` s, after it), to a device `behind` ms behind the service's clock: sent
    `trip` ms before it came, and come 20 ms after the stamp; heard at `at` by the page's steady
    clock (the device's clock, less `apart`, unless told)."""
    now = S + stamp + 1_000 * age + 20 - behind
    second = datetime.fromtimestamp((S + stamp) // 1000, UTC)
    date = format_datetime(second, usegmt=True)
    return [
        date,
        str(age) if age else None,
        now - trip,
        now,
        now - apart if at is None else at,
        apart,
    ]


# Four answers 0.05, 0.35, 0.65 and 0.95 s into the service's seconds, a second and a bit apart.
PHASES = [50, 1_350, 2_650, 3_950]

# (what the case is, the answers in the order heard, [the skew the page takes, the spans kept])
NARROWED = [
    # The earliest phase bounds it from below: 2.6 s less 0.05 s and its 20 ms on the way.
    # The last answer alone moved it to 1630: 0.97 s behind.
    ("2.6 s behind, four phases", [answer(t) for t in PHASES], [2_530, 4]),
    ("2.6 s behind, the last phase alone", [answer(3_950)], [1_630, 1]),
    # The latest phase bounds it from above: 2.6 s ahead, less the 0.05 s left of that second
    # and the 20 ms of its trip after the stamp.
    ("2.6 s ahead, four phases", [answer(t, behind=-2_600) for t in PHASES], [-2_530, 4]),
    ("right, four phases", [answer(t, behind=0) for t in PHASES], [0, 4]),
    # The device's clock set 5 s back after three answers, its steady clock running on: the
    # three are moved with it (the fourth alone: 6630, 0.97 s off)
    (
        "set 5 s back between answers",
        [*(answer(t) for t in PHASES[:3]), answer(3_950, behind=7_600, apart=-5_000)],
        [7_530, 4],
    ),
    # A device asleep 5 s whose steady clock stopped: the three, moved 5 s, do not meet the
    # fourth and are dropped; it alone sets the clock
    (
        "asleep 5 s, the steady clock stopped",
        [*(answer(t) for t in PHASES[:3]), answer(3_950, apart=5_000)],
        [1_630, 1],
    ),
    # Drift: the early answer ten minutes before the late one is forgotten, at nine it is kept
    (
        "the early phase ten minutes before",
        [answer(50, at=0), answer(3_950, at=10 * MINUTE)],
        [1_630, 1],
    ),
    (
        "the early phase nine minutes before",
        [answer(50, at=0), answer(3_950, at=9 * MINUTE)],
        [2_530, 2],
    ),
    # A cache's answer (kept 30 s) narrows nothing, and sets the clock alone only while no span
    # is kept: two of them, the latter alone (0.35 s into its second) as before
    ("a cache's answer after a late phase", [answer(3_950), answer(50, age=30)], [1_630, 1]),
    ("two cache's answers", [answer(50, age=30), answer(1_350, age=30)], [2_230, 0]),
    # Nor does an answer 6 s on its way (its early phase would have narrowed it to 2530)
    ("a 6-s round trip after a late phase", [answer(3_950), answer(50, trip=6_000)], [1_630, 1]),
    # At most 32 spans are kept, the newest
    ("forty answers", [answer(t + 1_000 * n) for n in range(10) for t in PHASES], [2_530, 32]),
]


def test_answers_at_several_phases_narrow_the_clock_to_their_round_trip(tmp_path: Path) -> None:
    # Given answers to a device whose clock is behind, ahead or right, at several phases of the
    # service's second, and some that would break their intersection
    # When the page hears them in turn
    node_out = run_web_module(
        tmp_path / "js", _NARROWED, json.dumps([answers for _, answers, _ in NARROWED])
    )
    # Then a wrong clock is set right to within the earliest (or latest) phase and its trip, where
    # the last answer alone left it most of a second off, a clock set between answers too; a
    # steady clock that stopped, an old span, a cache's Age or a long trip leave it no worse than
    # the last answer alone
    heard = dict(zip([what for what, _, _ in NARROWED], json.loads(node_out), strict=True))
    assert heard == {what: expected for what, _, expected in NARROWED}
