"""ApiFunction: the HTTP API behind API Gateway (HTTP API, payload 2.0).

The routes live in talkrate.api (shared layer); this module wires them to Lambda.
"""

from __future__ import annotations

import gc
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.logging import correlation_paths

if TYPE_CHECKING:  # a type only: its module is not loaded at the cold start
    from aws_lambda_powertools.utilities.typing import LambdaContext

# What the init makes below (modules, routes, their checks) lives as long as the container; none
# of it is garbage. The collector is stopped while it is made, which spares the cold start a full
# pass over everything loaded so far (about 4 ms, a twelfth of the Logger-only function's whole
# cold start), then it is frozen out of the passes that requests trigger.
gc.disable()

from talkrate import snapstart  # noqa: E402
from talkrate.api import build_app, handle  # noqa: E402
from talkrate.observability import logger, metrics  # noqa: E402

app = build_app()
snapstart.register(
    "talkrate.adapters.postgres",
    "talkrate.adapters.talk_cache",
    "talkrate.adapters.redis_store",
    "talkrate.adapters.idempotency",
    "talkrate.adapters.limiter",
    "talkrate.adapters.kafka_stream",
    "talkrate.adapters.stats_client",
    # The catalog's logic and its talks' live channels, GET /'s report: imported at the first
    # request that reads the catalog or GET /, not at init
    "talkrate.catalog",
    "talkrate.live",
    "talkrate.status",
    "hmac",  # (and OpenSSL's hashlib: a voter pass's signature, read at its first use)
    "secrets",
)
gc.freeze()
gc.enable()


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(app, event, context)
