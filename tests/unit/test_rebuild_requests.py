"""Asking RelayFunction for a rebuild of the read model: an asynchronous, signed invoke, at most
once in a while per process, never a failure of the read that asked."""

from __future__ import annotations

import socket

import pytest

from talkrate.adapters.rebuild_requests import (
    ASK_EVERY_SECONDS,
    REBUILD_EVENT,
    LambdaRebuildRequests,
)
from tests.unit.test_stats_client import CREDENTIALS, InvokeApi, endpoint

pytestmark = pytest.mark.unit

__all__ = ["endpoint"]  # the loopback Invoke API, test_stats_client's fixture


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_rebuild_is_asked_for_asynchronously_signed_and_once_in_a_while(endpoint: str) -> None:
    # Given the Invoke API queuing the event, as Lambda answers an Event invoke
    InvokeApi.answer = (202, {}, b"")
    clock = Clock()
    requests = LambdaRebuildRequests(
        "talkrate-RelayFunction:live", endpoint, "eu-west-1", CREDENTIALS, clock
    )
    # When reads ask three times within the interval, then once after it
    for _ in range(3):
        requests.rebuild_soon()
    clock.now += ASK_EVERY_SECONDS
    requests.rebuild_soon()
    # Then RelayFunction's alias was invoked twice, asynchronously, signed, with the event that
    # asks it only to rebuild
    assert len(InvokeApi.seen) == 2
    first = InvokeApi.seen[0]
    assert first["path"] == "/2015-03-31/functions/talkrate-RelayFunction%3Alive/invocations"
    assert first["headers"]["x-amz-invocation-type"] == "Event"
    assert "x-amz-invocation-type" in first["headers"]["authorization"]
    assert first["body"] == REBUILD_EVENT


@pytest.mark.parametrize("answer", [(403, {}, b'{"message": "not authorized"}'), None])
def test_a_request_that_fails_is_logged_never_raised(
    endpoint: str,
    answer: tuple[int, dict[str, str], bytes] | None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    if answer is None:  # nothing listening there
        with socket.socket() as closed:
            closed.bind(("127.0.0.1", 0))
            endpoint = f"http://127.0.0.1:{closed.getsockname()[1]}"
    else:
        InvokeApi.answer = answer
    LambdaRebuildRequests("relay", endpoint, "eu-west-1", CREDENTIALS).rebuild_soon()
    assert "rebuild of the read model" in caplog.text
