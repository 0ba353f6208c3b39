"""template.yaml as CloudFormation receives it is a template CloudFormation accepts: cfn-lint's
rules (the SAM CLI's own, in its virtualenv) run on the SAM translator's output under each
parameter variant the template tests use. `sam validate --lint` lints the source, where cfn-lint
skips every loop through an AWS::Serverless::* resource: a loop through the alias SAM generates
(its UpdatePolicy names the deployment group) shows only once the template is expanded."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.unit.test_template_operations import IN_VPC, MSK, SAM_PYTHON, transformed

pytestmark = pytest.mark.unit

PROD = {
    "Stage": "prod",
    "CorsAllowOrigin": "https://talkrate.example",
    "AlarmEmail": "ops@example.com",
    "LiveApiKeyExpires": "1800000000",
}
VARIANTS: dict[str, dict[str, str]] = {
    "dev": {},
    "prod": PROD,
    "prod-emergency": {**PROD, "EmergencyDeploy": "true"},
    "msk": MSK,
    "vpc": IN_VPC,
    "msk-vpc-traced": {**MSK, **IN_VPC, "Tracing": "Active"},
    "prod-vpc-serverless-cache": {
        **PROD,
        **IN_VPC,
        "VpcId": "vpc-12345678",
        "ReadModelBackend": "ElastiCacheServerless",
    },
}


def _lint(templates: dict[str, dict[str, Any]], folder: Path) -> list[dict[str, Any]]:
    """cfn-lint's findings on each expanded template (one process for them all)."""
    files = []
    for name, template in templates.items():
        template.pop("_parameters", None)
        path = folder / f"{name}.json"
        path.write_text(json.dumps(template))
        files.append(str(path))
    lint = SAM_PYTHON.parent / "cfn-lint"
    finished = subprocess.run(
        [str(lint), "--format", "json", "--regions", "eu-west-1", "--", *files],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert finished.stdout.strip(), finished.stderr[-2000:]
    findings: list[dict[str, Any]] = json.loads(finished.stdout)
    return findings


def test_every_variant_of_the_expanded_template_passes_cfn_lint_s_error_rules(
    tmp_path: Path,
) -> None:
    # Given the template SAM's translator makes under each variant the template tests deploy
    templates = {name: transformed(**parameters) for name, parameters in VARIANTS.items()}
    # When cfn-lint reads what CloudFormation would get
    findings = _lint(templates, tmp_path)
    # Then no rule at error level fails: not E3004 (a loop CloudFormation refuses on every
    # deploy), nor any other CloudFormation would refuse
    errors = [
        f"{Path(f['Filename']).stem}: {f['Rule']['Id']} {f['Message']}"
        for f in findings
        if f["Level"] == "Error"
    ]
    assert not errors, "\n".join(errors)
