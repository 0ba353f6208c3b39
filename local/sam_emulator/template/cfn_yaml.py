"""Loading CloudFormation/SAM YAML: short intrinsic tags become their long JSON forms."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

# Short tag -> long key. !Ref and !Condition are not "Fn::" functions; !GetAtt has a dotted short form.
_FUNCTIONS = (
    "And",
    "Base64",
    "Cidr",
    "Equals",
    "FindInMap",
    "GetAtt",
    "GetAZs",
    "If",
    "ImportValue",
    "Join",
    "Not",
    "Or",
    "Select",
    "Split",
    "Sub",
    "Transform",
)


# libyaml's parser when PyYAML was built with it (its wheels are): the pure-Python one took 0.3 to
# 0.9 s for template.yaml, read twice at each start of the local runtime; libyaml takes 0.03 s.
try:
    from yaml import CSafeLoader as _SafeLoader
except ImportError:  # pragma: no cover - a PyYAML built without libyaml
    from yaml import SafeLoader as _SafeLoader  # type: ignore[assignment]


class CloudFormationLoader(_SafeLoader):
    """A SafeLoader that understands the CloudFormation short-form intrinsic function tags."""


def _node_value(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    raise yaml.constructor.ConstructorError(
        None, None, f"unexpected node {node.tag}", node.start_mark
    )


def _long_form(key: str) -> Any:
    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        return {key: _node_value(loader, node)}

    return construct


def _get_att(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
    value = _node_value(loader, node)
    if isinstance(value, str):  # !GetAtt Resource.Attribute (the attribute may itself contain dots)
        resource, _, attribute = value.partition(".")
        value = [resource, attribute]
    return {"Fn::GetAtt": value}


def _unknown_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    # Future intrinsics (e.g. !ToJsonString, !Length) still load; the resolver treats them as unknown.
    return {f"Fn::{suffix}": _node_value(loader, node)}


CloudFormationLoader.add_constructor("!Ref", _long_form("Ref"))
CloudFormationLoader.add_constructor("!Condition", _long_form("Condition"))
CloudFormationLoader.add_constructor("!GetAtt", _get_att)
for _name in _FUNCTIONS:
    if _name != "GetAtt":
        CloudFormationLoader.add_constructor(f"!{_name}", _long_form(f"Fn::{_name}"))
CloudFormationLoader.add_multi_constructor("!", _unknown_tag)


def load_yaml(text: str) -> Any:
    """Parse CloudFormation YAML text, short tags included."""
    return yaml.load(text, Loader=CloudFormationLoader)  # noqa: S506 - a SafeLoader subclass  # nosec B506


def load_yaml_file(path: Path) -> Any:
    """Parse a CloudFormation YAML file, short tags included."""
    return load_yaml(path.read_text(encoding="utf-8"))
