"""SchemaFunction: applies the catalog database's schema when CloudFormation deploys the stack."""

from __future__ import annotations

from typing import Any

from talkrate.adapters.postgres import apply_schema
from talkrate.config import settings_now
from talkrate.observability import logger
from talkrate.schema import handle


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    answer = handle(event, _apply)
    log = logger.info if answer["Status"] == "SUCCESS" else logger.error
    log(
        "database schema",
        extra={
            "requestType": event.get("RequestType"),
            "status": answer["Status"],
            "reason": answer["Reason"],
            "version": answer["Data"].get("Version"),
        },
    )
    return {"status": answer["Status"]}


def _apply() -> None:
    # The settings are read inside `handle`: whatever fails (a secret that cannot be read, a
    # setting refused) is answered to CloudFormation, which would otherwise wait for an answer.
    # Read anew for each request, never cached: a deploy that changes TalksConnection alone
    # reaches a warm environment, which must apply the schema to the database named now.
    settings = settings_now()
    apply_schema(settings.talks_connection, settings.talks_proxy_endpoint)
