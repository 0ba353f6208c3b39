"""Publish the web app to a deployed stack: `web/` to its bucket under app/, and /app/config.json
written from the stack's outputs (the live channel's endpoints and subscribe-only key).

    python scripts/publish_web.py --stack talkrate-dev [--web-dir web] [--voting-policy attendee]
        [--time-zone Europe/Berlin]

Run it after `sam deploy` (make publish-web STACK=...). Each version of the app goes under a
prefix of its own, app/b/<build>/ (a digest of its files), and the entry page, app/index.html,
is sent last and names that prefix: a page loaded before or during the upload keeps running the
modules of its own version, the organisers' page it loads later too, never old and new together.
A version's files never change (cached for a year); the entry page and config.json are
`no-cache`, and so is the service worker, app/sw.js, written for the version (its cache named
by the build, its shell that version's files) and sent after the entry page. Files no longer published are removed a week after they were written (pages left
open meanwhile still find theirs), but for the version the entry page served until this publish,
which goes at the next one at the earliest. CloudFront's copies of /app/* are invalidated.
Scripts and style sheets are sent minified, the bytes the local runtime serves
(talkrate_local.web_assets).
"""

from __future__ import annotations

import argparse
import json
import mimetypes
import re
import sys
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from talkrate_local.web_assets import WORKER, entry_files, served, service_worker, version_of

APP_PREFIX = "app/"
BUILDS = APP_PREFIX + "b/"
ENTRY_PAGE = APP_PREFIX + "index.html"
CONFIG = APP_PREFIX + "config.json"
# The service worker stays at one address (a worker's scope is its folder's, and the browser
# checks the worker it installed at that address): written for each version, no-cache, sent last.
WORKER_KEY = APP_PREFIX + WORKER
# How long a file no longer published stays: what a page opened before a publish may still ask for.
KEEP = timedelta(days=7)
IMMUTABLE = "public, max-age=31536000, immutable"
# The entry page's own files (stylesheet, icon, entry module): what names a file with an ending,
# not a page (/app/leaderboard).
# (a talk's page is a page whatever its id looks like: /app/talks/a.b)
_ASSET = re.compile(r"""((?:href|src)=(["']))/app/((?!talks/)[^"'?#]+\.[A-Za-z0-9]+)\2""")
_BUILD_NAMED = re.compile(r"/app/b/([0-9a-f]+)/")
SKIPPED_PARTS = {"node_modules", "__pycache__"}
REQUIRED_OUTPUTS = ("WebBucketName", "WebDistributionId", "LiveRealtimeUrl", "LiveHttpHost")


def stack_outputs(cloudformation: Any, stack: str) -> dict[str, str]:
    """The stack's outputs by key."""
    described = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}


def page_config(
    outputs: Mapping[str, str], voting_policy: str, time_zone: str | None = None
) -> dict[str, Any]:
    """The document pages read at /app/config.json (the same shape the local runtime serves)."""
    return {
        "live": {
            "realtimeUrl": outputs["LiveRealtimeUrl"],
            "host": outputs["LiveHttpHost"],
            "apiKey": outputs["LiveApiKey"],
        }
        if outputs.get("LiveApiKey")
        else None,
        "votingPolicy": voting_policy,
        "timeZone": time_zone or None,
    }


def checked_time_zone(zone: str | None) -> str | None:
    """The venue's time zone when the time zone database holds it, None for none; otherwise
    the publish stops before anything is sent, saying why."""
    if not zone:
        return None
    from talkrate.time_zones import time_zone

    if time_zone(zone) is None:
        raise SystemExit(
            f"the time zone {zone!r} is not one the IANA database names (Europe/Berlin, "
            "America/New_York): nothing was published"
        )
    return zone


def app_files(web_dir: Path) -> Iterator[tuple[str, Path]]:
    """(bucket key, file) of every file of the app: hidden files and tool folders left out."""
    for path in sorted(web_dir.rglob("*")):
        relative = path.relative_to(web_dir)
        if not path.is_file() or any(
            part.startswith(".") or part in SKIPPED_PARTS for part in relative.parts
        ):
            continue
        yield APP_PREFIX + relative.as_posix(), path


def _headers(key: str, cache: str = "no-cache") -> dict[str, str]:
    content_type = mimetypes.guess_type(key)[0] or "application/octet-stream"
    if content_type.startswith("text/") or content_type in ("application/javascript",):
        content_type += "; charset=utf-8"
    return {"ContentType": content_type, "CacheControl": cache}


def _of_version(key: str, prefix: str) -> bool:
    """Whether a key is one of the files of the version under `prefix` (the app's own folder:
    the layout before versions, every file but the versions')."""
    if prefix == APP_PREFIX:
        return not key.startswith(BUILDS)
    return key.startswith(prefix)


def served_file(key: str, path: Path) -> bytes:
    """The bytes sent for one of the app's files: minified when a script or style sheet."""
    return served(key, path.read_bytes())


def build_id(files: list[tuple[str, Path]]) -> str:
    """A digest of the app's files, names and contents as served: the prefix of this version."""
    return version_of((key, served_file(key, path)) for key, path in files)


def worker(web_dir: Path, build: str) -> bytes:
    """/app/sw.js for the version `build`: its cache named by it, its shell the entry page and
    the version's files the entry page loads."""
    source = (web_dir / WORKER).read_bytes()
    files = entry_files((web_dir / "index.html").read_text(encoding="utf-8"))
    return served(WORKER_KEY, service_worker(source, build, f"/{BUILDS}{build}/", files))


def entry_page(html: str, build: str) -> str:
    """The entry page with its own files named under the version's prefix."""
    return _ASSET.sub(lambda m: f"{m[1]}/{BUILDS}{build}/{m[3]}{m[2]}", html)


def _serving(s3: Any, bucket: str) -> str:
    """The prefix of the files the entry page serves now (before this publish replaces it):
    its version's, or the app's own folder for a page of the layout before versions."""
    try:
        html = s3.get_object(Bucket=bucket, Key=ENTRY_PAGE)["Body"].read().decode()
    except s3.exceptions.NoSuchKey:
        return BUILDS + "none/"
    named = _BUILD_NAMED.search(html)
    return f"{BUILDS}{named[1]}/" if named else APP_PREFIX


def publish(
    s3: Any,
    cloudfront: Any,
    outputs: Mapping[str, str],
    web_dir: Path,
    voting_policy: str,
    keep_for: timedelta = KEEP,
    time_zone: str | None = None,
) -> list[str]:
    """Upload the app and its config, remove what is gone, invalidate; the keys uploaded."""
    time_zone = checked_time_zone(time_zone)
    missing = [k for k in REQUIRED_OUTPUTS if not outputs.get(k)]
    if missing:
        raise SystemExit(f"the stack has no output {', '.join(missing)}: deploy it first")
    if not (web_dir / "index.html").is_file():
        raise SystemExit(f"{web_dir}/index.html not found: build the web app first")
    bucket = outputs["WebBucketName"]
    # The version pages are running now stays at least until the next publish: it stops being
    # served only now, however long ago it was written.
    serving = _serving(s3, bucket)
    # config.json is written from the stack's outputs (a local one is not sent).
    files = [(key, path) for key, path in app_files(web_dir) if key != CONFIG]
    build = build_id(files)
    uploaded = []
    # This version's files first, under a prefix no page names yet; the entry page that names
    # them last, so a page loaded meanwhile gets the last version whole.
    for key, path in files:
        if key in (ENTRY_PAGE, WORKER_KEY):
            continue
        versioned = f"{BUILDS}{build}/{key[len(APP_PREFIX) :]}"
        s3.put_object(
            Bucket=bucket, Key=versioned, Body=served_file(key, path), **_headers(key, IMMUTABLE)
        )
        uploaded.append(versioned)
    config = json.dumps(page_config(outputs, voting_policy, time_zone), indent=2).encode()
    s3.put_object(Bucket=bucket, Key=CONFIG, Body=config, **_headers(CONFIG))
    uploaded.append(CONFIG)
    entry = entry_page((web_dir / "index.html").read_text(encoding="utf-8"), build)
    s3.put_object(Bucket=bucket, Key=ENTRY_PAGE, Body=entry.encode(), **_headers(ENTRY_PAGE))
    uploaded.append(ENTRY_PAGE)
    # After the entry page it caches: a worker installed meanwhile would find the entry page of
    # the version before (it then does not install, and tries again at the next check).
    if (web_dir / WORKER).is_file():
        s3.put_object(
            Bucket=bucket, Key=WORKER_KEY, Body=worker(web_dir, build), **_headers(WORKER_KEY)
        )
        uploaded.append(WORKER_KEY)
    keep, before = set(uploaded), datetime.now(UTC) - keep_for
    stale = [
        {"Key": item["Key"]}
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=APP_PREFIX)
        for item in page.get("Contents", [])
        if item["Key"] not in keep
        and item["LastModified"] <= before
        and not _of_version(item["Key"], serving)
    ]
    for start in range(0, len(stale), 1000):
        s3.delete_objects(Bucket=bucket, Delete={"Objects": stale[start : start + 1000]})
    cloudfront.create_invalidation(
        DistributionId=outputs["WebDistributionId"],
        InvalidationBatch={
            "Paths": {"Quantity": 2, "Items": ["/app", "/app/*"]},
            "CallerReference": f"publish-web-{time.time_ns()}",
        },
    )
    return uploaded


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--stack", required=True, help="the CloudFormation stack's name")
    parser.add_argument("--web-dir", type=Path, default=Path("web"))
    parser.add_argument(
        "--voting-policy",
        choices=["open", "attendee"],
        help="what the pages tell attendees (default: the stack's VotingPolicy output, else attendee)",
    )
    parser.add_argument(
        "--time-zone",
        help="the venue's time zone the pages show times in (default: the stack's EventTimeZone "
        "output, else none: each device's own)",
    )
    args = parser.parse_args(argv)
    import boto3  # the operator's credentials and region, as for `sam deploy`

    outputs = stack_outputs(boto3.client("cloudformation"), args.stack)
    policy = args.voting_policy or outputs.get("VotingPolicy") or "attendee"
    uploaded = publish(
        boto3.client("s3"),
        boto3.client("cloudfront"),
        outputs,
        args.web_dir,
        policy,
        time_zone=args.time_zone or outputs.get("EventTimeZone"),
    )
    print(
        f"{len(uploaded)} files published; the app: {outputs.get('AppUrl', '(no AppUrl output)')}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
