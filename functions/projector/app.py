"""ProjectorFunction: folds RatingSubmitted events from Kafka into the Redis read model, then
announces the batch's talks on the live channel.

The Kafka event is read as a plain mapping (talkrate.projection.records_from_event): Powertools'
data classes would add about 110 ms to the cold start for three fields.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # types only: their modules are not loaded at the cold start for them
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from talkrate.adapters.redis_store import RedisReadModel

# What the init makes below lives as long as the process; none of it is garbage. The collector
# is stopped while it is made (no full pass over everything loaded so far at the cold start), and
# then it is frozen out of the collector's passes, which a batch of thousands of records triggers
# several times: a batch of 10,000 records is applied about a fifth faster.
gc.disable()

from talkrate import snapstart, wiring  # noqa: E402
from talkrate.errors import BackendUnavailable, ReadModelUnreachable  # noqa: E402
from talkrate.observability import logger, metrics, tell_rebuilt  # noqa: E402
from talkrate.ports import RatingsReadModel  # noqa: E402
from talkrate.projection import (  # noqa: E402
    StreamRecord,
    batch_delay_ms,
    classify,
    correlation_ids,
    project_batch,
    records_from_event,
    touched_talks,
)
from talkrate.rebuild import missing_before, rebuild_if_lost  # noqa: E402

snapstart.register(
    "talkrate.adapters.postgres",
    "talkrate.adapters.redis_store",
    "talkrate.adapters.appsync_events",
    "talkrate.announcer",
)

gc.freeze()
gc.enable()

MEMORY_REPORT_SECONDS = 60.0
_memory_reported_at = -MEMORY_REPORT_SECONDS


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    records = records_from_event(event)
    read_model = wiring.read_model()
    try:
        _rebuild_if_lost(read_model, records)
        result = project_batch(records, wiring.event_store(), read_model)
    except ReadModelUnreachable:
        _announce_unavailable(records)
        raise
    # Freshness: from the API's publication (just before its 202) to the projected read model.
    delay = batch_delay_ms(records, time.time() * 1000)
    if delay is not None:
        metrics.add_metric(name="ProjectionDelay", unit="Milliseconds", value=delay)
    metrics.add_metric(name="RatingsProjected", unit="Count", value=result.applied)
    metrics.add_metric(name="RecordsSkipped", unit="Count", value=result.skipped)
    metrics.add_metric(name="DeadLetters", unit="Count", value=result.dead_lettered)
    metrics.add_metric(name="DuplicateEvents", unit="Count", value=result.duplicates)
    if result.dead_lettered:
        logger.warning("records set aside as dead letters", extra={"count": result.dead_lettered})
    counts = {
        "applied": result.applied,
        "skipped": result.skipped,
        "duplicates": result.duplicates,
        "deadLettered": result.dead_lettered,
    }
    # The request ids of the batch's ratings: a rating is found by the id of its POST.
    logger.info(
        "batch projected",
        extra={**counts, "talks": len(result.talk_ids), "correlationIds": correlation_ids(records)},
    )
    # The batch is applied and its offsets recorded: the announcement cannot fail it, and its
    # deadline bounds how long it can hold the handler's answer back.
    _announce(result.talk_ids, read_model)
    _report_read_model_memory()
    return counts


def _rebuild_if_lost(read_model: RedisReadModel, records: Sequence[StreamRecord]) -> None:
    """Build the read model from the event store first when Redis lost it (or is new).

    Redis lost the applied offsets with the rest, so nothing tells whether the event store is
    behind what was counted (restored from a backup); the batch itself still says where Kafka
    is: records before it that the event store lacks are named, with their replay."""
    rebuilt = rebuild_if_lost(wiring.event_store(), read_model, progress=logger.info)
    if rebuilt is None:
        return
    tell_rebuilt(rebuilt)
    missing = missing_before(((r.topic, r.partition, r.offset) for r in records), rebuilt.offsets)
    if missing:
        logger.warning(
            "the event store holds no record of offsets before this batch: any rating that "
            "they alone hold is not counted (PostgreSQL restored from a backup, a batch Lambda "
            "gave up on, records from before the event store's first, or copies of stored "
            "events projected before copies' positions were kept, which lose nothing); while "
            "Kafka holds them, each replay stores them and rebuilds",
            extra={
                "missing": [str(span) for span in missing],
                "replay": [span.replay_command for span in missing],
            },
        )


def _announce(talk_ids: Sequence[str], read_model: RatingsReadModel) -> None:
    """Publish the batch's talks and the leaderboard on the live channel, when there is one:
    a redelivered batch's too, whose first try may have applied it and failed before this."""
    if not talk_ids:
        return
    # Loaded with the first batch of ratings, as the announcer is (wiring.live_announcer):
    # at the init it costs the cold start about 20 ms (the live channel's messages, a thread
    # pool), which no invocation without a live channel needs.
    from talkrate.announcer import announce_on_live_channel

    announce_on_live_channel(
        "live updates", lambda announcer: announcer.announce(talk_ids, read_model)
    )


def _announce_unavailable(records: Sequence[StreamRecord]) -> None:
    """Redis did not answer, and the batch fails: say on the channels of its talks and the
    leaderboard's that the counts cannot be read just now, so that open pages read at once
    (and say so) rather than show counts that stand still under "Live" until their next check.
    Never raises: the batch fails as it would have, and is delivered again."""
    from talkrate.announcer import announce_on_live_channel

    announce_on_live_channel(
        "counts unavailable",
        lambda announcer: announcer.announce_unavailable(touched_talks(classify(records))),
    )


def _report_read_model_memory() -> None:
    """Once a minute per container: how full the read model is (the metric the operations alarm
    watches: a full Redis refuses the projector's writes), and whether it could evict counts."""
    global _memory_reported_at
    now = time.monotonic()
    if now - _memory_reported_at < MEMORY_REPORT_SECONDS:
        return
    _memory_reported_at = now
    try:
        memory = wiring.read_model().memory()
    except BackendUnavailable:
        return  # the batch itself reached Redis; a report can wait a minute
    if memory.used_percent is not None:
        metrics.add_metric(
            name="ReadModelMemoryUsedPercent", unit="Percent", value=memory.used_percent
        )
    metrics.add_metric(
        name="ReadModelUnsafeEvictionPolicy", unit="Count", value=0 if memory.policy_is_safe else 1
    )
    if not memory.policy_is_safe:
        logger.warning("Redis may evict histograms", extra={"maxmemoryPolicy": memory.policy})
