"""The Kafka event source: mappings run as Lambda runs them: read the topics, invoke the function
with the SelfManagedKafka (or MSK) event, commit only what succeeded, retry a failed batch.

At least once: a batch is committed after the function returned, never before; a failed batch
(function error, crash, timeout) is retried as the same batch, with backoff, until it succeeds or
the emulator stops. Nothing is ever skipped. A partition found ending below the mapping's
position (its topic deleted and created again) is read again from the mapping's
StartingPosition, as a Kafka consumer resets an offset out of range. A partition its topic gains
while the mapping runs (`kafka-topics --alter --partitions`, or the topic created again with
more) is read too, found within `ConsumerTuning.partition_check_seconds`, as Lambda's consumer
finds it: from the group's committed offset there, else from the StartingPosition.

Locally one consumer serves each mapping, so it takes every partition of its topics itself
(assigned, not through a group join) and commits its offsets under the mapping's consumer group:
no join to wait for at start, and no member left by a killed run to wait out. When the emulator
stops, each mapping first delivers what is already on its topics (a bounded drain).
"""

from __future__ import annotations

import base64
import itertools
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from kafka import KafkaConsumer
from kafka.admin import KafkaAdminClient
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import KafkaError, TopicAlreadyExistsError
from kafka.net.compat import KafkaNetClient
from kafka.structs import OffsetAndMetadata, TopicPartition

from sam_emulator.background import BackgroundLoop
from sam_emulator.console import console
from sam_emulator.events import EventSource, Options
from sam_emulator.lambda_.pool import Invoker
from sam_emulator.plugins import BrokerGenerations, Services
from sam_emulator.template import KafkaMapping, Template
from sam_emulator.template.intrinsics import ACCOUNT_ID, REGION

# Lambda's synchronous payload limit: a batch stops growing before it would pass it.
MAX_BATCH_PAYLOAD_BYTES: Final = 6 * 1024 * 1024 - 64 * 1024
_IDLE_POLL_MS: Final = 10
_EMPTY_POLL_MS: Final = 500
_CLOSE_TIMEOUT_MS: Final = 2_000
# How long a partition read again waits for its new position (to say it), at most.
_RESET_TIMEOUT_MS: Final = 1_000
# Counting what a group has left: read until the broker is quiet this long, or this many records.
_FETCH_QUIET_SECONDS: Final = 1.0
_FETCH_COUNT_BOUND: Final = 1_000_000
_BOOTSTRAP_TIMEOUT_MS: Final = 5_000
# How long stopping waits for the mappings to deliver what is already on their topics.
DRAIN_SECONDS: Final = 5.0

Batch = dict[TopicPartition, list[ConsumerRecord]]
Client = TypeVar("Client", KafkaAdminClient, KafkaConsumer)


@dataclass(frozen=True)
class ConsumerTuning:
    """How a failed batch is retried (after retry_initial_seconds, doubling up to the maximum),
    how often a mapping asks the broker whether its topics have new partitions, and how long
    its consumer waits for a broker to answer before it says so and tries again."""

    retry_initial_seconds: float = 0.5
    retry_max_seconds: float = 10.0
    partition_check_seconds: float = 5.0
    connect_timeout_seconds: float = _BOOTSTRAP_TIMEOUT_MS / 1000

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> ConsumerTuning:
        """SAM_EMULATOR_KAFKA_RETRY_MAX_S overrides the longest wait between retries."""
        return cls(
            retry_max_seconds=float(
                environ.get("SAM_EMULATOR_KAFKA_RETRY_MAX_S", cls.retry_max_seconds)
            ),
        )


def client_settings(bootstrap: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """Where a Kafka client of the emulator connects, and how (kafka-python settings): the dev
    stack's `options` (`Services.kafka_options`: its `bootstrap_servers`, read from its setting
    as its functions read it, and its security settings), else `bootstrap`'s entries, split at
    its commas. Never the options' `client_id`: each client names itself."""
    settings = {"bootstrap_servers": bootstrap.split(","), **options}
    settings.pop("client_id", None)
    return settings


def connected(kind: Callable[..., Client], **settings: Any) -> Client:
    """A kafka-python client (`kind(**settings)`), or the error that building it raised with
    nothing of it left running.

    kafka-python 3.0.12's admin client and consumer start their network thread before they
    bootstrap, and a bootstrap that times out raises with that thread, its selector and its
    sockets still open: a broker away while the emulator keeps trying would leak a thread and
    a few files at each try. So the network client the constructor builds is kept, and closed
    (its thread stopped) when the constructor raises."""
    made: list[KafkaNetClient] = []

    def network_client(**configs: Any) -> KafkaNetClient:
        made.append(KafkaNetClient(**configs))
        return made[-1]

    try:
        return kind(**settings, kafka_client=network_client)
    except BaseException:
        for client in made:
            try:
                client.close()
            except Exception as error:  # best effort: the constructor's error is the one to say
                console(f"[kafka] closing a client that could not connect: {error!r}")
        raise


def ensure_topics(
    bootstrap: str,
    topics: Iterable[str],
    partitions: int = 3,
    timeout_ms: int = 10_000,
    **client_options: Any,
) -> list[str]:
    """Create the topics that do not exist yet; returns the ones it created. `client_options`
    may name the servers (`client_settings`).

    A topic created meanwhile by someone else is fine (TopicAlreadyExists is not an error).
    """
    admin = connected(
        KafkaAdminClient,
        **client_settings(bootstrap, client_options),
        client_id="sam-emulator-admin",
        request_timeout_ms=timeout_ms,
        bootstrap_timeout_ms=timeout_ms,
    )
    created: list[str] = []
    try:
        existing = set(admin.list_topics())
        for topic in dict.fromkeys(topics):
            if topic in existing:
                continue
            try:
                admin.create_topics(
                    {topic: {"num_partitions": partitions, "replication_factor": 1}},
                    timeout_ms=timeout_ms,
                )
            except TopicAlreadyExistsError:
                continue
            created.append(topic)
    finally:
        admin.close()
    return created


def unconsumed(
    bootstrap: str,
    group: str,
    topics: Iterable[str],
    within: float | None = None,
    **client_options: Any,
) -> int:
    """How many records of the topics lie past the group's committed offsets (all of a
    partition's records when the group committed nothing there). `client_options` may name the
    servers (`client_settings`).

    With `within`, the answer comes in about that many seconds or a KafkaError says it could
    not be told in time (the broker's requests and the quiet spell are cut to fit)."""
    deadline = None if within is None else time.monotonic() + within
    budget_ms = _BOOTSTRAP_TIMEOUT_MS if within is None else max(100, int(within * 1000))
    consumer = connected(
        KafkaConsumer,
        **client_settings(bootstrap, client_options),
        group_id=group,
        client_id="sam-emulator-lag",
        enable_auto_commit=False,
        bootstrap_timeout_ms=min(_BOOTSTRAP_TIMEOUT_MS, budget_ms),
        # A request may take the whole budget; a fetch waits less, to see the quiet spell.
        **({} if within is None else {"request_timeout_ms": budget_ms + 200}),
        **({} if within is None else {"fetch_max_wait_ms": 100}),
    )
    try:
        partitions = [
            TopicPartition(topic, partition)
            for topic in topics
            for partition in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        if not partitions:
            return 0
        starts = consumer.beginning_offsets(partitions, timeout_ms=_left_ms(deadline))
        ends = consumer.end_offsets(partitions, timeout_ms=_left_ms(deadline))
        committed = {tp: consumer.committed(tp, timeout_ms=_left_ms(deadline)) for tp in partitions}
        first = {
            tp: committed[tp] if committed[tp] is not None else starts[tp] for tp in partitions
        }
        told: int = sum(max(0, ends[tp] - first[tp]) for tp in partitions)
        # What a fetch from there returns counts too: a broker may report less than it holds
        # (tansu answers a batch produced at once with its first offset + 1 as the end).
        return max(told, _fetchable(consumer, first, deadline))
    finally:
        close_ms = _CLOSE_TIMEOUT_MS if deadline is None else min(_CLOSE_TIMEOUT_MS, 200)
        consumer.close(autocommit=False, timeout_ms=close_ms)


def _left_ms(deadline: float | None) -> int | None:
    """Milliseconds to a deadline (at least 1), or None (the client's own timeout)."""
    return None if deadline is None else max(1, int((deadline - time.monotonic()) * 1000))


def _fetchable(
    consumer: KafkaConsumer, first: Mapping[TopicPartition, int], deadline: float | None = None
) -> int:
    """How many records the partitions hold from these offsets on, read until the broker has
    nothing more to give (a quiet spell, shortened to end by `deadline`) or a bound is
    reached; nothing is committed."""
    consumer.assign(list(first))
    for tp, offset in first.items():
        consumer.seek(tp, offset)
    count = 0

    def quiet_from_now() -> float:
        quiet = time.monotonic() + _FETCH_QUIET_SECONDS
        return quiet if deadline is None else min(quiet, max(deadline, time.monotonic() + 0.2))

    quiet_until = quiet_from_now()
    while time.monotonic() < quiet_until and count < _FETCH_COUNT_BOUND:
        fetched = consumer.poll(timeout_ms=200, max_records=10_000)
        got = sum(len(records) for records in fetched.values())
        if got:
            count += got
            if deadline is not None and time.monotonic() >= deadline:
                break  # out of time, and already known to hold records
            quiet_until = quiet_from_now()
    return count


def build_kafka_event(
    batch: Mapping[TopicPartition, Sequence[ConsumerRecord]],
    bootstrap: str,
    source: str = "SelfManagedKafka",
    event_source_arn: str | None = None,
) -> dict[str, Any]:
    """The event Lambda sends for a batch: records grouped by "topic-partition", bytes in base64."""
    event: dict[str, Any] = {}
    if source == "MSK":
        event["eventSource"] = "aws:kafka"
        event["eventSourceArn"] = (
            event_source_arn or f"arn:aws:kafka:{REGION}:{ACCOUNT_ID}:cluster/local/local"
        )
    else:
        event["eventSource"] = "SelfManagedKafka"
    event["bootstrapServers"] = bootstrap
    event["records"] = {
        f"{tp.topic}-{tp.partition}": [_record(record) for record in records]
        for tp, records in batch.items()
        if records
    }
    return event


def _record(record: ConsumerRecord) -> dict[str, Any]:
    item: dict[str, Any] = {
        "topic": record.topic,
        "partition": record.partition,
        "offset": record.offset,
        "timestamp": record.timestamp,
        "timestampType": "LOG_APPEND_TIME" if record.timestamp_type == 1 else "CREATE_TIME",
    }
    if record.key is not None:
        item["key"] = base64.b64encode(record.key).decode()
    if record.value is not None:
        item["value"] = base64.b64encode(record.value).decode()
    # Header bytes as Lambda writes them: Java's signed bytes (-128..127).
    item["headers"] = [
        {name: [b - 256 if b > 127 else b for b in value or b""]}
        for name, value in record.headers or []
    ]
    return item


def _record_size(record: ConsumerRecord) -> int:
    # Roughly its JSON size: base64 is 4/3, a header byte is up to 4 characters as a JSON int.
    key = len(record.key or b"") * 4 // 3
    value = len(record.value or b"") * 4 // 3
    headers = sum(len(name) + 4 * len(value or b"") for name, value in record.headers or [])
    return 200 + key + value + headers


def _describe(batch: Batch) -> str:
    return ", ".join(
        f"{tp.topic}-{tp.partition}@{records[0].offset}..{records[-1].offset}"
        for tp, records in batch.items()
    )


class KafkaMappingRunner(BackgroundLoop):
    """One event source mapping: a consumer thread in the mapping's group, invoking one function."""

    def __init__(
        self,
        mapping: KafkaMapping,
        bootstrap: str,
        invoke: Invoker,
        tuning: ConsumerTuning | None = None,
        client_config: Mapping[str, Any] | None = None,
        generations: BrokerGenerations | None = None,
    ) -> None:
        self.mapping = mapping
        self.bootstrap = bootstrap
        self._invoke = invoke
        self._tuning = tuning or ConsumerTuning()
        # The dev stack's: where to connect (as it reads its setting), and security settings.
        self._client_config = dict(client_config or {})
        self._label = f"[kafka {mapping.function_id}]"
        self._generations = generations or BrokerGenerations()
        self._reader = self._generations.reader()
        self._read_generation = self._generations.number  # the broker our positions are in
        super().__init__(f"kafka-{mapping.function_id}-{mapping.name}")
        # Gaps in offsets already fetched twice: a gap seen again is the broker's, not ours.
        self._confirmed_gaps: set[tuple[TopicPartition, int]] = set()
        self._draining = threading.Event()
        # Asks the broker for the topics' partitions (`_partitions_now`), beside the consumer.
        self._admin: KafkaAdminClient | None = None

    def prepare(self, timeout_ms: int = 10_000) -> None:
        """Create missing topics, and for LATEST pin the group's start to the current end offsets
        (a mapping's LATEST is "from when it was created", not "from when the group joined")."""
        ensure_topics(
            self.bootstrap, self.mapping.topics, timeout_ms=timeout_ms, **self._client_config
        )
        if self.mapping.starting_position == "latest":
            self._pin_latest(timeout_ms)

    def join(self, timeout: float | None = None) -> None:
        """Wait (at most `timeout` seconds in all) for a drain to end, then stop and close."""
        deadline = time.monotonic() + (_CLOSE_TIMEOUT_MS / 1000 + 1 if timeout is None else timeout)
        if self._draining.is_set() and self._thread.is_alive():
            self._thread.join(max(0.0, deadline - time.monotonic()))
        # A consumer still closing then is a daemon thread's: it holds nothing a stop needs.
        super().join(max(0.0, deadline - time.monotonic()))

    def drain(self) -> None:
        """Stop once every record already on the topics was delivered (non-blocking; `join`
        bounds the wait)."""
        self._draining.set()

    def _client_settings(self) -> dict[str, Any]:
        """Where a client of this mapping connects, and how (`client_settings`)."""
        return client_settings(self.bootstrap, self._client_config)

    def _consumer(self) -> KafkaConsumer:
        consumer = connected(
            KafkaConsumer,
            **self._client_settings(),
            group_id=self.mapping.consumer_group_id,
            client_id=f"sam-emulator-{self.mapping.function_id}",
            enable_auto_commit=False,
            auto_offset_reset=self.mapping.starting_position,
            max_poll_records=self.mapping.batch_size,
            # an unreachable broker: retry, log
            bootstrap_timeout_ms=int(self._tuning.connect_timeout_seconds * 1000),
        )
        try:
            partitions = [
                TopicPartition(topic, partition)
                for topic in self.mapping.topics
                for partition in sorted(consumer.partitions_for_topic(topic) or ())
            ]
            if not partitions:
                raise KafkaError(f"no partitions yet for {', '.join(self.mapping.topics)}")
            # Positions start at the group's committed offsets, else at the starting position.
            consumer.assign(partitions)
        except BaseException:
            consumer.close(autocommit=False, timeout_ms=_CLOSE_TIMEOUT_MS)
            raise
        return consumer

    def _pin_latest(self, timeout_ms: int) -> None:
        consumer = connected(
            KafkaConsumer,
            **self._client_settings(),
            group_id=self.mapping.consumer_group_id,
            client_id=f"sam-emulator-{self.mapping.function_id}-setup",
            enable_auto_commit=False,
            bootstrap_timeout_ms=timeout_ms,
        )
        try:
            partitions = [
                TopicPartition(topic, partition)
                for topic in self.mapping.topics
                for partition in sorted(consumer.partitions_for_topic(topic) or ())
            ]
            fresh = [tp for tp in partitions if consumer.committed(tp) is None]
            if not fresh:
                return
            consumer.assign(fresh)
            ends = consumer.end_offsets(fresh, timeout_ms=timeout_ms)
            consumer.commit({tp: OffsetAndMetadata(ends[tp], "", -1) for tp in fresh})
        except KafkaError as error:  # e.g. the group is active elsewhere: its offsets stand
            console(f"{self._label} could not pin LATEST offsets: {error!r}")
        finally:
            consumer.close(autocommit=False, timeout_ms=timeout_ms)

    def _run(self) -> None:
        tuning = self._tuning
        delay = tuning.retry_initial_seconds
        while not self._stop.is_set():
            consumer: KafkaConsumer | None = None
            try:
                self._settle()
                consumer = self._consumer()
                self._consume(consumer)
            except Exception as error:  # broker gone, metadata errors...: reconnect with backoff
                console(f"{self._label} consumer error, reconnecting in {delay:g} s: {error!r}")
                self._settle()  # nothing held: a replaced broker need not wait for us
                self._stop.wait(delay)
                delay = min(delay * 2, tuning.retry_max_seconds)
            else:
                delay = tuning.retry_initial_seconds
            finally:
                self._close_admin()
                if consumer is not None:
                    try:
                        consumer.close(autocommit=False, timeout_ms=_CLOSE_TIMEOUT_MS)
                    except Exception as error:  # closing is best effort at shutdown
                        console(f"{self._label} close: {error!r}")

    def _consume(self, consumer: KafkaConsumer) -> None:
        every = self._tuning.partition_check_seconds
        next_check = time.monotonic() + every
        while not self._stop.is_set():
            batch = self._collect(consumer)
            if batch:
                self._deliver(consumer, batch)
            if time.monotonic() >= next_check:
                self._read_new_partitions(consumer)
                next_check = time.monotonic() + every
            if not batch:
                self._restart_recreated(consumer)
                if self._draining.is_set() and self._caught_up(consumer):
                    self._stop.set()
            if self._replaced():
                # What was held is delivered (above), with what the consumer had fetched
                # already; the new broker's records start again at its beginning (or its
                # committed offsets): a new consumer finds them.
                self._deliver_fetched(consumer)
                self._settle()
                console(f"{self._label} the broker was replaced: reading its topics anew")
                return

    def _read_new_partitions(self, consumer: KafkaConsumer) -> None:
        """Take the partitions the topics gained since the consumer's assignment, and say so.

        Locally the consumer assigns itself its topics' partitions (no group join, whose
        rebalance would bring them), so a partition added later (`--alter --partitions`, the
        topic created again with more) was never read: its records were never delivered. The
        partitions already assigned keep their positions; a new one starts, as a group member's
        would, at the group's committed offset there, else at the mapping's StartingPosition.
        A partition gone from the metadata stays assigned: a topic being created again comes
        back, and its records are found from where the mapping was (`_restart_recreated`).
        """
        found = self._partitions_now()
        if found is None:
            return  # the broker did not answer: the next check asks again
        assigned = consumer.assignment()
        new = sorted(found - assigned)
        if not new:
            return
        consumer.assign(sorted(assigned | found))
        committed = {tp: consumer.committed(tp, timeout_ms=_RESET_TIMEOUT_MS) for tp in new}
        fresh = [tp for tp in new if committed[tp] is None]
        if self.mapping.starting_position == "earliest":
            whence = "their beginning (StartingPosition TRIM_HORIZON)"
        else:
            whence = "their end (StartingPosition LATEST)"
        said = [
            f"{tp.topic}-{tp.partition} from the group's committed offset {committed[tp]}"
            for tp in new
            if committed[tp] is not None
        ]
        if fresh:
            said.insert(
                0, f"{', '.join(f'{tp.topic}-{tp.partition}' for tp in fresh)} from {whence}"
            )
        topics = ", ".join(sorted({tp.topic for tp in new}))
        console(f"{self._label} new partition(s) of {topics}: reading {'; '.join(said)}")

    def _partitions_now(self) -> set[TopicPartition] | None:
        """The partitions the mapping's topics have now, or None when the broker does not
        answer within about a second.

        An admin client's, whose requests are bounded (the consumer's own metadata call waits
        for as long as the broker is away), for the metadata of all the broker's topics: tansu
        creates a topic that a metadata request names, whatever the request's
        allow_auto_topic_creation says, and a check naming the mapping's every few seconds
        would bring a topic an operator has just deleted back before their own create."""
        try:
            if self._admin is None:
                self._admin = connected(
                    KafkaAdminClient,
                    **self._client_settings(),
                    client_id=f"sam-emulator-{self.mapping.function_id}-partitions",
                    request_timeout_ms=_RESET_TIMEOUT_MS,
                    bootstrap_timeout_ms=_RESET_TIMEOUT_MS,
                )
            described = self._admin.describe_topics()
        except (KafkaError, OSError):
            self._close_admin()  # the next check starts afresh
            return None
        return {
            TopicPartition(topic["name"], partition["partition_index"])
            for topic in described
            if topic["name"] in self.mapping.topics and not topic["error_code"]
            for partition in topic["partitions"]
        }

    def _close_admin(self) -> None:
        admin, self._admin = self._admin, None
        if admin is not None:
            try:
                admin.close()
            except Exception as error:  # best effort, as the consumer's close
                console(f"{self._label} close: {error!r}")

    def _restart_recreated(self, consumer: KafkaConsumer) -> None:
        """Read each partition that now ends below our position again from the mapping's
        StartingPosition: its topic was deleted and created again.

        The new topic begins at offset 0, and the group's offsets went with the old one. Kafka
        answers a fetch past a partition's end with OFFSET_OUT_OF_RANGE, and the consumer then
        resets the partition to its starting position (the mapping's StartingPosition), so the
        mapping reads the new topic; tansu answers such a fetch with no records and no error,
        and the consumer waited past the new topic's end until a restart. The end is the one
        the broker gave in its last answer to a fetch at our position (ListOffsets tells it
        short of the records when they were produced together). As in Kafka's reset, the
        group's committed offset is not used: one there now is most likely a late commit of a
        batch of the old topic, past the new end as well.
        """
        for tp in sorted(consumer.assignment()):
            end = consumer.highwater(tp)
            if end is None:
                continue  # no fetch answered yet
            # Bounded: a reset asked before may wait for a topic deleted and not created yet.
            position = consumer.position(tp, timeout_ms=_RESET_TIMEOUT_MS)
            if position is None or position <= end:
                continue
            if self.mapping.starting_position == "earliest":
                consumer.seek_to_beginning(tp)
                whence = "its beginning (StartingPosition TRIM_HORIZON)"
            else:
                consumer.seek(tp, end)
                whence = "its end (StartingPosition LATEST)"
            start = consumer.position(tp, timeout_ms=_RESET_TIMEOUT_MS)
            console(
                f"{self._label} {tp.topic}-{tp.partition} ends at offset {end}, below this "
                f"mapping's position {position}: the topic was deleted and created again; "
                f"reading it from {whence}{'' if start is None else f', offset {start}'}"
            )

    def _settle(self) -> None:
        """Read from the current broker from now on, and say so."""
        if self._replaced():
            self._read_generation = self._generations.number
            self._generations.settled(self._reader, self._read_generation)

    def _deliver_fetched(self, consumer: KafkaConsumer) -> None:
        """Deliver the records the consumer fetched before its broker went away."""
        while not self._stop.is_set():
            polled = consumer.poll(timeout_ms=0, max_records=self.mapping.batch_size)
            batch = {tp: list(records) for tp, records in polled.items() if records}
            if not batch:
                return
            self._deliver(consumer, batch)

    def _replaced(self) -> bool:
        """Whether the dev stack replaced the broker since our positions were taken."""
        return self._generations.number != self._read_generation

    @staticmethod
    def _caught_up(consumer: KafkaConsumer) -> bool:
        """Whether every assigned partition was read to its end."""
        assigned = consumer.assignment()
        ends = consumer.end_offsets(list(assigned))
        return all(consumer.position(tp) >= ends[tp] for tp in assigned)

    def _collect(self, consumer: KafkaConsumer) -> Batch:
        """Up to BatchSize records, within the batching window that starts at the first record."""
        batch: Batch = {}
        count = size = 0
        deadline: float | None = None
        while not self._stop.is_set() and count < self.mapping.batch_size:
            wait_ms = (
                _EMPTY_POLL_MS
                if deadline is None
                else max(0, int((deadline - time.monotonic()) * 1000))
            )
            polled = consumer.poll(timeout_ms=wait_ms, max_records=self.mapping.batch_size - count)
            for tp, records in polled.items():
                for index, record in enumerate(records):
                    record_size = _record_size(record)
                    if count and size + record_size > MAX_BATCH_PAYLOAD_BYTES:
                        # Full: this record and the rest come again with the next batch.
                        self._rewind_rest(consumer, polled, tp, index)
                        return batch
                    batch.setdefault(tp, []).append(record)
                    count += 1
                    size += record_size
            if count and deadline is None:
                deadline = time.monotonic() + self.mapping.batching_window_seconds
            if deadline is None:
                return batch  # nothing yet: give the caller a chance to see a stop request
            if time.monotonic() >= deadline or self._replaced():
                break
        return self._without_unconfirmed_gaps(consumer, batch)

    def _without_unconfirmed_gaps(self, consumer: KafkaConsumer, batch: Batch) -> Batch:
        """Cut a partition's records at the first gap in their offsets and fetch again from it.

        A gap can be legitimate (compaction, transaction markers), but one was seen where the
        broker held the record (a consumer-side skip under load): delivering past it would make
        the projector's offset pass the missing record for good. A gap that a second fetch
        shows again is the broker's, and is delivered as is.
        """
        for tp, records in list(batch.items()):
            for before, after in itertools.pairwise(records):
                missing = before.offset + 1
                if after.offset == missing or (tp, missing) in self._confirmed_gaps:
                    continue
                console(
                    f"{self._label} {tp.topic}-{tp.partition}: no record at offset {missing} "
                    f"(next {after.offset}); fetching again from {missing}"
                )
                self._confirmed_gaps.add((tp, missing))
                batch[tp] = [r for r in records if r.offset < missing]
                consumer.seek(tp, missing)
                break
        return {tp: records for tp, records in batch.items() if records}

    @staticmethod
    def _rewind_rest(
        consumer: KafkaConsumer,
        polled: Mapping[TopicPartition, Sequence[ConsumerRecord]],
        cut_tp: TopicPartition,
        cut_index: int,
    ) -> None:
        seen_cut = False
        for tp, records in polled.items():
            if tp == cut_tp:
                seen_cut = True
                consumer.seek(tp, records[cut_index].offset)
            elif seen_cut and records:
                consumer.seek(tp, records[0].offset)

    def _deliver(self, consumer: KafkaConsumer, batch: Batch) -> None:
        event = build_kafka_event(
            batch, self.bootstrap, self.mapping.source, self.mapping.event_source_arn
        )
        first = {tp: records[0].offset for tp, records in batch.items()}
        following = {tp: records[-1].offset + 1 for tp, records in batch.items()}
        count = sum(len(records) for records in batch.values())
        described = f"{count} record(s) from {len(batch)} partition(s) ({_describe(batch)})"
        delay = self._tuning.retry_initial_seconds
        attempt = 1
        while True:
            started = time.perf_counter()
            result = self._invoke(self.mapping.function_id, event)
            elapsed = (time.perf_counter() - started) * 1000
            if result.ok:
                # A batch of a broker since replaced is not committed to the new one.
                committed = not self._replaced() and self._commit(consumer, following)
                console(
                    f"{self._label} batch {described} in {elapsed:.0f} ms: ok"
                    f"{'' if attempt == 1 else f' (attempt {attempt})'}"
                    f"{'' if committed else ', commit failed: will be redelivered'}"
                )
                return
            error = result.error or {}
            console(
                f"{self._label} batch {described} in {elapsed:.0f} ms: FAILED "
                f"{error.get('errorType')}: {error.get('errorMessage')}; "
                f"retrying the same batch in {delay:g} s (attempt {attempt + 1})"
            )
            # Back to the batch's start: if the retry is abandoned, nothing is skipped.
            self._seek(consumer, first)
            if self._stop.wait(delay):
                console(f"{self._label} stopping: batch left uncommitted for redelivery")
                return
            delay = min(delay * 2, self._tuning.retry_max_seconds)
            attempt += 1

    def _seek(self, consumer: KafkaConsumer, offsets: Mapping[TopicPartition, int]) -> None:
        assigned = consumer.assignment()
        for tp, offset in offsets.items():
            if tp in assigned:
                consumer.seek(tp, offset)

    def _commit(self, consumer: KafkaConsumer, offsets: Mapping[TopicPartition, int]) -> bool:
        assigned = consumer.assignment()
        owned = {tp: offset for tp, offset in offsets.items() if tp in assigned}
        self._seek(consumer, owned)  # the position may have been rewound by a failed attempt
        if not owned:
            return False
        try:
            consumer.commit({tp: OffsetAndMetadata(offset, "", -1) for tp, offset in owned.items()})
        except KafkaError as error:  # the batch comes again: the function sees it twice
            console(f"{self._label} commit failed: {error!r}")
            return False
        return len(owned) == len(offsets)


class KafkaMappings:
    """The template's Kafka event source mappings (an event source): a consumer each, on the
    broker the dev stack names (`Services.kafka_bootstrap`)."""

    def __init__(
        self, mappings: Sequence[KafkaMapping], invoke: Invoker, tuning: ConsumerTuning
    ) -> None:
        self._mappings = tuple(mappings)
        self._invoke = invoke
        self._tuning = tuning
        self._runners: list[KafkaMappingRunner] = []
        self._bootstrap = ""
        self._unusable = ""

    def start(self, services: Services) -> None:
        """Create missing topics, pin LATEST starts, and start a consumer per mapping."""
        self._bootstrap = services.kafka_bootstrap
        self._unusable = services.kafka_unusable
        if not self._bootstrap or self._unusable:
            return  # said in the summary
        for mapping in self._mappings:
            runner = KafkaMappingRunner(
                mapping,
                self._bootstrap,
                self._invoke,
                self._tuning,
                services.kafka_options,
                services.kafka_generations,
            )
            try:
                runner.prepare(timeout_ms=5_000)
            except Exception as error:  # the consumer keeps retrying: report, do not stop
                console(f"[kafka {mapping.function_id}] topics not ready yet: {error!r}")
            self._runners.append(runner)
            runner.start()

    def stop(self) -> None:
        """Deliver what is already on the topics, then stop (see `join`)."""
        for runner in self._runners:
            runner.drain()

    def join(self, timeout: float) -> None:
        """Wait at most `timeout` seconds for the drains; what is left stays uncommitted."""
        deadline = time.monotonic() + min(timeout, DRAIN_SECONDS)
        for runner in self._runners:
            runner.join(max(0.0, deadline - time.monotonic()))

    def summary(self) -> list[str]:
        """One line per mapping."""
        missing = (
            f"  (not run: {self._unusable})"
            if self._unusable
            else ""
            if self._bootstrap
            else "  (not run: no Kafka broker configured)"
        )
        return [
            f"kafka     {','.join(mapping.topics):<28} -> {mapping.function_id} "
            f"({mapping.source}, group {mapping.consumer_group_id}, batch {mapping.batch_size}, "
            f"window {mapping.batching_window_seconds:g}s, from {mapping.starting_position})"
            f"{missing}"
            for mapping in self._mappings
        ]


def bind(template: Template, options: Options, invoke: Invoker) -> Sequence[EventSource]:
    """The Kafka mappings, when the template has any."""
    if not template.kafka_mappings:
        return []
    tuning = ConsumerTuning.from_environ(options.environ)
    return [KafkaMappings(template.kafka_mappings, invoke, tuning)]
