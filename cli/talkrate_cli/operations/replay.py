"""Replaying records the projector never applied: after Lambda gave up on a batch.

With an on-failure destination, Lambda retries a failing batch at most 10 times, reports it to
the destination (ProjectorFailures) and moves on; later batches then move the read model's
offsets past it. When the event store was reachable the batch's events are in it already and a
rebuild brings them back; when it was not (PostgreSQL itself was down), they are only in Kafka.
A replay reads them again (from Kafka, or from the report when it carries the records), records
them in the event store (idempotent: what is stored already is recognised), then rebuilds the
read model from the store. Replaying twice, or replaying records that were applied, changes
nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol

from talkrate.errors import BackendUnavailable, TalkrateError
from talkrate.ports import EventStore, RebuildSource, RebuildTarget
from talkrate.projected import ProjectionBatch
from talkrate.projection import (
    StreamRecord,
    classify,
    records_from_event,
    stored_by_an_earlier_try,
)
from talkrate.rebuild import (
    EventStoreBehind,
    OffsetRange,
    RebuildInProgress,
    rebuild_read_model,
)
from talkrate_cli.output import counted

QUIET_SECONDS = 5.0
BOOTSTRAP_TIMEOUT_MS = 5000


class NeverWritten(TalkrateError):
    """A range Kafka never held: its partition does not exist, or ends before the range does
    (a report of another broker or topic, or offsets mistyped)."""


@dataclass(frozen=True)
class Failure:
    """What an on-failure report says of the batch Lambda gave up on."""

    ranges: list[OffsetRange]
    records: list[StreamRecord]  # the batch itself, when the report carries it


def read_failure(report: Mapping[str, Any]) -> Failure:
    """The ranges and records of an on-failure report (the body of a ProjectorFailures message).

    Reports carry `KafkaBatchInfo`, with `recordsInfo` ("topic-partition" -> first and last record
    offsets) to read from Kafka, or with the batch itself as `payload` (then that is replayed).
    """
    info = report.get("KafkaBatchInfo") if isinstance(report, Mapping) else None
    if not isinstance(info, Mapping):
        raise ValueError("not a Kafka on-failure report: it has no KafkaBatchInfo")
    payload = report.get("payload")
    try:
        records = records_from_event(payload) if isinstance(payload, Mapping) else []
    except (AttributeError, KeyError, TypeError, ValueError):
        raise ValueError(
            "not a Kafka on-failure report: its payload is not a Kafka event (records: "
            '{"<topic>-<partition>": [{"offset", "value", …}]})'
        ) from None
    spans = info.get("recordsInfo") or {}
    if not isinstance(spans, Mapping):
        raise ValueError("not a Kafka on-failure report: its recordsInfo is not an object")
    ranges = []
    for position, span in spans.items():
        try:
            first, last = int(span["firstRecordOffset"]), int(span["lastRecordOffset"])
        except KeyError as missing:
            raise ValueError(
                f"not a Kafka on-failure report: recordsInfo {position!r} has no {missing}"
            ) from None
        except (TypeError, ValueError):
            raise ValueError(
                f"not a Kafka on-failure report: recordsInfo {position!r} holds no offsets"
            ) from None
        ranges.append(OffsetRange(*_topic_partition(position), first, last))
    for span in ranges:
        if span.first < 0 or span.last < span.first:
            raise ValueError(f"not a range of offsets: {span}")
    if records:  # what is replayed is what the report carries
        ranges = _ranges_of(records)
    if not ranges:
        raise ValueError("the report names no offsets and carries no records")
    return Failure(ranges, records)


def read_from_kafka(
    consumer_options: Mapping[str, Any], ranges: Iterable[OffsetRange], timeout: float = 30.0
) -> list[StreamRecord]:
    """The records of each range, read from Kafka with a consumer outside any group.

    A range of a partition the topic does not have is NeverWritten; one Kafka no longer holds
    whole (deleted by retention), or that nothing comes of for QUIET_SECONDS (not written yet),
    is an error naming it: never a silent partial replay.
    """
    spans = list(ranges)

    def read(consumer: Any) -> list[StreamRecord]:
        _require_partitions(consumer, spans)
        return _read_ranges(consumer, spans, timeout)

    records: list[StreamRecord] = _with_consumer(consumer_options, read)
    return records


def require_held(
    consumer_options: Mapping[str, Any], ranges: Iterable[OffsetRange], records: list[StreamRecord]
) -> None:
    """NeverWritten unless the records a report carries are the records Kafka holds at their
    positions (those it still holds: retention may have deleted older ones).

    A report that carries its records is replayed from them, and their positions become the read
    model's applied offsets: records of another broker or topic would make the projector skip as
    many real records of the partition they name.
    """
    _with_consumer(
        consumer_options, lambda consumer: _require_held(consumer, list(ranges), records)
    )


def _with_consumer(consumer_options: Mapping[str, Any], work: Callable[[Any], Any]) -> Any:
    from kafka import KafkaConsumer
    from kafka.errors import KafkaError

    from talkrate.adapters.kafka_stream import built_client
    from talkrate.locations import kafka_located, kafka_location

    # Named as GET / names it: the client's own words quote the entries as written, a user and
    # password in one included.
    bootstrap = ",".join(consumer_options.get("bootstrap_servers", []))
    where = kafka_location(bootstrap)
    # A broker that does not answer is said within seconds, not after kafka-python's 30 s.
    consumer = built_client(
        lambda: KafkaConsumer(
            enable_auto_commit=False,
            group_id=None,
            bootstrap_timeout_ms=BOOTSTRAP_TIMEOUT_MS,
            **consumer_options,
        ),
        bootstrap,
    )
    try:
        return work(consumer)
    except KafkaError as error:
        said = kafka_located(str(error), bootstrap)
        raise BackendUnavailable(f"Kafka at {where} stopped answering: {said}") from None
    finally:
        consumer.close()


def _require_partitions(consumer: Any, ranges: list[OffsetRange]) -> None:
    for span in ranges:
        if span.partition not in (consumer.partitions_for_topic(span.topic) or set()):
            raise NeverWritten(
                f"Kafka has no partition {span.topic}-{span.partition}: {span} was never "
                "written there (a report of another broker or topic?); nothing replayed"
            )


def _require_held(consumer: Any, ranges: list[OffsetRange], records: list[StreamRecord]) -> None:
    from kafka import TopicPartition

    _require_partitions(consumer, ranges)
    carried = {(r.topic, r.partition, r.offset): r.value for r in records}
    for span in ranges:
        partition = TopicPartition(span.topic, span.partition)
        held_from = consumer.beginning_offsets([partition])[partition]
        if span.last < held_from:
            continue  # deleted by retention: older than anything the read model applies now
        try:
            held = _read_ranges(
                consumer,
                [OffsetRange(span.topic, span.partition, max(span.first, held_from), span.last)],
                QUIET_SECONDS,
            )
        except BackendUnavailable:
            raise NeverWritten(
                f"Kafka's {span.topic}-{span.partition} has no record at some offsets of {span}: "
                "they were never written there (a report of another broker or topic?); nothing "
                "replayed"
            ) from None
        for record in held:
            at = (record.topic, record.partition, record.offset)
            if at in carried and carried[at] != record.value:
                raise NeverWritten(
                    f"the report's record at {span.topic}-{span.partition}@{record.offset} is "
                    "not the one Kafka holds there (a report of another broker or topic?); "
                    "nothing replayed"
                )


def _read_ranges(
    consumer: Any, ranges: Iterable[OffsetRange], timeout: float
) -> list[StreamRecord]:
    from kafka import TopicPartition

    records: list[StreamRecord] = []
    for span in ranges:
        partition = TopicPartition(span.topic, span.partition)
        held_from = consumer.beginning_offsets([partition])[partition]
        if span.first < held_from:
            raise BackendUnavailable(
                f"Kafka no longer holds {span.topic}-{span.partition} before offset "
                f"{held_from} (retention), so not all of {span}"
            )
        consumer.assign([partition])
        consumer.seek(partition, span.first)
        deadline, quiet_since = time.monotonic() + timeout, time.monotonic()
        while consumer.position(partition) <= span.last:
            polled = consumer.poll(timeout_ms=500, max_records=500).get(partition, [])
            now = time.monotonic()
            if polled:
                quiet_since = now
            elif now - quiet_since > QUIET_SECONDS or now > deadline:
                raise BackendUnavailable(
                    f"Kafka returned nothing past {span.topic}-{span.partition}@"
                    f"{consumer.position(partition) - 1}, so not all of {span}"
                )
            records.extend(
                StreamRecord(m.topic, m.partition, m.offset, m.key, m.value)
                for m in polled
                if span.first <= m.offset <= span.last
            )
    return records


@dataclass(frozen=True)
class ReplayResult:
    """What a replay did."""

    records: int
    dead_letters: int
    duplicates: int  # events first stored at another position (of those already stored)
    histograms: int  # after the rebuild
    events: int  # in the event store, after the replay
    new: int = 0  # events the event store did not hold before the replay
    stored: int = 0  # events it held already (`duplicates` of them at another position)
    new_dead_letters: int = 0  # dead letters it did not hold before

    def said(self) -> str:
        """What the replay stored, for a person: what it brought back, what was there already."""
        line = (
            f"recorded {counted(self.new + self.stored, 'event')}: {self.new} new, {self.stored} "
            f"already stored ({self.duplicates} of them at another position)"
        )
        letters = counted(self.dead_letters, "dead letter")
        if self.dead_letters:
            return f"{line}; {letters} ({self.new_dead_letters} new)"
        return f"{line}; {letters}"

    def document(self) -> dict[str, int]:
        """What the replay stored, as --json has it."""
        return {
            "new": self.new,
            "alreadyStored": self.stored,
            "storedElsewhere": self.duplicates,
            "deadLetters": self.dead_letters,
            "newDeadLetters": self.new_dead_letters,
        }


class ReplayStore(EventStore, RebuildSource, Protocol):
    """The event store: it records the records, says which it held already, and is the
    rebuild's source."""

    def already_stored(self, batch: ProjectionBatch) -> tuple[set[str], set[tuple[str, int, int]]]:
        """Of the batch, the eventIds stored (at any position) and the dead letters' positions
        stored."""
        ...


class StoredNotRebuilt(TalkrateError):
    """The replay stored its records and could not rebuild the read model; `result` says what
    it stored."""

    def __init__(self, message: str, result: ReplayResult) -> None:
        super().__init__(message)
        self.result = result


def replay(
    records: list[StreamRecord],
    event_store: ReplayStore,
    read_model: RebuildTarget,
    progress: Callable[[str], None] = print,
    *,
    topic: str | None = None,
    ranges: Iterable[OffsetRange] = (),
) -> ReplayResult:
    """Record the records in the event store, then rebuild the read model from it.

    With `topic` (the ratings topic), the rebuild is refused while the event store is behind
    the read model on one of its partitions (rebuild_read_model), once `ranges` (what was read)
    are counted as stored: StoredNotRebuilt, the records stored and counted by the rebuild that
    follows the replay of what is still missing."""
    # (a record the projector stored as a rating, on a clock that read later, stays one)
    batch = stored_by_an_earlier_try(records, classify(records), event_store)
    # Asked first, so that the operator learns whether the replay brought anything back (a
    # batch the projector is retrying meanwhile may store some of them: theirs then).
    events, letters = event_store.already_stored(batch)
    recorded: ProjectionBatch = event_store.record(batch)
    new = sum(
        1 for r in recorded.ratings if not r.duplicate and str(r.event.event_id) not in events
    )
    result = ReplayResult(
        records=len(records),
        dead_letters=len(recorded.dead_letters),
        duplicates=sum(1 for r in recorded.ratings if r.duplicate),
        histograms=0,
        events=0,
        new=new,
        stored=len(recorded.ratings) - new,
        new_dead_letters=sum(
            1 for d in recorded.dead_letters if (d.topic, d.partition, d.offset) not in letters
        ),
    )
    progress(result.said())
    try:
        state = rebuild_read_model(
            event_store, read_model, progress, topic=topic, replayed=list(ranges)
        )
    except RebuildInProgress as error:
        # The rebuild that holds the lock may have read the event store before these records
        # were stored: they count only after one that begins later.
        raise RebuildInProgress(
            f"{error}: the records are stored, and count once a rebuild begins after them; "
            "run this replay again when it is done (it stores nothing twice)"
        ) from None
    except EventStoreBehind as behind:
        raise StoredNotRebuilt(
            f"the records are stored; nothing replaced: {behind}, so they are not counted yet. "
            "A rebuild now would take out of the counts any rating that those offsets alone "
            "hold: replay those offsets too ("
            + "; ".join(f"`{span.replay_command}`" for span in behind.missing)
            + "): the last replay rebuilds, and these records count with the rest",
            result,
        ) from None
    return replace(result, histograms=len(state.histograms), events=state.events)


def _topic_partition(position: str) -> tuple[str, int]:
    topic, _, partition = position.rpartition("-")
    if not topic or not partition.isdigit():
        raise ValueError(f"not a topic-partition: {position!r}")
    return topic, int(partition)


def _ranges_of(records: list[StreamRecord]) -> list[OffsetRange]:
    spans: dict[tuple[str, int], list[int]] = {}
    for r in records:
        spans.setdefault((r.topic, r.partition), []).append(r.offset)
    return [OffsetRange(t, p, min(o), max(o)) for (t, p), o in spans.items()]
