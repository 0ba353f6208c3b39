"""A loop on a thread of its own that can be asked to stop: the Kafka mappings and the schedules."""

from __future__ import annotations

import threading


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
