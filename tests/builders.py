"""The one place tests build events and load function handlers from."""

from __future__ import annotations

import base64
import copy
import importlib.util
import json
import uuid
from collections.abc import Callable, Iterable
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import quote, urlencode

from talkrate.models import RatingSubmitted

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"

Handler = Callable[[Any, Any], Any]


@cache
def _sample(path: str) -> dict[str, Any]:
    return json.loads((EVENTS / path).read_text())


def sample_event(path: str) -> dict[str, Any]:
    """A fresh copy of a sample event from events/."""
    return copy.deepcopy(_sample(path))


def _load(module_name: str, path: Path) -> ModuleType:
    """A module loaded by its file's path (a function's app.py, a script: not packages)."""
    spec = importlib.util.spec_from_file_location(module_name, path)
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@cache
def load_function(name: str) -> Handler:
    """Load functions/<name>/app.py by path, as Lambda does, and return its handler."""
    module = _load(f"talkrate_test_{name}_app", ROOT / "functions" / name / "app.py")
    handler: Handler = module.lambda_handler
    return handler


@cache
def load_script(name: str) -> ModuleType:
    """Load scripts/<name>.py by path (the scripts are run as files, not imported)."""
    return _load(name, ROOT / "scripts" / f"{name}.py")


def unique_talk_id(prefix: str = "talk") -> str:
    """A talk id no other test uses."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def rating_event(talk_id: str, value: int) -> RatingSubmitted:
    """A RatingSubmitted event as the API builds it."""
    return RatingSubmitted.new(talk_id, value)


def kafka_record(
    topic: str, partition: int, offset: int, value: bytes | None, key: bytes | None = None
) -> dict[str, Any]:
    """One record of the Lambda Kafka event, shaped like the sample's."""
    record = copy.deepcopy(_first_record("projector/self-managed-kafka.json"))
    record.update(topic=topic, partition=partition, offset=offset)
    for field, data in (("key", key), ("value", value)):
        if data is None:
            record.pop(field, None)
        else:
            record[field] = base64.b64encode(data).decode()
    return record


def kafka_event(
    records: Iterable[dict[str, Any]], source: str = "projector/self-managed-kafka.json"
) -> dict[str, Any]:
    """A Lambda Kafka event (SelfManagedKafka or aws:kafka, by sample) holding these records."""
    event = sample_event(source)
    grouped: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        grouped.setdefault(f"{record['topic']}-{record['partition']}", []).append(record)
    event["records"] = grouped
    return event


def ratings_batch(
    topic: str, partition: int, first_offset: int, events: Iterable[RatingSubmitted]
) -> list[dict[str, Any]]:
    """Kafka records carrying these events at consecutive offsets."""
    return [
        kafka_record(topic, partition, first_offset + i, e.to_json(), e.key)
        for i, e in enumerate(events)
    ]


def _first_record(path: str) -> dict[str, Any]:
    records = _sample(path)["records"]
    return next(iter(records.values()))[0]  # type: ignore[no-any-return]


class LambdaContextStub:
    """The attributes of the Lambda context object that handlers and Powertools read."""

    def __init__(self, function_name: str = "talkrate-test", remaining_ms: int = 30_000) -> None:
        self.function_name = function_name
        self._remaining_ms = remaining_ms
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = 256
        self.invoked_function_arn = (
            f"arn:aws:lambda:eu-west-1:000000000000:function:{function_name}"
        )
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "local"

    def get_remaining_time_in_millis(self) -> int:
        return self._remaining_ms


def http_event(
    method: str,
    path: str,
    body: str | bytes | None = None,
    query: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    authorizer: dict[str, Any] | None = None,
    source_ip: str | None = None,
) -> dict[str, Any]:
    """An API Gateway HTTP API (payload 2.0) event, from the sample in events/api/.

    `authorizer` is the context AdminAuthorizerFunction returned, as API Gateway passes it on;
    `source_ip` the client's address (the sample's otherwise).
    """
    event = sample_event("api/post-rating.json")
    event["routeKey"] = f"{method} {path}"
    event["rawPath"] = path
    event["requestContext"]["http"].update(method=method, path=path)
    event["requestContext"]["routeKey"] = f"{method} {path}"
    event["headers"] = {"content-type": "application/json", **(headers or {})}
    # As a client sends it: each name and value percent-encoded (a value may hold & or =)
    event["rawQueryString"] = urlencode(query or {}, quote_via=quote)
    if query:
        event["queryStringParameters"] = query
    else:
        event.pop("queryStringParameters", None)
    if isinstance(body, bytes):
        event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode(), True
    else:
        event["body"], event["isBase64Encoded"] = body, False
    if body is None:
        event.pop("body")
    if authorizer is not None:
        event["requestContext"]["authorizer"] = {"lambda": authorizer}
    if source_ip is not None:
        event["requestContext"]["http"]["sourceIp"] = source_ip
    return event
