"""Raise (or set back) the API's throttle on a deployed stack, changing nothing else: the stage's
rate and burst limits and ApiFunction's reserved concurrency (and StatsFunction's, which each
GET /ratings invokes: never below the API's), mid-event.

    python scripts/stage_throttle.py --stack talkrate-prod --rate 300 --burst 600 --reserved 60 --stats 60 [--yes]

A `sam deploy` from a checkout uploads the code again (to its own bucket, where the pipeline
uses another), so every function's code location changes, a version of each is published and a
canary runs: at a keynote's end that is the last thing wanted. This makes a change set of the
template CloudFormation already holds (UsePreviousTemplate), every other parameter keeping its
value (UsePreviousValue), shows what it changes, and executes it only when every change comes
from these parameters alone (the stage, ApiFunction, StatsFunction, and the alarms whose
descriptions quote the limits); anything else, and the change set is deleted, nothing changed. Without
--yes it asks before executing.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any

PARAMETERS = {
    "rate": "ApiThrottleRateLimit",
    "burst": "ApiThrottleBurstLimit",
    "reserved": "ApiReservedConcurrency",
    "stats": "StatsReservedConcurrency",
}
# A stack of the template (a SAM transform, IAM roles) is updated with these.
CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"]
WAIT_SECONDS = 300.0


class Refused(Exception):
    """The change set would change more than the throttle: deleted, nothing changed."""


def parameters(stack: Mapping[str, Any], values: Mapping[str, int]) -> list[dict[str, Any]]:
    """The change set's parameters: the new values, every other one of the stack kept."""
    unknown = [
        name for name in values if name not in {p["ParameterKey"] for p in stack["Parameters"]}
    ]
    if unknown:
        raise Refused(f"the stack has no parameter {', '.join(unknown)}: is it talkrate's?")
    return [
        {"ParameterKey": key, "ParameterValue": str(values[key])}
        if key in values
        else {"ParameterKey": key, "UsePreviousValue": True}
        for key in (p["ParameterKey"] for p in stack["Parameters"])
    ]


def foreign_changes(changes: list[dict[str, Any]], causes: set[str]) -> list[str]:
    """Each change not made by the given parameters alone, said in a line: a replacement, an
    addition or removal, or a property changed for another reason (another template or code,
    which a change set of the previous template cannot bring, or a resource's own drift).

    CloudFormation describes a property a changed parameter reaches twice: once as a
    `ParameterReference` naming the parameter, once as a `DirectModification` evaluated
    `Dynamic` naming nothing (AWS's "Modifying an input parameter value" example). The second
    is the first's shadow when the same property has the first; alone, it is another change."""
    foreign = []
    for change in changes:
        resource = change.get("ResourceChange", {})
        name = resource.get("LogicalResourceId", "?")
        action = resource.get("Action")
        if action != "Modify" or resource.get("Replacement") not in (None, "False"):
            foreign.append(f"{name}: {action}, replacement {resource.get('Replacement')}")
            continue
        details = resource.get("Details", [])
        ours = {
            _target(d)
            for d in details
            if d.get("ChangeSource") == "ParameterReference" and d.get("CausingEntity") in causes
        }
        for detail in details:
            source, cause = detail.get("ChangeSource"), detail.get("CausingEntity")
            if source == "ParameterReference" and cause in causes:
                continue
            shadow = source == "DirectModification" and detail.get("Evaluation") == "Dynamic"
            if shadow and not cause and _target(detail) in ours:
                continue
            what = _target(detail)[1] or _target(detail)[0]
            foreign.append(f"{name}: {what} changed by {source} {cause or ''}".rstrip())
    return foreign


def _target(detail: Mapping[str, Any]) -> tuple[str, str]:
    """What a change's detail changes: the attribute (Properties, Tags…) and its name."""
    target = detail.get("Target", {})
    return str(target.get("Attribute", "")), str(target.get("Name", ""))


def throttle(
    cloudformation: Any,
    stack_name: str,
    values: Mapping[str, int],
    confirm: Callable[[list[str]], bool],
    say: Callable[[str], None] = print,
) -> bool:
    """Make the change set, check it, execute it when confirmed; whether it was executed."""
    [stack] = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    _refuse_api_above_stats(stack, values)
    name = f"stage-throttle-{int(time.time())}"
    cloudformation.create_change_set(
        StackName=stack_name,
        ChangeSetName=name,
        UsePreviousTemplate=True,
        Parameters=parameters(stack, values),
        Capabilities=CAPABILITIES,
        Description="talkrate: the API's throttle only (scripts/stage_throttle.py)",
    )
    described = _created(cloudformation, stack_name, name)
    if described is None:  # nothing to change: the stack has these values already
        cloudformation.delete_change_set(StackName=stack_name, ChangeSetName=name)
        say("the stack has these values already: nothing to change")
        return False
    changes = described.get("Changes", [])
    lines = [
        f"{c['ResourceChange']['LogicalResourceId']} ({c['ResourceChange']['ResourceType']})"
        for c in changes
    ]
    foreign = foreign_changes(changes, set(values))
    if foreign or not changes:
        cloudformation.delete_change_set(StackName=stack_name, ChangeSetName=name)
        raise Refused(
            "the change set would change more than the throttle, so it was deleted and nothing "
            "changed: " + "; ".join(foreign or ["no change at all"])
        )
    say("the change set modifies, from these parameters only: " + ", ".join(lines))
    if not confirm(lines):
        cloudformation.delete_change_set(StackName=stack_name, ChangeSetName=name)
        say("not executed; the change set was deleted")
        return False
    cloudformation.execute_change_set(StackName=stack_name, ChangeSetName=name)
    say(
        f"executing {name}: the stage takes the new limits within a minute of the update "
        "(`aws cloudformation describe-stacks` says UPDATE_COMPLETE)"
    )
    return True


def _refuse_api_above_stats(stack: Mapping[str, Any], values: Mapping[str, int]) -> None:
    """Refuse, in a change of either, more API environments than StatsFunction may have (each
    GET /ratings invokes it: past its reserved concurrency the answers carry no statistics,
    StatsThrottlesAlarm): the API's above Stats', or unreserved (0) while Stats' is reserved."""
    api_key, stats_key = "ApiReservedConcurrency", "StatsReservedConcurrency"
    if api_key not in values and stats_key not in values:
        return  # (the rate or the burst alone: what the stack holds is not this change's)
    kept = {p["ParameterKey"]: p.get("ParameterValue") for p in stack.get("Parameters", [])}
    try:
        api = values[api_key] if api_key in values else int(kept.get(api_key) or 0)
        stats = values[stats_key] if stats_key in values else int(kept.get(stats_key) or 0)
    except ValueError:
        return  # (not a number: CloudFormation's own check says so)
    if stats and (api == 0 or api > stats):
        said = "unreserved (0)" if api == 0 else str(api)
        raise Refused(
            f"ApiReservedConcurrency {said} would be above StatsReservedConcurrency {stats}: "
            f"the API's environments past {stats} would answer GET /ratings without statistics "
            f"(StatsThrottlesAlarm); give Stats at least as many: --stats {api} (make "
            f"stage-throttle … STATS={api}{', unreserved' if api == 0 else ''}). Nothing changed"
        )


def _created(cloudformation: Any, stack_name: str, name: str) -> dict[str, Any] | None:
    """The change set once made (every page of its changes), or None when it changes nothing."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        described: dict[str, Any] = cloudformation.describe_change_set(
            StackName=stack_name, ChangeSetName=name
        )
        status = described["Status"]
        if status == "CREATE_COMPLETE":
            break
        if status == "FAILED":
            reason = described.get("StatusReason", "")
            if "didn't contain changes" in reason or "No updates" in reason:
                return None
            raise Refused(f"CloudFormation could not make the change set: {reason}")
        if time.monotonic() > deadline:
            raise Refused(f"the change set {name} was not made within {WAIT_SECONDS:.0f} s")
        time.sleep(2)
    changes = list(described.get("Changes", []))
    while token := described.get("NextToken"):
        described = cloudformation.describe_change_set(
            StackName=stack_name, ChangeSetName=name, NextToken=token
        )
        changes += described.get("Changes", [])
    return {**described, "Changes": changes}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--stack", required=True, help="the CloudFormation stack's name")
    parser.add_argument("--rate", type=int, help="ApiThrottleRateLimit: requests a second")
    parser.add_argument("--burst", type=int, help="ApiThrottleBurstLimit: the burst")
    parser.add_argument("--reserved", type=int, help="ApiReservedConcurrency (0: none)")
    parser.add_argument(
        "--stats", type=int, help="StatsReservedConcurrency (0: none; at least --reserved)"
    )
    parser.add_argument("--yes", action="store_true", help="execute without asking")
    args = parser.parse_args(argv)
    values = {
        PARAMETERS[option]: value
        for option in PARAMETERS
        if (value := getattr(args, option)) is not None
    }
    if not values:
        parser.error("give at least one of --rate, --burst, --reserved, --stats")
    import boto3  # the operator's credentials and region, as for `sam deploy`

    def confirm(_: list[str]) -> bool:
        if args.yes:
            return True
        if not sys.stdin.isatty():
            print("not a terminal: run again with --yes to execute", file=sys.stderr)
            return False
        return input("execute it? [y/N] ").strip().lower() in ("y", "yes")

    try:
        throttle(boto3.client("cloudformation"), args.stack, values, confirm)
    except Refused as refused:
        print(f"stage_throttle: {refused}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
