"""What the local runtime says of a PostgreSQL it cannot prepare: never a piece of the password."""

from __future__ import annotations

import pytest

from talkrate_local.stack import TalkrateStack

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    "dsn",
    [
        # A keyword DSN whose password holds an unquoted space: libpq quotes what follows it
        "host=127.0.0.1 port=1 user=app password=zK9 wJ4q7 dbname=talkrate connect_timeout=2",
        # A URL whose query password holds an unencoded '&': the rest reads as a setting
        "postgresql://app@127.0.0.1:1/talkrate?password=zK9&wJ4q7=1&connect_timeout=2",
    ],
)
def test_a_database_the_runtime_cannot_prepare_is_named_without_its_password(
    dsn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # When the runtime cannot prepare a database given with a password libpq reads in pieces
    TalkrateStack._prepare_database(dsn)
    said = capsys.readouterr().err
    # Then it says so, and why, and no piece of the password (libpq quotes the piece it
    # could not read)
    assert "could not prepare" in said
    assert "invalid" in said
    for piece in ("zK9", "wJ4q7"):
        assert piece not in said, said
