"""ProjectorFunction: folds RatingSubmitted events from Kafka into the Redis read model."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.data_classes import KafkaEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from talkrate import wiring
from talkrate.observability import logger, metrics
from talkrate.projection import StreamRecord, decode, project_batch


@logger.inject_lambda_context
@metrics.log_metrics
@event_source(data_class=KafkaEvent)
def lambda_handler(event: KafkaEvent, context: LambdaContext) -> dict[str, Any]:
    records = (
        StreamRecord(
            r.topic,
            r.partition,
            r.offset,
            decode(r.raw_event.get("key")),
            decode(r.raw_event.get("value")),
        )
        for r in event.records
    )
    result = project_batch(records, wiring.event_store(), wiring.read_model())
    metrics.add_metric(name="RatingsProjected", unit="Count", value=result.applied)
    metrics.add_metric(name="RecordsSkipped", unit="Count", value=result.skipped)
    metrics.add_metric(name="DeadLetters", unit="Count", value=result.dead_lettered)
    metrics.add_metric(name="DuplicateEvents", unit="Count", value=result.duplicates)
    if result.dead_lettered:
        logger.warning("records set aside as dead letters", extra={"count": result.dead_lettered})
    logger.info("batch projected", extra=result.__dict__)
    return {
        "applied": result.applied,
        "skipped": result.skipped,
        "duplicates": result.duplicates,
        "deadLettered": result.dead_lettered,
    }
