"""The local runtime, started as a newcomer would (python -m talkrate_local), on free ports."""

from __future__ import annotations

import json
import secrets
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import redis

from sam_emulator.events.kafka import unconsumed
from talkrate_local.database import prepare, recreate
from talkrate_local.launcher import LaunchedRuntime, launch, stop
from tests.backends import E2E_RATINGS, E2E_TALKS, emptied
from tests.builders import ROOT

if TYPE_CHECKING:
    from playwright.sync_api import Page


# How long a browser test waits for what the page does only in answer to the test's own action
# (a save's or an import's message, the focus once a form closes): on a machine of two cores
# shared at a load of 10-20 such an answer has come after Playwright's default 5 s. No later read
# of the page's own can show it in the answer's place, so waiting longer cannot let a test pass
# that should not. An expect that a live push arrived keeps the default or LIVE_WITHIN_MS: given
# long enough, the page's next read of its own (5-30 s on) would pass it without the push.
REACTION_MS = 15_000


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


class Runtime(LaunchedRuntime):
    """A running local runtime, with a small HTTP client for the tests."""

    live_api_key: str = ""  # the live channel's key, chosen by start_runtime
    # Its ratings topic and its projector's consumer group (start_runtime's or the caller's),
    # and the broker it was given (STREAMS_CONNECTION), when one was
    ratings_topic: str = ""
    projector_group: str = ""
    streams: str = ""

    @classmethod
    def of(cls, launched: LaunchedRuntime) -> Runtime:
        """The runtime `launch` started, with the tests' client."""
        # (its fields as they are: asdict would copy the process)
        return cls(**{field.name: getattr(launched, field.name) for field in fields(launched)})

    def wait_until_projected(self, within: float = 30) -> None:
        """Until the projector's consumer group has committed every record of the ratings topic,
        on each of its partitions; an AssertionError after `within` seconds.

        The emulator commits a batch only once the function returned, and retries a failed one
        with a backoff of up to 10 s: until then a delivery still to come (a duplicate among
        them) shows as records left, where a fixed pause after the counts matched could end
        before it."""
        assert self.streams, "the runtime was started without STREAMS_CONNECTION"
        deadline = time.monotonic() + within
        topics = [self.ratings_topic]
        while left := unconsumed(self.streams, self.projector_group, topics, within=2):
            assert time.monotonic() < deadline, (
                f"{left} records of {self.ratings_topic} not committed by "
                f"{self.projector_group} within {within} s"
            )
            time.sleep(0.2)

    def request(
        self,
        method: str,
        path: str,
        body: bytes | str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        data = body.encode() if isinstance(body, str) else body
        request = urllib.request.Request(
            self.url + path,
            data=data,
            method=method,
            headers={"content-type": "application/json", **(headers or {})},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return Answer(
                    response.status,
                    {k.lower(): v for k, v in response.headers.items()},
                    response.read(),
                )
        except urllib.error.HTTPError as error:
            return Answer(
                error.code, {k.lower(): v for k, v in error.headers.items()}, error.read()
            )


def wait_for(check: Callable[[], Any], seconds: float = 20, page: Page | None = None) -> Any:
    """Poll `check` every 0.1 s until it returns something truthy or `seconds` pass; its last
    result either way.

    Given a Playwright `page`, the pauses are the page's (`page.wait_for_timeout`), not
    `time.sleep`: Playwright runs a test's route handlers and `page.on` listeners only while the
    test is inside a Playwright call, so a check that reads what they collect (a list of held
    routes, of requests seen) needs the page, or it never sees a change made after it started.
    A route that only passes a request on holds it too while the test sleeps: a check of what
    the service counted needs the page unless the page already had that request's answer."""
    deadline = time.monotonic() + seconds
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        if page is None:
            time.sleep(0.1)
        else:
            page.wait_for_timeout(100)


def stays(check: Callable[[], Any], seconds: float, page: Page | None = None) -> bool:
    """Whether `check` holds at every poll (0.1 s apart) for `seconds`: the bounded, named wait
    of a test that proves something does NOT happen within a time (no second connection, no
    reload, no read while hidden), where no event marks the moment it could have happened.
    False at the first poll it fails (the test fails then, not at the window's end). Given the
    page, its pauses are the page's, as in wait_for."""
    deadline = time.monotonic() + seconds
    while True:
        if not check():
            return False
        if time.monotonic() > deadline:
            return True
        if page is None:
            time.sleep(0.1)
        else:
            page.wait_for_timeout(100)


def assert_problem(answer: Answer, status: int) -> None:
    """The answer is an application/problem+json error with this status."""
    assert answer.status == status, answer.body
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json
    assert problem["status"] == status
    assert {"type", "title", "status", "detail"} <= set(problem)


def start_runtime(
    env_overrides: dict[str, str], log: Path, extra_args: list[str] | None = None
) -> Runtime:
    """The local runtime on free ports, for the tests.

    Each runtime gets a ratings topic and a projector consumer group of its own (unless the
    caller names them), as two deployments sharing a cluster would: runtimes on the session's
    broker would otherwise take each other's records.
    """
    live_api_key = f"da2-e2e{secrets.token_hex(8)}"
    env = {
        "SAM_EMULATOR_EVENTS_API_KEY": live_api_key,
        **env_overrides,
    }
    args = list(extra_args or [])
    own = uuid.uuid4().hex[:10]
    if not any(a.startswith("RatingsTopic=") for a in args):
        args += ["--param", f"RatingsTopic=ratings-{own}"]
    if not any(a.startswith("ProjectorConsumerGroup=") for a in args):
        args += ["--param", f"ProjectorConsumerGroup=talkrate-projector-{own}"]
    params = dict(a.split("=", 1) for a in args if "=" in a and not a.startswith("-"))
    launched = launch(ROOT / "template.yaml", env, log, args)
    runtime = Runtime.of(launched)
    runtime.live_api_key = live_api_key
    runtime.ratings_topic = params["RatingsTopic"]
    runtime.projector_group = params["ProjectorConsumerGroup"]
    runtime.streams = env.get("STREAMS_CONNECTION", "")
    return runtime


def start_admin_runtime(
    talks_dsn: str,
    ratings_url: str,
    kafka_bootstrap: str,
    log: Path,
    extra_args: list[str] | None = None,
    extra_env: dict[str, str] | None = None,
) -> tuple[Runtime, str]:
    """A runtime on a catalog and a Redis database of its own, emptied first, with a fresh
    ADMIN_TOKEN (returned): for tests that create and delete talks."""
    recreate(talks_dsn)
    redis.Redis.from_url(ratings_url).flushdb()
    token = secrets.token_urlsafe(24)
    env = {
        "TALKS_CONNECTION": talks_dsn,
        "RATINGS_CONNECTION": ratings_url,
        "STREAMS_CONNECTION": kafka_bootstrap,
        "ADMIN_TOKEN": token,
        **(extra_env or {}),
    }
    return start_runtime(env, log, extra_args), token


def start_short_pass_runtime(
    kafka_bootstrap: str, log: Path, seconds: int = 18
) -> tuple[Runtime, str]:
    """Attendee voting whose voter passes last `seconds` (18 s unless asked) and are renewed in
    their last 9 s (18-s passes from their 9th second), on a catalog and read model of its own,
    projecting each rating as it comes: for tests that watch a renewal, then the renewed pass
    expire.

    A page renews a pass once the service's renewAfter has passed (VOTER_TOKEN_RENEW_SHARE of
    its life left; a quarter by default) but holds one with less than 5 s left as gone
    (web/js/voter.js), so it renews these between 9 and 5 s before their expiry: the window of
    a 36-s pass renewed in its last quarter, whatever their life (more than 9 s). Tests that
    only need a pass to expire take start_brief_pass_runtime's."""
    from tests.backends import SHORT_PASSES_RATINGS, SHORT_PASSES_TALKS

    assert seconds > 9, seconds
    return start_pass_runtime(
        SHORT_PASSES_TALKS,
        SHORT_PASSES_RATINGS,
        kafka_bootstrap,
        log,
        seconds,
        VOTER_TOKEN_RENEW_SHARE=str(9 / seconds),
    )


def start_brief_pass_runtime(
    kafka_bootstrap: str, log: Path, seconds: int = 18
) -> tuple[Runtime, str]:
    """Attendee voting whose voter passes last `seconds` (18 s unless asked), renewed in their
    last quarter as by default (a page never renews one under 20 s: it holds it as gone first),
    on a catalog and read model of its own (it may run beside start_short_pass_runtime's),
    projecting each rating as it comes: for tests that wait for a pass to expire."""
    from tests.backends import BRIEF_PASSES_TALKS, brief_passes_ratings

    return start_pass_runtime(
        BRIEF_PASSES_TALKS,
        brief_passes_ratings(),
        kafka_bootstrap,
        log,
        seconds,
    )


def start_pass_runtime(
    talks: str, ratings: str, kafka_bootstrap: str, log: Path, seconds: float, **environment: str
) -> tuple[Runtime, str]:
    """Attendee voting whose voter passes last `seconds`, on a catalog and read model of its
    own, projecting each rating as it comes. (A page holds a pass with less than 5 s left as
    gone, so the web app's tests take passes of 12 s or more; the command renews any pass still
    valid, so its tests wait out passes of a few seconds.)"""
    return start_admin_runtime(
        talks,
        ratings,
        kafka_bootstrap,
        log,
        ["--param", "VotingPolicy=attendee", "--param", "ProjectorBatchWindowSeconds=0"],
        {"VOTER_TOKEN_HOURS": str(seconds / 3600), **environment},
    )


def stop_runtime(runtime: Runtime) -> None:
    """Stop it as Ctrl-C would."""
    stop(runtime)


@pytest.fixture(scope="session")
def talks_dsn() -> str:
    """The e2e suite's catalog, apart from the integration tests': the session's runtime relays
    its outbox every minute, and would publish their entries (to its own topic) itself."""
    prepare(E2E_TALKS)
    return E2E_TALKS


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The e2e suite's read model, apart from the integration tests' (which empty theirs, and the
    runtime's relay would rebuild it meanwhile from the e2e catalog's events)."""
    return emptied(E2E_RATINGS)


@pytest.fixture(scope="session")
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    """A client of the e2e suite's read model: the root one is a session fixture too, which
    would keep the URL of whichever suite asked for it first in a worker."""
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    yield client
    client.close()


@pytest.fixture(scope="session")
def backends_env(talks_dsn: str, redis_url: str, kafka_bootstrap: str) -> dict[str, str]:
    return {
        "TALKS_CONNECTION": talks_dsn,
        "RATINGS_CONNECTION": redis_url,
        "STREAMS_CONNECTION": kafka_bootstrap,
    }


@pytest.fixture(scope="session")
def runtime(
    backends_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Runtime]:
    started = start_runtime(backends_env, tmp_path_factory.mktemp("runtime") / "runtime.log")
    yield started
    stop_runtime(started)
