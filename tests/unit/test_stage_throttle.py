"""scripts/stage_throttle.py: the API's throttle raised mid-event on the template CloudFormation
holds, every other parameter kept, executed only when nothing but the throttle changes (botocore's
Stubber answers as CloudFormation does: moto's change sets do not keep previous values)."""

from __future__ import annotations

import re
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from tests.builders import load_script

pytestmark = pytest.mark.unit

stage_throttle = load_script("stage_throttle")

STACK = "talkrate-prod"
KEPT = ["Stage", "VotingPolicy", "TalksConnection", "EventTimeZone"]


def _stack(stats: str = "80", api: str = "x") -> dict[str, Any]:
    names = [*KEPT, "ApiThrottleRateLimit", "ApiThrottleBurstLimit", "ApiReservedConcurrency"]
    return {
        "Stacks": [
            {
                "StackName": STACK,
                "CreationTime": "2026-12-01T00:00:00Z",
                "StackStatus": "UPDATE_COMPLETE",
                "Parameters": [
                    *(
                        {
                            "ParameterKey": n,
                            "ParameterValue": api if n == "ApiReservedConcurrency" else "x",
                        }
                        for n in names
                    ),
                    {"ParameterKey": "StatsReservedConcurrency", "ParameterValue": stats},
                ],
            }
        ]
    }


def _change(name: str, kind: str, *details: tuple[str, str, str, str]) -> dict[str, Any]:
    return {
        "Type": "Resource",
        "ResourceChange": {
            "Action": "Modify",
            "LogicalResourceId": name,
            "ResourceType": kind,
            "Replacement": "False",
            "Details": [
                {
                    "Target": {
                        "Attribute": "Properties",
                        "Name": prop,
                        "RequiresRecreation": "Never",
                    },
                    "ChangeSource": source,
                    "Evaluation": evaluation,
                    **({"CausingEntity": cause} if cause else {}),
                }
                for prop, source, cause, evaluation in details
            ],
        },
    }


def _by_parameter(prop: str, *parameters: str) -> list[tuple[str, str, str, str]]:
    """A property a changed parameter reaches, as CloudFormation describes it: a Static
    ParameterReference naming each parameter, and a Dynamic DirectModification naming none (the
    User Guide's "Modifying an input parameter value" example)."""
    return [
        *((prop, "ParameterReference", p, "Static") for p in parameters),
        (prop, "DirectModification", "", "Dynamic"),
    ]


THROTTLE_ONLY = [
    _change(
        "HttpApiApiGatewayDefaultStage",
        "AWS::ApiGatewayV2::Stage",
        *_by_parameter("DefaultRouteSettings", "ApiThrottleRateLimit", "ApiThrottleBurstLimit"),
    ),
    _change(
        "ApiFunction",
        "AWS::Lambda::Function",
        *_by_parameter("ReservedConcurrentExecutions", "ApiReservedConcurrency"),
    ),
    _change(
        "HttpApiThrottledAlarm",
        "AWS::CloudWatch::Alarm",
        *_by_parameter("AlarmDescription", "ApiThrottleRateLimit", "ApiThrottleBurstLimit"),
    ),
]


def _described(**stack: str) -> tuple[Any, Stubber]:
    """A client whose stack is `_stack(**stack)`, its other answers still to be added."""
    client = boto3.client("cloudformation", region_name="eu-west-1")
    stubber = Stubber(client)
    stubber.add_response("describe_stacks", _stack(**stack), {"StackName": STACK})
    return client, stubber


def _stubbed(
    changes: list[dict[str, Any]], executed: bool, stats_kept: str = "80", stats: str | None = None
) -> tuple[Any, Stubber]:
    """CloudFormation answering a change set of the throttle (`stats`: StatsReservedConcurrency
    given too, over the stack's `stats_kept`)."""
    client, stubber = _described(stats=stats_kept)
    expected = {
        "StackName": STACK,
        "ChangeSetName": ANY,
        "UsePreviousTemplate": True,
        "Parameters": [
            *({"ParameterKey": n, "UsePreviousValue": True} for n in KEPT),
            {"ParameterKey": "ApiThrottleRateLimit", "ParameterValue": "300"},
            {"ParameterKey": "ApiThrottleBurstLimit", "ParameterValue": "600"},
            {"ParameterKey": "ApiReservedConcurrency", "ParameterValue": "60"},
            {"ParameterKey": "StatsReservedConcurrency", "UsePreviousValue": True}
            if stats is None
            else {"ParameterKey": "StatsReservedConcurrency", "ParameterValue": stats},
        ],
        "Capabilities": ["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"],
        "Description": ANY,
    }
    stubber.add_response("create_change_set", {"Id": "arn:cs", "StackId": "arn:s"}, expected)
    stubber.add_response(
        "describe_change_set",
        {"Status": "CREATE_COMPLETE", "Changes": changes, "ChangeSetName": "cs"},
        {"StackName": STACK, "ChangeSetName": ANY},
    )
    if executed:
        stubber.add_response("execute_change_set", {}, {"StackName": STACK, "ChangeSetName": ANY})
    else:
        stubber.add_response("delete_change_set", {}, {"StackName": STACK, "ChangeSetName": ANY})
    stubber.activate()
    return client, stubber


VALUES = {"ApiThrottleRateLimit": 300, "ApiThrottleBurstLimit": 600, "ApiReservedConcurrency": 60}


def test_the_throttle_is_raised_on_the_previous_template_every_other_parameter_kept() -> None:
    # Given a change set (of the previous template, every other parameter kept: the stubbed
    # request says so) that changes the stage and ApiFunction from the three parameters only
    client, stubber = _stubbed(THROTTLE_ONLY, executed=True)
    shown: list[list[str]] = []
    # When the operator confirms
    done = stage_throttle.throttle(
        client, STACK, VALUES, lambda lines: shown.append(lines) or True, say=lambda _: None
    )
    # Then it is executed, after showing what it changes
    assert done is True
    assert shown == [
        [
            "HttpApiApiGatewayDefaultStage (AWS::ApiGatewayV2::Stage)",
            "ApiFunction (AWS::Lambda::Function)",
            "HttpApiThrottledAlarm (AWS::CloudWatch::Alarm)",
        ]
    ]
    stubber.assert_no_pending_responses()


@pytest.mark.parametrize(
    "extra",
    [
        _change(
            "ProjectorFunction",
            "AWS::Lambda::Function",
            ("Code", "DirectModification", "", "Static"),
        ),
        _change(
            "ApiFunction",
            "AWS::Lambda::Function",
            *_by_parameter("Environment", "VotingPolicy"),
        ),
        # a Dynamic change of a property no throttle parameter reaches
        _change(
            "StatsFunction",
            "AWS::Lambda::Function",
            ("Environment", "DirectModification", "", "Dynamic"),
        ),
        {
            "Type": "Resource",
            "ResourceChange": {
                "Action": "Add",
                "LogicalResourceId": "ApiFunctionVersion1234",
                "ResourceType": "AWS::Lambda::Version",
            },
        },
    ],
    ids=["code-changed", "another-parameter", "a-shadow-alone", "a-version-published"],
)
def test_a_change_set_that_changes_more_than_the_throttle_is_deleted_unexecuted(
    extra: dict[str, Any],
) -> None:
    client, stubber = _stubbed([*THROTTLE_ONLY, extra], executed=False)
    with pytest.raises(stage_throttle.Refused, match="more than the throttle") as refused:
        stage_throttle.throttle(client, STACK, VALUES, lambda _: True, say=lambda _: None)
    # (it names what else would change)
    assert extra["ResourceChange"]["LogicalResourceId"] in str(refused.value)
    stubber.assert_no_pending_responses()


def test_a_change_set_declined_is_deleted() -> None:
    client, stubber = _stubbed(THROTTLE_ONLY, executed=False)
    said: list[str] = []
    assert stage_throttle.throttle(client, STACK, VALUES, lambda _: False, say=said.append) is False
    assert said[-1] == "not executed; the change set was deleted"
    stubber.assert_no_pending_responses()


def test_the_guide_raises_the_throttle_with_the_script_not_a_deploy() -> None:
    from tests.builders import ROOT

    guide = (ROOT / "docs" / "operations.md").read_text()
    section = guide.split("### HttpApiThrottledAlarm\n", 1)[1].split("\n### ", 1)[0]
    assert "make stage-throttle STACK=" in section
    assert "sam deploy --config-env prod" not in section


def test_more_api_environments_than_stats_ones_are_refused_before_any_change_set() -> None:
    # Given a stack whose StatsFunction may have 40 environments (each GET /ratings invokes it)
    client, stubber = _described(stats="40")
    stubber.activate()
    # When the operator raises the API's to 60 alone
    # Then nothing is made (no change set: the stub has no other answer), and the refusal says
    # what would happen and the option that raises both
    with pytest.raises(stage_throttle.Refused) as refused:
        stage_throttle.throttle(client, STACK, VALUES, lambda _: True, say=lambda _: None)
    said = str(refused.value)
    assert "ApiReservedConcurrency 60 would be above StatsReservedConcurrency 40" in said
    assert "--stats 60" in said
    assert "STATS=60" in said
    stubber.assert_no_pending_responses()


def test_the_stats_environments_are_raised_with_the_api_s() -> None:
    # Given a stack whose StatsFunction may have 40 environments, and a change set that changes
    # StatsFunction too, from its parameter
    stats = _change(
        "StatsFunction",
        "AWS::Lambda::Function",
        *_by_parameter("ReservedConcurrentExecutions", "StatsReservedConcurrency"),
    )
    client, stubber = _stubbed([*THROTTLE_ONLY, stats], executed=True, stats_kept="40", stats="60")
    # When the operator raises both to 60 (make stage-throttle … RESERVED=60 STATS=60)
    values = {**VALUES, "StatsReservedConcurrency": 60}
    done = stage_throttle.throttle(client, STACK, values, lambda _: True, say=lambda _: None)
    # Then the change set, StatsFunction's change among the throttle's, is executed
    assert done is True
    stubber.assert_no_pending_responses()


@pytest.mark.parametrize(
    ("stack", "values", "said"),
    [
        # Stats lowered alone, below the API's 40 the stack holds
        ({"api": "40", "stats": "40"}, {"StatsReservedConcurrency": 10}, "40 would be above"),
        # the API unreserved while Stats' is reserved
        (
            {"api": "40", "stats": "40"},
            {"ApiReservedConcurrency": 0, "StatsReservedConcurrency": 10},
            "unreserved (0) would be above",
        ),
    ],
    ids=["stats-lowered-alone", "api-unreserved"],
)
def test_stats_below_the_api_is_refused_however_it_is_asked(
    stack: dict[str, str], values: dict[str, int], said: str
) -> None:
    client, stubber = _described(**stack)
    stubber.activate()
    with pytest.raises(stage_throttle.Refused, match=re.escape(said)):
        stage_throttle.throttle(client, STACK, values, lambda _: True, say=lambda _: None)
    stubber.assert_no_pending_responses()
