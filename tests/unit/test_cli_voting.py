"""`talkrate rate`'s voter pass against a stand-in API on loopback whose POST /voters answers as
a busy service, or as one without passes: under open voting a rating goes without a pass only
when the service hands out none."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from talkrate_cli import voting
from talkrate_cli.client import Api
from talkrate_cli.errors import CliError
from talkrate_cli.settings import VoterTokens
from tests.loopback import LoopbackServer, StandInHandler

pytestmark = pytest.mark.unit

PASS = {"voterToken": "pass-1", "expiresAt": "2031-01-01T00:00:00Z"}


class OpenVotingApi(LoopbackServer):
    """Open voting: POST /voters answers each of `passes` in turn (a status and its Retry-After,
    201 a pass), the last one for good; POST /ratings takes every rating, noting its pass."""

    def __init__(self, passes: list[tuple[int, str | None]]) -> None:
        self.asked = 0  # passes asked for
        self.rated: list[str | None] = []  # the pass each rating went with
        api = self

        class Handler(StandInHandler):
            def do_GET(self) -> None:
                self.answer(200, {"votingPolicy": "open"})

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["Content-Length"]))
                if self.path == "/ratings":
                    api.rated.append(self.headers.get("Voter-Token"))
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
    # Then nothing is rated (no rating without a pass), and each says when to try again
    assert limited.rated == busy.rated == []
    assert str(refused.value) == (
        "not rated: no voter pass now (too many asked for from this network): try again in 42 s"
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
