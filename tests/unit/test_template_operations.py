"""template.yaml as CloudFormation receives it (transformed by the SAM translator): alarms, log
groups, deploys and the parameters' guards hold for every function, including ones added later."""

from __future__ import annotations

import atexit
import copy
import json
import os
import re
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from talkrate.adapters.postgres import CANCEL_WAIT_SECONDS
from talkrate.config import Settings, settings_from
from talkrate.live import API_KEY_DAYS_LEFT_METRIC, api_key_days_left
from tests.builders import ROOT
from tests.iam import allows, reaches
from tests.iam import listed as _listed

pytestmark = pytest.mark.unit

REQUIRED = {
    "TalksConnection": "postgresql://talkrate:pw@db.example:5432/talkrate",
    "RatingsConnection": "rediss://cache.example:6379/0",
    "KafkaBootstrapServers": "b1.example:9096,b2.example:9096",
    "KafkaUsername": "talkrate",
    "KafkaPassword": "pw",
}


# Functions that run only inside a deploy, invoked by CloudFormation itself: their failure is
# the deploy's failure (reported in the stack's events and rolled back), so they need no alarm,
# no alias (CloudFormation calls the function's ARN) and no concurrency to bound.
DEPLOY_ONLY = {"SchemaFunction"}


class _Loader(yaml.SafeLoader):
    """Reads CloudFormation's short tags (!Ref, !If, ...) as their long forms."""


def _intrinsic(loader: _Loader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = suffix if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


_Loader.add_multi_constructor("!", _intrinsic)


@cache
def _source() -> dict[str, Any]:
    document: dict[str, Any] = yaml.load((ROOT / "template.yaml").read_text(), Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    return document


# The SAM translator ships with the SAM CLI (.ci/install-sam.sh), in a virtualenv of its own: its
# pins (pydantic among them) differ from the functions'. It transforms in that interpreter.
SAM_PYTHON = Path(os.environ.get("SAM_TOOLS_DIR", ROOT / ".tools" / "sam")) / "bin" / "python"
_TRANSFORM = """
import json, sys
from samtranslator.translator.transform import transform

class NoManagedPolicies:  # asked only when a function names an AWS managed policy
    def load(self):
        return {}

for line in sys.stdin:  # a request a line, its template a line back
    request = json.loads(line)
    try:
        answer = {"template": transform(request["template"], request["parameters"], NoManagedPolicies())}
    except Exception as error:  # the test reads what failed
        answer = {"error": repr(error)}
    print(json.dumps(answer), flush=True)
"""


@cache
def _translator() -> subprocess.Popen[str]:
    """One translator process for the session: the translator's import is most of a transform's
    second, and some thirty tests ask for one."""
    if not SAM_PYTHON.exists():
        pytest.fail(f"no SAM CLI at {SAM_PYTHON.parent.parent}: run `make validate` (installs it)")
    process = subprocess.Popen(
        [str(SAM_PYTHON), "-c", _TRANSFORM],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        # The translator takes the region of the pseudo parameters from the environment.
        env={**os.environ, "AWS_DEFAULT_REGION": "eu-west-1"},
    )
    atexit.register(process.kill)
    return process


def _translate(
    parameters: dict[str, str], uploaded_as: dict[str, str] | None = None
) -> dict[str, Any]:
    """The template SAM's translator makes of the source, its code folders uploaded to S3 as
    `sam deploy` hands them over, under `uploaded_as`'s key for a function or layer it names
    (else under the folder's own name)."""
    document = copy.deepcopy(_source())
    for name, resource in document["Resources"].items():
        for key in ("CodeUri", "ContentUri"):
            if isinstance(resource.get("Properties", {}).get(key), str):
                folder = (uploaded_as or {}).get(name, resource["Properties"][key])
                resource["Properties"][key] = f"s3://artifacts/{folder}"
    translator = _translator()
    assert translator.stdin is not None
    assert translator.stdout is not None
    translator.stdin.write(json.dumps({"template": document, "parameters": parameters}) + "\n")
    translator.stdin.flush()
    line = translator.stdout.readline()
    assert line, f"the SAM translator stopped (exit {translator.poll()})"
    answer: dict[str, Any] = json.loads(line)
    assert "template" in answer, answer.get("error")
    template: dict[str, Any] = answer["template"]
    return template


@cache
def _transformed(parameters: tuple[tuple[str, str], ...]) -> str:
    return json.dumps(_translate(dict(parameters)))


def transformed(**parameters: str) -> dict[str, Any]:
    """The CloudFormation template SAM would deploy with these parameter values (a copy of its
    own: a test may change it)."""
    values = {**REQUIRED, **parameters}
    result: dict[str, Any] = json.loads(_transformed(tuple(sorted(values.items()))))
    result["_parameters"] = values
    return result


@cache
def _prod() -> dict[str, Any]:
    return transformed(Stage="prod", CorsAllowOrigin="https://talkrate.example")


def resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def refs(value: Any) -> set[str]:
    """Every logical id a value refers to (Ref, GetAtt, Sub variables), through any If."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "Ref" and isinstance(item, str):
                found.add(item)
            elif key == "Fn::GetAtt":
                found.add(item[0] if isinstance(item, list) else str(item).split(".")[0])
            elif key == "Fn::Sub":
                text = item[0] if isinstance(item, list) else item
                found.update(name.split(".")[0] for name in re.findall(r"\$\{([^!}]+)\}", text))
                found.update(refs(item[1:]) if isinstance(item, list) else set())
            else:
                found.update(refs(item))
    elif isinstance(value, list):
        for item in value:
            found.update(refs(item))
    return found


def evaluate(template: dict[str, Any], value: Any) -> Any:
    """Resolve Fn::If, Fn::Equals, Fn::Not, Fn::And, Fn::Or, Fn::Join, Fn::Split, Fn::Select,
    Ref of parameters and conditions (enough here). An Fn::Select past the end of its list
    fails the test, as it fails CloudFormation's deploy."""
    parameters = {
        **{k: str(v.get("Default", "")) for k, v in template["Parameters"].items()},
        **template["_parameters"],
    }
    if isinstance(value, dict) and len(value) == 1:
        (key, argument), *_ = value.items()
        if key == "Ref" and argument in parameters:
            return parameters[argument]
        if key == "Fn::If":
            condition, yes, no = argument
            chosen = yes if evaluate(template, template["Conditions"][condition]) else no
            return evaluate(template, chosen)
        if key == "Fn::Equals":
            left, right = (evaluate(template, item) for item in argument)
            return str(left) == str(right)
        if key == "Fn::Not":
            return not evaluate(template, argument[0])
        if key in ("Fn::And", "Fn::Or"):
            values = [evaluate(template, item) for item in argument]
            return all(values) if key == "Fn::And" else any(values)
        if key == "Fn::Join":
            separator, items = argument
            items = evaluate(template, items)
            # A CommaDelimitedList parameter's Ref: its value, split as CloudFormation does
            items = items.split(",") if isinstance(items, str) and items else items or []
            return separator.join(str(item) for item in items)
        if key == "Condition":
            return evaluate(template, template["Conditions"][argument])
        if key == "Fn::Split":
            separator, text = argument
            text = evaluate(template, text)
            return text.split(separator) if isinstance(text, str) else {key: [separator, text]}
        if key == "Fn::Select":
            index, items = argument
            items = evaluate(template, items)
            # A CommaDelimitedList parameter's Ref: its value, split as CloudFormation does
            items = items.split(",") if isinstance(items, str) else items
            if not isinstance(items, list):
                return {key: [index, items]}
            if int(index) >= len(items):
                pytest.fail(f"Fn::Select [{index}] past the end of {items}: the deploy fails")
            return evaluate(template, items[int(index)])
        if key == "Fn::Sub" and isinstance(argument, str):
            names = re.findall(r"\$\{([^}]+)\}", argument)
            if names and all(name in parameters for name in names):  # else left as written
                return re.sub(r"\$\{([^}]+)\}", lambda m: parameters[m[1]], argument)
    if isinstance(value, dict):
        return {k: evaluate(template, v) for k, v in value.items()}
    if isinstance(value, list):
        return [evaluate(template, item) for item in value]
    return value


# The pseudo parameters of the stack the IAM tests deploy (the translator leaves them as written).
PSEUDO = {
    "AWS::Partition": "aws",
    "AWS::Region": "eu-west-1",
    "AWS::AccountId": "123456789012",
    "AWS::StackName": "talkrate-prod",
}


def _lists_given(template: dict[str, Any], value: Any) -> Any:
    """The value with each Ref of a CommaDelimitedList parameter replaced by its list."""
    if isinstance(value, dict):
        parameter = template["Parameters"].get(value.get("Ref", ""), {})
        if len(value) == 1 and parameter.get("Type") == "CommaDelimitedList":
            given = template["_parameters"].get(value["Ref"], parameter.get("Default", ""))
            return str(given).split(",")
        return {k: _lists_given(template, v) for k, v in value.items()}
    if isinstance(value, list):
        return [_lists_given(template, item) for item in value]
    return value


def resolved(template: dict[str, Any], value: Any) -> Any:
    """A value as CloudFormation would hand it to IAM in the stack `PSEUDO` names: `evaluate`'s,
    with the pseudo parameters' Refs and every Fn::Sub of parameters and pseudo parameters
    substituted (a CommaDelimitedList parameter's Ref as its list)."""
    names = {
        **{k: str(v.get("Default", "")) for k, v in template["Parameters"].items()},
        **template["_parameters"],
        **PSEUDO,
    }
    value = evaluate(template, _lists_given(template, value))
    if isinstance(value, dict) and len(value) == 1:
        (key, argument), *_ = value.items()
        if key == "Ref" and argument in names:
            return names[argument]
        if key == "Fn::Sub":
            text, local = (argument, {}) if isinstance(argument, str) else argument
            known = {**names, **{k: resolved(template, v) for k, v in local.items()}}
            return re.sub(r"\$\{([^}]+)\}", lambda m: str(known[m[1]]), text)
    if isinstance(value, dict):
        return {k: resolved(template, v) for k, v in value.items()}
    if isinstance(value, list):
        return [resolved(template, item) for item in value]
    return value


def watched_alarms(template: dict[str, Any], group: str) -> set[str]:
    """The logical ids of the alarms a deployment group watches, listed by !Ref or by the name
    the alarm is given (AlarmName); a name no alarm of the stack carries fails the test, as it
    would stop every deployment (CodeDeploy cannot read the alarm's state)."""
    alarms = resources(template, "AWS::CloudWatch::Alarm")
    by_name = {
        json.dumps(alarm["Properties"]["AlarmName"]): name
        for name, alarm in alarms.items()
        if "AlarmName" in alarm["Properties"]
    }
    watched = set()
    configuration = evaluate(
        template, template["Resources"][group]["Properties"]["AlarmConfiguration"]
    )
    for alarm in configuration.get("Alarms", []):
        name = alarm["Name"]
        if isinstance(name, dict) and set(name) == {"Ref"}:
            assert name["Ref"] in alarms, (group, name)
            watched.add(name["Ref"])
        else:
            assert json.dumps(name) in by_name, f"{group} watches {name}: no alarm has that name"
            watched.add(by_name[json.dumps(name)])
    return watched


def test_every_function_has_an_errors_alarm() -> None:
    # Given the template as deployed
    template = _prod()
    functions = resources(template, "AWS::Lambda::Function")
    # When the alarms on Lambda errors are collected with the functions they watch
    watched = {
        name
        for alarm in resources(template, "AWS::CloudWatch::Alarm").values()
        if alarm["Properties"].get("MetricName") == "Errors"
        for dimension in alarm["Properties"]["Dimensions"]
        if dimension["Name"] == "FunctionName"
        for name in refs(dimension["Value"])
    }
    # Then each function (every projector variant included) is watched
    assert functions
    assert set(functions) - DEPLOY_ONLY <= watched, set(functions) - DEPLOY_ONLY - watched


def test_every_function_has_a_throttles_alarm() -> None:
    template = _prod()
    watched = {
        name
        for alarm in resources(template, "AWS::CloudWatch::Alarm").values()
        if alarm["Properties"].get("MetricName") == "Throttles"
        for dimension in alarm["Properties"]["Dimensions"]
        for name in refs(dimension["Value"])
    }
    assert set(resources(template, "AWS::Lambda::Function")) - DEPLOY_ONLY <= watched


def test_every_alarm_notifies_the_alarm_topic_and_says_why() -> None:
    template = _prod()
    alarms = resources(template, "AWS::CloudWatch::Alarm")
    assert len(alarms) >= 15
    for name, alarm in alarms.items():
        properties = alarm["Properties"]
        if name == "EmergencyDeployGate":  # never fires: its OK at creation would be noise
            assert "AlarmActions" not in properties
            assert "OKActions" not in properties
            continue
        assert properties.get("AlarmActions") == [{"Ref": "AlarmTopic"}], name
        assert properties.get("OKActions") == [{"Ref": "AlarmTopic"}], name
        description = evaluate(template, properties.get("AlarmDescription", ""))
        assert isinstance(description, str), name
        assert len(description) > 40, name


def test_every_alarm_has_a_page_in_the_operations_guide() -> None:
    guide = (ROOT / "docs" / "operations.md").read_text()
    anchors = set(re.findall(r"^### (\w+)$", guide, re.MULTILINE))
    template = _prod()
    for name, alarm in resources(template, "AWS::CloudWatch::Alarm").items():
        assert name in anchors, f"docs/operations.md has no section for {name}"
        description = evaluate(template, alarm["Properties"]["AlarmDescription"])
        assert f"docs/operations.md#{name.lower()}" in description


def test_the_memory_alarm_fires_while_a_rebuild_still_fits_beside_the_read_model() -> None:
    # Given a rebuild, which stages a second copy of the read model beside the first
    parameter = _source()["Parameters"]["ReadModelMemoryThresholdPercent"]
    # Then the memory alarm's default fires while that copy still fits (it fired at 80%, when
    # the runbook's rebuild could no longer run)
    assert 2 * int(parameter["Default"]) < 100


def test_the_guide_s_alarm_table_names_each_threshold_a_parameter_sets() -> None:
    # (the table said "> 80%" for an alarm whose threshold an operator sets by a parameter)
    guide = (ROOT / "docs" / "operations.md").read_text()
    rows = dict(re.findall(r"^\| \[(\w+)\]\(#\w+\) \|(.*)$", guide, re.MULTILINE))
    checked = 0
    for name, alarm in resources(_source(), "AWS::CloudWatch::Alarm").items():
        threshold = alarm["Properties"].get("Threshold")
        if isinstance(threshold, dict) and "Ref" in threshold:
            assert name in rows, f"the alarm table has no row for {name}"
            assert threshold["Ref"] in rows[name], f"{name}: its row does not name {threshold}"
            checked += 1
    assert checked >= 2


# What the guide calls each field of the HTTP access log (a field the template adds must be named
# here and in the guide: it may be personal data, and the guide says what is kept).
ACCESS_LOG_FIELDS = {
    "requestId": "request id",
    "ip": "client address",
    "time": "time",
    "routeKey": "route",
    "status": "status",
    "responseLength": "response length",
    "latencyMs": "latency",
    "integrationLatencyMs": "integration latency",
    "integrationError": "integration error",
    "userAgent": "User-Agent",
}


def test_the_guide_names_every_field_of_the_access_log() -> None:
    # (its row named five of ten: not the client's address nor its User-Agent)
    api = _source()["Resources"]["HttpApi"]["Properties"]
    fields = json.loads(api["AccessLogSettings"]["Format"])
    guide = (ROOT / "docs" / "operations.md").read_text()
    [named] = re.findall(r"^\| HTTP access log \|.*?per request \(([^)]*)\)", guide, re.MULTILINE)
    items = set(named.split(", "))
    for field in fields:
        assert field in ACCESS_LOG_FIELDS, f"say in the guide what the access log's {field} is"
        assert ACCESS_LOG_FIELDS[field] in items, f"the guide's access log row omits {field}"
    [kept] = re.findall(r"^\| the client's address and User-Agent .*$", guide, re.MULTILINE)
    assert "LogRetentionDays" in kept, "what is kept about attendees omits the log's lifetime"


@pytest.mark.parametrize("level", ["DEBUG", "INFO", "WARNING", "ERROR"])
def test_no_log_level_makes_lambda_drop_the_metrics_lines(level: str) -> None:
    # Given a stack whose functions log at `level`
    template = transformed(LogLevel=level)
    functions = resources(template, "AWS::Lambda::Function")
    assert functions
    for name, function in functions.items():
        properties = function["Properties"]
        # Then Powertools filters the functions' own lines at that level
        variables = properties["Environment"]["Variables"]
        assert evaluate(template, variables["POWERTOOLS_LOG_LEVEL"]) == level, name
        # And Lambda keeps every line at INFO (the metrics' EMF lines, which every custom alarm
        # reads, carry no level: Lambda files them as INFO, and dropped them at WARN)
        chosen = properties["LoggingConfig"]["ApplicationLogLevel"]
        (table, key, field), *_ = chosen.values()
        assert evaluate(template, key) == level, name
        lambda_level = template["Mappings"][table][level][field]
        assert lambda_level in ("TRACE", "DEBUG", "INFO"), (name, lambda_level)


@pytest.mark.parametrize("name", ["ProjectorFailures", "VoterTokenSecret"])
def test_what_cannot_be_made_again_outlives_the_stack(name: str) -> None:
    # The failure reports (the only pointers to ratings not counted) and the key that signed
    # the stored votes' tokens stay when the stack is deleted or the resource replaced
    resource = _source()["Resources"][name]
    assert resource["DeletionPolicy"] == "RetainExceptOnCreate"
    assert resource["UpdateReplacePolicy"] == "Retain"
    # (but for a first create that fails: nothing is in it yet, and the retry would find it left
    # behind under its name)


def test_deleting_the_stack_never_fails_on_the_web_bucket_and_the_guide_names_all_it_keeps() -> (
    None
):
    # Given the web bucket, versioned and filled by `make publish-web`: CloudFormation cannot
    # delete a bucket holding files, so the stack keeps it rather than ending in DELETE_FAILED
    bucket = _source()["Resources"]["WebBucket"]
    assert bucket["DeletionPolicy"] == "RetainExceptOnCreate"  # (empty when a first create fails)
    assert bucket["UpdateReplacePolicy"] == "Retain"
    # Then the guide's deletion section names every resource a deletion keeps, and how the
    # bucket is removed afterwards
    guide = (ROOT / "docs" / "operations.md").read_text()
    section = guide.split("### Deleting a stack\n", 1)[1].split("\n#", 1)[0]
    kept = {
        name
        for name, resource in _source()["Resources"].items()
        if resource.get("DeletionPolicy") in ("Retain", "RetainExceptOnCreate")
    }
    assert kept >= {"WebBucket", "ProjectorFailures", "VoterTokenSecret"}
    for name in kept:
        assert f"**{name}**" in section, name
    assert 'make remove-web-bucket STACK="$stack"' in section
    assert re.search(r"^remove-web-bucket: ", (ROOT / "Makefile").read_text(), re.MULTILINE)


def test_ratings_the_api_refuses_wholesale_are_told_and_a_closed_talk_s_stragglers_are_not() -> (
    None
):
    template = _prod()
    alarm = template["Resources"]["RatingsRefusedAlarm"]["Properties"]
    # Given its metrics, counted from the access log's POST /ratings lines
    filters = {
        f["Properties"]["MetricTransformations"][0]["MetricName"]: f["Properties"]
        for f in resources(template, "AWS::Logs::MetricFilter").values()
    }
    [stage] = resources(template, "AWS::ApiGatewayV2::Stage").values()
    format_ = stage["Properties"]["AccessLogSettings"]["Format"]
    posts, refused = filters["RatingPosts"], filters["RatingsRefused"]
    assert refs(posts["LogGroupName"]) == refs(refused["LogGroupName"]) == {"HttpApiAccessLogGroup"}

    def counted(route: str, status: str) -> tuple[bool, bool]:
        line = _access_line(format_, routeKey=route, status=status, integrationLatency="9")
        return _selects(posts["FilterPattern"], line), _selects(refused["FilterPattern"], line)

    # A rating answered 401, 403, 409 or 422 is sent and refused; 202 or 429 (a limit, which
    # the throttle alarm and the API's own limits are about) only sent; another route neither
    for status in ("401", "403", "409", "422"):
        assert counted("POST /ratings", status) == (True, True), status
    for status in ("202", "429", "503"):
        assert counted("POST /ratings", status) == (True, False), status
    assert counted("GET /ratings", "404") == (False, False)
    assert counted("POST /voters", "403") == (False, False)
    # Then every rating refused for five minutes (a replaced token key: all 401) is told
    refused = [{"RatingPosts": 300.0, "RatingsRefused": 300.0}] * 5
    assert _alarm_fires(alarm, refused)
    # And not a talk's stragglers after its close, a few minutes of them, or a quiet room
    stragglers = [{"RatingPosts": 300.0, "RatingsRefused": 40.0}] * 5
    short = [{"RatingPosts": 300.0, "RatingsRefused": 300.0}] * 4 + [{"RatingPosts": 300.0}]
    quiet = [{"RatingPosts": 10.0, "RatingsRefused": 10.0}] * 5
    for minutes in (stragglers, short, quiet):
        assert not _alarm_fires(alarm, minutes)


def test_a_failure_report_stays_hidden_while_an_operator_replays_it() -> None:
    [queue] = resources(_source(), "AWS::SQS::Queue").values()
    # (the guide's replay reads a report, replays it, which rebuilds the read model, then
    # deletes it: at SQS's default of 30 s it came back to another reader meanwhile)
    assert queue["Properties"]["VisibilityTimeout"] >= 600
    guide = (ROOT / "docs" / "operations.md").read_text()
    assert "--receipt-handle \"$(jq -r '.Messages[0].ReceiptHandle' message.json)\"" in guide


def test_prod_deploys_by_canary_and_dev_all_at_once() -> None:
    dev = transformed(Stage="dev")
    for template, expected in ((_prod(), "Canary10Percent5Minutes"), (dev, "AllAtOnce")):
        groups = resources(template, "AWS::CodeDeploy::DeploymentGroup")
        assert groups
        for name, group in groups.items():
            config = evaluate(template, group["Properties"]["DeploymentConfigName"])
            assert config == {
                "Fn::Sub": ["CodeDeployDefault.Lambda${ConfigName}", {"ConfigName": expected}]
            }, name


def test_an_emergency_deploy_moves_every_alias_at_once_watching_no_alarm() -> None:
    # Given a prod stack whose backends are down: every rollback alarm of the API and the
    # projector in ALARM, so a gated deploy of the fix would be stopped and rolled back
    emergency = transformed(
        Stage="prod", CorsAllowOrigin="https://talkrate.example", EmergencyDeploy="true"
    )
    groups = resources(emergency, "AWS::CodeDeploy::DeploymentGroup")
    assert set(groups) == set(resources(_prod(), "AWS::CodeDeploy::DeploymentGroup"))
    for name, group in groups.items():
        # Then, deployed with EmergencyDeploy=true, each alias moves at once
        config = evaluate(emergency, group["Properties"]["DeploymentConfigName"])
        assert config == {
            "Fn::Sub": ["CodeDeployDefault.Lambda${ConfigName}", {"ConfigName": "AllAtOnce"}]
        }, name
        # And CodeDeploy watches no alarm that could stop it: the rollback alarms replaced by one
        # on a metric nothing emits (an empty list gave an empty AlarmConfiguration, which
        # CloudFormation's update may leave the group's alarms under)
        assert evaluate(emergency, group["Properties"]["AlarmConfiguration"]) == {
            "Enabled": True,
            "Alarms": [{"Name": {"Ref": "EmergencyDeployGate"}}],
        }, name
        assert watched_alarms(emergency, name) == {"EmergencyDeployGate"}, name
        # While the default deploy stays gated by its alarms
        assert watched_alarms(_prod(), name), name
    gate = emergency["Resources"]["EmergencyDeployGate"]["Properties"]
    assert (gate["Namespace"], gate["MetricName"], gate["TreatMissingData"]) == (
        {"Fn::Sub": "talkrate/${AWS::StackName}"},
        "NeverEmitted",
        "notBreaching",
    )
    emitted = [
        path
        for folder in ("layers", "functions", "local", "cli", "ops")
        for path in (ROOT / folder).rglob("*.py")
        if "NeverEmitted" in path.read_text(encoding="utf-8")
    ]
    assert emitted == []
    # And the pipeline sets the gate back on every deploy, so it never stays off unnoticed
    workflow = (ROOT / ".github" / "workflows" / "deploy.yml").read_text()
    deploys = workflow.split("--parameter-overrides")[1:]
    assert len(deploys) == 2
    assert all(
        '"EmergencyDeploy=$EMERGENCY_DEPLOY"' in deploy.split("\n      - ")[0] for deploy in deploys
    )
    # And the guide's runbooks say how to deploy so and how to turn it off again
    guide = (ROOT / "docs" / "operations.md").read_text()
    assert "EmergencyDeploy=true" in guide
    assert "EmergencyDeploy=false" in guide
    assert "(#emergency-deploy-a-fix-while-the-rollback-alarms-fire)" in guide


def test_each_deployment_rolls_back_on_its_functions_errors_alarm() -> None:
    template = _prod()
    alarms = resources(template, "AWS::CloudWatch::Alarm")
    groups = resources(template, "AWS::CodeDeploy::DeploymentGroup")
    for name, group in groups.items():
        configuration = evaluate(template, group["Properties"]["AlarmConfiguration"])
        assert configuration["Enabled"] is True, name
        named = watched_alarms(template, name)
        assert any(alarms[a]["Properties"].get("MetricName") == "Errors" for a in named), name
        assert (
            "DEPLOYMENT_STOP_ON_ALARM" in group["Properties"]["AutoRollbackConfiguration"]["Events"]
        )
    # every function but the authorizer (the HTTP API calls its ARN, not an alias) deploys by alias
    functions = set(resources(template, "AWS::Lambda::Function"))
    aliased = {name.removesuffix("Aliaslive") for name in resources(template, "AWS::Lambda::Alias")}
    assert functions - aliased == {"AdminAuthorizerFunction"} | DEPLOY_ONLY


def test_every_log_group_has_a_retention_and_every_function_its_log_group() -> None:
    template = _prod()
    groups = resources(template, "AWS::Logs::LogGroup")
    for name, group in groups.items():
        assert group["Properties"].get("RetentionInDays") == {"Ref": "LogRetentionDays"}, name
    for name, function in resources(template, "AWS::Lambda::Function").items():
        logging = function["Properties"].get("LoggingConfig", {})
        assert logging.get("LogFormat") == "JSON", name
        assert refs(logging.get("LogGroup")) & set(groups), f"{name} logs to no group of the stack"


def test_http_api_writes_an_access_log_to_a_group_with_a_retention() -> None:
    template = _prod()
    stages = resources(template, "AWS::ApiGatewayV2::Stage")
    assert stages
    for stage in stages.values():
        settings = stage["Properties"]["AccessLogSettings"]
        assert refs(settings["DestinationArn"]) == {"HttpApiAccessLogGroup"}
        assert "$context.requestId" in settings["Format"]


def test_every_function_has_a_reserved_concurrency_parameter() -> None:
    template = _prod()
    for name, function in resources(template, "AWS::Lambda::Function").items():
        if name in DEPLOY_ONLY:
            continue
        reserved = evaluate(template, function["Properties"]["ReservedConcurrentExecutions"])
        assert isinstance(reserved, str), name
        assert int(reserved) > 0, name
    unreserved = transformed(ApiReservedConcurrency="0")
    api = unreserved["Resources"]["ApiFunction"]["Properties"]["ReservedConcurrentExecutions"]
    assert evaluate(unreserved, api) == {"Ref": "AWS::NoValue"}


def test_the_guide_states_the_concurrency_the_defaults_reserve_and_the_limit_they_need() -> None:
    # Given the functions a stack deploys and the concurrency each reserves by default
    template = transformed()
    reserved = {}
    for name, function in resources(template, "AWS::Lambda::Function").items():
        condition = function.get("Condition")
        if condition and not evaluate(template, template["Conditions"][condition]):
            continue
        value = evaluate(template, function["Properties"].get("ReservedConcurrentExecutions"))
        if isinstance(value, str):
            reserved[name] = int(value)
    holding_connections = sum(
        count
        for name, count in reserved.items()
        if name in ("ApiFunction", "RelayFunction") or name.startswith("Projector")
    )
    total = sum(reserved.values())
    # Then the guide says what they reserve, and the account limit that leaves Lambda's 100
    # unreserved (a deploy below it fails creating the functions)
    guide = " ".join((ROOT / "docs" / "operations.md").read_text().split())
    stated = {
        (tuple(sorted(int(part) for part in terms.split(" + "))), int(result))
        for terms, result in re.findall(r"((?:\d+ \+ )+\d+) = (\d+) by default", guide)
    }
    assert any(result == holding_connections for _, result in stated), stated
    assert (tuple(sorted(reserved.values())), total) in stated, (reserved, stated)
    assert f"a limit of at least {total + 100}" in guide


def test_the_api_and_the_projector_resume_from_snapstart_snapshots() -> None:
    template = _prod()
    functions = resources(template, "AWS::Lambda::Function")
    snapped = {
        name
        for name, function in functions.items()
        if evaluate(template, function["Properties"].get("SnapStart"))
        == {"ApplyOn": "PublishedVersions"}
    }
    assert snapped == {
        "ApiFunction",
        "ProjectorFunction",
        "ProjectorVpcFunction",
        "ProjectorMskFunction",
    }


# What a statement that reaches a service is read against (beside the service's own prefix): its
# actions the checks care about, which a wildcard (`lambda:Invoke*`, `*`) grants as surely.
INVOKING = ("lambda:InvokeFunction",)
LOGGING = ("logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents")
READING_SECRETS = ("secretsmanager:GetSecretValue",)
PUBLISHING = ("appsync:EventPublish", "appsync:EventConnect", "appsync:EventSubscribe")
STREAMING = ("kafka-cluster:ReadData", "kafka-cluster:WriteData", "kafka-cluster:AlterGroup")


def test_the_api_may_invoke_exactly_the_stats_and_relay_aliases() -> None:
    template = _prod()
    role = template["Resources"]["ApiFunctionRole"]["Properties"]
    policies = [evaluate(template, policy) for policy in role["Policies"]]
    statements = [
        statement
        for policy in policies
        if "PolicyDocument" in policy
        for statement in policy["PolicyDocument"]["Statement"]
        if reaches(statement, "lambda", INVOKING)
    ]
    assert [s["Resource"] for s in statements] == [
        {"Fn::Sub": "${StatsFunction.Arn}:live"},
        # a read that finds the read model lost asks RelayFunction to rebuild it
        {"Fn::Sub": "${RelayFunction.Arn}:live"},
    ]
    assert all(s["Action"] == "lambda:InvokeFunction" for s in statements)
    variables = template["Resources"]["ApiFunction"]["Properties"]["Environment"]["Variables"]
    assert variables["REBUILD_FUNCTION_NAME"] == {"Fn::Sub": "${RelayFunction}:live"}


def test_what_no_route_takes_goes_to_the_api_unguarded_throttled_and_never_as_options() -> None:
    # Given the HTTP API as SAM deploys it (its OpenAPI body and its stage)
    template = _prod()
    [api] = resources(template, "AWS::ApiGatewayV2::Api").values()
    paths = api["Properties"]["Body"]["paths"]
    [stage] = resources(template, "AWS::ApiGatewayV2::Stage").values()
    throttled = stage["Properties"]["RouteSettings"]
    default = stage["Properties"]["DefaultRouteSettings"]
    # Then no route takes OPTIONS (ANY included) and there is no $default: API Gateway answers
    # every CORS preflight itself, without the organisers' authorizer
    methods = {method for operations in paths.values() for method in operations}
    assert not methods & {"options", "x-amazon-apigateway-any-method"}
    assert "$default" not in paths
    # And the catch-all routes reach ApiFunction without an authorizer, each with a throttle of
    # its own below the stage's, so stray requests cannot take the API's reserved concurrency
    unrouted = [("/{proxy+}", m) for m in ("get", "post", "put", "patch", "delete")]
    unrouted += [("/", m) for m in ("post", "put", "patch", "delete")]
    for path, method in unrouted:
        operation = paths[path][method]
        assert "security" not in operation, (method, path)
        assert "ApiFunction" in json.dumps(operation["x-amazon-apigateway-integration"])
        limits = throttled[f"{method.upper()} {path}"]
        for key in ("ThrottlingRateLimit", "ThrottlingBurstLimit"):
            assert limits[key] < int(evaluate(template, default[key])), (method, path, key)


# The stage's throttle and the parameter that sets each of its limits.
STAGE_THROTTLE = {
    "ThrottlingRateLimit": "ApiThrottleRateLimit",
    "ThrottlingBurstLimit": "ApiThrottleBurstLimit",
}


def _stage_limits(template: dict[str, Any]) -> dict[str, int]:
    [stage] = resources(template, "AWS::ApiGatewayV2::Stage").values()
    default = stage["Properties"]["DefaultRouteSettings"]
    return {key: int(evaluate(template, default[key])) for key in STAGE_THROTTLE}


def test_an_operator_raises_the_stage_throttle_by_parameter_and_its_alarm_quotes_it() -> None:
    # Given the stage as a deploy without the parameters makes it: the limits it always had
    assert _stage_limits(_prod()) == {"ThrottlingRateLimit": 100, "ThrottlingBurstLimit": 200}
    # When a deploy raises them for a keynote (no edit of the template)
    raised = transformed(
        Stage="prod",
        CorsAllowOrigin="https://talkrate.example",
        ApiThrottleRateLimit="400",
        ApiThrottleBurstLimit="1000",
    )
    # Then the stage takes them
    assert _stage_limits(raised) == {"ThrottlingRateLimit": 400, "ThrottlingBurstLimit": 1000}
    # And the alarm on the stage's 429s tells the limit the stack has now
    alarm = raised["Resources"]["HttpApiThrottledAlarm"]["Properties"]
    assert "(400 requests a second, bursts of 1000)" in evaluate(raised, alarm["AlarmDescription"])


def test_the_stage_throttle_s_bounds_keep_it_above_the_catch_all_routes_and_within_the_quota() -> (
    None
):
    source = _source()
    events = source["Resources"]["ApiFunction"]["Properties"]["Events"]
    routes = [
        e["Properties"]["RouteSettings"]
        for e in events.values()
        if "RouteSettings" in e["Properties"]
    ]
    assert routes
    # API Gateway's default account quotas per Region: 10,000 a second, bursts of 5,000
    quota = {"ThrottlingRateLimit": 10_000, "ThrottlingBurstLimit": 5_000}
    for key, name in STAGE_THROTTLE.items():
        parameter = source["Parameters"][name]
        assert parameter["Type"] == "Number", name
        assert len(parameter["Description"]) > 40, name
        # No value an operator may give puts the stage below a catch-all route's own limit
        assert parameter["MinValue"] > max(route[key] for route in routes), name
        assert parameter["MinValue"] <= parameter["Default"] <= parameter["MaxValue"] <= quota[key]


def test_the_guide_says_how_to_raise_the_stage_throttle_mid_event() -> None:
    guide = (ROOT / "docs" / "operations.md").read_text()
    [section] = re.findall(
        r"^### HttpApiThrottledAlarm\n(.*?)(?=^### )", guide, re.MULTILINE | re.DOTALL
    )
    # (it said to raise the limits "in HttpApi's route settings": an edit of the template; then
    # a `sam deploy` from a checkout, which uploads the code again and publishes every function)
    [command] = re.findall(r"`(make stage-throttle [^`]*)`", section)
    for option in ("RATE=", "BURST=", "RESERVED=", "STATS="):
        assert option in command, option
    assert "route settings" not in section
    script = (ROOT / "scripts" / "stage_throttle.py").read_text()
    for name in (*STAGE_THROTTLE.values(), "ApiReservedConcurrency", "StatsReservedConcurrency"):
        assert f'"{name}"' in script, name


def test_the_guide_raises_each_limit_with_a_command_that_takes_it() -> None:
    # Given the Edge4xxAlarm runbook, which tells how to raise the per-address limits mid-event
    guide = (ROOT / "docs" / "operations.md").read_text()
    [section] = re.findall(r"^### Edge4xxAlarm\n(.*?)(?=^##+ )", guide, re.MULTILINE | re.DOTALL)
    script = (ROOT / "scripts" / "stage_throttle.py").read_text()
    # Then each limit it names is raised by a command it gives that takes that parameter (it
    # said "as for HttpApiThrottledAlarm", whose make stage-throttle takes --rate, --burst and
    # --reserved only)
    commands = re.findall(r"`((?:sam deploy|make stage-throttle) [^`]*)`", section)
    for parameter in ("RatingsPerAddressPerMinute", "VotersPerAddressPerMinute"):
        assert parameter in section
        assert f'"{parameter}"' not in script  # not one of stage-throttle's
        assert any(c.startswith("sam deploy") and f"{parameter}=" in c for c in commands), commands
    # And it says what a new version means mid-event: the limits are in ApiFunction's version
    # description, and in prod a canary keeps most requests on the old limits for five minutes
    assert "VersionDescription" in section
    assert "canary" in section
    assert "90%" in section


@pytest.mark.parametrize(
    "parameter",
    [
        "TalksConnection",
        "RatingsConnection",
        "KafkaUsername",
        "KafkaPassword",
        "KafkaBootstrapServers",
    ],
)
def test_connection_parameters_refuse_control_characters(parameter: str) -> None:
    pattern = re.compile(_source()["Parameters"][parameter]["AllowedPattern"])
    assert pattern.fullmatch(REQUIRED[parameter])
    for bad in ("a\nb", "a\rb", "a\x00b", "a\x1bb", "a\x7fb", 'a"b', "a\\b"):
        assert not pattern.fullmatch(bad), repr(bad)


@pytest.mark.parametrize(
    "dsn",
    [
        "postgresql://talkrate:pw@db.example:5432/talkrate",
        "postgres://talkrate:p%40ss@db.example/talkrate?sslmode=verify-full",
        "postgresql://db.example:5432/talkrate?user=talkrate&password=pw",
        "host=db.example port=5432 dbname=talkrate user=talkrate password=pw",
        "host=db.example dbname=talkrate user=talkrate password='with space' sslmode=require",
        " host = db.example  password=it's ",
    ],
)
def test_talks_connection_takes_a_url_or_keyword_settings(dsn: str) -> None:
    from psycopg2.extensions import parse_dsn

    pattern = re.compile(_source()["Parameters"]["TalksConnection"]["AllowedPattern"])
    assert pattern.fullmatch(dsn)
    parse_dsn(dsn)  # libpq reads it too


@pytest.mark.parametrize(
    "dsn",
    [
        "postgresql//talkrate:S3cretPw@db.example:5432/talkrate",
        "talkrate:S3cretPw@db.example:5432/talkrate",
        "postgres:/u:S3cretPw@db/x",
        "u/S3cretPw@db:5432/x",
        "postgresql:/talkrate:S3cretPw@db.example/talkrate",
        "Postgresql://talkrate:S3cretPw@db.example/talkrate",
        "db.example:5432",
    ],
)
def test_talks_connection_refuses_a_string_of_neither_form(dsn: str) -> None:
    # Given a connection string that is neither a URL (its "://" lost, or no scheme) nor
    # keyword settings: libpq quotes such a string whole in its error, password and all
    from psycopg2 import ProgrammingError
    from psycopg2.extensions import parse_dsn

    with pytest.raises(ProgrammingError):
        parse_dsn(dsn)
    # Then the template refuses it before anything is deployed (it took any text)
    pattern = re.compile(_source()["Parameters"]["TalksConnection"]["AllowedPattern"])
    assert not pattern.fullmatch(dsn)


def unconditional_refs(value: Any) -> set[str]:
    """The logical ids a value refers to outside any Fn::If (those must exist whatever the
    parameters)."""
    found: set[str] = set()
    if isinstance(value, list):
        for item in value:
            found |= unconditional_refs(item)
    elif isinstance(value, dict) and "Fn::If" not in value:
        for key, item in value.items():
            if key == "Ref" and isinstance(item, str):
                found.add(item)
            elif key == "Fn::GetAtt":
                found.add(item[0] if isinstance(item, list) else str(item).split(".")[0])
            elif key == "Fn::Sub":
                text, variables = (item[0], item[1]) if isinstance(item, list) else (item, {})
                names = {n.split(".")[0] for n in re.findall(r"\$\{([^!}]+)\}", text)}
                found |= (names - set(variables)) | unconditional_refs(variables)
            else:
                found |= unconditional_refs(item)
    return found


def test_nothing_that_always_exists_depends_on_a_resource_that_may_not() -> None:
    # Given the conditional resources (the projector's variants, the alarm e-mail, ...)
    template = _prod()
    conditional = {k for k, v in template["Resources"].items() if "Condition" in v}
    assert {"ProjectorFunction", "ProjectorVpcFunction", "ProjectorMskFunction"} <= conditional
    # Then a resource or output without a condition names them only inside an Fn::If
    for name, resource in {**template["Resources"], **template.get("Outputs", {})}.items():
        if "Condition" in resource:
            continue
        assert not unconditional_refs(resource) & conditional, name


def test_every_deploy_applies_the_schema_before_the_functions_that_read_it() -> None:
    template = _prod()
    schema = template["Resources"]["DatabaseSchema"]
    # CloudFormation asks SchemaFunction, and asks again whenever the shared layer (which holds
    # schema.sql) or the connection secret is replaced, or SchemaRun is given a new value (a
    # secret's new value changes no property CloudFormation compares)
    assert refs(schema["Properties"]["ServiceToken"]) == {"SchemaFunction"}
    layers = set(resources(template, "AWS::Lambda::LayerVersion"))
    assert layers
    assert refs(schema["Properties"]) >= layers | {"ConnectionsSecret", "SchemaRun"}
    # and it hears whether the deploy is an emergency's (which goes on without the schema while
    # the database is down), so the next deploy, false again, asks again
    assert refs(schema["Properties"]["Emergency"]) == {"EmergencyDeploy"}
    # and every function that reads or writes the tables waits for it
    for name in ("ApiFunction", "ProjectorFunction", "RelayFunction"):
        depends = template["Resources"][name].get("DependsOn", [])
        assert "DatabaseSchema" in ([depends] if isinstance(depends, str) else depends), name


def test_the_schema_function_may_read_the_connection_secret_and_write_its_logs_only() -> None:
    template = _prod()
    role = template["Resources"]["SchemaFunctionRole"]["Properties"]
    statements = [
        statement
        for policy in (evaluate(template, p) for p in role["Policies"])
        if "PolicyDocument" in policy
        for statement in policy["PolicyDocument"]["Statement"]
    ]
    stack = set(template["Resources"])
    assert [(s["Action"], refs(s["Resource"]) & stack) for s in statements] == [
        (["logs:CreateLogStream", "logs:PutLogEvents"], {"SchemaLogGroup"}),
        (["secretsmanager:GetSecretValue"], {"ConnectionsSecret"}),
    ]
    assert "*" not in json.dumps([s["Resource"] for s in statements])


def test_the_api_knows_the_requests_cloudfront_forwards_and_their_viewer() -> None:
    # Given the template as deployed
    template = _prod()
    [distribution] = resources(template, "AWS::CloudFront::Distribution").values()
    origins = distribution["Properties"]["DistributionConfig"]["Origins"]
    [api_origin] = [o for o in origins if o["Id"] == "api"]
    # Then CloudFront adds the edge header to what it forwards to the API, from a generated
    # secret the template only refers to
    [header] = api_origin["OriginCustomHeaders"]
    assert header["HeaderName"] == "X-Talkrate-Edge"
    value = header["HeaderValue"]["Fn::Sub"]
    assert value == "{{resolve:secretsmanager:${EdgeSecret}:SecretString}}"
    # (resolved when the distribution is updated: a rotation's deploy changes its comment)
    comment = distribution["Properties"]["DistributionConfig"]["Comment"]["Fn::Sub"]
    assert "${EdgeSecretRotation}" in comment
    assert (
        len(comment.replace("${EdgeSecretRotation}", "x" * 32).replace("${Stage}", "prod")) <= 128
    )
    secret = template["Resources"]["EdgeSecret"]
    assert secret["Type"] == "AWS::SecretsManager::Secret"
    assert "GenerateSecretString" in secret["Properties"]
    # And the API reads that secret (its ARN in the environment, and the right to read it)
    function = template["Resources"]["ApiFunction"]["Properties"]
    assert refs(function["Environment"]["Variables"]["EDGE_SECRET_ARN"]) == {"EdgeSecret"}
    role = template["Resources"][function["Role"]["Fn::GetAtt"][0]]
    readable = [
        refs(statement["Resource"])
        for policy in role["Properties"]["Policies"]
        if "PolicyDocument" in policy  # the policies of every deployment, not those of an If
        for statement in policy["PolicyDocument"]["Statement"]
        if "secretsmanager:GetSecretValue" in str(statement["Action"])
    ]
    assert any("EdgeSecret" in names for names in readable)
    # And the viewer's address reaches the API as a header CloudFront's own function sets on
    # every API request (the policy forwards viewer headers, not CloudFront's)
    behavior = distribution["Properties"]["DistributionConfig"]["DefaultCacheBehavior"]
    [association] = behavior["FunctionAssociations"]
    assert association["EventType"] == "viewer-request"
    assert refs(association["FunctionARN"]) == {"ApiViewerAddress"}
    code = template["Resources"]["ApiViewerAddress"]["Properties"]["FunctionCode"]
    assert "request.headers['x-talkrate-viewer'] = { value: event.viewer.ip }" in code


def test_changing_the_event_code_leaves_the_voter_token_key_alone() -> None:
    # Given the stack deployed without an event code, then with one (organisers set or change
    # it during a conference)
    before, after = transformed(), transformed(VoterCode="hall-a-2026")
    # Then the generated key's secret is declared the same either way: CloudFormation
    # generates a new value whenever GenerateSecretString changes, which ended every attendee's
    # token (and warm API containers, which read the key at cold start, kept the old one)
    key_before = before["Resources"]["VoterTokenSecret"]["Properties"]
    key_after = after["Resources"]["VoterTokenSecret"]["Properties"]
    assert "GenerateSecretString" in key_after
    assert key_before == key_after
    assert not refs(key_after) & set(after["Parameters"])
    # And the event code the API reads follows the parameter, from a secret of its own
    function = after["Resources"]["ApiFunction"]["Properties"]
    variables = function["Environment"]["Variables"]
    [code_secret] = refs(variables["VOTER_CODE_SECRET_ARN"])
    stored = after["Resources"][code_secret]["Properties"]["SecretString"]
    assert refs(stored) == {"VoterCode"}
    role = after["Resources"][function["Role"]["Fn::GetAtt"][0]]
    readable = [
        refs(statement["Resource"])
        for policy in role["Properties"]["Policies"]
        if "PolicyDocument" in policy
        for statement in policy["PolicyDocument"]["Statement"]
        if "secretsmanager:GetSecretValue" in str(statement["Action"])
    ]
    assert any(code_secret in names for names in readable)


def test_the_outputs_name_the_secrets_an_operator_reads_and_never_a_secret_s_value() -> None:
    # Given the stack as deployed
    template = _prod()
    outputs = template["Outputs"]
    # Then an output names the secret the admin authorizer checks organisers' tokens against,
    # and one the secret the API signs voter tokens with (they had none: after the first
    # deploy nobody could tell organisers their token, nor give `ops forget-voter` its key)
    for output, function, variable in (
        ("AdminTokenSecretArn", "AdminAuthorizerFunction", "ADMIN_TOKEN_SECRET_ARN"),
        ("VoterTokenSecretArn", "ApiFunction", "VOTER_TOKEN_SECRET_ARN"),
        ("EdgeSecretArn", "ApiFunction", "EDGE_SECRET_ARN"),
    ):
        [secret] = refs(outputs[output]["Value"])
        assert outputs[output]["Value"] == {"Ref": secret}, output  # a secret's Ref: its ARN
        assert template["Resources"][secret]["Type"] == "AWS::SecretsManager::Secret"
        read = template["Resources"][function]["Properties"]["Environment"]["Variables"]
        assert read[variable] == {"Ref": secret}, output
    # And no output carries what a secret holds (a dynamic reference, or an attribute of one)
    secrets = set(resources(template, "AWS::SecretsManager::Secret"))
    for name, output in outputs.items():
        assert "resolve:secretsmanager" not in json.dumps(output), name
        value = output["Value"]
        assert not (isinstance(value, dict) and refs(value) & secrets and "Ref" not in value), name
    # And the guide's recipes read them by those names
    guide = (ROOT / "docs" / "operations.md").read_text()
    named = set(re.findall(r"\$\(output (\w+)\)", guide))
    assert {"AdminTokenSecretArn", "VoterTokenSecretArn", "EdgeSecretArn"} <= named
    assert named - {"OpsBastionInstanceId"} <= set(outputs), named - set(outputs)


def test_the_dashboard_reads_http_api_metrics_by_the_dimensions_they_carry() -> None:
    # An HTTP API publishes by ApiId; ApiId and Stage; or ApiId, Method, Resource and Stage
    # (detailed metrics): a widget asking another set shows nothing.
    template = _prod()
    [dashboard] = resources(template, "AWS::CloudWatch::Dashboard").values()
    sub = dashboard["Properties"]["DashboardBody"]["Fn::Sub"]
    body = sub[0] if isinstance(sub, list) else sub
    allowed = ({"ApiId"}, {"ApiId", "Stage"}, {"ApiId", "Method", "Resource", "Stage"})
    widgets = json.loads(re.sub(r"\$\{[^}]+\}", "x", body))["widgets"]
    gateway = [
        metric
        for widget in widgets
        for metric in widget.get("properties", {}).get("metrics", [])
        if metric and metric[0] == "AWS/ApiGateway"
    ]
    assert gateway, body[:200]
    for metric in gateway:
        names = [item for item in metric[2:] if isinstance(item, str)][::2]
        assert set(names) in allowed, metric


def test_the_dashboard_shows_every_alarm_the_stack_always_has() -> None:
    # An operator looks at one widget to see what is wrong: an alarm left out of it is missed
    template = _prod()
    [dashboard] = resources(template, "AWS::CloudWatch::Dashboard").values()
    body, variables = dashboard["Properties"]["DashboardBody"]["Fn::Sub"]
    widgets = json.loads(re.sub(r"\$\{[^}]+\}", lambda m: m.group(0).replace('"', ""), body))
    [listed] = [w["properties"]["alarms"] for w in widgets["widgets"] if w["type"] == "alarm"]
    shown = {variables[name[2:-1]]["Fn::GetAtt"][0] for name in listed}
    always = {
        name
        for name, alarm in resources(template, "AWS::CloudWatch::Alarm").items()
        if "Condition" not in alarm and name != "EmergencyDeployGate"  # (never fires)
    }
    assert always - shown == set()
    assert shown <= always


# --- Canary rollbacks: the alarms a deployment group watches, fed minutes of metrics -----------


def _minute_value(properties: dict[str, Any], minute: dict[str, float]) -> float | None:
    """What the alarm's metric (or its metric math) reads in one minute of `minute`'s metrics,
    keyed by metric name; None when it has no datapoint."""
    if "MetricName" in properties:
        return minute.get(properties["MetricName"])
    inputs = {
        m["Id"]: m["MetricStat"]["Metric"]["MetricName"]
        for m in properties["Metrics"]
        if "MetricStat" in m
    }
    [returned] = [m["Expression"] for m in properties["Metrics"] if m.get("ReturnData")]
    # FILL(id, value): the value stands in for a minute without a datapoint of that metric
    filled = {
        ident: float(value) for ident, value in re.findall(r"FILL\((\w+), ([\d.]+)\)", returned)
    }
    returned = re.sub(r"FILL\((\w+), [\d.]+\)", r"\1", returned)
    if any(name not in minute for ident, name in inputs.items() if ident not in filled):
        return None  # API Gateway publishes nothing for a minute without requests
    # Metric math of the form the template uses: IF(), comparisons and arithmetic on the ids.
    namespace = {"IF": lambda test, yes, no: yes if test else no}
    namespace |= {ident: minute.get(name, filled.get(ident)) for ident, name in inputs.items()}
    value: float = eval(returned, {"__builtins__": {}}, namespace)  # noqa: S307 - the template's own text
    return value


def _alarm_fires(properties: dict[str, Any], minutes: list[dict[str, float]]) -> bool:
    """Whether the alarm is in ALARM after these minutes (TreatMissingData notBreaching)."""
    compare = {
        "GreaterThanThreshold": float.__gt__,
        "GreaterThanOrEqualToThreshold": float.__ge__,
        "LessThanThreshold": float.__lt__,
    }[properties["ComparisonOperator"]]
    assert properties["TreatMissingData"] == "notBreaching"
    window = minutes[-int(properties["EvaluationPeriods"]) :]
    values = [_minute_value(properties, minute) for minute in window]
    breaching = sum(
        1
        for value in values
        if value is not None and compare(float(value), float(properties["Threshold"]))
    )
    return breaching >= int(properties.get("DatapointsToAlarm", properties["EvaluationPeriods"]))


def _rollback_alarms(template: dict[str, Any], function: str) -> dict[str, dict[str, Any]]:
    return {
        name: template["Resources"][name]["Properties"]
        for name in watched_alarms(template, f"{function}DeploymentGroup")
    }


def test_an_api_canary_answering_503_at_low_traffic_is_rolled_back() -> None:
    # Given the API's canary in prod, and a quiet hour: 15 requests a minute, the canary's 10%
    # (2 a minute) answered 503 by a new version that raises nothing
    alarms = _rollback_alarms(_prod(), "ApiFunction")
    quiet = [{"Count": 15.0, "5xx": 2.0, "Errors": 0.0}] * 5
    # Then an alarm the deployment watches fires
    assert any(_alarm_fires(alarm, quiet) for alarm in alarms.values()), list(alarms)
    # And a stray 5xx at a quiet hour, or 1% of a busy one, rolls nothing back
    stray = [{"Count": 10.0, "5xx": 1.0, "Errors": 0.0}] + [{"Count": 10.0, "5xx": 0.0}] * 4
    busy = [{"Count": 1000.0, "5xx": 10.0, "Errors": 0.0}] * 5
    for minutes in (stray, busy):
        assert not any(_alarm_fires(alarm, minutes) for alarm in alarms.values())


@pytest.mark.parametrize(
    ("function", "parameters"),
    [
        ("ProjectorFunction", {}),
        ("ProjectorVpcFunction", {"SubnetIds": "subnet-1,subnet-2", "SecurityGroupIds": "sg-1"}),
        ("ProjectorMskFunction", {"KafkaProvider": "MSK", "MskClusterArn": "arn:aws:kafka:x"}),
    ],
)
def test_a_projector_canary_that_dead_letters_everything_is_rolled_back(
    function: str, parameters: dict[str, str]
) -> None:
    # Given a projector version that fails no batch but sets every record it gets aside
    alarms = _rollback_alarms(_prod() if not parameters else transformed(**parameters), function)
    everything = [{"DeadLetters": 12.0, "RatingsProjected": 0.0, "Errors": 0.0}] * 5
    # Then an alarm its deployment watches fires
    assert any(_alarm_fires(alarm, everything) for alarm in alarms.values()), list(alarms)
    # And one malformed record from another producer rolls nothing back
    stray = [{"DeadLetters": 1.0, "RatingsProjected": 40.0, "Errors": 0.0}] + [
        {"DeadLetters": 0.0, "RatingsProjected": 40.0, "Errors": 0.0}
    ] * 4
    assert not any(_alarm_fires(alarm, stray) for alarm in alarms.values())


@pytest.mark.parametrize(
    ("days_left", "fires"), [(30, False), (14.5, False), (13, True), (-1, True)]
)
def test_the_pages_api_key_warns_two_weeks_before_it_expires(days_left: float, fires: bool) -> None:
    # Given a deploy that sets the key's expiry, as the pipeline does
    expires = "1800000000"
    template = transformed(
        Stage="prod", CorsAllowOrigin="https://x.example", LiveApiKeyExpires=expires
    )
    # Then the relay, which runs every minute, is told the expiry the key got
    relay = template["Resources"]["RelayFunction"]["Properties"]
    assert evaluate(template, relay["Environment"]["Variables"]["LIVE_API_KEY_EXPIRES"]) == expires
    assert (
        evaluate(template, template["Resources"]["LiveApiKey"]["Properties"]["Expires"]) == expires
    )
    settings = settings_from({"LIVE_API_KEY_EXPIRES": expires})
    assert settings.live_api_key_expires is not None
    # And the metric it reports, read by an alarm of the stack, fires under 14 days
    now = settings.live_api_key_expires - days_left * 86_400
    reading = api_key_days_left(settings.live_api_key_expires, now)
    [alarm] = [
        a["Properties"]
        for a in resources(template, "AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("MetricName") == API_KEY_DAYS_LEFT_METRIC
    ]
    assert alarm["Namespace"] == OWN_NAMESPACE
    assert _alarm_fires(alarm, [{API_KEY_DAYS_LEFT_METRIC: reading}]) is fires


def test_without_a_known_expiry_the_relay_reports_no_days_left() -> None:
    # LiveApiKeyExpires=default: AppSync's 7 days from the key's creation, a date no parameter holds
    template = _prod()
    relay = template["Resources"]["RelayFunction"]["Properties"]
    blank = evaluate(template, relay["Environment"]["Variables"]["LIVE_API_KEY_EXPIRES"])
    assert settings_from({"LIVE_API_KEY_EXPIRES": blank}).live_api_key_expires is None


def test_only_the_api_bounds_its_wait_for_postgresql_within_its_timeout() -> None:
    # The API answers 503 itself when a statement goes unanswered; the projector keeps COPY (an
    # asynchronous, bounded connection has none) and its batch is bounded by its own timeout.
    template = _prod()
    bounded = {}
    for name, function in resources(template, "AWS::Lambda::Function").items():
        variables = function["Properties"].get("Environment", {}).get("Variables", {})
        if "TALKS_TIMEOUT_SECONDS" in variables:
            read = {"TALKS_TIMEOUT_SECONDS": variables["TALKS_TIMEOUT_SECONDS"]}
            bounded[name] = Settings.model_validate(read).talks_timeout_seconds
    assert set(bounded) == {"ApiFunction"}
    # The slowest 503: the talk's read answered at the end of its bound (its connect and LISTEN
    # included), Kafka's budget, then the outbox's INSERT given up on at the end of its own and
    # cancelled; a second of cold start beside.
    bound = bounded["ApiFunction"]
    slowest = bound + Settings.publish_timeout_seconds + bound + CANCEL_WAIT_SECONDS
    assert slowest + 1 <= template["Resources"]["ApiFunction"]["Properties"]["Timeout"]


# --- Least privilege: each role gets what its function is configured to use ---------------------

VPC_ACCESS = "AWSLambdaVPCAccessExecutionRole"
# The stack's own policy for a function's network interfaces (in place of VPC_ACCESS).
NETWORK = "FunctionNetworkPolicy"
XRAY = "AWSXrayWriteOnlyAccess"
BOUNDARY = "arn:aws:iam::123456789012:policy/talkrate-pipeline-prod-boundary"
MSK = {"KafkaProvider": "MSK", "MskClusterArn": "arn:aws:kafka:eu-west-1:1:cluster/c/u"}
IN_VPC = {"SubnetIds": "subnet-1,subnet-2", "SecurityGroupIds": "sg-1"}


def _function_roles(template: dict[str, Any]) -> dict[str, tuple[dict[str, Any], str]]:
    """Each function the parameters deploy: its properties and its role's managed policies
    (JSON text)."""
    found = {}
    for name, function in resources(template, "AWS::Lambda::Function").items():
        condition = function.get("Condition")
        if condition and not evaluate(template, template["Conditions"][condition]):
            continue
        [role] = refs(function["Properties"]["Role"])
        policies = evaluate(
            template, template["Resources"][role]["Properties"]["ManagedPolicyArns"]
        )
        found[name] = (function["Properties"], json.dumps(policies))
    return found


@pytest.mark.parametrize("kafka", [{}, MSK], ids=["self-managed", "msk"])
def test_no_function_gets_vpc_or_xray_policies_it_is_not_configured_for(
    kafka: dict[str, str],
) -> None:
    # Given a stack without a VPC and without tracing (the defaults)
    template = transformed(**kafka)
    # Then no function's role may create network interfaces or write traces
    for name, (function, policies) in _function_roles(template).items():
        assert VPC_ACCESS not in policies, name
        assert NETWORK not in policies, name
        assert XRAY not in policies, name
        assert "TracingConfig" not in function, name


@pytest.mark.parametrize("kafka", [{}, MSK], ids=["self-managed", "msk"])
def test_functions_in_a_vpc_with_tracing_get_those_policies(kafka: dict[str, str]) -> None:
    # Given a stack in a VPC with active tracing
    template = transformed(**kafka, **IN_VPC, Tracing="Active")
    roles = _function_roles(template)
    for name, (function, policies) in roles.items():
        # Then each function that is in the VPC may manage its network interfaces, through the
        # stack's policy, never AWS's (which writes every log group of the account too)
        in_vpc = evaluate(template, function.get("VpcConfig", {"Ref": "AWS::NoValue"}))
        assert (NETWORK in policies) == (in_vpc != {"Ref": "AWS::NoValue"}), name
        assert VPC_ACCESS not in policies, name
        # And every function traces and may write its traces
        assert XRAY in policies, name
        assert evaluate(template, function["TracingConfig"]) == {"Mode": "Active"}, name
    assert {"ApiFunction", "RelayFunction", "SchemaFunction"} <= {
        name for name, (_, policies) in roles.items() if NETWORK in policies
    }


# AWS managed policies that grant logs on every log group of the account (and creating groups).
LOGS_EVERYWHERE = ("AWSLambdaBasicExecutionRole", "AWSLambdaMSKExecutionRole")


@pytest.mark.parametrize(
    "parameters",
    [{}, MSK, IN_VPC, {**MSK, **IN_VPC, "Tracing": "Active"}],
    ids=["self-managed", "msk", "vpc", "msk-vpc-traced"],
)
def test_each_function_writes_logs_to_its_own_group_only(parameters: dict[str, str]) -> None:
    # Given every function the parameters deploy, and its role
    template = transformed(**parameters)
    roles = _function_roles(template)
    assert len(roles) >= 6
    for name, (function, managed) in roles.items():
        # Then its role carries no AWS policy that writes every log group
        for policy in LOGS_EVERYWHERE:
            assert policy not in managed, name
        # And its one logs statement names the group its LoggingConfig writes to
        [role] = refs(function["Role"])
        statements = [
            statement
            for policy in evaluate(template, template["Resources"][role]["Properties"]["Policies"])
            if "PolicyDocument" in policy
            for statement in policy["PolicyDocument"]["Statement"]
        ]
        logs = [s for s in statements if reaches(s, "logs", LOGGING)]
        [own] = refs(function["LoggingConfig"]["LogGroup"])
        assert [(sorted(_listed(s["Action"])), s["Resource"]) for s in logs] == [
            (["logs:CreateLogStream", "logs:PutLogEvents"], {"Fn::GetAtt": [own, "Arn"]})
        ], name
    # And no statement of any role of the stack grants logs on every resource
    for name, role in _deployed(template, "AWS::IAM::Role").items():
        text = json.dumps(role["Properties"])
        assert "logs:CreateLogGroup" not in text, name
        for policy in evaluate(template, role["Properties"].get("Policies", [])):
            for statement in policy.get("PolicyDocument", {}).get("Statement", []):
                if reaches(statement, "logs", LOGGING):
                    assert statement["Resource"] != "*", name


def _deployed(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    """The resources of a kind the template's parameters deploy (their Condition holds)."""
    return {
        name: resource
        for name, resource in resources(template, kind).items()
        if "Condition" not in resource
        or evaluate(template, template["Conditions"][resource["Condition"]])
    }


def _statements(template: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Every policy statement of the stack's roles and managed policies, by resource."""
    found: dict[str, list[dict[str, Any]]] = {}
    for name, role in _deployed(template, "AWS::IAM::Role").items():
        for policy in evaluate(template, role["Properties"].get("Policies", [])):
            statements = policy.get("PolicyDocument", {}).get("Statement", [])
            found.setdefault(name, []).extend(statements)
    for name, policy in _deployed(template, "AWS::IAM::ManagedPolicy").items():
        document = evaluate(template, policy["Properties"]["PolicyDocument"])
        found[name] = document["Statement"]
    return found


@pytest.mark.parametrize(
    "parameters", [{}, MSK, {**IN_VPC, "Tracing": "Active"}], ids=["self-managed", "msk", "vpc"]
)
def test_each_role_reaches_its_own_stacks_secrets_live_channel_and_topic_only(
    parameters: dict[str, str],
) -> None:
    # Given every statement of the stack's roles and managed policies
    template = transformed(**parameters)
    secrets = set(resources(template, "AWS::SecretsManager::Secret"))
    checked = set()
    for name, statements in _statements(template).items():
        for statement in statements:
            named = statement["Resource"]
            named = named if isinstance(named, list) else [named]
            named = [r for r in named if r != {"Ref": "AWS::NoValue"}]
            # Then secrets are the stack's own, by reference, never a pattern over the account
            if reaches(statement, "secretsmanager", READING_SECRETS):
                for resource in named:
                    assert refs(resource), (name, resource)
                    assert refs(resource) <= secrets, (name, resource)
                checked.add("secrets")
            # And the live channel is the stack's own namespace
            if reaches(statement, "appsync", PUBLISHING):
                assert [refs(r) for r in named] == [{"LiveNamespace"}], name
                checked.add("live")
            # And a topic or consumer group is the one the stack is given, on its cluster
            if reaches(statement, "kafka-cluster", STREAMING):
                for resource in named:
                    text = resource["Fn::Sub"][0]
                    assert "*" not in text, (name, text)
                    if ":topic/" in text:
                        assert text.endswith("/${RatingsTopic}"), (name, text)
                    if ":group/" in text:
                        assert text.endswith("/${ProjectorConsumerGroup}"), (name, text)
                checked.add("topic")
    assert checked == ({"secrets", "live", "topic"} if parameters == MSK else {"secrets", "live"})


@pytest.mark.parametrize(
    "parameters", [{}, MSK, {**IN_VPC, "Tracing": "Active"}], ids=["self-managed", "msk", "vpc"]
)
def test_the_projector_and_the_api_alone_may_publish_live_and_only_to_the_stack_s_namespace(
    parameters: dict[str, str],
) -> None:
    # Given every function the parameters deploy, and what its role is granted (its inline
    # policies and the stack's managed policies it carries)
    template = transformed(**parameters)
    publishers = set()
    for name, (function, _) in _function_roles(template).items():
        [role] = refs(function["Role"])
        properties = template["Resources"][role]["Properties"]
        statements = [
            statement
            for policy in evaluate(template, properties.get("Policies", []))
            if "PolicyDocument" in policy
            for statement in policy["PolicyDocument"]["Statement"]
        ]
        for arn in evaluate(template, properties.get("ManagedPolicyArns", [])):
            own = template["Resources"].get(arn.get("Ref", "")) if isinstance(arn, dict) else None
            if own is not None and own["Type"] == "AWS::IAM::ManagedPolicy":
                document = evaluate(template, own["Properties"]["PolicyDocument"])
                statements += document["Statement"]
        live = [s for s in statements if reaches(s, "appsync", PUBLISHING)]
        # Then a function that may reach the live channel may only publish, to the stack's
        # namespace (AppSync Events authorises per namespace: no channel is finer)
        for statement in live:
            assert statement["Effect"] == "Allow", name
            assert _listed(statement["Action"]) == ["appsync:EventPublish"], name
            assert statement["Resource"] == {"Fn::GetAtt": ["LiveNamespace", "ChannelNamespaceArn"]}
        # And it is told where to publish exactly when it may
        variables = function.get("Environment", {}).get("Variables", {})
        assert ("LIVE_PUBLISH_URL" in variables) == bool(live), name
        if live:
            assert refs(variables["LIVE_PUBLISH_URL"]) == {"LiveApi"}, name
            publishers.add(name)
    # And those are the API (an organiser's change) and the stack's one projector (its batches)
    projectors = {name for name in publishers if name.startswith("Projector")}
    assert len(projectors) == 1, publishers
    assert publishers == {"ApiFunction", *projectors}


# The EC2 actions Lambda's VPC guide lists for a function's network interfaces; the Describe
# ones work only on every resource.
FUNCTION_NETWORK_ACTIONS = {
    "ec2:CreateNetworkInterface",
    "ec2:DeleteNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSubnets",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
}


@pytest.mark.parametrize(
    "parameters",
    [
        IN_VPC,
        {**IN_VPC, "SubnetIds": "subnet-1"},
        {**MSK, **IN_VPC, "Tracing": "Active"},
        {**IN_VPC, "ReadModelBackend": "ElastiCacheServerless", "VpcId": "vpc-0123456789abcdef0"},
    ],
    ids=["vpc", "one-subnet", "msk-vpc-traced", "serverless-cache"],
)
def test_functions_in_a_vpc_get_their_network_interfaces_and_no_aws_policy_writing_logs(
    parameters: dict[str, str],
) -> None:
    # Given a stack in a VPC
    template = transformed(**parameters)
    stack = set(template["Resources"])
    log_groups = set(resources(template, "AWS::Logs::LogGroup"))
    # Then no role carries AWS's VPC or basic execution policy (both write and create every log
    # group of the account), whoever made the role
    for name, role in resources(template, "AWS::IAM::Role").items():
        managed = json.dumps(evaluate(template, role["Properties"].get("ManagedPolicyArns", [])))
        for policy in (VPC_ACCESS, *LOGS_EVERYWHERE):
            assert policy not in managed, (name, policy)
    statements = _statements(template)
    # And every logs statement of the stack names log groups of the stack, and only those
    for name, listed in statements.items():
        for statement in listed:
            if reaches(statement, "logs", LOGGING):
                named = refs(statement["Resource"])
                assert named, (name, statement["Resource"])
                assert named <= log_groups, (name, named - log_groups)
    # And the functions' network policy grants Lambda's list, on "*" only what works on nothing
    # narrower, the rest in the stack's account and Region
    network = statements[NETWORK]
    assert {a for s in network for a in _listed(s["Action"])} == FUNCTION_NETWORK_ACTIONS
    for statement in network:
        assert statement["Effect"] == "Allow"
        if statement["Resource"] == "*":
            assert all(a.startswith("ec2:Describe") for a in _listed(statement["Action"]))
            continue
        named = statement["Resource"]
        for resource in named if isinstance(named, list) else [named]:
            text = resource["Fn::Sub"]
            assert text.startswith("arn:${AWS::Partition}:ec2:${AWS::Region}:${AWS::AccountId}:")
    assert refs(network) <= stack | {"AWS::Partition", "AWS::Region", "AWS::AccountId"}


@pytest.mark.parametrize(
    ("subnets", "groups"),
    [("subnet-1,subnet-2", "sg-1"), ("subnet-1", "sg-1,sg-2")],
    ids=["two-subnets", "two-groups"],
)
def test_functions_create_network_interfaces_only_in_the_stack_s_subnets_and_groups(
    subnets: str, groups: str
) -> None:
    # Given the functions' network policy of a stack in a VPC (EC2 authorises a new interface
    # on the interface, its subnet and each of its security groups, each on its own)
    template = transformed(SubnetIds=subnets, SecurityGroupIds=groups)
    document = template["Resources"][NETWORK]["Properties"]["PolicyDocument"]
    network = resolved(template, document["Statement"])
    ec2 = "arn:aws:ec2:eu-west-1:123456789012:{}"
    create = "ec2:CreateNetworkInterface"
    # Then a function may create its interfaces in each subnet the stack names, with each
    # security group it names
    assert allows(network, create, ec2.format("network-interface/*"))
    for subnet in subnets.split(","):
        subnet_arn = ec2.format(f"subnet/{subnet}")
        assert allows(network, create, subnet_arn, {"ec2:SubnetID": subnet}), subnet
    for group in groups.split(","):
        group_arn = ec2.format(f"security-group/{group}")
        assert allows(network, create, group_arn, {"ec2:SecurityGroupID": group}), group
    # And not in another subnet of the account, nor with another security group
    other_subnet = ec2.format("subnet/subnet-9")
    assert not allows(network, create, other_subnet, {"ec2:SubnetID": "subnet-9"})
    other_group = ec2.format("security-group/sg-9")
    assert not allows(network, create, other_group, {"ec2:SecurityGroupID": "sg-9"})
    # And nor in another account or Region
    elsewhere = "arn:aws:ec2:us-east-1:210987654321:subnet/subnet-1"
    assert not allows(network, create, elsewhere, {"ec2:SubnetID": "subnet-1"})
    # And it may delete its interfaces and change their addresses, which EC2 authorises on the
    # interface alone, in the stack's account and Region
    for action in (
        "ec2:DeleteNetworkInterface",
        "ec2:AssignPrivateIpAddresses",
        "ec2:UnassignPrivateIpAddresses",
    ):
        assert allows(network, action, ec2.format("network-interface/eni-1")), action
        assert not allows(
            network, action, elsewhere.replace("subnet/subnet-1", "network-interface/eni-1")
        )
    # And look its network up (the Describe actions take "*" only)
    for action in ("ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"):
        assert allows(network, action, "*"), action


@pytest.mark.parametrize("kafka", [{}, MSK, IN_VPC], ids=["self-managed", "msk", "vpc"])
def test_every_role_the_stack_creates_carries_the_given_permissions_boundary(
    kafka: dict[str, str],
) -> None:
    # Given the boundary the pipeline passes
    template = transformed(**kafka, PermissionsBoundaryArn=BOUNDARY)
    roles = resources(template, "AWS::IAM::Role")
    assert {"CodeDeployServiceRole", "ApiFunctionRole", "StatsFunctionRole"} <= set(roles)
    # Then every role (SAM's and the template's own) carries it
    for name, role in roles.items():
        assert evaluate(template, role["Properties"].get("PermissionsBoundary")) == BOUNDARY, name
    # And CodeDeploy shifts every alias with the template's role, not one SAM makes unbounded
    for name, group in resources(template, "AWS::CodeDeploy::DeploymentGroup").items():
        assert refs(group["Properties"]["ServiceRoleArn"]) == {"CodeDeployServiceRole"}, name
    # And without one (a stack deployed by hand) no role has a boundary
    unbounded = _prod()
    for name, role in resources(unbounded, "AWS::IAM::Role").items():
        boundary = evaluate(unbounded, role["Properties"].get("PermissionsBoundary"))
        assert boundary in (None, {"Ref": "AWS::NoValue"}), name


# What CloudFormation evaluates in a Rules section ("Rule functions" in its user guide): any
# other function (Fn::Join, Fn::Select, Fn::If) makes the whole deploy fail at the change set.
RULE_FUNCTIONS = {
    "Fn::And",
    "Fn::Contains",
    "Fn::EachMemberEquals",
    "Fn::EachMemberIn",
    "Fn::Equals",
    "Fn::Not",
    "Fn::Or",
    "Fn::RefAll",
    "Fn::ValueOf",
    "Fn::ValueOfAll",
    "Ref",
}


def _functions(node: Any) -> set[str]:
    if isinstance(node, dict):
        return {k for k in node if k == "Ref" or k.startswith("Fn::")} | {
            name for value in node.values() for name in _functions(value)
        }
    if isinstance(node, list):
        return {name for value in node for name in _functions(value)}
    return set()


def test_rules_use_only_the_functions_cloudformation_evaluates_in_rules() -> None:
    rules = _source()["Rules"]
    used = {name: _functions(rule) for name, rule in rules.items()}
    assert {
        name: sorted(f - RULE_FUNCTIONS) for name, f in used.items() if f - RULE_FUNCTIONS
    } == {}


def test_a_vpc_without_security_groups_is_refused_before_the_deploy() -> None:
    rule = _source()["Rules"]["VpcHasSecurityGroups"]
    assert rule["RuleCondition"] == {
        "Fn::Not": [{"Fn::EachMemberEquals": [{"Ref": "SubnetIds"}, ""]}]
    }
    [assertion] = rule["Assertions"]
    assert assertion["Assert"] == {
        "Fn::Not": [{"Fn::EachMemberEquals": [{"Ref": "SecurityGroupIds"}, ""]}]
    }


@pytest.mark.parametrize(
    "parameters",
    [
        {"SubnetIds": "subnet-1"},
        {"SubnetIds": "subnet-1,subnet-2"},
        {"SubnetIds": "subnet-1,subnet-2,subnet-3"},
        {"SubnetIds": "subnet-1", **MSK},
        {
            "SubnetIds": "subnet-1",
            "ReadModelBackend": "ElastiCacheServerless",
            "VpcId": "vpc-1a2b3c4d",
        },
    ],
    ids=["one-subnet", "two-subnets", "three-subnets", "msk-one-subnet", "cache-one-subnet"],
)
def test_a_vpc_of_one_subnet_or_more_deploys(parameters: dict[str, str]) -> None:
    # Given a stack in a VPC of one subnet or more
    template = transformed(SecurityGroupIds="sg-1,sg-2", **parameters)
    # Then no resource it deploys selects past the end of a list (CloudFormation would fail the
    # whole deploy: the self-managed projector's pollers took the second subnet of one)
    deployed = 0
    for kind in {resource["Type"] for resource in template["Resources"].values()}:
        for resource in _deployed(template, kind).values():
            evaluate(template, resource)
            deployed += 1
    assert deployed > 50


@pytest.mark.parametrize("subnets", ["subnet-1", "subnet-1,subnet-2", "subnet-1,subnet-2,subnet-3"])
def test_the_self_managed_projector_s_pollers_take_the_first_two_subnets_or_the_only_one(
    subnets: str,
) -> None:
    # Given a stack reading self-managed Kafka in a VPC
    template = transformed(SubnetIds=subnets, SecurityGroupIds="sg-1,sg-2")
    [(name, mapping)] = _deployed(template, "AWS::Lambda::EventSourceMapping").items()
    properties = mapping["Properties"]
    # Then its pollers log in with the stack's secret and run in the first two subnets (or the
    # only one), in the first security group
    expected = [{"Type": "SASL_SCRAM_512_AUTH", "URI": {"Ref": "StreamsSecret"}}]
    expected += [{"Type": "VPC_SUBNET", "URI": f"subnet:{s}"} for s in subnets.split(",")[:2]]
    expected += [{"Type": "VPC_SECURITY_GROUP", "URI": "security_group:sg-1"}]
    assert evaluate(template, properties["SourceAccessConfigurations"]) == expected
    # And it is the mapping SAM made of the function's event before (its logical id, the
    # function's alias, its consumer group and topic): a stack deployed then keeps its offsets
    assert name == "ProjectorVpcFunctionRatings"
    assert refs(properties["FunctionName"]) == {"ProjectorVpcFunctionAliaslive"}
    assert properties["SelfManagedKafkaEventSourceConfig"] == {
        "ConsumerGroupId": {"Ref": "ProjectorConsumerGroup"}
    }
    assert properties["Topics"] == [{"Ref": "RatingsTopic"}]
    assert properties["StartingPosition"] == "TRIM_HORIZON"
    assert refs(properties["DestinationConfig"]) == {"ProjectorFailures"}


def test_the_relay_runs_every_minute_as_its_alarms_count_on() -> None:
    parameter = _source()["Parameters"]["RelaySchedule"]
    assert parameter["AllowedValues"] == ["rate(1 minute)"]
    for alarm in (
        "OutboxPendingAlarm",
        "OutboxAgeAlarm",
        "ReadModelMissingAlarm",
        "ForgottenMarksPendingAlarm",
    ):
        properties = _source()["Resources"][alarm]["Properties"]
        assert properties["Period"] == 60, alarm


def test_a_forgotten_voter_whose_mark_redis_refuses_for_ten_minutes_is_told() -> None:
    alarm = _prod()["Resources"]["ForgottenMarksPendingAlarm"]["Properties"]
    assert (alarm["Namespace"], alarm["Dimensions"]) == (
        {"Fn::Sub": "talkrate/${AWS::StackName}"},
        [{"Name": "service", "Value": "talkrate"}],
    )
    # Given a Redis that answers but refuses the mark's write: every relay run counts one waiting
    refused = [{"ForgottenMarksPending": 1.0}] * 10
    assert _alarm_fires(alarm, refused)
    # And a forget that failed at Redis once, marked by a later run; a relay with nothing waiting;
    # minutes PostgreSQL did not answer (no count: the database's own alarms say it)
    once = [{"ForgottenMarksPending": 1.0}] * 2 + [{"ForgottenMarksPending": 0.0}] * 8
    healed = [{"ForgottenMarksPending": 1.0}] * 9 + [{"ForgottenMarksPending": 0.0}]
    none = [{"ForgottenMarksPending": 0.0}] * 10
    gaps = [{"ForgottenMarksPending": 1.0}, {}] * 5
    for minutes in (once, healed, none, gaps):
        assert not _alarm_fires(alarm, minutes)


def test_a_projector_that_skips_every_record_for_five_minutes_is_told() -> None:
    alarm = _prod()["Resources"]["ProjectorSkipsEverythingAlarm"]["Properties"]
    # Given a ratings topic created again: every batch's records lie below the applied offsets
    recreated = [{"RecordsSkipped": 30.0, "RatingsProjected": 0.0}] * 5
    assert _alarm_fires(alarm, recreated)
    # And a redelivered batch (skipped once, then projecting again), or a quiet hour, is not it
    redelivered = [{"RecordsSkipped": 100.0, "RatingsProjected": 0.0}] + [
        {"RecordsSkipped": 0.0, "RatingsProjected": 40.0}
    ] * 4
    mixed = [{"RecordsSkipped": 5.0, "RatingsProjected": 40.0}] * 5
    quiet: list[dict[str, float]] = [{}] * 5
    for minutes in (redelivered, mixed, quiet):
        assert not _alarm_fires(alarm, minutes)


def _serverless_cache(**parameters: str) -> dict[str, Any]:
    return transformed(
        Stage="prod",
        CorsAllowOrigin="https://talkrate.example",
        ReadModelBackend="ElastiCacheServerless",
        SubnetIds="subnet-1,subnet-2",
        SecurityGroupIds="sg-1",
        VpcId="vpc-1",
        **parameters,
    )


def test_a_serverless_cache_nearing_its_ecpu_ceiling_is_told_before_it_throttles() -> None:
    template = _serverless_cache(ReadModelCacheMaxEcpuPerSecond="20000")
    alarm = template["Resources"]["ReadModelCacheEcpuAlarm"]
    assert alarm["Condition"] == "UseServerlessCache"
    properties = evaluate(template, alarm["Properties"])
    [ecpu] = [m for m in properties["Metrics"] if "MetricStat" in m]
    # It reads the cache the stack creates, by the name ElastiCache reports its metrics under:
    # the name it stores, in lowercase, which Ref returns (the stack's name as typed keeps its
    # capitals, and an alarm on it would read nothing)
    [dimension] = ecpu["MetricStat"]["Metric"]["Dimensions"]
    assert dimension == {"Name": "clusterId", "Value": {"Ref": "ReadModelCache"}}

    def minutes(*per_second: float) -> list[dict[str, float]]:
        return [{"ElastiCacheProcessingUnits": 60 * value} for value in per_second]

    # 17,000 ECPU/s of a 20,000 ceiling (85%) for three of five minutes: told
    assert _alarm_fires(properties, minutes(17_000, 9_000, 17_000, 8_000, 17_000))
    # 15,000 (75%) all along, a one-minute burst to the ceiling, or a quiet cache: not
    assert not _alarm_fires(properties, minutes(*[15_000] * 5))
    assert not _alarm_fires(properties, minutes(5_000, 5_000, 20_000, 5_000, 5_000))
    assert not _alarm_fires(properties, [{}] * 5)
    # The same load against the default ceiling (100,000 ECPU/s) is far below it
    default = evaluate(_serverless_cache(), alarm["Properties"])
    assert not _alarm_fires(default, minutes(*[17_000] * 5))


def test_a_serverless_cache_that_throttles_for_two_minutes_is_told() -> None:
    template = _serverless_cache()
    alarm = template["Resources"]["ReadModelCacheThrottledAlarm"]
    assert alarm["Condition"] == "UseServerlessCache"
    properties = evaluate(template, alarm["Properties"])
    [dimension] = properties["Dimensions"]
    assert dimension == {"Name": "clusterId", "Value": {"Ref": "ReadModelCache"}}
    throttled = [{"ThrottledCmds": 40.0}, {"ThrottledCmds": 0.0}, {"ThrottledCmds": 3.0}]
    assert _alarm_fires(properties, throttled)
    once = [{"ThrottledCmds": 0.0}, {"ThrottledCmds": 500.0}, {"ThrottledCmds": 0.0}]
    assert not _alarm_fires(properties, once)
    assert not _alarm_fires(properties, [{"ThrottledCmds": 0.0}] * 3)


def test_a_stack_without_the_serverless_cache_has_no_alarm_on_it() -> None:
    template = _prod()
    for name in ("ReadModelCacheEcpuAlarm", "ReadModelCacheThrottledAlarm"):
        condition = template["Resources"][name]["Condition"]
        assert evaluate(template, template["Conditions"][condition]) is False


def test_a_projector_that_gets_no_batch_while_ratings_reach_kafka_is_told() -> None:
    # Given ratings the API published to Kafka minute after minute (202, not kept in the outbox),
    # and a projector that gets none of them: its event source mapping cannot reach the brokers
    # or log in (a rotated SASL password, a security group, a disabled mapping). No batch means no
    # Errors, no dead letter, no RatingsProjected and no OffsetLag datapoint either.
    template = _prod()
    alarms = {
        n: evaluate(template, a) for n, a in resources(template, "AWS::CloudWatch::Alarm").items()
    }
    stalled = [{"RatingAccepted": 25.0, "RatingQueued": 0.0}] * 5
    # Then an alarm of the stack fires
    readings = {  # the alarms on what the functions report (no datapoint: nothing to tell)
        n: a for n, a in alarms.items() if a["Properties"]["TreatMissingData"] == "notBreaching"
    }
    fired = [n for n, a in readings.items() if _alarm_fires(a["Properties"], stalled)]
    assert fired, "nothing tells that the projector gets no batch"
    # And a projector that keeps up, a quiet hour, Kafka refusing the API (every rating kept in
    # the outbox: the outbox alarms tell), or one rating projected in the next minute, do not
    projecting = [{"RatingAccepted": 25.0, "RatingQueued": 0.0, "RatingsProjected": 25.0}] * 5
    quiet: list[dict[str, float]] = [{}] * 5
    queued = [{"RatingAccepted": 25.0, "RatingQueued": 25.0}] * 5
    straddling = [{"RatingAccepted": 1.0}, {"RatingsProjected": 1.0}] * 2 + [{}]
    for name in fired:
        for minutes in (projecting, quiet, queued, straddling):
            assert not _alarm_fires(alarms[name]["Properties"], minutes), (name, minutes)


def test_every_batch_lambda_gives_up_on_is_told_while_earlier_reports_wait() -> None:
    # Given a report of a given-up batch waiting in ProjectorFailures (kept 14 days, until an
    # operator replays and deletes it): an alarm on the queue's visible messages stays in ALARM
    # all that time and notifies nobody of the next batches Lambda gives up on
    template = _prod()
    queue = {"Name": "QueueName", "Value": {"Fn::GetAtt": ["ProjectorFailures", "QueueName"]}}

    def on_the_queue(properties: dict[str, Any]) -> bool:
        metrics = [properties] + [
            m["MetricStat"]["Metric"] for m in properties.get("Metrics", []) if "MetricStat" in m
        ]
        return any(
            m.get("Namespace") == "AWS/SQS" and queue in m.get("Dimensions", []) for m in metrics
        )

    alarms = {
        name: alarm["Properties"]
        for name, alarm in resources(template, "AWS::CloudWatch::Alarm").items()
        if on_the_queue(alarm["Properties"])
    }
    waiting = {
        "ApproximateNumberOfMessagesVisible": 3.0,
        "ApproximateNumberOfMessagesNotVisible": 0.0,
        "NumberOfMessagesSent": 0.0,
    }
    new_report = {
        "ApproximateNumberOfMessagesVisible": 4.0,
        "ApproximateNumberOfMessagesNotVisible": 0.0,
        "NumberOfMessagesSent": 1.0,
    }
    # Then an alarm on the queue is back to OK while old reports wait, and fires on a new one
    told = [
        name
        for name, alarm in alarms.items()
        if not _alarm_fires(alarm, [waiting]) and _alarm_fires(alarm, [waiting, new_report])
    ]
    assert told, list(alarms)
    # And the reports still waiting keep an alarm of their own in ALARM, also while an operator
    # holds one read and replays it (hidden 15 minutes: visible alone went OK, "replayed")
    assert any(_alarm_fires(alarm, [waiting]) for alarm in alarms.values())
    being_replayed = {
        "ApproximateNumberOfMessagesVisible": 0.0,
        "ApproximateNumberOfMessagesNotVisible": 1.0,
        "NumberOfMessagesSent": 0.0,
    }
    assert _alarm_fires(alarms["ProjectorFailuresAlarm"], [being_replayed])
    deleted = {
        "ApproximateNumberOfMessagesVisible": 0.0,
        "ApproximateNumberOfMessagesNotVisible": 0.0,
    }
    assert not _alarm_fires(alarms["ProjectorFailuresAlarm"], [deleted])


def _fires_treating_missing_data(properties: dict[str, Any], periods: list[float | None]) -> bool:
    """Whether a one-metric alarm is in ALARM after these periods' values (None: no datapoint),
    treating missing data as the alarm says."""
    compare = {
        "GreaterThanThreshold": float.__gt__,
        "GreaterThanOrEqualToThreshold": float.__ge__,
        "LessThanThreshold": float.__lt__,
    }[properties["ComparisonOperator"]]
    missing = properties.get("TreatMissingData", "missing")
    window = periods[-int(properties["EvaluationPeriods"]) :]
    breaching = sum(
        1
        for value in window
        if (missing == "breaching" if value is None else compare(value, properties["Threshold"]))
    )
    return breaching >= int(properties.get("DatapointsToAlarm", properties["EvaluationPeriods"]))


def test_a_relay_that_stops_running_is_told() -> None:
    # The outbox alarms, ReadModelMissingAlarm, ForgottenMarksPendingAlarm and
    # LiveApiKeyExpiryAlarm read what each relay run reports and take no datapoint as fine: a
    # relay that is not invoked at all (its schedule disabled, its invoke permission or alias
    # gone) raises no error and leaves all five blind.
    template = _prod()
    relay = [
        alarm["Properties"]
        for alarm in resources(template, "AWS::CloudWatch::Alarm").values()
        if alarm["Properties"].get("MetricName") == "Invocations"
        and refs(alarm["Properties"].get("Dimensions")) == {"RelayFunction"}
    ]
    assert relay, "no alarm watches the relay's invocations"
    for properties in relay:
        periods_in_ten_minutes = 600 // int(properties["Period"])
        # Then ten minutes without a run fire it, and a run a minute does not
        assert _fires_treating_missing_data(properties, [None] * periods_in_ten_minutes)
        every_minute = [float(properties["Period"]) / 60] * periods_in_ten_minutes
        assert not _fires_treating_missing_data(properties, every_minute)


def test_a_relay_run_that_fails_or_is_throttled_is_left_to_the_next_minute() -> None:
    # The schedule invokes the relay asynchronously. Lambda's defaults retry a failed run twice
    # and keep a throttled one (RelayReservedConcurrency=1: a run still busy) for up to six hours:
    # extra runs against a database that is down, and throttles long after the cause is gone.
    # The next scheduled run, a minute later, does the same work.
    template = _prod()
    configs = [
        config["Properties"]
        for config in resources(template, "AWS::Lambda::EventInvokeConfig").values()
        if refs(config["Properties"]["FunctionName"]) == {"RelayFunction"}
    ]
    assert len(configs) == 1, configs
    [config] = configs
    assert config["Qualifier"] == "live"  # the alias the schedule invokes
    assert config["MaximumRetryAttempts"] == 0
    assert config["MaximumEventAgeInSeconds"] == 60


@pytest.mark.parametrize(
    ("parameter", "good", "bad"),
    [
        (
            "MskClusterArn",
            [
                "",
                "arn:aws:kafka:eu-west-1:123456789012:cluster/talkrate/0d7ac8a6-6c3d-4f4d-9d1e-1d2c3b4a5f6e-3",
                "arn:aws:kafka:eu-west-1:123456789012:cluster/talkrate-serverless/c8b4a5f6-1d2c-3b4a-5f6e-0d7ac8a66c3d-s1",
            ],
            # the bootstrap string given for the ARN; the cluster name only; a topic's ARN
            [
                "b-1.talkrate.abc.kafka.eu-west-1.amazonaws.com:9098",
                "talkrate",
                "arn:aws:kafka:eu-west-1:123456789012:topic/talkrate/0d7ac8a6/ratings",
            ],
        ),
        (
            "RatingsTopic",
            ["ratings", "talkrate.ratings-v2_prod"],
            ["", "ratings topic", "ratings,dead", "rätings"],
        ),
        (
            # a trailing slash or a path never equals a browser's Origin header: CORS fails
            "CorsAllowOrigin",
            ["", "*", "https://talkrate.example", "http://localhost:3000", "https://*.example.org"],
            ["https://talkrate.example/", "https://talkrate.example/app/", "talkrate.example", " "],
        ),
        ("VpcId", ["", "vpc-0a1b2c3d", "vpc-0a1b2c3d4e5f60718"], ["subnet-0a1b2c3d", "my-vpc"]),
    ],
)
def test_a_parameter_value_that_would_deploy_and_fail_later_is_refused(
    parameter: str, good: list[str], bad: list[str]
) -> None:
    pattern = _source()["Parameters"][parameter].get("AllowedPattern")
    assert pattern, f"{parameter} takes any value"
    for value in good:
        assert re.fullmatch(pattern, value), (parameter, value)
    for value in bad:
        assert not re.fullmatch(pattern, value), (parameter, value)


OWN_NAMESPACE = {"Fn::Sub": "talkrate/${AWS::StackName}"}


def _namespaces_read(alarm: dict[str, Any]) -> list[Any]:
    """The namespaces an alarm reads: its metric's, or each of its metric math inputs'."""
    if "Namespace" in alarm:
        return [alarm["Namespace"]]
    return [m["MetricStat"]["Metric"]["Namespace"] for m in alarm["Metrics"] if "MetricStat" in m]


def test_each_stack_publishes_its_own_metrics_and_its_alarms_and_dashboard_read_only_those() -> (
    None
):
    # Given two stacks in one account and region (the pipeline's dev and prod: the bootstrap of
    # the second reuses the first's OIDC provider, which an account has once)
    template = _prod()
    # When the functions publish their metrics (Powertools reads POWERTOOLS_METRICS_NAMESPACE)
    published = {
        name: function["Properties"]["Environment"]["Variables"]["POWERTOOLS_METRICS_NAMESPACE"]
        for name, function in resources(template, "AWS::Lambda::Function").items()
        if "POWERTOOLS_METRICS_NAMESPACE" in function["Properties"]["Environment"]["Variables"]
    }
    assert {"ApiFunction", "ProjectorFunction", "RelayFunction"} <= set(published)
    # Then each publishes into a namespace named after its stack
    assert all(namespace == OWN_NAMESPACE for namespace in published.values()), published
    # And every alarm that is not on AWS's own metrics reads that namespace: else dev's dead
    # letters fire prod's DeadLettersAlarm (and ProjectorDeadLetteringAlarm rolls back a prod
    # canary), and dev's projected ratings hide prod's ProjectorSkipsEverythingAlarm and
    # ProjectorStalledAlarm
    own = {
        name: _namespaces_read(alarm["Properties"])
        for name, alarm in resources(template, "AWS::CloudWatch::Alarm").items()
        if not all(str(n).startswith("AWS/") for n in _namespaces_read(alarm["Properties"]))
    }
    assert len(own) >= 10
    for name, namespaces in own.items():
        assert all(namespace == OWN_NAMESPACE for namespace in namespaces), (name, namespaces)
    # And so does every dashboard widget on them
    [dashboard] = resources(template, "AWS::CloudWatch::Dashboard").values()
    body = dashboard["Properties"]["DashboardBody"]["Fn::Sub"][0]
    widgets = json.loads(re.sub(r"\$\{[^}]+\}", lambda m: m.group(0).replace('"', ""), body))
    rows = [
        row[0]
        for widget in widgets["widgets"]
        for row in widget.get("properties", {}).get("metrics", [])
        if row and not row[0].startswith("AWS/") and row[0] != "."
    ]
    assert rows
    assert set(rows) == {OWN_NAMESPACE["Fn::Sub"]}


def refusing_rules(template: dict[str, Any], **parameters: str) -> list[str]:
    """The template's Rules whose assertions fail for these parameter values (the defaults for
    the rest), as CloudFormation checks them before a deploy."""
    values = {
        **{k: str(v.get("Default", "")) for k, v in template["Parameters"].items()},
        **parameters,
    }

    def holds(node: Any) -> Any:
        (key, argument), *_ = node.items()
        if key == "Ref":
            return values[argument]
        if key == "Fn::Equals":
            left, right = (holds(a) if isinstance(a, dict) else a for a in argument)
            return left == right
        if key == "Fn::Not":
            return not holds(argument[0])
        if key in ("Fn::And", "Fn::Or"):
            results = [holds(a) for a in argument]
            return all(results) if key == "Fn::And" else any(results)
        if key == "Fn::EachMemberEquals":
            items, expected = argument
            return all(item == expected for item in holds(items).split(","))
        raise AssertionError(f"no evaluator for {key}")

    return [
        name
        for name, rule in template["Rules"].items()
        if ("RuleCondition" not in rule or holds(rule["RuleCondition"]))
        and not all(holds(assertion["Assert"]) for assertion in rule["Assertions"])
    ]


def _refusing_rules(**parameters: str) -> list[str]:
    """The main template's refusing Rules for these values, the REQUIRED ones given."""
    return refusing_rules(_source(), **{**REQUIRED, **parameters})


def test_a_prod_stack_whose_pages_key_would_lapse_unnoticed_is_refused() -> None:
    # LiveApiKeyExpires=default gives the pages' key AppSync's 7 days, a date no parameter holds:
    # LiveApiKeyExpiryAlarm cannot see it coming, a deploy with "default" again does not renew it,
    # and a week after a hand-made `sam deploy` every browser silently falls back to polling
    prod = {
        "Stage": "prod",
        "CorsAllowOrigin": "https://talkrate.example",
        "AlarmEmail": "oncall@talkrate.example",
    }
    assert _refusing_rules(**prod, LiveApiKeyExpires="default")
    # A prod deploy that names the expiry (as the pipeline does), and dev, deploy
    assert _refusing_rules(**prod, LiveApiKeyExpires="1800000000") == []
    assert _refusing_rules(Stage="dev") == []


def _api_cors(template: dict[str, Any]) -> Any:
    """The HTTP API's CORS configuration as CloudFormation resolves it (None when it has none)."""
    [api] = resources(template, "AWS::ApiGatewayV2::Api").values()
    assert "CorsConfiguration" not in api["Properties"]  # SAM puts it in the body, if anywhere
    cors = evaluate(template, api["Properties"]["Body"].get("x-amazon-apigateway-cors"))
    return None if cors in (None, {"Ref": "AWS::NoValue"}) else cors


def test_the_api_allows_no_other_origin_unless_one_is_named() -> None:
    # Given stacks deployed without CorsAllowOrigin, dev and prod (the web app is on the API's
    # own origin, behind CloudFront)
    for template in (transformed(), transformed(Stage="prod", LiveApiKeyExpires="1800000000")):
        # Then the API has no CORS configuration: a page of another site, open in an attendee's
        # browser, can neither get a voter token nor rate with one
        assert _api_cors(template) is None
    # And a named origin is allowed, with what its pages send and read
    named = _api_cors(_prod())
    assert named["allowOrigins"] == ["https://talkrate.example"]
    assert {"authorization", "content-type", "voter-token"} <= set(named["allowHeaders"])
    assert named["exposeHeaders"] == ["etag", "location", "retry-after", "www-authenticate"]
    assert named["maxAge"] == 600
    assert "allowCredentials" not in named
    # And any origin only when a dev stack asks for it
    assert _api_cors(transformed(CorsAllowOrigin="*"))["allowOrigins"] == ["*"]


def test_a_prod_stack_open_to_every_site_is_refused_and_one_open_to_none_deploys() -> None:
    prod = {
        "Stage": "prod",
        "AlarmEmail": "oncall@talkrate.example",
        "LiveApiKeyExpires": "1800000000",
    }
    assert _refusing_rules(**prod, CorsAllowOrigin="*") == ["ProductionCorsOrigin"]
    assert _refusing_rules(**prod) == []
    assert _refusing_rules(**prod, CorsAllowOrigin="https://talkrate.example") == []
    assert _refusing_rules(Stage="dev", CorsAllowOrigin="*") == []


def test_a_prod_stack_whose_alarms_would_reach_nobody_is_refused() -> None:
    # Given a prod stack as the guide deploys it, but for who hears its alarms
    prod = {
        "Stage": "prod",
        "CorsAllowOrigin": "https://talkrate.example",
        "LiveApiKeyExpires": "1800000000",
    }
    # Then with no address and nothing said of another subscriber, it is refused before a change
    assert _refusing_rules(**prod) == ["ProductionAlarmsReachSomeone"]
    # And an address, or a pager or chat webhook said to be subscribed, deploys; dev needs neither
    assert _refusing_rules(**prod, AlarmEmail="oncall@talkrate.example") == []
    assert _refusing_rules(**prod, AlarmsSubscribedElsewhere="yes") == []
    assert _refusing_rules(Stage="dev") == []


def test_the_subnets_description_names_every_service_the_functions_in_them_call() -> None:
    # Given the functions in a VPC (SubnetIds): without a NAT gateway they reach AWS services
    # only through VPC endpoints, and the operator builds those from this description
    template = transformed(SubnetIds="subnet-1,subnet-2", SecurityGroupIds="sg-1")
    calls = {
        "CONNECTIONS_SECRET_ARN": "Secrets Manager",
        "STATS_FUNCTION_NAME": "Lambda",
        "REBUILD_FUNCTION_NAME": "Lambda",
        "STREAMS_CONNECTION": "brokers",
        "LIVE_PUBLISH_URL": "AppSync",
    }
    needed: set[str] = set()
    for name, function in resources(template, "AWS::Lambda::Function").items():
        properties = function["Properties"]
        if evaluate(template, properties.get("VpcConfig")) in (None, {"Ref": "AWS::NoValue"}):
            continue
        variables = properties.get("Environment", {}).get("Variables", {})
        needed |= {service for variable, service in calls.items() if variable in variables}
        # A custom resource's function answers CloudFormation with a PUT to a presigned S3 URL
        for resource in template["Resources"].values():
            if resource["Type"].startswith("Custom::") and refs(
                resource["Properties"]["ServiceToken"]
            ) == {name}:
                needed.add("S3")
    assert {"Secrets Manager", "S3", "AppSync"} <= needed
    # Then the description names each of them
    description = _source()["Parameters"]["SubnetIds"]["Description"]
    assert {service for service in needed if service not in description} == set()


def test_the_artifacts_a_rollback_needs_are_never_expired() -> None:
    # `sam deploy` names each upload by its content's hash and skips one that exists: a function
    # whose code has not changed keeps the object of its first upload, however old. When a deploy
    # that changes it fails (a prod canary's alarm), CloudFormation rolls the function back to
    # that previous object: expired, the rollback fails (UPDATE_ROLLBACK_FAILED) and the stack
    # takes no deploy until someone continues the rollback by hand.
    text = (ROOT / "deploy" / "pipeline-bootstrap.yaml").read_text()
    bootstrap = yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    bucket = bootstrap["Resources"]["ArtifactsBucket"]["Properties"]
    rules = bucket.get("LifecycleConfiguration", {}).get("Rules", [])
    for rule in rules:
        assert "ExpirationInDays" not in rule, rule
        assert "ExpirationDate" not in rule, rule
    # What replaced objects leave behind still goes
    assert any("NoncurrentVersionExpiration" in rule for rule in rules)


# Parameters a function's version does not name: an endpoint (or the CORS origin, a host name
# too) can be longer than a version's description holds; a deploy that changes one takes a new
# SchemaRun, which every version names.
ENDPOINTS = {"RdsProxyEndpoint", "KafkaBootstrapServers", "CorsAllowOrigin"}
# A value other than each setting's default, for each parameter a version names.
OTHER_VALUES = {
    "Stage": "dev",
    "VotingPolicy": "open",
    "RatingGraceHours": "48",
    "RatingsPerVoterPerMinute": "11",
    "RatingsPerAddressPerMinute": "1111",
    "VotersPerAddressPerMinute": "111",
    "RatingsTopic": "ratings-v2",
    "KafkaProvider": "MSK",
    "LogLevel": "DEBUG",
    "LiveApiKeyExpires": "1893456000",
    "SchemaRun": "7",
    "SnapStart": "Disabled",
}


def _version_descriptions(template: dict[str, Any], **parameters: str) -> dict[str, Any]:
    """Each aliased function's version description as CloudFormation resolves it under these
    parameter values (the version resources are the same whatever the values: SAM names them
    from the template's text)."""
    resolved = {**template, "_parameters": {**template["_parameters"], **parameters}}
    return {
        name.split("Version")[0]: evaluate(resolved, version["Properties"].get("Description"))
        for name, version in resources(template, "AWS::Lambda::Version").items()
    }


def _named_in_description(template: dict[str, Any], function: str) -> set[str]:
    [version] = [
        v for n, v in resources(template, "AWS::Lambda::Version").items() if n.startswith(function)
    ]
    return set(re.findall(r"\$\{(\w+)\}", version["Properties"]["Description"]["Fn::Sub"]))


def test_each_version_names_every_setting_its_function_reads_so_a_new_value_publishes() -> None:
    # Given the template as deployed: a version's description cannot change in place, so a new
    # description makes CloudFormation publish a new version (and CodeDeploy move the alias)
    template = _prod()
    descriptions = _version_descriptions(template)
    functions = resources(template, "AWS::Lambda::Function")
    assert {"ApiFunction", "RelayFunction", "ProjectorFunction", "StatsFunction"} <= set(
        descriptions
    )
    for name, description in descriptions.items():
        # Then each is text CloudFormation resolves, naming every parameter its function's
        # configuration reads (the endpoints aside: SchemaRun stands for them)
        assert isinstance(description, str), (name, description)
        named = _named_in_description(template, name)
        properties = functions[name]["Properties"]
        read = (
            refs(properties.get("Environment", {})) | refs(properties.get("LoggingConfig", {}))
        ) & set(template["Parameters"])
        assert read - ENDPOINTS <= named, (name, read - ENDPOINTS - named)
        assert {"SchemaRun", "LogLevel", "Stage"} <= named, name
        # And a new value of any of them is a new description: a new version, the alias moved,
        # instead of the alias serving the old value after a deploy that changed only it
        for parameter in named:
            after = _version_descriptions(template, **{parameter: OTHER_VALUES[parameter]})
            assert after[name] != description, (name, parameter)


def test_a_new_schema_run_publishes_every_function_for_what_no_parameter_tells() -> None:
    # A rotated Redis or Kafka password, a new endpoint: the guide's deploy with a new SchemaRun
    template = _prod()
    before = _version_descriptions(template, SchemaRun="1")
    after = _version_descriptions(template, SchemaRun="2")
    assert set(before) >= {"ApiFunction", "RelayFunction", "ProjectorFunction", "StatsFunction"}
    assert {name for name in before if before[name] == after[name]} == set()


def test_every_version_description_fits_in_256_characters_at_the_longest_values() -> None:
    longest = {
        "Stage": "prod",
        "VotingPolicy": "attendee",
        "RatingGraceHours": "8784",
        "RatingsPerVoterPerMinute": "10000000",
        "RatingsPerAddressPerMinute": "10000000",
        "VotersPerAddressPerMinute": "10000000",
        "RatingsTopic": "t" * 80,
        "KafkaProvider": "SelfManaged",
        "LogLevel": "WARNING",
        "LiveApiKeyExpires": "9999999999",
        "SchemaRun": "r" * 48,
        "SnapStart": "Disabled",
    }
    template = _prod()
    # Given values as long as each parameter's own constraints allow
    for parameter, value in longest.items():
        declared = template["Parameters"][parameter]
        if "AllowedPattern" in declared:
            assert re.fullmatch(declared["AllowedPattern"], value), parameter
            assert not re.fullmatch(declared["AllowedPattern"], value + "x"), parameter
        if "AllowedValues" in declared:
            assert len(value) == max(len(v) for v in declared["AllowedValues"]), parameter
        if "MaxValue" in declared:
            assert value == str(declared["MaxValue"]), parameter
    # Then every version's description fits in what Lambda takes
    for name, description in _version_descriptions(template, **longest).items():
        assert len(description) <= 256, (name, len(description), description)


def _versions_after_upload(**keys: str) -> dict[str, str]:
    """Each aliased function's AWS::Lambda::Version logical id when `sam deploy` uploaded the
    code folders under these S3 keys (logical id of the function or layer -> key)."""
    return {
        name.split("Version")[0]: name
        for name, resource in _translate(REQUIRED, keys)["Resources"].items()
        if resource["Type"] == "AWS::Lambda::Version"
    }


def test_a_deploy_that_changes_only_the_shared_layer_reaches_every_alias() -> None:
    # Given two builds that differ only in the shared layer (the talkrate package, schema.sql
    # and the dependencies: most changes), uploaded under new keys by `sam deploy`
    before = _versions_after_upload(SharedLayer="layers/shared/d41d8cd98f00b204")
    after = _versions_after_upload(SharedLayer="layers/shared/9e107d9d372bb682")
    # Then every aliased function publishes a new version, so its alias (which API Gateway, the
    # event source mapping and the schedule invoke) moves to the new code. SAM's version id
    # hashes the function's own code, environment and memory only: without this a layer-only
    # deploy updated $LATEST, which nothing invokes, and the aliases kept the old code.
    assert before
    assert {name for name in before if before[name] == after[name]} == set()


def test_a_deploy_that_changes_only_the_voting_policy_reaches_the_api_alias() -> None:
    # Given an operator who switches VotingPolicy from open to attendee (votes nobody forges)
    template = _prod()
    before = _version_descriptions(template, VotingPolicy="open")["ApiFunction"]
    after = _version_descriptions(template, VotingPolicy="attendee")["ApiFunction"]
    # Then the API's version description changes: CloudFormation replaces the version (its
    # description cannot be updated), publishing $LATEST with the new policy, and the alias
    # API Gateway calls moves to it
    assert "policy=open" in before
    assert "policy=attendee" in after


# --- The stage's own throttle, told from the API's 429s -----------------------------------------

_CONDITION = re.compile(r'\(?\$\.(\w+) (=|!=) "([^"]*)"\)?')


def _access_line(format_: str, **values: str) -> dict[str, Any]:
    """The access log line API Gateway writes with this format, each $context variable given its
    value in `values` by its last name part, or "-" (API Gateway's word for no value)."""
    line = re.sub(
        r"\$context\.([\w.]+)", lambda m: values.get(m.group(1).split(".")[-1], "-"), format_
    )
    parsed: dict[str, Any] = json.loads(line)
    return parsed


def _selects(pattern: str, line: dict[str, Any]) -> bool:
    """Whether a CloudWatch Logs JSON filter pattern of string comparisons (= or !=, a value's
    `*` matching any characters) joined by && selects a line (the only form the template uses:
    anything else fails here)."""
    body = pattern.strip()
    assert body.startswith("{"), pattern
    assert body.endswith("}"), pattern
    conditions = [c.strip() for c in body[1:-1].split("&&")]
    matched = [_CONDITION.fullmatch(c) for c in conditions]
    assert all(matched), pattern

    def holds(field: str, operator: str, value: str) -> bool:
        regex = ".*".join(re.escape(part) for part in value.split("*"))
        equal = re.fullmatch(regex, str(line.get(field))) is not None
        return equal if operator == "=" else not equal

    return all(holds(*m.groups()) for m in matched if m)


def test_requests_the_stage_throttles_are_counted_apart_from_the_api_s_own_429s() -> None:
    template = _prod()
    [stage] = resources(template, "AWS::ApiGatewayV2::Stage").values()
    log = stage["Properties"]["AccessLogSettings"]
    format_ = log["Format"]
    [properties] = [
        f["Properties"]
        for f in resources(template, "AWS::Logs::MetricFilter").values()
        if f["Properties"]["MetricTransformations"][0]["MetricName"] == "GatewayThrottled"
    ]
    # Given the access log the stage writes, and the metric filter on it
    assert (
        refs(log["DestinationArn"]) == refs(properties["LogGroupName"]) == {"HttpApiAccessLogGroup"}
    )
    pattern = properties["FilterPattern"]
    # Then a request the stage throttled (429, no function called) is counted
    throttled = _access_line(format_, status="429", requestId="r1", sourceIp="203.0.113.9")
    assert _selects(pattern, throttled)
    # And a 429 of the API's own (a voter's limit: the function ran), or any other answer, is not
    own = _access_line(format_, status="429", integrationLatency="12", responseLatency="14")
    assert not _selects(pattern, own)
    assert not _selects(pattern, _access_line(format_, status="202", integrationLatency="9"))
    assert not _selects(pattern, _access_line(format_, status="500"))
    # And a request a real route's throttle refused is counted, and one the catch-all routes'
    # own throttle refused (a scanner probing paths no route takes) is not: it paged the on-call
    # with "attendees turned away"
    routed = _access_line(format_, status="429", routeKey="POST /ratings")
    assert _selects(pattern, routed)
    events = _source()["Resources"]["ApiFunction"]["Properties"]["Events"]
    catch_alls = [
        f"{e['Properties']['Method']} {e['Properties']['Path']}"
        for name, e in events.items()
        if name.startswith("Unrouted")
    ]
    assert len(catch_alls) == 9
    for key in catch_alls:
        assert not _selects(pattern, _access_line(format_, status="429", routeKey=key)), key
    # And the alarm reads what the filter counts, in the stack's own namespace
    [transformation] = properties["MetricTransformations"]
    alarm = resources(template, "AWS::CloudWatch::Alarm")["HttpApiThrottledAlarm"]["Properties"]
    assert transformation["MetricNamespace"] == alarm["Namespace"] == OWN_NAMESPACE
    assert transformation["MetricName"] == alarm["MetricName"]
    assert transformation["MetricValue"] == "1"
    assert alarm["Statistic"] == "Sum"
    assert alarm["TreatMissingData"] == "notBreaching"


def test_the_venue_s_time_zone_is_a_parameter_the_publish_reads_from_the_outputs() -> None:
    import zoneinfo

    from talkrate.time_zones import NOT_ZONES

    template = _prod()
    declared = template["Parameters"]["EventTimeZone"]
    # Empty by default: each device's own zone, as before the setting
    assert declared["Default"] == ""
    pattern = re.compile(declared["AllowedPattern"])
    # Every zone the database names fits the pattern (CloudFormation refuses the rest before
    # anything is deployed; publish_web checks the name itself)
    for zone in ("", *sorted(zoneinfo.available_timezones() - NOT_ZONES)):
        assert pattern.fullmatch(zone), zone
    for junk in ("../etc/passwd", "Europe/Berlin; rm", " Europe/Berlin", "Europe//Berlin"):
        assert not pattern.fullmatch(junk), junk
    # nor the database files' names that are no zone (browsers refuse them)
    for junk in NOT_ZONES:
        assert not pattern.fullmatch(junk), junk
    # And the output publish_web reads is there only when a zone is set (no empty output)
    output = template["Outputs"]["EventTimeZone"]
    assert output["Condition"] == "HasEventTimeZone"
    assert output["Value"] == {"Ref": "EventTimeZone"}


def test_a_redis_endpoint_without_its_scheme_is_refused_at_deploy() -> None:
    declared = _prod()["Parameters"]["RatingsConnection"]
    pattern = re.compile(declared["AllowedPattern"])
    # (empty: ElastiCacheServerless, whose endpoint the stack makes)
    for url in ("", "redis://cache:6379/0", "rediss://:p@cache:6379/0?cluster=true", "unix:///r"):
        assert pattern.fullmatch(url), url
    for url in ("cache.abc.use1.cache.amazonaws.com:6379", "127.0.0.1:6379", "http://cache:6379"):
        assert not pattern.fullmatch(url), url
    assert "redis://host:6379/0" in declared["ConstraintDescription"]


def test_a_redis_password_s_unencoded_reserved_character_is_refused_at_deploy() -> None:
    declared = _prod()["Parameters"]["RatingsConnection"]
    pattern = re.compile(declared["AllowedPattern"])
    # Valid URLs stay accepted: ElastiCache's endpoints with an AUTH token (its special
    # characters but #, which is percent-encoded, as every character a URL reserves may be), a
    # user, TLS options, a cluster, an IPv6 address, a unix socket
    for url in (
        "rediss://:Qx7zK9%23wJ4vB2@master.talkrate.abc.euw1.cache.amazonaws.com:6379/0",
        "rediss://:Qx7!&$^<>-wJ4vB2@master.talkrate.abc.euw1.cache.amazonaws.com:6379",
        "rediss://talkrate:Qx7%2FzK9%3FwJ4%40vB2%5Bx%5D@clustercfg.talkrate.abc.euw1"
        ".cache.amazonaws.com:6379?cluster=true&replicas=1",
        "rediss://:p@cache:6379/0?ssl_cert_reqs=none&ssl_ca_certs=/etc/ssl/ca.pem",
        "redis://[::1]:6379/0",
        "unix://:p@/var/run/redis.sock?db=1",
    ):
        assert pattern.fullmatch(url), url
    # A password's unencoded #, / or ?, which ends the host there (its first characters read as
    # the port), or a [ or ], which urllib cannot read a host past, is refused before anything
    # is deployed
    for password in ("Qx7zK9#wJ4vB2", "Qx7zK9/wJ4vB2", "Qx7zK9?wJ4vB2", "40719#wJ4", "Qx7[zK9"):
        for form in ("redis://:{}@cache:6379/0", "rediss://user:{}@cache:6379?cluster=true"):
            assert not pattern.fullmatch(form.format(password)), form.format(password)
    for url in ("redis://cache:6379/0#x", "redis://cache:port/0", "unix://:Qx7/zK9@/r.sock"):
        assert not pattern.fullmatch(url), url
    # And the parameter says how to write such a password
    assert "percent-encoded" in declared["Description"]
    assert "%23" in declared["Description"]
    assert "%23" in declared["ConstraintDescription"]


def test_kafka_bootstrap_servers_holding_a_scheme_path_or_credentials_are_refused_at_deploy() -> (
    None
):
    declared = _prod()["Parameters"]["KafkaBootstrapServers"]
    pattern = re.compile(declared["AllowedPattern"])
    # Host:port lists stay accepted: host names, MSK's brokers, IPv4 and IPv6 (in brackets)
    for servers in (
        "127.0.0.1:9092",
        "b1.example:9096,b2.example:9096",
        "b-1.talkrate.a1b2c3.c2.kafka.eu-west-1.amazonaws.com:9098,"
        "b-2.talkrate.a1b2c3.c2.kafka.eu-west-1.amazonaws.com:9098",
        "[2001:db8::1]:9096,[::1]:9092",
        "redpanda:29092",
    ):
        assert pattern.fullmatch(servers), servers
    # What the event source mapping cannot take, and what holds a user and password (the
    # functions' Kafka client read them as hosts and ports, and quoted them)
    for servers in (
        "user:pw@b1",
        "user:pw@b1:9096",
        "SASL_SSL://alice:2929,Qx7zK9@b1:9096",
        "SASL_SSL://b1:9096",
        "kafka://b1:9092",
        "b1:9092/ratings",
        "b1",
        "b1:9092,",
        "b1:9092, b2:9092",
        "2001:db8::1:9096",
    ):
        assert not pattern.fullmatch(servers), servers
    # And the operator is told where credentials go
    for text in (declared["ConstraintDescription"], declared["Description"]):
        assert "KafkaUsername" in text, text
        assert "KafkaPassword" in text, text
    assert {"KafkaUsername", "KafkaPassword"} <= set(_prod()["Parameters"])


# What CodeDeploy does to an alias when it shifts its traffic.
ALIAS_SHIFT = ("lambda:GetAlias", "lambda:UpdateAlias", "lambda:GetProvisionedConcurrencyConfig")


def test_codedeploy_may_read_the_alarms_and_move_the_aliases_of_this_stack_s_functions_only() -> (
    None
):
    # Given the role CodeDeploy shifts the aliases' traffic with, in the stack talkrate-prod
    template = _prod()
    role = template["Resources"]["CodeDeployServiceRole"]["Properties"]
    # Then it carries no managed policy (AWSCodeDeployRoleForLambda also allowed sns:Publish and
    # S3 reads, for triggers and hooks this stack has none of, and aliases everywhere)
    assert "ManagedPolicyArns" not in role
    [policy] = role["Policies"]
    statements = resolved(template, policy["PolicyDocument"]["Statement"])
    assert allows(statements, "cloudwatch:DescribeAlarms", "*")
    assert not allows(statements, "sns:Publish", "arn:aws:sns:eu-west-1:123456789012:t")
    assert not allows(statements, "s3:GetObject", "arn:aws:s3:::bucket/key")
    function = "arn:aws:lambda:eu-west-1:123456789012:function:{}"
    for action in ALIAS_SHIFT:
        for name in ("talkrate-prod-ApiFunction-AbC1", "talkrate-prod-ApiFunction-AbC1:live"):
            # And it may read and move the alias of a function Lambda says is this stack's (its
            # tag; an alias's and a version's requests read the function's tags)
            own = {"aws:ResourceTag/talkrate:stack": "talkrate-prod"}
            assert allows(statements, action, function.format(name), own), action
            # And of no other function of the account: another stack's, or one without the tag
            # (however its generated name begins)
            other = {"aws:ResourceTag/talkrate:stack": "talkrate-dev"}
            assert not allows(statements, action, function.format(name), other), action
            assert not allows(statements, action, function.format(name), {}), action
    # And every function CodeDeploy moves an alias of carries that tag, with the stack's name
    groups = resources(template, "AWS::CodeDeploy::DeploymentGroup")
    aliased = {
        name: properties
        for name, properties in (
            (n, r["Properties"]) for n, r in resources(template, "AWS::Lambda::Function").items()
        )
        if f"{name}DeploymentGroup" in groups
    }
    assert {"ApiFunction", "StatsFunction", "RelayFunction"} <= set(aliased)
    for name, properties in aliased.items():
        tags = {t["Key"]: resolved(template, t["Value"]) for t in properties.get("Tags", [])}
        assert tags.get("talkrate:stack") == "talkrate-prod", name
    # And CodeDeploy assumes it
    [trust] = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "codedeploy.amazonaws.com"}


def test_a_version_description_names_snapstart_where_a_version_takes_it_and_the_guide_the_rest() -> (
    None
):
    # Given every aliased function of the template as written
    functions = resources(_source(), "AWS::Serverless::Function")
    aliased = {name: f for name, f in functions.items() if "AutoPublishAlias" in f["Properties"]}
    assert aliased
    # Then each one a published version takes SnapStart for names the SnapStart parameter in its
    # description: a version keeps the SnapStart it was published with, and SAM names a version
    # from the template's text, so turning it off (to troubleshoot) left every alias as it was
    for name, function in aliased.items():
        properties = function["Properties"]
        described = refs(properties["VersionDescription"])
        assert "SchemaRun" in described, name
        if "SnapStart" in properties:
            assert "SnapStart" in described, name
    # And the guide says which version-level settings are not named, and how to deploy them
    guide = (ROOT / "docs" / "operations.md").read_text()
    [changed] = re.findall(r"- \*\*Changed settings\.\*\*(.*?)(?=\n- \*\*)", guide, re.DOTALL)
    flat = " ".join(changed.split())
    for setting in ("SubnetIds", "SecurityGroupIds", "CorsAllowOrigin", "SnapStart"):
        assert f"`{setting}`" in flat, setting
    assert "a new `SchemaRun`" in flat
