"""RelayFunction: publishes, in order, the ratings the API kept in the outbox while Kafka was down."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # a type only: its module is not loaded at the cold start
    from aws_lambda_powertools.utilities.typing import LambdaContext

from talkrate import wiring
from talkrate.config import load_settings
from talkrate.errors import TalkrateError
from talkrate.live import API_KEY_DAYS_LEFT_METRIC, api_key_days_left
from talkrate.observability import logger, metrics
from talkrate.rebuild import rebuild_if_lost
from talkrate.relay import relay_outbox


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # The relay runs every minute: it also tells how long the pages' live API key has left,
    # first, so a run the outbox fails reports it too.
    if (expires := load_settings().live_api_key_expires) is not None:
        days = api_key_days_left(expires, time.time())
        metrics.add_metric(name=API_KEY_DAYS_LEFT_METRIC, unit="None", value=days)
    _check_read_model()
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


def _check_read_model() -> None:
    """Whether Redis holds the read model, once a minute: the projector runs only with records,
    so a Redis emptied while no rating comes in would go unseen. A new deployment's (no event
    stored yet) is built here, at no cost. An empty Redis while events are stored is reported
    (ReadModelMissing, its alarm) and left to the projector's next batch or `ops rebuild`, which
    need more memory and time than this function has. Without the marker but with applied
    offsets (a read model from before the marker, or a batch applied just after a loss) it is
    not reported: the projector rebuilds it with its next batch, and GET / says "empty" until
    then. A backend that does not answer is told by its own alarms: nothing is reported then."""
    try:
        read_model = wiring.read_model()
        if read_model.is_built() or read_model.holds_offsets():
            metrics.add_metric(name="ReadModelMissing", unit="Count", value=0)
            return
        store = wiring.event_store()
        if store.is_empty():
            rebuild_if_lost(store, read_model, progress=lambda _: None)
            metrics.add_metric(name="ReadModelMissing", unit="Count", value=0)
            return
    except TalkrateError:
        return
    logger.warning("the read model is missing from Redis while events are stored")
    metrics.add_metric(name="ReadModelMissing", unit="Count", value=1)
