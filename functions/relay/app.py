"""RelayFunction: publishes, in order, the ratings the API kept in the outbox while Kafka was down."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # a type only: its module is not loaded at the cold start
    from aws_lambda_powertools.utilities.typing import LambdaContext

from talkrate import wiring
from talkrate.config import load_settings
from talkrate.live import API_KEY_DAYS_LEFT_METRIC, api_key_days_left
from talkrate.observability import logger, metrics
from talkrate.relay import relay_outbox


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # The relay runs every minute: it also tells how long the pages' live API key has left,
    # first, so a run the outbox fails reports it too.
    if (expires := load_settings().live_api_key_expires) is not None:
        days = api_key_days_left(expires, time.time())
        metrics.add_metric(name=API_KEY_DAYS_LEFT_METRIC, unit="None", value=days)
    result = relay_outbox(wiring.outbox(), wiring.rating_publisher())
    metrics.add_metric(name="OutboxPublished", unit="Count", value=result.published)
    metrics.add_metric(name="OutboxPending", unit="Count", value=result.pending)
    metrics.add_metric(
        name="OutboxOldestAge", unit="Seconds", value=round(result.oldest_pending_seconds, 1)
    )
    if result.pending:
        logger.warning(
            "outbox entries still pending",
            extra={"pending": result.pending, "oldestSeconds": result.oldest_pending_seconds},
        )
    return {"published": result.published, "pending": result.pending}
