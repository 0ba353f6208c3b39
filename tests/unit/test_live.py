"""The live channel's names and messages, and announcing a batch within its deadline."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Sequence

import pytest

from talkrate.announcer import CHANGE_DEADLINE_SECONDS, Announcer
from talkrate.errors import LivePublishFailed
from talkrate.events import MAX_TALK_ID_LENGTH
from talkrate.live import (
    LEADERBOARD_CHANNEL,
    LEADERBOARD_IDS_PER_EVENT,
    MAX_EVENT_BYTES,
    api_key_days_left,
    catalog_message,
    channel_for_talk,
    leaderboard_messages,
    publications,
    talk_message,
)
from talkrate.models import Histogram
from talkrate.projected import ProjectionBatch, ProjectionResult
from talkrate.projection import classify, records_from_event, touched_talks
from talkrate.unsent_changes import RETRY_MOST_SECONDS, UnsentChanges, change_place
from tests.builders import kafka_event, rating_event, ratings_batch

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("talk_id", ["flight-of-the-gopher", "T1", "a" * 50, "0-0"])
def test_a_talk_id_that_is_a_channel_segment_names_its_channel(talk_id: str) -> None:
    assert channel_for_talk(talk_id) == f"/talkrate/talks/{talk_id}"


@pytest.mark.parametrize("talk_id", ["a" * 51, "talk.2026", "room:1", "x~y", "ü", "keynote-"])
def test_any_other_talk_id_is_named_by_its_hash(talk_id: str) -> None:
    digest = hashlib.sha256(talk_id.encode()).hexdigest()[:40]
    channel = channel_for_talk(talk_id)
    assert channel == f"/talkrate/talks/t{digest}"
    assert len(channel.rsplit("/", 1)[1]) == 41


def test_a_talk_message_carries_histogram_count_and_average() -> None:
    message = talk_message("t-1", Histogram.from_counts({"5": 3, "1": 1}))
    assert message == {
        "type": "talk",
        "talkId": "t-1",
        "ratings": {"1": 1, "2": 0, "3": 0, "4": 0, "5": 3},
        "count": 4,
        "avg": 4.0,
    }
    assert talk_message("t-2", Histogram.empty())["avg"] is None


# A histogram of no rating, as the messages carry one.
NONE = {"1": 0, "2": 0, "3": 0, "4": 0, "5": 0}


def test_many_changed_talks_split_into_leaderboard_messages_and_publish_requests() -> None:
    ids = [f"talk-{n:05d}" for n in range(LEADERBOARD_IDS_PER_EVENT * 6 + 1)]
    messages = leaderboard_messages({i: Histogram.empty() for i in reversed(ids)})
    assert [len(m["talkIds"]) for m in messages] == [LEADERBOARD_IDS_PER_EVENT] * 6 + [1]
    assert [i for m in messages for i in m["talkIds"]] == ids
    assert all(list(m["summaries"]) == m["talkIds"] for m in messages)
    requests = publications(LEADERBOARD_CHANNEL, messages)
    assert [len(r.events) for r in requests] == [5, 2]
    assert json.loads(requests[1].events[1]) == {
        "type": "leaderboard",
        "talkIds": [ids[-1]],
        "summaries": {ids[-1]: {"count": 0, "avg": None, "ratings": NONE}},
    }


def test_a_leaderboard_message_of_the_longest_ids_stays_under_the_event_limit() -> None:
    # Given as many talks as one message holds, each with the longest id and a large count
    ids = [f"{n:05d}".ljust(MAX_TALK_ID_LENGTH, "x") for n in range(LEADERBOARD_IDS_PER_EVENT)]
    big = Histogram.from_counts({str(v): 10**12 - v for v in range(1, 6)}, revision=10**12)
    # When they are announced on the leaderboard
    [message] = leaderboard_messages(dict.fromkeys(ids, big))
    # Then the message fits one AppSync event
    [request] = publications(LEADERBOARD_CHANNEL, [message])
    assert len(request.events[0].encode()) < MAX_EVENT_BYTES


class FakeReadModel:
    def __init__(self, histograms: dict[str, Histogram]) -> None:
        self._histograms = histograms

    def histograms(self, talk_ids: list[str]) -> dict[str, Histogram]:
        return {t: self._histograms.get(t, Histogram.empty()) for t in talk_ids}

    def histogram(self, talk_id: str) -> Histogram:
        return self.histograms([talk_id])[talk_id]

    def apply(self, batch: ProjectionBatch) -> ProjectionResult:
        raise NotImplementedError


class RecordingChannel:
    """A live channel that keeps what it got; it fails or stalls on the channels it is told to."""

    def __init__(self, failing: Sequence[str] = (), stalling: Sequence[str] = ()) -> None:
        self.published: dict[str, list[dict[str, object]]] = {}
        self._failing, self._stalling = set(failing), set(stalling)
        self._lock = threading.Lock()
        self.release = threading.Event()

    def publish(self, channel: str, events: Sequence[str]) -> None:
        if channel in self._failing:
            raise LivePublishFailed("refused")
        if channel in self._stalling:
            self.release.wait(10)
        with self._lock:
            self.published.setdefault(channel, []).extend(json.loads(e) for e in events)


def test_a_batch_is_announced_per_talk_with_its_new_state_and_once_on_the_leaderboard() -> None:
    # Given two talks of a batch with their states in the read model
    model = FakeReadModel(
        {"a": Histogram.from_counts({"4": 2}), "b": Histogram.from_counts({"1": 1})}
    )
    channel = RecordingChannel()
    # When the batch is announced
    result = Announcer(channel, deadline_seconds=2).announce(["a", "b"], model)
    # Then each talk's channel got its state, and the leaderboard named both
    assert (result.published, result.failed, result.abandoned) == (3, 0, 0)
    assert channel.published[channel_for_talk("a")] == [talk_message("a", model.histogram("a"))]
    assert channel.published[channel_for_talk("b")][0]["count"] == 1
    assert channel.published[LEADERBOARD_CHANNEL] == [
        {
            "type": "leaderboard",
            "talkIds": ["a", "b"],
            "summaries": {
                "a": {"count": 2, "avg": 4.0, "ratings": {**NONE, "4": 2}},
                "b": {"count": 1, "avg": 1.0, "ratings": {**NONE, "1": 1}},
            },
        }
    ]


def test_a_failing_or_stalled_publish_is_counted_and_does_not_hold_the_batch() -> None:
    # Given a channel that refuses one talk's update and never answers another's
    model = FakeReadModel({})
    channel = RecordingChannel(failing=[channel_for_talk("a")], stalling=[channel_for_talk("b")])
    # When three talks are announced with a 0.3 s deadline
    started = time.monotonic()
    result = Announcer(channel, deadline_seconds=0.3).announce(["a", "b", "c"], model)
    elapsed = time.monotonic() - started
    channel.release.set()
    # Then the announcement returned at its deadline, counting what failed and what it left
    assert elapsed < 2
    assert (result.published, result.failed, result.abandoned) == (2, 1, 1)
    assert channel_for_talk("c") in channel.published


def test_a_channel_whose_every_publish_times_out_at_the_deadline_is_skipped_for_a_while() -> None:
    # Given a channel whose publishes all fail by timing out, at the announcer's deadline (the
    # publisher's own timeout is the deadline: they end just before it or just after)
    deadline = 0.3

    class TimingOut(RecordingChannel):
        def publish(self, channel: str, events: Sequence[str]) -> None:
            time.sleep(deadline * 0.98)
            raise LivePublishFailed("timed out")

    announcer = Announcer(TimingOut(), deadline_seconds=deadline, pause_seconds=30)
    # When one batch is announced, all its publishes failing: by their own timeout just before
    # the deadline, or (on a busy machine) left at the deadline, just before they would have
    first = announcer.announce(["a", "b"], FakeReadModel({}))
    assert first.published == 0
    assert first.failed + first.abandoned == 3  # two talks' messages and the leaderboard's
    # Then the next batch does not wait for the channel again: it is skipped at once
    started = time.monotonic()
    second = announcer.announce(["c"], FakeReadModel({}))
    assert time.monotonic() - started < deadline / 2
    assert (second.published, second.abandoned) == (0, 2)


def test_an_organiser_s_change_is_announced_on_the_talk_s_channel_and_the_leaderboard_s() -> None:
    # Given a talk's document as the API answers it, and a channel
    document = {"id": "talk.1", "title": "Moved", "room": "Hall B", "revision": 12}
    channel = RecordingChannel()
    announcer = Announcer(channel, deadline_seconds=2)
    # When it is saved, then removed (the removal with the revision the talk had)
    saved = announcer.announce_change("talk.1", document)
    removed = announcer.announce_change("talk.1", None, 12)
    # Then the talk's channel and the leaderboard's each got its document, then its removal,
    # each with the revision that orders them (the removal after the document it removed)
    assert (saved.published, removed.published) == (2, 2)
    expected = [
        {"type": "catalog", "talkId": "talk.1", "talk": document, "revision": 12},
        {"type": "catalog", "talkId": "talk.1", "talk": None, "revision": 12},
    ]
    assert channel.published[channel_for_talk("talk.1")] == expected
    assert channel.published[LEADERBOARD_CHANNEL] == expected


def test_an_organiser_s_change_waits_for_the_channel_less_than_a_batch_may() -> None:
    # Given an announcer whose batches may wait 5 s, and a channel that never answers
    channel = RecordingChannel(stalling=[channel_for_talk("a"), LEADERBOARD_CHANNEL])
    announcer = Announcer(channel, deadline_seconds=5)
    # When a change to a talk is announced
    started = time.monotonic()
    result = announcer.announce_change("a", {"id": "a", "title": "A", "revision": 1})
    elapsed = time.monotonic() - started
    channel.release.set()
    # Then the write it follows was held back by the change's deadline, not the batch's
    assert CHANGE_DEADLINE_SECONDS <= elapsed < 2.5
    # And its publishes, on their way at the bound, are kept to be sent, not counted as failed
    # (a channel slower than the bound loses nothing: the tally counts them as they settle)
    assert (result.published, result.failed, result.abandoned, result.kept) == (0, 0, 0, 2)


class DownChannel(RecordingChannel):
    """A channel that refuses every publish until `up()`."""

    def __init__(self) -> None:
        super().__init__()
        self.down = True

    def up(self) -> None:
        self.down = False

    def publish(self, channel: str, events: Sequence[str]) -> None:
        if self.down:
            raise LivePublishFailed("unavailable")
        super().publish(channel, events)


def heard_within(
    channel: RecordingChannel, name: str, expected: list[object], seconds: float
) -> bool:
    """Whether `name` got exactly `expected` within `seconds` (checked every 10 ms)."""
    ends = time.monotonic() + seconds
    while channel.published.get(name) != expected and time.monotonic() < ends:
        time.sleep(0.01)
    return channel.published.get(name) == expected


def test_an_organiser_s_change_the_channel_refused_is_sent_once_it_answers_the_newest_only() -> (
    None
):
    # Given a channel that refuses every publish
    channel = DownChannel()
    announcer = Announcer(channel, deadline_seconds=2)
    try:
        # When a talk is saved twice, and another removed, while it refuses
        first = announcer.announce_change("a", {"id": "a", "title": "A", "revision": 1})
        second = announcer.announce_change("a", {"id": "a", "title": "A, moved", "revision": 2})
        removed = announcer.announce_change("b", None, 3)
        assert [r.kept for r in (first, second, removed)] == [2, 2, 2]
        # (each refusal counted once, by the tally: 2 publishes of 3 changes, and the thread's)
        tally = announcer.take_unsent_tally()
        ends = time.monotonic() + 5
        while tally.failed < 6 and time.monotonic() < ends:
            time.sleep(0.01)
            tally = tally._replace(failed=tally.failed + announcer.take_unsent_tally().failed)
        assert tally.failed >= 6, tally
        assert announcer.unsent_changes() == 2
        # ...and the channel answers again
        channel.up()
        # Then the newest state of each talk reaches its channel and the leaderboard's, in the
        # order of the changes, once; the older save is not sent (the newer one replaces it)
        newest_a = {
            "type": "catalog",
            "talkId": "a",
            "talk": {"id": "a", "title": "A, moved", "revision": 2},
            "revision": 2,
        }
        removal_b = {"type": "catalog", "talkId": "b", "talk": None, "revision": 3}
        # (within the longest wait between the sender's tries: under load the tries made while
        # it refused may have reached the 4 s or 8 s step before it answered)
        wait = RETRY_MOST_SECONDS + 5
        assert heard_within(channel, LEADERBOARD_CHANNEL, [newest_a, removal_b], seconds=wait)
        assert channel.published[channel_for_talk("a")] == [newest_a]
        assert channel.published[channel_for_talk("b")] == [removal_b]
        assert announcer.unsent_changes() == 0
    finally:
        announcer.close()


def test_unsent_changes_are_bounded_the_oldest_given_up_first() -> None:
    # Given changes kept for at most two talks, and a channel that refuses
    channel = DownChannel()
    unsent = UnsentChanges(channel.publish, answered=lambda: None, most_talks=2, first_wait=0.01)
    try:
        # When three talks change while it refuses
        for revision, talk_id in enumerate(["a", "b", "c"], start=1):
            message = catalog_message(talk_id, {"id": talk_id, "revision": revision})
            [request] = publications(LEADERBOARD_CHANNEL, [message])
            unsent.send_later(unsent.keep(talk_id, change_place(message), [request]))
        # Then two are kept, and once it answers those two are sent, the oldest given up
        assert unsent.count() == 2
        channel.up()
        expected = [catalog_message(t, {"id": t, "revision": r}) for t, r in (("b", 2), ("c", 3))]
        assert heard_within(channel, LEADERBOARD_CHANNEL, expected, seconds=5)
        # And the tally says so, once: two sent late, one given up (the API's metrics)
        ends = time.monotonic() + 5
        while unsent.count() and time.monotonic() < ends:
            time.sleep(0.01)
        tally = unsent.take_tally()
        assert (tally.sent_late, tally.given_up) == (2, 1)
        assert unsent.take_tally() == (0, 0, 0)
    finally:
        unsent.close()


def test_a_catalog_message_of_the_largest_talk_stays_under_the_event_limit() -> None:
    # Given a talk with the longest id, title, speakers, track and room the API takes
    document = {
        "id": "x" * MAX_TALK_ID_LENGTH,
        "title": "\U0001f600" * 300,
        "speakers": ["\u00e9" * 120] * 20,
        "track": "t" * 100,
        "room": "r" * 100,
        "startsAt": "2026-12-04T10:00:00Z",
        "endsAt": "2026-12-04T11:00:00Z",
        "revision": 10**12,
        "channel": channel_for_talk("x" * MAX_TALK_ID_LENGTH),
        "ratingClosesAt": "2026-12-05T11:00:00Z",
    }
    # Then its message is one AppSync event
    [request] = publications(LEADERBOARD_CHANNEL, [catalog_message(document["id"], document)])
    assert len(request.events[0].encode()) < MAX_EVENT_BYTES


def test_an_unreachable_read_model_skips_the_announcement_without_raising() -> None:
    class Down(FakeReadModel):
        def histograms(self, talk_ids: list[str]) -> dict[str, Histogram]:
            raise ConnectionError("down")

    result = Announcer(RecordingChannel(), deadline_seconds=1).announce(["a"], Down({}))
    assert (result.published, result.failed) == (0, 1)


def test_the_talks_of_a_batch_are_its_counted_ratings_in_order() -> None:
    events = [rating_event("b", 1), rating_event("a", 2), rating_event("b", 3)]
    batch = classify(records_from_event(kafka_event(ratings_batch("ratings", 0, 7, events))))
    assert touched_talks(batch) == ("b", "a")


def test_the_days_an_api_key_has_left_count_down_to_its_expiry_and_below() -> None:
    # Given a key that expires at noon on a day
    expires = 1_800_000_000
    day = 86_400
    # Then a month before it has 30 days left, twelve hours before half a day, and after it the
    # days it has been expired, negative (an alarm on "< 14" fires for those too)
    assert api_key_days_left(expires, expires - 30 * day) == 30.0
    assert api_key_days_left(expires, expires - day // 2) == 0.5
    assert api_key_days_left(expires, expires) == 0.0
    assert api_key_days_left(expires, expires + 3 * day) == -3.0
    assert api_key_days_left(expires, expires - 13 * day - 3600) == 13.0
