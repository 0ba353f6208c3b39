"""Votes you can trust, through the local runtime: a forged voterId cannot change an attendee's
vote, a voter over the limit gets 429s and only the 202s count, a closed window answers 409."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis

from talkrate_local.launcher import launch
from tests.backends import VOTES_RATINGS, VOTES_TALKS
from tests.builders import ROOT, unique_talk_id
from tests.e2e.conftest import (
    Answer,
    Runtime,
    assert_problem,
    start_admin_runtime,
    start_runtime,
    stop_runtime,
    wait_for,
)

pytestmark = pytest.mark.e2e

PER_VOTER = 10  # ratings a voter token may send a minute in this runtime


@dataclass
class Votes:
    runtime: Runtime
    token: str

    def add_talk(self, **fields: Any) -> str:
        talk_id = unique_talk_id("votes")
        body = json.dumps({"title": "A talk of the votes tests", **fields})
        answer = self.runtime.request(
            "PUT", f"/talks/{talk_id}", body, {"Authorization": f"Bearer {self.token}"}
        )
        assert answer.status == 201, answer.body
        return talk_id

    def voter(self) -> str:
        answer = self.runtime.request("POST", "/voters")
        assert answer.status == 201, answer.body
        token: str = answer.json["voterToken"]
        return token

    def rate(self, talk_id: str, value: int, token: str | None = None, **extra: Any) -> Answer:
        headers = {"Voter-Token": token} if token else {}
        body = json.dumps({"talkId": talk_id, "value": value, **extra})
        return self.runtime.request("POST", "/ratings", body, headers)

    def histogram(self, talk_id: str) -> dict[str, int]:
        answer = self.runtime.request("GET", f"/ratings?talkId={talk_id}")
        assert answer.status == 200, answer.body
        ratings: dict[str, int] = answer.json["ratings"]
        return ratings

    def projected(self, answer: Answer) -> bool:
        event_id = answer.json["eventId"]
        status = self.runtime.request("GET", f"/ratings/{event_id}")
        return status.status == 200 and status.json["status"] == "projected"


@pytest.fixture(scope="module")
def votes(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Votes]:
    runtime, token = start_admin_runtime(
        VOTES_TALKS,
        VOTES_RATINGS,
        kafka_bootstrap,
        tmp_path_factory.mktemp("votes") / "runtime.log",
        ["--param", f"RatingsPerVoterPerMinute={PER_VOTER}"],
    )
    yield Votes(runtime, token)
    stop_runtime(runtime)


def histogram_of(*values: int) -> dict[str, int]:
    counts = {str(v): 0 for v in range(1, 6)}
    for value in values:
        counts[str(value)] += 1
    return counts


def test_a_forged_voter_id_cannot_change_an_attendee_s_vote(votes: Votes) -> None:
    # Given an attendee who rated a talk 5 with their voter token
    talk_id = votes.add_talk()
    attendee = votes.voter()
    rated = votes.rate(talk_id, 5, attendee)
    assert rated.status == 202, rated.body
    assert wait_for(lambda: votes.projected(rated))
    voter_id = attendee.split(".")[1]
    # When someone else names that attendee in the body, the workshop's way
    by_body = votes.rate(talk_id, 1, voterId=voter_id)
    # Then it is refused, pointing at voter tokens
    assert_problem(by_body, 422)
    assert "Voter-Token" in by_body.json["errors"][0]["message"]
    # When they forge a token for the attendee's voter id (their own token's signature)
    _, _, expires, signature = votes.voter().split(".")
    forged = votes.rate(talk_id, 1, f"v1.{voter_id}.{expires}.{signature}")
    # Then it is refused as well
    assert_problem(forged, 401)
    assert forged.json["type"] == "urn:talkrate:problem:invalid-voter-token"
    # And the attendee's 5 still stands, alone, while the attendee can still change it
    assert votes.histogram(talk_id) == histogram_of(5)
    changed = votes.rate(talk_id, 3, attendee)
    assert changed.status == 202
    assert wait_for(lambda: votes.projected(changed))
    assert votes.histogram(talk_id) == histogram_of(3)


def test_fifty_rapid_posts_from_one_token_get_429s_and_only_the_202s_count(
    votes: Votes,
) -> None:
    # Given an attendee and fifty talks (a voter's rating of a talk counts once, so each POST
    # goes to a talk of its own: every 202 is one more rating in the histograms)
    talks = [votes.add_talk() for _ in range(50)]
    attendee = votes.voter()
    # When they post fifty ratings as fast as they can
    answers = [votes.rate(talk_id, n % 5 + 1, attendee) for n, talk_id in enumerate(talks)]
    # Then the first PER_VOTER are taken and the rest refused with a Retry-After
    statuses = [a.status for a in answers]
    assert statuses == [202] * PER_VOTER + [429] * (50 - PER_VOTER), statuses
    for refused in answers[PER_VOTER:]:
        assert_problem(refused, 429)
        assert 1 <= int(refused.headers["retry-after"]) <= 60
    # And once projected, the histograms count exactly the 202s
    accepted = [a for a in answers if a.status == 202]
    assert wait_for(lambda: all(votes.projected(a) for a in accepted), 30)
    counted = {t: sum(votes.histogram(t).values()) for t in talks}
    assert sum(counted.values()) == len(accepted)
    assert [counted[t] for t in talks] == [1] * PER_VOTER + [0] * (50 - PER_VOTER)


def test_a_talk_whose_window_closed_answers_409_naming_it(votes: Votes) -> None:
    now = datetime.now(UTC)

    def at(moment: datetime) -> str:
        return moment.isoformat(timespec="seconds").replace("+00:00", "Z")

    # Given a talk that ended two days ago (grace: 24 h), one that starts tomorrow, one untimed
    ended = votes.add_talk(
        startsAt=at(now - timedelta(days=2)),
        endsAt=at(now - timedelta(days=2) + timedelta(minutes=45)),
    )
    later = votes.add_talk(
        startsAt=at(now + timedelta(days=1)), endsAt=at(now + timedelta(days=1, hours=1))
    )
    untimed = votes.add_talk()
    # When each is rated
    closed, early, open_ = votes.rate(ended, 4), votes.rate(later, 4), votes.rate(untimed, 4)
    # Then the ended and the future talk are 409, naming their window; the untimed takes it
    for answer in (closed, early):
        assert_problem(answer, 409)
        assert answer.json["type"] == "urn:talkrate:problem:rating-window-closed"
        # one title for both (a talk not started yet was called "closed")
        assert answer.json["title"] == "Outside the rating window"
    assert closed.json["closesAt"].startswith(
        at(now - timedelta(days=1) + timedelta(minutes=45))[:16]
    )
    assert early.json["opensAt"].startswith(at(now + timedelta(days=1))[:16])
    assert open_.status == 202
    # When the organiser moves the ended talk to now, it takes ratings at once
    moved = votes.runtime.request(
        "PUT",
        f"/talks/{ended}",
        json.dumps(
            {
                "title": "Moved",
                "startsAt": at(now - timedelta(minutes=5)),
                "endsAt": at(now + timedelta(minutes=40)),
            }
        ),
        {"Authorization": f"Bearer {votes.token}"},
    )
    assert moved.status == 200, moved.body
    assert votes.rate(ended, 4).status == 202


def test_make_run_prints_an_organiser_token_made_once_that_opens_the_admin_routes(
    backends_env: dict[str, str], tmp_path: Path
) -> None:
    # Given a newcomer's runtime: no ADMIN_TOKEN, a data folder of its own
    env = {k: v for k, v in os.environ.items() if k != "ADMIN_TOKEN"} | backends_env
    data = tmp_path / "data"

    def start_and_read_token(log: Path) -> str:
        launched = launch(
            ROOT / "template.yaml", env, log, ["--data-dir", str(data)], inherit_env=False
        )
        runtime = Runtime(launched.url, launched.lambda_url, launched.process, launched.log)
        try:
            lines = [
                line
                for line in log.read_text().splitlines()
                if line.startswith("organiser token: ")
            ]
            # Then it says the organiser token on a line of its own
            assert len(lines) == 1, log.read_text()[-2000:]
            token = lines[0].removeprefix("organiser token: ")
            # And the token opens the organisers' routes
            talk_id = unique_talk_id("organiser")
            body = json.dumps({"title": "Made with the printed token"})
            wrong = runtime.request("PUT", f"/talks/{talk_id}", body, {"Authorization": "Bearer x"})
            assert_problem(wrong, 403)
            made = runtime.request(
                "PUT", f"/talks/{talk_id}", body, {"Authorization": f"Bearer {token}"}
            )
            assert made.status == 201, made.body
            removed = runtime.request(
                "DELETE", f"/talks/{talk_id}", headers={"Authorization": f"Bearer {token}"}
            )
            assert removed.status == 204
            return token
        finally:
            stop_runtime(runtime)

    first = start_and_read_token(tmp_path / "first.log")
    # And it is made once: the next start prints the same, kept in the data folder (owner only)
    assert start_and_read_token(tmp_path / "second.log") == first
    kept = data / "organiser-token"
    assert kept.read_text().strip() == first
    assert kept.stat().st_mode & 0o077 == 0


def test_the_template_s_event_code_guards_post_voters_locally_too(
    backends_env: dict[str, str], tmp_path: Path
) -> None:
    # Given a runtime started with the template's event code, as the README says to set one
    code = "devconf 2026"
    runtime = start_runtime(
        backends_env, tmp_path / "runtime.log", ["--param", f"VoterCode={code}"]
    )
    try:
        # When an attendee asks for a voter token without the code, or with a wrong one
        without = runtime.request("POST", "/voters", "{}")
        wrong = runtime.request("POST", "/voters", json.dumps({"code": "guess"}))
        # Then both are refused with 403, as on AWS
        assert_problem(without, 403)
        assert_problem(wrong, 403)
        # And with the code they get a token
        right = runtime.request("POST", "/voters", json.dumps({"code": code}))
        assert right.status == 201, right.body
        assert right.json["voterToken"]
    finally:
        stop_runtime(runtime)


def forget_voter(voter_id: str) -> None:
    """`talkrate ops forget-voter VOTER_ID` on the votes runtime's backends, as an operator runs
    it (a process of its own)."""
    env = {**os.environ, "TALKS_CONNECTION": VOTES_TALKS, "RATINGS_CONNECTION": VOTES_RATINGS}
    done = subprocess.run(
        [sys.executable, "-m", "talkrate_cli", "--json", "ops", "forget-voter", voter_id],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def test_a_forgotten_voter_s_pass_counts_nothing_after_redis_lost_its_data(votes: Votes) -> None:
    # Given an attendee who rated a talk 5 beside another's 3, and was then forgotten
    talk_id = votes.add_talk()
    attendee, other = votes.voter(), votes.voter()
    rated = [votes.rate(talk_id, 5, attendee), votes.rate(talk_id, 3, other)]
    assert all(answer.status == 202 for answer in rated)
    assert wait_for(lambda: all(votes.projected(answer) for answer in rated))
    forget_voter(attendee.split(".")[1])
    assert votes.rate(talk_id, 1, attendee).status == 401
    # When Redis loses its data (the forgotten voter's mark with the read model), and the
    # attendee rates the talk again and asks for their pass renewed
    redis.Redis.from_url(VOTES_RATINGS).flushdb()
    again = votes.rate(talk_id, 1, attendee)
    renewal = votes.runtime.request("POST", "/voters", None, {"Voter-Token": attendee})
    # Then the rating is refused as a forgotten voter's, and the pass renews nothing
    assert_problem(again, 401)
    assert again.json["type"] == "urn:talkrate:problem:forgotten-voter"
    assert renewal.status == 201, renewal.body
    assert renewal.json["renewed"] is False
    # And once the read model is rebuilt and a later rating of another voter is counted, the
    # talk counts the two ratings of before and that one, not the forgotten voter's
    later = votes.rate(talk_id, 4, votes.voter())
    assert later.status == 202, later.body
    assert wait_for(lambda: votes.projected(later), seconds=60)
    assert votes.histogram(talk_id) == histogram_of(3, 4, 5)
