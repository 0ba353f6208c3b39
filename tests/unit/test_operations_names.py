"""docs/operations.md names what an operator looks for: each metric, alarm, parameter, output
and resource it cites by name is one the templates declare or the code emits (an operator looked
for `ProjectorOffsetLag` on the dashboard; the metric is Lambda's `OffsetLag`), and its table of
the metrics talkrate publishes lists every one the functions emit."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sam_emulator.template.cfn_yaml import load_yaml_file
from tests.builders import ROOT

pytestmark = pytest.mark.unit

GUIDE = (ROOT / "docs" / "operations.md").read_text()
TEMPLATES = [ROOT / "template.yaml", *sorted((ROOT / "deploy").glob("*.yaml"))]
SOURCES = "\n".join(
    path.read_text()
    for folder in ("layers/shared/talkrate", "functions")
    for path in sorted((ROOT / folder).rglob("*.py"))
)
# Names of AWS's and SAM's own that the guide cites: properties, metrics and API fields of
# Lambda, CloudFront, CodeDeploy and CloudFormation, and the resource SAM generates for the stage.
AWS_NAMES = {
    "AccessDenied",
    "AllAtOnce",
    "AutoPublishAliasAllProperties",
    "ConcurrentExecutions",
    "EventInvokeConfig",
    "FunctionExecutionErrors",
    "FunctionName",
    "FunctionThrottles",
    "FunctionValidationErrors",
    "GetDistributionConfig",
    "HttpApiApiGatewayDefaultStage",
    "LastProcessingResult",
    "PublishLambdaVersion",
    "ServiceTimeout",
    "UnreservedConcurrentExecutions",
    "VersionDescription",
}


def metric_names(node: Any) -> Iterator[str]:
    """Every MetricName a template's alarms and metric filters name."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "MetricName" and isinstance(value, str):
                yield value
            yield from metric_names(value)
    elif isinstance(node, list):
        for value in node:
            yield from metric_names(value)


def declared(path: Path) -> set[str]:
    """A template's parameters, resources, outputs, conditions, rules and mappings, and the
    metrics it reads."""
    template = load_yaml_file(path)
    sections = ("Parameters", "Resources", "Outputs", "Conditions", "Rules", "Mappings")
    names = {name for section in sections for name in template.get(section) or {}}
    return names | set(metric_names(template))


def emitted_metrics() -> set[str]:
    """The metrics the functions emit (Powertools' add_metric), by name or by the constant
    holding it."""
    constants = dict(re.findall(r"^([A-Z_]+)(?:: Final)? = \"([A-Za-z]+)\"", SOURCES, re.MULTILINE))
    said = re.findall(r"add_metric\(\s*name=(\"[A-Za-z]+\"|[A-Z_]+)", SOURCES)
    return {name.strip('"') if name.startswith('"') else constants[name] for name in said}


def test_every_name_it_cites_is_declared_or_emitted() -> None:
    # Given every CamelCase name the guide cites as code (`OffsetLag`, `RatingsTopic`)
    cited = set(re.findall(r"`([A-Z][a-z]+(?:[A-Z][a-z0-9]+)+)`", GUIDE))
    assert {"OffsetLag", "RatingsTopic", "ConnectionsSecretArn"} <= cited  # still read
    # Then each is a template's, a metric the functions emit, or AWS's own
    known = set().union(*(declared(path) for path in TEMPLATES)) | emitted_metrics() | AWS_NAMES
    assert sorted(cited - known) == []


def test_its_metrics_table_lists_every_metric_the_functions_emit() -> None:
    # Given the table of "Metrics talkrate publishes"
    table = GUIDE.split("\n## Metrics talkrate publishes\n", 1)[1].split("\n## ", 1)[0]
    listed = {
        name
        for line in table.splitlines()
        if line.startswith("| `")
        for name in re.findall(r"`([A-Z][A-Za-z]+)`", line.split("|")[1])
    }
    # Then it lists what the functions emit, and nothing they do not
    emitted = emitted_metrics()
    assert {"RatingAccepted", "LiveApiKeyDaysLeft"} <= emitted  # still read
    assert sorted(emitted - listed) == []
    assert sorted(listed - emitted) == []


def dashboard_metrics(path: Path) -> dict[str, set[str]]:
    """The metrics in talkrate's namespace each dashboard widget graphs, by the widget's title
    (its body's `${...}` names made text, so that it reads as JSON)."""
    resources = load_yaml_file(path).get("Resources") or {}
    shown: dict[str, set[str]] = {}
    for resource in resources.values():
        if resource.get("Type") != "AWS::CloudWatch::Dashboard":
            continue
        body = resource["Properties"]["DashboardBody"]
        text = body["Fn::Sub"][0] if isinstance(body["Fn::Sub"], list) else body["Fn::Sub"]
        widgets = json.loads(re.sub(r"\$\{[^}]+\}", "x", text))["widgets"]
        for widget in widgets:
            properties = widget.get("properties", {})
            for metric in properties.get("metrics", []):
                if metric and str(metric[0]).startswith("talkrate/"):
                    shown.setdefault(properties["title"], set()).add(metric[1])
    return shown


def test_the_dashboard_graphs_metrics_the_functions_emit_and_the_live_channel_s_together() -> None:
    # Given the metrics the dashboards graph in talkrate's namespace
    shown = {title: names for path in TEMPLATES for title, names in dashboard_metrics(path).items()}
    graphed = set().union(*shown.values())
    assert {"RatingAccepted", "OutboxPending"} <= graphed  # still read
    # Then each is one the functions emit (a renamed metric leaves an empty graph, silently)
    assert sorted(graphed - emitted_metrics()) == []
    # And the live channel's metrics, the projector's and the API's kept changes, are on one
    # graph: where an operator looks when pages stop moving, to tell slow from losing
    live = {
        "LiveUpdatesPublished",
        "LiveUpdatesFailed",
        "CatalogChangesSentLate",
        "CatalogChangesGivenUp",
    }
    assert [title for title, names in shown.items() if live <= names], shown
