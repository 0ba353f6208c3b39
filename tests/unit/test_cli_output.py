"""How the talkrate command words what it shows."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from talkrate_cli.output import window_line

pytestmark = pytest.mark.unit

TALK = {
    "startsAt": "2026-11-26T10:30:00Z",
    "endsAt": "2026-11-26T11:15:00Z",
    "ratingClosesAt": "2026-11-27T11:15:00Z",
}


@pytest.mark.parametrize(
    ("now", "line"),
    [
        (datetime(2026, 11, 26, 9, 0, tzinfo=UTC), "rating opens 2026-11-26 10:30 UTC"),
        (datetime(2026, 11, 26, 12, 0, tzinfo=UTC), "rating open until 2026-11-27 11:15 UTC"),
        (datetime(2026, 11, 27, 11, 16, tzinfo=UTC), "rating closed 2026-11-27 11:15 UTC"),
    ],
)
def test_a_talk_s_rating_window_is_said_as_of_now(now: datetime, line: str) -> None:
    assert window_line(TALK, now) == line


def test_a_talk_without_times_is_always_open() -> None:
    untimed = {"startsAt": None, "endsAt": None, "ratingClosesAt": None}
    assert window_line(untimed, datetime(2030, 1, 1, tzinfo=UTC)) == "rating open"
