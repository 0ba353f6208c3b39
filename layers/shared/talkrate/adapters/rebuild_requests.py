"""Asking RelayFunction to rebuild the read model now, when a read of the API found it not built.

The API does not rebuild it itself: a rebuild reads the whole event store (seconds, for a large
one), which no attendee's request should wait for, and which the API's bounded statements (3 s)
would cut short. RelayFunction already rebuilds it at its run, once a minute, under the rebuild
lock (`talkrate.rebuild.rebuild_if_lost`: of several asked at once, one rebuilds, the others
find it built, or the lock taken, and leave it). Asked at once, it is rebuilt in seconds."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Mapping

from talkrate.adapters.lambda_invoke import LambdaInvoke
from talkrate.observability import logger
from talkrate.rebuild import REBUILD_EVENT

# How often one process asks, at most: until the rebuild is done (seconds: 500,000 events take
# about 10 s at the relay's size) every read finds the read model not built, and one request in
# a while is enough (a run asked for while another rebuilds finds the lock taken and ends). Short,
# so that Redis lost again soon after a rebuild is asked for again soon.
ASK_EVERY_SECONDS = 5.0
# An asynchronous invoke is answered once queued (tens of milliseconds).
INVOKE_TIMEOUT_SECONDS = 1.0


class LambdaRebuildRequests:
    """RebuildRequests through the Lambda Invoke API: RelayFunction invoked asynchronously
    (InvocationType Event) with REBUILD_EVENT, at most once every ASK_EVERY_SECONDS a process."""

    def __init__(
        self,
        function_name: str,
        endpoint_url: str | None,
        region: str | None = None,
        environ: Mapping[str, str] = os.environ,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._function = LambdaInvoke(
            function_name, endpoint_url, INVOKE_TIMEOUT_SECONDS, region, environ
        )
        self._clock = clock
        self._asked_at: float | None = None
        self._lock = threading.Lock()

    def rebuild_soon(self) -> None:
        """Ask for a rebuild, unless this process asked less than ASK_EVERY_SECONDS ago; a
        failure is logged (the relay's next run rebuilds it all the same)."""
        with self._lock:
            now = self._clock()
            if self._asked_at is not None and now - self._asked_at < ASK_EVERY_SECONDS:
                return
            self._asked_at = now
        try:
            status, _, payload = self._function.invoke(json.dumps(REBUILD_EVENT).encode(), "Event")
        except Exception:
            logger.warning("could not ask for a rebuild of the read model", exc_info=True)
            return
        if status != 202:
            logger.warning(
                "the rebuild of the read model was not taken",
                extra={"status": status, "error": payload[:500].decode("utf-8", "replace")},
            )
            return
        logger.info("a rebuild of the read model was asked for")


class NoRebuildRequests:
    """RebuildRequests for when no function is configured: the relay's scheduled check
    rebuilds the read model (within a minute)."""

    def rebuild_soon(self) -> None:
        """Nothing to ask."""
