"""Every sample in events/ is a valid event of its kind for Powertools (its data class and its
parser model), and every function and trigger of template.yaml has one.

`sam local generate-event` has nothing for Kafka, so these samples are what `sam local invoke -e`
and the tests use; a sample that drifts from the real shape would test nothing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools.utilities.data_classes import (
    APIGatewayProxyEventV2,
    EventBridgeEvent,
    KafkaEvent,
    LambdaFunctionUrlEvent,
)
from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
    APIGatewayAuthorizerEventV2,
)
from aws_lambda_powertools.utilities.parser.models import (
    ApiGatewayAuthorizerRequestV2,
    APIGatewayProxyEventV2Model,
    EventBridgeModel,
    KafkaMskEventModel,
    KafkaSelfManagedEventModel,
    LambdaFunctionUrlModel,
)

from sam_emulator.template import load_template
from sam_emulator.template.cfn_yaml import load_yaml_file
from talkrate.adapters.rebuild_requests import REBUILD_EVENT
from talkrate.stats import parse_histogram
from tests.builders import EVENTS, ROOT

pytestmark = pytest.mark.unit

SAMPLES = sorted(EVENTS.rglob("*.json"))
# The sample kind each trigger of the template needs in its function's folder.
TRIGGER_KINDS = {
    "HttpApi": "http-api",
    "SelfManagedKafka": "kafka:SelfManagedKafka",
    "MSK": "kafka:aws:kafka",
    "Schedule": "scheduled",
    "ScheduleV2": "scheduled",
}


def kind_of(event: Any) -> str:
    """What a sample is, from its shape alone."""
    if not isinstance(event, dict):
        return "unknown"
    context = event.get("requestContext")
    if event.get("version") == "2.0" and event.get("type") == "REQUEST" and "routeArn" in event:
        return "http-authorizer"
    if event.get("version") == "2.0" and isinstance(context, dict) and "http" in context:
        # A function URL's host is <url-id>.lambda-url.<region>.on.aws.
        return "function-url" if ".lambda-url." in context.get("domainName", "") else "http-api"
    if event.get("eventSource") in ("SelfManagedKafka", "aws:kafka"):
        return f"kafka:{event['eventSource']}"
    if "detail-type" in event and "source" in event:
        return "scheduled" if event["detail-type"] == "Scheduled Event" else "eventbridge"
    if "ratings" in event:
        return "stats"
    if "rebuildReadModel" in event:
        return "rebuild-request"
    if str(event.get("ResourceType", "")).startswith("Custom::") and "ResponseURL" in event:
        return "custom-resource"
    return "unknown"


def check_http_api(event: dict[str, Any]) -> None:
    APIGatewayProxyEventV2Model.model_validate(event)
    parsed = APIGatewayProxyEventV2(event)
    assert parsed.request_context.http.method in {"GET", "POST", "PUT", "PATCH", "DELETE"}
    assert parsed.raw_path.startswith("/")
    assert parsed.route_key == f"{parsed.request_context.http.method} {parsed.raw_path}"
    if parsed.body is not None and "json" in parsed.headers.get("content-type", ""):
        json.loads(parsed.decoded_body)


def check_http_authorizer(event: dict[str, Any]) -> None:
    ApiGatewayAuthorizerRequestV2.model_validate(event)
    parsed = APIGatewayAuthorizerEventV2(event)
    assert parsed.route_arn.startswith("arn:aws:execute-api:")
    assert parsed.route_key == f"{parsed.request_context.http.method} {parsed.raw_path}"


def check_function_url(event: dict[str, Any]) -> None:
    LambdaFunctionUrlModel.model_validate(event)
    parsed = LambdaFunctionUrlEvent(event)
    assert parsed.request_context.http.method == "POST"
    assert parsed.route_key == "$default"
    parse_histogram(json.loads(parsed.decoded_body))


def check_kafka(event: dict[str, Any]) -> None:
    model = (
        KafkaMskEventModel if event["eventSource"] == "aws:kafka" else KafkaSelfManagedEventModel
    )
    model.model_validate(event)
    records = list(KafkaEvent(event).records)
    assert records
    for record in records:
        assert f"{record.topic}-{record.partition}" in event["records"]
        assert record.offset >= 0
        assert isinstance(record.decoded_value, bytes)


def check_scheduled(event: dict[str, Any]) -> None:
    EventBridgeModel.model_validate(event)
    parsed = EventBridgeEvent(event)
    assert parsed.source == "aws.events"
    assert parsed.resources


def check_stats(event: dict[str, Any]) -> None:
    parse_histogram(event)  # StatsFunction invoked directly: no Powertools class for this one


def check_rebuild_request(event: dict[str, Any]) -> None:
    # What the API sends RelayFunction when a read finds the read model lost
    assert event == REBUILD_EVENT


def check_custom_resource(event: dict[str, Any]) -> None:
    # What CloudFormation sends a custom resource's function (its ServiceToken)
    assert event["RequestType"] in {"Create", "Update", "Delete"}
    assert event["ResponseURL"].startswith("https://")
    assert event["StackId"].startswith("arn:aws:cloudformation:")
    assert event["RequestId"]
    assert event["ServiceToken"] == event["ResourceProperties"]["ServiceToken"]
    resource = load_yaml_file(ROOT / "template.yaml")["Resources"][event["LogicalResourceId"]]
    assert resource["Type"] == event["ResourceType"]
    assert set(event["ResourceProperties"]) == set(resource["Properties"])


CHECKS = {
    "http-api": check_http_api,
    "http-authorizer": check_http_authorizer,
    "function-url": check_function_url,
    "kafka:SelfManagedKafka": check_kafka,
    "kafka:aws:kafka": check_kafka,
    "scheduled": check_scheduled,
    "stats": check_stats,
    "rebuild-request": check_rebuild_request,
    "custom-resource": check_custom_resource,
}


@pytest.mark.parametrize("path", SAMPLES, ids=lambda path: str(path.relative_to(EVENTS)))
def test_each_sample_is_a_valid_event_of_its_kind(path: Path) -> None:
    event = json.loads(path.read_text())
    kind = kind_of(event)
    assert kind in CHECKS, f"{path}: not a known event shape; add its check here"
    CHECKS[kind](event)


def test_every_function_and_trigger_has_a_sample() -> None:
    # Given every function of the template, whatever its condition
    resources = load_yaml_file(ROOT / "template.yaml")["Resources"]
    functions = {
        name: resource["Properties"]
        for name, resource in resources.items()
        if resource.get("Type") == "AWS::Serverless::Function"
    }
    authorizers = {
        authorizer["FunctionArn"]["Fn::GetAtt"][0]
        for resource in resources.values()
        if resource.get("Type") == "AWS::Serverless::HttpApi"
        for authorizer in (
            (resource["Properties"].get("Auth") or {}).get("Authorizers") or {}
        ).values()
        if isinstance(authorizer.get("FunctionArn"), dict)
        and "Fn::GetAtt" in authorizer["FunctionArn"]
    }
    service_tokens = {
        resource["Properties"]["ServiceToken"]["Fn::GetAtt"][0]
        for resource in resources.values()
        if str(resource.get("Type", "")).startswith("Custom::")
    }
    missing: list[str] = []
    for name, properties in functions.items():
        folder = EVENTS / Path(properties["CodeUri"]).name
        kinds = {kind_of(json.loads(path.read_text())) for path in folder.glob("*.json")}
        needed = {
            TRIGGER_KINDS[event["Type"]]
            for event in (properties.get("Events") or {}).values()
            if event["Type"] in TRIGGER_KINDS
        }
        if "FunctionUrlConfig" in properties:
            needed.add("function-url")
        if name in authorizers:
            needed.add("http-authorizer")
        if name in service_tokens:
            needed.add("custom-resource")
        if not needed:
            needed.add("any")  # invoked directly: any sample will do
        missing += [f"{name}: {kind} in {folder}" for kind in needed - kinds if kind != "any"]
        if "any" in needed and not kinds:
            missing.append(f"{name}: a sample in {folder}")
    # Then each one's folder in events/ holds a sample for each way it is triggered
    assert not missing


def test_a_kafka_sample_invoked_by_hand_leaves_the_projector_s_topic_alone() -> None:
    # Given the topics the template's Kafka mappings read
    mapped = {
        topic
        for mapping in load_template(ROOT / "template.yaml").kafka_mappings
        for topic in mapping.topics
    }
    assert mapped
    # When a Kafka sample is invoked by hand (`sam local invoke -e`, or boto3 against make run's
    # Lambda port), the projector files its records' offsets as applied
    samples = [json.loads(path.read_text()) for path in SAMPLES]
    kafka = [event for event in samples if kind_of(event).startswith("kafka:")]
    assert kafka
    sampled = {record.topic for event in kafka for record in KafkaEvent(event).records}
    # Then they are on a topic of their own: on the mapped topic, the real records of that
    # partition up to the sample's offsets would be skipped as already counted
    assert not sampled & mapped
