"""The one Logger and Metrics of the process, created once."""

from __future__ import annotations

import warnings

from aws_lambda_powertools import Logger, Metrics

# Reads publish no metric of their own; that is expected, not worth a warning per request.
warnings.filterwarnings("ignore", message="No application metrics to publish")

logger = Logger(service="talkrate")
metrics = Metrics(namespace="talkrate", service="talkrate")
