"""Idempotency-Key records in Redis (one Redis and the cluster): once per key, the same answer
for a repeat, another request refused, a claim freed by failure or by the end of its invocation."""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from talkrate.adapters.idempotency import RECORD_PREFIX, IdempotentRequests
from talkrate.adapters.redis_store import ReadModelClient, connect
from talkrate.errors import BackendUnavailable, IdempotencyKeyReused, RequestInProgress

pytestmark = pytest.mark.integration


@pytest.fixture
def client(read_model_url: str) -> Iterator[ReadModelClient]:
    connected = connect(read_model_url)
    yield connected
    connected.close()


@pytest.fixture
def requests(client: ReadModelClient) -> IdempotentRequests:
    return IdempotentRequests(client)


class Work:
    """A request's work that counts its runs and answers with the run's number."""

    def __init__(self) -> None:
        self.runs = 0
        self.attempts: list[Any] = []

    def __call__(self, attempt: Any = None) -> dict[str, Any]:
        self.runs += 1
        self.attempts.append(attempt)
        return {"run": self.runs, "status": "accepted"}


class Invocation:
    """A Lambda context with this much time left."""

    def __init__(self, remaining_ms: int) -> None:
        self._remaining = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self._remaining


def _key() -> str:
    return f"voter:v-1:{uuid.uuid4()}"


def wait_until_claimed(requests: IdempotentRequests, key: str) -> None:
    """Until a request running on another thread has claimed the key (on a loaded machine the
    thread may take longer to start than a fixed sleep)."""
    record = RECORD_PREFIX + hashlib.sha256(key.encode()).hexdigest()
    deadline = time.monotonic() + 10
    while requests._client.get(record) is None:
        assert time.monotonic() < deadline, "the first request never claimed its key"
        time.sleep(0.005)


def test_a_repeat_gets_the_first_answer_without_running_the_work_again(
    requests: IdempotentRequests,
) -> None:
    key, work = _key(), Work()
    first = requests.once(key, {"talkId": "t-1", "value": 4}, work)
    again = requests.once(key, {"value": 4, "talkId": "t-1"}, work)  # the same, other order
    assert first == again == {"run": 1, "status": "accepted"}
    assert work.runs == 1


def test_a_key_used_again_for_another_request_is_refused(requests: IdempotentRequests) -> None:
    key, work = _key(), Work()
    requests.once(key, {"talkId": "t-1", "value": 4}, work)
    with pytest.raises(IdempotencyKeyReused):
        requests.once(key, {"talkId": "t-1", "value": 5}, work)
    assert work.runs == 1


def test_a_repeat_while_the_first_is_running_is_told_so(requests: IdempotentRequests) -> None:
    key, request = _key(), {"talkId": "t-1", "value": 4}
    seen: list[type[Exception]] = []

    def work(_: Any) -> dict[str, Any]:
        try:
            requests.once(key, request, Work())
        except RequestInProgress as error:
            seen.append(type(error))
        return {"status": "accepted"}

    assert requests.once(key, request, work) == {"status": "accepted"}
    assert seen == [RequestInProgress]


def test_work_that_fails_frees_its_key_for_a_retry(requests: IdempotentRequests) -> None:
    key, request, work = _key(), {"talkId": "t-1", "value": 4}, Work()

    def failing(_: Any) -> dict[str, Any]:
        raise RuntimeError("Kafka and the outbox both down")

    with pytest.raises(RuntimeError):
        requests.once(key, request, failing)
    assert requests.once(key, request, work) == {"run": 1, "status": "accepted"}


@pytest.mark.parametrize("remaining_ms", [1500, None])
def test_a_stuck_request_holds_its_key_only_while_its_invocation_lasts(
    requests: IdempotentRequests, remaining_ms: int | None
) -> None:
    # Given a request whose work hangs, in an invocation with 1.5 s left (or no Lambda context;
    # 300 ms left was over before the retry on a loaded machine)
    key, request, work = _key(), {"talkId": "t-1", "value": 4}, Work()
    release = threading.Event()

    def hanging(_: Any) -> dict[str, Any]:
        release.wait(10)
        return {"status": "late"}

    context = Invocation(remaining_ms) if remaining_ms is not None else None
    stuck = threading.Thread(target=requests.once, args=(key, request, hanging, context))
    stuck.start()
    try:
        wait_until_claimed(requests, key)
        # When a retry comes before the invocation's end, and another after it
        with pytest.raises(RequestInProgress):
            requests.once(key, request, work)
        time.sleep((remaining_ms or 300) / 1000 + 0.05)
        if remaining_ms is None:
            # Then without a context the claim holds (until the key's TTL)
            with pytest.raises(RequestInProgress):
                requests.once(key, request, work)
            assert work.runs == 0
        else:
            # Then the retry after the end runs the work itself
            assert requests.once(key, request, work) == {"run": 1, "status": "accepted"}
    finally:
        release.set()
        stuck.join(10)


def test_an_unreachable_store_is_a_backend_that_is_down() -> None:
    requests = IdempotentRequests(connect("redis://127.0.0.1:1/0", socket_connect_timeout=0.5))
    with pytest.raises(BackendUnavailable):
        requests.once(_key(), {"talkId": "t-1", "value": 4}, Work())


@pytest.mark.parametrize(
    "error", [ValueError("a bad value"), redis.ConnectionError("the rate limiter's Redis is down")]
)
def test_what_the_work_raises_is_not_taken_for_the_store_failing(
    requests: IdempotentRequests, error: Exception
) -> None:
    # Given work that fails with an error of a kind the store's own failures also take
    def failing(_: Any) -> dict[str, Any]:
        raise error

    # When it runs under a key
    with pytest.raises(type(error)) as raised:
        requests.once(_key(), {"talkId": "t-1", "value": 4}, failing)
    # Then its own error comes out, not "the idempotency store is unreachable"
    assert raised.value is error


class Refused(Exception):
    """A refusal after which the work wrote nothing."""


def refused(_: Any) -> dict[str, Any]:
    raise Refused


def a_first_run_that_failed(
    requests: IdempotentRequests, key: str, request: dict[str, Any]
) -> dict[str, Any]:
    """The attempt (an event's id and time) of a first run under `key` whose work failed after
    it may have written (an outbox INSERT sent when PostgreSQL stopped answering)."""
    first = {"eventId": str(uuid.uuid4()), "at": 1}

    def failing(_: Any) -> dict[str, Any]:
        raise RuntimeError("PostgreSQL did not answer")

    with pytest.raises(RuntimeError):
        requests.once(key, request, failing, attempt=first, refusals=(Refused,))
    return first


def test_a_retry_after_a_failure_runs_with_the_first_request_s_attempt(
    requests: IdempotentRequests,
) -> None:
    # Given a first request whose work failed after it may have written, under its attempt
    key, request, work = _key(), {"talkId": "t-1", "value": 4}, Work()
    first = a_first_run_that_failed(requests, key, request)
    # When its retry comes with an attempt of its own
    retry = {"eventId": str(uuid.uuid4()), "at": 2}
    assert requests.once(key, request, work, attempt=retry, refusals=(Refused,))["run"] == 1
    # Then the work runs with the first's: what both write is one event
    assert work.attempts == [first]


def test_a_retry_after_a_refusal_is_an_attempt_of_its_own(requests: IdempotentRequests) -> None:
    # Given a first request refused before it wrote anything (an unknown talk, a limit)
    key, request, work = _key(), {"talkId": "t-1", "value": 4}, Work()
    with pytest.raises(Refused):
        requests.once(key, request, refused, attempt={"eventId": "first"}, refusals=(Refused,))
    # When it is retried
    requests.once(key, request, work, attempt={"eventId": "retry"}, refusals=(Refused,))
    # Then the retry rates as itself (its own time: a window or a limit judged now)
    assert work.attempts == [{"eventId": "retry"}]


def test_a_retry_after_the_first_died_with_its_invocation_runs_with_its_attempt(
    requests: IdempotentRequests,
) -> None:
    # Given a first request that hangs past the end of its invocation (a Lambda timeout)
    key, request, work = _key(), {"talkId": "t-1", "value": 4}, Work()
    release = threading.Event()
    first = {"eventId": str(uuid.uuid4()), "at": 1}

    def hanging(_: Any) -> dict[str, Any]:
        release.wait(10)
        return {"status": "late"}

    stuck = threading.Thread(
        target=requests.once, args=(key, request, hanging, Invocation(30), first)
    )
    stuck.start()
    try:
        wait_until_claimed(requests, key)
        time.sleep(0.05)  # past the invocation's end
        # When a retry takes its claim over
        requests.once(key, request, work, attempt={"eventId": "retry", "at": 2})
        # Then it runs with the first request's attempt
        assert work.attempts == [first]
    finally:
        release.set()
        stuck.join(10)


def test_a_refusal_of_a_retry_keeps_the_first_request_s_attempt(
    requests: IdempotentRequests,
) -> None:
    # Given a first request that failed after it may have written its attempt
    key, request, work = _key(), {"talkId": "t-1", "value": 4}, Work()
    first = a_first_run_that_failed(requests, key, request)
    # When its retry, run with that attempt, is refused (a limit, a talk moved meanwhile)
    with pytest.raises(Refused):
        requests.once(key, request, refused, attempt={"eventId": "second"}, refusals=(Refused,))
    # Then the next retry still runs with the first request's attempt (it may have been written)
    requests.once(key, request, work, attempt={"eventId": "third"}, refusals=(Refused,))
    assert work.attempts == [first]
