"""The delivery pipeline's deploys (.github/workflows/deploy.yml), read as GitHub runs them: each
environment's `sam deploy` names its stage and renews the live channel's API key."""

from __future__ import annotations

import re
import subprocess
import time
from typing import Any

import pytest
import yaml

from tests.builders import ROOT
from tests.unit.test_template_operations import _source

pytestmark = pytest.mark.unit

DAY = 86_400


def deploy_steps() -> dict[str, str]:
    """The `sam deploy` script of each deploy job, by the environment it deploys to."""
    workflow: dict[str, Any] = yaml.safe_load((ROOT / ".github/workflows/deploy.yml").read_text())
    found = {}
    for job in workflow["jobs"].values():
        for step in job.get("steps", []):
            if " deploy --config-env " in step.get("run", ""):
                found[job["environment"]] = step["run"]
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
