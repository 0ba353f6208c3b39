"""Remove a deleted stack's web bucket: every version of every file and every delete marker
(the bucket is versioned, so `aws s3 rm --recursive` would only add markers), then the bucket.

    python scripts/remove_web_bucket.py --bucket <the stack's WebBucketName output> [--yes]
    python scripts/remove_web_bucket.py --stack <the deleted stack's name> [--yes]

The stack keeps the bucket when it is deleted (DeletionPolicy RetainExceptOnCreate:
CloudFormation cannot delete a bucket that holds files, and `make publish-web` has put some there), so deleting the
stack always completes; this removes it afterwards (make remove-web-bucket BUCKET=... or
STACK=...: a deleted stack's outputs are gone with it, and its bucket is found by the tags
CloudFormation gave it).

Only that bucket: one CloudFormation made as a stack's WebBucket (its `aws:cloudformation:*`
tags say so), of a stack that no longer exists. Any other bucket, or the web bucket of a stack
still there, is refused in one line, nothing deleted. It says what it will delete and asks on a
terminal; without one (CI) it needs --yes.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

STACK_TAG = "aws:cloudformation:stack-name"
STACK_ID_TAG = "aws:cloudformation:stack-id"  # arn:aws:cloudformation:<region>:<account>:stack/...
LOGICAL_ID_TAG = "aws:cloudformation:logical-id"
LOGICAL_ID = "WebBucket"


class Refused(Exception):
    """Not a deleted talkrate stack's web bucket, or not confirmed: nothing deleted."""


def deleted_stack_of(s3: Any, cloudformation: Any, bucket: str) -> str:
    """The name of the stack whose WebBucket `bucket` is, when that stack no longer exists;
    Refused otherwise."""
    try:
        tag_set = s3.get_bucket_tagging(Bucket=bucket)["TagSet"]
    except s3.exceptions.ClientError as error:
        code = error.response["Error"]["Code"]
        if code == "NoSuchTagSet":
            raise Refused(
                f"{bucket} is not a talkrate stack's {LOGICAL_ID} (it has no tags: "
                "CloudFormation did not make it)"
            ) from None
        raise Refused(f"{bucket}: {code} {error.response['Error'].get('Message', '')}") from None
    tags = {tag["Key"]: tag["Value"] for tag in tag_set}
    stack, logical_id = tags.get(STACK_TAG), tags.get(LOGICAL_ID_TAG)
    if not stack or logical_id != LOGICAL_ID:
        made = f"stack {stack}'s {logical_id}" if stack else "no CloudFormation stack"
        raise Refused(f"{bucket} is not a talkrate stack's {LOGICAL_ID} (its tags say {made})")
    # The stack is asked by its id where the tags carry it: the deleted stack itself, in its own
    # region (a name alone, asked in another region, would find no stack there and take a live
    # one's bucket as a deleted one's; a new stack of the same name is another stack).
    stack_id = tags.get(STACK_ID_TAG)
    here = cloudformation.meta.region_name
    region = _region_of(stack_id)
    if region and region != here:
        raise Refused(
            f"{bucket} is stack {stack}'s {LOGICAL_ID} in {region}, and CloudFormation is asked "
            f"in {here}: run it again with AWS_REGION={region}"
        )
    try:
        [described] = cloudformation.describe_stacks(StackName=stack_id or stack)["Stacks"]
    except cloudformation.exceptions.ClientError as error:
        message = error.response["Error"].get("Message", "")
        if error.response["Error"]["Code"] == "ValidationError" and "does not exist" in message:
            return str(stack)
        raise Refused(f"stack {stack} could not be read: {message}") from None
    status = described["StackStatus"]
    if status != "DELETE_COMPLETE":
        raise Refused(
            f"{bucket} is the web bucket of stack {stack}, which is {status}: delete the stack first"
        )
    return str(stack)


def _region_of(stack_id: str | None) -> str | None:
    """The region a stack id (an ARN) names."""
    parts = (stack_id or "").split(":")
    return parts[3] if len(parts) > 5 and parts[2] == "cloudformation" else None


def web_bucket_of(s3: Any, stack: str, region: str) -> str:
    """The bucket CloudFormation made as `stack`'s WebBucket in `region` (its
    `aws:cloudformation:*` tags say so), among the account's buckets; Refused when there is
    none, or more than one (a stack of that name made, deleted and made again: give --bucket)."""
    found, unread = [], []
    listed_buckets = [
        listed
        for page in s3.get_paginator("list_buckets").paginate()
        for listed in page.get("Buckets", [])
    ]
    for listed in listed_buckets:
        name = listed["Name"]
        try:
            tag_set = s3.get_bucket_tagging(Bucket=name)["TagSet"]
        except s3.exceptions.ClientError as error:
            if error.response["Error"]["Code"] != "NoSuchTagSet":
                unread.append(name)  # (another team's, out of the operator's rights)
            continue
        tags = {tag["Key"]: tag["Value"] for tag in tag_set}
        if (
            tags.get(STACK_TAG) == stack
            and tags.get(LOGICAL_ID_TAG) == LOGICAL_ID
            and _region_of(tags.get(STACK_ID_TAG)) in (region, None)
        ):
            found.append(name)
    if len(found) == 1:
        return str(found[0])
    if found:
        raise Refused(
            f"stack {stack} made {len(found)} web buckets ({', '.join(sorted(found))}): give "
            "the one to remove with --bucket (BUCKET=)"
        )
    unreadable = f" ({len(unread)} buckets' tags could not be read)" if unread else ""
    raise Refused(f"no bucket is stack {stack}'s {LOGICAL_ID} in {region}{unreadable}")


def count_versions(s3: Any, bucket: str) -> int:
    """How many object versions and delete markers `bucket` holds."""
    count = 0
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        count += len(page.get("Versions", [])) + len(page.get("DeleteMarkers", []))
    return count


def remove_bucket(s3: Any, bucket: str) -> int:
    """Delete every object version and delete marker of `bucket`, then the bucket; returns how
    many versions and markers went."""
    removed = 0
    while True:
        # Always the first page: what the last batch deleted is gone from it. At most 1,000
        # versions and markers together, as many as one DeleteObjects call takes.
        page = s3.list_object_versions(Bucket=bucket, MaxKeys=1000)
        batch = [
            {"Key": entry["Key"], "VersionId": entry["VersionId"]}
            for entry in page.get("Versions", []) + page.get("DeleteMarkers", [])
        ][:1000]
        if not batch:
            break
        answer = s3.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
        if answer.get("Errors"):
            first = answer["Errors"][0]
            raise RuntimeError(f"{first['Key']} not deleted: {first['Code']} {first['Message']}")
        removed += len(batch)
    s3.delete_bucket(Bucket=bucket)
    return removed


def remove_web_bucket(
    s3: Any,
    cloudformation: Any,
    bucket: str,
    confirm: Callable[[], bool],
    say: Callable[[str], None] = print,
) -> int:
    """Check `bucket` is a deleted stack's web bucket, say what goes, and when confirmed remove
    it; how many versions and markers went."""
    stack = deleted_stack_of(s3, cloudformation, bucket)
    say(
        f"{bucket}, the web bucket of stack {stack} (deleted): {count_versions(s3, bucket)} file "
        "versions and delete markers, then the bucket, will be deleted for good"
    )
    if not confirm():
        raise Refused("not confirmed")
    return remove_bucket(s3, bucket)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--bucket", help="the bucket's name (WebBucketName)")
    which.add_argument("--stack", help="the deleted stack's name: its WebBucket, by its tags")
    parser.add_argument("--yes", action="store_true", help="delete without asking")
    args = parser.parse_args(argv)
    import boto3  # the operator's credentials and region, as for `sam deploy`

    s3 = boto3.client("s3")

    def confirm() -> bool:
        if args.yes:
            return True
        if not sys.stdin.isatty():
            raise Refused("not a terminal: run again with --yes (make ... YES=1) to delete")
        return input("delete them? [y/N] ").strip().lower() in ("y", "yes")

    cloudformation = boto3.client("cloudformation")
    try:
        bucket = args.bucket or web_bucket_of(s3, args.stack, cloudformation.meta.region_name)
        removed = remove_web_bucket(s3, cloudformation, bucket, confirm)
    except Refused as refused:
        print(f"remove_web_bucket: {refused}; nothing deleted", file=sys.stderr)
        return 1
    print(f"{bucket}: {removed} file versions and delete markers removed, bucket deleted")
    return 0


if __name__ == "__main__":
    sys.exit(main())
