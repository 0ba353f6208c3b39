"""make publish-web: the app to its bucket, config.json from the stack's outputs (moto's S3 and
CloudFront)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests.builders import load_script

pytestmark = pytest.mark.unit


publish_web = load_script("publish_web")


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


ENTRY = (
    '<!doctype html><title>talkrate</title><link rel="stylesheet" href="/app/app.css">'
    '<script type="module" src="/app/assets/app.js"></script>'
    '<nav><a href="/app/">Programme</a><a href="/app/leaderboard">Leaderboard</a></nav>'
)


def _web(tmp_path: Path, module: str = "console.log(1)") -> Path:
    web = tmp_path / "web"
    (web / "assets").mkdir(parents=True, exist_ok=True)
    (web / "index.html").write_text(ENTRY)
    (web / "app.css").write_text("body { margin: 0 }")
    (web / "assets" / "app.js").write_text(module)
    (web / "config.json").write_text('{"live": null}')  # a local one: replaced by the stack's
    (web / ".hidden").write_text("not published")
    return web


class Recorded:
    """The S3 client, noting the order objects are written in."""

    def __init__(self, s3: Any) -> None:
        self.s3, self.written = s3, []

    def put_object(self, **kwargs: Any) -> Any:
        self.written.append(kwargs["Key"])
        return self.s3.put_object(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.s3, name)


def keys(s3: Any) -> list[str]:
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket="talkrate-web")["Contents"])


def test_the_app_and_a_config_from_the_stack_outputs_are_published(
    aws: tuple[Any, Any, dict[str, str]], tmp_path: Path
) -> None:
    s3, cloudfront, outputs = aws
    # When the app is published
    recorded = Recorded(s3)
    publish_web.publish(recorded, cloudfront, outputs, _web(tmp_path), "attendee")
    # Then its files are under a prefix of this version, beside the entry page and the config
    [build] = {key.split("/")[2] for key in keys(s3) if key.startswith("app/b/")}
    assert keys(s3) == [
        f"app/b/{build}/app.css",
        f"app/b/{build}/assets/app.js",
        "app/config.json",
        "app/index.html",
    ]
    # And the entry page names that version's files, its page links as they were, and is
    # written last (a page loaded during the upload gets the last version whole)
    index = s3.get_object(Bucket="talkrate-web", Key="app/index.html")
    html = index["Body"].read().decode()
    assert f'src="/app/b/{build}/assets/app.js"' in html
    assert f'href="/app/b/{build}/app.css"' in html
    assert 'href="/app/"' in html
    assert 'href="/app/leaderboard"' in html
    assert recorded.written[-1] == "app/index.html"
    assert index["ContentType"] == "text/html; charset=utf-8"
    assert index["CacheControl"] == "no-cache"
    # And a version's files never change: cached for good
    module = s3.get_object(Bucket="talkrate-web", Key=f"app/b/{build}/assets/app.js")
    assert module["CacheControl"] == "public, max-age=31536000, immutable"
    config = s3.get_object(Bucket="talkrate-web", Key="app/config.json")
    assert config["CacheControl"] == "no-cache"
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


def test_a_page_open_across_a_publish_keeps_its_own_version_s_modules(
    aws: tuple[Any, Any, dict[str, str]], tmp_path: Path
) -> None:
    s3, cloudfront, outputs = aws
    # Given a version published, whose pages are open on phones (and a file of the unversioned
    # layout before it)
    s3.put_object(Bucket="talkrate-web", Key="app/js/pages/admin.js", Body=b"old layout")
    publish_web.publish(s3, cloudfront, outputs, _web(tmp_path), "attendee")
    [first] = {key.split("/")[2] for key in keys(s3) if key.startswith("app/b/")}
    # When a new version is published
    publish_web.publish(s3, cloudfront, outputs, _web(tmp_path, "console.log(2)"), "attendee")
    # Then the entry page names the new version, and the old one's files are still there for
    # the pages that run it (the modules they load later: the organisers' page), and the file
    # of before too (they had all been replaced or removed at once: old and new modules mixed)
    builds = {key.split("/")[2] for key in keys(s3) if key.startswith("app/b/")}
    [second] = builds - {first}
    html = s3.get_object(Bucket="talkrate-web", Key="app/index.html")["Body"].read().decode()
    assert f"/app/b/{second}/assets/app.js" in html
    old = s3.get_object(Bucket="talkrate-web", Key=f"app/b/{first}/assets/app.js")
    assert old["Body"].read() == b"console.log(1)"
    assert "app/js/pages/admin.js" in keys(s3)
    # When a third version is published a week on (every earlier file written over a week ago)
    publish_web.publish(
        s3, cloudfront, outputs, _web(tmp_path, "console.log(3)"), "attendee", keep_for=timedelta()
    )
    # Then what is no longer published goes, but for the version the entry page served until
    # now (written long ago, it stopped being served only now: pages still run it)
    [third] = {key.split("/")[2] for key in keys(s3) if key.startswith("app/b/")} - {second}
    assert keys(s3) == sorted(
        [
            f"app/b/{second}/app.css",
            f"app/b/{second}/assets/app.js",
            f"app/b/{third}/app.css",
            f"app/b/{third}/assets/app.js",
            "app/config.json",
            "app/index.html",
        ]
    )


def test_the_layout_before_versions_is_kept_until_the_publish_after_the_first(
    aws: tuple[Any, Any, dict[str, str]], tmp_path: Path
) -> None:
    s3, cloudfront, outputs = aws
    # Given the app as it was published before versions (its entry page naming /app/js/...),
    # long ago
    s3.put_object(
        Bucket="talkrate-web", Key="app/index.html", Body=b'<script src="/app/js/main.js">'
    )
    s3.put_object(Bucket="talkrate-web", Key="app/js/main.js", Body=b"old")
    # When the first version is published
    publish_web.publish(s3, cloudfront, outputs, _web(tmp_path), "attendee", keep_for=timedelta())
    # Then the old layout's files stay for the pages still running them
    assert "app/js/main.js" in keys(s3)
    # And the publish after it removes them
    publish_web.publish(
        s3, cloudfront, outputs, _web(tmp_path, "console.log(2)"), "attendee", keep_for=timedelta()
    )
    assert "app/js/main.js" not in keys(s3)


def test_the_entry_page_names_every_file_of_its_own_under_its_version() -> None:
    # (quoted either way; page links and other sites left alone)
    html = (
        "<link href='/app/app.css'><script src=\"/app/js/main.js\"></script>"
        '<a href="/app/leaderboard">x</a><a href="/app/talks/a.b">y</a><img src="https://x/app/i.png">'
    )
    page = publish_web.entry_page(html, "abc")
    assert "<link href='/app/b/abc/app.css'>" in page
    assert '<script src="/app/b/abc/js/main.js">' in page
    assert '<a href="/app/leaderboard">' in page
    assert '<a href="/app/talks/a.b">' in page
    assert 'src="https://x/app/i.png"' in page


def test_publishing_before_deploying_or_building_says_what_is_missing(
    aws: tuple[Any, Any, dict[str, str]], tmp_path: Path
) -> None:
    s3, cloudfront, outputs = aws
    with pytest.raises(SystemExit, match="WebBucketName"):
        publish_web.publish(s3, cloudfront, {}, _web(tmp_path), "open")
    with pytest.raises(SystemExit, match=r"index\.html"):
        publish_web.publish(s3, cloudfront, outputs, tmp_path / "nothing", "open")
