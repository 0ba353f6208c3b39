"""make remove-web-bucket: a deleted stack's versioned web bucket emptied of every version and
delete marker, then removed; any other bucket refused, nothing deleted (moto's S3 and
CloudFormation)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.s3.models import s3_backends

from tests.builders import load_script

pytestmark = pytest.mark.unit

remove_web_bucket = load_script("remove_web_bucket")


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "eu-west-1",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        yield boto3.client("s3")


def _bucket_names(s3: Any) -> set[str]:
    return {bucket["Name"] for bucket in s3.list_buckets()["Buckets"]}


def _web_bucket_of(stack: str, *, deleted: bool, region: str = "eu-west-1") -> str:
    """A stack with a WebBucket kept on deletion, as template.yaml has it, holding a file; the
    bucket tagged as CloudFormation tags what it makes (moto does not, and S3 refuses `aws:`
    tags from anyone else); the stack deleted when asked."""
    cloudformation = boto3.client("cloudformation", region_name=region)
    s3 = boto3.client("s3", region_name=region)
    template = {"Resources": {"WebBucket": {"Type": "AWS::S3::Bucket", "DeletionPolicy": "Retain"}}}
    stack_id = cloudformation.create_stack(StackName=stack, TemplateBody=json.dumps(template))[
        "StackId"
    ]
    [resource] = cloudformation.describe_stack_resources(StackName=stack)["StackResources"]
    bucket = str(resource["PhysicalResourceId"])
    s3_backends[DEFAULT_ACCOUNT_ID]["aws"].put_bucket_tagging(
        bucket,
        {
            "aws:cloudformation:stack-name": stack,
            "aws:cloudformation:logical-id": "WebBucket",
            "aws:cloudformation:stack-id": stack_id,
        },
    )
    s3.put_object(Bucket=bucket, Key="app/index.html", Body=b"<html>")
    if deleted:
        cloudformation.delete_stack(StackName=stack)
    return bucket


def _refusal(capsys: pytest.CaptureFixture[str]) -> str:
    """The one line a refusal printed on stderr."""
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


def test_a_versioned_bucket_that_publishes_filled_is_emptied_and_removed(s3: Any) -> None:
    # Given the stack's bucket as `make publish-web` leaves it after a few publishes: files
    # written several times, some removed (a delete marker over their versions), and more
    # versions than one listing holds
    bucket = "talkrate-prod-webbucket-1a2b3c"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    for build in range(3):
        for key in ("app/index.html", "app/config.json"):
            s3.put_object(Bucket=bucket, Key=key, Body=f"build {build}".encode())
    for number in range(1_000):
        s3.put_object(Bucket=bucket, Key=f"app/b/old/{number}.js", Body=b"x")
    s3.delete_object(Bucket=bucket, Key="app/config.json")
    # And a plain `delete_bucket`, as CloudFormation does, refused
    with pytest.raises(s3.exceptions.ClientError, match="BucketNotEmpty"):
        s3.delete_bucket(Bucket=bucket)
    # When the operator removes it
    removed = remove_web_bucket.remove_bucket(s3, bucket)
    # Then every version and the marker went, and the bucket with them
    assert removed == 6 + 1_000 + 1
    assert bucket not in _bucket_names(s3)


def test_a_deleted_stacks_web_bucket_is_removed_with_yes(
    s3: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the web bucket a deleted stack kept
    bucket = _web_bucket_of("talkrate-dev", deleted=True)
    # When the operator removes it with --yes
    assert remove_web_bucket.main(["--bucket", bucket, "--yes"]) == 0
    # Then it said what would go, what went, and the bucket is gone
    assert capsys.readouterr().out.strip().splitlines() == [
        f"{bucket}, the web bucket of stack talkrate-dev (deleted): 1 file versions and delete "
        "markers, then the bucket, will be deleted for good",
        f"{bucket}: 1 file versions and delete markers removed, bucket deleted",
    ]
    assert bucket not in _bucket_names(s3)


@pytest.mark.parametrize(
    "tags",
    [{}, {"aws:cloudformation:stack-name": "finance", "aws:cloudformation:logical-id": "Archive"}],
    ids=["untagged", "another-stacks-bucket"],
)
def test_a_bucket_that_is_no_talkrate_web_bucket_is_refused(
    s3: Any, capsys: pytest.CaptureFixture[str], tags: dict[str, str]
) -> None:
    # Given someone else's bucket with data in it
    bucket = "finance-team-archive"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    s3.put_object(Bucket=bucket, Key="2026/ledger.csv", Body=b"1,2,3")
    if tags:
        s3_backends[DEFAULT_ACCOUNT_ID]["aws"].put_bucket_tagging(bucket, tags)
    # When it is given by mistake, even with --yes
    assert remove_web_bucket.main(["--bucket", bucket, "--yes"]) == 1
    # Then one line refuses it and the file is still there
    assert "is not a talkrate stack's WebBucket" in _refusal(capsys)
    assert s3.get_object(Bucket=bucket, Key="2026/ledger.csv")["Body"].read() == b"1,2,3"


def test_the_web_bucket_of_a_stack_still_running_is_refused(
    s3: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the web bucket of a stack that still serves
    bucket = _web_bucket_of("talkrate-prod", deleted=False)
    # When it is given, even with --yes
    assert remove_web_bucket.main(["--bucket", bucket, "--yes"]) == 1
    # Then the refusal names the stack and its status, and nothing went
    refusal = _refusal(capsys)
    assert "stack talkrate-prod, which is CREATE_COMPLETE" in refusal
    assert s3.get_object(Bucket=bucket, Key="app/index.html")["Body"].read() == b"<html>"


def test_without_a_terminal_nothing_goes_without_yes(
    s3: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a deleted stack's web bucket, and no terminal (CI, stdin not a tty)
    bucket = _web_bucket_of("talkrate-dev", deleted=True)
    monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))
    # When the operator runs it without --yes
    assert remove_web_bucket.main(["--bucket", bucket]) == 1
    # Then it asks for --yes and deletes nothing
    assert "run again with --yes" in _refusal(capsys)
    assert s3.get_object(Bucket=bucket, Key="app/index.html")["Body"].read() == b"<html>"


def test_a_deleted_stacks_web_bucket_is_found_by_the_stack_s_name(
    s3: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the web bucket a deleted stack kept (its outputs gone with it), beside another
    # stack's web bucket and someone else's bucket
    bucket = _web_bucket_of("talkrate-dev", deleted=True)
    other = _web_bucket_of("talkrate-prod", deleted=False)
    s3.create_bucket(
        Bucket="finance-archive", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    # When the operator names the stack
    assert remove_web_bucket.main(["--stack", "talkrate-dev", "--yes"]) == 0
    # Then that stack's bucket is gone, said by its name, and only that one
    out = capsys.readouterr().out
    assert f"{bucket}, the web bucket of stack talkrate-dev (deleted)" in out
    assert _bucket_names(s3) == {other, "finance-archive"}


def test_a_stack_name_without_a_web_bucket_is_refused(
    s3: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given an account whose only web bucket is another stack's
    other = _web_bucket_of("talkrate-prod", deleted=True)
    # When the operator names a stack that left none (a typo)
    assert remove_web_bucket.main(["--stack", "talkrate-dve", "--yes"]) == 1
    # Then one line says so, and nothing went
    assert "no bucket is stack talkrate-dve's WebBucket" in _refusal(capsys)
    assert other in _bucket_names(s3)


def test_a_stack_name_that_made_two_web_buckets_asks_for_the_bucket(
    s3: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a stack name made and deleted twice: two buckets kept under it
    first = _web_bucket_of("talkrate-dev", deleted=True)
    second = _web_bucket_of("talkrate-dev", deleted=True)
    # When the operator names the stack
    assert remove_web_bucket.main(["--stack", "talkrate-dev", "--yes"]) == 1
    # Then the refusal names both and asks for the one to remove; nothing went
    refusal = _refusal(capsys)
    assert first in refusal
    assert second in refusal
    assert "--bucket" in refusal
    assert {first, second} <= _bucket_names(s3)


def test_the_web_bucket_of_a_stack_live_in_another_region_is_refused(
    s3: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a stack that still serves in us-east-1, and an operator whose region is eu-west-1
    # (where CloudFormation knows no stack of that name)
    bucket = _web_bucket_of("talkrate-dev", deleted=False, region="us-east-1")
    # When they name the stack, or its bucket, even with --yes
    assert remove_web_bucket.main(["--stack", "talkrate-dev", "--yes"]) == 1
    by_stack = _refusal(capsys)
    assert remove_web_bucket.main(["--bucket", bucket, "--yes"]) == 1
    by_bucket = _refusal(capsys)
    # Then neither takes the live stack's bucket for a deleted one's: the stack is looked for
    # in its region only, and the bucket's refusal names the region to run it in
    assert "no bucket is stack talkrate-dev's WebBucket in eu-west-1" in by_stack
    assert "in us-east-1" in by_bucket
    assert "AWS_REGION=us-east-1" in by_bucket
    assert s3.get_object(Bucket=bucket, Key="app/index.html")["Body"].read() == b"<html>"
