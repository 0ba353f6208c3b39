"""ProjectorFunction saying on the live channel that the counts cannot be read just now, when a
batch fails because Redis does not answer: on the channels of the batch's talks and the
leaderboard's, at most once per channel every UNAVAILABLE_EVERY_SECONDS, and never for a batch
that fails (or sets records aside) for any other reason."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from sam_emulator.events.live import LiveChannelEmulator
from talkrate.announcer import UNAVAILABLE_EVERY_SECONDS
from talkrate.errors import BackendUnavailable, ReadModelUnreachable
from talkrate.live import LEADERBOARD_CHANNEL, channel_for_talk
from tests.builders import (
    LambdaContextStub,
    kafka_event,
    load_function,
    rating_event,
    ratings_batch,
    unique_talk_id,
)
from tests.integration.test_live_updates import heard_until_marker
from tests.live_client import Subscriber

pytestmark = pytest.mark.integration

NOWHERE_REDIS = "redis://127.0.0.1:1/0"  # a port nothing listens on: Redis down


@pytest.fixture
def live() -> Iterator[LiveChannelEmulator]:
    emulator = LiveChannelEmulator(namespaces=["talkrate"])
    emulator.start()
    yield emulator
    emulator.stop()


def project(event: dict[str, Any]) -> Any:
    return load_function("projector")(event, LambdaContextStub("projector"))


def test_a_batch_that_cannot_reach_redis_says_so_on_its_talks_and_the_leaderboard_once(
    configure: Callable[..., None], live: LiveChannelEmulator, topic: str
) -> None:
    # Given pages on two talks' channels and the leaderboard's, and Redis down
    first, second, third = (unique_talk_id("down") for _ in range(3))
    configure(
        RATINGS_CONNECTION=NOWHERE_REDIS,
        LIVE_PUBLISH_URL=live.publish_url,
        LIVE_API_KEY=live.api_key,
    )
    page = Subscriber(live.realtime_url, live.http_host, live.api_key)
    subs = {page.subscribe(channel_for_talk(t))[0]: t for t in (first, second, third)}
    board, _ = page.subscribe(LEADERBOARD_CHANNEL)
    batch = kafka_event(
        ratings_batch(topic, 0, 0, [rating_event(first, 5), rating_event(second, 3)])
    )
    # When a batch of ratings of two of the talks is projected
    with pytest.raises(ReadModelUnreachable):
        project(batch)
    # Then it fails as before (it is delivered again), and each talk's page heard that its
    # counts cannot be read just now, and the leaderboard's that none can
    received = heard_until_marker(page, live, LEADERBOARD_CHANNEL)
    assert {subs.get(sub, sub): message for sub, message in received.items()} == {
        first: {"type": "unavailable", "talkId": first},
        second: {"type": "unavailable", "talkId": second},
        board: {"type": "unavailable"},
    }
    # When the batch is delivered again at once, and again with a rating of the third talk
    with pytest.raises(ReadModelUnreachable):
        project(batch)
    more = ratings_batch(topic, 0, 2, [rating_event(first, 4), rating_event(third, 2)])
    with pytest.raises(ReadModelUnreachable):
        project(kafka_event(more))
    # Then only the third talk hears it: the others were told less than
    # UNAVAILABLE_EVERY_SECONDS ago
    again = heard_until_marker(page, live, channel_for_talk(third))
    assert {subs.get(sub, sub): message for sub, message in again.items()} == {
        third: {"type": "unavailable", "talkId": third},
    }
    assert UNAVAILABLE_EVERY_SECONDS == 30.0
    page.close()


def test_a_batch_that_fails_for_another_reason_or_sets_a_record_aside_says_nothing_of_it(
    configure: Callable[..., None], live: LiveChannelEmulator, talk: str, topic: str
) -> None:
    # Given a page on the talk's channel and the leaderboard's, Redis up
    configure(LIVE_PUBLISH_URL=live.publish_url, LIVE_API_KEY=live.api_key)
    page = Subscriber(live.realtime_url, live.http_host, live.api_key)
    page.subscribe(channel_for_talk(talk))
    page.subscribe(LEADERBOARD_CHANNEL)
    # When a batch with a malformed record is projected
    records = ratings_batch(topic, 0, 0, [rating_event(talk, 5)])
    records.append({**records[0], "offset": 1, "value": "bm90IGpzb24="})  # "not json"
    assert project(kafka_event(records))["deadLettered"] == 1
    # Then the page heard the talk's new state, and nothing said the counts unreadable
    types = {
        message["type"] for message in heard_until_marker(page, live, LEADERBOARD_CHANNEL).values()
    }
    assert types == {"talk", "leaderboard"}
    # When a batch fails as the event store (PostgreSQL) does not answer
    configure(
        TALKS_CONNECTION="postgresql://postgres@127.0.0.1:1/none?connect_timeout=1",
        LIVE_PUBLISH_URL=live.publish_url,
        LIVE_API_KEY=live.api_key,
    )
    batch = kafka_event(ratings_batch(topic, 0, 2, [rating_event(talk, 4)]))
    with pytest.raises(BackendUnavailable) as failed:
        project(batch)
    # Then it fails, and the page hears nothing: the counts can still be read
    assert not isinstance(failed.value, ReadModelUnreachable)
    assert heard_until_marker(page, live, LEADERBOARD_CHANNEL) == {}
    page.close()


def test_a_live_channel_that_refuses_or_hangs_changes_nothing_of_the_failed_batch(
    configure: Callable[..., None], topic: str
) -> None:
    # Given Redis down and a live channel where nothing listens
    talk = unique_talk_id("down")
    configure(
        RATINGS_CONNECTION=NOWHERE_REDIS,
        LIVE_PUBLISH_URL="http://127.0.0.1:1/event",
        LIVE_API_KEY="da2-none",
    )
    # When a batch is projected
    started = time.monotonic()
    with pytest.raises(ReadModelUnreachable):
        project(kafka_event(ratings_batch(topic, 0, 0, [rating_event(talk, 5)])))
    # Then it fails as Redis does, not as the channel does, and within the announcement's
    # half-second deadline of it
    assert time.monotonic() - started < 5
