"""ProjectorFunction saying on the live channel that the counts cannot be read just now, when a
batch fails because Redis does not answer: on the channels of the batch's talks and the
leaderboard's, at most once per channel every UNAVAILABLE_EVERY_SECONDS, and never for a batch
that fails (or sets records aside) for any other reason."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest
import redis

from sam_emulator.events.live import LiveChannelEmulator
from talkrate.adapters.appsync_events import AppSyncEventsPublisher
from talkrate.adapters.redis_store import RedisReadModel
from talkrate.announcer import (
    CHANGE_DEADLINE_SECONDS,
    LEADERBOARD_AGAIN_SECONDS,
    UNAVAILABLE_AGAIN_SECONDS,
    UNAVAILABLE_EVERY_SECONDS,
    Announcer,
)
from talkrate.errors import BackendUnavailable, LivePublishFailed, ReadModelUnreachable
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
from tests.integration.test_rebuild_swap import held_busy
from tests.live_client import Subscriber
from tests.redis_cluster import LocalRedisCluster
from tests.workers import own_redis_server

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


class SlowChannel:
    """The emulator's channel as a far region's may be: each publish takes `latency` seconds
    more, the channels in `refusing` refuse their first publish (as a 502 would), and those
    `throttled` says so of refuse every one at once (as a 429 would); `asked` keeps the
    channel of every publish asked of it."""

    def __init__(
        self,
        live: LiveChannelEmulator,
        latency: float,
        refusing: Sequence[str] = (),
        throttled: Callable[[str], bool] = lambda _: False,
    ) -> None:
        self._publisher = AppSyncEventsPublisher(live.publish_url, 5, live.api_key, "eu-west-1")
        self._latency = latency
        self._refusing = set(refusing)
        self._throttled = throttled
        self._lock = threading.Lock()
        self.asked: list[str] = []

    def publish(self, channel: str, events: Sequence[str]) -> None:
        time.sleep(self._latency)  # (the far channel's round trip, not a wait for anything)
        with self._lock:
            self.asked.append(channel)
            refused = channel in self._refusing
            self._refusing.discard(channel)
        if refused:
            raise LivePublishFailed("live channel answered 502: refused")
        if self._throttled(channel):
            raise LivePublishFailed("live channel answered 429: too many requests")
        self._publisher.publish(channel, events)


def test_a_batch_of_many_talks_tells_the_leaderboard_first_and_its_redelivery_the_rest(
    live: LiveChannelEmulator,
) -> None:
    # Given the programme on the leaderboard's channel, a page on the batch's last talk's, and
    # a live channel that takes 80 ms a publish
    talks = [unique_talk_id("many") for _ in range(60)]
    page = Subscriber(live.realtime_url, live.http_host, live.api_key)
    board, _ = page.subscribe(LEADERBOARD_CHANNEL)
    last, _ = page.subscribe(channel_for_talk(talks[-1]))
    announcer = Announcer(SlowChannel(live, 0.08), deadline_seconds=5, unavailable_again_seconds=0)
    # When a batch of ratings of 60 talks fails as Redis does not answer
    first = announcer.announce_unavailable(talks)
    # Then the half-second deadline left some channels untold, but not the leaderboard's.
    # What was left shows the half second cut it (the batch's 5 s would leave none: 61
    # publishes of 80 ms on 8 threads end in 0.7 s); the time bounds the return after it, with
    # room for a loaded machine's threads (0.2 s over was thin)
    assert first.abandoned > 0, first
    assert first.seconds < 3 * CHANGE_DEADLINE_SECONDS, first
    heard = heard_until_marker(page, live, LEADERBOARD_CHANNEL)
    assert heard.get(board) == {"type": "unavailable"}, heard
    # When the batch is delivered again (at once), and again, until nothing is left untold
    told = first.published
    for _ in range(10):
        again = announcer.announce_unavailable(talks)
        told += again.published
        if again.published + again.failed + again.abandoned == 0:
            break
    # Then every channel was told, the last talk's page too
    assert told >= len(talks) + 1
    heard = heard_until_marker(page, live, channel_for_talk(talks[-1]))
    assert heard.get(last) == {"type": "unavailable", "talkId": talks[-1]}, heard
    page.close()


def test_a_refused_publish_is_said_again_by_the_batch_s_next_delivery(
    live: LiveChannelEmulator,
) -> None:
    # Given pages on a talk's channel and the leaderboard's, and a live channel that refuses
    # the first publish on each
    talk = unique_talk_id("refused")
    page = Subscriber(live.realtime_url, live.http_host, live.api_key)
    subs = {page.subscribe(channel_for_talk(talk))[0]: talk}
    board, _ = page.subscribe(LEADERBOARD_CHANNEL)
    channel = SlowChannel(live, 0, refusing=[LEADERBOARD_CHANNEL, channel_for_talk(talk)])
    announcer = Announcer(channel, deadline_seconds=5, unavailable_again_seconds=0)
    # When a batch of a rating of the talk fails as Redis does not answer, and is delivered
    # again (once the wait for a refused channel is over: none here)
    assert announcer.announce_unavailable([talk]).failed == 2
    assert heard_until_marker(page, live, LEADERBOARD_CHANNEL) == {}
    again = announcer.announce_unavailable([talk])
    # Then the second says it, on both
    assert again.published == 2, again
    received = heard_until_marker(page, live, LEADERBOARD_CHANNEL)
    assert {subs.get(sub, sub): message for sub, message in received.items()} == {
        talk: {"type": "unavailable", "talkId": talk},
        board: {"type": "unavailable"},
    }
    page.close()


def test_the_leaderboard_s_channel_refused_a_moment_is_told_by_a_delivery_seconds_later(
    live: LiveChannelEmulator,
) -> None:
    # Given the programme on the leaderboard's channel, and a live channel that refuses the
    # first publish on it and on a talk's (a moment's throttle)
    talk = unique_talk_id("moment")
    page = Subscriber(live.realtime_url, live.http_host, live.api_key)
    board, _ = page.subscribe(LEADERBOARD_CHANNEL)
    channel = SlowChannel(live, 0, refusing=[LEADERBOARD_CHANNEL, channel_for_talk(talk)])
    announcer = Announcer(channel, deadline_seconds=5)
    # When a batch of a rating of the talk fails as Redis does not answer (both refused), and
    # is delivered again half a second later, then again after LEADERBOARD_AGAIN_SECONDS
    assert announcer.announce_unavailable([talk]).failed == 2
    time.sleep(0.5)
    held = announcer.announce_unavailable([talk])
    time.sleep(LEADERBOARD_AGAIN_SECONDS)
    again = announcer.announce_unavailable([talk])
    # Then the leaderboard's channel was asked again by the later one, and the programme heard
    # it (every refused channel waited UNAVAILABLE_AGAIN_SECONDS: the pages that listen on it
    # alone showed "Live" over still counts 10 s more); the talk's waits its 10 s
    assert held.published + held.failed == 0, held
    assert (again.published, again.failed) == (1, 0), again
    assert heard_until_marker(page, live, LEADERBOARD_CHANNEL) == {board: {"type": "unavailable"}}
    assert LEADERBOARD_AGAIN_SECONDS < UNAVAILABLE_AGAIN_SECONDS
    page.close()


def test_a_channel_that_refuses_is_not_asked_again_at_every_delivery_of_the_batch(
    live: LiveChannelEmulator,
) -> None:
    # Given a live channel that refuses every talk's publish (throttling them)
    talks = [unique_talk_id("throttled") for _ in range(50)]
    channel = SlowChannel(live, 0, throttled=lambda channel: channel != LEADERBOARD_CHANNEL)
    announcer = Announcer(channel, deadline_seconds=5)
    # When a batch of ratings of 50 talks fails as Redis does not answer, and is delivered
    # again ten times within a second (as a failing batch is, on every container)
    results = []
    for _ in range(10):
        results.append(announcer.announce_unavailable(talks))
        time.sleep(0.05)
    # Then the first delivery asked once on each channel, and the others asked nothing: a
    # refused channel waits UNAVAILABLE_AGAIN_SECONDS (each delivery asked every refused
    # channel again: 501 publishes, keeping the throttle going)
    assert (results[0].published, results[0].failed) == (1, 50), results[0]
    assert len(channel.asked) == 51, len(channel.asked)
    assert UNAVAILABLE_AGAIN_SECONDS < UNAVAILABLE_EVERY_SECONDS


def test_a_batch_that_finds_redis_busy_says_the_counts_cannot_be_read(
    configure: Callable[..., None], live: LiveChannelEmulator, topic: str
) -> None:
    # Given a page on a talk's channel, and a Redis of its own busy with someone's long script
    # (BUSY to every other client after 100 ms: the API's reads say `unavailable` too)
    ratings = own_redis_server() + "/0"
    with held_busy(ratings):
        talk = unique_talk_id("busy")
        configure(
            RATINGS_CONNECTION=ratings,
            LIVE_PUBLISH_URL=live.publish_url,
            LIVE_API_KEY=live.api_key,
        )
        page = Subscriber(live.realtime_url, live.http_host, live.api_key)
        sub, _ = page.subscribe(channel_for_talk(talk))
        # When a batch of a rating of it is projected
        with pytest.raises(ReadModelUnreachable) as failed:
            project(kafka_event(ratings_batch(topic, 0, 0, [rating_event(talk, 5)])))
        # Then it fails as Redis does not answer, and the page heard so
        assert "BUSY" in str(failed.value)
        heard = heard_until_marker(page, live, channel_for_talk(talk))
        assert heard.get(sub) == {"type": "unavailable", "talkId": talk}, heard
        page.close()


def test_a_batch_failing_while_a_cluster_is_down_says_so_and_counts_once_after(
    configure: Callable[..., None],
    live: LiveChannelEmulator,
    topic: str,
    redis_cluster: LocalRedisCluster,
) -> None:
    # Given a page on a talk's channel and the leaderboard's, and a projector on a Redis
    # Cluster counting the talk's first rating
    cluster = redis_cluster
    talk = unique_talk_id("clusterdown")
    configure(
        RATINGS_CONNECTION=cluster.url,
        LIVE_PUBLISH_URL=live.publish_url,
        LIVE_API_KEY=live.api_key,
    )
    page = Subscriber(live.realtime_url, live.http_host, live.api_key)
    on_talk, _ = page.subscribe(channel_for_talk(talk))
    board, _ = page.subscribe(LEADERBOARD_CHANNEL)
    assert project(kafka_event(ratings_batch(topic, 0, 0, [rating_event(talk, 5)])))["applied"]
    heard_until_marker(page, live, LEADERBOARD_CHANNEL)
    # (a primary other than the node the URL names, its replica held so it cannot take over)
    victim = next(port for port in cluster.primaries() if port != cluster.ports[0])
    with redis.Redis(port=victim) as primary:
        replica = cluster.processes[int(primary.info("replication")["slave0"]["port"])].pid
    os.kill(replica, signal.SIGSTOP)
    try:
        # When that primary is killed mid-stream, the cluster sees it fail, and it is started
        # again (empty) before its replica took over: every node answers CLUSTERDOWN a moment
        cluster.kill(victim)
        with redis.Redis(port=cluster.ports[0]) as survivor:
            deadline = time.monotonic() + 30
            while survivor.cluster("info")["cluster_state"] != "fail":
                assert time.monotonic() < deadline, "the cluster never saw its primary fail"
                time.sleep(0.05)
        cluster.start_again(victim)
        batch = kafka_event(ratings_batch(topic, 0, 1, [rating_event(talk, 3)]))
        with pytest.raises(ReadModelUnreachable) as failed:
            project(batch)
        # Then the batch fails as the read model unreachable (it is delivered again), and the
        # page heard that the talk's counts (and the leaderboard) cannot be read just now
        assert isinstance(failed.value.__cause__, redis.exceptions.ClusterDownError)
        assert "the cluster is failing over" in str(failed.value)
        assert heard_until_marker(page, live, LEADERBOARD_CHANNEL) == {
            on_talk: {"type": "unavailable", "talkId": talk},
            board: {"type": "unavailable"},
        }
    finally:
        os.kill(replica, signal.SIGCONT)
        cluster.wait_until_healthy(replicated=True)
    # And once the cluster serves every slot again (the shard that came back empty rebuilt by
    # the projector from the event store), the batch delivered again counts its rating once
    project(batch)
    project(batch)
    assert RedisReadModel(cluster.url).histogram(talk).counts == {
        "1": 0,
        "2": 0,
        "3": 1,
        "4": 0,
        "5": 1,
    }
    page.close()
