"""The delivery pipeline's deploys (.github/workflows/deploy.yml), read as GitHub runs them: each
environment's `sam deploy` names its stage, renews the live channel's API key and bounds the
stack's roles; and the roles of its bootstrap stack (deploy/pipeline-bootstrap.yaml), which let
CloudFormation create the stack's roles only under that boundary."""

from __future__ import annotations

import json
import re
import subprocess
import time
from fnmatch import fnmatch
from functools import cache
from typing import Any

import pytest
import yaml

from tests.builders import ROOT
from tests.iam import covers, covers_any
from tests.unit.test_template_operations import (
    IN_VPC,
    MSK,
    SAM_PYTHON,
    _Loader,
    _source,
    resources,
    transformed,
)

pytestmark = pytest.mark.unit

DAY = 86_400


def deploy_steps() -> dict[str, str]:
    """The `sam deploy` script of each deploy job, by the environment it deploys to."""
    return {environment: step["run"] for environment, step in _deploy_steps().items()}


def _deploy_steps() -> dict[str, dict[str, Any]]:
    workflow: dict[str, Any] = yaml.safe_load((ROOT / ".github/workflows/deploy.yml").read_text())
    found = {}
    for job in workflow["jobs"].values():
        for step in job.get("steps", []):
            if " deploy --config-env " in step.get("run", ""):
                found[job["environment"]] = step
    return found


@pytest.mark.parametrize(("environment", "level"), [("dev", "DEBUG"), ("prod", "INFO")])
def test_each_deploy_names_its_stage_and_renews_the_live_api_key(
    environment: str, level: str
) -> None:
    script = deploy_steps()[environment]
    # It deploys its own stack's settings, and the key's expiry it computed
    assert f"--config-env pipeline-{environment}" in script
    overrides = script.split("--parameter-overrides", 1)[1]
    assert f"Stage={environment}" in overrides
    assert f"LogLevel={level}" in overrides
    assert '"LiveApiKeyExpires=$expires"' in overrides
    # When the runner's shell computes that expiry
    [line] = [line for line in script.splitlines() if line.strip().startswith("expires=")]
    before = time.time()
    ran = subprocess.run(
        ["bash", "-c", f"{line.strip()}; echo $expires"],
        capture_output=True,
        text=True,
        check=True,
        timeout=10,
    )
    expires = ran.stdout.strip()
    # Then it is what the template's parameter takes, on the hour, about 360 days ahead (AppSync
    # takes 1 to 365)
    pattern = _source()["Parameters"]["LiveApiKeyExpires"]["AllowedPattern"]
    assert re.fullmatch(pattern, expires)
    assert int(expires) % 3600 == 0
    assert before + 359 * DAY <= int(expires) <= before + 361 * DAY


# --- The bootstrap stack: CloudFormation's role cannot make a role stronger than the boundary ----

ACCOUNT = "123456789012"
WIDENING = {"iam:CreateRole", "iam:PutRolePolicy", "iam:AttachRolePolicy"}
# The statements of CloudFormation's role that may widen a role (each under the boundary)
BOUNDED = {"BoundedRoles", "BoundedManagedPolicies"}
# Actions of IAM no statement may grant on any resource: what only `iam:*` (or a pattern as
# wide) would, users and keys, and taking a role's boundary off
NOWHERE = {
    "iam:CreateUser",
    "iam:CreateAccessKey",
    "iam:AttachUserPolicy",
    "iam:DeleteRolePermissionsBoundary",
    "iam:SetDefaultPolicyVersion",
}
# The statements that let CloudFormation's role hand a role to a service
PASSING = {"PassStackRoles", "PassBastionRole"}


@cache
def _bootstrap() -> dict[str, Any]:
    text = (ROOT / "deploy/pipeline-bootstrap.yaml").read_text()
    document: dict[str, Any] = yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    return document


def _resolved(value: Any, environment: str) -> Any:
    """A value of the bootstrap template with its Subs filled in for an environment."""
    if isinstance(value, dict) and "Fn::Sub" in value:
        names = {"Environment": environment, "AWS::Partition": "aws", "AWS::AccountId": ACCOUNT}
        names |= {"AWS::Region": "eu-west-1"}
        return re.sub(r"\$\{([^}]+)\}", lambda m: names[m.group(1)], value["Fn::Sub"])
    if isinstance(value, list):
        return [_resolved(item, environment) for item in value]
    return value


def _statements(role: str) -> list[dict[str, Any]]:
    policies = _bootstrap()["Resources"][role]["Properties"]["Policies"]
    return [s for policy in policies for s in policy["PolicyDocument"]["Statement"]]


def _actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return [action] if isinstance(action, str) else action


def test_cloudformation_may_create_and_widen_roles_only_under_the_boundary() -> None:
    # Given the role CloudFormation deploys the talkrate stack with
    resources_ = _bootstrap()["Resources"]
    assert resources_["StackRolesBoundary"]["Type"] == "AWS::IAM::ManagedPolicy"
    statements = _statements("CloudFormationExecutionRole")
    allowed = [s for s in statements if s["Effect"] == "Allow"]
    # Then the statements that let it create a role, or give one a policy (their actions read
    # as IAM reads them: `iam:Put*` and `IAM:createrole` count), are the bounded ones alone
    widening = [s for s in allowed if covers_any(s, WIDENING)]
    assert {s.get("Sid") for s in widening} == BOUNDED, widening
    assert all(any(covers(s, action) for s in widening) for action in WIDENING)
    # And each asks for the boundary
    for statement in widening:
        condition = statement.get("Condition", {}).get("StringEquals", {})
        assert condition.get("iam:PermissionsBoundary") == {"Ref": "StackRolesBoundary"}, statement
    # And none grants what only all of IAM would
    assert not [(s.get("Sid"), a) for s in allowed for a in NOWHERE if covers(s, a)]

    # And it may neither take the boundary off a role nor put another one on
    def denying(action: str) -> dict[str, Any]:
        [statement] = [s for s in statements if s["Effect"] == "Deny" and covers(s, action)]
        return statement

    assert "Condition" not in denying("iam:DeleteRolePermissionsBoundary")
    other = denying("iam:PutRolePermissionsBoundary")["Condition"]["StringNotEquals"]
    assert other["iam:PermissionsBoundary"] == {"Ref": "StackRolesBoundary"}
    # Nor change the boundary itself
    assert denying("iam:CreatePolicyVersion")["Resource"] == {"Ref": "StackRolesBoundary"}


@cache
def _app_roles() -> list[dict[str, Any]]:
    """Every role of the talkrate stack, over the deployments that differ in roles."""
    return [
        role["Properties"]
        for parameters in (
            {},
            {**MSK, **IN_VPC, "Tracing": "Active"},
            {**IN_VPC, "OpsBastion": "yes"},
        )
        for role in resources(transformed(**parameters), "AWS::IAM::Role").values()
    ]


def _aws_managed(value: Any) -> set[str]:
    text = json.dumps(value)
    return set(re.findall(r"arn:(?:aws|\$\{AWS::Partition\}):iam::aws:policy/[A-Za-z/-]+", text))


ROLLBACK_ONLY = {
    "arn:aws:iam::aws:policy/service-role/AWSCodeDeployRoleForLambda",  # an inline policy since
    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
    "arn:aws:iam::aws:policy/service-role/AWSLambdaMSKExecutionRole",
    "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole",
}


def test_cloudformation_attaches_only_the_managed_policies_the_template_does() -> None:
    # Given the AWS managed policies the talkrate stack's roles carry, whatever its parameters
    attached = {
        arn.replace("${AWS::Partition}", "aws")
        for role in _app_roles()
        for arn in _aws_managed(role.get("ManagedPolicyArns", []))
    }
    assert "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess" in attached
    # Then CloudFormation's role may attach those and the stack's own policies, and nothing else
    # but the three the stack's roles carried before (logs on every group): a rollback to a stack
    # of that time attaches them again, and a rollback that cannot would leave the stack stuck
    [attach] = [
        s
        for s in _statements("CloudFormationExecutionRole")
        if s["Effect"] == "Allow" and covers(s, "iam:AttachRolePolicy")
    ]
    for environment in ("dev", "prod"):
        allowed = _resolved(attach["Condition"]["ArnLike"]["iam:PolicyARN"], environment)
        assert {a for a in allowed if ":iam::aws:" in a} == attached | ROLLBACK_ONLY
        assert not attached & ROLLBACK_ONLY
        assert [a for a in allowed if ":iam::aws:" not in a] == [
            f"arn:aws:iam::{ACCOUNT}:policy/talkrate-{environment}-*"
        ]
        for powerful in ("AdministratorAccess", "IAMFullAccess", "PowerUserAccess"):
            assert not any(fnmatch(f"arn:aws:iam::aws:policy/{powerful}", a) for a in allowed)


def _handler_permissions(resource_type: str) -> dict[str, list[str]]:
    """What CloudFormation's handlers of a resource type call, by handler (create, read, update,
    delete, list), as the type's schema bundled with cfn-lint (in the SAM CLI's tools) says."""
    script = (
        "import json, sys\n"
        "from cfnlint.schema import PROVIDER_SCHEMA_MANAGER\n"
        "schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema('us-east-1', sys.argv[1])\n"
        "print(json.dumps({k: v.get('permissions', []) for k, v in schema.schema['handlers'].items()}))"
    )
    ran = subprocess.run(
        [str(SAM_PYTHON), "-c", script, resource_type],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    permissions: dict[str, list[str]] = json.loads(ran.stdout)
    return permissions


@pytest.mark.parametrize("environment", ["dev", "prod"])
def test_cloudformation_may_create_read_update_and_delete_the_stack_s_managed_policies(
    environment: str,
) -> None:
    # Given the stack's own managed policies (LivePublishPolicy, and FunctionNetworkPolicy in a
    # VPC), attached to its roles only, and what CloudFormation's handlers of the type call
    template = transformed(**IN_VPC)
    assert {"LivePublishPolicy", "FunctionNetworkPolicy"} <= set(
        resources(template, "AWS::IAM::ManagedPolicy")
    )
    handlers = _handler_permissions("AWS::IAM::ManagedPolicy")
    needed = {
        action
        for handler in ("create", "read", "update", "delete")
        for action in handlers[handler]
        # no group or user is in the stack (`list` serves listings, never a stack operation)
        if not action.endswith(("GroupPolicy", "UserPolicy"))
    }
    assert "iam:ListEntitiesForPolicy" in needed
    # Then CloudFormation's role may call each on a policy of the stack (or, to attach and
    # detach it, on a role of the stack): a delete missing one (iam:ListEntitiesForPolicy)
    # fails, and leaves the stack in DELETE_FAILED, or a rollback in UPDATE_ROLLBACK_FAILED
    policy = f"arn:aws:iam::{ACCOUNT}:policy/talkrate-{environment}-LivePublishPolicy-1A2B3C"
    role = f"arn:aws:iam::{ACCOUNT}:role/talkrate-{environment}-ApiFunctionRole-1A2B3C"
    allowed = [s for s in _statements("CloudFormationExecutionRole") if s["Effect"] == "Allow"]
    missing = {
        action
        for action in needed
        if not any(
            covers(s, action)
            and any(
                fnmatch(arn, pattern)
                for pattern in _resolved([s["Resource"]], environment)
                for arn in (policy, role)
            )
            for s in allowed
        )
    }
    assert missing == set()
    # And the policies' own actions are scoped as the rest of StackPolicies: the stack's
    # policies, not the account's
    [own] = [s for s in allowed if s.get("Sid") == "StackPolicies"]
    assert {a for a in needed if "Policy" in a and "Role" not in a} <= set(_actions(own))
    assert _resolved(own["Resource"], environment) == (
        f"arn:aws:iam::{ACCOUNT}:policy/talkrate-{environment}-*"
    )


@pytest.mark.parametrize("environment", ["dev", "prod"])
def test_the_pipelines_own_roles_and_boundary_are_out_of_cloudformations_reach(
    environment: str,
) -> None:
    # Given the roles and policies CloudFormation's role may change (those of the stack)
    statements = _statements("CloudFormationExecutionRole")
    patterns = {
        _resolved(s["Resource"], environment)
        for s in statements
        if s["Effect"] == "Allow" and isinstance(s["Resource"], dict)
    }
    assert f"arn:aws:iam::{ACCOUNT}:role/talkrate-{environment}-*" in patterns
    # Then the pipeline's own roles and its boundary are named outside them
    resources_ = _bootstrap()["Resources"]
    owned = [
        f"arn:aws:iam::{ACCOUNT}:role/{_resolved(resources_[name]['Properties']['RoleName'], environment)}"
        for name in ("CloudFormationExecutionRole", "DeployRole")
    ]
    boundary = resources_["StackRolesBoundary"]["Properties"]["ManagedPolicyName"]
    owned.append(f"arn:aws:iam::{ACCOUNT}:policy/{_resolved(boundary, environment)}")
    for arn in owned:
        assert not any(fnmatch(arn, pattern) for pattern in patterns), arn


def test_cloudformation_passes_ec2_the_bastion_s_role_only_and_manages_the_stack_s_profiles() -> (
    None
):
    # Given the statements of CloudFormation's role that hand a role to a service
    statements = _statements("CloudFormationExecutionRole")
    # (read as IAM reads them: `iam:Pass*` or `iam:*` passes roles as surely as iam:PassRole)
    passing = [s for s in statements if s["Effect"] == "Allow" and covers(s, "iam:PassRole")]
    assert {s.get("Sid") for s in passing} == PASSING, passing
    for environment in ("dev", "prod"):
        stack_role = f"arn:aws:iam::{ACCOUNT}:role/talkrate-{environment}-"
        for statement in passing:
            # Then each names the services it hands roles to
            condition = statement.get("Condition", {}).get("StringEquals", {})
            assert "iam:PassedToService" in condition, statement
            services = condition["iam:PassedToService"]
            services = [services] if isinstance(services, str) else services
            pattern = _resolved(statement["Resource"], environment)
            # And the stack's roles only, and EC2 (an instance runs with the role
            # until it is stopped) gets the bastion's role alone, not a function's
            assert pattern.startswith(stack_role), pattern
            if "ec2.amazonaws.com" in services:
                assert services == ["ec2.amazonaws.com"]
                assert pattern == f"{stack_role}OpsBastionRole-*"
        # And the instance profile the bastion takes its role through is the stack's own
        [profiles] = [
            s
            for s in statements
            if s["Effect"] == "Allow" and covers(s, "iam:AddRoleToInstanceProfile")
        ]
        assert _resolved(profiles["Resource"], environment) == (
            f"arn:aws:iam::{ACCOUNT}:instance-profile/talkrate-{environment}-*"
        )
    # And the bastion's role, deployed by the pipeline, is the one its pattern names
    template = transformed(**IN_VPC, OpsBastion="yes")
    assert "RoleName" not in template["Resources"]["OpsBastionRole"]["Properties"]


# What the AWS managed policies the stack's roles carry let them do (as AWS publishes them; the
# parts the stack uses): the boundary must leave it.
AWS_MANAGED_ACTIONS = {
    "AWSLambdaBasicExecutionRole": [
        "logs:CreateLogGroup",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
    ],
    "AWSLambdaVPCAccessExecutionRole": [
        "ec2:CreateNetworkInterface",
        "ec2:DescribeNetworkInterfaces",
        "ec2:DescribeSubnets",
        "ec2:DeleteNetworkInterface",
        "ec2:AssignPrivateIpAddresses",
        "ec2:UnassignPrivateIpAddresses",
    ],
    "AWSXrayWriteOnlyAccess": [
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "xray:GetSamplingRules",
        "xray:GetSamplingTargets",
        "xray:GetSamplingStatisticSummaries",
    ],
    "AWSLambdaMSKExecutionRole": [
        "ec2:CreateNetworkInterface",
        "ec2:DescribeNetworkInterfaces",
        "ec2:DescribeVpcs",
        "ec2:DeleteNetworkInterface",
        "ec2:DescribeSubnets",
        "ec2:DescribeSecurityGroups",
        "kafka:DescribeCluster",
        "kafka:DescribeClusterV2",
        "kafka:GetBootstrapBrokers",
    ],
    "AWSCodeDeployRoleForLambda": [
        "cloudwatch:DescribeAlarms",
        "lambda:UpdateAlias",
        "lambda:GetAlias",
        "lambda:GetProvisionedConcurrencyConfig",
    ],
}


def test_the_boundary_leaves_the_stack_what_its_roles_use_and_nothing_of_iam() -> None:
    # Given what the stack's roles are granted: their inline policies, the stack's managed ones
    # (LivePublishPolicy, FunctionNetworkPolicy) and AWS's
    own = [
        resource["Properties"]["PolicyDocument"]
        for resource in _source()["Resources"].values()
        if resource["Type"] == "AWS::IAM::ManagedPolicy"
    ]
    assert len(own) >= 2
    used = {a for document in own for s in document["Statement"] for a in _actions(s)}
    for role in _app_roles():
        for policy in role.get("Policies", []):
            for branch in policy["Fn::If"][1:] if "Fn::If" in policy else [policy]:
                for statement in branch.get("PolicyDocument", {}).get("Statement", []):
                    used.update(_actions(statement))
        for arn in _aws_managed(role.get("ManagedPolicyArns", [])):
            used.update(AWS_MANAGED_ACTIONS[arn.rsplit("/", 1)[1]])
    # Then the boundary allows each of them
    boundary = _bootstrap()["Resources"]["StackRolesBoundary"]["Properties"]["PolicyDocument"]
    allowed = [s for s in boundary["Statement"] if s["Effect"] == "Allow"]
    denied = [a for s in boundary["Statement"] if s["Effect"] == "Deny" for a in _actions(s)]
    for action in used:
        assert any(covers(s, action) for s in allowed), action
    # And nothing of IAM, nor assuming another role (patterns expanded, as IAM reads them)
    reaching = WIDENING | NOWHERE | {"iam:PassRole", "iam:UpdateAssumeRolePolicy", "sts:AssumeRole"}
    assert not [(s.get("Sid"), a) for s in allowed for a in reaching if covers(s, a)]
    assert not [
        s.get("Sid")
        for s in allowed
        if any(a.lower().startswith(("iam:", "sts:")) for a in _actions(s))
    ]
    assert {"iam:*", "sts:AssumeRole"} <= set(denied)


def _boundary_allows(environment: str, action: str, resource: str, tags: dict[str, str]) -> bool:
    """Whether the environment's boundary leaves a role `action` on `resource` (a resource
    tagged `tags`): an Allow whose actions, resources and resource-tag conditions match it, and
    no such Deny."""
    document = _bootstrap()["Resources"]["StackRolesBoundary"]["Properties"]["PolicyDocument"]

    def matches(statement: dict[str, Any]) -> bool:
        if not covers(statement, action):
            return False
        patterns = _resolved(statement["Resource"], environment)
        patterns = [patterns] if isinstance(patterns, str) else patterns
        if not any(fnmatch(resource, pattern) for pattern in patterns):
            return False
        for operator, conditions in statement.get("Condition", {}).items():
            assert operator == "StringEquals", operator  # the only operator the boundary uses
            for key, expected in conditions.items():
                service, tag = key.split("/", 1)
                assert service in ("secretsmanager:ResourceTag", "aws:ResourceTag"), key
                if tags.get(tag) != _resolved(expected, environment):
                    return False
        return True

    statements = document["Statement"]
    if any(s["Effect"] == "Deny" and matches(s) for s in statements):
        return False
    return any(s["Effect"] == "Allow" and matches(s) for s in statements)


@pytest.mark.parametrize(("environment", "other"), [("dev", "prod"), ("prod", "dev")])
def test_a_stacks_roles_read_its_own_secrets_and_not_the_other_environments(
    environment: str, other: str
) -> None:
    # Given the secrets of the talkrate stack, tagged as the template tags them: both
    # environments' stacks have the same logical ids, so the same names but a random suffix
    secrets = resources(transformed(), "AWS::SecretsManager::Secret")
    assert len(secrets) >= 5

    def tags(secret: dict[str, Any], stack: str) -> dict[str, str]:
        given = {t["Key"]: t["Value"] for t in secret["Properties"].get("Tags", [])}
        return {k: stack if v == {"Ref": "AWS::StackName"} else v for k, v in given.items()}

    read = "secretsmanager:GetSecretValue"
    for name, secret in secrets.items():
        arn = f"arn:aws:secretsmanager:eu-west-1:{ACCOUNT}:secret:{name}-AbCdEf123456"
        # Then the environment's boundary leaves its roles the secrets of its own stack
        own = tags(secret, f"talkrate-{environment}")
        assert _boundary_allows(environment, read, arn, own), name
        # And not those of the other environment's stack in the same account, nor an untagged one
        assert not _boundary_allows(environment, read, arn, tags(secret, f"talkrate-{other}")), name
        assert not _boundary_allows(environment, read, arn, {}), name


def _cloudformation_role_denies(environment: str, action: str, tags: dict[str, str]) -> bool:
    """Whether a Deny of the environment's CloudFormation role (its PowerUserAccess allows every
    secretsmanager action) takes `action` on a secret tagged `tags` away."""
    role = _bootstrap()["Resources"]["CloudFormationExecutionRole"]["Properties"]
    prefix = "secretsmanager:ResourceTag/"

    def holds(operator: str, key: str, expected: Any) -> bool:
        assert key.startswith(prefix), key
        value = tags.get(key.removeprefix(prefix))
        wanted = _resolved(expected, environment)
        if operator == "StringLike":
            return value is not None and fnmatch(value, wanted)
        assert operator == "StringNotEquals", operator  # the operators the role uses
        return value is None or value != wanted

    for policy in role.get("Policies", []):
        for statement in policy["PolicyDocument"]["Statement"]:
            if statement["Effect"] != "Deny":
                continue
            if not covers(statement, action):
                continue
            if all(
                holds(operator, key, expected)
                for operator, conditions in statement.get("Condition", {}).items()
                for key, expected in conditions.items()
            ):
                return True
    return False


@pytest.mark.parametrize(("environment", "other"), [("dev", "prod"), ("prod", "dev")])
def test_an_environments_deploys_cannot_reach_the_other_environments_secrets(
    environment: str, other: str
) -> None:
    # Given the CloudFormation role an environment's deploys run as (PowerUserAccess: every
    # secret of the account, a dynamic reference in a template included)
    own = {"talkrate:stack": f"talkrate-{environment}"}
    theirs = {"talkrate:stack": f"talkrate-{other}"}
    for action in ("secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue"):
        # Then it keeps its own stack's secrets, and those not tagged yet (being created)
        assert not _cloudformation_role_denies(environment, action, own)
        assert not _cloudformation_role_denies(environment, action, {})
        # And not the other environment's: not read, not changed
        assert _cloudformation_role_denies(environment, action, theirs)
    # Nor can it make one of theirs its own, or untag it
    for action in ("secretsmanager:TagResource", "secretsmanager:UntagResource"):
        assert _cloudformation_role_denies(environment, action, theirs)
    assert not _cloudformation_role_denies(environment, "secretsmanager:CreateSecret", {})


@pytest.mark.parametrize("environment", ["dev", "prod"])
def test_each_deploy_bounds_the_stacks_roles_with_the_bootstraps_boundary(environment: str) -> None:
    # Given the deploy step of the environment
    step = _deploy_steps()[environment]
    overrides = step["run"].split("--parameter-overrides", 1)[1]
    # Then it passes the boundary the bootstrap stack outputs, from the environment's variable
    assert '"PermissionsBoundaryArn=$PERMISSIONS_BOUNDARY_ARN"' in overrides
    assert step["env"]["PERMISSIONS_BOUNDARY_ARN"] == "${{ vars.PERMISSIONS_BOUNDARY_ARN }}"
    output = _bootstrap()["Outputs"]["PermissionsBoundaryArn"]
    assert output["Value"] == {"Ref": "StackRolesBoundary"}
    assert "PERMISSIONS_BOUNDARY_ARN" in output["Description"]
    # And refuses to deploy without it (an unset variable would deploy roles without one)
    ran = subprocess.run(
        ["bash", "-c", step["run"].splitlines()[0]],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin"},
        timeout=10,
        check=False,
    )
    assert ran.returncode != 0
    assert "PERMISSIONS_BOUNDARY_ARN" in ran.stderr
    # And the template takes it as every role's boundary
    assert "PermissionsBoundaryArn" in _source()["Parameters"]


def _workflow() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / ".github/workflows/deploy.yml").read_text())
    return loaded


@pytest.mark.parametrize("environment", ["dev", "prod"])
def test_each_deploy_installs_its_packages_before_it_holds_aws_credentials(
    environment: str,
) -> None:
    # Given the deploy job's steps, in order
    [job] = [j for j in _workflow()["jobs"].values() if j.get("environment") == environment]
    steps = job["steps"]
    [credentials] = [
        i for i, step in enumerate(steps) if "configure-aws-credentials" in step.get("uses", "")
    ]
    before = " ".join(step.get("run", "") for step in steps[:credentials])
    # Then the SAM CLI and publish-web's environment are installed before the role is assumed
    # (install-time code of a package never runs with the deploy role's session)
    assert "bash .ci/install-sam.sh" in before
    assert "make setup" in before


def test_nothing_is_built_for_a_deploy_before_the_whole_of_ci_passed_on_it() -> None:
    # Given the pipeline's workflows, as GitHub reads them ("on" is YAML 1.1's True)
    workflows = ROOT / ".github/workflows"
    deploy: dict[str, Any] = yaml.safe_load((workflows / "deploy.yml").read_text())
    ci: dict[str, Any] = yaml.safe_load((workflows / "ci.yml").read_text())
    jobs = deploy["jobs"]
    # Then every deploy's build waits for a job running ci.yml, which may be called, on the same
    # commit (a push to main deployed to dev whatever its checks said)
    ci_yml = ("$/.github/workflows/ci.yml", "./.github/workflows/ci.yml")
    checks = [name for name, job in jobs.items() if job.get("uses") in ci_yml]
    assert checks, "no job of deploy.yml runs ci.yml"
    assert "workflow_call" in ci[True]
    assert set(checks) <= set(_needed(jobs, "build"))
    for name, job in jobs.items():
        if "environment" in job:
            assert set(checks) <= _needed(jobs, name), name
    # And a push's own CI run and the deploy's cannot cancel each other (one concurrency group
    # for both cancelled one of them)
    assert "github.workflow" in ci["concurrency"]["group"]


def _needed(jobs: dict[str, Any], name: str) -> set[str]:
    """Every job `name` waits for, directly or through the jobs it needs."""
    needs = jobs[name].get("needs", [])
    direct = {needs} if isinstance(needs, str) else set(needs)
    return direct.union(*(_needed(jobs, each) for each in direct))


def test_a_prod_deploy_waiting_for_its_reviewers_holds_up_no_deploy_to_dev() -> None:
    workflow = _workflow()
    # Then no group spans the whole workflow (a run waiting for prod's reviewers held it, and no
    # later push reached dev), and each environment deploys one at a time, none cancelled
    assert "concurrency" not in workflow
    groups = {}
    for job in workflow["jobs"].values():
        if "environment" in job:
            assert job["concurrency"]["cancel-in-progress"] is False
            groups[job["environment"]] = job["concurrency"]["group"]
    assert set(groups) == {"dev", "prod"}
    assert groups["dev"] != groups["prod"]
