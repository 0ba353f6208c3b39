"""The one Logger and Metrics of the process, created once."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

from aws_lambda_powertools import Logger, Metrics

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
metrics = Metrics(namespace="talkrate", service="talkrate")


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
