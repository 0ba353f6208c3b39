"""The live channel: what the projector announces after a batch, and on which channel.

Channels live in the `talkrate` namespace of an AppSync Events API (emulated by the local
runtime): `/talkrate/talks/<segment>` per talk and `/talkrate/leaderboard`. A channel segment may
only hold 1 to 50 letters, digits and dashes, so a talk id that is not one is named by a hash.
Messages carry state, not deltas: a lost or repeated message is healed by the next one, and a
client that reconnects refetches over HTTP.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any, Final, NamedTuple

from talkrate.observability import logger
from talkrate.ports import LivePublisher, RatingsReadModel
from talkrate.values import Histogram

NAMESPACE: Final = "talkrate"
TALKS_CHANNEL_PREFIX: Final = f"/{NAMESPACE}/talks/"
LEADERBOARD_CHANNEL: Final = f"/{NAMESPACE}/leaderboard"
# AppSync Events takes at most 5 events per publish request, each at most 240 KB.
MAX_EVENTS_PER_PUBLISH: Final = 5
MAX_EVENT_BYTES: Final = 240 * 1024
# Ids of a leaderboard message: 1,000 ids of at most 200 characters stay well under 240 KB.
LEADERBOARD_IDS_PER_EVENT: Final = 1000
_SEGMENT: Final = re.compile(r"[A-Za-z0-9-]{1,50}")


def channel_for_talk(talk_id: str) -> str:
    """The talk's live channel: its id as the last segment when the id is a valid channel
    segment, else `t` and the first 40 hex digits of the id's SHA-256."""
    if _SEGMENT.fullmatch(talk_id):
        return TALKS_CHANNEL_PREFIX + talk_id
    digest = hashlib.sha256(talk_id.encode("utf-8")).hexdigest()
    return f"{TALKS_CHANNEL_PREFIX}t{digest[:40]}"


def talk_message(talk_id: str, histogram: Histogram) -> dict[str, Any]:
    """A talk's state as its channel carries it: histogram, count and average."""
    return {
        "type": "talk",
        "talkId": talk_id,
        "ratings": histogram.counts,
        "count": histogram.total,
        "avg": histogram.average,
    }


def leaderboard_messages(talk_ids: Sequence[str]) -> list[dict[str, Any]]:
    """The leaderboard channel's messages naming the talks whose place may have moved (clients
    refetch GET /leaderboard); more than one only when a batch touched very many talks."""
    ids = sorted(talk_ids)
    return [
        {"type": "leaderboard", "talkIds": ids[start : start + LEADERBOARD_IDS_PER_EVENT]}
        for start in range(0, len(ids), LEADERBOARD_IDS_PER_EVENT)
    ]


class Publication(NamedTuple):
    """Events for one channel, each a JSON text, at most MAX_EVENTS_PER_PUBLISH of them."""

    channel: str
    events: tuple[str, ...]


def publications(channel: str, messages: Iterable[dict[str, Any]]) -> list[Publication]:
    """The messages of a channel as publish requests of at most five events each."""
    events = [json.dumps(m, separators=(",", ":"), ensure_ascii=False) for m in messages]
    return [
        Publication(channel, tuple(events[start : start + MAX_EVENTS_PER_PUBLISH]))
        for start in range(0, len(events), MAX_EVENTS_PER_PUBLISH)
    ]


class AnnouncementResult(NamedTuple):
    """How the announcement of one batch went: requests published, failed, left undone."""

    published: int
    failed: int
    abandoned: int
    seconds: float


class Announcer:
    """Publishes a batch's live updates concurrently, within a deadline, never raising.

    The batch is already applied when it runs: a failed or slow publish costs the subscribers
    one update (the next batch's message carries the state again), never the batch.
    """

    def __init__(self, channel: LivePublisher, deadline_seconds: float, workers: int = 8) -> None:
        self._channel = channel
        self._deadline = deadline_seconds
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="live-publish")

    def announce(self, talk_ids: Sequence[str], read_model: RatingsReadModel) -> AnnouncementResult:
        """One message per talk with its new state, read back from the read model, and the
        leaderboard message; waits at most the deadline for them."""
        started = time.monotonic()
        if not talk_ids:
            return AnnouncementResult(0, 0, 0, 0.0)
        try:
            histograms = read_model.histograms(list(talk_ids))
        except Exception:
            logger.warning("live update skipped: the read model did not answer", exc_info=True)
            return AnnouncementResult(0, 1, 0, time.monotonic() - started)
        requests = [
            publication
            for talk_id, histogram in histograms.items()
            for publication in publications(
                channel_for_talk(talk_id), [talk_message(talk_id, histogram)]
            )
        ]
        requests += publications(LEADERBOARD_CHANNEL, leaderboard_messages(talk_ids))
        futures = [
            self._pool.submit(self._channel.publish, request.channel, request.events)
            for request in requests
        ]
        remaining = max(0.0, self._deadline - (time.monotonic() - started))
        done, pending = wait(futures, timeout=remaining)
        for future in pending:
            future.cancel()  # not started yet: dropped; started: ends at its own timeout
        failed = [f.exception() for f in done if f.exception() is not None]
        if failed:
            logger.warning(
                "live updates failed",
                extra={"failed": len(failed), "of": len(requests), "first": str(failed[0])[:300]},
            )
        if pending:
            logger.warning("live updates abandoned at the deadline", extra={"count": len(pending)})
        return AnnouncementResult(
            published=len(done) - len(failed),
            failed=len(failed),
            abandoned=len(pending),
            seconds=time.monotonic() - started,
        )
