"""The operators' way in to backends in a VPC (OpsBastion=yes), as CloudFormation receives the
template: off unless asked for, in the functions' VPC and groups, reachable through Session
Manager only, its role able to do nothing else, under the pipeline's boundary."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from typing import Any

import click
import pytest

from tests.builders import ROOT
from tests.unit.test_template_operations import (
    BOUNDARY,
    IN_VPC,
    _refusing_rules,
    _source,
    evaluate,
    refs,
    resources,
    transformed,
)

pytestmark = pytest.mark.unit

BASTION = {"OpsBastionRole", "OpsBastionProfile", "OpsBastionInstance"}
SESSION_MANAGER_AGENT = {
    "ssm:UpdateInstanceInformation",
    "ssmmessages:CreateControlChannel",
    "ssmmessages:CreateDataChannel",
    "ssmmessages:OpenControlChannel",
    "ssmmessages:OpenDataChannel",
}


def _deployed(template: dict[str, Any]) -> set[str]:
    """The resources CloudFormation creates for the template's parameters."""
    return {
        name
        for name, resource in template["Resources"].items()
        if "Condition" not in resource
        or evaluate(template, template["Conditions"][resource["Condition"]])
    }


def test_no_bastion_is_made_unless_an_operator_asks_for_one_in_a_vpc() -> None:
    # Given a stack deployed as before (the default), in a VPC or not
    for parameters in ({}, IN_VPC):
        assert not _deployed(transformed(**parameters)) & BASTION, parameters
    # Then asking for one names the VPC it goes in: without SubnetIds it is refused before a change
    assert _refusing_rules(OpsBastion="yes") == ["OpsBastionInVpc"]
    assert _refusing_rules(OpsBastion="yes", **IN_VPC) == []
    # And in a VPC it is made, its instance id an output only then
    template = transformed(OpsBastion="yes", **IN_VPC)
    assert _deployed(template) >= BASTION
    output = template["Outputs"]["OpsBastionInstanceId"]
    assert output["Condition"] == "HasOpsBastion"
    assert output["Value"] == {"Ref": "OpsBastionInstance"}


def test_the_bastion_takes_no_connection_of_its_own_and_reaches_what_the_functions_reach() -> None:
    template = transformed(OpsBastion="yes", **IN_VPC)
    instance = template["Resources"]["OpsBastionInstance"]["Properties"]
    # It sits in the functions' first subnet with the functions' security groups: the backends
    # admit it as they admit the functions, and no rule is added to any group
    assert evaluate(template, instance["SubnetId"]) == "subnet-1"
    assert instance["SecurityGroupIds"] == {"Ref": "SecurityGroupIds"}
    for kind in ("AWS::EC2::SecurityGroupIngress", "AWS::EC2::SecurityGroupEgress"):
        assert resources(template, kind) == {}, kind
    added = resources(template, "AWS::EC2::SecurityGroup")
    assert set(added) <= {"ReadModelCacheSecurityGroup"}
    # And nothing of its own lets anyone in: no key pair, no public address, no network
    # interface declared apart, no start-up script (which could hold a secret)
    for absent in ("KeyName", "NetworkInterfaces", "UserData", "SecurityGroups"):
        assert absent not in instance, absent
    # Its credentials are asked for with a session token only (IMDSv2), from the instance
    # itself; its disk is encrypted
    assert instance["MetadataOptions"] == {"HttpTokens": "required", "HttpPutResponseHopLimit": 1}
    [disk] = instance["BlockDeviceMappings"]
    assert disk["Ebs"]["Encrypted"] is True
    # And the image is Amazon Linux 2023's standard one (the SSM agent, EC2 Instance Connect and
    # python3, which the guide's tunnels use), for the arm64 instance it runs on
    assert instance["ImageId"].endswith("/al2023-ami-kernel-default-arm64}}")
    assert instance["InstanceType"].startswith("t4g.")


@pytest.mark.parametrize("boundary", ["", BOUNDARY], ids=["by-hand", "pipeline"])
def test_the_bastion_s_role_may_answer_session_manager_and_nothing_else(boundary: str) -> None:
    template = transformed(OpsBastion="yes", PermissionsBoundaryArn=boundary, **IN_VPC)
    role = template["Resources"]["OpsBastionRole"]["Properties"]
    profile = template["Resources"]["OpsBastionProfile"]["Properties"]
    instance = template["Resources"]["OpsBastionInstance"]["Properties"]
    # The instance takes the role through its profile, and only EC2 may assume it
    assert refs(instance["IamInstanceProfile"]) == {"OpsBastionProfile"}
    assert profile["Roles"] == [{"Ref": "OpsBastionRole"}]
    [trust] = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "ec2.amazonaws.com"}
    # Its only permissions are those the SSM agent needs to answer a session: no managed policy
    # (AmazonSSMManagedInstanceCore adds Run Command, parameters and more), no secret, no data
    assert "ManagedPolicyArns" not in role
    statements = [s for policy in role["Policies"] for s in policy["PolicyDocument"]["Statement"]]
    assert all(s["Effect"] == "Allow" for s in statements)
    assert {a for s in statements for a in s["Action"]} == SESSION_MANAGER_AGENT
    # And the pipeline's boundary bounds it as every other role of the stack
    expected = boundary or {"Ref": "AWS::NoValue"}
    assert evaluate(template, role["PermissionsBoundary"]) == expected


def test_the_parameter_says_what_the_bastion_costs_and_needs() -> None:
    description = _source()["Parameters"]["OpsBastion"]["Description"]
    for said in ("SubnetIds", "SSM", "no inbound", "Costs"):
        assert said in description, said


GUIDE = ROOT / "docs" / "operations.md"


def _way_in() -> str:
    guide = GUIDE.read_text()
    start = guide.index("## Backends in a VPC")
    return guide[start : guide.index("\n## ", start + 1)]


def test_the_guide_says_the_way_in_for_every_operator_command() -> None:
    # Given the commands of `talkrate ops` (a command added later must say what it needs)
    from talkrate_cli.main import cli

    ops = cli.get_command(click.Context(cli), "ops")
    assert isinstance(ops, click.Group)
    rows = re.findall(r"^\| (`[^|]+`) \|(.*)\|$", _way_in(), re.MULTILINE)
    named = {name.strip("`") for cell, _ in rows for name in re.findall(r"`([^`]+)`", cell)}
    # Then the guide's table names each, with the backends it needs and how to reach them
    assert set(ops.commands) <= named, set(ops.commands) - named
    # And the outputs its commands read exist on the stack that has the instance
    outputs = transformed(OpsBastion="yes", **IN_VPC)["Outputs"]
    for output in re.findall(r"\$\(output (\w+)\)", _way_in()):
        assert output in outputs, output


@pytest.mark.skipif(shutil.which("jq") is None, reason="jq is not installed")
def test_the_guide_s_filter_exports_what_the_relay_is_given_to_reach_kafka() -> None:
    # Given RelayFunction's environment as the stack deploys it (MSK or brokers of one's own)
    [block] = re.findall(r"jq -r '(.*?)'\)\"", _way_in(), re.DOTALL)
    for parameters in ({}, {"KafkaProvider": "MSK", "MskClusterArn": "arn:aws:kafka:x"}):
        template = transformed(**parameters)
        given = template["Resources"]["RelayFunction"]["Properties"]["Environment"]["Variables"]
        variables = {name: "x" for name in given}
        # When the guide's filter reads it
        ran = subprocess.run(
            ["jq", "-r", block],
            input=json.dumps(variables),
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        )
        exported = set(re.findall(r"^export (\w+)=", ran.stdout, re.MULTILINE))
        # Then it exports the secret, every Kafka setting and the topic, and none of the blank
        # connection strings (blank means unset, but a shell's own would be overwritten)
        kafka = {name for name in given if name.startswith("STREAMS_")}
        assert exported == {"CONNECTIONS_SECRET_ARN", "RATINGS_TOPIC", *kafka}, exported
        assert {"STREAMS_CONNECTION", "STREAMS_SECURITY_PROTOCOL"} <= kafka
