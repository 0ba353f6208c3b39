"""deploy/edge-alarms.yaml, the alarms on what viewers get from a talkrate stack's CloudFront
distribution, as CloudFormation deploys it in us-east-1 (where CloudFront publishes its metrics):
each alarm reads the distribution's metrics by the dimensions they carry, fires on the minutes
its runbook page says, and reaches someone. Also the talkrate stack's side: the distribution id
an operator gives it, and the dashboard's view of the same metrics."""

from __future__ import annotations

import copy
import json
import re
from functools import cache
from typing import Any

import pytest
import yaml

from tests.builders import ROOT
from tests.unit.test_makefile import make_prints
from tests.unit.test_template_operations import (
    RULE_FUNCTIONS,
    _alarm_fires,
    _functions,
    _Loader,
    _prod,
    refusing_rules,
    resources,
)

pytestmark = pytest.mark.unit

EDGE = ROOT / "deploy" / "edge-alarms.yaml"
DISTRIBUTION = "E2QWRUHAPOMQZL"


@cache
def _edge_source() -> str:
    return EDGE.read_text()


@cache
def _parsed() -> dict[str, Any]:
    """The edge template as parsed once: read only (_resolved reads it for every value)."""
    document: dict[str, Any] = yaml.load(_edge_source(), Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    return document


def _edge() -> dict[str, Any]:
    """The edge template, a copy of its own for a test to take apart."""
    return copy.deepcopy(_parsed())


def _resolved(value: Any, region: str = "us-east-1", **parameters: str) -> Any:
    """A value of the edge template as CloudFormation resolves it in `region`, with the
    parameters given (the defaults for the rest, and DistributionId and AppStackName set). A
    mapping without the region's key fails as CloudFormation's deploy fails (KeyError)."""
    template = _parsed()
    values = {
        **{k: str(v.get("Default", "")) for k, v in template["Parameters"].items()},
        "DistributionId": DISTRIBUTION,
        "AppStackName": "talkrate-prod",
        "AWS::Region": region,
        **parameters,
    }
    if isinstance(value, dict) and len(value) == 1:
        (key, argument), *_ = value.items()
        if key == "Ref" and argument in values:
            return values[argument]
        if key == "Fn::FindInMap":
            mapping, first, second = (_resolved(a, region, **parameters) for a in argument)
            return template["Mappings"][mapping][first][second]
        if key == "Fn::Sub" and isinstance(argument, str):
            return re.sub(r"\$\{([^}]+)\}", lambda m: values[m[1]], argument)
    if isinstance(value, dict):
        return {k: _resolved(v, region, **parameters) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolved(item, region, **parameters) for item in value]
    return value


def _alarms(**parameters: str) -> dict[str, dict[str, Any]]:
    """Each alarm's properties, resolved in us-east-1."""
    return {
        name: _resolved(alarm["Properties"], **parameters)
        for name, alarm in resources(_edge(), "AWS::CloudWatch::Alarm").items()
    }


def _inputs(properties: dict[str, Any]) -> list[dict[str, Any]]:
    return [m["MetricStat"] for m in properties["Metrics"] if "MetricStat" in m]


def test_each_alarm_reads_the_distribution_s_metrics_by_the_dimensions_cloudfront_gives_them() -> (
    None
):
    # Given the edge stack deployed for a distribution
    alarms = _alarms()
    assert set(alarms) == {"Edge5xxAlarm", "Edge5xxLowTrafficAlarm", "Edge4xxAlarm"}
    for name, properties in alarms.items():
        # Then each reads CloudFront's own metrics of that distribution, by exactly the two
        # dimensions they carry (Region is always "Global"): another set reads nothing, and an
        # alarm with no datapoints never fires
        for stat in _inputs(properties):
            metric = stat["Metric"]
            assert metric["Namespace"] == "AWS/CloudFront", name
            dimensions = {d["Name"]: d["Value"] for d in metric["Dimensions"]}
            assert dimensions == {"DistributionId": DISTRIBUTION, "Region": "Global"}, name
            # And each metric by the one statistic CloudFront gives it, minute by minute
            expected = "Sum" if metric["MetricName"] == "Requests" else "Average"
            assert stat["Stat"] == expected, (name, metric["MetricName"])
            assert stat["Period"] == 60, name
        read = {stat["Metric"]["MetricName"] for stat in _inputs(properties)}
        error_rate = "4xxErrorRate" if "4xx" in name else "5xxErrorRate"
        assert read == {error_rate, "Requests"}, name


def test_the_stack_deploys_only_where_cloudfront_publishes_its_metrics() -> None:
    # Given the alarms' dimensions as CloudFormation resolves them in each Region
    [alarm, *_] = resources(_edge(), "AWS::CloudWatch::Alarm").values()
    # Then in us-east-1 they name the metrics CloudFront publishes
    assert _resolved(alarm["Properties"], "us-east-1")
    # And anywhere else the stack fails before it creates anything, instead of holding alarms
    # that never get a datapoint (CloudFront publishes nothing in eu-west-1)
    for region in ("eu-west-1", "us-west-2"):
        with pytest.raises(KeyError):
            _resolved(alarm["Properties"], region)


def test_every_edge_alarm_tells_its_topic_both_ways_and_has_its_runbook_page() -> None:
    guide = (ROOT / "docs" / "operations.md").read_text()
    anchors = set(re.findall(r"^### (\w+)$", guide, re.MULTILINE))
    table = dict(re.findall(r"^\| \[(\w+)\]\(#\w+\) \|(.*)$", guide, re.MULTILINE))
    for name, properties in _alarms().items():
        # Each notifies the stack's own topic (CloudWatch notifies only a topic of its Region)
        # when it fires and when it recovers
        assert properties["AlarmActions"] == [{"Ref": "AlarmTopic"}], name
        assert properties["OKActions"] == [{"Ref": "AlarmTopic"}], name
        # And says which stack's distribution it watches and where its runbook page is
        description = properties["AlarmDescription"]
        assert "talkrate-prod" in description, name
        assert f"docs/operations.md#{name.lower()}" in description, name
        assert name in anchors, f"docs/operations.md has no section for {name}"
        assert name in table, f"the guide's edge alarm table has no row for {name}"
    # And the guide's row names the parameter that sets the 4xx threshold
    assert "Viewer4xxRateThresholdPercent" in table["Edge4xxAlarm"]


def _minute(requests: float, rate: float, kind: str = "5xx") -> dict[str, float]:
    """One minute of the distribution's metrics: its requests, and `rate` percent of them
    answered 4xx or 5xx (the other rate 0)."""
    other = "4xx" if kind == "5xx" else "5xx"
    return {"Requests": requests, f"{kind}ErrorRate": rate, f"{other}ErrorRate": 0.0}


def _firing(minutes: list[dict[str, float]], **parameters: str) -> set[str]:
    return {
        name
        for name, properties in _alarms(**parameters).items()
        if _alarm_fires(properties, minutes)
    }


def test_viewers_failing_at_the_edge_are_told_at_any_traffic_and_a_stray_5xx_is_not() -> None:
    # Given a busy hour in which 2% of answers are 5xx (an origin failing), three minutes of five
    busy = [_minute(600, 2.0)] * 3 + [_minute(600, 0.0)] * 2
    assert _firing(busy) == {"Edge5xxAlarm"}
    # And a quiet hour in which the distribution answers 502 to every request (a broken origin)
    quiet = [_minute(6, 100.0)] * 5
    assert _firing(quiet) == {"Edge5xxLowTrafficAlarm"}
    # And one answer in seven (a rate CloudFront rounds) counts as the one answer it is
    rounded = [_minute(7, 100 / 7)] * 2 + [_minute(7, 0.0)] * 3
    assert _firing(rounded) == {"Edge5xxLowTrafficAlarm"}
    # Then a 5xx now and then, in a busy or a quiet hour, or 1% of a busy one, tells nobody
    for minutes in (
        [_minute(600, 1.0)] * 5,
        [_minute(600, 5.0)] * 2 + [_minute(600, 0.0)] * 3,
        [_minute(10, 10.0)] + [_minute(10, 0.0)] * 4,
    ):
        assert _firing(minutes) == set(), minutes


def test_requests_refused_wholesale_at_the_edge_are_told_and_the_usual_4xx_are_not() -> None:
    # Given the web app missing from its bucket: most requests answered 4xx (the bucket's 403),
    # five minutes running
    missing = [_minute(200, 70.0, "4xx")] * 5
    assert _firing(missing) == {"Edge4xxAlarm"}
    # Then a day's usual 4xx (a removed talk's 404, 409s after a close, one address's 429s) or
    # a rush of refusals that passes within minutes tells nobody, nor a scanner in a quiet minute
    for minutes in (
        [_minute(400, 6.0, "4xx")] * 5,
        [_minute(400, 60.0, "4xx")] * 4 + [_minute(400, 3.0, "4xx")],
        [_minute(12, 100.0, "4xx")] * 5,
    ):
        assert _firing(minutes) == set(), minutes
    # And an operator who expects more (a venue of one address) raises the threshold, or turns
    # the alarm off with 100
    assert _firing(missing, Viewer4xxRateThresholdPercent="80") == set()
    assert _firing([_minute(200, 100.0, "4xx")] * 5, Viewer4xxRateThresholdPercent="100") == set()


def _refusing(**parameters: str) -> list[str]:
    """The edge template's Rules whose assertions fail for these parameter values."""
    return refusing_rules(_edge(), **parameters)


def test_edge_alarms_that_would_reach_nobody_are_refused() -> None:
    # CloudFormation evaluates only its rule functions in Rules
    assert set().union(*map(_functions, _edge()["Rules"].values())) <= RULE_FUNCTIONS
    # Given no address and nothing said of another subscriber, the stack is refused
    assert _refusing() == ["AlarmsReachSomeone"]
    # And an address, or a pager or chat said to be subscribed, deploys
    assert _refusing(AlarmEmail="oncall@talkrate.example") == []
    assert _refusing(AlarmsSubscribedElsewhere="yes") == []
    # And the address is subscribed only when given
    subscription = _edge()["Resources"]["AlarmEmailSubscription"]
    assert subscription["Condition"] == "HasAlarmEmail"
    assert _edge()["Conditions"]["HasAlarmEmail"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmEmail"}, ""]}]
    }


def test_the_talkrate_stack_names_the_distribution_the_edge_stack_takes() -> None:
    # The operator copies the talkrate stack's output into the edge stack's parameter
    outputs = _prod()["Outputs"]
    assert outputs["WebDistributionId"]["Value"] == {"Ref": "WebDistribution"}
    guide = (ROOT / "docs" / "operations.md").read_text()
    assert "OutputKey=='WebDistributionId'" in guide
    assert "--template-file deploy/edge-alarms.yaml" in guide
    assert "--region us-east-1" in guide


def test_the_dashboard_shows_what_viewers_get_from_cloudfront_where_it_publishes() -> None:
    # Given the talkrate stack's dashboard (in its own Region)
    [dashboard] = resources(_prod(), "AWS::CloudWatch::Dashboard").values()
    body, _ = dashboard["Properties"]["DashboardBody"]["Fn::Sub"]
    widgets = json.loads(re.sub(r"\$\{[^}]+\}", lambda m: m.group(0).replace('"', ""), body))
    edge = [
        widget["properties"]
        for widget in widgets["widgets"]
        if any(
            row[0] == "AWS/CloudFront" for row in widget.get("properties", {}).get("metrics", [])
        )
    ]
    # Then one widget reads the distribution's metrics in us-east-1, the only Region that has them
    [widget] = edge
    assert widget["region"] == "us-east-1"
    rows = {row[1]: row for row in widget["metrics"]}
    assert set(rows) == {"5xxErrorRate", "4xxErrorRate", "Requests"}
    for row in rows.values():
        names = dict(zip(row[2:-1:2], row[3::2], strict=False))
        assert names == {"DistributionId": "${WebDistribution}", "Region": "Global"}, row


def test_every_stack_under_deploy_is_linted_and_scanned_as_the_main_template_is() -> None:
    # Given the stacks an operator deploys from deploy/ (the pipeline's bootstrap, the edge alarms)
    stacks = sorted(str(path.relative_to(ROOT)) for path in (ROOT / "deploy").glob("*.yaml"))
    assert "deploy/edge-alarms.yaml" in stacks
    # When `make validate` and `make lint-security` run (CI runs both)
    [lint] = [line for line in make_prints("validate").splitlines() if "cfn-lint" in line]
    scan = make_prints("lint-security").split("checkov", 1)[1]
    # Then cfn-lint and checkov read each of them, one added later too
    for stack in stacks:
        assert stack in lint.split(), stack
        assert f"-f {stack}" in scan, stack
