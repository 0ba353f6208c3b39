"""make remove-web-bucket: a deleted stack's versioned web bucket emptied of every version and
delete marker, then removed (moto's S3)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

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


def test_the_command_names_the_bucket_and_what_it_removed(
    s3: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    s3.create_bucket(Bucket="web", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    s3.put_object(Bucket="web", Key="app/index.html", Body=b"<html>")
    assert remove_web_bucket.main(["--bucket", "web"]) == 0
    assert capsys.readouterr().out.strip() == (
        "web: 1 file versions and delete markers removed, bucket deleted"
    )
    assert "web" not in _bucket_names(s3)
