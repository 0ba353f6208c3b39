"""The metrics' namespace: each stack's own, as its alarms read it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

# A new interpreter: talkrate.observability reads its namespace once, at import, as on Lambda.
_FLUSH = """
from talkrate.observability import metrics
metrics.add_metric(name="RatingAccepted", unit="Count", value=1)
metrics.flush_metrics()
"""


def _published_namespaces(environment: dict[str, str]) -> list[str]:
    """The namespaces of the embedded-metric documents a new process prints for one metric."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("POWERTOOLS_")}
    ran = subprocess.run(
        [sys.executable, "-c", _FLUSH],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env={**env, **environment},
    )
    documents = [json.loads(line) for line in ran.stdout.splitlines() if line.startswith('{"_aws"')]
    return [m["Namespace"] for d in documents for m in d["_aws"]["CloudWatchMetrics"]]


@pytest.mark.parametrize(
    ("environment", "namespace"),
    [
        # On AWS: template.yaml's Globals give talkrate/<stack name>
        ({"POWERTOOLS_METRICS_NAMESPACE": "talkrate/talkrate-prod"}, "talkrate/talkrate-prod"),
        # Outside a stack (tests, benches): talkrate
        ({}, "talkrate"),
        ({"POWERTOOLS_METRICS_NAMESPACE": ""}, "talkrate"),
    ],
)
def test_a_function_publishes_its_metrics_into_the_namespace_its_stack_names(
    environment: dict[str, str], namespace: str
) -> None:
    # When a function's process publishes a metric under this environment
    published = _published_namespaces(environment)
    # Then the document names that namespace, the one the stack's alarms read
    assert published == [namespace]
