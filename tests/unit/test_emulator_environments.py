"""A function's execution environments retired on purpose (its code changed, the dev stack
replaced its broker): the next invocations run in new ones, and one can wait until no
invocation still runs in a retired one."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from sam_emulator.lambda_.pool import FunctionPool
from sam_emulator.plugins import BrokerGenerations
from sam_emulator.template import FunctionSpec

HANDLER = """
import os
import pathlib
import time


def lambda_handler(event, context):
    if "began" in event:  # the test is told that the invocation runs now
        pathlib.Path(event["began"]).write_text(str(os.getpid()))
    time.sleep(event.get("sleep", 0))
    return {"pid": os.getpid()}
"""


def pool_of(tmp_path: Path) -> FunctionPool:
    (tmp_path / "app.py").write_text(HANDLER)
    spec = FunctionSpec(
        logical_id="PidFunction",
        code_dir=tmp_path,
        handler="app.lambda_handler",
        timeout_seconds=10,
        memory_mb=128,
        environment={},
    )
    return FunctionPool(spec, {}, max_workers=2)


def pid(pool: FunctionPool, **event: Any) -> int:
    invocation = pool.invoke(event)
    assert invocation.ok, invocation.error
    return int(invocation.payload["pid"])


def began(marker: Path, seconds: float = 30) -> None:
    """Wait until the invocation given `began=str(marker)` runs in its environment (its
    environment started, the handler called): a fixed sleep took that for granted, and under
    load the environment was still starting when the test went on."""
    deadline = time.monotonic() + seconds
    while not marker.exists():
        assert time.monotonic() < deadline, f"the invocation did not begin within {seconds:g} s"
        time.sleep(0.02)


def test_retired_environments_serve_no_new_invocation_and_are_waited_for(
    tmp_path: Path,
) -> None:
    # Given a function's warm environment, and an invocation running in a second one
    pool = pool_of(tmp_path)
    try:
        warm = pid(pool)
        slow: list[int] = []
        marker = tmp_path / "began"
        running = threading.Thread(
            target=lambda: slow.append(pid(pool, sleep=1.5, began=str(marker)))
        )
        running.start()
        began(marker)
        # When the environments are retired
        pool.retire()
        # Then waiting for them lasts while the running invocation runs, which is not cut short
        assert not pool.wait_retired(within=0.2)
        started = time.monotonic()
        assert pool.wait_retired(within=10)
        assert time.monotonic() - started > 0.3
        running.join()
        assert len(slow) == 1
        # And the next invocations run in a new environment, which is not retired itself
        fresh = pid(pool)
        assert fresh not in (warm, slow[0])
        assert pid(pool) == fresh
        assert pool.wait_retired(within=0.1)
    finally:
        pool.close()


def test_a_replaced_broker_has_its_calls_made_before_the_readers_are_waited_for() -> None:
    # Given a reader of the broker's first generation, and a call registered for replacements
    generations = BrokerGenerations()
    reader = generations.reader()
    seen: list[tuple[str, int]] = []
    generations.on_replace(lambda: seen.append(("called", generations.number)))
    settled = threading.Timer(
        0.3, lambda: (seen.append(("settled", 1)), generations.settled(reader, 1))
    )
    # When the broker is replaced while the reader still holds the old one
    settled.start()
    assert generations.replace(within=5)
    # Then the call ran first, in the new generation, and replace returned once the reader
    # settled on it
    assert seen == [("called", 1), ("settled", 1)]


def test_an_invocation_still_running_in_a_retired_environment_can_be_ended(
    tmp_path: Path,
) -> None:
    # Given an invocation that runs long in an environment since retired
    pool = pool_of(tmp_path)
    try:
        answers: list[Any] = []
        marker = tmp_path / "began"
        running = threading.Thread(
            target=lambda: answers.append(pool.invoke({"sleep": 8, "began": str(marker)}))
        )
        running.start()
        began(marker)
        pool.retire()
        assert not pool.wait_retired(within=0.2)
        # When the retired environments still running are killed
        started = time.monotonic()
        assert pool.kill_retired() == 1
        running.join(5)
        # Then the invocation ends at once, with an error (as a crash's), and none is left
        assert time.monotonic() - started < 3
        assert len(answers) == 1
        assert not answers[0].ok
        assert pool.wait_retired(within=1)
        assert pool.kill_retired() == 0
        # And the function still answers, in a new environment
        assert pid(pool) > 0
    finally:
        pool.close()
