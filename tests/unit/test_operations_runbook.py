"""Blocks of docs/operations.md, run by bash as an operator pastes them. The ProjectorFailuresAlarm
runbook: the report leaves the queue only once its replay counted it (the block ran the delete
whatever the replay said, and a replay that stored its records without counting them, exit 1,
lost the report). The commands' environment: the stack's own topic, and its brokers. The puts of a secret: the
value on no command line, exactly as meant, from a private file removed after."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import NamedTuple

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
    *"--stack-name talkrate-dev "*"ParameterKey=='ProjectorConsumerGroup'"*)
      echo "talkrate-dev-projector" ;;
    "cloudformation describe-stack-resource --stack-name talkrate-dev --logical-resource-id RelayFunction "*)
      echo "talkrate-dev-RelayFunction-AbC" ;;
    "lambda get-function-configuration --function-name talkrate-dev-RelayFunction-AbC "*)
      cat <<'JSON'
{"CONNECTIONS_SECRET_ARN": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:dev-AbC",
 "STREAMS_CONNECTION": "b-1.dev.example:9096,b-2.dev.example:9096",
 "STREAMS_SECURITY_PROTOCOL": "SASL_SSL", "STREAMS_SASL_MECHANISM": "SCRAM-SHA-512",
 "STREAMS_SECRET_ARN": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:dev-streams-'x",
 "RATINGS_TOPIC": "talkrate-dev-ratings", "LIVE_API_KEY_EXPIRES": "1800000000"}
JSON
      ;;
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
            DEV_STACK
            + block
            + 'echo "topic=$RATINGS_TOPIC group=$PROJECTOR_CONSUMER_GROUP '
            + 'secret=$CONNECTIONS_SECRET_ARN"; '
            + 'echo "kafka=$STREAMS_CONNECTION $STREAMS_SECURITY_PROTOCOL '
            + '$STREAMS_SASL_MECHANISM $STREAMS_SECRET_ARN"; echo "expires=${LIVE_API_KEY_EXPIRES-}"',
        ],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    # Then the commands read dev's topic (rebuild and check compare its positions), its
    # projector's consumer group (relay and redrive ask the broker which topics it consumes)
    # and its connections secret, whose strings never reach a command line
    assert finished.returncode == 0, finished.stderr
    lines = finished.stdout.splitlines()
    assert lines[0].split() == [
        "topic=talkrate-dev-ratings",
        "group=talkrate-dev-projector",
        "secret=arn:aws:secretsmanager:eu-west-1:123456789012:secret:dev-AbC",
    ]
    # And its brokers as RelayFunction reaches them (relay, redrive and replay publish or read
    # there; unset, they looked for a broker on 127.0.0.1:9092), each value as it is, and
    # nothing else of the relay's environment
    assert lines[1:] == [
        "kafka=b-1.dev.example:9096,b-2.dev.example:9096 SASL_SSL SCRAM-SHA-512 "
        "arn:aws:secretsmanager:eu-west-1:123456789012:secret:dev-streams-'x",
        "expires=",
    ]


# The runbook's puts of a secret (the admin token, the voter-token key, the edge secret), run
# by bash with nothing on its PATH but stand-ins: every command it starts writes its command
# line (what `ps` shows) to $ARGV, then runs the real one; `aws` answers as Secrets Manager
# would, keeping the secrets in $SECRETS, and reads a `file://` value as the AWS CLI does (its
# paramfile: the path's variables and ~ expanded, the file's text taken whole).
AWS = """
import json, os, stat, sys
args = sys.argv[1:]
with open(os.environ["ARGV"], "a") as said:
    said.write(" ".join(["aws", *args]) + "\\n")
kept = json.load(open(os.environ["SECRETS"]))
def option(name):
    return args[args.index(name) + 1]
asked = " ".join(args[:2])
if asked == "secretsmanager get-random-password":
    print(os.environ["GENERATED"])
elif asked == "secretsmanager get-secret-value":
    if option("--secret-id") not in kept:
        sys.exit("An error occurred (ResourceNotFoundException) when calling GetSecretValue")
    print(kept[option("--secret-id")])
elif asked == "secretsmanager put-secret-value":
    given, mode = option("--secret-string"), None
    if given.startswith("file://"):
        path = os.path.expandvars(os.path.expanduser(given[len("file://"):]))
        mode = oct(stat.S_IMODE(os.stat(path).st_mode))
        with open(path) as file:
            given = file.read()
    kept[option("--secret-id")] = given
    with open(os.environ["PUT"], "a") as put:
        put.write(json.dumps({"secret": option("--secret-id"), "value": given, "mode": mode}) + "\\n")
else:
    sys.exit(f"unexpected: aws {' '.join(args)}")
json.dump(kept, open(os.environ["SECRETS"], "w"))
"""
LOGGED = """#!/bin/sh
echo "${{0##*/}} $*" >> "$ARGV"
exec {real} "$@"
"""
# The stack's outputs, as the runbook's `output` function reads them.
OUTPUT = 'output() { echo "arn:aws:secretsmanager:eu-west-1:123456789012:secret:$1"; }\n'
ADMIN, VOTER, EDGE = (
    f"arn:aws:secretsmanager:eu-west-1:123456789012:secret:{name}"
    for name in ("AdminTokenSecretArn", "VoterTokenSecretArn", "EdgeSecretArn")
)
GENERATED = "Gen3rat3dPassw0rdOf48LettersAndDigitsXXXXXXXXXXXX"


def secret_puts(section: str) -> list[str]:
    """The bash blocks of a section of docs/operations.md that put a secret."""
    guide = (ROOT / "docs" / "operations.md").read_text()
    text = guide.split(f"\n### {section}\n", 1)[1].split("\n### ", 1)[0].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", text, re.DOTALL)
    return [textwrap.dedent(block) for block in blocks if "put-secret-value" in block]


class Pasted(NamedTuple):
    """What a pasted block did: its exit status and stderr, the secrets as they are after it,
    each put (the secret, the value, the mode of the file it was read from), and every command
    line it started."""

    status: int
    err: str
    secrets: dict[str, str]
    puts: list[dict[str, str]]
    argv: str


def pasted_put(tmp_path: Path, block: str, secrets: dict[str, str]) -> Pasted:
    """The block run by bash as pasted, with the secrets as given, and its temporary folder
    checked empty after it."""
    bin_, tmp = tmp_path / "bin", tmp_path / "tmp"
    bin_.mkdir(parents=True)
    tmp.mkdir()
    (bin_ / "aws").write_text(f"#!{sys.executable}\n{AWS}")
    for name in ("jq", "openssl", "tr", "mktemp", "rm"):
        real = shutil.which(name)
        assert real, name
        (bin_ / name).write_text(LOGGED.format(real=real))
    for tool in bin_.iterdir():
        tool.chmod(0o755)
    (tmp_path / "secrets.json").write_text(json.dumps(secrets))
    files = {name: tmp_path / name for name in ("argv", "put")}
    for file in files.values():
        file.touch()
    finished = subprocess.run(
        ["/bin/bash", "-c", OUTPUT + block],
        cwd=tmp_path,
        env={
            "PATH": str(bin_),
            "TMPDIR": str(tmp),
            "ARGV": str(files["argv"]),
            "PUT": str(files["put"]),
            "SECRETS": str(tmp_path / "secrets.json"),
            "GENERATED": GENERATED,
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert list(tmp.iterdir()) == [], "a file holding the secret was left behind"
    return Pasted(
        finished.returncode,
        finished.stderr,
        json.loads((tmp_path / "secrets.json").read_text()),
        [json.loads(line) for line in files["put"].read_text().splitlines()],
        files["argv"].read_text(),
    )


def put_once(done: Pasted, secret: str) -> str:
    """The value the block put, once, into `secret`, from a file of the user's alone, and on
    no command line it started."""
    assert done.status == 0, done.err
    [put] = done.puts
    assert (put["secret"], put["mode"]) == (secret, "0o600"), put
    assert put["value"] not in done.argv, done.argv
    for part in re.findall(r"[A-Za-z0-9-]{16,}", put["value"]):
        assert part not in done.argv, (part, done.argv)
    return put["value"]


def test_the_admin_token_is_put_from_a_private_file_removed_after(tmp_path: Path) -> None:
    # When the rotation of the admin token is pasted
    [block] = secret_puts("Rotating the admin token")
    done = pasted_put(tmp_path, block, {})
    # Then the token put is the generated one, exactly (no line end), on no command line
    assert put_once(done, ADMIN) == GENERATED


def test_the_voter_token_key_s_puts_keep_the_key_off_every_command_line(tmp_path: Path) -> None:
    old, current = "old-voter-key-" + "a" * 20, "current-voter-key-" + "b" * 20
    planned, dropped, leaked = secret_puts("Rotating the voter-token key")
    # When a planned rotation is pasted, Then the new key is put with the old one as previous
    done = pasted_put(
        tmp_path / "planned", block=planned, secrets={VOTER: json.dumps({"key": old})}
    )
    assert json.loads(put_once(done, VOTER)) == {"key": GENERATED, "previousKey": old}
    # When the old key is dropped a week later, Then the current one alone stays
    kept = json.dumps({"key": current, "previousKey": old})
    done = pasted_put(tmp_path / "dropped", block=dropped, secrets={VOTER: kept})
    assert json.loads(put_once(done, VOTER)) == {"key": current}
    # When a leak's rotation is pasted, Then the new key alone is put
    done = pasted_put(tmp_path / "leaked", block=leaked, secrets={VOTER: kept})
    assert json.loads(put_once(done, VOTER)) == {"key": GENERATED}


def test_a_rotation_whose_read_fails_puts_nothing(tmp_path: Path) -> None:
    # Given a voter-token secret that cannot be read (another Region's, say: none found)
    planned = secret_puts("Rotating the voter-token key")[0]
    # When the planned rotation is pasted
    done = pasted_put(tmp_path, planned, {})
    # Then it stops there: nothing is put (an empty or half-made secret refuses every pass), and
    # its file is removed all the same
    assert done.status != 0
    assert "ResourceNotFoundException" in done.err
    assert done.puts == []


def test_the_edge_secret_is_put_without_a_line_end_and_put_again_the_same(
    tmp_path: Path,
) -> None:
    first, again = secret_puts("The edge secret (`X-Talkrate-Edge`)")
    old = "c" * 48
    # When the first step is pasted, Then a new value of 48 hex digits is put, no line end
    done = pasted_put(tmp_path / "first", first, {EDGE: old})
    value = put_once(done, EDGE)
    assert re.fullmatch(r"[0-9a-f]{48}", value), repr(value)
    # When the third step puts it a second time (after a leak), Then the very same value
    done = pasted_put(tmp_path / "again", f'arn="$(output EdgeSecretArn)"\n{again}', done.secrets)
    assert put_once(done, EDGE) == value
