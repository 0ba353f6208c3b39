"""RelayFunction: publishes, in order, the ratings the API kept in the outbox while Kafka was down."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from talkrate import wiring
from talkrate.observability import logger, metrics
from talkrate.relay import relay_outbox


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    result = relay_outbox(wiring.outbox(), wiring.rating_publisher())
    metrics.add_metric(name="OutboxPublished", unit="Count", value=result.published)
    metrics.add_metric(name="OutboxPending", unit="Count", value=result.pending)
    if result.pending:
        logger.warning("outbox entries still pending", extra={"pending": result.pending})
    return {"published": result.published, "pending": result.pending}
