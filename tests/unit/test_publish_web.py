"""make publish-web: the app to its bucket, config.json from the stack's outputs (moto's S3 and
CloudFront)."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from datetime import timedelta
from fnmatch import fnmatchcase as fnmatch
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from moto import mock_aws

from talkrate_local.web_app import page_config, web_app_site
from tests.builders import load_script

pytestmark = pytest.mark.unit


publish_web = load_script("publish_web")
ROOT = Path(__file__).resolve().parents[2]


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
        "timeZone": None,  # no EventTimeZone: each device shows its own
    }
    # And CloudFront was told to drop its copies
    invalidations = cloudfront.list_invalidations(DistributionId=outputs["WebDistributionId"])
    assert invalidations["InvalidationList"]["Quantity"] == 1


def test_the_venue_s_time_zone_is_named_in_the_config(
    aws: tuple[Any, Any, dict[str, str]], tmp_path: Path
) -> None:
    s3, cloudfront, outputs = aws
    # When the app is published for a stack whose EventTimeZone is the venue's
    publish_web.publish(
        s3, cloudfront, outputs, _web(tmp_path), "attendee", time_zone="Europe/Berlin"
    )
    # Then the pages are told to show times in it
    config = s3.get_object(Bucket="talkrate-web", Key="app/config.json")
    assert json.loads(config["Body"].read())["timeZone"] == "Europe/Berlin"


@pytest.mark.parametrize(
    "zone", ["Europe/Berln", "CET+1", "../etc/passwd", "localtime", "posixrules", "Factory"]
)
def test_a_time_zone_that_is_none_publishes_nothing(
    aws: tuple[Any, Any, dict[str, str]], tmp_path: Path, zone: str
) -> None:
    s3, cloudfront, outputs = aws
    # When the app is published with a zone the time zone database does not hold
    with pytest.raises(SystemExit, match="not one the IANA database names") as refused:
        publish_web.publish(s3, cloudfront, outputs, _web(tmp_path), "attendee", time_zone=zone)
    # Then it says which, and nothing was sent
    assert repr(zone) in str(refused.value)
    assert s3.list_objects_v2(Bucket="talkrate-web").get("KeyCount", 0) == 0


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


class _Tags(yaml.SafeLoader):
    """CloudFormation's short tags (!Sub, !GetAtt, ...) read as their long forms."""


_Tags.add_multi_constructor(
    "!",
    lambda loader, suffix, node: {
        f"Fn::{suffix}": loader.construct_scalar(node)
        if isinstance(node, yaml.ScalarNode)
        else loader.construct_sequence(node, deep=True)
        if isinstance(node, yaml.SequenceNode)
        else loader.construct_mapping(node, deep=True)
    },
)


def _deploy_role_statements(environment: str) -> list[dict[str, Any]]:
    """The pipeline deploy role's allowed statements, their ARNs written out for `environment`."""
    text = (ROOT / "deploy" / "pipeline-bootstrap.yaml").read_text()
    bootstrap = yaml.load(text, Loader=_Tags)  # noqa: S506 - a SafeLoader subclass
    names = {
        "AWS::Partition": "aws",
        "AWS::Region": "eu-west-1",
        "AWS::AccountId": "123456789012",
        "Environment": environment,
    }

    def written(value: Any) -> list[str]:
        values = value if isinstance(value, list) else [value]
        return [
            re.sub(r"\$\{([^}]+)\}", lambda m: names.get(m[1], m[0]), v.get("Fn::Sub", ""))
            if isinstance(v, dict)
            else v
            for v in values
        ]

    [policy] = bootstrap["Resources"]["DeployRole"]["Properties"]["Policies"]
    return [
        {"Action": written(s["Action"]), "Resource": written(s["Resource"])}
        for s in policy["PolicyDocument"]["Statement"]
        if s["Effect"] == "Allow"
    ]


def _iam_requests(service: str, operation: str, params: dict[str, Any]) -> list[tuple[str, str]]:
    """The IAM actions and resources an API call is authorised as."""
    bucket = f"arn:aws:s3:::{params.get('Bucket')}"
    match service, operation:
        case "s3", "GetObject" | "HeadObject":
            return [("s3:GetObject", f"{bucket}/{params['Key']}")]
        case "s3", "PutObject":
            return [("s3:PutObject", f"{bucket}/{params['Key']}")]
        case "s3", "ListObjectsV2" | "ListObjects":
            return [("s3:ListBucket", bucket)]
        case "s3", "DeleteObjects":
            return [
                ("s3:DeleteObject", f"{bucket}/{o['Key']}") for o in params["Delete"]["Objects"]
            ]
        case "s3", "DeleteObject":
            return [("s3:DeleteObject", f"{bucket}/{params['Key']}")]
        case "cloudfront", "CreateInvalidation":
            distribution = (
                f"arn:aws:cloudfront::123456789012:distribution/{params['DistributionId']}"
            )
            return [("cloudfront:CreateInvalidation", distribution)]
    raise AssertionError(f"say which IAM action {service}:{operation} needs")


def test_the_pipeline_s_deploy_role_may_make_every_call_a_publish_makes(
    aws: tuple[Any, Any, dict[str, str]], tmp_path: Path
) -> None:
    # Given the stack's bucket as CloudFormation names it, and every call to S3 and CloudFront
    # noted (moto checks no IAM: this test does)
    s3, cloudfront, outputs = aws
    bucket = "talkrate-dev-webbucket-1a2b3c4d5e6f"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    calls: list[tuple[str, str, dict[str, Any]]] = []
    for client in (s3, cloudfront):
        service = client.meta.service_model.service_name
        client.meta.events.register(
            f"provide-client-params.{service}.*",
            lambda params, model, service=service, **_: calls.append((service, model.name, params)),
        )
    # When the pipeline publishes the app twice (the second replaces the first's files)
    publish_web.publish(
        s3, cloudfront, {**outputs, "WebBucketName": bucket}, _web(tmp_path), "attendee"
    )
    publish_web.publish(
        s3, cloudfront, {**outputs, "WebBucketName": bucket}, _web(tmp_path, "x"), "attendee"
    )
    # Then the dev deploy role allows each of its calls (it could not read the entry page, so
    # every pipeline run failed there and never reached prod)
    statements = _deploy_role_statements("dev")
    assert {operation for _, operation, _ in calls} >= {
        "GetObject",
        "PutObject",
        "CreateInvalidation",
    }
    for service, operation, params in calls:
        for action, resource in _iam_requests(service, operation, params):
            assert any(
                any(fnmatch(action, a) for a in s["Action"])
                and any(fnmatch(resource, r) for r in s["Resource"])
                for s in statements
            ), f"the deploy role may not {action} on {resource}"


def test_scripts_and_style_sheets_are_uploaded_minified_as_the_runtime_serves_them(
    aws: tuple[Any, Any, dict[str, str]], tmp_path: Path
) -> None:
    s3, cloudfront, outputs = aws
    # Given the real web app
    web = ROOT / "web"

    # When it is published
    publish_web.publish(s3, cloudfront, outputs, web, "attendee")

    # Then every script and the style sheet in the bucket is the bytes the local runtime
    # serves (minified: smaller than the source), with its type; the entry page is as written
    [build] = {key.split("/")[2] for key in keys(s3) if key.startswith("app/b/")}
    site = web_app_site(ROOT, lambda _: page_config(None, "attendee"))
    names = [
        p.relative_to(web).as_posix()
        for p in web.rglob("*")
        if p.suffix in (".js", ".css") and p.name != "sw.js"  # (the worker: its own test)
    ]
    assert "js/pages/admin.js" in names
    assert "app.css" in names
    for name in names:
        sent = s3.get_object(Bucket="talkrate-web", Key=f"app/b/{build}/{name}")
        body = sent["Body"].read()
        assert body == site.respond("GET", f"/app/{name}").body, name
        assert len(body) < (web / name).stat().st_size, name
        assert sent["ContentType"].startswith(
            "text/css" if name.endswith(".css") else ("application/javascript", "text/javascript")
        ), name
    entry = s3.get_object(Bucket="talkrate-web", Key="app/index.html")["Body"].read().decode()
    assert entry == publish_web.entry_page((web / "index.html").read_text(encoding="utf-8"), build)


def test_the_entry_page_s_preloaded_modules_are_its_version_s_too() -> None:
    # Given the app's entry page, which asks for every module at once (modulepreload)
    html = (Path(__file__).resolve().parents[2] / "web" / "index.html").read_text()
    # When it is published under a version
    page = publish_web.entry_page(html, "abc")
    # Then every script it names is that version's: none left at the app's own folder
    assert 'rel="modulepreload" href="/app/b/abc/js/dom.js"' in page
    assert "/app/js/" not in page


WORKER_NAMES = re.compile(
    r'const VERSION="([^"]+)";const PREFIX="([^"]+)";const SHELL=(\[[^\]]*\]);'
)


def test_the_service_worker_is_published_at_one_address_for_its_version(
    aws: tuple[Any, Any, dict[str, str]], tmp_path: Path
) -> None:
    s3, cloudfront, outputs = aws
    # Given the real web app, copied so a file can change between two publishes
    web = tmp_path / "web"
    shutil.copytree(ROOT / "web", web)

    # When it is published
    recorded = Recorded(s3)
    publish_web.publish(recorded, cloudfront, outputs, web, "attendee")

    # Then its worker is at /app/sw.js (its scope, /app/, is its folder's), revalidated at each
    # check (no-cache), a script, sent after the entry page it caches; none under the version
    [build] = {key.split("/")[2] for key in keys(s3) if key.startswith("app/b/")}
    assert f"app/b/{build}/sw.js" not in keys(s3)
    sent = s3.get_object(Bucket="talkrate-web", Key="app/sw.js")
    assert sent["CacheControl"] == "no-cache"
    assert sent["ContentType"].startswith(("text/javascript", "application/javascript"))
    assert recorded.written[-2:] == ["app/index.html", "app/sw.js"]
    # And it names this version, and keeps the entry page and every file the entry page loads,
    # each one the bucket holds under the version
    version, prefix, shell = WORKER_NAMES.search(sent["Body"].read().decode()).groups()
    assert (version, prefix) == (build, f"/app/b/{build}/")
    files = json.loads(shell)
    assert files[0] == "/app/"
    entry = (web / "index.html").read_text()
    named = re.findall(r'(?:href|src)="/app/([^"]+\.[a-z]+)"', entry)
    assert files[1:] == [f"/app/b/{build}/{name}" for name in named]
    assert {f"/app/b/{build}/js/main.js", f"/app/b/{build}/js/known.js"} <= set(files)
    for file in files[1:]:
        assert file.removeprefix("/") in keys(s3), file
    # And the local runtime serves the same worker for the same files: the same version, its
    # files where it serves them, a script never kept (no-store)
    site = web_app_site(tmp_path, lambda _: page_config(None, "attendee"))
    local = site.respond("GET", "/app/sw.js")
    assert ("content-type", "text/javascript; charset=utf-8") in local.headers
    assert ("cache-control", "no-store") in local.headers
    assert WORKER_NAMES.search(local.body.decode()).groups() == (
        build,
        "/app/",
        json.dumps(["/app/", *(f"/app/{name}" for name in named)], separators=(",", ":")),
    )

    # When a file changes and the app is published again
    (web / "app.css").write_text((web / "app.css").read_text() + "\n.new { color: red }\n")
    publish_web.publish(s3, cloudfront, outputs, web, "attendee")

    # Then the worker names the new version: a new worker, which the browser installs
    again = s3.get_object(Bucket="talkrate-web", Key="app/sw.js")["Body"].read().decode()
    [newer] = {key.split("/")[2] for key in keys(s3) if key.startswith("app/b/")} - {build}
    assert WORKER_NAMES.search(again).groups()[:2] == (newer, f"/app/b/{newer}/")
    # And so does the local runtime's, at its next request
    assert WORKER_NAMES.search(site.respond("GET", "/app/sw.js").body.decode())[1] == newer
