"""`talkrate simulate` before its crowd starts, against a local runtime through a proxy of the
test's own: after the programme, the voting policy's read, the first voter pass and the counts
before the run wait out an API answering 503 and one not listening (a runtime restarting), say
so once, and the run goes on; past the timeout, one line and no rating sent.

The runtime has a catalog and a read model of its own."""

from __future__ import annotations

import json
import os
import re
import select
import subprocess
import threading
import time
from collections.abc import Iterator

import pytest

from tests.backends import CLI_WAITS_TALKS, cli_waits_ratings
from tests.builders import unique_talk_id
from tests.e2e.conftest import Runtime
from tests.e2e.test_cli import Cli, ForwardingHandler, cli_on_runtime
from tests.loopback import LoopbackServer

pytestmark = pytest.mark.e2e

# What a simulation asks, in its order, before its crowd's ratings: the programme, the voting
# policy (the app's configuration), the first attendee's voter pass, then (with --verify) the
# counts before the run (GET /talks again, and GET /ratings).
PROGRAMME = "GET /talks"
POLICY = "GET /app/config.json"
FIRST_PASS = "POST /voters"

BUSY = {
    "type": "urn:talkrate:problem:unavailable",
    "title": "Service unavailable",
    "status": 503,
    "detail": "try again shortly",
}


@pytest.fixture(scope="module")
def cli(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cli]:
    ratings = cli_waits_ratings()
    yield from cli_on_runtime(
        CLI_WAITS_TALKS,
        ratings,
        kafka_bootstrap,
        tmp_path_factory.mktemp("cli-waits"),
        ["--param", "VotersPerAddressPerMinute=100000"],
        TALKS_CONNECTION=CLI_WAITS_TALKS,
        RATINGS_CONNECTION=ratings,
        STREAMS_CONNECTION=kafka_bootstrap,
    )


class StartProxy(LoopbackServer):
    """A forwarding proxy to the runtime that answers the first `busy` requests of `step` (its
    method and path, as PROGRAMME) 503 with Retry-After: 1 (every one when `busy` is None), or,
    with `refuse_after`, stops listening (its port held: refused) as it answers the first such
    request (the first after the first `once` request, when given), until the test calls
    `listen()`. `sent`: the requests it forwarded, in order;
    `busy_since`: when it first answered 503."""

    def __init__(
        self,
        runtime: Runtime,
        step: str | None = None,
        busy: int | None = 0,
        refuse_after: str | None = None,
        once: str | None = None,
    ) -> None:
        proxy = self
        self.sent: list[str] = []
        self.answered_busy = 0
        self.busy_since: float | None = None
        lock = threading.Lock()

        class Forward(ForwardingHandler):
            def relay(self) -> None:
                asked = f"{self.command} {self.path.split('?')[0]}"
                with lock:
                    held = asked == step and (busy is None or proxy.answered_busy < busy)
                    if held:
                        proxy.answered_busy += 1
                        proxy.busy_since = proxy.busy_since or time.monotonic()
                    else:
                        proxy.sent.append(asked)
                    since = proxy.sent[proxy.sent.index(once) :] if once in proxy.sent else []
                    stop = (
                        asked == refuse_after and (since if once else proxy.sent).count(asked) == 1
                    )
                if held:
                    self.body()
                    headers = {"content-type": "application/problem+json", "retry-after": "1"}
                    self.answer(503, headers, json.dumps(BUSY).encode())
                    return
                answer = self.forward(self.body())
                if stop:  # (before its answer: the next request finds nothing listening)
                    proxy.stop_listening()
                self.answer(answer.status, dict(answer.headers), answer.body)

        Forward.runtime = runtime
        super().__init__(Forward)


def crowd_of_three_verified(talk_id: str) -> tuple[str, ...]:
    """`simulate` of three attendees who all rate `talk_id` (seed 3), no bad requests, verified."""
    return (
        "simulate", "--attendees", "3", "--talk", talk_id, "--slot-seconds", "0.2",
        "--bad-share", "0", "--verify", "--seed", "3",
    )  # fmt: skip


def stderr_until(process: subprocess.Popen[str], said: str, seconds: float) -> str:
    """What the process wrote on stderr until it said `said` (or ended, or the time ran out)."""
    seen = b""
    deadline = time.monotonic() + seconds
    fd = process.stderr.fileno() if process.stderr else -1
    while said.encode() not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            chunk = os.read(fd, 65536)
            if not chunk:
                break  # it ended
            seen += chunk
    return seen.decode(errors="replace")


def test_simulate_waits_out_an_api_busy_while_it_reads_the_voting_policy(cli: Cli) -> None:
    # Given an API that answers the first two reads of the voting policy 503 (Retry-After: 1),
    # the programme read before them
    talk_id = cli.add(unique_talk_id("busy-policy"), "Rated once the policy is read")
    proxy = StartProxy(cli.runtime, step=POLICY, busy=2)
    try:
        # When a crowd is simulated through it with --verify
        done = cli.run("--api", proxy.url, *crowd_of_three_verified(talk_id), timeout=120)
        # Then it waited them out, saying so, then sent the crowd and verified every rating (it
        # failed at the first, "Service unavailable (503): try again shortly", nothing sent)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "every talk agrees" in done.stdout
        assert proxy.answered_busy == 2
        assert re.search(
            r"talkrate: the API is busy \(Service unavailable, 503\): waiting 1 s to read the "
            r"voting policy again \(up to \d+ s more, --programme-timeout\)",
            done.stderr,
        ), done.stderr
        assert "Traceback" not in done.stderr
    finally:
        proxy.close()
        cli.remove(talk_id)


def test_simulate_waits_out_an_api_busy_while_it_asks_for_the_first_voter_pass(cli: Cli) -> None:
    # Given an API that answers the first attendee's first four passes 503 (Retry-After: 1),
    # as many as the pass's own tries
    talk_id = cli.add(unique_talk_id("busy-pass"), "Rated once a pass is had")
    proxy = StartProxy(cli.runtime, step=FIRST_PASS, busy=4)
    try:
        # When a crowd is simulated through it with --verify
        done = cli.run("--api", proxy.url, *crowd_of_three_verified(talk_id), timeout=120)
        # Then it waited them out, saying so once, then sent the crowd and verified every
        # rating (it failed after its tries: "not rated: no voter pass now (…)", nothing sent)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "every talk agrees" in done.stdout
        assert proxy.answered_busy == 4
        said = re.findall(
            r"talkrate: the API is busy \(Service unavailable, 503\): waiting 1 s to ask for "
            r"the first voter pass again \(up to \d+ s more, --programme-timeout\)",
            done.stderr,
        )
        assert len(said) == 1, done.stderr
        assert "Traceback" not in done.stderr
    finally:
        proxy.close()
        cli.remove(talk_id)


def test_simulate_of_a_first_voter_pass_busy_past_the_programme_timeout_sends_nothing(
    cli: Cli,
) -> None:
    # Given an API that answers every first voter pass 503 (Retry-After: 1)
    talk_id = cli.add(unique_talk_id("busy-pass"), "Never rated")
    proxy = StartProxy(cli.runtime, step=FIRST_PASS, busy=None)
    try:
        # When a crowd is simulated through it, waiting 3 s at most before the run
        started = time.monotonic()
        done = cli.run(
            "--api", proxy.url, *crowd_of_three_verified(talk_id), "--programme-timeout", "3"
        )
        took = time.monotonic() - started
        # Then it waited within that timeout, counted from the programme's read, no longer,
        # and failed in one line saying the API stayed busy and nothing was sent; and no
        # rating was (it failed after its own tries, in other words)
        assert done.returncode == 1, done.stdout + done.stderr
        assert done.stderr.strip().splitlines()[-1] == (
            "talkrate: the API stayed busy (Service unavailable, 503) while the first voter "
            "pass was asked for, until the programme's timeout (3 s, --programme-timeout): "
            "nothing was sent"
        ), done.stderr
        assert "POST /ratings" not in proxy.sent
        assert "Traceback" not in done.stderr
        assert 3 <= took < 3 + 10, f"took {took:.1f} s"
    finally:
        proxy.close()
        cli.remove(talk_id)


@pytest.mark.parametrize(
    ("refuse_after", "once", "doing", "timeout"),
    [
        (PROGRAMME, None, "read the voting policy", "--programme-timeout"),
        (POLICY, None, "ask for the first voter pass", "--programme-timeout"),
        (FIRST_PASS, None, "read the counts", "--verify-timeout"),
        # (the verify's first read of the counts, after the crowd's ratings)
        (PROGRAMME, "POST /ratings", "read the counts", "--verify-timeout"),
    ],
    ids=["voting-policy", "first-pass", "counts-before-the-run", "verify-after-the-crowd"],
)
def test_simulate_waits_for_an_api_that_stopped_listening(
    cli: Cli, refuse_after: str, once: str | None, doing: str, timeout: str
) -> None:
    # Given an API that stops listening (its runtime restarting) once it has answered the
    # step before this one (after the crowd's first rating, for the verify's)
    talk_id = cli.add(unique_talk_id("restarting"), "Rated once the API is back")
    proxy = StartProxy(cli.runtime, refuse_after=refuse_after, once=once)
    try:
        # When a crowd is simulated against it, and it listens again once the command waits
        process = cli.start("--api", proxy.url, *crowd_of_three_verified(talk_id))
        said = (
            f"talkrate: nothing answers at {proxy.url} yet (connection refused): waiting for "
            f"it to {doing} (up to "
        )
        before = stderr_until(process, said, 60)
        assert said in before, before + "".join(process.communicate(timeout=30))
        proxy.listen()
        out, err = process.communicate(timeout=120)
        err = before + err
        # Then it waited for it, saying so once, then sent the crowd and verified every rating
        # (it failed at once: "cannot reach the API at …: connection refused", "(not
        # verified)" for the verify's)
        assert process.returncode == 0, out + err
        assert "every talk agrees" in out
        assert err.count(said) == 1, err
        assert re.search(re.escape(said) + rf"\d+ s, {timeout}\)", err), err
        assert "Traceback" not in err
    finally:
        proxy.close()
        cli.remove(talk_id)
