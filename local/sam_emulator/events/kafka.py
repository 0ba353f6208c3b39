"""The Kafka event source: mappings run as Lambda runs them: poll as a consumer group, invoke the function
with the SelfManagedKafka (or MSK) event, commit only what succeeded, retry a failed batch.

At least once: a batch is committed after the function returned, never before; a failed batch
(function error, crash, timeout) is retried as the same batch, with backoff, until it succeeds,
the partitions move to another consumer, or the runtime stops. Nothing is ever skipped.
"""

from __future__ import annotations

import base64
import itertools
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Final

from kafka import KafkaConsumer
from kafka.admin import KafkaAdminClient
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import InvalidSessionTimeoutError, KafkaError, TopicAlreadyExistsError
from kafka.structs import OffsetAndMetadata, TopicPartition

from sam_emulator.background import BackgroundLoop
from sam_emulator.console import console
from sam_emulator.events import EventSource, Options
from sam_emulator.lambda_.pool import Invocation, Invoker
from sam_emulator.plugins import Services
from sam_emulator.template import KafkaMapping, Template
from sam_emulator.template.intrinsics import ACCOUNT_ID, REGION

# Lambda's synchronous payload limit: a batch stops growing before it would pass it.
MAX_BATCH_PAYLOAD_BYTES: Final = 6 * 1024 * 1024 - 64 * 1024
_IDLE_POLL_MS: Final = 10
_EMPTY_POLL_MS: Final = 500
_CLOSE_TIMEOUT_MS: Final = 2_000
_BOOTSTRAP_TIMEOUT_MS: Final = 5_000

Batch = dict[TopicPartition, list[ConsumerRecord]]


@dataclass(frozen=True)
class ConsumerTuning:
    """Group timings and retry backoff. Small values make group joins quick (tansu waits for the
    session/rebalance timeouts before it completes a join)."""

    max_poll_interval_ms: int = 10_000
    session_timeout_ms: int = 10_000
    heartbeat_interval_ms: int = 3_000
    retry_initial_seconds: float = 0.5
    retry_max_seconds: float = 10.0

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> ConsumerTuning:
        """SAM_EMULATOR_KAFKA_MAX_POLL_MS, _SESSION_MS (default: the same, at most 10 s) and
        _RETRY_MAX_S override the defaults."""
        max_poll = int(environ.get("SAM_EMULATOR_KAFKA_MAX_POLL_MS", cls.max_poll_interval_ms))
        session = int(environ.get("SAM_EMULATOR_KAFKA_SESSION_MS", min(10_000, max_poll)))
        return cls(
            max_poll_interval_ms=max_poll,
            session_timeout_ms=session,
            heartbeat_interval_ms=max(100, session // 3),
            retry_max_seconds=float(
                environ.get("SAM_EMULATOR_KAFKA_RETRY_MAX_S", cls.retry_max_seconds)
            ),
        )


def ensure_topics(
    bootstrap: str,
    topics: Iterable[str],
    partitions: int = 3,
    timeout_ms: int = 10_000,
    **client_options: Any,
) -> list[str]:
    """Create the topics that do not exist yet; returns the ones it created.

    A topic created meanwhile by someone else is fine (TopicAlreadyExists is not an error).
    """
    admin = KafkaAdminClient(
        bootstrap_servers=bootstrap,
        client_id="sam-emulator-admin",
        request_timeout_ms=timeout_ms,
        bootstrap_timeout_ms=timeout_ms,
        **client_options,
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
    item["headers"] = [{name: list(value or b"")} for name, value in record.headers or []]
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
    ) -> None:
        self.mapping = mapping
        self.bootstrap = bootstrap
        self._invoke = invoke
        self._tuning = tuning or ConsumerTuning()
        # Security settings only: where to connect and who we are come from the mapping.
        self._client_config = {
            key: value
            for key, value in (client_config or {}).items()
            if key not in ("bootstrap_servers", "client_id")
        }
        self._label = f"[kafka {mapping.function_id}]"
        super().__init__(f"kafka-{mapping.function_id}-{mapping.name}")
        # The invocation runs beside the consumer thread, which keeps polling (paused) meanwhile
        # so a slow function does not push the consumer out of its group.
        self._executor = ThreadPoolExecutor(1, thread_name_prefix=f"invoke-{mapping.function_id}")
        # Gaps in offsets already fetched twice: a gap seen again is the broker's, not ours.
        self._confirmed_gaps: set[tuple[TopicPartition, int]] = set()

    def prepare(self, timeout_ms: int = 10_000) -> None:
        """Create missing topics, and for LATEST pin the group's start to the current end offsets
        (a mapping's LATEST is "from when it was created", not "from when the group joined")."""
        ensure_topics(
            self.bootstrap, self.mapping.topics, timeout_ms=timeout_ms, **self._client_config
        )
        if self.mapping.starting_position == "latest":
            self._pin_latest(timeout_ms)

    def join(self, timeout: float | None = None) -> None:
        """Wait for the consumer to have left its group and closed."""
        super().join(timeout)
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _consumer(self, tuning: ConsumerTuning) -> KafkaConsumer:
        return KafkaConsumer(
            *self.mapping.topics,
            bootstrap_servers=self.bootstrap.split(","),
            group_id=self.mapping.consumer_group_id,
            client_id=f"sam-emulator-{self.mapping.function_id}",
            enable_auto_commit=False,
            auto_offset_reset=self.mapping.starting_position,
            max_poll_records=self.mapping.batch_size,
            max_poll_interval_ms=tuning.max_poll_interval_ms,
            session_timeout_ms=tuning.session_timeout_ms,
            heartbeat_interval_ms=tuning.heartbeat_interval_ms,
            bootstrap_timeout_ms=_BOOTSTRAP_TIMEOUT_MS,  # an unreachable broker: retry, log
            **self._client_config,
        )

    def _pin_latest(self, timeout_ms: int) -> None:
        consumer = KafkaConsumer(
            bootstrap_servers=self.bootstrap.split(","),
            group_id=self.mapping.consumer_group_id,
            client_id=f"sam-emulator-{self.mapping.function_id}-setup",
            enable_auto_commit=False,
            bootstrap_timeout_ms=timeout_ms,
            **self._client_config,
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
                consumer = self._consumer(tuning)
                self._consume(consumer)
            except InvalidSessionTimeoutError:
                # A real Kafka broker refuses sessions under group.min.session.timeout.ms (6 s).
                console(f"{self._label} broker refused a {tuning.session_timeout_ms} ms session")
                tuning = ConsumerTuning(
                    max(tuning.max_poll_interval_ms, 10_000),
                    10_000,
                    3_000,
                    tuning.retry_initial_seconds,
                    tuning.retry_max_seconds,
                )
            except Exception as error:  # broker gone, metadata errors...: reconnect with backoff
                console(f"{self._label} consumer error, reconnecting in {delay:g} s: {error!r}")
                self._stop.wait(delay)
                delay = min(delay * 2, tuning.retry_max_seconds)
            else:
                delay = tuning.retry_initial_seconds
            finally:
                if consumer is not None:
                    try:
                        # Bounded: leaving a group whose join is still pending can wait for the
                        # whole rebalance timeout.
                        consumer.close(autocommit=False, timeout_ms=_CLOSE_TIMEOUT_MS)
                    except Exception as error:  # closing is best effort at shutdown
                        console(f"{self._label} close: {error!r}")

    def _consume(self, consumer: KafkaConsumer) -> None:
        while not self._stop.is_set():
            batch = self._collect(consumer)
            if batch:
                self._deliver(consumer, batch)

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
            if time.monotonic() >= deadline:
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
        try:
            while True:
                started = time.perf_counter()
                result = self._invoke_keeping_alive(consumer, event)
                elapsed = (time.perf_counter() - started) * 1000
                if result.ok:
                    committed = self._commit(consumer, following)
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
                if not self._wait_keeping_alive(consumer, delay):
                    console(f"{self._label} stopping: batch left uncommitted for redelivery")
                    return
                if not set(batch) & consumer.assignment():
                    console(f"{self._label} partitions moved to another consumer: batch left to it")
                    return
                delay = min(delay * 2, self._tuning.retry_max_seconds)
                attempt += 1
        finally:
            consumer.resume(*consumer.paused())

    def _invoke_keeping_alive(self, consumer: KafkaConsumer, event: dict[str, Any]) -> Invocation:
        future: Future[Invocation] = self._executor.submit(
            self._invoke, self.mapping.function_id, event
        )
        while True:
            try:
                return future.result(timeout=self._keep_alive_seconds)
            except TimeoutError:
                self._idle_poll(consumer, _IDLE_POLL_MS)

    def _wait_keeping_alive(self, consumer: KafkaConsumer, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return True
            if self._stop.wait(min(self._keep_alive_seconds, remaining)):
                return False
            self._idle_poll(consumer, _IDLE_POLL_MS)

    @property
    def _keep_alive_seconds(self) -> float:
        # Poll well within max_poll_interval (and the session, should heartbeats need polls).
        tuning = self._tuning
        return min(1.0, tuning.session_timeout_ms / 3000, tuning.max_poll_interval_ms / 3000)

    @staticmethod
    def _idle_poll(consumer: KafkaConsumer, timeout_ms: int) -> None:
        """Poll with every partition paused: heartbeats and rebalances go on, records do not.
        Partitions are paused only here, when an invocation or a retry wait runs long: pausing
        on every batch made the client drop and refetch buffered records all the time. A
        partition newly assigned by a rebalance is not paused yet: rewind it and pause it."""
        consumer.pause(*consumer.assignment())
        for tp, records in consumer.poll(timeout_ms=timeout_ms).items():
            if records:
                consumer.seek(tp, records[0].offset)
            consumer.pause(tp)

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
        except KafkaError as error:  # a rebalance in between: the new owner redelivers
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

    def start(self, services: Services) -> None:
        """Create missing topics, pin LATEST starts, and start a consumer per mapping."""
        self._bootstrap = services.kafka_bootstrap
        if not self._bootstrap:
            return  # said in the summary
        for mapping in self._mappings:
            runner = KafkaMappingRunner(
                mapping, self._bootstrap, self._invoke, self._tuning, services.kafka_options
            )
            try:
                runner.prepare(timeout_ms=5_000)
            except Exception as error:  # the consumer keeps retrying: report, do not stop
                console(f"[kafka {mapping.function_id}] topics not ready yet: {error!r}")
            self._runners.append(runner)
            runner.start()

    def stop(self) -> None:
        """Poll no more (a batch being delivered finishes or stays uncommitted)."""
        for runner in self._runners:
            runner.request_stop()

    def join(self, timeout: float) -> None:
        """Wait for the consumers to leave their groups."""
        for runner in self._runners:
            runner.join(timeout)

    def summary(self) -> list[str]:
        """One line per mapping."""
        missing = "" if self._bootstrap else "  (not run: no Kafka broker configured)"
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
