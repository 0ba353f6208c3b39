"""The dev stack's secrets: made once into the data folder, the caller's own ones respected."""

from __future__ import annotations

from pathlib import Path

import pytest

from talkrate_local.dev_secrets import dev_secrets, parameter_defaults
from talkrate_local.embedded import ServiceError

pytestmark = pytest.mark.unit


def test_the_organiser_token_and_voter_key_are_made_once_and_kept(tmp_path: Path) -> None:
    first = dev_secrets(tmp_path / "data", {})
    again = dev_secrets(tmp_path / "data", {})
    assert first.organiser_token is not None
    assert len(first.organiser_token) >= 32
    assert again == first
    assert first.environment["ADMIN_TOKEN"] == first.organiser_token
    assert len(first.environment["VOTER_TOKEN_KEY"]) >= 32
    assert first.environment["VOTER_TOKEN_KEY"] != first.organiser_token
    for name in ("organiser-token", "voter-token.key"):
        assert (tmp_path / "data" / name).stat().st_mode & 0o077 == 0


def test_the_caller_s_own_token_and_key_win_and_nothing_is_printed(tmp_path: Path) -> None:
    mine = dev_secrets(tmp_path, {"ADMIN_TOKEN": "mine" * 8, "VOTER_TOKEN_KEY": "my-key"})
    assert mine.organiser_token is None
    assert mine.environment == {}
    assert not any(tmp_path.iterdir())


def test_an_empty_file_is_refused_rather_than_used(tmp_path: Path) -> None:
    (tmp_path / "organiser-token").write_text("")
    with pytest.raises(OSError, match="empty"):
        dev_secrets(tmp_path, {})


def test_voting_is_open_locally_unless_said_otherwise() -> None:
    assert parameter_defaults({}) == {"VotingPolicy": "open"}
    assert parameter_defaults({"VOTING_POLICY": "attendee"}) == {"VotingPolicy": "attendee"}


def test_the_venue_s_time_zone_is_taken_from_the_environment_when_set() -> None:
    assert "EventTimeZone" not in parameter_defaults({"EVENT_TIME_ZONE": ""})
    assert parameter_defaults({"EVENT_TIME_ZONE": "Europe/Berlin"})["EventTimeZone"] == (
        "Europe/Berlin"
    )


def test_a_short_organiser_token_of_the_caller_s_stops_the_start_naming_its_variable(
    tmp_path: Path,
) -> None:
    # Given ADMIN_TOKEN set by hand to fewer than 32 characters
    # When the dev stack makes its secrets
    with pytest.raises(ServiceError) as refused:
        dev_secrets(tmp_path, {"ADMIN_TOKEN": "mine"})
    # Then the start stops, naming the variable and the floor, never the value
    said = str(refused.value)
    assert "ADMIN_TOKEN" in said, said
    assert "32 characters" in said, said
    assert "mine" not in said


def test_a_short_organiser_token_kept_in_the_data_folder_stops_the_start_saying_what_to_do(
    tmp_path: Path,
) -> None:
    # Given a kept organiser token edited by hand to a short one
    (tmp_path / "organiser-token").write_text("short\n")
    with pytest.raises(ServiceError) as refused:
        dev_secrets(tmp_path, {})
    said = str(refused.value)
    assert "organiser-token" in said, said
    assert "32 characters" in said, said
    assert "remove" in said, said
    assert "short" not in said.replace(str(tmp_path), "").replace("shorter", "")
