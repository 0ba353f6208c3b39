"""The one Logger and Metrics of the process, created once."""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger, Metrics

if TYPE_CHECKING:
    from talkrate.projected import ReadModelState

# Reads publish no metric of their own; that is expected, not worth a warning per request.
warnings.filterwarnings("ignore", message="No application metrics to publish")

# The client libraries log what they send and receive at DEBUG (botocore: every response body,
# a secret's value from Secrets Manager among them; kafka-python: its SASL exchange). Lambda
# sets the root logger to the function's application log level, so a DEBUG deployment would
# write them out: talkrate's own lines follow LogLevel, theirs start at WARNING whatever it is.
QUIET_LIBRARIES = ("botocore", "boto3", "urllib3", "s3transfer", "kafka", "redis", "psycopg2")
for _name in QUIET_LIBRARIES:
    logging.getLogger(_name).setLevel(logging.WARNING)

logger = Logger(service="talkrate")
# LogLevel filters talkrate's own lines here. Lambda's own level (AWS_LAMBDA_LOG_LEVEL) stays at
# INFO or below whatever LogLevel says (template.yaml, LambdaLogLevels: above INFO it dropped the
# metrics' EMF lines, which carry no level), and Powertools would take that level over
# POWERTOOLS_LOG_LEVEL: the level is set on the logger itself, as LogLevel says.
logging.getLogger(logger.name).setLevel(os.environ.get("POWERTOOLS_LOG_LEVEL") or "INFO")
# Each stack publishes into its own namespace, `talkrate/<stack name>` (template.yaml sets it), so
# that its alarms never read another stack's readings (dev and prod share an account); outside a
# stack (tests, benches, a runtime without the template's variables) it is `talkrate`.
METRICS_NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "talkrate"
metrics = Metrics(namespace=METRICS_NAMESPACE, service="talkrate")


@contextmanager
def correlated(correlation_id: str | None) -> Iterator[None]:
    """Log (and publish, see KafkaRatingPublisher) as the request `correlation_id`, then go back
    to the invocation's own id."""
    previous = logger.get_correlation_id()
    logger.set_correlation_id(correlation_id)
    try:
        yield
    finally:
        logger.set_correlation_id(previous)


def tell_rebuilt(state: ReadModelState) -> None:
    """A read model found missing from Redis and rebuilt from the event store (by the projector
    before a batch, or the relay at its run): a warning with what was read, and ReadModelRebuilt,
    which ReadModelRebuiltAlarm watches."""
    logger.warning(
        "the read model was missing from Redis: rebuilt from the event store",
        extra={"events": state.events, "talks": len(state.histograms)},
    )
    metrics.add_metric(name="ReadModelRebuilt", unit="Count", value=1)
