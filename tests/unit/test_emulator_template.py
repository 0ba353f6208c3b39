"""The local runtime's reading of template.yaml: functions, routes, triggers and schedules."""

from __future__ import annotations

from pathlib import Path

import pytest

from sam_emulator.apigw import RouteTable
from sam_emulator.events.schedule import scheduled_event
from sam_emulator.lambda_.environment import function_environment
from sam_emulator.template import TemplateError, load_template, parse_template_text, rate_seconds
from tests.builders import ROOT

pytestmark = pytest.mark.unit

TEMPLATE = """
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Parameters:
  StreamsMode:
    Type: String
    Default: self-managed
    AllowedValues: [self-managed, msk]
  RatingsTopic:
    Type: String
    Default: ratings
  StatsTimeout:
    Type: Number
    Default: 2
  MskClusterArn:
    Type: String
    Default: ""
Mappings:
  Providers:
    self-managed: {Protocol: SASL_SSL}
    msk: {Protocol: SASL_SSL}
Conditions:
  UseMsk: !Equals [!Ref StreamsMode, msk]
  UseSelfManagedKafka: !Not [!Condition UseMsk]
Globals:
  Function:
    Runtime: python3.13
    Timeout: 10
    MemorySize: 256
    Environment:
      Variables:
        POWERTOOLS_SERVICE_NAME: talkrate
        RATINGS_TOPIC: !Ref RatingsTopic
        CONNECTIONS_SECRET_ARN: !Ref ConnectionsSecret
        REGION_AND_TOPIC: !Sub "${AWS::Region}/${RatingsTopic}"
Resources:
  ConnectionsSecret:
    Type: AWS::SecretsManager::Secret
  HttpApi:
    Type: AWS::Serverless::HttpApi
  ApiFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/api/
      Handler: app.lambda_handler
      Environment:
        Variables:
          STATS_FUNCTION_NAME: !Ref StatsFunction
          STATS_ARN: !GetAtt StatsFunction.Arn
          STATS_TIMEOUT: !Ref StatsTimeout
          DEBUG: true
          MODE: !If [UseMsk, msk, kafka]
          PROTOCOL:
            Fn::FindInMap: [Providers, !Ref StreamsMode, Protocol]
          GONE: !Ref AWS::NoValue
      Events:
        Index: {Type: HttpApi, Properties: {ApiId: !Ref HttpApi, Path: /, Method: GET}}
        Rate: {Type: HttpApi, Properties: {ApiId: !Ref HttpApi, Path: /ratings, Method: post}}
        Read: {Type: HttpApi, Properties: {ApiId: !Ref HttpApi, Path: /ratings, Method: GET}}
        Talk: {Type: HttpApi, Properties: {Path: "/talks/{talkId}", Method: any}}
  ProjectorFunction:
    Type: AWS::Serverless::Function
    Condition: UseSelfManagedKafka
    Properties:
      CodeUri: functions/projector/
      Handler: app.lambda_handler
      Timeout: 30
      Events:
        Ratings:
          Type: SelfManagedKafka
          Properties:
            Topics: [!Ref RatingsTopic]
            KafkaBootstrapServers: [broker:9092]
            StartingPosition: TRIM_HORIZON
            BatchSize: 50
            ConsumerGroupId: talkrate-projector
  ProjectorMskFunction:
    Type: AWS::Serverless::Function
    Condition: UseMsk
    Properties:
      CodeUri: functions/projector/
      Handler: app.lambda_handler
      Events:
        Ratings:
          Type: MSK
          Properties:
            Stream: !Ref MskClusterArn
            Topics: [!Ref RatingsTopic]
            StartingPosition: LATEST
  StatsFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/stats/
      Handler: app.lambda_handler
      MemorySize: 512
  RelayFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/relay/
      Handler: app.lambda_handler
      Events:
        Every: {Type: Schedule, Properties: {Schedule: rate(1 minute)}}
        Nightly: {Type: ScheduleV2, Properties: {ScheduleExpression: "cron(0 3 * * ? *)"}}
        Off: {Type: Schedule, Properties: {Schedule: rate(5 minutes), Enabled: false}}
  RawMapping:
    Type: AWS::Lambda::EventSourceMapping
    Properties:
      FunctionName: !GetAtt StatsFunction.Arn
      Topics: [audit]
      SelfManagedEventSource: {Endpoints: {KafkaBootstrapServers: [broker:9092]}}
"""


def parse(overrides: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return parse_template_text(TEMPLATE, Path("/srv/talkrate"), overrides)


def test_functions_with_a_false_condition_are_skipped() -> None:
    # Given the defaults (self-managed Kafka)
    # When the template is read
    template = parse()
    # Then the MSK projector is left out
    assert sorted(template.functions) == [
        "ApiFunction",
        "ProjectorFunction",
        "RelayFunction",
        "StatsFunction",
    ]
    assert any("ProjectorMskFunction" in note for note in template.notes)


def test_parameter_overrides_flip_conditions() -> None:
    template = parse({"StreamsMode": "msk", "MskClusterArn": "arn:aws:kafka:x"})
    assert "ProjectorMskFunction" in template.functions
    assert "ProjectorFunction" not in template.functions
    (mapping, *_) = [m for m in template.kafka_mappings if m.function_id == "ProjectorMskFunction"]
    assert mapping.source == "MSK"
    assert mapping.starting_position == "latest"
    assert mapping.event_source_arn == "arn:aws:kafka:x"


def test_unknown_parameter_override_is_an_error() -> None:
    with pytest.raises(TemplateError, match="NoSuchParameter"):
        parse({"NoSuchParameter": "x"})


def test_function_settings_merge_globals_and_own_values() -> None:
    functions = parse().functions
    api, stats = functions["ApiFunction"], functions["StatsFunction"]
    assert api.code_dir == Path("/srv/talkrate/functions/api")
    assert (api.handler_module, api.handler_function) == ("app", "lambda_handler")
    assert api.handler_file == Path("/srv/talkrate/functions/api/app.py")
    assert (api.timeout_seconds, api.memory_mb) == (10, 256)
    assert (functions["ProjectorFunction"].timeout_seconds, stats.memory_mb) == (30, 512)


def test_environment_keeps_literals_refs_and_subs_and_drops_aws_wiring() -> None:
    # Given variables that are literals, Refs, Subs, and AWS-only wiring (!If, FindInMap, GetAtt)
    # When the template is read
    api = parse().functions["ApiFunction"]
    # Then the local values are kept and the AWS-only ones are left unset
    assert api.environment == {
        "POWERTOOLS_SERVICE_NAME": "talkrate",
        "RATINGS_TOPIC": "ratings",
        "REGION_AND_TOPIC": "us-east-1/ratings",
        "STATS_FUNCTION_NAME": "StatsFunction",
        "STATS_TIMEOUT": "2",
        "DEBUG": "true",
    }
    assert set(api.unresolved_environment) == {
        "CONNECTIONS_SECRET_ARN",
        "STATS_ARN",
        "MODE",
        "PROTOCOL",
        "GONE",
    }


def test_http_api_routes_come_from_the_events() -> None:
    routes = {(r.route_key, r.function_id) for r in parse().routes}
    assert routes == {
        ("GET /", "ApiFunction"),
        ("POST /ratings", "ApiFunction"),
        ("GET /ratings", "ApiFunction"),
        ("ANY /talks/{talkId}", "ApiFunction"),
    }


def test_kafka_event_becomes_a_mapping_with_lambda_defaults_filled_in() -> None:
    mappings = {m.function_id: m for m in parse().kafka_mappings}
    projector = mappings["ProjectorFunction"]
    assert projector.source == "SelfManagedKafka"
    assert projector.topics == ("ratings",)
    assert projector.starting_position == "earliest"
    assert (projector.batch_size, projector.batching_window_seconds) == (50, 0.5)
    assert projector.consumer_group_id == "talkrate-projector"
    raw = mappings["StatsFunction"]
    assert (raw.name, raw.topics, raw.batch_size) == ("RawMapping", ("audit",), 100)
    assert raw.consumer_group_id == "StatsFunction-RawMapping"


def test_the_projector_batching_window_is_lambda_s_default_unless_set() -> None:
    # Given the project's own template, as deployed by default and with a window set
    default = load_template(ROOT / "template.yaml").kafka_mappings
    set_to_two = load_template(
        ROOT / "template.yaml", {"ProjectorBatchWindowSeconds": "2"}
    ).kafka_mappings
    # Then the mapping leaves the window unset (Lambda's 500 ms), or takes the seconds given
    assert [m.batching_window_seconds for m in default] == [0.5]
    assert [m.batching_window_seconds for m in set_to_two] == [2.0]


def test_schedules_run_rate_expressions_and_keep_cron_for_the_log() -> None:
    schedules = {s.name: s for s in parse().schedules}
    assert set(schedules) == {"Every", "Nightly"}
    assert schedules["Every"].interval_seconds == 60
    assert schedules["Nightly"].interval_seconds is None


SCHEDULE_INPUT = """
Resources:
  JobFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: job/
      Handler: app.handler
      Events:
        Nightly:
          Type: Schedule
          Properties: {Schedule: rate(1 day), Input: '{"job": "cleanup", "days": 30}'}
        Broken:
          Type: ScheduleV2
          Properties: {ScheduleExpression: rate(1 hour), Input: '{job: cleanup}'}
"""


def test_a_schedule_s_input_reaches_the_function_as_the_json_it_spells() -> None:
    # Given a schedule whose Input is JSON text (the only form EventBridge takes), and one
    # whose Input is not JSON at all
    template = parse_template_text(SCHEDULE_INPUT, Path("/srv/job"))
    # When the schedule fires
    schedules = {schedule.name: schedule for schedule in template.schedules}
    # Then the function receives the object, as from EventBridge, not the text
    assert scheduled_event(schedules["Nightly"]) == {"job": "cleanup", "days": 30}
    # And the schedule whose Input is not JSON is not run, and the summary says why
    assert "Broken" not in schedules
    assert "JobFunction.Broken: not run, its Input is not JSON text" in template.notes


@pytest.mark.parametrize(
    ("expression", "seconds"),
    [
        ("rate(1 minute)", 60),
        ("rate(5 minutes)", 300),
        ("rate(10 seconds)", 10),
        ("rate(2 hours)", 7200),
        ("cron(0 3 * * ? *)", None),
        ("rate(0 minutes)", None),
    ],
)
def test_rate_expressions(expression: str, seconds: float | None) -> None:
    assert rate_seconds(expression) == seconds


def test_a_route_s_integration_timeout_is_its_timeout_in_millis_within_api_gateway_s_bounds() -> (
    None
):
    template = parse_template_text(
        """
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: fn/
      Handler: app.handler
      Events:
        Set: {Type: HttpApi, Properties: {Path: /set, Method: GET, TimeoutInMillis: 5000}}
        Over: {Type: HttpApi, Properties: {Path: /over, Method: GET, TimeoutInMillis: 60000}}
        Unset: {Type: HttpApi, Properties: {Path: /unset, Method: GET}}
""",
        Path("/srv/fn"),
    )
    timeouts = {route.path: route.timeout_ms for route in template.routes}
    assert timeouts == {"/set": 5000, "/over": 30_000, "/unset": 30_000}


def test_a_rate_of_nothing_is_not_run_and_the_summary_says_so() -> None:
    # Given a schedule of rate(0 minutes), which EventBridge refuses (it ran without a pause)
    template = parse_template_text(
        """
Resources:
  JobFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: job/
      Handler: app.handler
      Events:
        Busy: {Type: Schedule, Properties: {Schedule: rate(0 minutes)}}
""",
        Path("/srv/job"),
    )
    # Then it is not run, and the summary says why
    assert template.schedules == ()
    assert "JobFunction.Busy: not run, rate(0 minutes) is not a rate it takes" in template.notes


def test_a_template_without_resources_is_rejected() -> None:
    with pytest.raises(TemplateError):
        parse_template_text("Parameters: {}", Path("."))


ROUTES = """
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: fn/
      Handler: app.handler
      Events:
        Root: {Type: HttpApi, Properties: {Path: /, Method: GET}}
        Talk: {Type: HttpApi, Properties: {Path: "/talks/{talkId}", Method: GET}}
        TalkAny: {Type: HttpApi, Properties: {Path: "/talks/{talkId}", Method: ANY}}
        Featured: {Type: HttpApi, Properties: {Path: /talks/featured, Method: GET}}
        Files: {Type: HttpApi, Properties: {Path: "/files/{proxy+}", Method: GET}}
  Fallback:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: fn/
      Handler: app.handler
      Events:
        Default: {Type: HttpApi}
"""


@pytest.mark.parametrize(
    ("method", "path", "route_key", "parameters"),
    [
        ("GET", "/", "GET /", {}),
        ("GET", "/talks/featured", "GET /talks/featured", {}),
        (
            "GET",
            "/talks/flight-of-the-gopher",
            "GET /talks/{talkId}",
            {"talkId": "flight-of-the-gopher"},
        ),
        ("DELETE", "/talks/a%20b", "ANY /talks/{talkId}", {"talkId": "a b"}),
        ("GET", "/files/a/b.txt", "GET /files/{proxy+}", {"proxy": "a/b.txt"}),
        ("GET", "/files", "$default", {}),
        ("POST", "/", "$default", {}),
        ("GET", "/talks/x/y", "$default", {}),
    ],
)
def test_the_most_specific_route_wins_then_default(
    method: str, path: str, route_key: str, parameters: dict[str, str]
) -> None:
    # Given the template's routes
    table = RouteTable(parse_template_text(ROUTES, Path(".")).routes)
    # When a request comes in
    match = table.match(method, path)
    # Then it goes where API Gateway would send it
    assert match is not None
    assert (match.route.route_key, match.path_parameters) == (route_key, parameters)


def test_no_route_and_no_default_is_no_match() -> None:
    table = RouteTable(parse().routes)
    assert table.match("GET", "/nowhere") is None
    assert table.match("DELETE", "/ratings") is None


def test_function_environment_layers_and_drops_secret_arns() -> None:
    # Given the runtime's environment, the template's values and the local configuration
    environment = function_environment(
        template_env={"RATINGS_TOPIC": "ratings", "STREAMS_CONNECTION": "broker:9092"},
        base={"PATH": "/bin", "AWS_PROFILE": "prod", "CONNECTIONS_SECRET_ARN": "arn:x"},
        lambda_env={"AWS_LAMBDA_FUNCTION_NAME": "ApiFunction"},
        local={"STREAMS_CONNECTION": "127.0.0.1:9092"},
        extra={"RATINGS_TOPIC": "ratings-dev"},
    )
    # Then local configuration wins, secret ARNs and AWS profiles are gone
    assert environment == {
        "PATH": "/bin",
        "RATINGS_TOPIC": "ratings-dev",
        "STREAMS_CONNECTION": "127.0.0.1:9092",
        "AWS_LAMBDA_FUNCTION_NAME": "ApiFunction",
    }
