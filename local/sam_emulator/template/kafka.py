"""Kafka event source mappings: SelfManagedKafka and MSK events, and raw
AWS::Lambda::EventSourceMapping resources with Topics."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, Final

from sam_emulator.template.intrinsics import NO_VALUE, as_text
from sam_emulator.template.reader import Reader, SourceParser

KAFKA_DEFAULT_BATCH_SIZE: Final = 100
# Lambda's default batching window for Kafka and MQ sources is 500 ms (0 for the others).
KAFKA_DEFAULT_WINDOW_SECONDS: Final = 0.5
KAFKA_SOURCES: Final = ("SelfManagedKafka", "MSK")
_STARTING_POSITIONS: Final = {"TRIM_HORIZON": "earliest", "LATEST": "latest"}


@dataclass(frozen=True)
class KafkaMapping:
    """A Kafka event source mapping (SelfManagedKafka or MSK event, or a raw EventSourceMapping)."""

    function_id: str
    name: str
    source: str
    topics: tuple[str, ...]
    batch_size: int = KAFKA_DEFAULT_BATCH_SIZE
    batching_window_seconds: float = KAFKA_DEFAULT_WINDOW_SECONDS
    starting_position: str = "latest"
    consumer_group_id: str = ""
    event_source_arn: str | None = None


class KafkaParser(SourceParser):
    """Collects the enabled Kafka mappings, whichever way the template declares them."""

    event_types = frozenset(KAFKA_SOURCES)
    resource_types = frozenset({"AWS::Lambda::EventSourceMapping"})

    def __init__(self) -> None:
        self.kafka_mappings: list[KafkaMapping] = []
        self._resources: list[tuple[str, Mapping[str, Any]]] = []

    def read_event(
        self,
        reader: Reader,
        function_id: str,
        name: str,
        kind: str,
        properties: Mapping[str, Any],
    ) -> None:
        """A SelfManagedKafka or MSK event of a function."""
        if not reader.enabled(properties.get("Enabled", True)):
            reader.note(f"{function_id}.{name}: mapping disabled (Enabled: false)")
            return
        consumer_group = reader.resolve(properties.get("ConsumerGroupId"))
        config_key = (
            "SelfManagedKafkaEventSourceConfig"
            if kind == "SelfManagedKafka"
            else "AmazonManagedKafkaEventSourceConfig"
        )
        source_config = reader.resolve(properties.get(config_key) or {})
        consumer_group = consumer_group or source_config.get("ConsumerGroupId")
        arn = (
            reader.optional_text(properties.get("Stream") or properties.get("EventSourceArn"))
            or None
        )
        self._add(reader, function_id, name, kind, properties, consumer_group, arn)

    def read_resource(self, reader: Reader, logical_id: str, resource: Mapping[str, Any]) -> None:
        """An EventSourceMapping: read once the functions are known (`finish`)."""
        self._resources.append((logical_id, resource.get("Properties") or {}))

    def finish(self, reader: Reader, functions: Collection[str]) -> None:
        """The EventSourceMapping resources whose target is a local function."""
        for logical_id, properties in self._resources:
            self._read_mapping_resource(reader, functions, logical_id, properties)

    def _read_mapping_resource(
        self,
        reader: Reader,
        functions: Collection[str],
        logical_id: str,
        properties: Mapping[str, Any],
    ) -> None:
        # FunctionName: !Ref Fn, !GetAtt Fn.Arn, a name or an ARN; the last segment is the id.
        function_id = (reader.optional_text(properties.get("FunctionName")) or "").split(":")[-1]
        if function_id not in functions:
            reader.note(f"{logical_id}: mapping target is not a local function")
            return
        if "Topics" not in properties:
            reader.note(f"{logical_id}: only Kafka event source mappings are run locally")
            return
        if not reader.enabled(properties.get("Enabled", True)):
            reader.note(f"{logical_id}: mapping disabled (Enabled: false)")
            return
        managed = "SelfManagedEventSource" not in properties
        config_key = (
            "AmazonManagedKafkaEventSourceConfig"
            if managed
            else "SelfManagedKafkaEventSourceConfig"
        )
        source_config = reader.resolve(properties.get(config_key) or {})
        arn = reader.optional_text(properties.get("EventSourceArn")) or None
        source = "MSK" if managed else "SelfManagedKafka"
        group = source_config.get("ConsumerGroupId")
        self._add(reader, function_id, logical_id, source, properties, group, arn)

    def _add(
        self,
        reader: Reader,
        function_id: str,
        name: str,
        source: str,
        properties: Mapping[str, Any],
        consumer_group: Any,
        arn: str | None,
    ) -> None:
        topics = reader.resolve(properties.get("Topics") or [])
        topics = topics if isinstance(topics, list) else [topics]
        position = as_text(reader.resolve(properties.get("StartingPosition", "LATEST")))
        if position not in _STARTING_POSITIONS:
            reader.note(f"{function_id}.{name}: StartingPosition {position} read as LATEST")
        window = reader.resolve(properties.get("MaximumBatchingWindowInSeconds"))
        batch_size = reader.resolve(properties.get("BatchSize", KAFKA_DEFAULT_BATCH_SIZE))
        self.kafka_mappings.append(
            KafkaMapping(
                function_id=function_id,
                name=name,
                source=source,
                topics=tuple(as_text(topic) for topic in topics),
                batch_size=int(as_text(batch_size)),
                batching_window_seconds=(
                    KAFKA_DEFAULT_WINDOW_SECONDS
                    if window is None or window is NO_VALUE
                    else float(as_text(window))
                ),
                starting_position=_STARTING_POSITIONS.get(position, "latest"),
                # Lambda defaults the group to the mapping's UUID; a stable name keeps offsets
                # across local restarts against a long-lived broker.
                consumer_group_id=(
                    as_text(consumer_group) if consumer_group else f"{function_id}-{name}"
                ),
                event_source_arn=arn,
            )
        )
