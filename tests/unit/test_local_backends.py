"""How the local runtime chooses each backend: configured, found on its default port, embedded."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from sam_emulator.template import load_template
from talkrate_local.backends import DEFAULT_RATINGS, DEFAULT_TALKS, Backends, Choice, choose
from talkrate_local.data_lock import DataDirInUse, DataDirLock
from talkrate_local.stack import LocalConfig, TalkrateStack, _for_operations
from tests.builders import ROOT

pytestmark = pytest.mark.unit


def probe_answering(*ports: int) -> object:
    return lambda host, port: host == "127.0.0.1" and port in ports


def test_configuration_wins_over_anything_listening() -> None:
    choices = choose(
        {"TALKS_CONNECTION": "postgresql://db.example/talks", "STREAMS_CONNECTION": "k:9092"},
        probe=probe_answering(5432, 6379, 9092),
    )
    assert choices["talks"].origin == "configured"
    assert choices["talks"].connection == "postgresql://db.example/talks"
    assert choices["talks"].reason == "from TALKS_CONNECTION"
    assert choices["streams"].connection == "k:9092"
    assert choices["ratings"].origin == "found"


def test_services_on_the_default_ports_are_used_as_they_are() -> None:
    choices = choose({}, probe=probe_answering(5432, 6379))
    assert (choices["talks"].origin, choices["talks"].connection) == ("found", DEFAULT_TALKS)
    assert (choices["ratings"].origin, choices["ratings"].connection) == ("found", DEFAULT_RATINGS)
    assert choices["streams"].origin == "embedded"
    assert "127.0.0.1:5432" in choices["talks"].reason


def test_a_bare_machine_gets_embedded_services() -> None:
    choices = choose({}, probe=probe_answering())
    assert {choice.origin for choice in choices.values()} == {"embedded"}
    assert all(choice.connection == "" for choice in choices.values())  # known once started


def test_forcing_embedded_services_ignores_the_default_ports_but_not_configuration() -> None:
    choices = choose(
        {"RATINGS_CONNECTION": "redis://cache:6379/2"},
        force_embedded=True,
        probe=probe_answering(5432, 6379, 9092),
    )
    assert choices["talks"].origin == "embedded"
    assert choices["ratings"].origin == "configured"
    assert choices["streams"].origin == "embedded"


def test_the_broker_can_be_kept_in_memory() -> None:
    choices = choose({}, memory_broker=True, probe=probe_answering())
    assert choices["streams"].origin == "memory"
    assert choices["talks"].origin == "embedded"


def test_blank_configuration_counts_as_none() -> None:
    choices = choose({"TALKS_CONNECTION": ""}, probe=probe_answering())
    assert choices["talks"].origin == "embedded"


def test_local_config_reads_the_runtime_switches() -> None:
    config = LocalConfig.from_environ(
        {
            "TALKRATE_LOCAL_EMBEDDED": "1",
            "TALKRATE_LOCAL_BROKER": "memory",
            "TALKRATE_LOCAL_DATA": "somewhere/talkrate-data",
            "STREAMS_CONNECTION": "k:9092",
        }
    )
    assert config.embedded
    assert config.memory_broker
    assert config.data_dir == Path("somewhere/talkrate-data")
    assert config.connections() == {
        "TALKS_CONNECTION": "",
        "RATINGS_CONNECTION": "",
        "STREAMS_CONNECTION": "k:9092",
    }
    assert not LocalConfig.from_environ({}).embedded


def test_the_runtime_says_how_to_point_the_operators_commands_at_its_own_backends(
    tmp_path: Path,
) -> None:

    # Given backends the runtime started (new ports each run), found, and configured
    def backends(**origins: str) -> Backends:
        connections = {
            "talks": "postgresql://postgres@127.0.0.1:41517/talkrate",
            "ratings": "redis://127.0.0.1:39023/0",
            "streams": "127.0.0.1:44321",
        }
        choices = {
            name: Choice(name, origin, connections[name])  # type: ignore[arg-type]
            for name, origin in origins.items()
        }
        return Backends(choices, tmp_path)

    # Then embedded ones are named for `talkrate ops`, with the user the database needs
    [line] = _for_operations(backends(talks="embedded", ratings="embedded", streams="memory"))
    assert line == (
        "for `talkrate ops` in another terminal: export "
        "TALKS_CONNECTION=postgresql://postgres@127.0.0.1:41517/talkrate "
        "RATINGS_CONNECTION=redis://127.0.0.1:39023/0 STREAMS_CONNECTION=127.0.0.1:44321"
    )
    # And a configured one is left to the person's own environment (it may hold a password)
    [line] = _for_operations(backends(talks="configured", ratings="embedded", streams="found"))
    assert "TALKS_CONNECTION" not in line
    assert "RATINGS_CONNECTION=redis://127.0.0.1:39023/0" in line
    # And with every backend on its usual port, ops finds them by itself: no line
    assert _for_operations(backends(talks="found", ratings="found", streams="found")) == ()


def test_a_runtime_refused_its_data_folder_writes_and_announces_nothing_there(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a data folder another runtime holds
    holder = DataDirLock(tmp_path)
    holder.acquire()
    config = replace(LocalConfig.from_environ({}), embedded=True, data_dir=tmp_path)
    stack = TalkrateStack(config, environ={})
    try:
        # When a runtime on embedded services is started on it
        with pytest.raises(DataDirInUse):
            stack.start(load_template(ROOT / "template.yaml"), "http://127.0.0.1:1")
    finally:
        holder.release()
    # Then it leaves no organiser token or voter key of its own in the other runtime's folder
    # (a token there the running runtime does not take would be read by `talkrate admin`)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["runtime.lock"]
    # And it does not say it is starting services it never starts
    assert "starting it" not in capsys.readouterr().err
