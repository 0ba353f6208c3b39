"""Remove a deleted stack's web bucket: every version of every file and every delete marker
(the bucket is versioned, so `aws s3 rm --recursive` would only add markers), then the bucket.

    python scripts/remove_web_bucket.py --bucket <the stack's WebBucketName output>

The stack keeps the bucket when it is deleted (DeletionPolicy Retain: CloudFormation cannot
delete a bucket that holds files, and `make publish-web` has put some there), so deleting the
stack always completes; this removes it afterwards (make remove-web-bucket BUCKET=...).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--bucket", required=True, help="the bucket's name (WebBucketName)")
    args = parser.parse_args(argv)
    import boto3  # the operator's credentials and region, as for `sam deploy`

    removed = remove_bucket(boto3.client("s3"), args.bucket)
    print(f"{args.bucket}: {removed} file versions and delete markers removed, bucket deleted")
    return 0


if __name__ == "__main__":
    sys.exit(main())
