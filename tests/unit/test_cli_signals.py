"""SIGTERM to the command line with Ctrl-C ignored (a background job) inside an asyncio run."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Iterator

import pytest

from talkrate_cli import main, signals


@pytest.fixture
def a_background_job() -> Iterator[None]:
    """SIGINT ignored, as in a shell's background job, and the command line's SIGTERM handler."""
    sigint = signal.signal(signal.SIGINT, signal.SIG_IGN)
    sigterm = signal.signal(signal.SIGTERM, main._terminate)
    main.TERMINATED.clear()
    signals.forget()  # as main() does: no stop received yet (one a second ago is not this one's)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, sigint)
        signal.signal(signal.SIGTERM, sigterm)
        main.TERMINATED.clear()
        signals.forget()


def test_sigterm_stops_an_asyncio_run_between_its_tasks_not_inside_one(
    a_background_job: None,
) -> None:
    # Given an asyncio run (as `simulate`'s) whose task is running when SIGTERM comes
    tasks: list[asyncio.Task[None]] = []

    async def work() -> None:
        os.kill(os.getpid(), signal.SIGTERM)  # its handler runs here, inside this task
        for _ in range(1000):
            await asyncio.sleep(0)

    async def run() -> None:
        tasks.append(asyncio.create_task(work()))
        await asyncio.sleep(5)

    # When it is stopped
    with pytest.raises(KeyboardInterrupt):
        asyncio.run(run())
    # Then the run ends with the interruption, as Ctrl-C would, and the task is cancelled with
    # the run, not ended by it (which asyncio reports with a traceback, "Task exception was
    # never retrieved", under the command's own report)
    assert main.TERMINATED.is_set()
    assert tasks[0].cancelled()


def plain_work() -> None:
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(5)


def test_sigterm_outside_an_asyncio_run_stops_at_once(a_background_job: None) -> None:
    # Given a command doing plain work, When SIGTERM comes, Then it stops there
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        plain_work()
    assert time.monotonic() - started < 4
    assert main.TERMINATED.is_set()


def test_a_sigterm_sent_twice_at_once_stops_once_and_a_later_one_ends_it(
    a_background_job: None,
) -> None:
    # Given a command stopped by SIGTERM, whose duplicate comes at once (`timeout` signals the
    # command, then its process group)
    with pytest.raises(KeyboardInterrupt):
        plain_work()
    # When the duplicate comes, Then it is the same stop: nothing more happens (it ended the
    # process outright, before the command could end as Ctrl-C ends it)
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(0.05)
    assert signal.getsignal(signal.SIGTERM) is main._terminate
    # And one more, past the duplicate's window, ends it at once (as the default action)
    time.sleep(signals.DUPLICATE_SIGNAL_S)
    ended: list[int] = []
    default = signal.SIG_DFL
    original_raise = signal.raise_signal
    try:
        signal.raise_signal = lambda signum: ended.append(signum)  # type: ignore[assignment]
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.05)
    finally:
        signal.raise_signal = original_raise
    assert ended == [signal.SIGTERM]
    assert signal.getsignal(signal.SIGTERM) == default
