"""The catalog database's schema, applied by CloudFormation on every deploy that changes it.

`SchemaFunction` backs the template's `DatabaseSchema` custom resource: on Create and Update it
applies `schema.sql` (idempotent: every statement is IF NOT EXISTS), on Delete it leaves the
database alone (the talks and the event store outlive a stack). Whatever happens, CloudFormation
gets an answer, so a failure rolls the deploy back instead of leaving it waiting for an hour.
"""

from __future__ import annotations

import hashlib
import json
import urllib.request
from collections.abc import Callable, Mapping
from importlib import resources
from typing import Any

PHYSICAL_ID = "talkrate-database-schema"
RESPONSE_TIMEOUT_SECONDS = 10
MAX_REASON_LENGTH = 500


def schema_version() -> str:
    """A short digest of schema.sql, reported to CloudFormation as the resource's Version."""
    text = resources.files("talkrate").joinpath("schema.sql").read_bytes()
    return hashlib.sha256(text).hexdigest()[:16]


class DatabaseNotConnected(Exception):
    """The catalog database could not be connected to (down, out of reach, or refusing the
    login): nothing of the schema was tried."""


# The Version answered for a schema an emergency deploy could not apply.
NOT_APPLIED = "not-applied"


def handle(event: Mapping[str, Any], apply: Callable[[], None]) -> dict[str, Any]:
    """Answer one custom resource request: apply the schema unless the stack deletes it.

    Returns the answer sent to the request's ResponseURL. The reason of a failure names the
    error's kind and first line only (a driver's message names a host, never a password).

    An Update of an emergency deploy (its `Emergency` property "true": EmergencyDeploy) that
    cannot connect to the database succeeds without the schema, saying so: a fix deployed while
    PostgreSQL is down would otherwise fail here and roll back, whatever else it changed. The
    next deploy with EmergencyDeploy false changes that property, and applies it.
    """
    try:
        if event.get("RequestType") in ("Create", "Update"):
            try:
                apply()
            except DatabaseNotConnected as error:
                if not _emergency_update(event):
                    raise
                reason = (
                    f"schema NOT applied ({_said(error)}): EmergencyDeploy went on without it; "
                    "the next deploy with EmergencyDeploy false applies it"
                )
                answer = _answer(
                    event, "SUCCESS", reason[:MAX_REASON_LENGTH], {"Version": NOT_APPLIED}
                )
                _send(str(event["ResponseURL"]), answer)
                return answer
        answer = _answer(event, "SUCCESS", "schema applied", {"Version": schema_version()})
    except Exception as error:  # CloudFormation must hear of any failure, or it waits an hour
        answer = _answer(event, "FAILED", _said(error)[:MAX_REASON_LENGTH], {})
    _send(str(event["ResponseURL"]), answer)
    return answer


def _said(error: Exception) -> str:
    first_line = (str(error).strip().splitlines() or [""])[0]
    return f"{type(error).__name__}: {first_line}"


def _emergency_update(event: Mapping[str, Any]) -> bool:
    properties = event.get("ResourceProperties")
    emergency = properties.get("Emergency") if isinstance(properties, Mapping) else None
    return event.get("RequestType") == "Update" and str(emergency).lower() == "true"


def _answer(
    event: Mapping[str, Any], status: str, reason: str, data: dict[str, str]
) -> dict[str, Any]:
    return {
        "Status": status,
        "Reason": reason,
        # One physical id for ever: an Update never replaces the resource (which would send a
        # Delete for the old one).
        "PhysicalResourceId": event.get("PhysicalResourceId") or PHYSICAL_ID,
        "StackId": event.get("StackId"),
        "RequestId": event.get("RequestId"),
        "LogicalResourceId": event.get("LogicalResourceId"),
        "Data": data,
    }


def _send(url: str, answer: dict[str, Any]) -> None:
    """PUT the answer to CloudFormation's pre-signed S3 URL (signed without a content type)."""
    if not url.startswith(("https://", "http://")):
        raise ValueError("ResponseURL must be an http(s) URL")
    body = json.dumps(answer).encode()
    request = urllib.request.Request(  # noqa: S310 - the scheme is checked above
        url, data=body, method="PUT", headers={"Content-Type": "", "Content-Length": str(len(body))}
    )
    # The scheme is checked above (bandit reads words after its nosec as test names).
    with urllib.request.urlopen(request, timeout=RESPONSE_TIMEOUT_SECONDS) as response:  # noqa: S310  # nosec B310
        response.read()
