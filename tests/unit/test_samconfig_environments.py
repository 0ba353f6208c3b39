"""samconfig.toml's deploy environments: what `sam deploy --config-env <env>` gives each stack (and
what `--guided` offers as each answer), beside the template's defaults."""

from __future__ import annotations

import re
import shlex
import tomllib
from typing import Any

import pytest

from tests.builders import ROOT
from tests.unit.test_template_operations import _source

pytestmark = pytest.mark.unit

KAFKA_NAMES = ("RatingsTopic", "ProjectorConsumerGroup")


def _deployed_with(env: str) -> dict[str, str]:
    """The parameters a stack of `env` gets from samconfig.toml, the template's defaults where
    its section names none."""
    config: dict[str, Any] = tomllib.loads((ROOT / "samconfig.toml").read_text())
    overrides = config[env]["deploy"]["parameters"].get("parameter_overrides", "")
    given = dict(item.partition("=")[::2] for item in shlex.split(overrides))
    defaults = {k: str(v.get("Default", "")) for k, v in _source()["Parameters"].items()}
    return {**defaults, **given}


def test_a_dev_stack_never_reads_prod_s_topic_nor_joins_its_consumer_group() -> None:
    # Given what `sam deploy --config-env dev` and `--config-env prod` give their stacks
    dev, prod = _deployed_with("dev"), _deployed_with("prod")
    # Then dev's topic and consumer group are its own: a dev stack pointed at prod's cluster
    # publishes to neither prod's topic nor takes partitions from prod's projector
    for name in KAFKA_NAMES:
        assert dev[name] != prod[name], name
    # And prod's are the defaults, which its stack was created with (Lambda cannot change a
    # mapping's consumer group; a new topic would leave prod's ratings behind)
    defaults = {k: str(v.get("Default", "")) for k, v in _source()["Parameters"].items()}
    assert {name: prod[name] for name in KAFKA_NAMES} == {n: defaults[n] for n in KAFKA_NAMES}
    # And the template takes dev's names
    for name in KAFKA_NAMES:
        pattern = _source()["Parameters"][name]["AllowedPattern"]
        assert re.fullmatch(pattern, dev[name]), (name, dev[name])


def test_the_readme_and_the_runbook_name_dev_s_topic_and_consumer_group() -> None:
    # Given dev's Kafka names
    dev = _deployed_with("dev")
    readme = (ROOT / "README.md").read_text()
    guide = (ROOT / "docs" / "operations.md").read_text()
    # Then the README's warning names them as samconfig gives them
    for name in KAFKA_NAMES:
        assert f"`{dev[name]}`" in readme, name
    # And the runbook names dev's topic where it says which topic the operator commands read
    # (RATINGS_TOPIC: rebuild and check compare that topic's positions only)
    assert f"`{dev['RatingsTopic']}`" in guide
