"""make publish-web: the app to its bucket, config.json from the stack's outputs (moto's S3 and
CloudFront)."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests.builders import ROOT

pytestmark = pytest.mark.unit


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("publish_web", ROOT / "scripts/publish_web.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


publish_web = _script()


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Any, dict[str, str]]]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "eu-west-1",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        s3, cloudfront = boto3.client("s3"), boto3.client("cloudfront")
        s3.create_bucket(
            Bucket="talkrate-web",
            CreateBucketConfiguration={"LocationConstraint": "eu-west-1"},
        )
        distribution = cloudfront.create_distribution(
            DistributionConfig={
                "CallerReference": "test",
                "Comment": "",
                "Enabled": True,
                "Origins": {
                    "Quantity": 1,
                    "Items": [
                        {
                            "Id": "app",
                            "DomainName": "talkrate-web.s3.eu-west-1.amazonaws.com",
                            "S3OriginConfig": {"OriginAccessIdentity": ""},
                        }
                    ],
                },
                "DefaultCacheBehavior": {
                    "TargetOriginId": "app",
                    "ViewerProtocolPolicy": "redirect-to-https",
                },
            }
        )["Distribution"]
        outputs = {
            "WebBucketName": "talkrate-web",
            "WebDistributionId": distribution["Id"],
            "LiveRealtimeUrl": "wss://abc.appsync-realtime-api.eu-west-1.amazonaws.com/event/realtime",
            "LiveHttpHost": "abc.appsync-api.eu-west-1.amazonaws.com",
            "LiveApiKey": "da2-public",
        }
        yield s3, cloudfront, outputs


def _web(tmp_path: Path) -> Path:
    web = tmp_path / "web"
    (web / "assets").mkdir(parents=True)
    (web / "index.html").write_text("<!doctype html><title>talkrate</title>")
    (web / "assets" / "app.js").write_text("console.log(1)")
    (web / "config.json").write_text('{"live": null}')  # a local one: replaced by the stack's
    (web / ".hidden").write_text("not published")
    return web


def test_the_app_and_a_config_from_the_stack_outputs_are_published(
    aws: tuple[Any, Any, dict[str, str]], tmp_path: Path
) -> None:
    s3, cloudfront, outputs = aws
    # Given a stale file from an earlier version in the bucket
    s3.put_object(Bucket="talkrate-web", Key="app/old.js", Body=b"gone")
    # When the app is published
    publish_web.publish(s3, cloudfront, outputs, _web(tmp_path), "attendee")
    # Then the bucket holds exactly the app's files and the config, with fitting headers
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="talkrate-web")["Contents"]]
    assert sorted(keys) == ["app/assets/app.js", "app/config.json", "app/index.html"]
    index = s3.get_object(Bucket="talkrate-web", Key="app/index.html")
    assert index["ContentType"] == "text/html; charset=utf-8"
    assert index["CacheControl"] == "no-cache"
    # modules keep their names across versions: revalidated too, so old and new never mix
    module = s3.get_object(Bucket="talkrate-web", Key="app/assets/app.js")
    assert module["CacheControl"] == "no-cache"
    config = s3.get_object(Bucket="talkrate-web", Key="app/config.json")
    assert json.loads(config["Body"].read()) == {
        "live": {
            "realtimeUrl": outputs["LiveRealtimeUrl"],
            "host": outputs["LiveHttpHost"],
            "apiKey": "da2-public",
        },
        "votingPolicy": "attendee",
    }
    # And CloudFront was told to drop its copies
    invalidations = cloudfront.list_invalidations(DistributionId=outputs["WebDistributionId"])
    assert invalidations["InvalidationList"]["Quantity"] == 1


def test_publishing_before_deploying_or_building_says_what_is_missing(
    aws: tuple[Any, Any, dict[str, str]], tmp_path: Path
) -> None:
    s3, cloudfront, outputs = aws
    with pytest.raises(SystemExit, match="WebBucketName"):
        publish_web.publish(s3, cloudfront, {}, _web(tmp_path), "open")
    with pytest.raises(SystemExit, match=r"index\.html"):
        publish_web.publish(s3, cloudfront, outputs, tmp_path / "nothing", "open")
