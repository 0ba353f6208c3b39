"""`talkrate rate`'s voter pass against a stand-in API on loopback whose POST /voters answers as
a busy service, or as one without passes: under open voting a rating goes without a pass only
when the service hands out none."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from talkrate_cli import client, voting
from talkrate_cli.client import Api
from talkrate_cli.errors import CliError
from talkrate_cli.settings import VoterTokens
from tests.loopback import LoopbackServer, StandInHandler

pytestmark = pytest.mark.unit

PASS = {
    "voterToken": "pass-1",
    "expiresAt": "2031-01-01T00:00:00Z",
    "renewAfter": "2030-12-01T00:00:00Z",
}


class OpenVotingApi(LoopbackServer):
    """Open voting: POST /voters answers each of `passes` in turn (a status and its Retry-After,
    201 a pass), the last one for good; POST /ratings takes every rating, noting its pass."""

    def __init__(
        self, passes: list[tuple[int, str | None]], updating_keys_for: float = 0.0
    ) -> None:
        self.asked = 0  # passes asked for
        self.rated: list[str | None] = []  # the pass each rating went with
        # For this long after a first rating, each is answered as by an API that cannot check
        # its pass until it may read its voter-token keys again (429, Retry-After).
        self.updating_until: float | None = None
        api = self

        class Handler(StandInHandler):
            def do_GET(self) -> None:
                self.answer(200, {"votingPolicy": "open"})

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["Content-Length"]))
                if self.path == "/ratings":
                    api.rated.append(self.headers.get("Voter-Token"))
                    now = time.monotonic()
                    if api.updating_until is None:
                        api.updating_until = now + updating_keys_for
                    if now < api.updating_until:
                        wait = str(max(1, round(api.updating_until - now)))
                        problem = {
                            "type": "urn:talkrate:problem:voter-keys-updating",
                            "title": "Keys being updated",
                            "status": 429,
                        }
                        self.answer(429, problem, {"Retry-After": wait})
                        return
                    self.answer(202, {"eventId": "e1", "status": "accepted"})
                    return
                status, wait = passes[min(api.asked, len(passes) - 1)]
                api.asked += 1
                if status == 201:
                    self.answer(201, PASS)
                    return
                slug = {404: "not-found", 429: "rate-limited", 503: "unavailable"}[status]
                problem = {"type": f"urn:talkrate:problem:{slug}", "title": slug, "status": status}
                self.answer(status, problem, None if wait is None else {"Retry-After": wait})

        super().__init__(Handler)


@pytest.fixture
def served() -> Iterator[list[OpenVotingApi]]:
    made: list[OpenVotingApi] = []
    yield made
    for api in made:
        api.close()


def test_a_busy_service_s_pass_is_waited_for_and_the_rating_goes_with_it(
    served: list[OpenVotingApi], tmp_path: Path
) -> None:
    # Given an open-voting service busy for its first POST /voters (503, Retry-After 1)
    busy = OpenVotingApi([(503, "1"), (201, None)])
    served.append(busy)
    tokens = VoterTokens(tmp_path)
    # When an attendee rates
    voting.rate(Api(busy.url), tokens, "t1", 4)
    # Then the pass was asked for again after the wait, the rating went with it, and it is kept
    assert busy.asked == 2
    assert busy.rated == ["pass-1"]
    assert tokens.get(busy.url) == "pass-1"


def test_a_pass_not_to_be_had_soon_rates_nothing_and_says_when(
    served: list[OpenVotingApi], tmp_path: Path
) -> None:
    # Given an open-voting service that has no pass for a minute (too many asked for from
    # this network), and one busy for as long
    limited = OpenVotingApi([(429, "42")])
    busy = OpenVotingApi([(503, "60")])
    served += [limited, busy]
    # When an attendee rates on each
    with pytest.raises(CliError) as refused:
        voting.rate(Api(limited.url), VoterTokens(tmp_path), "t1", 4)
    with pytest.raises(CliError) as unavailable:
        voting.rate(Api(busy.url), VoterTokens(tmp_path), "t1", 4)
    # Then nothing is rated (no rating without a pass), and each says when to try again: the
    # limit in `simulate`'s words, naming it, that nothing was sent and what to do (it said
    # "no voter pass now (too many asked for from this network)", naming no limit)
    assert limited.rated == busy.rated == []
    assert str(refused.value) == (
        "the voter pass got 429: over the API's limit of voter passes from one address a "
        "minute (VotersPerAddressPerMinute), which a wrong event code counts against too: "
        "nothing was sent. The passes from this address are back in 42 s; rate again then, "
        "and check --code; against a local runtime, lift it: make run RUN_ARGS='--param "
        "VotersPerAddressPerMinute=0'"
    )
    assert str(unavailable.value) == (
        "not rated: no voter pass now (unavailable, 503): try again in 60 s"
    )


def test_a_service_that_hands_out_no_passes_takes_the_rating_without_one(
    served: list[OpenVotingApi], tmp_path: Path
) -> None:
    # Given an open-voting service without POST /voters (404)
    passless = OpenVotingApi([(404, None)])
    served.append(passless)
    # When an attendee rates, Then the rating goes without a pass, as open voting takes it
    accepted = voting.rate(Api(passless.url), VoterTokens(tmp_path), "t1", 4)
    assert accepted["status"] == "accepted"
    assert passless.rated == [None]


def test_a_pass_the_service_cannot_check_while_it_updates_its_keys_is_kept_and_sent_again(
    served: list[OpenVotingApi],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given an attendee's kept pass, and a service that cannot check it for the next second
    # (429, Retry-After 1: it read its keys just before they changed), whose "later" pauses
    # are shorter than that
    monkeypatch.setattr(client, "RATE_RETRY_SECONDS", (0.01, 0.01, 0.01))
    updating = OpenVotingApi([(201, None)], updating_keys_for=1.0)
    served.append(updating)
    tokens = VoterTokens(tmp_path)
    tokens.put(updating.url, PASS)
    # When they rate
    accepted = voting.rate(Api(updating.url), tokens, "t1", 4)
    # Then the rating went again with the same pass once the wait had passed, and counted
    assert accepted["status"] == "accepted"
    assert len(updating.rated) >= 2
    assert set(updating.rated) == {"pass-1"}
    # And the pass was not dropped for a new one (a new voter): none was asked for, it is kept
    assert updating.asked == 0
    assert tokens.get(updating.url) == "pass-1"
    assert "the service is updating its keys" in capsys.readouterr().err


def test_a_service_updating_its_keys_longer_than_the_command_waits_keeps_the_pass(
    served: list[OpenVotingApi], tmp_path: Path
) -> None:
    # Given a kept pass, and a service that asks to wait longer than the command waits
    updating = OpenVotingApi([(201, None)], updating_keys_for=45.0)
    served.append(updating)
    tokens = VoterTokens(tmp_path)
    tokens.put(updating.url, PASS)
    # When they rate, Then nothing is rated and the command says when to try again
    with pytest.raises(voting.CliError) as said:
        voting.rate(Api(updating.url), tokens, "t1", 4)
    assert str(said.value) == (
        "not rated: the service is updating its keys and could not check your voter pass yet "
        "(it is kept): try again in 45 s"
    )
    # And the pass is kept for that try, no new one asked for
    assert updating.rated == ["pass-1"]
    assert updating.asked == 0
    assert tokens.get(updating.url) == "pass-1"


class EventCodeApi(LoopbackServer):
    """Attendee voting behind an event code, as the API answers a kept pass it cannot renew any
    more: POST /voters with it is a request for a new pass (403 without the code; with it 201,
    a new voter's pass, `"renewed": false`); POST /ratings refuses the old pass (401)."""

    def __init__(self, code: str) -> None:
        self.asked: list[dict[str, object]] = []  # each POST /voters: its body and its pass
        self.rated: list[str | None] = []
        api = self

        class Handler(StandInHandler):
            def do_GET(self) -> None:
                self.answer(200, {"votingPolicy": "attendee"})

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])) or "{}")
                token = self.headers.get("Voter-Token")
                if self.path == "/ratings":
                    api.rated.append(token)
                    if token != NEW_PASS["voterToken"]:
                        self.answer(401, {"type": "urn:talkrate:problem:invalid-voter-token"})
                        return
                    self.answer(202, {"eventId": "e1", "status": "accepted"})
                    return
                api.asked.append({"body": body, "token": token})
                if body.get("code") != code:
                    self.answer(403, {"type": "urn:talkrate:problem:wrong-voter-code"})
                    return
                self.answer(201, NEW_PASS)

        super().__init__(Handler)


OLD_PASS = {
    "voterToken": "v1.aaaa.1.sig",
    "expiresAt": "2031-01-01T00:00:00Z",
    "renewAfter": "2020-01-01T00:00:00Z",  # due
}
NEW_PASS = {**PASS, "voterToken": "v1.bbbb.2.sig", "renewed": False}


@pytest.fixture
def code_api() -> Iterator[EventCodeApi]:
    api = EventCodeApi("hall-a-2026")
    yield api
    api.close()


def test_a_kept_pass_the_api_cannot_renew_is_replaced_by_its_answer_with_the_event_code(
    code_api: EventCodeApi, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a kept pass, due for renewal, that the API can no longer renew, at an event with a code
    api = code_api
    tokens = VoterTokens(tmp_path)
    tokens.put(api.url, OLD_PASS)
    # When the attendee rates, giving the code
    voting.rate(Api(api.url), tokens, "t1", 4, code="hall-a-2026")
    # Then the one POST /voters (the renewal, with the code) gave the new voter's pass, which
    # the rating went with and which is kept; the old pass rated nothing
    assert api.asked == [{"body": {"code": "hall-a-2026"}, "token": OLD_PASS["voterToken"]}]
    assert api.rated == [NEW_PASS["voterToken"]]
    assert tokens.get(api.url) == NEW_PASS["voterToken"]
    # And the attendee is told the rating counts beside their earlier ones
    assert "counts beside your earlier ones" in capsys.readouterr().err
