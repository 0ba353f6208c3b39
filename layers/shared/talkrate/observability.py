"""The one Logger and Metrics of the process, created once."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

from aws_lambda_powertools import Logger, Metrics

# Reads publish no metric of their own; that is expected, not worth a warning per request.
warnings.filterwarnings("ignore", message="No application metrics to publish")

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
