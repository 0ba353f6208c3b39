"""A TALKS_CONNECTION libpq cannot read, neither a URL (its "://" lost) nor keyword=value
settings, met by the API: refused naming the forms libpq reads, never quoting the string (the
schema step's reason: test_database_schema.py).

libpq quotes such a string whole ('invalid dsn: missing "=" after "postgresql//talkrate:
S3cretPw@db.example:5432/talkrate"'), and no password was found in it to take out: the schema
step sent it to CloudFormation's stack events as its reason, and the API logged it at WARNING
with every request.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import pytest

from tests.unit.test_connection_strings import UNREADABLE

pytestmark = pytest.mark.integration

Call = Callable[..., dict[str, Any]]
# What the refusal names: the two forms libpq reads
FORMS = ("postgresql://user:password@host:5432/database", "host=")


def told_nothing_of(dsn: str, told: str) -> None:
    """No piece of the string is in what was told: not the password, not the string, not its
    user and host as the string has them."""
    assert "S3cret" not in told, told
    assert dsn not in told, told
    assert "@db" not in told, told


@pytest.mark.parametrize("dsn", UNREADABLE)
def test_the_api_answers_503_and_logs_the_forms_never_the_string(
    api: Call,
    configure: Callable[..., None],
    talk: str,
    dsn: str,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given TALKS_CONNECTION as one of those
    configure(TALKS_CONNECTION=dsn, PUBLISH_TIMEOUT_SECONDS="1")
    caplog.clear()
    capsys.readouterr()
    # When attendees read a talk's ratings and GET / is asked where the backends are
    read = api("GET", "/ratings", query={"talkId": talk})
    root = api("GET", "/")
    # Then the read is 503 as with the database away, and GET / says it is down
    assert read["statusCode"] == 503, read["body"]
    assert root["json"]["backends"]["talks"] == "down"
    # And the log's warning names the forms libpq reads
    warned = [r for r in caplog.records if r.getMessage() == "backend unavailable"]
    assert warned
    assert all(r.exc_info and all(f in str(r.exc_info[1]) for f in FORMS) for r in warned), [
        str(r.exc_info[1]) for r in warned if r.exc_info
    ]
    # And nothing of the string is in an answer, a log line or its stack trace
    printed = capsys.readouterr()
    told = f"{json.dumps([read, root], default=str)}\n{caplog.text}\n{printed.out}\n{printed.err}"
    told_nothing_of(dsn, told)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
