"""The `talkrate` command end to end: run as a subprocess against a local runtime, its output
read as a person (or a script) would read it.

The runtime has a catalog, a Redis database and a ratings topic of its own, and an organiser
token; the command finds it through TALKRATE_API and TALKRATE_ADMIN_TOKEN, and keeps its voter
tokens in a folder of the test's own.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import boto3
import pytest
import redis
from moto import mock_aws
from rich.cells import cell_len

from talkrate.adapters.limiter import LIMIT_PREFIX
from talkrate.adapters.postgres import PostgresDatabase, PostgresTalkCatalog
from talkrate.adapters.redis_store import RedisReadModel
from talkrate.catalog import remove_talk
from talkrate.projection import StreamRecord, project_batch
from talkrate.values import Talk
from talkrate_cli import output
from talkrate_cli.client import Api
from talkrate_cli.errors import CliError
from talkrate_cli.live import LEADERBOARD_CHANNEL, LiveEndpoint, LiveSubscriber
from talkrate_cli.main import main
from talkrate_local.database import event_store, recreate
from tests.backends import (
    CLI_ATTENDEE_RATINGS,
    CLI_ATTENDEE_TALKS,
    CLI_LIMITS_RATINGS,
    CLI_LIMITS_TALKS,
    CLI_PROXIED_TALKS,
    CLI_RATINGS,
    CLI_RELAY_TALKS,
    CLI_TALKS,
    built,
    cli_proxied_ratings,
    emptied,
    own_redis,
    postgres_dsn,
)
from tests.builders import ROOT, rating_event, unique_talk_id
from tests.e2e.conftest import (
    Answer,
    Runtime,
    start_admin_runtime,
    start_pass_runtime,
    start_runtime,
    stop_runtime,
    wait_for,
)
from tests.loopback import LoopbackServer
from tests.programme_faults import FILE_FAULTS
from tests.terminal import (
    ctrl_c_reaches_children,
    in_a_terminal,
    read_until,
    terminal_shows,
)

pytestmark = pytest.mark.e2e

TALKRATE = str(Path(sys.executable).parent / "talkrate")  # the [project.scripts] entry


@dataclass
class Cli:
    """The command pointed at the module's runtime."""

    runtime: Runtime
    env: dict[str, str]

    @classmethod
    def of(
        cls, runtime: Runtime, config: Path, token: str | None = None, **environment: str
    ) -> Cli:
        """The command pointed at `runtime` (an organiser's, with `token`), keeping its files
        (voter passes) in the folder `config`, with these variables more."""
        env = {**os.environ, "TALKRATE_API": runtime.url, "TALKRATE_CONFIG_DIR": str(config)}
        return cls(runtime, env | ({"TALKRATE_ADMIN_TOKEN": token} if token else {}) | environment)

    def run(
        self, *args: str, timeout: float = 60, stdin: str | None = None, **env: str
    ) -> subprocess.CompletedProcess[str]:
        """Run `talkrate ARGS` (with `stdin` as its input, when given); the finished process,
        with its output as text."""
        return subprocess.run(
            [TALKRATE, *args],
            cwd=ROOT,
            env={**self.env, **env},
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def start(self, *args: str, **env: str) -> subprocess.Popen[str]:
        """Start `talkrate ARGS` with its output on pipes, for a test to read, signal or close."""
        return subprocess.Popen(
            [TALKRATE, *args],
            cwd=ROOT,
            env={**self.env, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def ok(self, *args: str, **env: str) -> str:
        """Run it, expect exit 0, and return its stdout."""
        done = self.run(*args, **env)
        assert done.returncode == 0, done.stderr
        assert "Traceback" not in done.stderr
        return done.stdout

    def json(self, *args: str) -> Any:
        """Run it with --json; the document it printed."""
        return json.loads(self.ok("--json", *args))

    # A test's own set-up, checks of what is stored, polls and clean-up go to the API itself:
    # a start of the command costs a third of a second and more, and proves nothing there.

    def api(self, method: str, path: str, body: Any = None, **headers: str) -> Answer:
        """The runtime's API asked as the organiser, with `body` as JSON."""
        sent = None if body is None else json.dumps(body)
        token = {"Authorization": f"Bearer {self.env['TALKRATE_ADMIN_TOKEN']}"}
        return self.runtime.request(method, path, sent, {**token, **headers})

    def add(self, talk_id: str, title: str, **fields: Any) -> str:
        """A talk added to the programme (POST /talks), as `admin add` adds it."""
        answer = self.api("POST", "/talks", {"id": talk_id, "title": title, **fields})
        assert answer.status == 201, answer.body
        return talk_id

    def remove(self, *talk_ids: str) -> None:
        """Talks removed from the programme (DELETE /talks/ID), those already gone left so."""
        for talk_id in talk_ids:
            answer = self.api("DELETE", f"/talks/{talk_id}")
            assert answer.status in (204, 404), answer.body

    def talk(self, talk_id: str) -> dict[str, Any]:
        """A talk as the API holds it (GET /talks/ID: `--json show`'s "talk")."""
        answer = self.api("GET", f"/talks/{talk_id}")
        assert answer.status == 200, answer.body
        return dict(answer.json)

    def has(self, talk_id: str) -> bool:
        """Whether the programme has the talk."""
        return self.api("GET", f"/talks/{talk_id}").status == 200

    def ratings(self, talk_id: str) -> dict[str, int]:
        """A talk's ratings, value by value (GET /ratings: `--json show`'s "ratings")."""
        answer = self.runtime.request("GET", f"/ratings?{urlencode({'talkId': talk_id})}")
        assert answer.status == 200, answer.body
        return dict(answer.json["ratings"])

    def count(self, talk_id: str) -> int:
        """A talk's number of ratings."""
        return sum(self.ratings(talk_id).values())

    def rate(self, talk_id: str, value: int, **headers: str) -> str:
        """A rating sent to the API (POST /ratings), as an attendee's page sends it; its
        eventId."""
        body = json.dumps({"talkId": talk_id, "value": value})
        answer = self.runtime.request("POST", "/ratings", body, headers)
        assert answer.status == 202, answer.body
        return str(answer.json["eventId"])

    def projected(self, event_id: str) -> bool:
        """Whether a rating is in the read model (GET /ratings/{eventId})."""
        answer = self.runtime.request("GET", f"/ratings/{event_id}")
        assert answer.status == 200, answer.body
        return bool(answer.json["status"] == "projected")


def assert_one_line_error(done: subprocess.CompletedProcess[str], *words: str) -> None:
    """Failed, with one line on stderr naming the problem, and no traceback."""
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("talkrate: ")
    for word in words:
        assert word in lines[0]
    assert "Traceback" not in done.stderr


def cli_on_runtime(
    talks: str,
    ratings: str,
    kafka_bootstrap: str,
    folder: Path,
    params: list[str],
    **environment: str,
) -> Iterator[Cli]:
    """The command against a runtime of its own (its catalog, its read model, these template
    parameters), its config folder in `folder`, with these variables more; stopped after.

    Its projector takes each rating as it comes (a batching window of 0 s, where Lambda's
    default gathers for 500 ms): the tests wait for counts often, and the window is no part of
    what they check."""
    runtime, token = start_admin_runtime(
        talks,
        ratings,
        kafka_bootstrap,
        folder / "runtime.log",
        [*params, "--param", "ProjectorBatchWindowSeconds=0"],
    )
    # (the operator commands' topic is the runtime's own, as the runbook sets the stack's: `ops
    # rebuild` compared, and `ops relay` published into, `ratings`; and so is the projector's
    # consumer group, which `ops relay` and `ops redrive` ask about the topic)
    environment = {
        "RATINGS_TOPIC": runtime.ratings_topic,
        "PROJECTOR_CONSUMER_GROUP": runtime.projector_group,
        **environment,
    }
    yield Cli.of(runtime, folder / "config", token, **environment)
    stop_runtime(runtime)


@pytest.fixture(scope="module")
def cli(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cli]:
    folder = tmp_path_factory.mktemp("cli")
    # The module's simulations ask for hundreds of voter passes a minute from this one address
    # (a whole conference's attendees): the limit is raised, not turned off, so the limiter stays
    # on their path. At the default (300 a minute) a simulation started soon after another waited
    # out 429s on POST /voters for longer than its test waits for its first ratings.
    yield from cli_on_runtime(
        CLI_TALKS,
        CLI_RATINGS,
        kafka_bootstrap,
        folder,
        ["--param", "VotersPerAddressPerMinute=100000"],
        TALKS_CONNECTION=CLI_TALKS,
        RATINGS_CONNECTION=CLI_RATINGS,
        STREAMS_CONNECTION=kafka_bootstrap,
    )


@pytest.fixture
def talk(cli: Cli) -> Iterator[str]:
    """A talk of its own, added (and removed) as `admin add` would."""
    talk_id = unique_talk_id()
    details = {"speakers": ["Ana Lee"], "track": "Terminal", "room": "Hall T"}
    yield cli.add(talk_id, "Rated from a terminal", **details)
    cli.remove(talk_id)


def test_talks_lists_searches_and_filters_the_programme(cli: Cli, talk: str) -> None:
    # When a person lists the programme, by track and by words of a title
    everything = cli.ok("talks")
    by_track = cli.ok("talks", "--track", "Terminal")
    by_words = cli.json("talks", "--search", "Testcontainers")
    # Then the table names the talks with their track and room, and the filters narrow it
    assert "testcontainers-integration-testing" in everything
    assert talk in everything
    assert talk in by_track
    assert "Hall T" in by_track
    assert "testcontainers-integration-testing" not in by_track
    assert [t["id"] for t in by_words] == ["testcontainers-integration-testing"]


def test_rate_then_show_draws_the_rating_in_the_bars(cli: Cli, talk: str, tmp_path: Path) -> None:
    # When an attendee rates the talk from the terminal, then changes their mind (under the
    # local open policy too, the command keeps a voter token: the newer rating replaces the
    # first), and another attendee rates it 5
    first = cli.ok("rate", talk, "3")
    cli.ok("rate", talk, "4")
    other = cli.ok("rate", talk, "5", TALKRATE_CONFIG_DIR=str(tmp_path / "another-attendee"))
    # Then the command confirms, and `show` draws the two attendees' ratings once projected
    assert f"rated {talk} 3★" in first
    assert f"rated {talk} 5★" in other
    assert wait_for(lambda: cli.ratings(talk) == {"1": 0, "2": 0, "3": 0, "4": 1, "5": 1})
    shown = cli.ok("show", talk)
    assert "Rated from a terminal" in shown
    bars = {m[0]: int(m[1]) for m in re.findall(r"^([1-5])★\s+[█·]+\s+(\d+)", shown, re.M)}
    assert bars == {"5": 1, "4": 1, "3": 0, "2": 0, "1": 0}
    assert "count 2" in shown
    assert "rating open" in shown
    assert "avg 4.50" in shown
    # And its statistics name both values given most often, and the deviation's kind
    assert "std dev (population) 0.50 · mode 4 and 5" in shown


def test_top_shows_the_leaderboard(cli: Cli, talk: str) -> None:
    # Given a talk rated 5 three times
    for _ in range(3):
        cli.rate(talk, 5)
    assert wait_for(lambda: cli.count(talk) == 3)
    # When a person asks for the best talks of its track, and the best one overall
    board = cli.ok("top", "--track", "Terminal")
    [best] = cli.json("top", "--track", "Terminal", "--limit", "1")["talks"]
    # Then the talk is first, with its count and average
    assert re.search(rf"^1\s+{re.escape(talk)}\s+Rated from a terminal\s+Terminal", board, re.M)
    assert (best["talkId"], best["count"], best["avg"]) == (talk, 3, 5.0)


@pytest.mark.parametrize("columns", [40, 30])
def test_top_in_a_narrow_terminal_keeps_its_figures_whole(cli: Cli, columns: int) -> None:
    # Given two talks of a track of their own, with long titles, rated
    track = f"Narrow {unique_talk_id()}"
    long_title = "Event Sourcing Without Tears: What Three Years of Production Taught Us"
    talks = [
        cli.add(unique_talk_id(), long_title, track=track),
        cli.add(unique_talk_id(), "Observability for Serverless Applications", track=track),
    ]
    try:
        for talk, value in zip(talks, (5, 4), strict=True):
            cli.rate(talk, value)
        assert wait_for(lambda: [cli.count(talk) for talk in talks] == [1, 1])
        # When a person asks for the track's best talks in a terminal of `columns` (a pty)
        with talkrate_in_a_terminal(cli, "top", "--track", track, columns=columns) as (
            process,
            primary,
        ):
            shown = read_until(primary, None, 15)  # (all it prints, until it ends)
            assert process.wait(15) == 0, shown
        # Then the rank, score, average and count of each stand whole on its line (at 40
        # columns the header was "sco…", at 30 the score "3.…" and the average "5…")
        board = cli.json("top", "--track", track)
        scores = output.score_texts(board["talks"], board.get("prior"))
        lines = shown.replace("\r", "").splitlines()
        shown = "\n".join(lines)
        assert all(len(line) <= columns for line in lines), lines
        assert re.search(r"^\s*#\s.*\sscore\s+avg\s+count$", lines[0]), lines
        for place, score in zip(board["talks"], scores, strict=True):
            avg = output.fmt_avg(place["avg"], place["ratings"])
            figures = rf"^\s*{place['rank']}\s.*\s{re.escape(score)}\s+{avg}\s+1$"
            assert re.search(figures, shown, re.M), lines
        # And at 40 columns the long title gives way, cut with an ellipsis
        if columns == 40:
            assert re.search(r"^\s*1\s.*\sEvent.*…\s", shown, re.M), lines
    finally:
        cli.remove(*talks)


@pytest.mark.parametrize("columns", [80, 40])
def test_talks_in_a_narrow_terminal_keeps_its_figures_and_ids_whole(cli: Cli, columns: int) -> None:
    # Given two talks of a track of their own, running now in long-named rooms, with a long id
    # and long titles (one of two-column characters), rated
    track = f"Narrow {unique_talk_id()}"
    starts = datetime.now(UTC) - timedelta(minutes=10)
    ends = starts + timedelta(minutes=45)
    times = {"startsAt": f"{starts:%Y-%m-%dT%H:%M:00Z}", "endsAt": f"{ends:%Y-%m-%dT%H:%M:00Z}"}
    talks = [
        cli.add(
            unique_talk_id("event-sourcing-without-tears"),
            "Event Sourcing Without Tears: What Three Years of Production Taught Us",
            track=track, room="Main Auditorium, Level 2", **times,
        ),
        cli.add(
            unique_talk_id(), "日本語で話す分散システムの設計と運用について",
            track=track, room="Room 1 (Annex)", **times,
        ),
    ]  # fmt: skip
    try:
        for talk, value in zip(talks, (5, 4), strict=True):
            cli.rate(talk, value)
        assert wait_for(lambda: [cli.count(talk) for talk in talks] == [1, 1])
        # When a person lists the track's talks in a terminal of `columns` (a pty)
        with talkrate_in_a_terminal(cli, "talks", "--track", track, columns=columns) as (
            process,
            primary,
        ):
            shown = read_until(primary, None, 15)  # (all it prints, until it ends)
            assert process.wait(15) == 0, shown
        # Then each line is within the terminal, and each talk's count and average stand whole
        # at the end of its row (at 40 columns the header read "co…", the titles and times
        # folded into columns of four letters)
        [header, *lines, said] = shown.replace("\r", "").splitlines()
        assert said == "2 talks", shown
        assert all(cell_len(line) <= columns for line in [header, *lines]), lines
        assert header.split()[-2:] == ["count", "avg"], header
        rows = [line for line in lines if len(line.split()) > 1]  # (the others: an id's rest)
        assert [row.split()[-2:] for row in rows] == [["1", "5.00"], ["1", "4.00"]], lines
        # And each id is whole, folded onto the lines below its row
        ids: list[str] = []
        for line in lines:
            if len(line.split()) > 1:
                ids.append(line.split()[0])
            elif line.strip():
                ids[-1] += line.strip()
        assert ids == talks, lines
        # And the track and the room gave way, and the long title is cut on its line with an
        # ellipsis; at 80 columns the time is whole, at 40 it gave way too
        assert header.split()[:2] == ["talk", "title"], header
        assert not {"track", "room"} & set(header.split()), header
        assert re.search(r"^\S+\s+Event So[^…]*…\s", rows[0]), lines
        # (a talk over midnight, the tests run near it, has a time of two dates, which gives
        # way at 80 columns too)
        time = r"\s\d{4}-\d\d-\d\d \d\d:\d\d\N{EN DASH}\S"
        whole = columns == 80 and starts.date() == ends.date()
        assert ("when" in header) == whole == bool(re.search(time, rows[0])), lines
    finally:
        cli.remove(*talks)


def test_admin_add_edit_rm(cli: Cli) -> None:
    talk_id = unique_talk_id()
    # When an organiser adds a talk, changes its room and clears its track, then removes it
    added = cli.ok("admin", "add", talk_id, "--title", "Added", "--track", "T1", "--room", "R1")
    taken = cli.run("admin", "add", talk_id, "--title", "Again")
    edited = cli.ok("admin", "edit", talk_id, "--room", "R2", "--track", "")
    after_edit = cli.json("show", talk_id)["talk"]
    removed = cli.ok("admin", "rm", talk_id, "--yes")
    gone = cli.run("show", talk_id)
    # Then each step says what it did, a taken id is one line naming the problem
    assert f"added {talk_id}" in added
    assert_one_line_error(taken, "409", "exists")
    assert f"changed {talk_id}: room, track" in edited
    assert (after_edit["title"], after_edit["room"], after_edit.get("track")) == (
        "Added",
        "R2",
        None,
    )
    assert f"removed {talk_id}" in removed
    assert_one_line_error(gone, "404", "not found")


def test_admin_pause_and_resume_a_talk_s_ratings(cli: Cli, talk: str) -> None:
    # When an organiser pauses the talk's ratings, then pauses them again (a script run twice),
    # and an attendee tries to rate it
    paused = cli.ok("admin", "pause", talk)
    revision = cli.talk(talk)["revision"]
    again = cli.json("admin", "pause", talk)
    refused = cli.run("rate", talk, "4")
    shown = cli.ok("show", talk)
    # Then the pause is said, the second saves nothing, the rating is one line naming the
    # pause, and `show` says it
    assert paused.strip().startswith(f"paused the ratings of {talk}: it takes no rating until")
    assert (again["ratingsPaused"], again["revision"]) == (True, revision)
    assert_one_line_error(refused, "Ratings paused (409)", "paused")
    assert "rating paused by the organisers" in shown
    # And an edit of another field keeps it paused
    cli.ok("admin", "edit", talk, "--room", "Hall P")
    assert cli.talk(talk)["ratingsPaused"] is True
    # When resumed, Then it takes ratings again, and `show` no longer says paused
    resumed = cli.json("admin", "resume", talk)
    assert (resumed["id"], resumed["ratingsPaused"], resumed["room"]) == (talk, False, "Hall P")
    assert f"rated {talk} 4★" in cli.ok("rate", talk, "4")
    assert "paused" not in cli.ok("show", talk)
    assert "unchanged" in cli.ok("admin", "resume", talk)


def test_a_programme_imported_over_a_paused_talk_keeps_it_paused(
    cli: Cli, talk: str, tmp_path: Path
) -> None:
    # Given a talk whose ratings the organisers paused, and a programme file (no column for the
    # pause: the file has none) changing its title and room
    cli.ok("admin", "pause", talk)
    programme = tmp_path / "programme.csv"
    programme.write_text(
        f"id,title,speakers,track,room\n{talk},Retitled while paused,Ana Lee,Terminal,Hall Q\n"
    )
    # When it is imported, after a dry run
    would = cli.ok("admin", "import", "--dry-run", str(programme))
    done = cli.ok("admin", "import", str(programme))
    # Then the summary says the talk is paused, and how to open it (the dry run as what would
    # be): an organiser importing the programme again does not take it for open
    resume = "`talkrate admin resume ID` opens it again"
    assert f"\n1 talk would stay paused (ratings refused): {talk} \N{EM DASH} {resume}\n" in would
    assert f"\n1 talk is paused (ratings refused): {talk} \N{EM DASH} {resume}\n" in done
    # And the talk changed and is still paused: an attendee's rating is refused as paused
    assert "0 created, 1 updated, 0 unchanged" in done
    shown = cli.talk(talk)
    assert (shown["title"], shown["room"], shown["ratingsPaused"]) == (
        "Retitled while paused",
        "Hall Q",
        True,
    )
    assert_one_line_error(cli.run("rate", talk, "4"), "Ratings paused (409)", "paused")
    assert "rating paused by the organisers" in cli.ok("show", talk)
    # And the results export says it is paused, and imported again leaves it so
    results = tmp_path / "results.csv"
    cli.ok("admin", "export", str(results), "--track", "Terminal")
    header, *rows = results.read_text(encoding="utf-8-sig").splitlines()
    assert header.endswith(",ratingsPaused")
    assert [row.rsplit(",", 1)[1] for row in rows if row.startswith(f"{talk},")] == ["true"]
    again = cli.json("admin", "import", str(results))
    assert (again["unchanged"], again["paused"], again["ratingsPausedNotApplied"]) == (
        [talk],
        [talk],
        [],
    )
    assert cli.talk(talk)["ratingsPaused"] is True
    # And an export whose ratingsPaused cell was set to false is imported without resuming
    # the talk, saying once that the column is not applied, naming the talk
    line, *_ = [at for at, row in enumerate(rows, 2) if row.startswith(f"{talk},")]
    results.write_text(results.read_text(encoding="utf-8-sig").replace(",true\n", ",false\n"))
    edited = cli.run("admin", "import", str(results))
    assert edited.returncode == 0, edited.stderr
    warned = [said for said in edited.stderr.splitlines() if "ratingsPaused" in said]
    assert warned == [
        "talkrate: warning: the file's ratingsPaused column is not applied (an import never "
        "pauses or resumes ratings: `talkrate admin pause ID` and `talkrate admin resume ID` "
        f"do); it differs from the talk for {talk} (false in the file, the talk paused)"
    ]
    assert f"1 talk is paused (ratings refused): {talk}" in edited.stdout
    assert cli.talk(talk)["ratingsPaused"] is True
    assert cli.json("admin", "import", "--dry-run", str(results))["ratingsPausedNotApplied"] == [
        {"line": line, "talk": talk, "inFile": False, "ratingsPaused": True}
    ]


def test_admin_edit_saves_and_says_only_what_differs_from_what_the_talk_holds(cli: Cli) -> None:
    talk_id = cli.add(unique_talk_id(), "Held as is", room="R1", startsAt="2031-06-02T09:00:00Z")
    try:
        revision = cli.talk(talk_id)["revision"]
        # When an organiser gives a talk the title and start it has (the start written in
        # another zone; the title again with a space after it, which the API trims)
        same = cli.run(
            "admin",
            "edit",
            talk_id,
            "--title",
            "Held as is",
            "--starts",
            "2031-06-02T11:00:00+02:00",
        )
        scripted = cli.json("admin", "edit", talk_id, "--title", "Held as is ")
        # Then nothing is saved (its revision stays: an organiser's open form is not refused
        # for it) and it says so (it said "changed … title" and saved a new revision)
        assert same.returncode == 0, same.stderr
        assert same.stdout.strip() == f"unchanged {talk_id}: it holds what was given already"
        assert (scripted["id"], scripted["title"], scripted["revision"]) == (
            talk_id,
            "Held as is",
            revision,
        )
        assert cli.talk(talk_id)["revision"] == revision
        # When the title is given as it is beside a new room, Then only the room is said changed
        moved = cli.ok("admin", "edit", talk_id, "--title", "Held as is", "--room", "R2")
        assert moved.strip() == f"changed {talk_id}: room"
        assert cli.talk(talk_id)["room"] == "R2"
    finally:
        cli.remove(talk_id)


def test_admin_edit_replaces_the_speakers_as_its_help_says_and_clears_them(cli: Cli) -> None:
    talk_id = cli.add(unique_talk_id(), "Two speakers", speakers=["Ana", "Bo"])
    try:
        # When an organiser gives a speaker to the talk, then '' (as for the other fields)
        replaced = cli.json("admin", "edit", talk_id, "--speaker", "Cy")["speakers"]
        cleared = cli.run("admin", "edit", talk_id, "--speaker", "")
        # Then the speaker given replaces the two, as the help says (it read as if it added
        # one), and '' clears them (it was the API's 422 for a blank speaker)
        assert replaced == ["Cy"]
        assert "replace the talk's speakers" in " ".join(cli.ok("admin", "edit", "--help").split())
        assert cleared.returncode == 0, cleared.stderr
        assert f"changed {talk_id}: speakers" in cleared.stdout
        assert not cli.talk(talk_id).get("speakers")
    finally:
        cli.remove(talk_id)


def test_titles_are_printed_as_they_are_even_when_they_look_like_markup(cli: Cli) -> None:
    # Given a talk whose title reads like terminal markup (a closing tag, a style)
    talk_id = unique_talk_id()
    title = "Kubernetes [/etc] configs, [bold]loudly[/bold]"
    added = cli.ok("admin", "add", talk_id, "--title", title, "--track", "Markup")
    try:
        # When the programme is listed and the talk is shown
        listed = cli.ok("talks", "--track", "Markup")
        shown = cli.ok("show", talk_id)
        # Then every command printed the title as it is stored, and none failed
        assert title in added
        assert "[/etc]" in listed
        assert "[bold]loudly[/bold]" in listed
        assert title in shown
    finally:
        cli.remove(talk_id)


def test_show_lists_the_speakers_the_way_the_talk_s_language_does(cli: Cli) -> None:
    # Given a talk in German and one in Spanish, each of three speakers
    german = cli.add(unique_talk_id(), "Auf Deutsch", speakers=["Ana", "Bo", "Cy"], language="de")
    spanish = cli.add(
        unique_talk_id(), "En español", speakers=["Ana", "Luis", "Inés"], language="es"
    )
    try:
        # When an attendee shows each
        # Then its speakers are listed as the talk's page lists them, in its language (it wrote
        # "Ana, Bo and Cy"): Spanish's "y" written "e" before the sound "i"
        assert "Ana, Bo und Cy" in cli.ok("show", german).splitlines()[1]
        assert "Ana, Luis e Inés" in cli.ok("show", spanish).splitlines()[1]
    finally:
        cli.remove(german, spanish)


def test_admin_without_a_valid_token_is_refused_in_one_line(cli: Cli) -> None:
    done = cli.run(
        "admin",
        "rm",
        "testcontainers-integration-testing",
        "--yes",
        TALKRATE_ADMIN_TOKEN="not-the-token",
    )
    assert_one_line_error(done, "403", "this is not the organiser token of this service")
    assert cli.has("testcontainers-integration-testing")


def test_an_organiser_token_pasted_with_a_line_end_works_and_a_garbled_one_is_not_printed(
    cli: Cli,
) -> None:
    # Given the organiser token as a .env file of CRLF lines or a paste leaves it
    token = cli.env["TALKRATE_ADMIN_TOKEN"]
    for pasted in (token + "\r", f" {token} "):
        # When an organiser removes a talk the programme does not have
        done = cli.run("admin", "rm", "no-such-talk", "--yes", TALKRATE_ADMIN_TOKEN=pasted)
        # Then the API was asked with the token (it said 404), not "cannot reach the API"
        assert_one_line_error(done, "404")
    # And a token garbled by its copy is said in one line, without printing it
    garbled = token[:4] + "\u00e9" + token[4:]
    done = cli.run("admin", "rm", "no-such-talk", "--yes", TALKRATE_ADMIN_TOKEN=garbled)
    assert_one_line_error(done, "TALKRATE_ADMIN_TOKEN", "copy the organiser token again")
    assert token[4:] not in done.stderr
    assert "unexpected" not in done.stderr


def test_admin_import_twice_changes_nothing_the_second_time(cli: Cli, tmp_path: Path) -> None:
    # Given a programme spreadsheet of two talks (one without an id: it gets one from its title)
    suffix = unique_talk_id()[-8:]
    keynote = f"keynote-{suffix}"
    programme = tmp_path / "programme.csv"
    programme.write_text(
        "id,title,speakers,track,room,startsAt,endsAt\n"
        f"{keynote},Opening Keynote,Ada Byron;Grace Hopper,Main,Hall A,"
        "2026-12-01T09:00:00Z,2026-12-01T09:45:00+00:00\n"
        f",Serverless at Scale {suffix},Lin Wu,Cloud,Hall B,,\n"
    )
    # When it is imported twice, then once more after one cell changed
    first = cli.ok("admin", "import", str(programme))
    second = cli.json("admin", "import", str(programme))
    programme.write_text(programme.read_text().replace("Hall B", "Hall C"))
    third = cli.json("admin", "import", str(programme))
    # Then the first run creates both, the second changes nothing, the third updates one
    assert "2 created, 0 updated, 0 unchanged" in first
    assert (len(second["created"]), len(second["updated"]), len(second["unchanged"])) == (0, 0, 2)
    assert third["updated"] == [f"serverless-at-scale-{suffix}"]
    assert cli.talk(keynote)["speakers"] == ["Ada Byron", "Grace Hopper"]
    # And the export carries the programme with its results, importable again unchanged
    results = tmp_path / "results.csv"
    assert re.fullmatch(
        rf"wrote \d+ talks? to {re.escape(str(results))}\n",
        cli.ok("admin", "export", str(results), "--track", "Main"),
    )
    # (as the organisers' page downloads it: a byte-order mark and CRLF, for spreadsheets)
    raw = results.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    assert raw.count(b"\r\n") == raw.count(b"\n") > 1
    header, *rows = raw.decode("utf-8-sig").splitlines()
    assert header == (
        "id,title,speakers,track,room,startsAt,endsAt,language,"
        "count,avg,1,2,3,4,5,rank,score,ratingsPaused"
    )
    assert any(
        r.startswith(f"{keynote},Opening Keynote,Ada Byron; Grace Hopper,Main") for r in rows
    )
    assert json.loads(cli.ok("--json", "admin", "import", str(results)))["unchanged"] == [keynote]
    # And for Excel where "," is the decimal mark: ";" between cells, the byte-order mark kept
    # first (no `sep=` line, after which Excel drops it), and it too imports unchanged
    europe = tmp_path / "results-europe.csv"
    cli.ok("admin", "export", str(europe), "--track", "Main", "--decimal-comma")
    raw = europe.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbfid;title;speakers;track;"), raw[:40]
    assert f'{keynote};Opening Keynote;"Ada Byron; Grace Hopper";Main'.encode() in raw
    assert json.loads(cli.ok("--json", "admin", "import", str(europe)))["unchanged"] == [keynote]
    cli.remove(keynote, f"serverless-at-scale-{suffix}")


def test_the_export_ranks_a_track_s_talks_as_its_leaderboard_does_and_reads_back_unchanged(
    cli: Cli, tmp_path: Path
) -> None:
    # Given a track of four talks: one rated 5 once, one rated 4 four times, two rated alike
    # (a tie on the leaderboard), and one nobody rated
    suffix = unique_talk_id()[-8:]
    track = f"Ranked {suffix}"
    admin = {"Authorization": f"Bearer {cli.env['TALKRATE_ADMIN_TOKEN']}"}
    histograms = {"lucky": [5], "solid": [4] * 4, "tie-a": [3, 5], "tie-b": [5, 3], "unrated": []}
    ids = {name: f"{name}-{suffix}" for name in histograms}
    for name, talk_id in ids.items():
        body = json.dumps({"id": talk_id, "title": f"The {name} talk", "track": track})
        assert cli.runtime.request("POST", "/talks", body, admin).status == 201
    for name, values in histograms.items():
        for value in values:
            body = json.dumps({"talkId": ids[name], "value": value})
            assert cli.runtime.request("POST", "/ratings", body).status == 202
    board: list[dict[str, Any]] = []

    def ranked() -> bool:
        # GET /leaderboard, as the leaderboard's page and `talkrate top` read it
        query = urlencode({"track": track, "limit": 10})
        board[:] = cli.runtime.request("GET", f"/leaderboard?{query}").json["talks"]
        return sum(place["count"] for place in board) == 9

    assert wait_for(ranked)
    results = tmp_path / "results.csv"
    stored = PostgresTalkCatalog(PostgresDatabase(CLI_TALKS))
    try:
        # When an organiser exports the track's results
        cli.ok("admin", "export", str(results), "--track", track)
        rows = {r["id"]: r for r in csv.DictReader(io.StringIO(results.read_text("utf-8-sig")))}
        # Then each rated talk has the rank and score the track's leaderboard gives it (the tie
        # in its order), after the columns the file had, and the unrated talk has neither
        # (then whether its ratings are paused)
        assert list(next(iter(rows.values())))[-5:] == ["4", "5", "rank", "score", "ratingsPaused"]
        assert [(r["rank"], r["talkId"], r["score"]) for r in board] == sorted(
            (int(r["rank"]), talk_id, float(r["score"])) for talk_id, r in rows.items() if r["rank"]
        )
        assert rows[ids["unrated"]]["count"] == "0"
        assert (rows[ids["unrated"]]["rank"], rows[ids["unrated"]]["score"]) == ("", "")
        # And the file imports again with every talk unchanged
        again = cli.json("admin", "import", str(results))
        assert sorted(again["unchanged"]) == sorted(ids.values())
        # When a talk saved before direction controls were refused (an override in its title)
        # is in the track too
        stored.save(Talk(f"saved-{suffix}", "Saved \u202ebackwards", [], track))
        exported = cli.run("admin", "export", str(results), "--track", track)
        reimported = cli.run("admin", "import", "--dry-run", str(results))
        # Then it is exported as saved, and the import names its line (nothing is sent)
        assert exported.returncode == 0, exported.stderr
        lines = results.read_text("utf-8-sig").splitlines()
        [line] = [n for n, text in enumerate(lines, start=1) if "\u202e" in text]
        assert lines[line - 1].startswith(f"saved-{suffix},Saved \u202ebackwards,")
        assert reimported.returncode == 2
        assert (
            f"line {line}: title holds U+202E RIGHT-TO-LEFT OVERRIDE (character 7)"
            in reimported.stderr
        )
    finally:
        stored.delete(f"saved-{suffix}")
        cli.remove(*ids.values())


def test_with_the_read_model_down_the_talks_say_why_and_no_export_of_zeros_is_written(
    cli: Cli, kafka_bootstrap: str, tmp_path: Path
) -> None:
    # Given the API of the same programme with its Redis unreachable (talks listed, no ratings)
    env = {
        "TALKS_CONNECTION": CLI_TALKS,
        "RATINGS_CONNECTION": "redis://127.0.0.1:1/0",
        "STREAMS_CONNECTION": kafka_bootstrap,
    }
    down = start_runtime(env, tmp_path / "runtime.log")
    try:
        listed = cli.json("--api", down.url, "talks")
        assert listed
        assert all("summary" not in talk for talk in listed)
        # When an attendee lists them, and an organiser exports the results, to a file and to
        # the terminal
        shown = cli.run("--api", down.url, "talks")
        results = tmp_path / "results.csv"
        to_file = cli.run("--api", down.url, "admin", "export", str(results))
        to_terminal = cli.run("--api", down.url, "admin", "export", "-")
    finally:
        stop_runtime(down)
    # Then the talks are listed, and one line says why they have no counts (not "-" unsaid)
    assert shown.returncode == 0, shown
    assert listed[0]["title"] in shown.stdout
    assert [line for line in shown.stdout.splitlines() if "no counts" in line] == [
        "no counts or averages now: the API cannot reach the Redis that keeps them; "
        "try again in a moment"
    ], shown.stdout
    # Then nothing is written, and one line says why
    for done in (to_file, to_terminal):
        assert done.returncode == 1, done
        assert done.stdout == ""
        assert "the results cannot be read now" in done.stderr
        assert "Traceback" not in done.stderr
    assert not results.exists()


def test_an_import_the_api_would_refuse_a_row_of_sends_nothing(cli: Cli, tmp_path: Path) -> None:
    # Given a programme whose second talk ends before it starts, and whose third is too long
    suffix = unique_talk_id()[-8:]
    programme = tmp_path / "programme.csv"
    programme.write_text(
        "id,title,track,startsAt,endsAt\n"
        f"fine-{suffix},A fine talk,,2026-12-02T09:00Z,2026-12-02T09:45Z\n"
        f"backwards-{suffix},Backwards,,2026-12-02T19:00Z,2026-12-02T18:00Z\n"
        f"long-{suffix},Long track,{'x' * 150},,\n"
    )
    # When it is imported, as a dry run and for real
    dry = cli.run("admin", "import", "--dry-run", str(programme))
    real = cli.run("admin", "import", str(programme))
    # Then both say every line the API would refuse, a line each (it said the first only, and
    # the next once that was fixed), and no talk of the file was created: exit 2, the file's
    # fault (a partial import, some rows refused by the API, exits 1)
    for done in (dry, real):
        assert done.returncode == 2, done
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 3, done.stderr
        assert lines[0].startswith("talkrate: line 3: endsAt 2026-12-02T18:00Z is not after")
        assert lines[1].startswith("talkrate: line 4: track has 150 characters")
        assert lines[2] == "talkrate: 2 lines of the file cannot be imported (nothing was imported)"
        assert "Traceback" not in done.stderr
    assert not cli.has(f"fine-{suffix}")
    # And with --json the problems are a list a script reads: line, field, message
    listed = cli.run("--json", "admin", "import", str(programme))
    errors = json.loads(listed.stdout)["error"]["errors"]
    assert [(e["line"], e["field"]) for e in errors] == [(3, "endsAt"), (4, "track")]
    assert not cli.has(f"fine-{suffix}")


def test_a_programme_imported_before_the_ids_changed_updates_its_talks(
    cli: Cli, tmp_path: Path
) -> None:
    # Given a talk an earlier import made from an id-less row (accented letters became dashes)
    suffix = unique_talk_id()[-8:]
    title = f"Über Café {suffix}"
    cli.add(f"ber-caf-{suffix}", title, room="Hall A")
    # When the same id-less file is imported again, with a room changed
    programme = tmp_path / "programme.csv"
    programme.write_text(f"id,title,room\n,{title},Hall B\n")
    done = cli.json("admin", "import", str(programme))
    # Then that talk is updated, not added a second time under the id made now ("uber-cafe-...")
    assert (done["created"], done["updated"]) == ([], [f"ber-caf-{suffix}"])
    assert cli.talk(f"ber-caf-{suffix}")["room"] == "Hall B"
    assert not cli.has(f"uber-cafe-{suffix}")
    # And a new id-less talk gets the id the organisers' page would give it
    fresh = tmp_path / "fresh.csv"
    fresh.write_text(f"title\nÇa va {suffix}\n")
    assert cli.json("admin", "import", str(fresh))["created"] == [f"ca-va-{suffix}"]
    cli.remove(f"ber-caf-{suffix}", f"ca-va-{suffix}")


def test_admin_import_of_fewer_columns_keeps_the_rest_of_each_talk(
    cli: Cli, tmp_path: Path
) -> None:
    # Given a timed talk with a room and a language, and a spreadsheet of ids and new titles
    # only (as every file before the language column), from Excel set to a European language
    # (a byte order mark, ';' between cells, CRLF)
    talk = cli.add(
        unique_talk_id(), "Old title", speakers=["Ann"], room="Hall A",
        startsAt="2026-12-01T09:00:00Z", endsAt="2026-12-01T10:00:00Z", language="pt-br",
    )  # fmt: skip
    titles = tmp_path / "titles.csv"
    titles.write_bytes(f"\ufeffid;title\r\n{talk};New title\r\n".encode())
    # When it is imported
    done = cli.ok("admin", "import", str(titles))
    # Then the title changed and nothing else did; the talks not in the file are said to be kept
    assert "0 created, 1 updated, 0 unchanged" in done
    assert "in the catalog but not in the file, left as they are" in done
    shown = cli.talk(talk)
    assert (shown["title"], shown["speakers"], shown["room"]) == ("New title", ["Ann"], "Hall A")
    assert (shown["startsAt"], shown["endsAt"]) == ("2026-12-01T09:00:00Z", "2026-12-01T10:00:00Z")
    assert shown["language"] == "pt-BR"
    # And a time without a zone is refused by line in a dry run already, nothing written
    zoneless = tmp_path / "zoneless.csv"
    zoneless.write_text(f"id,title,startsAt\n{talk},Newer title,2026-12-01T09:30:00\n")
    refused = cli.run("admin", "import", "--dry-run", str(zoneless))
    assert_one_line_error(refused, "line 2", "no time zone")
    assert cli.talk(talk)["title"] == "New title"
    cli.remove(talk)


def test_an_import_over_a_stored_value_the_api_now_refuses_sends_nothing(
    cli: Cli, tmp_path: Path
) -> None:
    # Given three talks, the second saved before direction controls were refused (an override
    # in its room, as a save before 2026-12-04 left it), and a file of ids and new titles
    suffix = unique_talk_id()[-8:]
    ids = [f"imp-{name}-{suffix}" for name in "abc"]
    stored = PostgresTalkCatalog(PostgresDatabase(CLI_TALKS))
    for talk_id in ids:
        room = "Room \u202eb" if talk_id == ids[1] else "Room a"
        stored.save(Talk(talk_id, f"Old {talk_id}", [], None, room))
    titles = tmp_path / "titles.csv"
    titles.write_text("id,title\n" + "".join(f"{i},New {i}\n" for i in ids))
    try:
        # When it is imported, as a dry run and for real
        dry = cli.run("admin", "import", "--dry-run", str(titles))
        real = cli.run("admin", "import", str(titles))
        # Then both refuse the whole file before sending anything, naming the line, the field,
        # the stored value and what to do (a PUT replaces the whole talk: the room would be sent
        # as stored, and the API would refuse that row after the first was imported)
        for done in (dry, real):
            assert_one_line_error(
                done,
                "line 3: the talk's stored room holds U+202E RIGHT-TO-LEFT OVERRIDE (character 6), "
                "an invisible control that can reorder the text around it where it is shown; the "
                "file has no room column, so the import would send it as stored, and the API now "
                "refuses it: add a room column with a value the API takes, or edit the talk first",
            )
            assert done.returncode == 2
        assert [cli.talk(i)["title"] for i in ids] == [f"Old {i}" for i in ids]
        # And with --json the problem is the stored field's
        listed = cli.run("--json", "admin", "import", str(titles))
        [error] = json.loads(listed.stdout)["error"]["errors"]
        assert (error["line"], error["field"]) == (3, "room")
        # When the file has the room column, with the room as it should be
        titles.write_text("id,title,room\n" + "".join(f"{i},New {i},Room {i[4]}\n" for i in ids))
        # Then every talk is imported
        assert "0 created, 3 updated" in cli.ok("admin", "import", str(titles))
        assert cli.talk(ids[1])["room"] == "Room b"
    finally:
        for talk_id in ids:
            stored.delete(talk_id)


def test_an_import_that_puts_two_talks_in_one_room_at_once_warns_and_imports(
    cli: Cli, tmp_path: Path
) -> None:
    # Given a talk in Salle Ève from 10:00 to 10:45 (UTC), and a correction that moves another
    # into the same room (spelt otherwise) from 10:30, one more right after it, one untimed
    suffix = unique_talk_id()[-8:]
    room = f"Salle Ève {suffix}"
    series, svelte, closing, untimed = (
        f"{name}-{suffix}" for name in ("time-series", "svelte", "closing", "untimed")
    )
    cli.add(
        series, "Time Series at Scale", room=room,
        startsAt="2026-12-02T10:00:00Z", endsAt="2026-12-02T10:45:00Z",
    )  # fmt: skip
    correction = tmp_path / "correction.csv"
    correction.write_text(
        "id,title,room,startsAt,endsAt\n"
        f"{svelte},Svelte vs React, salle ève {suffix.upper()} ,"
        "2026-12-02T10:30:00Z,2026-12-02T11:15:00Z\n"
        f"{closing},Closing,{room},2026-12-02T11:15:00Z,2026-12-02T12:00:00Z\n"
        f"{untimed},Untimed,{room},,\n"
    )
    try:
        # When it is tried, then imported (with --json), by an organiser in Paris
        dry = cli.run("admin", "import", "--dry-run", str(correction), TZ="Europe/Paris")
        real = cli.run("--json", "admin", "import", str(correction), TZ="Europe/Paris")
        # Then both say the one clash, naming both talks, the room and the overlap in the
        # machine's time (10:30-10:45Z is 11:30-11:45 CET), and import all the same (exit 0);
        # the talk that starts as the other ends, and the untimed one, clash with nothing
        assert dry.returncode == 0, dry.stderr
        assert "would be: 3 created" in dry.stdout
        [warning] = dry.stderr.splitlines()
        assert warning == (
            f"talkrate: warning: room clash in salle ève {suffix.upper()}, "
            "2026-12-02 11:30\N{EN DASH}11:45 CET: "
            f"{svelte} (Svelte vs React, 11:30\N{EN DASH}12:15) and "
            f"{series} (Time Series at Scale, 11:00\N{EN DASH}11:45)"
        )
        assert real.returncode == 0, real.stderr
        assert real.stderr == ""
        document = json.loads(real.stdout)
        assert sorted(document["created"]) == sorted([svelte, closing, untimed])
        [clash] = document["clashes"]
        assert [t["id"] for t in clash["talks"]] == [svelte, series]
        assert (clash["startsAt"], clash["endsAt"]) == (
            "2026-12-02T10:30:00Z",
            "2026-12-02T10:45:00Z",
        )
        assert cli.talk(svelte)["room"] == f"salle ève {suffix.upper()}"
    finally:
        cli.remove(series, svelte, closing, untimed)


def test_an_import_without_a_room_column_warns_of_the_room_its_talks_keep(
    cli: Cli, tmp_path: Path
) -> None:
    # Given two talks of one room, at 10:00 and at 12:00 (UTC)
    suffix = unique_talk_id()[-8:]
    room = f"Room K {suffix}"
    early, late = f"early-{suffix}", f"late-{suffix}"
    for talk_id, hour in ((early, "10"), (late, "12")):
        cli.add(
            talk_id, talk_id.title(), room=room,
            startsAt=f"2026-12-02T{hour}:00:00Z", endsAt=f"2026-12-02T{hour}:45:00Z",
        )  # fmt: skip
    # and a file of times only, moving the later one to 10:30
    times = tmp_path / "times.csv"
    times.write_text(
        f"id,title,startsAt,endsAt\n{late},{late.title()},2026-12-02T10:30Z,2026-12-02T11:15Z\n"
    )
    try:
        # When it is imported
        done = cli.run("--json", "admin", "import", str(times))
        # Then the talk kept its room (the file has no such column), and so clashes there
        assert done.returncode == 0, done.stderr
        document = json.loads(done.stdout)
        assert document["updated"] == [late]
        [clash] = document["clashes"]
        assert clash["room"] == room
        assert [t["id"] for t in clash["talks"]] == [late, early]
    finally:
        cli.remove(early, late)


def test_admin_add_and_edit_warn_of_a_room_taken_at_that_time(cli: Cli) -> None:
    # Given a talk in Hall E from 10:00 to 10:45 (UTC), and another elsewhere at 10:30
    suffix = unique_talk_id()[-8:]
    room = f"Hall E {suffix}"
    first, second, third = (f"{name}-{suffix}" for name in ("first", "second", "third"))
    times = ("--starts", "2026-12-02T10:00:00Z", "--ends", "2026-12-02T10:45:00Z")
    cli.add(first, "First", room=room, startsAt=times[1], endsAt=times[3])
    elsewhere = cli.run(
        "admin", "add", second, "--title", "Second", "--room", "Elsewhere",
        "--starts", "2026-12-02T10:30:00Z", "--ends", "2026-12-02T11:15:00Z",
    )  # fmt: skip
    try:
        # When the second is moved into the room (spelt in capitals), then to start at 10:45
        moved = cli.run("admin", "edit", second, "--room", room.upper(), TZ="UTC")
        moved_json = cli.run("--json", "admin", "edit", second, "--room", room)
        later = cli.run("--json", "admin", "edit", second, "--starts", "2026-12-02T10:45:00Z")
        # and a third is added in the room over the first
        added = cli.run("admin", "add", third, "--title", "Third", "--room", room, *times)
        # Then the edit into the room warns, names both talks and the overlap, and is made
        assert elsewhere.returncode == 0
        assert elsewhere.stderr == ""
        assert moved.returncode == 0, moved.stderr
        assert f"changed {second}: room" in moved.stdout
        assert moved.stderr == (
            f"talkrate: warning: room clash in {room.upper()}, "
            "2026-12-02 10:30\N{EN DASH}10:45 UTC: "
            f"{second} (Second, 10:30\N{EN DASH}11:15) and {first} (First, 10:00\N{EN DASH}10:45)\n"
        )
        assert moved_json.returncode == 0
        [clash] = json.loads(moved_json.stdout)["clashes"]
        assert [t["id"] for t in clash["talks"]] == [second, first]
        # And a talk that starts as the other ends does not clash
        assert later.returncode == 0
        assert json.loads(later.stdout)["clashes"] == []
        assert later.stderr == ""
        # And the talk added over the first is added, with the warning
        assert added.returncode == 0
        assert f"added {third}" in added.stdout
        assert f"{third} (Third, " in added.stderr
        assert f"and {first} (First, " in added.stderr
        assert len(added.stderr.splitlines()) == 1
    finally:
        cli.remove(first, second, third)


class ForwardingHandler(BaseHTTPRequestHandler):
    """A proxy's handler: each request goes on to `runtime` and its answer comes back as the
    proxy's own (`relay`); a proxy's `relay` may do otherwise."""

    runtime: Runtime

    def body(self) -> bytes | None:
        length = int(self.headers.get("content-length") or 0)
        return self.rfile.read(length) if length else None

    def forward(self, body: bytes | None) -> Any:
        """The runtime's answer to this request, sent on without its Host."""
        sent = {k: v for k, v in self.headers.items() if k.lower() != "host"}
        return self.runtime.request(self.command, self.path, body, sent)

    def answer(self, status: int, headers: dict[str, str], content: bytes) -> None:
        self.send_response(status)
        for name, value in headers.items():
            if name not in ("content-length", "transfer-encoding", "connection"):
                self.send_header(name, value)
        self.send_header("content-length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)

    def relay(self) -> None:
        answer = self.forward(self.body())
        self.answer(answer.status, dict(answer.headers), answer.body)

    def do_GET(self) -> None:
        self.relay()

    do_PUT = do_POST = do_DELETE = do_GET

    def log_message(self, *args: Any) -> None:
        pass


class ListingDownProxy(LoopbackServer):
    """A forwarding proxy to the runtime whose listing of the programme (GET /talks) answers
    503: every other request reaches the runtime."""

    def __init__(self, runtime: Runtime) -> None:
        class Forward(ForwardingHandler):
            def relay(self) -> None:
                if self.command == "GET" and self.path.split("?")[0] == "/talks":
                    problem = {"type": "about:blank", "title": "Unavailable", "status": 503}
                    content = json.dumps(problem).encode()
                    self.answer(503, {"content-type": "application/problem+json"}, content)
                else:
                    super().relay()

        Forward.runtime = runtime
        super().__init__(Forward)


def test_an_edit_whose_clashes_cannot_be_looked_for_is_made_and_says_so(cli: Cli) -> None:
    # Given a timed talk with a room, and an API whose programme cannot be listed now
    talk_id = cli.add(
        unique_talk_id("unlisted"), "Timed", room="Hall U",
        startsAt="2026-12-02T10:00:00Z", endsAt="2026-12-02T10:45:00Z",
    )  # fmt: skip
    proxy = ListingDownProxy(cli.runtime)
    try:
        # When an organiser changes its title through it, as a person and as a script
        text = cli.run("--api", proxy.url, "admin", "edit", talk_id, "--title", "Renamed")
        scripted = cli.run("--json", "--api", proxy.url, "admin", "edit", talk_id, "--room", "V")
        # Then both changes are made and succeed (a failure would have a script make them
        # again); the person is told the clashes were not looked for, the script gets null
        assert text.returncode == 0, text.stderr
        assert f"changed {talk_id}: title" in text.stdout
        [warning] = text.stderr.splitlines()
        assert warning.startswith("talkrate: warning: cannot look for room clashes: ")
        assert "503" in warning
        assert scripted.returncode == 0, scripted.stderr
        assert json.loads(scripted.stdout)["clashes"] is None
        shown = cli.talk(talk_id)
        assert (shown["title"], shown["room"]) == ("Renamed", "V")
    finally:
        proxy.close()
        cli.remove(talk_id)


# The tests that lose a write's answer have it sent again after 0.05, 0.1 and 0.2 s, not the
# command's 1, 2 and 4 s (7 s a test that loses every answer; the same tries, the same key).
QUICK_RETRIES = {"TALKRATE_RETRY_SECONDS": "0.05"}


class AddAnswerLostProxy(LoopbackServer):
    """A forwarding proxy to the runtime that drops the answer of each POST /talks the runtime
    applied (the connection closed on the way back, as a venue's network or a timeout does)."""

    def __init__(self, runtime: Runtime) -> None:
        class Forward(ForwardingHandler):
            def relay(self) -> None:
                answer = self.forward(self.body())
                if self.command == "POST" and self.path == "/talks":
                    self.close_connection = True
                    return  # applied; its answer never leaves
                self.answer(answer.status, dict(answer.headers), answer.body)

        Forward.runtime = runtime
        super().__init__(Forward)


def test_an_add_whose_answer_was_lost_is_said_added_when_run_again(cli: Cli) -> None:
    # Given an organiser's network that loses the answer of an added talk
    talk_id = unique_talk_id("lost-add")
    given = ("--title", "Added once", "--speaker", "Ana Lee", "--room", "Hall L")
    proxy = AddAnswerLostProxy(cli.runtime)
    try:
        # When they add a talk through it, then run the same command again, as a person
        # (or a script) does after an error
        lost = cli.run("admin", "add", talk_id, *given, TALKRATE_API=proxy.url, **QUICK_RETRIES)
        again = cli.run("admin", "add", talk_id, *given)
        scripted = cli.run("--json", "admin", "add", talk_id, *given)
        # Then the first says the talk may have been added and that running it again tells
        assert_one_line_error(lost, "cannot reach the API", f"{talk_id} may have been added")
        assert "run the command again to find out" in lost.stderr
        # And running it again finds it added as asked: said so, exit 0, for a script too
        assert again.returncode == 0, again.stderr
        assert again.stdout.strip() == (
            f"added {talk_id}: Added once (an earlier try had gone through)"
        )
        assert scripted.returncode == 0, scripted.stderr
        assert json.loads(scripted.stdout)["title"] == "Added once"
        # And the talk is there once, as asked
        talk = cli.talk(talk_id)
        assert (talk["title"], talk["speakers"], talk["room"]) == (
            "Added once",
            ["Ana Lee"],
            "Hall L",
        )
    finally:
        proxy.close()
        cli.remove(talk_id)


class FirstAnswersLostProxy(LoopbackServer):
    """A forwarding proxy to the runtime that drops the answer of the first `lost` POSTs to
    `path` the runtime took (the connection closed on the way back); each such POST's
    Idempotency-Key and the runtime's answer (status, body) are kept in `sent`."""

    def __init__(self, runtime: Runtime, path: str, lost: int = 1) -> None:
        proxy = self
        self.sent: list[tuple[str | None, int, Any]] = []

        class Forward(ForwardingHandler):
            def relay(self) -> None:
                answer = self.forward(self.body())
                if self.command == "POST" and self.path == path:
                    key = self.headers.get("idempotency-key")
                    proxy.sent.append((key, answer.status, answer.json))
                    if len(proxy.sent) <= lost:
                        self.close_connection = True
                        return  # taken; its answer never leaves
                self.answer(answer.status, dict(answer.headers), answer.body)

        Forward.runtime = runtime
        super().__init__(Forward)


def test_an_add_whose_answer_was_lost_is_sent_again_with_its_key_and_added_once(
    cli: Cli,
) -> None:
    # Given an organiser's network that loses the answer of the first POST /talks
    talk_id = unique_talk_id("keyed-add")
    proxy = FirstAnswersLostProxy(cli.runtime, "/talks")
    try:
        # When they add a talk through it
        done = cli.run(
            "--api", proxy.url, "admin", "add", talk_id, "--title", "Sent twice", **QUICK_RETRIES
        )
        # Then the command sent it again under the same key, and says it added it (not a 409,
        # not "may have been added")
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == f"added {talk_id}: Sent twice"
        [(key, status, first), (again_key, again_status, again)] = proxy.sent
        assert key
        assert again_key == key
        assert (status, again_status) == (201, 201)
        assert again == first  # the first answer, given again
        # And the talk was added once, at the first answer's revision
        assert cli.talk(talk_id)["revision"] == first["revision"]
    finally:
        proxy.close()
        cli.remove(talk_id)


def test_a_pass_whose_answer_was_lost_is_asked_again_with_its_key_and_is_one_voter(
    cli: Cli, tmp_path: Path
) -> None:
    # Given an attendee with no pass yet, on a network that loses the first POST /voters answer
    talk_id = cli.add(unique_talk_id("keyed-pass"), "Rated with one pass")
    attendee = {"TALKRATE_CONFIG_DIR": str(tmp_path / "attendee")}
    proxy = FirstAnswersLostProxy(cli.runtime, "/voters")
    try:
        # When they rate a talk through it
        rated = cli.run("--api", proxy.url, "rate", talk_id, "4", **attendee, **QUICK_RETRIES)
        # Then the pass was asked for again under the same key, and is the first answer's:
        # one voter, not two
        assert rated.returncode == 0, rated.stderr
        [(key, status, first), (again_key, again_status, again)] = proxy.sent
        assert key
        assert again_key == key
        assert (status, again_status) == (201, 201)
        assert again["voterToken"] == first["voterToken"]
        kept = json.loads((tmp_path / "attendee" / "voters.json").read_text())
        assert [entry["voterToken"] for entry in kept.values()] == [first["voterToken"]]
    finally:
        proxy.close()
        cli.remove(talk_id)


# CloudFront's answer when the API did not answer it in time: an HTML page of its own.
CLOUDFRONT_504_PAGE = (
    b'<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01 Transitional//EN" '
    b'"http://www.w3.org/TR/html4/loose.dtd">\n<HTML><HEAD><TITLE>ERROR: The request could not '
    b"be satisfied</TITLE></HEAD><BODY><H1>504 Gateway Timeout ERROR</H1></BODY></HTML>\n"
)


class RatingAnswerTimedOutProxy(LoopbackServer):
    """A forwarding proxy to the runtime that answers the first `lost` POST /ratings the runtime
    took (counted in `keys`, with their Idempotency-Keys) with CloudFront's 504 page: the API
    stored the rating, its answer came too late."""

    def __init__(self, runtime: Runtime) -> None:
        proxy = self
        self.lost = 0
        self.keys: list[str | None] = []

        class Forward(ForwardingHandler):
            def relay(self) -> None:
                answer = self.forward(self.body())
                if self.command == "POST" and self.path == "/ratings":
                    proxy.keys.append(self.headers.get("idempotency-key"))
                    if len(proxy.keys) <= proxy.lost:
                        page = {
                            "content-type": "text/html",
                            "content-length": str(len(CLOUDFRONT_504_PAGE)),
                        }
                        self.answer(504, page, CLOUDFRONT_504_PAGE)
                        return
                self.answer(answer.status, dict(answer.headers), answer.body)

        Forward.runtime = runtime
        super().__init__(Forward)


def test_a_rating_whose_answer_a_gateway_lost_is_sent_again_and_counted_once(
    cli: Cli, tmp_path: Path
) -> None:
    talk_id = cli.add(unique_talk_id("gateway-lost"), "Answered late")
    attendee = {"TALKRATE_CONFIG_DIR": str(tmp_path / "attendee"), **QUICK_RETRIES}
    proxy = RatingAnswerTimedOutProxy(cli.runtime)
    try:
        # When an attendee rates through a CDN that answers the first try 504 (its own HTML
        # page: the API stored the rating)
        proxy.lost = 1
        rated = cli.run("--api", proxy.url, "rate", talk_id, "4", **attendee)
        # Then it is sent again under the same key, and rated (it printed the page's markup
        # and stopped: whether it counted was left to guess)
        assert rated.returncode == 0, rated.stderr
        assert rated.stdout.startswith(f"rated {talk_id} 4")
        assert len(proxy.keys) == 2
        assert proxy.keys[0]
        assert proxy.keys[0] == proxy.keys[1]
        # When they change their mind to 2, and every try is answered so
        proxy.keys.clear()
        proxy.lost = 99
        lost = cli.run("--api", proxy.url, "rate", talk_id, "2", **attendee)
        # Then it says so in words, not markup, and that it may have been rated
        assert_one_line_error(lost, "(504)", f"{talk_id} may have been rated all the same")
        assert "gave up waiting" in lost.stderr
        assert "<" not in lost.stderr
        assert len(proxy.keys) > 1
        assert len(set(proxy.keys)) == 1
        # And the attendee's newest rating, sent four times, counts once, in place of their 4
        wanted = {"1": 0, "2": 1, "3": 0, "4": 0, "5": 0}
        assert wait_for(lambda: cli.ratings(talk_id) == wanted), cli.ratings(talk_id)
    finally:
        proxy.close()
        cli.remove(talk_id)


def test_an_add_of_an_id_taken_by_another_talk_points_to_edit(cli: Cli) -> None:
    # Given a talk in the programme
    talk_id = cli.add(unique_talk_id("taken-add"), "First", room="Hall F")
    try:
        # When an organiser adds one under its id that differs from it (its title; its room,
        # which this add gives none of), as a person and as a script
        retitled = cli.run("admin", "add", talk_id, "--title", "Second", "--room", "Hall F")
        roomless = cli.run("admin", "add", talk_id, "--title", "First")
        scripted = cli.run("--json", "admin", "add", talk_id, "--title", "Second")
        # Then each is refused (409, in one line), pointing to `admin edit`, and nothing changed
        for done in (retitled, roomless):
            assert_one_line_error(done, "(409)", f"talkrate admin edit {talk_id}")
        assert scripted.returncode == 1
        assert json.loads(scripted.stdout)["error"]["status"] == 409
        talk = cli.talk(talk_id)
        assert (talk["title"], talk["room"]) == ("First", "Hall F")
    finally:
        cli.remove(talk_id)


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_an_import_dry_run_with_a_wrong_token_fails_as_the_import_would(
    cli: Cli, tmp_path: Path, as_json: bool
) -> None:
    # Given a programme to import and an organiser token that is not the service's
    talk_id = unique_talk_id("dry-token")
    programme = tmp_path / "programme.csv"
    programme.write_text(f"id,title\n{talk_id},Checked before it is written\n")
    json_flag = ["--json"] if as_json else []
    # When the organiser tries it first, then runs it
    dry = cli.run(*json_flag, "admin", "import", "--dry-run", str(programme), **WRONG_TOKEN)
    real = cli.run(*json_flag, "admin", "import", str(programme), **WRONG_TOKEN)
    # Then the dry run fails as the import does (it said "would be: 1 created" and exit 0),
    # with the same line and exit status, and nothing was written
    assert (dry.returncode, dry.stderr, dry.stdout) == (real.returncode, real.stderr, real.stdout)
    assert_one_line_error(dry, "Forbidden (403)", "not the organiser token")
    assert cli.runtime.request("GET", f"/talks/{talk_id}").status == 404
    # And with the organiser's token the dry run says what the import would do
    assert "would be: 1 created" in cli.ok("admin", "import", "--dry-run", str(programme))


WRONG_TOKEN = {"TALKRATE_ADMIN_TOKEN": "not-the-organiser-token"}


def test_errors_are_one_line_and_a_non_zero_exit(cli: Cli) -> None:
    refused = cli.run("talks", TALKRATE_API="http://127.0.0.1:9")
    bad_url = cli.run("--api", "htp:/nowhere", "talks")
    # (https:// to the local runtime said OpenSSL's "[SSL: WRONG_VERSION_NUMBER] ...")
    tls = cli.run("--api", cli.env["TALKRATE_API"].replace("http://", "https://"), "talks")
    unknown = cli.run("rate", "no-such-talk", "3")
    as_json = cli.run("--json", "show", "no-such-talk")
    assert_one_line_error(refused, "connection refused")
    assert_one_line_error(bad_url, "bad API URL")
    assert_one_line_error(tls, "does not answer in TLS (is its address http://")
    assert bad_url.returncode == 2  # bad input, not an API out of reach (1)
    assert refused.returncode == 1
    assert_one_line_error(unknown, "404")
    assert as_json.returncode == 1
    assert json.loads(as_json.stdout)["error"]["status"] == 404
    assert_one_line_error(as_json, "404")  # the person's line, on stderr


@pytest.mark.parametrize(
    "args",
    [
        ("admin", "export", "-"),
        ("talks",),
        ("--json", "talks"),
        ("--help",),
        ("--version",),
        ("talks", "--help"),
    ],
    ids=" ".join,
)
def test_a_reader_that_leaves_early_ends_the_command_quietly(
    cli: Cli, args: tuple[str, ...]
) -> None:
    # Given a command writing into a pipe whose reader has gone (`| head -1` that got its
    # lines, a pager quit at once): closed before the first write, so the write fails whatever
    # the size of the output
    process = cli.start(*args)
    assert process.stdout is not None
    assert process.stderr is not None
    process.stdout.close()
    # Then it ends as a closed pipe ends a command (141), without an "unexpected" error line or
    # a traceback, whatever prints its output
    stderr = process.stderr.read()
    assert process.wait(timeout=60) == 141
    assert stderr == ""


def test_an_ops_command_whose_reader_left_finishes_its_work(cli: Cli) -> None:
    # Given a read model that lost its rebuild's mark, and an operator rebuilding it into a
    # pipe whose reader has gone (`talkrate ops rebuild | head -1` that got its first line)
    from talkrate.adapters.redis_store import BUILT_KEY

    ratings = redis.Redis.from_url(CLI_RATINGS)
    ratings.delete(BUILT_KEY)
    process = cli.start("ops", "rebuild")
    assert process.stdout is not None
    assert process.stderr is not None
    process.stdout.close()
    # Then the rebuild is done all the same (it was given up after pausing the projector),
    # and the command ends as it does when it succeeds, without an error line
    stderr = process.stderr.read()
    assert process.wait(timeout=120) == 0, stderr
    assert stderr == ""
    assert ratings.exists(BUILT_KEY)


def talkrate_in_a_terminal(
    cli: Cli,
    *args: str,
    columns: int = 120,
    lines: int | None = None,
    ctrl_c: bool = False,
) -> contextlib.AbstractContextManager[tuple[subprocess.Popen[bytes], int]]:
    """`talkrate ARGS` of `cli` in a terminal of `columns` (by `lines`) of its own (a pty, an
    xterm): the process, and the terminal's side the test reads and types into; stopped after.
    `ctrl_c`: it takes Ctrl-C."""
    env = {**cli.env, "COLUMNS": str(columns)} | ({"LINES": str(lines)} if lines else {})
    env["TERM"] = "xterm-256color"
    return in_a_terminal([TALKRATE, *args], ctrl_c=ctrl_c, cwd=ROOT, env=env)


def watch_in_a_terminal(
    cli: Cli, *args: str, interval: str = "0.5", ctrl_c: bool = False
) -> contextlib.AbstractContextManager[tuple[subprocess.Popen[bytes], int]]:
    """`talkrate watch ARGS`, polling every `interval` seconds (half a second), in a terminal
    of 120 by 40 (talkrate_in_a_terminal)."""
    return talkrate_in_a_terminal(
        cli, "watch", *args, "--interval", interval, lines=40, ctrl_c=ctrl_c
    )


def waiting_to_read(pid: int, seconds: float) -> None:
    """Wait until the process is asleep (after its question: waiting for the answer)."""
    import psutil

    process = psutil.Process(pid)
    deadline = time.monotonic() + seconds
    while process.status() != psutil.STATUS_SLEEPING:
        assert time.monotonic() < deadline, f"still {process.status()} after {seconds} s"
        time.sleep(0.01)


@pytest.mark.parametrize("answer", ["ctrl-c", "n"])
def test_a_question_refused_says_aborted_on_a_line_of_its_own(
    cli: Cli, talk: str, answer: str
) -> None:
    # Given an organiser asked in a terminal whether to remove a talk
    with talkrate_in_a_terminal(cli, "admin", "rm", talk, ctrl_c=True) as (process, primary):
        asked = read_until(primary, r"\[y/N\]: ", 15)
        assert "[y/N]: " in asked, asked
        # When they press Ctrl-C, once it waits for their answer (a person reads the question
        # first: a SIGINT in the instant between printing it and starting to read the answer
        # is noted but interrupts nothing, and the read then waits for a line), or answer n
        waiting_to_read(process.pid, 10)
        if answer == "n":
            os.write(primary, b"n\n")
        else:
            process.send_signal(signal.SIGINT)
        said = asked + read_until(primary, r"aborted", 10)
        assert process.wait(10) == 1
        # Then "aborted" stands on a line of its own (after Ctrl-C it followed the question on
        # its line), with no empty line before it (the answer n ended its line itself), and
        # the talk is still there
        after = r"\r?\n" if answer == "ctrl-c" else r"n\r?\n"
        assert re.search(r"\[y/N\]: *" + after + r"talkrate: aborted", said), said
        assert cli.has(talk)


@pytest.mark.parametrize("view", ["talk", "leaderboard"])
def test_watch_in_a_terminal_shows_an_update_arrive(cli: Cli, talk: str, view: str) -> None:
    # Given `talkrate watch` running in a terminal
    args = [talk] if view == "talk" else ["--leaderboard", "--track", "Terminal"]
    with watch_in_a_terminal(cli, *args, "--duration", "60", ctrl_c=True) as (
        process,
        primary,
    ):
        before = read_until(primary, r"updates", 15)
        assert "0 updates" in before, before
        # When someone rates the talk
        cli.rate(talk, 3)
        # Then the view redraws with the rating, without a restart
        after = read_until(primary, r"1 update\b", 20)
        assert re.search(r"1 update\b", after), after
        if view == "talk":
            assert re.search(r"3★\s+█+\s+1\s+100%", after), after
        else:
            assert re.search(rf"1\s+{re.escape(talk)}\s+Rated from a terminal", after), after
        # And Ctrl-C stops it quietly
        process.send_signal(2)
        assert process.wait(10) == 0


@pytest.mark.parametrize("columns", [80, 40])
def test_watch_leaderboard_in_a_narrow_terminal_keeps_each_talk_on_its_line(
    cli: Cli, columns: int
) -> None:
    # Given two talks of a track of their own, with long ids and a long title, rated
    track = f"Board {unique_talk_id()}"
    talks = [
        cli.add(
            unique_talk_id("event-sourcing-without-tears-in-production"),
            "Event Sourcing Without Tears: What Three Years of Production Taught Us",
            track=track,
        ),
        cli.add(unique_talk_id("observability-for-serverless"), "Observability", track=track),
    ]
    try:
        for talk, value in zip(talks, (5, 4), strict=True):
            cli.rate(talk, value)
        assert wait_for(lambda: [cli.count(talk) for talk in talks] == [1, 1])
        # When the track's leaderboard is watched in a terminal of `columns` (a pty)
        with talkrate_in_a_terminal(
            cli, "watch", "--leaderboard", "--track", track, "--poll", "--duration", "60",
            columns=columns, lines=40, ctrl_c=True,
        ) as (process, primary):  # fmt: skip
            # (the status line ends the view; at 40 columns it folds before "to stop", its
            # style ended and begun again around the fold)
            shown = read_until(primary, r"Ctrl-C(?:\s|\x1b\[[0-9;?]*[A-Za-z])+to stop", 15)
            process.send_signal(signal.SIGINT)
            assert process.wait(10) == 0
        # Then each talk stands on one line within the terminal, its rank first and its
        # figures last (at 80 columns the ids folded onto two lines below their row, at 40
        # onto ten: the board's lines broke)
        lines = shown.replace("\r", "").splitlines()
        start = next(at for at, line in enumerate(lines) if line.startswith("#"))
        header, first, second, gap = lines[start : start + 4]
        assert header.split()[-3:] == ["score", "avg", "count"], lines
        assert re.search(r"^1\s.*\s5\.00\s+1$", first), lines
        assert re.search(r"^2\s.*\s4\.00\s+1$", second), lines
        assert gap == "", lines
        assert all(cell_len(line) <= columns for line in (header, first, second)), lines
        # And the long id is cut with an ellipsis, as the other tables cut their texts
        assert re.search(r"^1\s+ev\S*…\s", first), lines
    finally:
        cli.remove(*talks)


def test_watch_into_a_file_writes_its_last_view_whole(cli: Cli, talk: str) -> None:
    # When `watch` runs into a file (or a pipe) until its duration ends
    done = cli.run("watch", talk, "--poll", "--duration", "1")
    # Then the file holds the talk's view once, its last line ended (it was left unended:
    # `cat` of the file ran into the next prompt)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("Rated from a terminal") == 1, done.stdout
    assert done.stdout.endswith("Ctrl-C to stop\n"), repr(done.stdout[-80:])


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT"])
def test_watch_into_a_pipe_stopped_by_a_signal_ends_its_last_line(
    cli: Cli, talk: str, stop: signal.Signals
) -> None:
    import psutil

    # Given `watch` running into a pipe, its view on the way (it has read the talk and sleeps
    # until its next poll)
    with ctrl_c_reaches_children():
        process = cli.start("watch", talk, "--poll", "--interval", "0.5")
    try:
        watching = psutil.Process(process.pid)
        assert wait_for(
            lambda: (
                any(c.status == psutil.CONN_ESTABLISHED for c in watching.net_connections("inet"))
                and watching.status() == psutil.STATUS_SLEEPING
            ),
            seconds=30,
        )
        time.sleep(0.5)  # (its first view is drawn as the poll's pause begins)
        # When it is stopped as a supervisor or Ctrl-C stops it
        process.send_signal(stop)
        out, err = process.communicate(timeout=10)
    finally:
        process.kill()
        process.wait()
    # Then its view is written whole, the last line ended (only --duration's end ended it:
    # `cat` of the file ran into the next prompt)
    assert out.count("Rated from a terminal") == 1, (out, err)
    assert out.endswith("Ctrl-C to stop\n"), repr(out[-80:])


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT"])
def test_watch_stopped_by_a_signal_sent_twice_at_once_ends_as_by_one(
    cli: Cli, talk: str, stop: signal.Signals
) -> None:
    # Given `talkrate watch` running, its view drawn
    with watch_in_a_terminal(cli, talk, ctrl_c=True) as (process, primary):
        assert "updates" in read_until(primary, "updates", 15)
        # When the same stop comes twice, 20 ms apart (`timeout` signals the command, then its
        # process group)
        process.send_signal(stop)
        time.sleep(0.02)
        process.send_signal(stop)
        shown = read_until(primary, r"(?!)", 5)  # everything until it is gone
        status = process.wait(10)
        # Then it ends as one stop ends it: exit 0, its last view drawn (the second SIGTERM
        # killed it, exit 143; a second Ctrl-C landed inside its last drawing)
        assert status == 0, shown
        assert "Traceback" not in shown


def test_watch_stopped_by_sigterm_gives_the_terminal_its_cursor_back(cli: Cli, talk: str) -> None:
    # Given `talkrate watch` drawing in a terminal (which hides the cursor meanwhile)
    with watch_in_a_terminal(cli, talk) as (process, primary):
        shown = terminal_shows(primary, "updates", 15, in_all=True)
        assert "\x1b[?25l" in shown, shown  # the cursor hidden
        # When it is stopped with SIGTERM (`timeout`, `kill`, a supervisor)
        process.send_signal(signal.SIGTERM)
        # (read while it ends: what a terminal's reader leaves unread when its program is gone
        # may be dropped)
        shown += terminal_shows(primary, None, 10, in_all=True)
        status = process.wait(10)
        # Then it ends as Ctrl-C ends it, the cursor shown again (it was killed outright,
        # leaving the terminal without a cursor)
        assert status == 0, shown
        assert shown.rfind("\x1b[?25h") > shown.rfind("\x1b[?25l"), shown


def test_ops_commands_run_against_the_configured_backends(cli: Cli) -> None:
    dead = cli.run("--json", "ops", "dead-letters")
    relayed = cli.ok("ops", "relay")
    alias = subprocess.run(
        [sys.executable, "-m", "talkrate_ops", "relay", "--limit", "10"],
        cwd=ROOT,
        env=cli.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert dead.returncode == 0, dead.stderr
    assert isinstance(json.loads(dead.stdout), list)
    assert re.search(r"relay: published \d+, still pending 0", relayed)
    assert alias.returncode == 0
    assert "relay: published" in alias.stdout
    # And --json makes each of them print one JSON document (progress, if any, on stderr)
    assert cli.json("ops", "relay")["pending"] == 0
    # (the rebuild's document: test_ops_rebuild_says_in_json_what_it_rebuilt_from; what it says
    # first, as text: test_ops_refuses_an_api_or_a_stack_it_would_not_use)


def test_ops_rebuild_says_in_json_what_it_rebuilt_from() -> None:
    # Given an event store of its own holding known ratings: two talks, four events, on
    # partitions 0 and 2 of its ratings topic, and a read model of its own that counts them
    talks, ratings = postgres_dsn("cli_rebuild"), emptied(own_redis("cli_rebuild"))
    recreate(talks)
    topic = f"ratings-{uuid.uuid4().hex[:10]}"
    first, second = unique_talk_id(), unique_talk_id()
    placed = [(first, 5, 0, 0), (first, 4, 0, 1), (second, 3, 2, 5), (second, 1, 2, 7)]
    records = [
        StreamRecord(topic, partition, offset, event.key, event.to_json())
        for talk_id, value, partition, offset in placed
        for event in [rating_event(talk_id, value)]
    ]
    with event_store(talks) as store:
        project_batch(records, store, RedisReadModel(built(ratings, talks)))
    # When an operator rebuilds the read model from it, with --json
    done = subprocess.run(
        [TALKRATE, "--json", "ops", "rebuild"],
        cwd=ROOT,
        env={
            **os.environ,
            "TALKS_CONNECTION": talks,
            "RATINGS_CONNECTION": ratings,
            "RATINGS_TOPIC": topic,
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    # Then it prints one document: the talks it counted, the events and each partition's last
    # offset, as the event store holds them
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "talks": 2,
        "events": 4,
        "partitions": {f"{topic}-0": 1, f"{topic}-2": 7},
    }
    # And the read model counts what the event store holds
    model = RedisReadModel(ratings)
    assert model.histogram(first).counts == {"1": 0, "2": 0, "3": 0, "4": 1, "5": 1}
    assert model.histogram(second).counts == {"1": 1, "2": 0, "3": 1, "4": 0, "5": 0}


def test_no_dead_letters_is_said_on_stderr_even_when_piped(cli: Cli) -> None:
    # Given an event store with no dead letters
    assert cli.json("ops", "dead-letters", "--all") == []
    # When an operator lists them into a file or a pipe (as a cron job or `| tee` would)
    for args, said in ((), "no dead letters waiting"), (("--all",), "no dead letters"):
        done = cli.run("ops", "dead-letters", *args)
        # Then stdout stays empty for scripts, and stderr says there are none (it said nothing
        # unless stdout was a terminal: an empty file could also mean a failed listing)
        assert done.returncode == 0, done.stderr
        assert done.stdout == ""
        assert done.stderr.strip() == said


def test_ops_with_a_backend_down_says_so_in_one_line(cli: Cli) -> None:
    from sam_emulator.serving import free_port

    # Given an operator whose configuration names a PostgreSQL that is not running
    down = {"TALKS_CONNECTION": f"postgresql://postgres@127.0.0.1:{free_port()}/talkrate"}
    # When they list the dead letters, or relay the outbox
    for command in (("ops", "dead-letters"), ("ops", "relay")):
        done = cli.run(*command, **down)
        # Then it fails saying so in one line (psycopg2's reason came on two, its advice
        # "Is the server running on that host...?" on a line of its own)
        assert_one_line_error(done, "PostgreSQL is unreachable", "Is the server running")


def test_the_ops_alias_takes_json_as_talkrate_does(cli: Cli) -> None:
    # Given an operator following docs/operations.md (`python -m talkrate_ops <command>`)
    # When they ask it for JSON, before or after the command
    for args in (("--json", "relay"), ("relay", "--json")):
        done = subprocess.run(
            [sys.executable, "-m", "talkrate_ops", *args],
            cwd=ROOT,
            env=cli.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        # Then they get the document `talkrate --json ops relay` prints (it was a usage error:
        # the alias had no place for --json, which is talkrate's option, not ops')
        assert done.returncode == 0, done.stdout + done.stderr
        assert json.loads(done.stdout)["pending"] == 0


def test_admin_rm_asks_even_when_its_input_is_piped(cli: Cli) -> None:
    talk_id = cli.add(unique_talk_id("rm-asked"), "Asked before it goes")
    try:
        # When a script pipes "n" to the question, or has no answer at all (stdin closed)
        for answer in ("n\n", ""):
            done = cli.run("admin", "rm", talk_id, stdin=answer)
            # Then the talk stays, and the command says it did nothing (exit 1)
            assert done.returncode == 1, done
            assert "removed" not in done.stdout
            assert cli.has(talk_id)
        # When the answer is yes (to a question naming the talk's title)
        done = cli.run("admin", "rm", talk_id, stdin="y\n")
        # Then it is removed
        assert done.returncode == 0, done.stderr
        assert f"remove {talk_id} (Asked before it goes)?" in done.stderr
        assert f"removed {talk_id}" in done.stdout
        # And a talk not in the programme is said so before any question
        gone = cli.run("admin", "rm", talk_id, stdin="y\n")
        assert gone.returncode == 1, gone
        assert_one_line_error(gone, "404")
        assert "?" not in gone.stderr  # nothing asked
    finally:
        cli.remove(talk_id)


def test_admin_rm_asks_about_a_talk_with_a_direction_control_as_it_shows_it(cli: Cli) -> None:
    # Given a talk saved before direction controls were refused (an override in its title)
    talk_id = unique_talk_id("rm-override")
    stored = PostgresTalkCatalog(PostgresDatabase(CLI_TALKS))
    stored.save(Talk(talk_id, "Saved \u202ebackwards", [], None))
    try:
        # When an organiser is asked whether to remove it
        kept = cli.run("admin", "rm", talk_id, stdin="n\n")
        # Then the question shows the control as its code point, not obeyed (the rest of the
        # question, its "?" and "[y/N]" would be turned around), and the talk stays
        assert kept.returncode == 1, kept
        assert "\u202e" not in kept.stderr
        assert f"remove {talk_id} (Saved <U+202E>backwards)?" in kept.stderr
        assert cli.has(talk_id)
    finally:
        stored.delete(talk_id)


def test_admin_rm_removes_several_talks_and_says_each(cli: Cli) -> None:
    # Given three talks of the programme, and an id the programme does not have
    talks = [cli.add(unique_talk_id("rm-several"), f"Talk {number}") for number in range(3)]
    missing = unique_talk_id("rm-missing")
    try:
        # When an organiser removes them in one command without --yes, answering no, then yes
        kept = cli.run("admin", "rm", talks[0], missing, talks[1], stdin="n\n")
        asked = cli.run("admin", "rm", talks[0], missing, talks[1], stdin="y\n")
        # Then one question names every talk of the programme with its title; "n" keeps them
        for done in (kept, asked):
            assert done.returncode == 1, done
            assert f"talkrate: {missing}: Talk not found (404)" in done.stderr
            assert f"  {talks[0]} (Talk 0)\n  {talks[1]} (Talk 1)\n" in done.stderr
            assert done.stderr.count("remove these 2 talks?") == 1
            assert "Traceback" not in done.stderr
        assert "removed" not in kept.stdout
        # And "y" removes both, each said, the missing one said too, and the exit status is 1
        assert asked.stdout == f"removed {talks[0]}\nremoved {talks[1]}\n"
        # (piped, the answer is not echoed: the last line follows the question's)
        assert (
            asked.stderr.strip()
            .splitlines()[-1]
            .endswith(f"talkrate: 1 of 3 talks not removed: {missing}")
        )
        assert not any(cli.has(talk_id) for talk_id in talks[:2])
        # When a script removes the last one and the missing one with --yes and --json
        done = cli.run("--json", "admin", "rm", missing, talks[2], "-y")
        # Then the missing one does not stop the other, and the document lists both outcomes
        assert done.returncode == 1, done
        document = json.loads(done.stdout)
        assert document["removed"] == [talks[2]]
        assert [(f["talk"], f["error"]["status"]) for f in document["failed"]] == [(missing, 404)]
        assert document["error"]["type"] == "urn:talkrate:cli:failed"
        assert not cli.has(talks[2])
        # And a question left for one talk of several says so in the singular
        cli.add(talks[2], "Talk 2")
        one_left = cli.run("admin", "rm", missing, talks[2], stdin="n\n")
        assert one_left.returncode == 1, one_left
        assert f"  {talks[2]} (Talk 2)\nremove this talk? [y/N]" in one_left.stderr
        assert cli.has(talks[2])
    finally:
        cli.remove(*talks)


def test_admin_rm_of_several_talks_all_there_exits_0(cli: Cli) -> None:
    talks = [cli.add(unique_talk_id("rm-all"), "Cleared") for _ in range(2)]
    # When both are removed in one command, the same id given twice
    done = cli.run("--json", "admin", "rm", talks[0], talks[1], talks[0], "--yes")
    # Then each is removed once, and the command succeeds
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"removed": talks, "failed": []}
    assert not any(cli.has(talk_id) for talk_id in talks)


# Every command's failures, and the outcomes that printed text under --json: (arguments, what
# stdin says, the environment's changes, the exit status, the error's type). "{api}" is the
# runtime's URL, "{file}" a CSV with a row the import refuses before sending anything.
JSON_OUTCOMES = [
    (("show", "no-such-talk"), None, {}, 1, "urn:talkrate:problem:talk-not-found"),
    (("rate", "no-such-talk", "3"), None, {}, 1, "urn:talkrate:problem:talk-not-found"),
    (("rate", "flight-of-the-gopher", "9"), None, {}, 2, "urn:talkrate:cli:usage"),
    (("no-such-command",), None, {}, 2, "urn:talkrate:cli:usage"),
    (("ops",), None, {}, 2, "urn:talkrate:cli:usage"),
    (("talks", "--track", "No Such Track"), None, {}, 1, "urn:talkrate:cli:failed"),
    (("top", "--track", "No Such Track"), None, {}, 1, "urn:talkrate:cli:failed"),
    (("--api", "http://127.0.0.1:9", "top"), None, {}, 1, "urn:talkrate:cli:unreachable"),
    (("--api", "{api}/app", "top"), None, {}, 1, "urn:talkrate:cli:failed"),
    (("--api", "htp:/nowhere", "talks"), None, {}, 2, "urn:talkrate:cli:bad-input"),
    (
        ("admin", "add", "flight-of-the-gopher", "--title", "Again"),
        None,
        {},
        1,
        "urn:talkrate:problem:talk-exists",
    ),
    (("admin", "edit", "flight-of-the-gopher"), None, {}, 2, "urn:talkrate:cli:usage"),
    (
        ("admin", "edit", "flight-of-the-gopher", "--title", " "),
        None,
        {},
        2,
        "urn:talkrate:cli:usage",
    ),
    (("admin", "rm", "flight-of-the-gopher"), "n\n", {}, 1, "urn:talkrate:cli:aborted"),
    (
        ("admin", "rm", "flight-of-the-gopher", "no-such-talk"),
        "n\n",
        {},
        1,
        "urn:talkrate:cli:aborted",
    ),
    (
        ("admin", "rm", "no-such-talk", "no-such-talk-2", "--yes"),
        None,
        {},
        1,
        "urn:talkrate:cli:failed",
    ),
    (
        ("admin", "rm", "flight-of-the-gopher", "--yes"),
        None,
        {"TALKRATE_ADMIN_TOKEN": "not-the-token"},
        1,
        "urn:talkrate:problem:forbidden",
    ),
    (("admin", "import", "{file}"), None, {}, 2, "urn:talkrate:cli:bad-input"),
    (("admin", "import", "/no/such/file.csv"), None, {}, 2, "urn:talkrate:cli:usage"),
    (("admin", "export", "-"), None, {}, 2, "urn:talkrate:cli:usage"),
    (("watch", "no-such-talk", "--poll"), None, {}, 1, "urn:talkrate:problem:talk-not-found"),
    (("simulate", "--talk", "no-such-talk"), None, {}, 1, "urn:talkrate:cli:failed"),
    (("ops", "redrive", "999999999"), None, {}, 2, "urn:talkrate:cli:bad-input"),
    (
        ("ops", "replay", "--topic", "t", "--partition", "0", "--first", "5", "--last", "1"),
        None,
        {},
        2,
        "urn:talkrate:cli:usage",
    ),
    (("--api", "https://x.example", "ops", "rebuild"), None, {}, 2, "urn:talkrate:cli:usage"),
    (("--version",), None, {}, 0, None),
    (("admin", "--help"), None, {}, 0, None),
]


@pytest.mark.parametrize(
    ("args", "stdin", "env", "status", "kind"),
    JSON_OUTCOMES,
    ids=[" ".join(outcome[0]) for outcome in JSON_OUTCOMES],
)
def test_with_json_every_outcome_is_one_json_document_on_stdout(
    cli: Cli,
    tmp_path: Path,
    args: tuple[str, ...],
    stdin: str | None,
    env: dict[str, str],
    status: int,
    kind: str | None,
) -> None:
    # (errors were JSON on stderr with nothing on stdout, or text: usage, --version, --help)
    refused_row = tmp_path / "refused.csv"
    refused_row.write_text("id,title\nnot an id!,A talk\n")
    given = [a.format(api=cli.env["TALKRATE_API"], file=refused_row) for a in args]
    # When a script runs the command with --json
    done = cli.run("--json", *given, stdin=stdin, **env)
    # Then it exits as without --json, and stdout is exactly one JSON document
    assert done.returncode == status, done.stdout + done.stderr
    document = json.loads(done.stdout)
    assert "Traceback" not in done.stderr
    if kind is None:
        assert "error" not in document
        return
    # And a failure is {"error": problem}: the API's problem document, or the command's in the
    # same fields; the person's one line stays on stderr
    error = document["error"]
    assert error["type"] == kind, error
    assert {"type", "title", "detail"} <= set(error)
    assert ("status" in error) == kind.startswith("urn:talkrate:problem:")
    assert "Usage:" not in error["detail"]  # what went wrong, not the whole help
    assert "talkrate: " in done.stderr.strip().splitlines()[-1]  # (after a question asked)


def test_an_address_that_is_not_the_api_is_said_in_one_line(cli: Cli) -> None:
    done = cli.run("--api", cli.env["TALKRATE_API"] + "/app", "talks")
    assert_one_line_error(done, "is it the API's base URL?")
    assert "unexpected" not in done.stderr


def test_a_voter_pass_that_cannot_be_kept_does_not_stop_the_rating(cli: Cli, talk: str) -> None:
    before = cli.count(talk)
    done = cli.run("rate", talk, "4", TALKRATE_CONFIG_DIR="/proc/talkrate-cannot-write-here")
    assert done.returncode == 0, done.stderr
    assert "could not keep the voter token" in done.stderr  # (it said "voter pass")
    assert "Traceback" not in done.stderr
    assert wait_for(lambda: cli.count(talk) == before + 1)


def test_watching_a_talk_that_is_removed_ends_and_says_so(cli: Cli) -> None:
    talk_id = cli.add(unique_talk_id("watched-removed"), "Removed while watched")
    # Given a speaker watching the talk (polling every half second)
    process = cli.start(
        "--json", "watch", talk_id, "--poll", "--interval", "0.5", "--duration", "60"
    )
    try:
        assert process.stdout is not None
        assert json.loads(process.stdout.readline())["talkId"] == talk_id
        # When an organiser removes it
        cli.remove(talk_id)
        # Then the watch ends within seconds, not at its 60 s deadline, saying why (exit 1)
        process.wait(timeout=20)
        assert process.returncode == 1
        assert process.stderr is not None
        assert f"{talk_id} was removed from the programme" in process.stderr.read()
        # And its JSON lines end with the error that ended it (it was on stderr only)
        last = process.stdout.read().splitlines()[-1]
        assert json.loads(last)["error"]["detail"] == f"{talk_id} was removed from the programme"
    finally:
        process.kill()
        process.wait()


def test_a_watch_behind_a_database_proxy_sees_its_talk_removed_at_its_next_look(
    cli: Cli, kafka_bootstrap: str, tmp_path: Path
) -> None:
    # Given an API behind a database proxy, as on AWS with RDS Proxy: it does not LISTEN for
    # removals, and says a talk it saw exists for 30 s more (its talk cache's TTL)
    proxied, token = start_admin_runtime(
        CLI_PROXIED_TALKS,
        cli_proxied_ratings(),
        kafka_bootstrap,
        tmp_path / "runtime.log",
        ["--param", "RdsProxyEndpoint=127.0.0.1"],
    )
    try:
        at = {"TALKRATE_API": proxied.url, "TALKRATE_ADMIN_TOKEN": token}
        talk_id = Cli(proxied, {**cli.env, **at}).add(unique_talk_id("proxied-removed"), "Removed")
        # And a speaker watching it (polling every half second)
        process = cli.start(
            "--json", "watch", talk_id, "--poll", "--interval", "0.5", "--duration", "60", **at
        )
        try:
            assert process.stdout is not None
            assert json.loads(process.stdout.readline())["talkId"] == talk_id
            # When an organiser removes it through another instance of the API (on AWS, any of
            # the function's instances but the one that answers the watch)
            removed = time.monotonic()
            remove_talk(
                PostgresTalkCatalog(PostgresDatabase(CLI_PROXIED_TALKS)),
                RedisReadModel(cli_proxied_ratings()),
                talk_id,
            )
            # Then the watch ends within seconds (it went on until the API's cache forgot the
            # talk, 30 s), saying why
            # (within 20 s: short of the cache's 30 s, and not thin on a loaded machine)
            process.wait(timeout=20)
            assert process.returncode == 1
            assert process.stderr is not None
            assert f"{talk_id} was removed from the programme" in process.stderr.read()
            assert time.monotonic() - removed < 20
        finally:
            process.kill()
            process.wait()
    finally:
        stop_runtime(proxied)
        redis.Redis.from_url(cli_proxied_ratings()).flushdb()


def test_a_watch_shows_the_talk_as_an_organiser_changed_it(cli: Cli, talk: str) -> None:
    # Given a speaker watching a talk in a terminal (polling every half second), its first
    # view drawn (read as it comes: the view of a watch into a file, written as it ends, had
    # the test wait out a duration long enough for the edit's own command on a loaded machine)
    with watch_in_a_terminal(cli, talk, "--poll", "--duration", "60", ctrl_c=True) as (
        process,
        primary,
    ):
        before = read_until(primary, r"updates", 15)
        assert "Rated from a terminal" in before, before
        # When an organiser renames it and moves it to another room
        cli.ok("admin", "edit", talk, "--title", "Renamed while watched", "--room", "Hall W")
        # Then the view shows the talk as it is now (it kept the title it began with)
        after = read_until(
            primary, r"(?s)Renamed while watched.*Hall W|Hall W.*Renamed while watched", 20
        )
        assert "Renamed while watched" in after, after
        assert "Hall W" in after, after
        # And Ctrl-C stops it as its duration would
        process.send_signal(signal.SIGINT)
        assert process.wait(10) == 0


@pytest.mark.parametrize("command", ["top", "talks"])
def test_a_track_the_programme_does_not_have_is_said_so(cli: Cli, command: str) -> None:
    # (`talks --track` said "no talks match", `top --track` named the tracks there are)
    done = cli.run(command, "--track", "No Such Track")
    assert_one_line_error(done, "no track 'No Such Track' in the programme; its tracks: ")
    # And with --json too, as an error document (it printed an empty list and exited 0)
    as_json = cli.run("--json", command, "--track", "No Such Track")
    assert as_json.returncode == 1
    assert (
        "no track 'No Such Track' in the programme" in json.loads(as_json.stdout)["error"]["detail"]
    )


@pytest.mark.parametrize(
    "command",
    [("admin", "export", "results.csv"), ("watch", "--leaderboard", "--poll", "--duration", "5")],
    ids=" ".join,
)
def test_export_and_watch_of_a_track_the_programme_does_not_have_say_so(
    cli: Cli, tmp_path: Path, command: tuple[str, ...]
) -> None:
    # Given an organiser who mistypes a track, as `top` and `talks` would be told
    args = [str(tmp_path / part) if part.endswith(".csv") else part for part in command]
    # When they export its results, or watch its leaderboard
    done = cli.run(*args, "--track", "No Such Track")
    # Then they are told (export wrote a results file of no talk and watch showed an empty
    # board until stopped, both exit 0), and no file is written
    assert_one_line_error(done, "no track 'No Such Track' in the programme; its tracks: ")
    assert not (tmp_path / "results.csv").exists()


@pytest.mark.parametrize(
    ("args", "said"),
    [
        # (both said "no talks to rate (the catalog is empty, or nothing matched)")
        (("--talk", "no-such-talk"), "not in the programme: no-such-talk"),
        (("--track", "No Such Track"), "no track 'No Such Track' in the programme; its tracks: "),
    ],
    ids=["talk", "track"],
)
def test_simulate_of_nothing_the_programme_has_names_what_it_lacks(
    cli: Cli, talk: str, args: tuple[str, ...], said: str
) -> None:
    # Given a simulation asked only for a talk or a track the programme does not have
    done = cli.run("simulate", *args, "-n", "5")
    # Then it names what is missing, as for one of two talks mistyped
    assert_one_line_error(done, said)


@pytest.mark.parametrize("encoding", ["latin-1", "utf-16", "utf-16-le", "utf-16-be"])
def test_an_import_of_a_file_that_is_not_utf8_says_how_to_save_it(
    cli: Cli, tmp_path: Path, encoding: str
) -> None:
    # Given a programme saved by a spreadsheet in another encoding (UTF-16 with its byte-order
    # mark, or without: a NUL after each letter, which UTF-8 reads)
    path = tmp_path / "programme.csv"
    # (the letters ASCII but in Latin-1: UTF-16 of them is valid UTF-8)
    title = "Café talk" if encoding == "latin-1" else "Cafe talk"
    path.write_bytes(f"id,title\ncafe-talk,{title}\n".encode(encoding))
    # When it is imported
    done = cli.run("admin", "import", "--dry-run", str(path))
    # Then it is refused, saying how to save it (without a byte-order mark, UTF-16 was told it
    # lacked a header line)
    assert done.returncode == 2, done
    assert_one_line_error(done, "programme.csv is not UTF-8 text", "save it", "'CSV UTF-8'")


@pytest.mark.parametrize(("content", "said"), FILE_FAULTS)
def test_an_import_says_a_file_s_fault_once_in_its_own_words(
    cli: Cli, tmp_path: Path, content: bytes, said: str
) -> None:
    # Given a programme file with one fault: a quote never closed in a row of too few cells, a
    # NUL in UTF-8 text, or a title of 200,000 characters without quotes
    path = tmp_path / "programme.csv"
    path.write_bytes(content)
    # When it is imported
    done = cli.run("admin", "import", "--dry-run", str(path))
    # Then that fault is said, once, in one line, as the organisers' page says it
    assert (done.returncode, done.stderr) == (2, f"talkrate: {said}\n"), done


def test_simulate_of_a_talk_the_programme_does_not_have_says_so(cli: Cli, talk: str) -> None:
    # Given a simulation asked for two talks, one of them mistyped
    before = cli.count(talk)
    done = cli.run("simulate", "--talk", talk, "--talk", "no-such-talk", "-n", "5")
    # Then it says so and sends nothing (it simulated the other talk alone, saying nothing)
    assert_one_line_error(done, "not in the programme: no-such-talk")
    # (a rating sent after it, once counted, proves any it sent counted: the talk's ratings are
    # projected in the order they were taken; a fixed wait passed one counted after it)
    barrier = cli.rate(talk, 3)
    assert wait_for(lambda: cli.projected(barrier))
    assert cli.count(talk) == before + 1


def test_an_empty_search_lists_the_whole_programme(cli: Cli) -> None:
    everything = cli.json("talks")
    assert everything
    assert cli.json("talks", "-q", "") == cli.json("talks", "-q", "  ") == everything
    assert cli.ok("talks", "-q", "").splitlines()[-1] == f"{len(everything)} talks"


def removed_from_the_catalog(ids: list[str]) -> None:
    """Talks a test imported by the thousand and nobody rated, removed in one statement: a
    DELETE each through the API (and its live announcement) took longer than the test."""
    database = PostgresDatabase(CLI_TALKS)
    try:
        database.run(lambda cursor: cursor.execute("DELETE FROM talks WHERE id = ANY(%s)", (ids,)))
    finally:
        database.close()


class RequestHeldProxy(LoopbackServer):
    """A forwarding proxy to the runtime that holds one request (`method` `path`) on its way:
    noted in `holding`, never forwarded, its connection closed unanswered at `release()`."""

    def __init__(self, runtime: Runtime, method: str, path: str) -> None:
        proxy = self
        self.holding = threading.Event()
        self.released = threading.Event()

        class Forward(ForwardingHandler):
            def relay(self) -> None:
                if (self.command, self.path) != (method, path):
                    super().relay()
                    return
                self.body()
                proxy.holding.set()
                # (released by the test; the bound only frees the thread of a test that failed
                # before it could)
                proxy.released.wait(120)
                self.close_connection = True

        Forward.runtime = runtime
        super().__init__(Forward)

    def release(self) -> None:
        self.released.set()

    def close(self) -> None:
        self.release()
        super().close()


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_an_import_interrupted_says_how_far_it_got(cli: Cli, tmp_path: Path, as_json: bool) -> None:
    # Given a programme of 5 talks being imported through a network that holds the second
    # talk's PUT on its way: Ctrl-C lands mid-import whatever the machine's speed (it raced a
    # programme of 300 talks, a PUT each, for that)
    suffix = unique_talk_id()[-8:]
    ids = [f"ctrlc-{suffix}-{n:04d}" for n in range(5)]
    programme = tmp_path / "programme.csv"
    programme.write_text("id,title\n" + "".join(f"{talk_id},Talk {talk_id}\n" for talk_id in ids))
    proxy = RequestHeldProxy(cli.runtime, "PUT", f"/talks/{ids[1]}")
    json_option = ["--json"] if as_json else []
    with ctrl_c_reaches_children():
        process = cli.start(*json_option, "admin", "import", str(programme), TALKRATE_API=proxy.url)
    try:
        # When the organiser presses Ctrl-C as the second talk is on its way, the first one in
        assert proxy.holding.wait(60), process.poll()
        process.send_signal(signal.SIGINT)
        out, said = process.communicate(timeout=30)
        # Then it stops (130), saying how many rows were done and that running it again finishes
        assert process.returncode == 130, said
        assert (
            "interrupted after 1 of 5 rows (1 created; the row on its way may be saved too); "
            "run it again to finish"
        ) in said, said
        assert cli.runtime.request("GET", f"/talks/{ids[0]}").status == 200
        if as_json:
            # And with --json as one document: the rows done, and the interruption (it was
            # a line on stderr only)
            document = json.loads(out)
            assert document["error"]["type"] == "urn:talkrate:cli:interrupted"
            assert document["created"] == ids[:1]
            assert document["updated"] == document["unchanged"] == document["failed"] == []
        else:
            # And running it again finishes it: the rest created, the first left as it is
            again = cli.run("--json", "admin", "import", str(programme), timeout=60)
            assert again.returncode == 0, again.stderr
            document = json.loads(again.stdout)
            assert (document["created"], document["unchanged"]) == (ids[1:], ids[:1])
            assert [cli.runtime.request("GET", f"/talks/{i}").status for i in ids] == [200] * 5
    finally:
        proxy.close()
        process.kill()
        process.wait()
        removed_from_the_catalog(ids)


def test_an_import_whose_api_goes_away_says_how_far_it_got(cli: Cli, tmp_path: Path) -> None:
    # Given a programme of 1,500 talks being imported through a network that then goes away
    suffix = unique_talk_id()[-8:]
    ids = [f"gone-{suffix}-{n:04d}" for n in range(1500)]
    programme = tmp_path / "programme.csv"
    programme.write_text("id,title\n" + "".join(f"{talk_id},Talk {talk_id}\n" for talk_id in ids))
    forwarder = Forwarder(cli.env["TALKRATE_API"])
    process = cli.start("--json", "admin", "import", str(programme), TALKRATE_API=forwarder.url)
    try:
        # When the API goes away once the first talk is in, and the command heard so (it puts
        # one talk at a time: the second is put only after the first one's answer came; the
        # first one in alone could have lost its answer to the forwarder's stop)
        assert wait_for(
            lambda: cli.runtime.request("GET", f"/talks/{ids[1]}").status == 200, seconds=60
        )
        forwarder.stop()
        out, said = process.communicate(timeout=60)
        # Then it fails (1) in one line that says it cannot reach the API, how many rows were
        # done and that running it again finishes (it said only "cannot reach the API")
        assert process.returncode == 1, said
        assert len(said.strip().splitlines()) == 1, said
        done = re.search(
            r"cannot reach the API .*; stopped after (\d+) of 1500 rows \(.*\); run it again",
            said,
        )
        assert done, said
        # And its JSON document holds the rows done beside the error
        document = json.loads(out)
        assert document["error"]["type"] == "urn:talkrate:cli:unreachable"
        kinds = ("created", "updated", "unchanged", "failed")
        assert sum(len(document[kind]) for kind in kinds) == int(done[1]) > 0
        assert document["created"] == ids[: len(document["created"])]
    finally:
        forwarder.stop()
        process.kill()
        process.wait()
        removed_from_the_catalog(ids)


def test_a_piped_listing_keeps_each_talk_on_one_line(cli: Cli) -> None:
    # Given a talk with a long title, and its listing piped into a script (not a terminal)
    talk_id = unique_talk_id("piped")
    title = "A Very Long Title " * 12 + "That Ends Here"
    cli.add(talk_id, title.strip(), track="Piped")
    try:
        listed = cli.ok("talks", "--track", "Piped").splitlines()
        # Then the talk is one line, its whole title in it (grep and awk see one record)
        [line] = [line for line in listed if talk_id in line]
        assert title.strip() in line
    finally:
        cli.remove(talk_id)


@contextlib.contextmanager
def ctrl_c_ignored_by_children() -> Iterator[None]:
    """Children started inside ignore Ctrl-C, as a shell's background job does (`cmd &`)."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


# The ways a simulation is stopped: (--json, the signal, the exit status, started as a background
# job: Ctrl-C ignored)
STOPS = {
    "text": (False, signal.SIGINT, 130, False),
    "json": (True, signal.SIGINT, 130, False),
    # `kill`, `timeout`, a supervisor: it ended at once, without a report (exit -15)
    "sigterm": (False, signal.SIGTERM, 143, False),
    # the same, of a background job
    "sigterm-background": (False, signal.SIGTERM, 143, True),
}


def test_a_simulation_stopped_with_ctrl_c_reports_what_it_sent(cli: Cli) -> None:
    # Given a steady simulated load of a minute for each way of stopping one, side by side
    talks = {way: cli.add(unique_talk_id("sim-ctrlc"), f"Simulated until {way}") for way in STOPS}
    runs: dict[str, subprocess.Popen[str]] = {}
    ended: dict[str, tuple[int, str, str]] = {}
    try:
        for way, (as_json, _, _, background) in STOPS.items():
            with ctrl_c_ignored_by_children() if background else ctrl_c_reaches_children():
                runs[way] = cli.start(
                    *(["--json"] if as_json else []),
                    "simulate",
                    "--talk",
                    talks[way],
                    "--rate",
                    "20",
                    "--duration",
                    "60",
                )
        for way, process in runs.items():
            # When the operator presses Ctrl-C (or sends SIGTERM) once its ratings are counted
            assert wait_for(partial(lambda talk_id: cli.count(talk_id) >= 5, talks[way]), 60)
            process.send_signal(STOPS[way][1])
        for way, process in runs.items():
            out, err = process.communicate(timeout=30)
            ended[way] = (process.returncode, out, err)
    finally:
        for process in runs.values():
            process.kill()
            process.wait()
        cli.remove(*talks.values())
    for way, (status, out, err) in ended.items():
        as_json, _, expected, _ = STOPS[way]
        # Then it stops at once (130; 143 for SIGTERM) with the report of what it sent, and
        # says so
        assert status == expected, (way, err)
        sent = re.search(r"interrupted after (\d+) of (\d+) requests", err)
        assert sent, (way, err)
        assert 5 <= int(sent[1]) < int(sent[2])
        assert "Traceback" not in err
        if as_json:
            # And with --json its figures and the interruption are one document (the figures
            # said nothing of it)
            document = json.loads(out)
            assert document["sent"] == int(sent[1])
            assert document["error"]["type"] == "urn:talkrate:cli:interrupted"
        else:
            assert re.search(r"sent \d+", out), (way, out)


class Forwarder:
    """A TCP port that forwards to the runtime's API until `stop()`, which closes it and every
    connection through it at once: an API that goes away as far as its client can tell."""

    def __init__(self, target_url: str) -> None:
        host_port = target_url.split("://", 1)[1].rstrip("/")
        self._target = (host_port.rsplit(":", 1)[0], int(host_port.rsplit(":", 1)[1]))
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._sockets: list[socket.socket] = [self._listener]
        self._stopped = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self._listener.accept()
                upstream = socket.create_connection(self._target)
            except OSError:
                return
            self._sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def stop(self) -> None:
        self._stopped.set()
        for each in self._sockets:
            with contextlib.suppress(OSError):
                each.shutdown(socket.SHUT_RDWR)
            each.close()


def test_a_simulation_whose_api_goes_away_stops_and_reports_what_it_sent(cli: Cli) -> None:
    # Given two verified simulations of a minute, one run by a person and one by a script
    # (--json), each through an API of its own (side by side: each waits out its API's silence)
    outputs = ("text", "json")
    talks = {o: cli.add(unique_talk_id("sim-gone"), f"Gone API ({o})") for o in outputs}
    forwarders = {o: Forwarder(cli.env["TALKRATE_API"]) for o in outputs}
    runs = {
        o: cli.start(
            *(["--json"] if o == "json" else []),
            "simulate",
            "--talk",
            talks[o],
            "--rate",
            "20",
            "--duration",
            "60",
            "--verify",
            "--give-up-after",
            "3",
            TALKRATE_API=forwarders[o].url,
        )
        for o in outputs
    }
    ended: dict[str, tuple[int, str, str]] = {}
    try:
        for o in outputs:
            # When its API goes away once ratings are counted
            assert wait_for(partial(lambda talk_id: cli.count(talk_id) >= 5, talks[o]), 60)
            forwarders[o].stop()
        for o, process in runs.items():
            out, err = process.communicate(timeout=90)
            ended[o] = (process.returncode, out, err)
    finally:
        for o, process in runs.items():
            process.kill()
            process.wait()
            forwarders[o].stop()
        cli.remove(*talks.values())
    for o, (status, out, err) in ended.items():
        # Then each run stops by itself, soon after the API's silence (it tried each planned
        # request for minutes before, and never reported), with the report of what it sent,
        # the reason, and no verification pretended
        assert status == 1, err
        reason = re.search(r"simulation stopped after (\d+) of (\d+) requests: (.*)", err)
        assert reason, err
        assert int(reason[1]) < int(reason[2])
        assert "the API has not answered for 3 s" in reason[3]
        assert reason[3].endswith("(not verified)")
        assert "Traceback" not in err
        if o == "json":
            # And with --json the report and the reason are one document (they were two)
            document = json.loads(out)
            assert document["accepted"] > 0
            assert document["error"]["detail"] == reason[0]
        else:
            assert re.search(r"sent \d+ · accepted [1-9]\d*", out), out


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("top", "-n", "0"), ("0 is not in the range 1<=x<=100", "(see `talkrate top --help`)")),
        (("watch",), ("give a TALK or --leaderboard", "(see `talkrate watch --help`)")),
        # (both said "give a TALK or --leaderboard", as for neither)
        (("watch", "t", "--leaderboard"), ("a TALK or --leaderboard, not both", "watch --help")),
        # (a talk id with a slash was sent, and said "Not found (404): no route has this path")
        (("show", "a/b"), ("'a/b' is not a talk id", "talkrate show --help")),
        # (--alone alone was taken and did nothing)
        (("simulate", "--alone"), ("--alone goes with --verify", "simulate --help")),
        # (--region alone was taken and did nothing: no stack to look for in it)
        (("--region", "eu-west-1", "talks"), ("--region goes with --stack", "talkrate --help")),
        (("--region", "eu-west-1", "ops", "check"), ("--region goes with --stack",)),
        # (a talk's view with --track watched the talk, the track unsaid and unused)
        (("watch", "t", "--track", "Main"), ("--track is for --leaderboard", "watch --help")),
        # (taken and unused: the talk's view lists no talks)
        (("watch", "t", "-n", "5"), ("--limit is for --leaderboard", "watch --help")),
        (("rate", "t", "9"), ("9 is not in the range 1<=x<=5", "talkrate rate --help")),
        (("no-such-command",), ("No such command 'no-such-command'", "talkrate --help")),
        (("ops", "replay"), ("give --failure REPORT", "talkrate ops replay --help")),
        # (a span beside a report was dropped without a word, the report replayed alone)
        (
            ("ops", "replay", "--failure", "/no/such/report.json", "--topic", "ratings"),
            ("not both", "--topic would be ignored", "talkrate ops replay --help"),
        ),
        (
            ("ops", "replay", "--topic", "ratings", "--partition", "0"),
            ("give --failure REPORT", "(--first, --last missing)", "ops replay --help"),
        ),
    ],
)
def test_a_usage_error_is_one_line_naming_the_help_to_read(
    cli: Cli, args: tuple[str, ...], words: tuple[str, ...]
) -> None:
    # (it was click's four lines: "Usage: ...", "Try ...", a blank line and the error)
    done = cli.run(*args)
    assert done.returncode == 2, done
    assert_one_line_error(done, *words)


def test_ops_refuses_an_api_or_a_stack_it_would_not_use(cli: Cli) -> None:
    # Given an operator who names a stack or an API for an ops command (which works on the
    # backends of the configuration, here the local ones)
    for given in (("--stack", "talkrate-prod"), ("--api", "https://ratings.example.org")):
        # When they run it
        done = cli.run(*given, "ops", "rebuild")
        # Then it is refused before anything runs, saying what ops works on
        assert done.returncode == 2, done
        assert f"{given[0]} is for the commands that go through the API" in done.stderr
        assert "TALKS_CONNECTION" in done.stderr
        assert "rebuild:" not in done.stdout
    # And TALKRATE_API in the environment (for the other commands) does not stop it
    said = cli.ok("ops", "rebuild", TALKRATE_API="https://ratings.example.org").splitlines()
    # And the rebuild says first which databases it reads and replaces (no credentials)
    from talkrate.locations import postgres_location, redis_location

    assert said[0] == (
        f"rebuild: from {postgres_location(CLI_TALKS)} into {redis_location(CLI_RATINGS)}"
    ), said


def projector_took_a_record(cli: Cli, talk: str) -> None:
    """The runtime's projector has taken a record of its topic, as a stack's has once it
    counted a rating: its consumer group has committed an offset there, which `ops relay`
    asks before it publishes into the topic."""
    from talkrate.adapters.kafka_stream import committed_topics
    from talkrate.config import Settings

    settings = Settings(streams_connection=cli.env["STREAMS_CONNECTION"])
    group, topic = cli.runtime.projector_group, cli.runtime.ratings_topic
    if topic in committed_topics(settings, group):
        return
    cli.ok("rate", talk, "3")
    deadline = time.monotonic() + 30
    while topic not in committed_topics(settings, group):
        assert time.monotonic() < deadline, f"{group} committed no offset of {topic} in 30 s"
        time.sleep(0.1)


def test_ops_relay_fails_while_the_stream_refuses_what_waits(cli: Cli, talk: str) -> None:
    from talkrate.adapters.postgres import PostgresOutbox
    from talkrate.events import Rating

    # Given a rating kept in the outbox (the stream did not take it when it was made), in a
    # catalog of its own: the runtime's relay drains CLI_TALKS's every minute, and did so once
    # between the two runs below
    projector_took_a_record(cli, talk)
    recreate(CLI_RELAY_TALKS)
    database = PostgresDatabase(CLI_RELAY_TALKS)
    PostgresOutbox(database).enqueue(Rating.new(talk, 4))
    database.close()
    # When the relay runs while the stream is unreachable, then once it is back
    down = cli.run(
        "ops",
        "relay",
        TALKS_CONNECTION=CLI_RELAY_TALKS,
        STREAMS_CONNECTION="127.0.0.1:1",
        PUBLISH_TIMEOUT_SECONDS="1",
    )
    back = cli.ok("ops", "relay", TALKS_CONNECTION=CLI_RELAY_TALKS)
    # Then the first says, in one line and a non-zero exit, that what waits was not taken (the
    # broker is asked first whether the projector consumes the topic)
    assert down.returncode == 1, down.stdout + down.stderr
    assert "relay: nothing published: Kafka at 127.0.0.1:1 is unreachable" in down.stderr
    assert len(down.stderr.strip().splitlines()) == 1
    # And the second publishes it
    assert "relay: published 1, still pending 0" in back, back


def test_ops_relay_beside_another_relay_run_leaves_it_its_entries_and_succeeds(
    cli: Cli, talk: str
) -> None:
    import psycopg2

    from talkrate.adapters.postgres import PostgresOutbox
    from talkrate.events import Rating

    # Given two ratings kept in the outbox (one no runtime relays), the newer held by another
    # relay run (the scheduled RelayFunction's transaction, as PostgresOutbox.relay holds them)
    projector_took_a_record(cli, talk)
    recreate(CLI_RELAY_TALKS)
    database = PostgresDatabase(CLI_RELAY_TALKS)
    for value in (4, 5):
        PostgresOutbox(database).enqueue(Rating.new(talk, value))
    database.close()
    other = psycopg2.connect(CLI_RELAY_TALKS)
    try:
        with other.cursor() as cursor:
            cursor.execute(
                "SELECT id FROM rating_outbox WHERE published_at IS NULL ORDER BY id DESC "
                "LIMIT 1 FOR UPDATE"
            )
        # When the operator relays meanwhile, as the runbook says, with the stream up
        done = cli.run("ops", "relay", TALKS_CONNECTION=CLI_RELAY_TALKS)
        document = json.loads(
            cli.run("--json", "ops", "relay", TALKS_CONNECTION=CLI_RELAY_TALKS).stdout
        )
    finally:
        other.rollback()
        other.close()
    # Then it succeeds, saying why one still waits (it failed, saying the event stream did not
    # acknowledge the next one, though it had taken everything it was given)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == (
        "relay: published 1, still pending 1: 1 held by another relay run, which publishes them"
    )
    # And its JSON says the same to a script
    assert document["pending"] == 1
    assert (document["streamFailed"], document["heldElsewhere"]) == (False, 1)


def test_simulate_200_attendees_verifies_every_count(cli: Cli) -> None:
    # Given a programme of eight talks open for rating (no times), imported for the run
    for n in range(8):
        cli.add(
            f"sim-{n}-{unique_talk_id()[-6:]}",
            f"Simulated talk {n}",
            speakers=[f"Speaker {n}"],
            track="Simulated",
            room=f"Room {n % 3}",
        )
    # When 200 attendees rate them (voter tokens, changed minds and bad requests among them)
    done = cli.run(
        "simulate",
        "--attendees",
        "200",
        "--seed",
        "7",
        "--slot-seconds",
        "1",
        "--track",
        "Simulated",
        "--verify",
        timeout=600,
    )
    # Then it ends with counted equal to expected and every talk agreeing, and exits 0
    assert done.returncode == 0, done.stdout + done.stderr
    assert "voter tokens yes" in done.stderr
    last = done.stdout.strip().splitlines()[-1]
    figures = re.fullmatch(r"sent (\d+), accepted (\d+), expected (\d+), counted (\d+)", last)
    assert figures, last
    sent, accepted, expected, counted = map(int, figures.groups())
    assert counted == expected > 0
    assert accepted > expected  # a changed mind replaced the attendee's earlier rating
    assert sent > accepted  # the deliberately bad ones were refused
    assert "every talk agrees" in done.stdout
    assert re.search(r"bad refused as expected [1-9]", done.stdout)
    assert "errors 0" in done.stdout
    # And the leaderboard of the track shows the talks it rated
    board = cli.json("top", "--track", "Simulated", "--limit", "8")["talks"]
    assert len(board) == 8
    assert sum(place["count"] for place in board) == counted


def test_a_terminal_that_cannot_write_every_character_still_gets_the_work_and_whole_data(
    cli: Cli,
) -> None:
    # Given a talk whose title an ASCII terminal (a latin-1 locale, Windows redirected) cannot
    # write
    talk_id = unique_talk_id("cjk")
    title = f"日本語のトーク ★ {talk_id[-6:]}"
    cli.add(talk_id, title)
    ascii_only = {"PYTHONIOENCODING": "ascii"}
    # When an attendee rates it there, Then it is rated and the command says so, exit 0 (it
    # rated, then failed printing the ★: "unexpected UnicodeEncodeError", exit 1)
    rated = cli.run("rate", talk_id, "4", **ascii_only)
    assert rated.returncode == 0, rated.stderr
    assert "unexpected" not in rated.stderr
    # And a table shows "?" for what it cannot write; JSON escapes it, whole
    listed = cli.run("talks", "-q", talk_id[-6:], **ascii_only)
    assert listed.returncode == 0, listed.stderr
    assert f"??????? ? {talk_id[-6:]}" in listed.stdout
    shown = cli.run("--json", "show", talk_id, **ascii_only)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.isascii()
    assert json.loads(shown.stdout)["talk"]["title"] == title
    # And the results written to stdout are UTF-8 whatever the terminal, every row whole
    exported = cli.run("admin", "export", "-", **ascii_only)
    assert exported.returncode == 0, exported.stderr
    assert title in exported.stdout


def test_a_global_option_given_after_the_command_is_said_where_it_goes(cli: Cli) -> None:
    # When a script asks for JSON after the command, Then it is told where --json goes (click
    # said only "No such option '--json'"), as a usage error (2), in JSON as it asked
    done = cli.run("show", "testcontainers-integration-testing", "--json")
    assert done.returncode == 2, done.stderr
    assert "--json goes before the command: `talkrate --json …`" in done.stderr
    assert json.loads(done.stdout)["error"]["type"] == "urn:talkrate:cli:usage"
    # And an option no command has still points to the command's help
    bogus = cli.run("show", "testcontainers-integration-testing", "--bogus")
    assert "(see `talkrate show --help`)" in bogus.stderr


def test_simulate_verify_fails_when_no_rating_was_accepted(cli: Cli) -> None:
    # Given a track whose only talk closed its rating days ago
    track = f"Closed {unique_talk_id()[-6:]}"
    ended = datetime.now(UTC) - timedelta(days=3)
    cli.add(
        unique_talk_id("closed"),
        "Long over",
        track=track,
        startsAt=(ended - timedelta(hours=1)).isoformat(),
        endsAt=ended.isoformat(),
    )
    # When a verified simulation of that track runs, every rating refused (409)
    done = cli.run("--json", "simulate", "-n", "5", "--track", track, "--verify", timeout=120)
    # Then it fails, saying nothing was verified (it said "every talk agrees" and exited 0)
    assert done.returncode == 1, done.stdout + done.stderr
    figures = json.loads(done.stdout)
    assert figures["accepted"] == 0
    assert figures["verified"] is False
    assert "nothing was verified" in done.stderr


def ratings_from_now_on(cli: Cli, kafka_bootstrap: str) -> Any:
    """A consumer of the runtime's ratings topic, from its end as it is now (the caller closes
    it): the records sent from now on."""
    from kafka import KafkaConsumer, TopicPartition

    topic = next(
        str(a).split("=", 1)[1] for a in cli.runtime.process.args if "RatingsTopic=" in str(a)
    )
    stream = KafkaConsumer(
        bootstrap_servers=kafka_bootstrap, enable_auto_commit=False, fetch_max_wait_ms=100
    )
    partitions = [TopicPartition(topic, p) for p in stream.partitions_for_topic(topic) or ()]
    assert partitions, topic
    stream.assign(partitions)
    stream.seek_to_end()
    for partition in partitions:
        stream.position(partition)  # the end as it is now
    return stream


def test_simulate_verify_sets_apart_what_others_rate_and_fails_on_a_count_no_rating_made(
    cli: Cli, kafka_bootstrap: str
) -> None:
    from talkrate.adapters.redis_store import histogram_key

    # Given three verified simulations at once (each waits out its own seconds of ratings and
    # of the projector: side by side they take the time of one), each rating a talk of its own,
    # the third told that nobody else rates its talk (--alone); the count changed first, while
    # its run still sends (its verdict waits for the talk's revision to show every one of the
    # run's ratings applied, so ratings still on their way cannot hide the change)
    meanwhile = ("a count changes", "others rate", "others rate --alone")
    talks = {
        m: cli.add(unique_talk_id("sim-shared"), f"Rated by the crowd: {m}") for m in meanwhile
    }
    # (the runtime's ratings topic read from its end: a talk's first record there says its run
    # is past its baseline and sending, which its counts say only once the projector caught up)
    stream = ratings_from_now_on(cli, kafka_bootstrap)
    started = time.monotonic()
    runs = {
        m: cli.start(
            "--json",
            "simulate",
            "--talk",
            talks[m],
            "--rate",
            "10",
            "--duration",
            "4",
            "--verify",
            "--verify-timeout",
            "60",
            *(["--alone"] if m.endswith("--alone") else []),
        )
        for m in meanwhile
    }
    ended: dict[str, tuple[int, Any, str]] = {}
    first_sent: dict[str, float] = {}  # when each talk's first rating went onto the stream
    held_at: dict[str, tuple[float, float]] = {}  # when each run was held: since its start,
    # and since its first rating went out
    outside: dict[str, list[str]] = {m: [] for m in meanwhile}  # the others' ratings' eventIds
    done: dict[str, float] = {}  # how long each run was held

    def meanwhile_once_past_its_baseline() -> bool:
        # When, while each runs, other attendees rate its talk through the API: each as soon
        # as the run is past its baseline (a rating of its own on the stream: it sends only
        # once its baseline is read), all three watched at once. The run is held still
        # (SIGSTOP) until the others' ratings are projected: its verdict, which waits for every
        # rating of its own to be projected, then holds them however slow a loaded machine is.
        for records in stream.poll(timeout_ms=100).values():
            for record in records:
                if record.key:
                    first_sent.setdefault(record.key.decode(), record.timestamp / 1000)
        for m, talk_id in talks.items():  # every run seen sending is held before anything else
            if m not in held_at and talk_id in first_sent:
                runs[m].send_signal(signal.SIGSTOP)
                held_at[m] = (time.monotonic() - started, time.time() - first_sent[talk_id])
        for m in held_at.keys() - done.keys():  # one request each, then the stream again
            talk_id = talks[m]
            if m == "a count changes":
                # (the talk's count changes with no rating applied: a count that is no one's)
                redis.Redis.from_url(CLI_RATINGS).hincrby(histogram_key(talk_id), "2", 3)
            elif len(outside[m]) < 4:
                outside[m].append(cli.rate(talk_id, 1))
                continue
            elif not all(cli.projected(event_id) for event_id in outside[m]):
                continue
            runs[m].send_signal(signal.SIGCONT)
            done[m] = time.monotonic() - started - held_at[m][0]
        return len(done) == len(talks)

    try:
        assert wait_for(meanwhile_once_past_its_baseline, seconds=60)
        for m, process in runs.items():
            out, err = process.communicate(timeout=120)
            ended[m] = (process.returncode, json.loads(out), err)
    finally:
        stream.close()
        for process in runs.values():
            process.kill()
            process.wait()
        cli.remove(*talks.values())
    # (how early each run was held: how long after its first rating went out, and for how long)
    print(
        "\n  simulate --verify beside others: "
        + "; ".join(
            f"{m}: held at {held_at[m][0]:.1f} s, {held_at[m][1]:.2f} s after its first rating "
            f"went out, for {done[m]:.1f} s"
            for m in meanwhile
        )
    )
    # Then the run whose talk others rated verifies, the others' ratings reported apart (they
    # were a disagreement)
    talk_id = talks["others rate"]
    status, figures, err = ended["others rate"]
    assert status == 0, (figures, err)
    assert figures["verified"] is True
    assert figures["counted"] == figures["expected"] > 0
    assert figures["outside"] == {talk_id: {"ratings": 4, "change": {"1": 4}}}
    assert err.strip().splitlines()[-1].endswith(", from outside 4")
    # And the run whose talk's count changed fails verify, the talk disagreeing by the 3
    # nobody sent
    talk_id = talks["a count changes"]
    status, figures, err = ended["a count changes"]
    assert status == 1, (figures, err)
    assert figures["verified"] is False
    assert figures["outside"] == {}
    expected, counted = figures["disagreeing"][talk_id].values()
    assert counted["2"] - expected["2"] == 3
    assert figures["error"]["type"] == "urn:talkrate:cli:failed"
    # once every rating of the run was projected, without waiting out its timeout
    assert figures["projectorSeconds"] < 30, figures
    # And the run told nobody else rates fails verify on the 4 it did not send
    talk_id = talks["others rate --alone"]
    status, figures, err = ended["others rate --alone"]
    assert status == 1, (figures, err)
    assert figures["verified"] is False
    assert figures["outside"] == {}
    expected, counted = figures["disagreeing"][talk_id].values()
    assert counted["1"] - expected["1"] == 4
    assert figures["projectorSeconds"] < 30, figures


def test_simulate_verify_fails_on_a_lost_rating_that_one_from_outside_of_its_value_hides(
    cli: Cli, kafka_bootstrap: str
) -> None:
    from talkrate.adapters.redis_store import histogram_key

    # Given a verified simulation rating a talk of its own (no voter tokens: each rating counts);
    # its verify waits out its whole timeout for the lost rating (still "accepted": it may yet
    # be projected), so the timeout is only what the run's other ratings need to be projected
    # (a second or two after its last is sent, on a loaded machine)
    talk_id = cli.add(unique_talk_id("sim-lost"), "A rating lost, one from outside in its place")
    stream = ratings_from_now_on(cli, kafka_bootstrap)
    run = cli.start(
        "--json",
        "simulate",
        "--talk",
        talk_id,
        "--no-tokens",
        "--rate",
        "10",
        "--duration",
        "3",
        "--bad-share",
        "0",
        "--verify",
        "--verify-timeout",
        "8",
    )
    seen: list[Any] = []

    def the_run_s_first_rating() -> list[Any]:
        for records in stream.poll(timeout_ms=100).values():
            seen.extend(r for r in records if r.key == talk_id.encode())
        return seen[:1]

    try:
        # When its first rating is on the stream, the run is held (still sending, its verify
        # to come) while that rating is lost once counted: gone from the event store, and its
        # count and the revision it raised taken back in the read model (as a record the
        # broker never delivered is lost: the README's known problem of `--broker s3`)
        [record] = wait_for(the_run_s_first_rating, seconds=60)
        run.send_signal(signal.SIGSTOP)
        lost = json.loads(record.value)
        assert wait_for(lambda: cli.projected(lost["eventId"]), seconds=30)
        database = PostgresDatabase(CLI_TALKS)
        database.run(
            lambda cursor: cursor.execute(
                "DELETE FROM rating_events WHERE event_id = %s", (lost["eventId"],)
            )
        )
        database.close()
        read_model = redis.Redis.from_url(CLI_RATINGS)
        read_model.hincrby(histogram_key(talk_id), str(lost["value"]), -1)
        read_model.hincrby(histogram_key(talk_id), "revision", -1)
        # And another attendee rates the talk the same value meanwhile
        outside = cli.rate(talk_id, lost["value"])
        assert wait_for(lambda: cli.projected(outside), seconds=30)
        run.send_signal(signal.SIGCONT)
        out, err = run.communicate(timeout=120)
    finally:
        stream.close()
        run.kill()
        run.wait()
        cli.remove(talk_id)
    # Then verify fails, though the counts agree and the talk's revision shows as many
    # ratings applied as the run's (it said "verified": the outside rating hid the loss)
    figures = json.loads(out)
    assert run.returncode == 1, (figures, err)
    assert figures["verified"] is False
    assert (figures["counted"], figures["disagreeing"]) == (figures["expected"], {})
    # And it names the talk, and the lost rating as not counted
    assert figures["unprojected"] == {talk_id: 1}
    assert figures["whereabouts"][talk_id]["accepted"] == [lost["eventId"]]


def test_stack_names_the_api_through_its_cloudformation_outputs(
    cli: Cli, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a stack whose ApiUrl output is the runtime (CloudFormation from moto), and a shell
    # whose TALKRATE_API names another API (an explicit --stack wins over it)
    monkeypatch.setenv("TALKRATE_API", "http://127.0.0.1:9")
    with mock_aws():
        boto3.client("cloudformation", region_name="eu-west-1").create_stack(
            StackName="talkrate-stage",
            TemplateBody=json.dumps(
                {
                    "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
                    "Outputs": {"ApiUrl": {"Value": cli.runtime.url}},
                }
            ),
        )
        # When the command is pointed at the stack, and at one that does not exist
        listed = main(["--stack", "talkrate-stage", "--region", "eu-west-1", "--json", "talks"])
        talks = json.loads(capsys.readouterr().out)
        missing = main(["--stack", "no-such-stack", "--region", "eu-west-1", "talks"])
        error = capsys.readouterr().err
    # Then it reads the programme from the stack's API, and a missing stack is one line
    assert listed == 0
    assert "testcontainers-integration-testing" in {t["id"] for t in talks}
    assert missing == 1
    assert error.startswith("talkrate: stack no-such-stack:")
    assert len(error.strip().splitlines()) == 1


@pytest.fixture(scope="module")
def attendee_cli(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cli]:
    """The command against a runtime set as a deployment is: VotingPolicy attendee, and a venue
    in Berlin (EventTimeZone: untimed talks, as these tests rate, are open whatever the zone;
    venue_cli runs the command on the same runtime from a machine set to New York)."""
    folder = tmp_path_factory.mktemp("cli-attendee")
    yield from cli_on_runtime(
        CLI_ATTENDEE_TALKS,
        CLI_ATTENDEE_RATINGS,
        kafka_bootstrap,
        folder,
        ["--param", "VotingPolicy=attendee", "--param", "EventTimeZone=Europe/Berlin"],
    )


@pytest.fixture
def short_pass_cli(kafka_bootstrap: str, tmp_path: Path) -> Iterator[Cli]:
    """The command against attendee voting whose voter passes last 10 s, renewed in their last
    8 s (from their 3rd second)."""
    from tests.backends import SHORT_PASSES_RATINGS, SHORT_PASSES_TALKS

    runtime, token = start_pass_runtime(
        SHORT_PASSES_TALKS,
        SHORT_PASSES_RATINGS,
        kafka_bootstrap,
        tmp_path / "runtime.log",
        10,
        VOTER_TOKEN_RENEW_SHARE="0.8",
    )
    yield Cli.of(runtime, tmp_path / "config", token)
    stop_runtime(runtime)


@pytest.fixture
def brief_pass_cli(kafka_bootstrap: str, tmp_path: Path) -> Iterator[Cli]:
    """The command against attendee voting whose voter passes last 6 s (a `rate` asks for one
    and rates with it within a second or two, even on a loaded machine)."""
    from tests.backends import BRIEF_PASSES_TALKS, brief_passes_ratings

    runtime, token = start_pass_runtime(
        BRIEF_PASSES_TALKS, brief_passes_ratings(), kafka_bootstrap, tmp_path / "runtime.log", 6
    )
    yield Cli.of(runtime, tmp_path / "config", token)
    stop_runtime(runtime)


def test_rate_renews_a_pass_near_its_expiry_and_says_when_one_expired_unrenewed(
    short_pass_cli: Cli,
) -> None:
    cli = short_pass_cli
    kept = Path(cli.env["TALKRATE_CONFIG_DIR"]) / "voters.json"

    def kept_pass() -> tuple[str, datetime]:
        [entry] = json.loads(kept.read_text()).values()
        expires = datetime.fromisoformat(entry["expiresAt"].replace("Z", "+00:00"))
        return entry["voterToken"].split(".")[1], expires

    # Given an attendee who rated 5 from the terminal with a pass of 10 s (renewed in its last 8)
    talk = "testcontainers-integration-testing"
    cli.ok("rate", talk, "5")
    voter, expires = kept_pass()
    # When, with 7 s of it left, they change their mind to 1
    time.sleep(max(0.0, (expires - datetime.now(UTC)).total_seconds() - 7))
    changed = cli.run("rate", talk, "1")
    # Then the pass was renewed quietly: the same voter, a later expiry, one rating counted
    assert changed.returncode == 0, changed.stderr
    assert changed.stderr == ""
    renewed_voter, renewed_expiry = kept_pass()
    assert (renewed_voter, renewed_expiry > expires) == (voter, True)
    assert wait_for(lambda: cli.ratings(talk) == {"1": 1, "2": 0, "3": 0, "4": 0, "5": 0})
    # When the renewed pass expires unrenewed, and they rate 3
    time.sleep(max(0.0, (renewed_expiry - datetime.now(UTC)).total_seconds() + 1))
    late = cli.run("rate", talk, "3")
    # Then a new voter rated, and the command said this rating counts beside the earlier ones
    assert late.returncode == 0, late.stderr
    assert "expired before it was renewed" in late.stderr
    assert "counts beside your earlier ones" in late.stderr
    assert kept_pass()[0] != voter
    assert wait_for(lambda: cli.ratings(talk) == {"1": 1, "2": 0, "3": 1, "4": 0, "5": 0})


def test_rate_takes_the_new_pass_its_renewal_is_answered_when_the_service_finds_it_expired(
    brief_pass_cli: Cli, tmp_path: Path
) -> None:
    cli = brief_pass_cli
    kept = Path(cli.env["TALKRATE_CONFIG_DIR"]) / "voters.json"
    log = tmp_path / "runtime.log"  # the runtime's (brief_pass_cli's): its gateway's lines

    def passes_asked() -> int:
        return log.read_text().count("[gateway] POST /voters ")

    # Given an attendee who rated 5 from the terminal with a pass of 6 s
    talk = "flight-of-the-gopher"
    cli.ok("rate", talk, "5")
    [entry] = json.loads(kept.read_text()).values()
    voter = entry["voterToken"].split(".")[1]
    expires = datetime.fromisoformat(entry["expiresAt"].replace("Z", "+00:00"))
    assert wait_for(lambda: cli.ratings(talk)["5"] == 1)
    # And the pass expired, though the kept record of it says it is still valid and due for
    # renewal (the service's clock is the one that counts)
    time.sleep(max(0.0, (expires - datetime.now(UTC)).total_seconds() + 1))
    now = datetime.now(UTC)
    record = {
        **entry,
        "expiresAt": f"{now + timedelta(minutes=10):%Y-%m-%dT%H:%M:%SZ}",
        "renewAfter": f"{now:%Y-%m-%dT%H:%M:%SZ}",
    }
    kept.write_text(json.dumps({cli.runtime.url: record}))
    before = passes_asked()
    # When they rate 3
    late = cli.run("rate", talk, "3")
    # Then the renewal's answer, a new voter's pass, is the one rated with and kept: one POST
    # /voters, none more spent of the address's limit
    assert late.returncode == 0, late.stderr
    assert passes_asked() - before == 1
    [now_kept] = json.loads(kept.read_text()).values()
    assert now_kept["voterToken"].split(".")[1] != voter
    # And it said the 3 counts beside the earlier 5, which both count
    assert "counts beside your earlier ones" in late.stderr
    assert wait_for(lambda: cli.ratings(talk) == {"1": 0, "2": 0, "3": 1, "4": 0, "5": 1})


def test_a_voters_file_that_cannot_be_read_is_kept_aside_and_said(attendee_cli: Cli) -> None:
    # Given an attendee whose kept voter tokens were cut short (a disk full, an edit)
    kept = Path(attendee_cli.env["TALKRATE_CONFIG_DIR"]) / "voters.json"
    kept.parent.mkdir(parents=True, exist_ok=True)
    kept.write_text('{"http://127.0.0.1": {"voterTok')
    # When they rate, Then the rating is made with a new token, and they are told why their
    # earlier ratings now count beside it (it was written over without a word)
    done = attendee_cli.run("rate", "testcontainers-integration-testing", "3")
    assert done.returncode == 0, done.stderr
    assert "voters.json could not be read" in done.stderr
    assert "a new voter token is asked for" in done.stderr
    # And the unreadable file is kept beside the new one, as it was
    [aside] = kept.parent.glob("voters.unreadable-*.json")
    assert aside.read_text() == '{"http://127.0.0.1": {"voterTok'
    assert json.loads(kept.read_text())
    # And the next rating is quiet
    again = attendee_cli.run("rate", "testcontainers-integration-testing", "4")
    assert again.returncode == 0, again.stderr
    assert again.stderr == ""


def test_rate_gets_a_voter_token_keeps_it_and_the_newest_rating_counts(
    attendee_cli: Cli,
) -> None:
    # Given a runtime where a rating needs a voter token
    talk_id = "testcontainers-integration-testing"
    kept = Path(attendee_cli.env["TALKRATE_CONFIG_DIR"]) / "voters.json"
    # When an attendee rates a talk, then changes their mind
    attendee_cli.ok("rate", talk_id, "2")
    first_token = json.loads(kept.read_text())[attendee_cli.runtime.url]["voterToken"]
    attendee_cli.ok("rate", talk_id, "5")
    # Then one token was got and kept (readable by its owner only), and only the newest counts
    assert json.loads(kept.read_text())[attendee_cli.runtime.url]["voterToken"] == first_token
    assert kept.stat().st_mode & 0o077 == 0
    assert wait_for(lambda: attendee_cli.ratings(talk_id)["5"] == 1)
    assert attendee_cli.ratings(talk_id) == {"1": 0, "2": 0, "3": 0, "4": 0, "5": 1}


def test_simulate_verifies_under_the_attendee_policy(attendee_cli: Cli) -> None:
    done = attendee_cli.run(
        "simulate",
        "--attendees",
        "40",
        "--seed",
        "3",
        "--slot-seconds",
        "0.5",
        "--verify",
        "--talk",
        "testcontainers-integration-testing",
        "--talk",
        "flight-of-the-gopher",
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "voter tokens yes" in done.stderr
    last = done.stdout.strip().splitlines()[-1]
    sent, accepted, expected, counted = map(int, re.findall(r"\d+", last))
    assert sent >= accepted >= expected
    assert counted == expected > 0
    # Without voter tokens it refuses before sending anything (the app's config.json names the
    # policy), saying why
    refused = attendee_cli.run("simulate", "--attendees", "5", "--no-tokens")
    assert refused.returncode == 1
    last = refused.stderr.strip().splitlines()[-1]
    assert last == "talkrate: the voting policy is attendee: ratings need voter tokens", last
    assert "Traceback" not in refused.stderr


@pytest.fixture(scope="module")
def one_pass_cli(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cli]:
    """The command against open voting (ratings without a pass count, each) that hands one voter
    pass a minute to an address: a conference network's limit, met by one attendee."""
    folder = tmp_path_factory.mktemp("cli-one-pass")
    yield from cli_on_runtime(
        CLI_LIMITS_TALKS,
        CLI_LIMITS_RATINGS,
        kafka_bootstrap,
        folder,
        ["--param", "VotingPolicy=open", "--param", "VotersPerAddressPerMinute=1"],
    )


def voter_passes_back_in(milliseconds: int | None) -> None:
    """This address's voter passes come back in `milliseconds` (its minute's counter ends
    then), or at once (None: the counter goes)."""
    limits = redis.Redis.from_url(CLI_LIMITS_RATINGS)
    try:
        for key in limits.scan_iter(match=f"{LIMIT_PREFIX}voters-address/*"):
            if milliseconds is None:
                limits.delete(key)
            else:
                assert limits.pexpire(key, milliseconds)
    finally:
        limits.close()


def rated_by_two_attendees(one_pass_cli: Cli, tmp_path: Path) -> tuple[str, dict[str, str]]:
    """A talk another attendee rated 3, taking this network's one pass of the minute; and the
    environment of an attendee of their own (no pass kept yet)."""
    voter_passes_back_in(None)
    talk_id = one_pass_cli.add(unique_talk_id("one-pass"), "Crowded hall, open voting")
    voter = one_pass_cli.runtime.request("POST", "/voters", "{}")
    assert voter.status == 201, voter.body
    one_pass_cli.rate(talk_id, 3, **{"Voter-Token": voter.json["voterToken"]})
    return talk_id, {"TALKRATE_CONFIG_DIR": str(tmp_path / "attendee")}


def test_under_open_voting_a_rating_waits_for_its_pass_and_a_changed_mind_counts_once(
    one_pass_cli: Cli, tmp_path: Path
) -> None:
    # Given a talk, and this network's one voter pass of the minute taken by another
    # attendee's rating, the minute nearly over
    talk_id, attendee = rated_by_two_attendees(one_pass_cli, tmp_path)
    voter_passes_back_in(2000)
    # When an attendee on the same network rates 5 (POST /voters: 429, Retry-After 2), then
    # changes their mind to 1
    first = one_pass_cli.run("rate", talk_id, "5", **attendee)
    second = one_pass_cli.run("rate", talk_id, "1", **attendee)
    # Then the 5 waited for its pass and went with it, which was kept for the 1
    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    assert json.loads((tmp_path / "attendee" / "voters.json").read_text())
    # And two ratings count: the other attendee's 3 and this attendee's 1 (not their 5 too)
    wanted = {"1": 1, "2": 0, "3": 1, "4": 0, "5": 0}
    assert wait_for(lambda: one_pass_cli.ratings(talk_id) == wanted), one_pass_cli.ratings(talk_id)
    one_pass_cli.remove(talk_id)


def test_under_open_voting_a_pass_not_to_be_had_soon_rates_nothing_and_says_when(
    one_pass_cli: Cli, tmp_path: Path
) -> None:
    # Given a talk, and this network's one voter pass of the minute taken by another
    # attendee's rating, for a minute yet
    talk_id, attendee = rated_by_two_attendees(one_pass_cli, tmp_path)
    voter_passes_back_in(60_000)
    # When an attendee on the same network rates 5, as a person and as a script
    refused = one_pass_cli.run("rate", talk_id, "5", **attendee)
    scripted = one_pass_cli.run("--json", "rate", talk_id, "5", **attendee)
    # Then nothing is rated, said in one line as `simulate` says it: the limit, that nothing
    # was sent, when to try again (exit 1; it named no limit)
    assert_one_line_error(refused, "the voter pass got 429: over the API's limit of voter passes")
    assert refused.returncode == 1
    line = refused.stderr.strip().splitlines()[-1]
    assert "(VotersPerAddressPerMinute)" in line, line
    assert "nothing was sent" in line, line
    assert re.search(r"back in (5\d|60) s; rate again then", line), line
    assert scripted.returncode == 1
    assert "nothing was sent" in json.loads(scripted.stdout)["error"]["detail"]
    # And once the passes are back, their 2 counts beside the other's 3, and no 5 ever did
    voter_passes_back_in(None)
    one_pass_cli.ok("rate", talk_id, "2", **attendee)
    wanted = {"1": 0, "2": 1, "3": 1, "4": 0, "5": 0}
    assert wait_for(lambda: one_pass_cli.ratings(talk_id) == wanted), one_pass_cli.ratings(talk_id)
    one_pass_cli.remove(talk_id)


def test_simulate_whose_first_voter_pass_is_over_the_limit_says_which_and_what_to_do(
    one_pass_cli: Cli, tmp_path: Path
) -> None:
    # Given a talk, and this network's one voter pass of the minute taken, for a minute yet
    talk_id, attendee = rated_by_two_attendees(one_pass_cli, tmp_path)
    voter_passes_back_in(60_000)
    # When a crowd is simulated from the same network
    done = one_pass_cli.run(
        "simulate", "--attendees", "3", "--talk", talk_id, "--slot-seconds", "0.2",
        "--bad-share", "0", "--seed", "3", **attendee,
    )  # fmt: skip
    # Then it fails in one line naming the limit, that nothing was sent, when the passes are
    # back and what to do (it said "not rated: no voter pass now (too many asked for from this
    # network)", `rate`'s words, naming no limit)
    assert done.returncode == 1, done.stdout + done.stderr
    assert_one_line_error(
        done, "the first attendee's voter pass got 429: over the API's limit of voter passes"
    )
    line = done.stderr.strip().splitlines()[-1]
    for part in (
        "(VotersPerAddressPerMinute)",
        "nothing was sent",
        "--code",
        "--attendees",
        "--rate",
        "--no-tokens",
        "make run RUN_ARGS='--param VotersPerAddressPerMinute=0'",
    ):
        assert part in line, line
    assert re.search(r"passes from this address are back in (5\d|60) s", line), line
    # And no rating of the crowd counted: only the other attendee's 3
    wanted = {"1": 0, "2": 0, "3": 1, "4": 0, "5": 0}
    assert wait_for(lambda: one_pass_cli.ratings(talk_id) == wanted), one_pass_cli.ratings(talk_id)
    one_pass_cli.remove(talk_id)


def test_simulate_without_tokens_counts_every_rating(cli: Cli) -> None:
    for n in range(3):
        cli.add(f"open-{n}-{unique_talk_id()[-6:]}", f"Open talk {n}", track="Untokened")
    done = cli.run(
        "--json",
        "simulate",
        "--attendees",
        "40",
        "--seed",
        "5",
        "--slot-seconds",
        "0.5",
        "--track",
        "Untokened",
        "--no-tokens",
        "--verify",
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    figures = json.loads(done.stdout)
    assert figures["voterTokens"] == 0
    assert figures["counted"] == figures["expected"] == figures["accepted"] > 0
    assert figures["verified"] is True
    assert done.stderr.strip().splitlines()[-1] == (
        f"sent {figures['sent']}, accepted {figures['accepted']}, "
        f"expected {figures['expected']}, counted {figures['counted']}"
    )


class VotersBusyProxy(LoopbackServer):
    """A forwarding proxy to the runtime that answers POST /voters 503 (Retry-After: 1) after
    the first, `busy` times: the API busy, or stopping."""

    def __init__(self, runtime: Runtime, busy: int) -> None:
        proxy = self
        self.voters = 0

        class Forward(ForwardingHandler):
            def relay(self) -> None:
                if self.command == "POST" and self.path == "/voters":
                    proxy.voters += 1
                    if 1 < proxy.voters <= 1 + busy:
                        self.body()
                        problem = json.dumps({"title": "Unavailable", "status": 503}).encode()
                        headers = {"content-type": "application/problem+json", "retry-after": "1"}
                        self.answer(503, headers, problem)
                        return
                super().relay()

        Forward.runtime = runtime
        super().__init__(Forward)


def crowd_of_three_verified(talk_id: str) -> tuple[str, ...]:
    """`simulate` of three attendees who all rate `talk_id` (seed 3: unseeded, each rates at 0.6,
    and a crowd of attendee 0 alone was planned in about one run in six), no bad requests,
    verified."""
    return (
        "simulate", "--attendees", "3", "--talk", talk_id, "--slot-seconds", "0.2",
        "--bad-share", "0", "--verify", "--seed", "3",
    )  # fmt: skip


@dataclass
class Crowd:
    """How a simulated crowd's run went: its exit status, what it wrote, and when (by
    time.monotonic()) it started and ended."""

    returncode: int
    stdout: str
    stderr: str
    started: float
    ended: float


def crowd_through(
    cli: Cli,
    proxy: LoopbackServer,
    talk: tuple[str, str],
    *options: str,
    meanwhile: Callable[[subprocess.Popen[str]], None] | None = None,
    timeout: float = 120,
) -> Crowd:
    """`crowd_of_three_verified` (with `options`) through `proxy`, of a talk of its own (a name
    in its id, its title), to its end within `timeout` s, `meanwhile` run once it started; the
    talk removed and the proxy closed after."""
    talk_id = cli.add(unique_talk_id(talk[0]), talk[1])
    try:
        started = time.monotonic()
        process = cli.start("--api", proxy.url, *crowd_of_three_verified(talk_id), *options)
        try:
            if meanwhile is not None:
                meanwhile(process)
            out, err = process.communicate(timeout=timeout)
        finally:
            process.kill()
        return Crowd(process.wait(), out, err, started, time.monotonic())
    finally:
        proxy.close()
        cli.remove(talk_id)


def assert_verified(done: Crowd) -> None:
    """The crowd's run ended well, every talk's count agreeing with what it sent."""
    assert done.returncode == 0, done.stdout + done.stderr
    assert "every talk agrees" in done.stdout
    assert "Traceback" not in done.stderr


def assert_gave_up_at(done: Crowd, timeout: int, since: float | None, said: str) -> None:
    """The crowd's run failed `timeout` s after `since` (the first 503), not sooner and not
    much later, saying `said` in its last line."""
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stderr.strip().splitlines()[-1] == said, done.stderr
    assert "Traceback" not in done.stderr
    assert since is not None
    waited = done.ended - since
    assert timeout - 0.5 < waited < timeout + 5, f"ended {waited:.1f} s after the first 503"


def test_simulate_verify_started_while_the_counts_are_rebuilt_waits_for_them(cli: Cli) -> None:
    from talkrate.adapters.redis_store import BUILT_KEY, REBUILD_LOCK_KEY

    # Given a read model that lost its counts, whose rebuild holds them back a few seconds
    talk_id = cli.add(unique_talk_id("rebuilt"), "Rated while rebuilt")
    ratings = redis.Redis.from_url(CLI_RATINGS)
    ratings.set(REBUILD_LOCK_KEY, "a rebuild of the test's", ex=60)
    ratings.delete(BUILT_KEY)
    assert cli.runtime.log is not None
    log = cli.runtime.log

    def programme_reads() -> int:
        return log.read_text().count("[gateway] GET /talks?")

    before = programme_reads()
    try:
        # When a simulation with --verify starts meanwhile, and has read the programme without
        # its counts and again (which talks to rate, the baseline, the baseline once more: it
        # is waiting for them), or has ended
        process = cli.start(*crowd_of_three_verified(talk_id))
        assert wait_for(lambda: programme_reads() >= before + 3 or process.poll() is not None, 60)
        ratings.delete(REBUILD_LOCK_KEY)  # the rebuild's turn: the API asks for one
        out, err = process.communicate(timeout=120)
        # Then it waited for the counts and verified every rating (it gave up at once: "talk
        # … has no rating summary")
        assert process.returncode == 0, out + err
        assert "every talk agrees" in out, out
    finally:
        ratings.delete(REBUILD_LOCK_KEY)
        cli.remove(talk_id)


def test_simulate_tells_a_busy_api_from_its_limits(cli: Cli) -> None:
    # Given an API that answers two of its attendees' first passes 503 (busy, not a limit), and
    # a crowd whose three attendees all rate (a crowd of attendee 0 alone, whose pass is the
    # first, met no 503)
    proxy = VotersBusyProxy(cli.runtime, busy=2)
    # When a crowd is simulated through it
    done = crowd_through(cli, proxy, ("busy-voters", "Busy at the door"))
    # Then every rating counts, and the report says the API was busy (it said the waits were
    # the limits', and how to raise them)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "busy      POST /voters waited 2 times on 503" in done.stdout
    assert "raise them" not in done.stdout


class CountsBusyProxy(LoopbackServer):
    """A forwarding proxy to the runtime that, once a rating has been sent (POST /ratings),
    answers the reads a verify makes 503 with Retry-After: 1, as the API does while its read
    model is away: the first `busy` of each kind (the programme, a talk's counts, a rating's
    status), or every one when `busy` is None. `before_sending`: the reads of the counts
    before the run instead (those after the first attendee's pass, POST /voters, and before
    any rating: the programme read first is answered). `at_start`: the reads before the first
    attendee's pass instead (the programme read first, which talks to rate), answered as the
    API does while its database does not answer. `retry_after`: the header's value, or None
    for an answer without one (a gateway's own 503)."""

    KINDS = ("/talks", "/ratings?", "/ratings/")

    def __init__(
        self,
        runtime: Runtime,
        busy: int | None,
        before_sending: bool = False,
        retry_after: str | None = "1",
        at_start: bool = False,
    ) -> None:
        proxy = self
        self.rated = False
        self.passed = False  # the first attendee's pass asked for (POST /voters)
        self.answered_busy: dict[str, int] = {}  # 503s answered, by kind
        self.busy_since: float | None = None  # when the first was
        lock = threading.Lock()

        class Forward(ForwardingHandler):
            def relay(self) -> None:
                kind = next((k for k in proxy.KINDS if self.path.startswith(k)), None)
                with lock:
                    proxy.rated |= self.command == "POST" and self.path == "/ratings"
                    proxy.passed |= self.command == "POST" and self.path == "/voters"
                    when = proxy.passed and not proxy.rated if before_sending else proxy.rated
                    when = not (proxy.passed or proxy.rated) if at_start else when
                    held = self.command == "GET" and kind is not None and when
                    held &= busy is None or proxy.answered_busy.get(str(kind), 0) < busy
                    if held:
                        proxy.answered_busy[str(kind)] = proxy.answered_busy.get(str(kind), 0) + 1
                        proxy.busy_since = proxy.busy_since or time.monotonic()
                if not held:
                    super().relay()
                    return
                problem = {
                    "type": "urn:talkrate:problem:read-model-unavailable",
                    "title": "Counts unavailable",
                    "status": 503,
                    "detail": "the counts and averages cannot be read just now (every rating is "
                    "kept); try again shortly",
                }
                if at_start:  # (its database away: BackendUnavailable)
                    problem |= {
                        "type": "urn:talkrate:problem:unavailable",
                        "title": "Service unavailable",
                        "detail": "try again shortly",
                    }
                headers = {"content-type": "application/problem+json"}
                if retry_after is not None:
                    headers["retry-after"] = retry_after
                self.answer(503, headers, json.dumps(problem).encode())

        Forward.runtime = runtime
        super().__init__(Forward)


def test_simulate_verify_waits_out_an_api_busy_while_it_reads_the_counts(cli: Cli) -> None:
    # Given an API that answers the verify's first read of the programme, of a talk's counts
    # and of a rating's status 503 (Retry-After: 1), as while its read model is away
    proxy = CountsBusyProxy(cli.runtime, busy=1)
    # When a crowd is simulated through it with --verify
    done = crowd_through(cli, proxy, ("busy-counts", "Counted when the API is back"))
    # Then it waited each one out and verified every rating (it gave up at the first: "Counts
    # unavailable (503) ... (not verified)"), saying on stderr that it waited
    assert_verified(done)
    assert proxy.answered_busy == dict.fromkeys(CountsBusyProxy.KINDS, 1)
    assert "talkrate: the API is busy (Counts unavailable, 503): waiting 1 s to read the " in (
        done.stderr
    )


def test_simulate_verify_waits_out_an_api_busy_while_it_reads_the_counts_before_the_run(
    cli: Cli,
) -> None:
    # Given an API that answers the first read of the programme and of a talk's counts 503
    # (Retry-After: 1) while the counts before the run are read, as while its read model is away
    proxy = CountsBusyProxy(cli.runtime, busy=1, before_sending=True)
    # When a crowd is simulated through it with --verify
    done = crowd_through(cli, proxy, ("busy-baseline", "Counted from its first count"))
    # Then it waited each one out, then sent the crowd and verified every rating (it failed at
    # the first, "Counts unavailable (503)", before sending anything), saying it waited
    assert_verified(done)
    assert proxy.answered_busy == {"/talks": 1, "/ratings?": 1}
    assert "talkrate: the API is busy (Counts unavailable, 503): waiting 1 s to read the " in (
        done.stderr
    )


def test_simulate_verify_of_an_api_busy_before_the_run_past_the_verify_timeout_sends_nothing(
    cli: Cli,
) -> None:
    # Given an API that answers every read of the counts before the run 503 (Retry-After: 1)
    proxy = CountsBusyProxy(cli.runtime, busy=None, before_sending=True)
    # When a crowd is simulated through it with --verify, waiting 3 s at most
    done = crowd_through(cli, proxy, ("busy-baseline", "Never rated"), "--verify-timeout", "3")
    # Then it waited until the timeout, no longer, and failed in one line saying the API stayed
    # busy and nothing was sent; and nothing was
    assert_gave_up_at(
        done,
        3,
        proxy.busy_since,
        "talkrate: the API stayed busy (Counts unavailable, 503) while the counts before the "
        "run were read, until the verify's timeout (3 s, --verify-timeout): nothing was sent",
    )
    assert not proxy.rated


def test_simulate_verify_waits_out_an_api_busy_without_retry_after_for_a_wait_it_names(
    cli: Cli,
) -> None:
    # Given an API that answers the verify's first read of each kind 503 without Retry-After
    # (a gateway's own answer, which does not say how long)
    proxy = CountsBusyProxy(cli.runtime, busy=1, retry_after=None)
    # When a crowd is simulated through it with --verify
    done = crowd_through(cli, proxy, ("busy-counts", "Counted after a gateway's 503"))
    # Then it waited each one out for the default it names and verified every rating (it gave
    # up at the first: "Counts unavailable (503) ... (not verified)")
    assert_verified(done)
    assert proxy.answered_busy == dict.fromkeys(CountsBusyProxy.KINDS, 1)
    assert (
        "talkrate: the API is busy (Counts unavailable, 503, without Retry-After): waiting "
        "2 s to read the counts again"
    ) in done.stderr


@pytest.mark.parametrize("retry_after", ["1", None], ids=["retry-after", "no-retry-after"])
def test_simulate_verify_of_an_api_busy_past_the_verify_timeout_fails_in_one_line(
    cli: Cli, retry_after: str | None
) -> None:
    # Given an API that answers every read of the verify 503 (Retry-After: 1, or none)
    proxy = CountsBusyProxy(cli.runtime, busy=None, retry_after=retry_after)
    # When a crowd is simulated through it with --verify, waiting 4 s at most
    talk = ("busy-counts", "Never counted in time")
    done = crowd_through(cli, proxy, talk, "--verify-timeout", "4")
    # Then it waited until the timeout, no longer, and failed in one line saying the API stayed
    # busy, after the figures of what it sent
    assert_gave_up_at(
        done,
        4,
        proxy.busy_since,
        "talkrate: the API stayed busy (Counts unavailable, 503) until the verify's timeout "
        "(4 s, --verify-timeout) (not verified)",
    )
    assert "sent " in done.stdout


@pytest.mark.parametrize("retry_after", ["1", None], ids=["retry-after", "no-retry-after"])
def test_simulate_waits_out_an_api_busy_while_it_reads_the_programme(
    cli: Cli, retry_after: str | None
) -> None:
    # Given an API that answers the first two reads of the programme 503 (Retry-After: 1, or
    # none), as a stack coming up does while its database does not answer yet
    proxy = CountsBusyProxy(cli.runtime, busy=2, retry_after=retry_after, at_start=True)
    # When a crowd is simulated through it with --verify
    done = crowd_through(cli, proxy, ("busy-programme", "Rated once the API is up"))
    # Then it waited them out, saying so, then sent the crowd and verified every rating (it
    # failed at the first, "Service unavailable (503)", before sending anything)
    assert_verified(done)
    assert proxy.answered_busy == {"/talks": 2}
    said = "" if retry_after else ", without Retry-After"
    assert (
        f"talkrate: the API is busy (Service unavailable, 503{said}): waiting "
        f"{retry_after or 2} s to read the programme again (up to 60 s more, "
        "--programme-timeout)"
    ) in done.stderr, done.stderr


def test_simulate_of_an_api_busy_past_the_programme_timeout_sends_nothing(cli: Cli) -> None:
    # Given an API that answers every read of the programme 503 (Retry-After: 1)
    proxy = CountsBusyProxy(cli.runtime, busy=None, at_start=True)
    # When a crowd is simulated through it, waiting 3 s at most for the programme
    talk = ("busy-programme", "Never rated")
    done = crowd_through(cli, proxy, talk, "--programme-timeout", "3")
    # Then it waited until that timeout, no longer, and failed in one line saying the API
    # stayed busy and nothing was sent; and nothing was (no pass asked for, no rating)
    assert_gave_up_at(
        done,
        3,
        proxy.busy_since,
        "talkrate: the API stayed busy (Service unavailable, 503) while the programme was "
        "read, until the programme's timeout (3 s, --programme-timeout): nothing was sent",
    )
    assert (proxy.passed, proxy.rated) == (False, False)


class LateProxy(LoopbackServer):
    """A forwarding proxy to the runtime whose port refuses connections (held, not listening)
    until `listen()`, as an API's does before it is up; `sent`: the requests it forwarded."""

    def __init__(self, runtime: Runtime) -> None:
        proxy = self
        self.sent: list[str] = []

        class Forward(ForwardingHandler):
            def relay(self) -> None:
                proxy.sent.append(f"{self.command} {self.path}")
                super().relay()

        Forward.runtime = runtime
        super().__init__(Forward, listening=False)


def test_simulate_waits_for_an_api_not_listening_yet_while_it_reads_the_programme(
    cli: Cli,
) -> None:
    # Given an API whose address refuses connections (nothing listening yet: a runtime starting)
    proxy = LateProxy(cli.runtime)

    def listens_2_s_later(process: subprocess.Popen[str]) -> None:
        time.sleep(2.0)
        assert process.poll() is None, process.communicate()
        proxy.listen()

    # When a crowd is simulated against it, and it listens 2 s later
    talk = ("late-api", "Rated once the API listens")
    done = crowd_through(cli, proxy, talk, meanwhile=listens_2_s_later)
    # Then it waited for it, saying so once, then sent the crowd and verified every rating (it
    # failed at once: "cannot reach the API at …: connection refused")
    assert_verified(done)
    said = (
        f"talkrate: nothing answers at {proxy.url} yet (connection refused): waiting for it "
        "to read the programme (up to 60 s, --programme-timeout)"
    )
    assert done.stderr.count(said) == 1, done.stderr


def test_simulate_of_an_api_never_listening_fails_at_the_programme_timeout(cli: Cli) -> None:
    # Given an address where nothing ever listens
    proxy = LateProxy(cli.runtime)
    # When a crowd is simulated against it, waiting 3 s at most for the programme
    talk = ("never-api", "Never rated")
    done = crowd_through(cli, proxy, talk, "--programme-timeout", "3", timeout=60)
    # Then it waited until that timeout, no longer, and failed in one line saying nothing
    # answered and nothing was sent (it failed at once)
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        f"talkrate: nothing answered at {proxy.url} (connection refused) while the "
        "programme was read, until the programme's timeout (3 s, --programme-timeout): "
        "nothing was sent"
    ), done.stderr
    assert "Traceback" not in done.stderr
    took = done.ended - done.started
    assert 3 <= took < 3 + 10, f"took {took:.1f} s"
    assert proxy.sent == []


def test_the_watch_subscriber_hears_the_runtimes_live_channel(cli: Cli, talk: str) -> None:
    # Given the command's subscriber on the runtime's live channel (AppSync Events emulation),
    # on the talk's channel as its document names it, and on the leaderboard
    channel = cli.talk(talk)["channel"]
    events: list[Any] = []
    states: list[str] = []
    heard = threading.Event()

    def on_event(event: Any) -> None:
        events.append(event)
        if any(e.get("type") == "talk" and e.get("talkId") == talk for e in events):
            heard.set()

    subscriber = LiveSubscriber(
        LiveEndpoint(cli.runtime.live_url, "127.0.0.1", cli.runtime.live_api_key),
        [channel, LEADERBOARD_CHANNEL],
        on_event,
        states.append,
    )
    subscriber.start()
    try:
        assert wait_for(lambda: "live" in states, 15), states
        # When the talk is rated
        cli.rate(talk, 4)
        # Then its new state is pushed to the subscriber, and the leaderboard says it moved
        assert heard.wait(20), (states, events)
        assert wait_for(
            lambda: any(talk in e.get("talkIds", []) for e in events if e["type"] == "leaderboard"),
            20,
        )
    finally:
        subscriber.stop()
        subscriber.join(5)
    [state] = [e for e in events if e["type"] == "talk"]
    assert (state["count"], state["ratings"]["4"]) == (1, 1)


def test_a_live_watch_reads_its_talk_again_when_an_organiser_changes_it(
    cli: Cli, talk: str
) -> None:
    from talkrate_cli.commands.watch import Watcher  # (after main: the commands import it)

    # Given `talkrate watch`'s watcher of a talk, live on the runtime's channel (its safety
    # read of the talk is 30 s away)
    api = Api(cli.runtime.url)
    watcher = Watcher(api, talk, None, 10)
    watcher.fetch()
    subscriber = LiveSubscriber(
        LiveEndpoint(cli.runtime.live_url, "127.0.0.1", cli.runtime.live_api_key),
        watcher.channels(),
        watcher.on_event,
        watcher.on_state,
    )
    subscriber.start()
    try:
        assert wait_for(lambda: watcher.state == "live", 15), watcher.state
        watcher.fetch()  # what going live asked for: the talk read again
        watcher.wake.clear()
        # When an organiser renames it and moves it to another room (PUT /talks/ID, as
        # `admin edit` and the organisers' page save it)
        changed = {"title": "Renamed, pushed", "speakers": ["Ana Lee"], "room": "Hall P"}
        saved = cli.api("PUT", f"/talks/{talk}", {**changed, "track": "Terminal"})
        assert saved.status == 200, saved.body
        # Then the channel wakes the watch, whose next fetch reads the talk as it is now
        assert watcher.wake.wait(10)
        watcher.fetch()
    finally:
        subscriber.stop()
        subscriber.join(5)
        api.close()
    assert watcher.talk_doc is not None
    assert (watcher.talk_doc["title"], watcher.talk_doc["room"]) == ("Renamed, pushed", "Hall P")


class MeanwhileProxy(LoopbackServer):
    """A forwarding proxy to the runtime that, before the first PUT it forwards, lets another
    organiser save the same talk: the command's write then follows a change it never read."""

    def __init__(self, runtime: Runtime, token: str, other_fields: dict[str, Any]) -> None:
        proxy = self
        self.puts: list[dict[str, str]] = []  # the headers of each PUT forwarded

        class Forward(ForwardingHandler):
            def relay(self) -> None:
                if self.command == "PUT":
                    if not proxy.puts:
                        other = runtime.request(
                            "PUT",
                            self.path,
                            json.dumps(other_fields),
                            {"Authorization": f"Bearer {token}"},
                        )
                        assert other.status == 200, other.body
                    proxy.puts.append({k.lower(): v for k, v in self.headers.items()})
                super().relay()

        Forward.runtime = runtime
        super().__init__(Forward)


def test_admin_edit_applies_its_change_over_one_saved_meanwhile_not_instead_of_it(
    cli: Cli,
) -> None:
    # Given a talk, and another organiser who renames it between the command's read and write
    talk_id = cli.add(unique_talk_id(), "First title", room="R1")
    proxy = MeanwhileProxy(
        cli.runtime, cli.env["TALKRATE_ADMIN_TOKEN"], {"title": "Renamed", "room": "R1"}
    )
    try:
        # When an organiser moves it to another room
        edited = cli.ok("admin", "edit", talk_id, "--room", "R2", TALKRATE_API=proxy.url)
    finally:
        proxy.close()
    # Then the first write, from the older read, was refused; the command read the talk again
    # and applied its change to the renamed talk: both organisers' changes are kept
    assert len(proxy.puts) == 2
    assert all("if-match" in put for put in proxy.puts)
    assert proxy.puts[0]["if-match"] != proxy.puts[1]["if-match"]
    assert f"changed {talk_id}: room" in edited
    talk = cli.talk(talk_id)
    assert (talk["title"], talk["room"]) == ("Renamed", "R2")
    cli.remove(talk_id)


def test_admin_import_does_not_undo_a_change_saved_while_it_ran(cli: Cli, tmp_path: Path) -> None:
    # Given a talk, a programme file that moves it, and an organiser who renames it meanwhile
    talk_id = cli.add(unique_talk_id(), "Imported talk", room="R1")
    programme = tmp_path / "programme.csv"
    programme.write_text(f"id,title,room\n{talk_id},Imported talk,R2\n")
    proxy = MeanwhileProxy(
        cli.runtime, cli.env["TALKRATE_ADMIN_TOKEN"], {"title": "Renamed", "room": "R9"}
    )
    try:
        done = cli.run("admin", "import", str(programme), TALKRATE_API=proxy.url)
    finally:
        proxy.close()
    # Then the row fails, saying why, and the other organiser's change stands
    assert done.returncode == 1, done.stderr
    assert f"line 2 ({talk_id})" in done.stderr
    assert "412" in done.stderr
    assert "0 updated" in done.stdout
    assert "1 failed" in done.stdout
    talk = cli.talk(talk_id)
    assert (talk["title"], talk["room"]) == ("Renamed", "R9")
    # And run again, it applies the file over what it now reads
    assert "1 updated" in cli.ok("admin", "import", str(programme))
    assert cli.talk(talk_id)["room"] == "R2"
    cli.remove(talk_id)


class ChangedBetweenPages(Api):
    """The command's own client of the module's API, with an organiser's change made once, right
    after the programme's first page was read (at the desk, while an export runs)."""

    def __init__(
        self, url: str, token: str, change: Callable[[Api], None], every_read: bool = False
    ) -> None:
        super().__init__(url, token)
        self._change = change
        self._every_read = every_read  # after the first page of each read, not only the first
        self._changed = False
        self.pages = 0

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        answer = super().json(method, path, **kwargs)
        if method == "GET" and path == "/talks":
            self.pages += 1
            first_page = kwargs["params"]["offset"] == 0
            if first_page and (self._every_read or not self._changed):
                self._changed = True
                self._change(self)
        return answer


@pytest.mark.parametrize("change", ["added first", "removed from the first page"])
def test_the_programme_read_while_an_organiser_changes_it_has_every_talk_once(
    cli: Cli, change: str
) -> None:
    # Given a track of 150 talks (two pages of the programme), an hour apart from 9:00 (saved
    # in the catalog itself: 150 POSTs through the API, and as many DELETEs, took seconds)
    track = f"Paged {unique_talk_id()}"
    start = datetime(2027, 5, 4, 9, tzinfo=UTC)
    ids = [f"{track.split()[1]}-{n:03}" for n in range(150)]
    database = PostgresDatabase(CLI_TALKS)
    stored = PostgresTalkCatalog(database)
    for n, talk_id in enumerate(ids):
        at = start + timedelta(hours=n)
        stored.save(
            Talk(talk_id, f"Paged talk {n}", [], track, None, at, at + timedelta(minutes=45))
        )
    early = f"{track.split()[1]}-early"

    def at_the_desk(client: Api) -> None:
        # When, once its first page is read, a talk is added before all the others (every
        # later talk moves one place on), or one of the first page's is removed (one moves back)
        if change == "added first":
            client.add_talk(
                {
                    "id": early,
                    "title": "Added at the desk",
                    "track": track,
                    "startsAt": (start - timedelta(hours=1)).isoformat(),
                    "endsAt": start.isoformat(),
                }
            )
        else:
            client.remove_talk(ids[10])

    reader = ChangedBetweenPages(cli.runtime.url, cli.env["TALKRATE_ADMIN_TOKEN"], at_the_desk)
    try:
        read = [talk["id"] for talk in reader.talks(track)]
        # Then the programme read has each talk of the track once, the changed one as it is now
        # (it was read again: a talk read twice and one not at all before)
        expected = [early, *ids] if change == "added first" else ids[:10] + ids[11:]
        assert read == expected
        assert reader.pages == 4
    finally:
        for talk_id in [*ids, early]:
            stored.delete(talk_id)
        database.close()


def test_a_programme_that_keeps_changing_while_it_is_read_is_said_so(cli: Cli) -> None:
    # Given a track of two pages, and an organiser adding a talk at its start each time its
    # first page has been read
    track = f"Busy desk {unique_talk_id()}"
    database = PostgresDatabase(CLI_TALKS)
    stored = PostgresTalkCatalog(database)
    added: list[str] = []
    for n in range(120):
        added.append(f"{track.split()[2]}-{n:03}")
        stored.save(Talk(added[-1], f"Talk {n}", [], track))

    def another(client: Api) -> None:
        added.append(f"{track.split()[2]}-desk-{len(added)}")
        client.add_talk({"id": added[-1], "title": "Added at the desk", "track": track})

    reader = ChangedBetweenPages(
        cli.runtime.url, cli.env["TALKRATE_ADMIN_TOKEN"], another, every_read=True
    )
    try:
        # When the programme is read, then after three reads it says so, rather than handing
        # on a programme with a talk missing or twice
        with pytest.raises(CliError, match="changed while it was read, 3 times"):
            reader.talks(track)
        assert reader.pages == 6
    finally:
        for talk_id in added:
            stored.delete(talk_id)
        database.close()


@pytest.fixture(scope="module")
def venue_cli(attendee_cli: Cli, tmp_path_factory: pytest.TempPathFactory) -> Cli:
    """The command against a runtime whose venue is in Berlin (EventTimeZone: attendee_cli's),
    run on a machine set to New York (TZ): what it shows and takes follows the venue's clocks,
    not the machine's."""
    folder = tmp_path_factory.mktemp("cli-venue")
    env = {**attendee_cli.env, "TALKRATE_CONFIG_DIR": str(folder / "config")}
    return Cli(attendee_cli.runtime, {**env, "TZ": "America/New_York"})


def test_a_wall_time_is_the_venue_s_and_the_programme_shows_it_in_the_venue_s_zone(
    venue_cli: Cli,
) -> None:
    # Given a venue in Berlin, When an organiser on a machine set to New York adds a talk at
    # 10:00 by the venue's clocks, as a wall time without a zone
    talk = unique_talk_id()
    venue_cli.ok(
        "admin", "add", talk, "--title", "Opening", "--track", talk, "--room", "Saal 1",
        "--starts", "2026-12-05 10:00", "--ends", "2026-12-05 10:45",
    )  # fmt: skip
    # Then the API holds the instant of 10:00 in Berlin (09:00 UTC)
    stored = venue_cli.talk(talk)
    assert (stored["startsAt"], stored["endsAt"]) == (
        "2026-12-05T09:00:00Z",
        "2026-12-05T09:45:00Z",
    )
    # And the programme shows it at 10:00, named in the venue's zone (New York's: 04:00 EST)
    table = venue_cli.ok("talks", "--track", talk)
    assert "when (CET)" in table
    assert "2026-12-05 10:00\N{EN DASH}10:45" in table
    # And a wall time the venue's clocks skip is refused, nothing changed
    refused = venue_cli.run("admin", "edit", talk, "--starts", "2027-03-28 02:30")
    assert refused.returncode == 2
    assert refused.stderr == (
        "talkrate: --starts 2027-03-28 02:30 does not exist in Europe/Berlin (its clocks skip "
        "that hour)\n"
    )
    assert venue_cli.talk(talk)["startsAt"] == "2026-12-05T09:00:00Z"
    venue_cli.remove(talk)


def test_a_refused_talk_is_said_in_the_organisers_page_s_words(cli: Cli) -> None:
    # Given a talk an organiser adds with its end before its start, and one whose title holds
    # an invisible right-to-left override
    talk_id = unique_talk_id()
    backwards = cli.run(
        "admin", "add", talk_id, "--title", "Backwards",
        "--starts", "2027-06-01T10:00Z", "--ends", "2027-06-01T09:00Z",
    )  # fmt: skip
    overridden = cli.run("admin", "add", talk_id, "--title", "Evil\u202etitle")
    # Then each refusal is one line in the words of the organisers' page, the field by its
    # label, not pydantic's ("Value error, endsAt must be after startsAt", "[title: ...]")
    assert_one_line_error(backwards, "422", "Ends: Must be after the start.")
    assert_one_line_error(overridden, "422", "Title: Must not hold U+202E")
    for said in (backwards.stderr, overridden.stderr):
        assert "Value error" not in said
        assert "[" not in said
    # And the API's problem document carries the same plain words for every client
    answer = cli.api("POST", "/talks", {"id": talk_id, "title": ""})
    assert answer.status == 422
    assert answer.json["errors"] == [{"field": "title", "message": "cannot be empty"}]
    assert set(answer.json) >= {"type", "title", "status", "detail"}
