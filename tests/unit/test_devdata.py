"""The dev programme is dated around the moment the local stack starts: a conference in
progress, with talks that ended (still rated during the grace), talks running, talks to come."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from talkrate.values import RatingWindow
from talkrate_local.devdata import ALWAYS_OPEN, DEV_TALKS, programme_opening

pytestmark = pytest.mark.unit

GRACE = timedelta(hours=24)


@pytest.mark.parametrize("minute", [0, 14, 29, 30, 44, 59])
def test_a_stack_started_at_any_minute_finds_talks_running_ended_and_to_come(minute: int) -> None:
    # Given a stack started at some minute of an hour
    now = datetime(2026, 12, 1, 16, minute, 7, tzinfo=UTC)
    opening = programme_opening(now)
    windows = {
        t.id: RatingWindow(t.starts_at(opening), t.ends_at(opening))
        for t in DEV_TALKS
        if t.starts_after is not None
    }

    def running(talk_id: str) -> bool:
        window = windows[talk_id]
        return window.starts_at is not None and window.starts_at <= now < window.ends_at  # type: ignore[operator]

    # Then some talks run now, the morning's are over but still rated, the keynote is to come
    assert any(running(t) for t in windows)
    assert windows["kafka-exactly-once-myths"].is_open(now, GRACE)
    assert not running("kafka-exactly-once-myths")
    assert not windows["closing-keynote-feedback-loops"].is_open(now, GRACE)
    # And the workshop's two talks have no times: always open
    assert set(ALWAYS_OPEN) == {"testcontainers-integration-testing", "flight-of-the-gopher"}


def test_each_start_dates_the_programme_again() -> None:
    monday = programme_opening(datetime(2026, 12, 7, 9, 5, tzinfo=UTC))
    assert monday == datetime(2026, 12, 7, 6, 0, tzinfo=UTC)
    assert programme_opening(datetime(2026, 12, 7, 9, 35, tzinfo=UTC)) == monday + timedelta(
        minutes=30
    )
