"""ProjectorFunction: folds RatingSubmitted events from Kafka into the Redis read model, then
announces the changed talks on the live channel.

The Kafka event is read as a plain mapping (talkrate.projection.records_from_event): Powertools'
data classes would add about 110 ms to the cold start for three fields.
"""

from __future__ import annotations

import gc
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from talkrate import wiring
from talkrate.observability import logger, metrics
from talkrate.projection import project_batch, records_from_event

# What the init built (modules, validators) lives as long as the process. Frozen, it is left out
# of the collector's passes, which a batch of thousands of records triggers several times: a
# batch of 10,000 records is applied about a fifth faster.
gc.freeze()


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    read_model = wiring.read_model()
    result = project_batch(records_from_event(event), wiring.event_store(), read_model)
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
    logger.info("batch projected", extra={**counts, "talks": len(result.talk_ids)})
    # The batch is applied and its offsets recorded: the announcement cannot fail it, and its
    # deadline bounds how long it can hold the handler's answer back.
    announcer = wiring.live_announcer()
    if announcer is not None and result.talk_ids:
        announced = announcer.announce(result.talk_ids, read_model)
        logger.info(
            "live updates announced",
            extra={
                "published": announced.published,
                "failed": announced.failed,
                "abandoned": announced.abandoned,
                "ms": round(announced.seconds * 1000, 1),
            },
        )
        metrics.add_metric(name="LiveUpdatesPublished", unit="Count", value=announced.published)
        metrics.add_metric(
            name="LiveUpdatesFailed", unit="Count", value=announced.failed + announced.abandoned
        )
    return counts
