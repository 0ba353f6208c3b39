"""GET /'s backend report: never raises, never waits for a hung backend."""

from __future__ import annotations

import threading
import time

import pytest

from talkrate.config import Settings
from talkrate.status import describe_backends

pytestmark = pytest.mark.unit


class Backend:
    def __init__(
        self, answer: bool = True, hang: threading.Event | None = None, error: bool = False
    ) -> None:
        self.answer, self.hang, self.error = answer, hang, error

    def ping(self) -> bool:
        if self.hang is not None:
            self.hang.wait(10)
        if self.error:
            raise ConnectionError("boom")
        return self.answer


def test_each_backend_is_reported_up_or_down_within_the_budget() -> None:
    release = threading.Event()
    started = time.monotonic()
    report = describe_backends(
        Settings(),
        {
            "talks": Backend(),
            "ratings": Backend(answer=False),
            "streams": Backend(hang=release),
            "extra": Backend(error=True),
        },
        budget=0.3,
    )
    release.set()
    assert time.monotonic() - started < 2
    assert report["backends"] == {
        "talks": "up",
        "ratings": "down",
        "streams": "down",
        "extra": "down",
    }
    assert set(report["metadata"]) == {"talks", "ratings", "streams", "ratings_lambda"}


class Answering:
    """A backend whose ping answers with a word of its own."""

    def ping(self) -> str:
        return "empty"


def test_a_backend_that_answers_with_a_word_is_reported_with_it() -> None:
    report = describe_backends(Settings(), {"ratings": Answering(), "talks": Backend()})
    assert report["backends"] == {"ratings": "empty", "talks": "up"}
