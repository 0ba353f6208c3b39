"""A function's environment variables, layered as the emulator runs it."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Final

from sam_emulator.template import FunctionSpec
from sam_emulator.template.intrinsics import REGION

# Credentials and profiles that would send boto3 to real AWS instead of the local endpoint.
_AWS_IDENTITY: Final = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
)


# What the local endpoints are signed with: boto3 wants credentials, nothing here checks them.
UNCHECKED_CREDENTIAL = "local"


def lambda_variables(spec: FunctionSpec) -> dict[str, str]:
    """What Lambda sets in every execution environment of the function."""
    return {
        "AWS_LAMBDA_FUNCTION_NAME": spec.logical_id,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_TIMEOUT": f"{spec.timeout_seconds:g}",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.logical_id}",
        "AWS_LAMBDA_LOG_STREAM_NAME": time.strftime("%Y/%m/%d/[$LATEST]local"),
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        # Any non-empty credentials: boto3 signs, the local endpoint does not check.
        "AWS_ACCESS_KEY_ID": UNCHECKED_CREDENTIAL,
        "AWS_SECRET_ACCESS_KEY": UNCHECKED_CREDENTIAL,
        "LAMBDA_TASK_ROOT": str(spec.code_dir),
        "_HANDLER": spec.handler,
        "PYTHONUNBUFFERED": "1",  # logs show as they are written
    }


def function_environment(
    template_env: Mapping[str, str],
    base: Mapping[str, str],
    lambda_env: Mapping[str, str],
    local: Mapping[str, str],
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """A function's environment: the emulator's own, then the template's, then what Lambda sets,
    then the dev stack's services, then --env-vars overrides. Secret ARNs are removed: locally
    the connections come from the dev stack, not from Secrets Manager."""
    environment = {k: v for k, v in base.items() if k not in _AWS_IDENTITY}
    environment.update(template_env)
    environment.update(lambda_env)
    environment.update(local)
    environment.update(extra or {})
    return {k: v for k, v in environment.items() if not k.endswith("_SECRET_ARN")}
