"""The one Logger and Metrics of the process, created once."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics

logger = Logger(service="talkrate")
metrics = Metrics(namespace="talkrate", service="talkrate")
