"""A Kafka client that cannot be built or reach its broker is said in one wording, whichever
client it was: the API's producer, the operator commands' admin client (`committed_topics`)
and the replay's consumer."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from talkrate.adapters.kafka_stream import KafkaRatingPublisher, client_options, committed_topics
from talkrate.config import Settings
from talkrate.errors import BackendUnavailable
from talkrate.rebuild import OffsetRange
from talkrate_cli.operations.replay import read_from_kafka
from tests.builders import rating_event

pytestmark = pytest.mark.integration


def publish(settings: Settings) -> None:
    publisher = KafkaRatingPublisher(settings)
    try:
        publisher.publish(rating_event("t", 3))
    finally:
        publisher.close()


def ask_the_group(settings: Settings) -> None:
    committed_topics(settings, "talkrate-projector")


def replay(settings: Settings) -> None:
    read_from_kafka(client_options(settings), [OffsetRange("ratings", 0, 0, 0)], timeout=1)


CLIENTS: dict[str, Callable[[Settings], None]] = {
    "producer": publish,
    "committed_topics": ask_the_group,
    "replay": replay,
}


def said_by_each(bootstrap: str) -> dict[str, str]:
    """What each client's construction failed with, for these bootstrap servers."""
    settings = Settings.model_validate(
        {"STREAMS_CONNECTION": bootstrap, "PUBLISH_TIMEOUT_SECONDS": 1}
    )
    said = {}
    for name, use in CLIENTS.items():
        with pytest.raises(BackendUnavailable) as failed:
            use(settings)
        said[name] = str(failed.value)
    return said


def test_bootstrap_servers_no_client_can_be_built_from_are_said_alike_by_every_client() -> None:
    # Given bootstrap servers whose entry is no host:port (a path after it)
    # When each client is built from them
    said = said_by_each("127.0.0.1:9092/ratings")
    # Then each says the same line, naming Kafka as GET / does and the setting to fix (the
    # replay said "kafka-python reads an entry … as no host:port", the others had no "Kafka at")
    assert set(said.values()) == {
        "Kafka at 127.0.0.1:9092 cannot be asked: STREAMS_CONNECTION (the Kafka "
        "bootstrap servers) holds an entry that is no host:port, so no Kafka client could be "
        "built from it"
    }, said


def test_a_broker_that_does_not_answer_is_said_alike_by_every_client() -> None:
    # Given bootstrap servers where no broker listens
    # When each client is built for them
    said = said_by_each("127.0.0.1:1")
    # Then each says Kafka there is unreachable, with kafka-python's reason (the producer said
    # "the event stream did not acknowledge: KafkaTimeoutError…", naming no broker)
    assert set(said.values()) == {
        "Kafka at 127.0.0.1:1 is unreachable: KafkaTimeoutError: Unable to bootstrap from "
        "['127.0.0.1:1']"
    }, said
