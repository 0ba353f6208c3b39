"""Policy statements read as IAM reads them, for the tests of the templates' roles.

IAM matches an action against a statement's patterns with wildcards (`*`, `?`) and without regard
to case: `iam:Pass*` and `IAM:passrole` grant iam:PassRole as surely as `iam:PassRole` does, and
an Allow with a NotAction grants every action it does not name. A test that picks statements by
the literal action it cares about misses those; these helpers do not.
"""

from __future__ import annotations

from collections.abc import Iterable
from fnmatch import fnmatchcase
from typing import Any


def listed(value: str | list[str]) -> list[str]:
    """An Action (or Resource) as a list, whether written as one string or a list."""
    return [value] if isinstance(value, str) else list(value)


def matches(pattern: str, action: str) -> bool:
    """Whether an IAM action pattern (`*`, `?` wildcards, any case) matches an action."""
    escaped = pattern.lower().replace("[", "[[]")  # IAM has no character classes
    return fnmatchcase(action.lower(), escaped)


def covers(statement: dict[str, Any], action: str) -> bool:
    """Whether a statement applies to an action: one of its Action patterns matches it, or it
    has a NotAction that does not name it."""
    if "NotAction" in statement:
        return not any(matches(p, action) for p in listed(statement["NotAction"]))
    return any(matches(p, action) for p in listed(statement["Action"]))


def covers_any(statement: dict[str, Any], actions: Iterable[str]) -> bool:
    """Whether a statement applies to any of the actions."""
    return any(covers(statement, action) for action in actions)


def reaches(statement: dict[str, Any], service: str, actions: Iterable[str] = ()) -> bool:
    """Whether a statement applies to some action of a service: it names one (in any case), or
    one of its patterns matches one of `actions` (the service's actions the caller cares about),
    or it is a NotAction that leaves one of them granted."""
    prefix = f"{service.lower()}:"
    if "NotAction" not in statement and any(
        p.lower().startswith(prefix) for p in listed(statement["Action"])
    ):
        return True
    return covers_any(statement, actions)


# The condition operators the templates' policies use, as IAM applies them to one request value
# (a policy value list matches when any of its values does).
_OPERATORS = {
    "StringEquals": lambda value, wanted: value == wanted,
    "StringLike": lambda value, wanted: fnmatchcase(value, wanted.replace("[", "[[]")),
}


def _condition_holds(condition: dict[str, Any], context: dict[str, str]) -> bool:
    for operator, keys in condition.items():
        if operator not in _OPERATORS:
            raise NotImplementedError(f"condition operator {operator}: teach tests/iam.py")
        for key, wanted in keys.items():
            # A key the request does not carry fails its condition (no ...IfExists here).
            present = {k.lower(): v for k, v in context.items()}.get(key.lower())
            if present is None or not any(_OPERATORS[operator](present, w) for w in listed(wanted)):
                return False
    return True


def _names(statement: dict[str, Any], resource: str) -> bool:
    # Resource ARNs match case-sensitively, with `*` and `?` (which may span colons and slashes)
    if "NotResource" in statement:
        raise NotImplementedError("NotResource: teach tests/iam.py")
    patterns = [p.replace("[", "[[]") for p in listed(statement.get("Resource", []))]
    return any(fnmatchcase(resource, pattern) for pattern in patterns)


def allows(
    statements: Iterable[dict[str, Any]],
    action: str,
    resource: str,
    context: dict[str, str] | None = None,
) -> bool:
    """Whether identity-policy statements grant `action` on the resource ARN for a request
    carrying `context` (its condition keys: `aws:ResourceTag/...`, `ec2:SubnetID`...): an Allow
    whose action, resource and conditions all match, and no Deny that matches. The statements'
    values must be resolved already (plain strings, no intrinsic functions)."""
    context = context or {}
    matching = [
        s
        for s in statements
        if covers(s, action)
        and _names(s, resource)
        and _condition_holds(s.get("Condition", {}), context)
    ]
    return any(s["Effect"] == "Allow" for s in matching) and not any(
        s["Effect"] == "Deny" for s in matching
    )
