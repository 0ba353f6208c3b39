"""The local runtime's own Kafka clients (its mappings' consumers, the topics it creates, its lag
count) take STREAMS_CONNECTION as the API's producer does (talkrate.adapters.kafka_stream's
`checked_client_options`): a bootstrap written with a scheme is consumed, and one holding a user
and password builds no client, so the runtime's output never shows a piece of the password."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sam_emulator.serving import free_port
from tests.backends import STREAMS_SETTING_TALKS, streams_setting_ratings
from tests.e2e.conftest import start_admin_runtime, stop_runtime, wait_for

pytestmark = pytest.mark.e2e

TALK = "flight-of-the-gopher"  # a dev talk
USER = "svc7q"
# Each three characters of it hold one that no id, token or time the runtime prints holds
PASSWORD = "Q~x!7*z~K!9"


def pieces(text: str) -> set[str]:
    """Every three characters of `text`."""
    return {text[i : i + 3] for i in range(len(text) - 2)}


def test_ratings_sent_through_a_bootstrap_written_with_a_scheme_are_projected(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    # Given a runtime whose STREAMS_CONNECTION names the broker with a scheme
    streams = ",".join(f"kafka://{entry}" for entry in kafka_bootstrap.split(","))
    runtime, _ = start_admin_runtime(
        STREAMS_SETTING_TALKS, streams_setting_ratings(), streams, tmp_path / "runtime.log"
    )
    try:
        # When a rating is sent
        answer = runtime.request("POST", "/ratings", json.dumps({"talkId": TALK, "value": 4}))
        assert answer.status == 202, answer.body
        assert answer.json["status"] == "accepted"  # the API's producer reached the broker
        # Then the runtime's mapping consumes it and the projector counts it
        counted = wait_for(
            lambda: runtime.request("GET", f"/ratings?talkId={TALK}").json["ratings"]["4"] == 1
        )
        assert counted, runtime.log.read_text() if runtime.log else ""
        assert runtime.request("GET", "/").json["metadata"]["streams"] == streams
    finally:
        stop_runtime(runtime)


def test_no_piece_of_a_password_in_the_stream_setting_is_said_by_the_runtime(
    tmp_path: Path,
) -> None:
    # Given a runtime whose STREAMS_CONNECTION holds a user and password, at a closed port
    port = free_port()
    streams = f"SASL_SSL://{USER}:{PASSWORD}@127.0.0.1:{port}"
    log = tmp_path / "runtime.log"
    runtime, _ = start_admin_runtime(STREAMS_SETTING_TALKS, streams_setting_ratings(), streams, log)
    try:
        # When GET / asks after the stream
        root = runtime.request("GET", "/")
        assert root.status == 200
        assert root.json["backends"]["streams"] == "down"
    finally:
        stop_runtime(runtime)
    said = log.read_text()
    # Then the runtime names the stream without them, says why its mapping is not run
    assert f"streams  SASL_SSL://127.0.0.1:{port} " in said, said
    assert "(not run: STREAMS_CONNECTION (the Kafka bootstrap servers) holds an '@'" in said, said
    # And no piece of the password, nor the user, is in anything it said
    leaked = sorted(piece for piece in pieces(PASSWORD) if piece in said)
    assert not leaked, (leaked, said)
    assert USER not in said, said
