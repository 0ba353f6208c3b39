"""A RATINGS_CONNECTION redis-py cannot read as written (a password's unencoded #, / or ?), met
by the API, the projector, `talkrate ops` and the local runtime: said as Redis away, naming the
setting, never a 500, never a piece of the password in an answer, a log line or the command's
output.

urllib ends the host at the password's #, / or ?, so redis-py read its first characters as the
port: "Port could not be cast to integer value as 'Qx7zK9'", logged with its stack trace, and a
500 to POST /ratings, GET /ratings and POST /voters. When they are digits it connected to
localhost at them instead, and named that port in every error.
"""

from __future__ import annotations

import json
import logging
import re
import traceback
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pytest

from talkrate.errors import BackendUnavailable
from talkrate_cli.main import main
from talkrate_local.stack import TalkrateStack
from tests.builders import (
    LambdaContextStub,
    kafka_event,
    load_function,
    rating_event,
    ratings_batch,
)

pytestmark = pytest.mark.integration

Call = Callable[..., dict[str, Any]]

PASSWORDS = ["Qx7zK9#wJ4vB2", "Qx7zK9/wJ4vB2", "Qx7zK9?wJ4vB2", "40719#wJ4vB2"]
SAID = "RATINGS_CONNECTION is not a valid Redis URL"


@pytest.fixture(params=PASSWORDS)
def password(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def written(password: str, redis_url: str) -> str:
    """The test Redis's URL with the password in it as written, not percent-encoded."""
    parts = urlsplit(redis_url)
    return f"redis://:{password}@{parts.hostname}:{parts.port}{parts.path}"


def leaked(password: str, told: str) -> list[str]:
    """The pieces of the password in what was told: every three characters holding a letter
    (three digits are in any timestamp), and its first digits whole (what was read as a port)."""
    pieces = {password[i : i + 3] for i in range(len(password) - 2)}
    pieces = {piece for piece in pieces if re.search(r"[A-Za-z]", piece)}
    digits = re.match(r"\d+", password)
    if digits:
        pieces.add(digits.group())
    return sorted(piece for piece in pieces if piece in told)


def test_the_api_answers_503_and_reads_from_the_event_store_never_a_piece_of_the_password(
    api: Call,
    configure: Callable[..., None],
    talk: str,
    written: str,
    password: str,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given RATINGS_CONNECTION with a password whose #, / or ? is not percent-encoded
    configure(RATINGS_CONNECTION=written)
    caplog.clear()
    capsys.readouterr()
    # When attendees rate, read and ask for a pass, and GET / is asked where the backends are
    rated = api("POST", "/ratings", body=json.dumps({"talkId": talk, "value": 4}))
    read = api("GET", "/ratings", query={"talkId": talk})
    voter = api("POST", "/voters")
    root = api("GET", "/")
    # Then a rating and a pass are 503 with Retry-After in the problem shape, as with Redis away
    for answer in (rated, voter):
        assert answer["statusCode"] == 503, answer["body"]
        assert answer["headers"]["Content-Type"] == "application/problem+json"
        assert answer["json"]["type"] == "urn:talkrate:problem:unavailable"
        assert int(answer["headers"]["Retry-After"]) > 0
    # and the histogram still comes, from the event store; GET / says Redis is down
    assert read["statusCode"] == 200, read["body"]
    assert read["json"]["source"] == "event-store"
    assert root["json"]["backends"]["ratings"] == "down"
    # And the log says which setting is wrong, at WARNING, without an unexpected error
    warned = [r for r in caplog.records if r.getMessage() == "backend unavailable"]
    assert warned
    assert all(r.exc_info and SAID in str(r.exc_info[1]) for r in warned)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    # And no piece of the password is in an answer, a log line or its stack trace
    answers = json.dumps([rated, read, voter, root], default=str)
    printed = capsys.readouterr()
    told = f"{answers}\n{caplog.text}\n{printed.out}\n{printed.err}"
    assert not leaked(password, told), told


def test_the_projector_s_batch_fails_naming_the_setting_never_a_piece_of_the_password(
    configure: Callable[..., None],
    talk: str,
    topic: str,
    written: str,
    password: str,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given RATINGS_CONNECTION with a password whose #, / or ? is not percent-encoded
    configure(RATINGS_CONNECTION=written)
    caplog.clear()
    capsys.readouterr()
    # When the projector is given a batch
    projector = load_function("projector")
    with pytest.raises(BackendUnavailable) as raised:
        projector(
            kafka_event(ratings_batch(topic, 0, 0, [rating_event(talk, 5)])),
            LambdaContextStub("projector"),
        )
    # Then the batch fails (it is retried) saying which setting is wrong, and what Lambda logs
    # of the error (its message and stack trace, the chain included) holds no piece of it
    error = "".join(traceback.format_exception(raised.value))
    assert SAID in error
    printed = capsys.readouterr()
    told = f"{error}\n{caplog.text}\n{printed.out}\n{printed.err}"
    assert not leaked(password, told), told


def test_ops_rebuild_says_one_line_naming_the_setting_never_a_piece_of_the_password(
    configure: Callable[..., None],
    written: str,
    password: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given RATINGS_CONNECTION with a password whose #, / or ? is not percent-encoded
    configure(RATINGS_CONNECTION=written)
    capsys.readouterr()
    # When the operator rebuilds the read model
    status = main(["ops", "rebuild"])
    printed = capsys.readouterr()
    told = printed.out + printed.err
    # Then it fails in one line saying which setting is wrong and how to write it
    assert status == 1
    assert SAID in printed.err, told
    assert "percent-encoded" in printed.err
    assert "unexpected" not in told
    assert not leaked(password, told), told


def test_the_local_runtime_says_one_line_naming_the_setting_never_a_piece_of_the_password(
    talks_dsn: str, written: str, password: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # When the runtime, starting, builds a read model named with such a URL
    TalkrateStack._build_read_model_if_missing(talks_dsn, written)
    said = capsys.readouterr().err
    # Then it says it could not, and why, and keeps starting
    assert f"could not build the read model: {SAID}" in said, said
    assert not leaked(password, said), said
