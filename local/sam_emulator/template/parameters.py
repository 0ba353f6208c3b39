"""A template parameter's value checked as CloudFormation checks it before a deploy.

`sam deploy` refuses a value outside its parameter's AllowedValues, AllowedPattern (matched
against the whole value), MinLength/MaxLength, or MinValue/MaxValue for a Number; the runtime
refuses it at start the same way, so a value that could never be deployed is not run locally
either. The message names the parameter and its ConstraintDescription, and shows the value
only when the parameter is not NoEcho.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sam_emulator.template.intrinsics import as_text
from sam_emulator.template.reader import TemplateError


def check_value(name: str, spec: Mapping[str, Any], value: str) -> None:
    """TemplateError when `value` breaks a constraint `spec` declares."""
    problem = _broken(spec, value)
    if problem is None:
        return
    shown = "" if _truthy(spec.get("NoEcho")) else f"={value!r}"
    described = spec.get("ConstraintDescription")
    why = " ".join(as_text(described).split()) if described else problem
    raise TemplateError(f"template parameter {name}{shown}: {why}")


def _broken(spec: Mapping[str, Any], value: str) -> str | None:
    allowed = spec.get("AllowedValues")
    if isinstance(allowed, list) and value not in [as_text(item) for item in allowed]:
        return "must be one of " + ", ".join(as_text(item) for item in allowed)
    if str(spec.get("Type", "String")) == "Number":
        return _number_broken(spec, value)
    for key, longest, words in (("MinLength", False, "at least"), ("MaxLength", True, "at most")):
        if key in spec:
            limit = int(as_text(spec[key]))
            if (len(value) > limit) if longest else (len(value) < limit):
                return f"must have {words} {limit} characters"
    pattern = spec.get("AllowedPattern")
    if pattern is not None and re.fullmatch(as_text(pattern), value) is None:
        return "does not match its AllowedPattern"
    return None


def _number_broken(spec: Mapping[str, Any], value: str) -> str | None:
    try:
        number = float(value.strip())
    except ValueError:
        return "must be a number"
    if number != number:  # NaN compares with no limit
        return "must be a number"
    if "MinValue" in spec and number < float(as_text(spec["MinValue"])):
        return f"must be at least {as_text(spec['MinValue'])}"
    if "MaxValue" in spec and number > float(as_text(spec["MaxValue"])):
        return f"must be at most {as_text(spec['MaxValue'])}"
    return None


def _truthy(flag: Any) -> bool:
    return flag is not None and as_text(flag).lower() == "true"
