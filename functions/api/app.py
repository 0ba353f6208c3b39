"""ApiFunction: the HTTP API behind API Gateway (HTTP API, payload 2.0).

The routes live in talkrate.api (shared layer); this module wires them to Lambda.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from talkrate import snapstart
from talkrate.api import build_app, handle
from talkrate.observability import logger, metrics

app = build_app()
snapstart.register(
    "talkrate.adapters.postgres",
    "talkrate.adapters.talk_cache",
    "talkrate.adapters.redis_store",
    "talkrate.adapters.idempotency",
    "talkrate.adapters.kafka_stream",
    "talkrate.adapters.stats_client",
)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(app, event, context)
