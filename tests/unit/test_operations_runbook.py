"""The ProjectorFailuresAlarm runbook of docs/operations.md, run by bash as an operator pastes it:
the report leaves the queue only once its replay counted it. The block ran the delete whatever
the replay said, and a replay that stored its records without counting them (exit 1) lost the
report."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.builders import ROOT

pytestmark = pytest.mark.unit

# Each command the block calls, as a shell function: `aws` and the replay say what they were
# asked and answer as the queue and the replay would; jq is the real one.
STAND_INS = """
aws() {
  echo "aws $*" >> "$CALLS"
  case "$1 $2" in
    "cloudformation describe-stacks") echo "https://sqs.example/queue" ;;
    "sqs receive-message") echo '{"Messages": [{"Body": "{}", "ReceiptHandle": "h-1"}]}' ;;
  esac
}
python() { echo "python $*" >> "$CALLS"; return "$REPLAY_EXIT"; }
"""


def runbook_block() -> str:
    """The bash block of the ProjectorFailuresAlarm section."""
    guide = (ROOT / "docs" / "operations.md").read_text()
    section = guide.split("### ProjectorFailuresAlarm\n", 1)[1].split("\n### ", 1)[0]
    [block] = re.findall(r"```bash\n(.*?)```", section, re.DOTALL)
    return block


def pasted(tmp_path: Path, replay_exit: int) -> list[str]:
    """The commands the block ran, pasted into bash in a folder of its own, the replay
    exiting with `replay_exit`."""
    calls = tmp_path / "calls"
    subprocess.run(
        ["bash", "-c", STAND_INS + runbook_block()],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "CALLS": str(calls), "REPLAY_EXIT": str(replay_exit)},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return calls.read_text().splitlines()


def test_the_report_is_deleted_once_its_replay_counted_it(tmp_path: Path) -> None:
    ran = pasted(tmp_path, replay_exit=0)
    assert "python -m talkrate_ops replay --failure report.json" in ran
    assert (
        "aws sqs delete-message --queue-url https://sqs.example/queue --receipt-handle h-1" in ran
    )


def test_a_replay_that_did_not_count_the_report_leaves_it_in_the_queue(tmp_path: Path) -> None:
    # A replay that stored the records and rebuilt nothing (another span missing) exits 1
    ran = pasted(tmp_path, replay_exit=1)
    assert "python -m talkrate_ops replay --failure report.json" in ran
    assert not [call for call in ran if "delete-message" in call]


def commands_environment_block() -> str:
    """The bash block that sets the operator commands' environment (under Alarms)."""
    guide = (ROOT / "docs" / "operations.md").read_text()
    section = guide.split("The operator commands below run from a checkout", 1)[1]
    return re.findall(r"```bash\n(.*?)```", section, re.DOTALL)[0]


# `aws cloudformation describe-stacks` as a dev stack answers it: its outputs and parameters
# (samconfig.toml gives dev its own topic).
DEV_STACK = """
aws() {
  case "$*" in
    *"--stack-name talkrate-dev "*"OutputKey=='ConnectionsSecretArn'"*)
      echo "arn:aws:secretsmanager:eu-west-1:123456789012:secret:dev-AbC" ;;
    *"--stack-name talkrate-dev "*"ParameterKey=='RatingsTopic'"*) echo "talkrate-dev-ratings" ;;
    *) echo "unexpected: aws $*" >&2; return 1 ;;
  esac
}
"""


def test_the_commands_environment_names_the_stack_s_own_topic(tmp_path: Path) -> None:
    # Given the block pasted for the dev stack (whose topic is its own, not `ratings`)
    block = commands_environment_block().replace("stack=talkrate-prod", "stack=talkrate-dev", 1)
    # When bash runs it
    finished = subprocess.run(
        [
            "bash",
            "-euc",
            DEV_STACK + block + 'echo "topic=$RATINGS_TOPIC secret=$CONNECTIONS_SECRET_ARN"',
        ],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    # Then the commands read dev's topic (rebuild and check compare its positions) and its
    # connections secret, whose strings never reach a command line
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.split() == [
        "topic=talkrate-dev-ratings",
        "secret=arn:aws:secretsmanager:eu-west-1:123456789012:secret:dev-AbC",
    ]
