"""Ctrl-C while a request runs: the emulator's stop lets the function end its invocation and
answers it, before the dev stack stops (a rating kept in the outbox needs the database); one
that would outlast the stop's budget is ended and answered 503, API Gateway's own shape."""

from __future__ import annotations

import os
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from sam_emulator.events import Options
from sam_emulator.plugins import Services
from sam_emulator.runtime import Emulator
from sam_emulator.template import Template, load_template

pytestmark = pytest.mark.e2e

TEMPLATE = """
Transform: AWS::Serverless-2016-10-31
Globals:
  Function: {Runtime: python3.11, Timeout: 30}
Resources:
  SlowFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: slow/
      Handler: app.handler
      Events:
        Slow: {Type: HttpApi, Properties: {Path: /slow, Method: POST}}
"""

SLOW = """
import pathlib
import time


def handler(event, context):
    asked = event["queryStringParameters"]
    # When it began, for the test to wait on
    (pathlib.Path(__file__).parent / "began").write_text(str(time.monotonic()))
    time.sleep(float(asked["seconds"]))
    if asked.get("fails"):
        raise RuntimeError("the function's own error")
    # When it ended, on the machine's monotonic clock (the test's too)
    (pathlib.Path(__file__).parent / "ended").write_text(str(time.monotonic()))
    return {"statusCode": 202, "body": "kept"}
"""


class TimedStack:
    """A dev stack with no services that notes when it is told to stop."""

    stopped_at = 0.0

    def claim(self, template: Template) -> None:
        """Nothing to claim."""

    def start(self, template: Template, lambda_endpoint: str) -> Services:
        return Services()

    def stop(self, within: float) -> None:
        self.stopped_at = time.monotonic()

    def abandon(self) -> None:
        """Nothing to let go."""


def running(tmp_path: Path) -> tuple[Emulator, TimedStack]:
    (tmp_path / "slow").mkdir()
    (tmp_path / "slow" / "app.py").write_text(SLOW)
    (tmp_path / "template.yaml").write_text(TEMPLATE)
    stack = TimedStack()
    emulator = Emulator(
        load_template(tmp_path / "template.yaml"),
        Options(port=0, lambda_port=0, url_port=0, environ={"PATH": os.environ["PATH"]}),
        stack,
        reload=False,
    )
    emulator.start()
    return emulator, stack


def post_in_flight(
    url: str, answers: list[tuple[int, bytes, float]], began: Path
) -> threading.Thread:
    """POST on a thread, and return once its invocation runs (the function wrote `began`); its
    status, body and the moment it was answered go into `answers`."""

    def post() -> None:
        request = urllib.request.Request(url, data=b"{}", method="POST")
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                answers.append((answer.status, answer.read(), time.monotonic()))
        except urllib.error.HTTPError as error:
            answers.append((error.code, error.read(), time.monotonic()))

    thread = threading.Thread(target=post)
    thread.start()
    deadline = time.monotonic() + 30
    while not began.exists():  # (a fixed sleep took the invocation to run by then)
        assert time.monotonic() < deadline, "the invocation did not begin within 30 s"
        time.sleep(0.02)
    return thread


def test_a_request_in_flight_at_the_stop_is_answered_before_the_dev_stack_stops(
    tmp_path: Path,
) -> None:
    # Given a request whose function runs 1.5 s more when the stop begins
    emulator, stack = running(tmp_path)
    answers: list[tuple[int, bytes, float]] = []
    try:
        thread = post_in_flight(
            emulator.url + "/slow?seconds=1.5", answers, tmp_path / "slow" / "began"
        )
    finally:
        # When the emulator is stopped (Ctrl-C)
        started = time.monotonic()
        emulator.stop(within=4.0)
        took = time.monotonic() - started
    thread.join(10)
    # Then the function's own answer reaches the client, and the function had ended before
    # the dev stack was stopped
    status, body, _ = answers[0]
    assert (status, body) == (202, b"kept")
    assert float((tmp_path / "slow" / "ended").read_text()) < stack.stopped_at
    # And the stop did not wait longer than the invocation: it ended with it, short of its
    # 4 s budget (a bound of 1 s over the 1.5 s invocation was thin on a loaded machine)
    assert took < 3.5


def test_a_request_that_would_outlast_the_stop_is_answered_503(tmp_path: Path) -> None:
    # Given a request whose function runs 10 s more when the stop begins
    emulator, _ = running(tmp_path)
    answers: list[tuple[int, bytes, float]] = []
    try:
        thread = post_in_flight(
            emulator.url + "/slow?seconds=10", answers, tmp_path / "slow" / "began"
        )
    finally:
        # When the emulator is stopped within 2 s
        started = time.monotonic()
        emulator.stop(within=2.0)
        took = time.monotonic() - started
    thread.join(10)
    # Then the invocation is ended within the budget, and answered as a service that is not
    # there for now (the client may try again), in API Gateway's own shape: not a 500 (ended
    # near its 2 s budget, not after the 10 s invocation: half a second over was thin on a
    # loaded machine)
    assert took < 5.0
    status, body, _ = answers[0]
    assert (status, body) == (503, b'{"message":"Service Unavailable"}')


def test_a_function_s_own_error_during_the_stop_is_answered_as_its_own(tmp_path: Path) -> None:
    # Given a request whose function fails by itself 1 s into the stop
    emulator, _ = running(tmp_path)
    answers: list[tuple[int, bytes, float]] = []
    try:
        thread = post_in_flight(
            emulator.url + "/slow?seconds=1&fails=1", answers, tmp_path / "slow" / "began"
        )
    finally:
        # When the emulator is stopped within 4 s
        emulator.stop(within=4.0)
    thread.join(10)
    # Then its answer is the function's failure (500), not the stop's "try again" (503: it
    # was, as every error during the stop was taken for the stop's)
    status, body, _ = answers[0]
    assert (status, body) == (500, b'{"message":"Internal Server Error"}')


def test_the_stop_returns_once_the_answers_are_written(tmp_path: Path) -> None:
    # Given a request whose function runs 1.5 s more when the stop begins
    emulator, _ = running(tmp_path)
    [gateway] = [source for source in emulator.sources if type(source).__name__ == "HttpApi"]
    answers: list[tuple[int, bytes, float]] = []
    try:
        thread = post_in_flight(
            emulator.url + "/slow?seconds=1.5", answers, tmp_path / "slow" / "began"
        )
        # (its answer is still to come)
        assert gateway.answered(0.1) is False
    finally:
        # When the emulator is stopped (Ctrl-C)
        emulator.stop(within=4.0)
    # Then by the time the stop returns (the process ends then, not waiting for the request's
    # thread), the answer has been written to its client
    assert gateway.answered(0.0) is True
    thread.join(10)
    assert answers[0][:2] == (202, b"kept")


def test_a_request_ended_by_a_second_ctrl_c_is_answered_503(tmp_path: Path) -> None:
    # Given a request whose function runs 10 s more, and the stop under way (Ctrl-C)
    emulator, _ = running(tmp_path)
    answers: list[tuple[int, bytes, float]] = []
    stopping = threading.Thread(target=emulator.stop, kwargs={"within": 4.0})
    try:
        thread = post_in_flight(
            emulator.url + "/slow?seconds=10", answers, tmp_path / "slow" / "began"
        )
        stopping.start()
    finally:
        # When Ctrl-C is pressed again: the emulator lets go at once (the process ends next)
        time.sleep(0.3)
        emulator.abandon()
    thread.join(10)
    stopping.join(10)
    # Then the invocation it ended is answered as one the stop ended (try again), as at the
    # first stop's deadline: not as the function's own failure (500)
    status, body, _ = answers[0]
    assert (status, body) == (503, b'{"message":"Service Unavailable"}')
