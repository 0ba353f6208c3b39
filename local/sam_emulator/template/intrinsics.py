"""Evaluating the CloudFormation intrinsics a local run can know: parameters, pseudo parameters,
conditions, mappings and function names. Anything that needs a deployed stack is `Unresolvable`."""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from typing import Any, Final

REGION: Final = "us-east-1"
ACCOUNT_ID: Final = "000000000000"
STACK_NAME: Final = "sam-local"

FUNCTION_TYPES: Final = frozenset({"AWS::Serverless::Function", "AWS::Lambda::Function"})

_PSEUDO: Final[Mapping[str, str]] = {
    "AWS::Region": REGION,
    "AWS::AccountId": ACCOUNT_ID,
    "AWS::Partition": "aws",
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::StackName": STACK_NAME,
    "AWS::StackId": f"arn:aws:cloudformation:{REGION}:{ACCOUNT_ID}:stack/{STACK_NAME}/local",
}
_SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")


class Unresolvable(Exception):
    """The value depends on something only a deployed stack knows (a secret ARN, an import...)."""


class _NoValue:
    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE: Final = _NoValue()


def function_arn(name: str) -> str:
    """The local ARN of a function (the logical id is the function name locally)."""
    return f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{name}"


def as_text(value: Any) -> str:
    """A resolved scalar as CloudFormation would render it in a string context."""
    if isinstance(value, bool):  # YAML `true` becomes "true", as in CloudFormation
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return str(value)
    if isinstance(value, list):
        return ",".join(as_text(item) for item in value)
    raise Unresolvable(f"not a scalar: {value!r}")


class Resolver:
    """Resolves intrinsic functions against parameter values, conditions, mappings and resources."""

    def __init__(
        self,
        parameters: Mapping[str, str | list[str]],
        conditions: Mapping[str, Any],
        mappings: Mapping[str, Any],
        resources: Mapping[str, Any],
    ) -> None:
        self._parameters = parameters
        self._conditions = conditions
        self._mappings = mappings
        self._resources = resources
        self._evaluated: dict[str, bool] = {}
        self._evaluating: set[str] = set()

    def condition(self, name: str) -> bool:
        """The value of a named condition (evaluated once; cycles are an error)."""
        if name in self._evaluated:
            return self._evaluated[name]
        if name not in self._conditions:
            raise Unresolvable(f"unknown condition {name!r}")
        if name in self._evaluating:
            raise Unresolvable(f"condition {name!r} refers to itself")
        self._evaluating.add(name)
        try:
            value = self.truth(self._conditions[name])
        finally:
            self._evaluating.discard(name)
        self._evaluated[name] = value
        return value

    def truth(self, value: Any) -> bool:
        """Evaluate a condition expression (Fn::Equals/Not/And/Or, Condition)."""
        resolved = self.resolve(value)
        if isinstance(resolved, bool):
            return resolved
        if isinstance(resolved, str) and resolved.lower() in ("true", "false"):
            return resolved.lower() == "true"
        raise Unresolvable(f"not a condition: {value!r}")

    def resolve(self, value: Any) -> Any:
        """Resolve every intrinsic in a value; AWS::NoValue entries disappear from lists and maps."""
        if isinstance(value, list):
            items = [self.resolve(item) for item in value]
            return [item for item in items if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (key, argument), *_ = value.items()
            if key == "Ref":
                return self._ref(argument)
            if key == "Condition" and isinstance(argument, str):
                return self.condition(argument)
            if isinstance(key, str) and key.startswith("Fn::"):
                return self._function(key[4:], argument)
        resolved = {key: self.resolve(item) for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item is not NO_VALUE}

    def text(self, value: Any) -> str:
        """Resolve a value that must end up as a string (an environment variable, a topic...)."""
        resolved = self.resolve(value)
        if resolved is NO_VALUE:
            raise Unresolvable("AWS::NoValue")
        return as_text(resolved)

    def environment_value(self, value: Any) -> str:
        """An environment value as the local runtime takes it: a literal, a Ref (parameter, pseudo
        parameter or function) or a Sub of those. Everything else (!If, FindInMap, GetAtt...)
        describes AWS wiring and is Unresolvable, so the variable is left unset locally."""
        if isinstance(value, dict) and set(value) == {"Ref"}:
            resolved = self._ref(value["Ref"])
            if resolved is NO_VALUE:
                raise Unresolvable("AWS::NoValue")
            return as_text(resolved)
        if isinstance(value, dict) and set(value) == {"Fn::Sub"}:
            argument = value["Fn::Sub"]
            if not isinstance(argument, str):
                raise Unresolvable("Fn::Sub with variables")
            return self._sub(argument, attributes=False)
        if isinstance(value, dict | list) or value is None:
            raise Unresolvable(f"not a local value: {value!r}")
        return as_text(value)

    def _ref(self, name: Any) -> Any:
        if not isinstance(name, str):
            raise Unresolvable(f"bad Ref {name!r}")
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in _PSEUDO:
            return _PSEUDO[name]
        if name in self._parameters:
            return self._parameters[name]
        if self._is_function(name):  # locally a function's name is its logical id
            return name
        raise Unresolvable(f"Ref {name}")

    def _is_function(self, name: str) -> bool:
        resource = self._resources.get(name)
        return isinstance(resource, dict) and resource.get("Type") in FUNCTION_TYPES

    def _get_att(self, resource: str, attribute: str) -> str:
        if self._is_function(resource) and attribute == "Arn":
            return function_arn(resource)
        raise Unresolvable(f"GetAtt {resource}.{attribute}")

    def _function(self, name: str, argument: Any) -> Any:
        if name == "If":
            condition, when_true, when_false = argument
            return self.resolve(when_true if self.condition(condition) else when_false)
        if name == "Equals":
            left, right = (self.resolve(item) for item in argument)
            return as_text(left) == as_text(right)
        if name == "Not":
            return not self.truth(argument[0])
        if name == "And":
            return all(self.truth(item) for item in argument)
        if name == "Or":
            return any(self.truth(item) for item in argument)
        if name == "Sub":
            return self._sub(argument)
        if name == "Join":
            delimiter, items = argument
            return as_text(delimiter).join(as_text(item) for item in self.resolve(items))
        if name == "Select":
            index, items = argument
            return self.resolve(items)[int(as_text(self.resolve(index)))]
        if name == "Split":
            delimiter, text = argument
            return self.text(text).split(as_text(delimiter))
        if name == "FindInMap":
            mapping, top, second = (self.text(item) for item in argument)
            try:
                return self._mappings[mapping][top][second]
            except (KeyError, TypeError) as error:
                raise Unresolvable(f"FindInMap {mapping}.{top}.{second}") from error
        if name == "Base64":
            return base64.b64encode(self.text(argument).encode()).decode()
        if name == "GetAtt":
            resource, attribute = argument if isinstance(argument, list) else (argument, "")
            return self._get_att(self.text(resource), self.text(attribute))
        raise Unresolvable(f"Fn::{name}")

    def _sub(self, argument: Any, *, attributes: bool = True) -> str:
        template, variables = (argument, {}) if isinstance(argument, str) else argument
        values = {key: self.resolve(item) for key, item in dict(variables).items()}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1).strip()
            if name.startswith("!"):  # ${!Literal} renders as ${Literal}
                return "${" + name[1:] + "}"
            if name in values:
                return as_text(values[name])
            if "." in name:
                if not attributes:
                    raise Unresolvable(f"${{{name}}}")
                resource, _, attribute = name.partition(".")
                return self._get_att(resource, attribute)
            return as_text(self._ref(name))

        return _SUB_VARIABLE.sub(replace, as_text(template))
