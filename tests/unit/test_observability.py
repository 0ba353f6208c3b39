"""The metrics' namespace: each stack's own, as its alarms read it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

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


@pytest.mark.parametrize(
    ("log_level", "lambda_level", "written"),
    [("WARNING", "INFO", ["w", "e"]), ("ERROR", "INFO", ["e"]), ("INFO", "INFO", ["i", "w", "e"])],
)
def test_loglevel_filters_talkrate_s_lines_while_lambda_keeps_info(
    log_level: str, lambda_level: str, written: list[str]
) -> None:
    # Given a function as the template deploys it for LogLevel (Lambda's own level kept at INFO,
    # so that the metrics' lines, which carry no level, are never dropped; Powertools would
    # take Lambda's level over LogLevel)
    script = (
        "import sys; sys.path.insert(0, 'layers/shared')\n"
        "from talkrate.observability import logger\n"
        "logger.debug('d'); logger.info('i'); logger.warning('w'); logger.error('e')\n"
    )
    env = {
        **os.environ,
        "AWS_LAMBDA_LOG_LEVEL": lambda_level,
        "POWERTOOLS_LOG_LEVEL": log_level,
        "PYTHONWARNINGS": "ignore",
    }
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    # Then talkrate's own lines are those of LogLevel and above (a WARNING stack wrote every
    # INFO line)
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert [line["message"] for line in lines] == written
