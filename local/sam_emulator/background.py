"""A loop on a thread of its own that can be asked to stop: the Kafka mappings and the schedules;
and calls run side by side, each on a thread, waited for together."""

from __future__ import annotations

import threading
from collections.abc import Callable


def side_by_side(calls: dict[str, Callable[[], object]]) -> None:
    """Run each call on a thread of its own (named by its key) and wait for all of them."""
    threads = [threading.Thread(target=call, name=name) for name, call in calls.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


class BackgroundLoop:
    """Runs `_run` on a daemon thread; `_run` returns once `self._stop` is set."""

    def __init__(self, thread_name: str) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=thread_name, daemon=True)

    def _run(self) -> None:
        raise NotImplementedError

    def start(self) -> None:
        """Start the loop in the background."""
        self._thread.start()

    def request_stop(self) -> None:
        """Ask the loop to stop after what it is doing (non-blocking)."""
        self._stop.set()

    def join(self, timeout: float | None = None) -> None:
        """Stop the loop and wait (at most `timeout` seconds) for its thread to end."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
