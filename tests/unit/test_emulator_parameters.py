"""The runtime checks a template parameter's value as CloudFormation does before a deploy: a value
`sam deploy` would refuse is refused at start, with the parameter's ConstraintDescription, and a
NoEcho parameter's value is never shown."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from sam_emulator.template import TemplateError, load_template, parse_template_text
from tests.builders import ROOT

pytestmark = pytest.mark.unit

TEMPLATE = """
Transform: AWS::Serverless-2016-10-31
Parameters:
  Mode:
    Type: String
    Default: calm
    AllowedValues: [calm, busy]
  Code:
    Type: String
    NoEcho: true
    Default: ""
    AllowedPattern: '^([a-z]{8,})?$'
  Name:
    Type: String
    Default: talk
    MinLength: 2
    MaxLength: 5
  Batch:
    Type: Number
    Default: 100
    MinValue: 1
    MaxValue: 10000
  Origin:
    Type: String
    Default: ""
    AllowedPattern: '^(https://[a-z.]+)?$'
    ConstraintDescription: must be empty or an https origin.
Resources: {}
"""


def _refusal(**overrides: str) -> str:
    with pytest.raises(TemplateError) as refused:
        parse_template_text(TEMPLATE, ROOT, overrides)
    return str(refused.value)


def test_each_kind_of_constraint_refuses_what_a_deploy_would() -> None:
    assert _refusal(Mode="Calm") == "template parameter Mode='Calm': must be one of calm, busy"
    assert _refusal(Name="t") == "template parameter Name='t': must have at least 2 characters"
    assert _refusal(Name="talks!") == (
        "template parameter Name='talks!': must have at most 5 characters"
    )
    assert _refusal(Batch="0") == "template parameter Batch='0': must be at least 1"
    assert _refusal(Batch="10001") == "template parameter Batch='10001': must be at most 10000"
    assert _refusal(Batch="many") == "template parameter Batch='many': must be a number"
    assert _refusal(Batch="nan") == "template parameter Batch='nan': must be a number"


def test_a_pattern_matches_the_whole_value_and_the_description_is_said() -> None:
    assert _refusal(Origin="https://a.example/path") == (
        "template parameter Origin='https://a.example/path': must be empty or an https origin."
    )


def test_a_no_echo_value_is_never_shown() -> None:
    refusal = _refusal(Code="Secret1!")
    assert refusal == "template parameter Code: does not match its AllowedPattern"
    assert "Secret1!" not in refusal


def test_values_within_their_constraints_and_the_defaults_are_taken() -> None:
    template = parse_template_text(
        TEMPLATE, ROOT, {"Mode": "busy", "Code": "", "Name": "ab", "Batch": "1e4", "Origin": ""}
    )
    assert template.parameters["Mode"] == "busy"
    assert template.parameters["Batch"] == "1e4"
    assert parse_template_text(TEMPLATE, ROOT).parameters["Name"] == "talk"


def test_the_project_template_takes_its_defaults_and_refuses_a_misspelt_policy() -> None:
    template = load_template(ROOT / "template.yaml", {"VotingPolicy": "open"})
    assert template.parameters["VotingPolicy"] == "open"
    with pytest.raises(TemplateError, match=r"^template parameter VotingPolicy='opne': must be "):
        load_template(ROOT / "template.yaml", {"VotingPolicy": "opne"})
    with pytest.raises(TemplateError) as short:
        load_template(ROOT / "template.yaml", {"VoterCode": "purple"})
    assert "purple" not in str(short.value)
    assert str(short.value).startswith(
        "template parameter VoterCode: empty (or -) for none, or 8 to 64 "
    )


def test_the_runtime_stops_at_start_with_one_line_and_starts_nothing() -> None:
    environment = {**os.environ, "VOTING_POLICY": "attendee"}
    environment["PYTHONPATH"] = os.pathsep.join(
        str(ROOT / part) for part in ("layers/shared", "cli", "local", "ops")
    )
    finished = subprocess.run(
        [
            *(sys.executable, "-m", "talkrate_local", "--port", "0", "--lambda-port", "0"),
            *("--url-port", "0", "--param", "RatingGraceHours=-2"),
        ],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (finished.returncode, finished.stdout) == (1, "")
    assert finished.stderr == (
        "python -m talkrate_local: template parameter RatingGraceHours='-2': "
        + "must be at least 0\n"
    )
