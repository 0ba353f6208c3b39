"""The live channel: what the projector announces after a batch and the API after an organiser's
change to the catalog, and on which channel (the announcing itself, concurrent and within a
deadline, is talkrate.announcer's).

Channels live in the `talkrate` namespace of an AppSync Events API (emulated by the local
runtime): `/talkrate/talks/<segment>` per talk and `/talkrate/leaderboard`. A channel segment may
only hold 1 to 50 letters, digits and dashes, so a talk id that is not one is named by a hash.
Messages carry state, not deltas: a lost or repeated message is healed by the next one, and a
client that reconnects refetches over HTTP. Each carries what orders it against an earlier one
published later (`ratingsRevision`, `revision`). Each has a `type` ("talk", "leaderboard",
"catalog", "unavailable"); a client skips a type it does not know.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any, Final, NamedTuple

from talkrate.values import Histogram

NAMESPACE: Final = "talkrate"
TALKS_CHANNEL_PREFIX: Final = f"/{NAMESPACE}/talks/"
LEADERBOARD_CHANNEL: Final = f"/{NAMESPACE}/leaderboard"
# AppSync Events takes at most 5 events per publish request, each at most 240 KB.
MAX_EVENTS_PER_PUBLISH: Final = 5
MAX_EVENT_BYTES: Final = 240 * 1024
# Talks of a leaderboard message: 400 ids of at most 200 characters, each twice (in `talkIds` and
# as a key of `summaries`) with its count, average and histogram, stay under 240 KB (228 KB at counts of 10^12).
LEADERBOARD_IDS_PER_EVENT: Final = 400
# A channel segment as AppSync takes one (its API reference's pattern for a namespace name):
# letters, digits and dashes, at most 50, starting and ending with a letter or digit.
_SEGMENT: Final = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,48}[A-Za-z0-9])?")
# The metric of the days the pages' API key has left (namespace talkrate; the template alarms on
# it): when the key runs out, browsers are refused on the channel and fall back to polling.
API_KEY_DAYS_LEFT_METRIC: Final = "LiveApiKeyDaysLeft"
SECONDS_PER_DAY: Final = 86_400


def channel_for_talk(talk_id: str) -> str:
    """The talk's live channel: its id as the last segment when the id is a valid channel
    segment, else `t` and the first 40 hex digits of the id's SHA-256."""
    if _SEGMENT.fullmatch(talk_id):
        return TALKS_CHANNEL_PREFIX + talk_id
    from hashlib import sha256  # (OpenSSL's, 2 ms: at a first channel named, not at init)

    digest = sha256(talk_id.encode("utf-8")).hexdigest()
    return f"{TALKS_CHANNEL_PREFIX}t{digest[:40]}"


def talk_message(talk_id: str, histogram: Histogram) -> dict[str, Any]:
    """A talk's state as its channel carries it: histogram, count, average, and the revision
    that orders it (GET /ratings' `ratingsRevision`)."""
    message: dict[str, Any] = {
        "type": "talk",
        "talkId": talk_id,
        "ratings": histogram.counts,
        "count": histogram.total,
        "avg": histogram.average,
    }
    if histogram.revision is not None:
        message["ratingsRevision"] = histogram.revision
    return message


def leaderboard_messages(histograms: Mapping[str, Histogram]) -> list[dict[str, Any]]:
    """The leaderboard channel's messages naming the talks whose place may have moved (clients
    refetch GET /leaderboard), with each one's count, average and revision (the programme
    updates its cards from them instead of reading the whole catalogue again); more than one
    only when a batch touched very many talks."""
    ids = sorted(histograms)
    return [
        {
            "type": "leaderboard",
            "talkIds": chunk,
            "summaries": {talk_id: _summary(histograms[talk_id]) for talk_id in chunk},
        }
        for chunk in (
            ids[start : start + LEADERBOARD_IDS_PER_EVENT]
            for start in range(0, len(ids), LEADERBOARD_IDS_PER_EVENT)
        )
    ]


def _summary(histogram: Histogram) -> dict[str, Any]:
    # (with its histogram: the programme's cards write the average from it, exactly)
    summary: dict[str, Any] = {
        "count": histogram.total,
        "avg": histogram.average,
        "ratings": histogram.counts,
    }
    if histogram.revision is not None:
        summary["ratingsRevision"] = histogram.revision
    return summary


def catalog_message(
    talk_id: str, talk: Mapping[str, Any] | None, revision: int | None = None
) -> dict[str, Any]:
    """A talk as the catalog has it after an organiser's change: `talk` is its document as
    GET /talks/{talkId} answers it (without the rating summary), or None when the talk was
    removed. Sent on the talk's channel and the leaderboard's (the programme and the
    leaderboard show titles).

    `revision` orders the messages of a talk, which two API instances may publish in either
    order: a document's own revision, or for a removal the revision of the talk it removed (a
    catalog-wide sequence). Of two messages the lower revision is the older; at the same
    revision the removal is the newer (it removed that document). A removal from an API of
    before carries none: clients take it whatever they have seen.
    """
    if revision is None and talk is not None:
        revision = talk.get("revision")
    message: dict[str, Any] = {
        "type": "catalog",
        "talkId": talk_id,
        "talk": None if talk is None else dict(talk),
    }
    if revision is not None:
        message["revision"] = revision
    return message


def unavailable_message(talk_id: str | None = None) -> dict[str, Any]:
    """The counts cannot be read just now (Redis does not answer; every rating is kept, and
    counted once it does): sent by the projector on a talk's channel (with its `talkId`) and
    on the leaderboard's (without: no count can be read) as a batch fails for it. Clients read
    at once, which answers from the event store and says `unavailable`. It carries no state: a
    talk message or a read that succeeds is newer than any of it."""
    message: dict[str, Any] = {"type": "unavailable"}
    if talk_id is not None:
        message["talkId"] = talk_id
    return message


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


def api_key_days_left(expires_at: float, now: float) -> float:
    """Days, to a tenth, until the pages' subscribe-only API key expires at `expires_at` (Unix
    seconds), seen at `now`; negative once it has expired."""
    return round((expires_at - now) / SECONDS_PER_DAY, 1)
