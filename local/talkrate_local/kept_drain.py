"""A start on another kind of broker stores what the kept in-memory broker still holds, then
stops it.

The default broker (`KeptBroker`) outlives a killed runtime, or a second Ctrl-C, with the ratings
the projector had not stored yet; a default start takes it over. A start with `--broker s3`,
`--broker memory` or `STREAMS_CONNECTION` does not: without this, its ratings were never counted,
and a later default start that took it over skipped them as applied (the other broker's offsets
were in the read model by then). So that start first projects the records past the projector's
committed offsets into its event store and read model, as the projector would (each counted
once: the event store keeps an event once, the read model skips offsets it applied), and then
stops the broker, as a clean stop would have. What cannot be stored keeps the broker running and
refuses the start, naming the default start that takes it over.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path
from typing import Final

import psycopg2
from kafka import KafkaConsumer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import KafkaError
from redis import RedisError

from sam_emulator.events.kafka import connected
from sam_emulator.template import KafkaMapping
from talkrate.adapters.redis_store import RedisReadModel
from talkrate.errors import TalkrateError
from talkrate.events import CORRELATION_HEADER
from talkrate.projection import StreamRecord, project_batch
from talkrate_local import database
from talkrate_local.embedded import KeptBroker, ServiceError

# Ample for the ratings one run can leave (10,000 are read and stored in a few seconds).
DRAIN_SECONDS: Final = 120.0
_POLL_MS: Final = 500
_BATCH_RECORDS: Final = 2_000


def drain_kept_broker(
    folder: Path, mappings: Iterable[KafkaMapping], talks: str, ratings: str
) -> str | None:
    """Store the records the broker kept for `folder` holds past the mappings' committed offsets
    into the event store (`talks`) and read model (`ratings`), then stop it; what it did, in one
    line, or None when no broker was kept. ServiceError, the broker left running, when its
    records could not be stored."""
    broker = KeptBroker(folder)
    if not broker.take_over():
        return None
    address = broker.connection
    try:
        stored = sum(
            _drain(address, mapping.consumer_group_id, mapping.topics, talks, ratings)
            for mapping in mappings
        )
    except (KafkaError, OSError, TalkrateError, RedisError, psycopg2.Error) as error:
        broker.keep_running()
        raise ServiceError(
            f"the broker a killed run left running on {address} holds ratings not stored yet, "
            f"and they could not be stored now ({type(error).__name__}: {error}); start with "
            "the default broker (`make run`, no --broker or STREAMS_CONNECTION) to take it over "
            "and store them, then stop it with one Ctrl-C"
        ) from error
    broker.close()
    return (
        f"[runtime] the kept broker on {address} (a killed run's): stored the {stored} "
        "record(s) the projector had not, then stopped it"
    )


def _drain(address: str, group: str, topics: Iterable[str], talks: str, ratings: str) -> int:
    """Project the topics' records past the group's committed offsets; how many were read."""
    consumer = connected(
        KafkaConsumer,
        bootstrap_servers=address,
        group_id=group,
        client_id="talkrate-kept-broker-drain",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=_BATCH_RECORDS,
    )
    read = 0
    try:
        partitions = [
            TopicPartition(topic, partition)
            for topic in topics
            for partition in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        if not partitions:
            return 0
        consumer.assign(partitions)
        ends = consumer.end_offsets(partitions)
        for tp in partitions:
            committed = consumer.committed(tp)
            if committed is None:
                consumer.seek_to_beginning(tp)
            else:
                consumer.seek(tp, committed)
        read_model = RedisReadModel(ratings)
        deadline = time.monotonic() + DRAIN_SECONDS
        with database.event_store(talks) as store:
            while any(consumer.position(tp) < ends[tp] for tp in partitions):
                if time.monotonic() > deadline:
                    raise OSError(f"its records were not all read within {DRAIN_SECONDS:.0f} s")
                polled = consumer.poll(timeout_ms=_POLL_MS)
                records = [_stream_record(record) for batch in polled.values() for record in batch]
                if records:
                    project_batch(records, store, read_model)
                    consumer.commit()
                    read += len(records)
    finally:
        consumer.close()
    return read


def _stream_record(record: ConsumerRecord) -> StreamRecord:
    """A consumed record as the projector is given it."""
    correlation = dict(record.headers or ()).get(CORRELATION_HEADER)
    return StreamRecord(
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        key=record.key,
        value=record.value,
        timestamp_ms=record.timestamp,
        correlation_id=correlation.decode("utf-8", "replace") if correlation else None,
    )
