"""Publishing RatingSubmitted events to a real Kafka-API broker."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg2
import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from talkrate.adapters.kafka_stream import KafkaRatingPublisher, PausingPublisher
from talkrate.config import Settings
from talkrate.errors import BackendUnavailable, PublishUnconfirmed
from talkrate.models import RatingSubmitted
from tests.backends import RELAY_TALKS
from tests.builders import rating_event

pytestmark = pytest.mark.integration


def consume(bootstrap: str, topic: str, enough: Callable[[list[Any]], bool]) -> list[Any]:
    """The topic's records from its start, until `enough` of them are read (or 10 s pass
    without a new one)."""
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=10_000,
    )
    try:
        seen: list[Any] = []
        for record in consumer:
            seen.append(record)
            if enough(seen):
                break
        return seen
    finally:
        consumer.close()


def consume_all(bootstrap: str, topic: str, expected: int) -> list[tuple[bytes, bytes]]:
    """The keys and values of the topic's first `expected` records (fewer if it has fewer)."""
    records = consume(bootstrap, topic, lambda seen: len(seen) >= expected)
    return [(record.key, record.value) for record in records]


def consume_to_end(bootstrap: str, topic: str, within: float = 10.0) -> list[Any]:
    """Every record the topic holds now: read from its start up to its partitions' end offsets
    as they stand at the call. A publish is acknowledged before the call that made it returns,
    so a test that asks what was published (and that nothing more was) gets its answer as soon
    as the records are read, not after a silence; AssertionError if they are not read within
    `within` seconds.

    Whole batches are kept, past the end offset too: tansu answers a partition's end as its last
    batch's first offset + 1, so records sent together (a retried publish among them) would be
    cut off at that end, and a duplicate hidden."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        ends = {tp: end for tp, end in consumer.end_offsets(partitions).items() if end > 0}
        seen: list[Any] = []
        deadline = time.monotonic() + within
        while any(consumer.position(tp) < end for tp, end in ends.items()):
            assert time.monotonic() < deadline, f"{topic}: not read to its end in {within} s"
            for records in consumer.poll(timeout_ms=200).values():
                seen.extend(records)
        return sorted(seen, key=lambda r: (r.partition, r.offset))
    finally:
        consumer.close()


def count_records(bootstrap: str, topic: str) -> int:
    """How many records the topic holds (read, not taken from its end offsets: see
    consume_to_end)."""
    return len(consume_to_end(bootstrap, topic))


def test_records_sent_together_are_all_counted(kafka_bootstrap: str, topic: str) -> None:
    # Given three records sent in one batch (as a publish retried within a batch would be)
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all", linger_ms=50)
    try:
        sent = [producer.send(topic, b"{}", partition=0) for _ in range(3)]
        offsets = [future.get(timeout=10).offset for future in sent]
    finally:
        producer.close()
    # Then the tests' readers see all three, whatever end offset the broker reports
    assert count_records(kafka_bootstrap, topic) == 3
    assert [r.offset for r in consume_to_end(kafka_bootstrap, topic)] == offsets


def test_published_events_arrive_keyed_by_talk_and_parse(kafka_bootstrap: str, topic: str) -> None:
    # Given a publisher on the broker
    publisher = KafkaRatingPublisher(
        Settings.model_validate({"STREAMS_CONNECTION": kafka_bootstrap, "RATINGS_TOPIC": topic})
    )
    sent = [rating_event("flight-of-the-gopher", v) for v in (1, 5, 3)]
    # When three events are published (each waits for its acknowledgement)
    for event in sent:
        publisher.publish(event)
    publisher.close()
    # Then a plain consumer reads them back, keyed by talk id, in the one wire format
    received = consume_all(kafka_bootstrap, topic, 3)
    assert {k for k, _ in received} == {b"flight-of-the-gopher"}
    assert [RatingSubmitted.from_json(v) for _, v in received] == sent  # one partition: in order
    assert count_records(kafka_bootstrap, topic) == 3


def test_an_unreachable_broker_fails_within_the_time_budget() -> None:
    publisher = KafkaRatingPublisher(
        Settings.model_validate({"STREAMS_CONNECTION": "127.0.0.1:1", "PUBLISH_TIMEOUT_SECONDS": 1})
    )
    started = time.monotonic()
    with pytest.raises(BackendUnavailable):
        publisher.publish(rating_event("t", 3))
    assert time.monotonic() - started < 5
    assert not publisher.ping()


def test_a_rating_no_broker_was_reached_for_is_not_said_unconfirmed() -> None:
    # (nothing was handed to a broker: the API may say "not stored" if the outbox fails too)
    publisher = KafkaRatingPublisher(
        Settings.model_validate({"STREAMS_CONNECTION": "127.0.0.1:1", "PUBLISH_TIMEOUT_SECONDS": 1})
    )
    with pytest.raises(BackendUnavailable) as refused:
        publisher.publish(rating_event("t", 3))
    assert not isinstance(refused.value, PublishUnconfirmed)


def test_a_rating_sent_to_a_broker_that_hangs_is_said_unconfirmed_and_was_taken_after_all() -> None:
    # Given a publisher that has published to a broker
    from talkrate_local.broker import LocalBroker

    broker = LocalBroker()
    broker.start()
    try:
        settings = {"STREAMS_CONNECTION": broker.bootstrap, "PUBLISH_TIMEOUT_SECONDS": 1}
        publisher = KafkaRatingPublisher(Settings.model_validate(settings))
        first = rating_event("t", 3)
        publisher.publish(first)
        process = broker._process
        assert process is not None
        # When the broker stops answering (held still) while a rating is sent to it
        process.send_signal(signal.SIGSTOP)
        assert held_still(process.pid), broker.log_tail()
        sent = rating_event("t", 4)
        try:
            with pytest.raises(PublishUnconfirmed, match="did not acknowledge"):
                publisher.publish(sent)
        finally:
            process.send_signal(signal.SIGCONT)
        # Then it was said unconfirmed (not "not taken"), and rightly: the broker, answering
        # again, wrote it (the request was handed over before the budget ran out). The API once
        # answered such a rating "not stored, it was not counted" when its outbox failed too.
        deadline = time.monotonic() + 10
        while count_records(broker.bootstrap, "ratings") < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        records = consume_to_end(broker.bootstrap, "ratings")
        ids = [RatingSubmitted.from_json(record.value).event_id for record in records]
        assert ids == [first.event_id, sent.event_id]
        publisher.close()
    finally:
        broker.stop()


def test_a_broker_that_died_after_the_first_rating_is_reported_down() -> None:
    # Given a publisher that has published to a broker (so it knows the topic's partitions)
    from talkrate_local.broker import LocalBroker

    with LocalBroker() as broker:
        publisher = KafkaRatingPublisher(
            Settings.model_validate(
                {"STREAMS_CONNECTION": broker.bootstrap, "PUBLISH_TIMEOUT_SECONDS": 1}
            )
        )
        publisher.publish(rating_event("t", 3))
        assert publisher.ping()
        # When the broker process dies (SIGKILL)
        broker._process.kill()  # type: ignore[union-attr]
        broker._process.wait()  # type: ignore[union-attr]
        # Then the next ping (what GET / reports) says it is down, within its budget
        started = time.monotonic()
        assert not publisher.ping()
        assert time.monotonic() - started < 2
        publisher.close()


class Clock:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def held_still(pid: int, within: float = 5.0) -> bool:
    """Whether the process is stopped (state T in /proc), waited for up to `within` seconds."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "T":
            return True
        time.sleep(0.01)
    return False


def test_a_stream_that_failed_is_not_tried_again_until_its_pause_ends_then_is_used_again() -> None:
    # Given the API's publisher on a broker, with its pause on a clock the test moves
    from talkrate_local.broker import LocalBroker

    clock = Clock()
    broker = LocalBroker()
    broker.start()
    try:
        settings = {"STREAMS_CONNECTION": broker.bootstrap, "PUBLISH_TIMEOUT_SECONDS": 1}
        stream = KafkaRatingPublisher(Settings.model_validate(settings))
        publisher = PausingPublisher(stream, first=5, longest=60, clock=clock)
        publisher.publish(rating_event("t", 3))
        # When the broker stops answering (its process held still, as a broker that hangs):
        # the first rating tries it and fails within the budget
        process = broker._process
        assert process is not None
        assert process.poll() is None, broker.log_tail()
        process.send_signal(signal.SIGSTOP)
        assert held_still(process.pid), broker.log_tail()
        with pytest.raises(BackendUnavailable, match="did not acknowledge"):
            publisher.publish(rating_event("t", 4))
        # Then the next ones are refused at once, without trying (the API keeps them in the
        # outbox straight away), for the pause
        started = time.monotonic()
        for _ in range(20):
            with pytest.raises(BackendUnavailable, match="not tried again"):
                publisher.publish(rating_event("t", 4))
        assert time.monotonic() - started < 0.5  # twenty refusals, not twenty budgets of 1 s
        # And once the broker answers again and the pause has passed, the stream is used again
        process.send_signal(signal.SIGCONT)
        clock.now += 5.1
        publisher.publish(rating_event("t", 5))
        publisher.publish(rating_event("t", 2))  # no pause after a success
        values = [
            RatingSubmitted.from_json(v).value
            for _, v in consume_all(broker.bootstrap, "ratings", 4)
        ]
        # (the rating the broker never answered may have gone through on its return, too)
        assert values[0] == 3
        assert values.index(5) < values.index(2)
        stream.close()
    finally:
        broker.stop()


def test_each_failed_try_of_a_paused_stream_doubles_its_pause_up_to_the_longest() -> None:
    clock = Clock()
    settings = {"STREAMS_CONNECTION": "127.0.0.1:1", "PUBLISH_TIMEOUT_SECONDS": 1}
    stream = KafkaRatingPublisher(Settings.model_validate(settings))
    publisher = PausingPublisher(stream, first=5, longest=12, clock=clock)

    def tried() -> bool:
        with pytest.raises(BackendUnavailable) as refused:
            publisher.publish(rating_event("t", 3))
        return "not tried again" not in str(refused.value)

    assert tried()  # pause 5 s
    clock.now += 4.9
    assert not tried()
    clock.now += 0.2
    assert tried()  # failed again: 10 s
    clock.now += 9.9
    assert not tried()
    clock.now += 0.2
    assert tried()  # 20 s, held at the longest: 12 s
    clock.now += 11.9
    assert not tried()
    clock.now += 0.2
    assert tried()
    stream.close()


@pytest.fixture
def kept_while_down() -> Iterator[Callable[[int], list[str]]]:
    """Keep ratings in the outbox as the API does while the stream is down; their event ids.
    The outbox is RELAY_TALKS's, which no runtime's scheduled relay drains meanwhile; they
    leave it after the test."""
    from talkrate.adapters.postgres import PostgresDatabase, PostgresOutbox
    from talkrate.events import Rating
    from talkrate_local.database import prepare

    prepare(RELAY_TALKS)
    kept: list[str] = []

    def keep(count: int) -> list[str]:
        outbox = PostgresOutbox(PostgresDatabase(RELAY_TALKS))
        events = [Rating.of(rating_event("kept-while-down", v)) for v in range(1, count + 1)]
        for event in events:
            outbox.enqueue(event)
        kept.extend(str(event.event_id) for event in events)
        return kept[-count:]

    yield keep
    with psycopg2.connect(RELAY_TALKS) as connection, connection.cursor() as cursor:
        cursor.execute("DELETE FROM rating_outbox WHERE event_id::text = ANY(%s)", (kept,))
    connection.close()


def relay_run(publisher: KafkaRatingPublisher, **options: Any) -> Any:
    """One relay run over RELAY_TALKS's outbox."""
    from talkrate.adapters.postgres import PostgresDatabase, PostgresOutbox
    from talkrate.relay import relay_outbox

    return relay_outbox(PostgresOutbox(PostgresDatabase(RELAY_TALKS)), publisher, **options)


def test_the_relay_tries_a_stream_that_failed_again_and_publishes_once_it_is_back(
    kept_while_down: Callable[[int], list[str]],
) -> None:
    # Given ratings kept in the outbox, and a broker that does not answer (held still)
    from talkrate_local.broker import LocalBroker

    kept = kept_while_down(3)
    with LocalBroker() as broker:
        settings = {"STREAMS_CONNECTION": broker.bootstrap, "PUBLISH_TIMEOUT_SECONDS": 1}
        publisher = KafkaRatingPublisher(Settings.model_validate(settings))
        process = broker._process
        assert process is not None
        process.send_signal(signal.SIGSTOP)
        assert held_still(process.pid), broker.log_tail()
        # When a relay run starts while it is down, and the broker answers again 2.5 s later
        resumed = threading.Timer(2.5, process.send_signal, (signal.SIGCONT,))
        resumed.start()
        try:
            now = time.monotonic()
            result = relay_run(publisher, until=now + 30, retry_until=now + 30, pause=0.5)
        finally:
            resumed.join()
            publisher.close()
        # Then the same run published them once the broker was back, and nothing waits
        assert result.pending == 0, result
        records = consume_to_end(broker.bootstrap, "ratings")
        published = {str(RatingSubmitted.from_json(r.value).event_id) for r in records}
        assert set(kept) <= published


def test_a_relay_run_stops_trying_a_stream_that_stays_down_when_its_retry_time_is_up(
    kept_while_down: Callable[[int], list[str]],
) -> None:
    # Given ratings kept in the outbox and no broker at all
    kept = kept_while_down(2)
    settings = {"STREAMS_CONNECTION": "127.0.0.1:1", "PUBLISH_TIMEOUT_SECONDS": 1}
    publisher = KafkaRatingPublisher(Settings.model_validate(settings))
    pauses: list[float] = []

    def pause(seconds: float) -> None:
        pauses.append(seconds)
        time.sleep(seconds)

    # When a run may try it again for 4 s, every 0.5 s (a try takes up to its 1 s budget)
    now = time.monotonic()
    result = relay_run(publisher, until=now + 30, retry_until=now + 4, pause=0.5, sleep=pause)
    publisher.close()
    # Then it tried again, gave up by its retry time (a try begun before it may take its
    # budget), and the ratings wait for the next run
    assert pauses
    assert set(pauses) == {0.5}
    assert time.monotonic() - now < 4 + 1 + 3  # (a loaded machine's try may overrun its 1 s)
    assert result.published == 0
    assert result.pending >= len(kept)


def test_a_relay_run_without_retry_time_stops_at_the_first_failure(
    kept_while_down: Callable[[int], list[str]],
) -> None:
    # Given ratings kept in the outbox and no broker (as `talkrate ops relay` runs it)
    kept_while_down(1)
    settings = {"STREAMS_CONNECTION": "127.0.0.1:1", "PUBLISH_TIMEOUT_SECONDS": 1}
    publisher = KafkaRatingPublisher(Settings.model_validate(settings))
    pauses: list[float] = []
    # When a run has time to drain but no time to retry
    result = relay_run(publisher, until=time.monotonic() + 30, sleep=pauses.append)
    publisher.close()
    # Then it stopped at the failure, without waiting, and says the stream failed
    assert pauses == []
    assert result.pending >= 1
    assert result.stream_failed


def test_a_relay_run_leaves_what_another_run_holds_to_it_and_says_so(
    kept_while_down: Callable[[int], list[str]], kafka_bootstrap: str, topic: str
) -> None:
    from talkrate.adapters.postgres import PostgresDatabase, PostgresOutbox

    # Given two ratings kept in the outbox, the newer held by another relay run's transaction
    older, newer = kept_while_down(2)
    settings = {"STREAMS_CONNECTION": kafka_bootstrap, "RATINGS_TOPIC": topic}
    publisher = KafkaRatingPublisher(Settings.model_validate(settings))
    other = psycopg2.connect(RELAY_TALKS)
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT id FROM rating_outbox WHERE event_id = %s FOR UPDATE", (newer,))
        # When a relay run that may try a failed stream again for 30 s runs meanwhile
        now = time.monotonic()
        result = relay_run(publisher, until=now + 30, retry_until=now + 30, pause=0.5)
        took = time.monotonic() - now
    finally:
        other.rollback()
        other.close()
        publisher.close()
    # Then it published the free one, and left the held one to the run that holds it at once
    # (it took a batch smaller than its limit for a failed stream and tried again until 30 s)
    database = PostgresDatabase(RELAY_TALKS)
    statuses = [PostgresOutbox(database).status(event_id) for event_id in (older, newer)]
    database.close()
    assert statuses == ["published", "queued"]
    assert took < 5, took
    # And it says that the entry still waiting is held by another run, not refused by the stream
    assert (result.pending, result.held_elsewhere, result.stream_failed) == (1, 1, False)
