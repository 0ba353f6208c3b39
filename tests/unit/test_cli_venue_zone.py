"""The venue's time zone in the talkrate command: a stand-in API on loopback whose
/app/config.json names it (`timeZone`), on a machine set to another zone (New York), so that
what the command shows and sends visibly follows the venue's, not the machine's."""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import boto3
import pytest
from moto import mock_aws

from talkrate_cli.main import main
from tests.loopback import LoopbackServer, StandInHandler

pytestmark = pytest.mark.unit

BERLIN = {"live": None, "votingPolicy": "open", "timeZone": "Europe/Berlin"}
NO_ZONE = {"live": None, "votingPolicy": "open", "timeZone": None}
# 09:00-09:45 UTC on 2026-12-05: 10:00-10:45 in Berlin, 04:00-04:45 in New York (EST)
KEYNOTE = {
    "id": "keynote",
    "title": "Keynote",
    "speakers": ["Ana"],
    "room": "Hall A",
    "startsAt": "2026-12-05T09:00:00Z",
    "endsAt": "2026-12-05T09:45:00Z",
    "ratingClosesAt": "2026-12-06T09:45:00Z",
    "revision": 1,
    "summary": {"count": 0, "avg": None, "ratings": {}},
}

# Its rating window's line, whatever the day the test runs, in Berlin's time
WINDOW_IN_BERLIN = re.compile(
    r"rating (opens 2026-12-05 10:00|open until 2026-12-06 10:45|closed 2026-12-06 10:45) CET"
)


def stored(text: str) -> str:
    """A time as the API keeps it: the instant in UTC; ValueError for one without a zone (the
    API's 422)."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError("must carry a time zone (RFC 3339)")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class VenueApi(LoopbackServer):
    """The talk catalog and the app's config: `config` is /app/config.json's document (None: not
    served, 404; an int: that status). Talks are kept as the API keeps them (times in UTC);
    `sent` holds every talk body the command sent, as sent; `config_reads` counts
    /app/config.json's reads; a rating is refused as outside its talk's window."""

    def __init__(self, config: dict[str, Any] | int | None, talks: list[dict[str, Any]]) -> None:
        self.talks = {talk["id"]: dict(talk) for talk in talks}
        self.sent: list[dict[str, Any]] = []
        self.config_reads = 0
        api = self

        class Handler(StandInHandler):
            def do_GET(self) -> None:
                url = urlsplit(self.path)
                if url.path == "/app/config.json":
                    api.config_reads += 1
                    if config is None:
                        self.answer(404, {"title": "Not Found", "status": 404})
                    elif isinstance(config, int):
                        self.answer(config, {"title": "Broken", "status": config})
                    else:
                        self.answer(200, config)
                elif url.path == "/talks":
                    items = sorted(api.talks.values(), key=lambda t: t["id"])
                    self.answer(200, {"items": items, "total": len(items)})
                elif url.path.startswith("/talks/"):
                    talk = api.talks.get(unquote(url.path[len("/talks/") :]))
                    self.answer(200, talk) if talk else self.answer(404, {"status": 404})
                elif url.path == "/ratings":
                    talk_id = parse_qs(url.query)["talkId"][0]
                    self.answer(200, {"talkId": talk_id, "ratings": {"5": 1}})
                elif url.path == "/organiser":
                    self.answer(200, {})
                elif url.path == "/leaderboard":
                    self.answer(200, {"talks": [], "prior": {"mean": 3.0, "weight": 10.0}})
                else:
                    self.answer(404, {"title": "Not Found", "status": 404})

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])) or b"{}")
                if self.path == "/voters":
                    self.answer(201, {"voterToken": "v", "expiresAt": "2031-01-01T00:00:00Z"})
                elif self.path == "/ratings":
                    problem = {
                        "type": "urn:talkrate:problem:rating-window-closed",
                        "title": "Outside the rating window",
                        "status": 409,
                        "detail": "Talk 'keynote' takes ratings from 2026-12-05T09:00:00Z "
                        "until 2026-12-06T09:45:00Z.",
                        "opensAt": "2026-12-05T09:00:00Z",
                        "closesAt": "2026-12-06T09:45:00Z",
                    }
                    self.answer(409, problem)
                else:
                    self.save(body["id"], body, 201)

            def do_PUT(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                talk_id = unquote(self.path[len("/talks/") :])
                self.save(talk_id, body, 200 if talk_id in api.talks else 201)

            def save(self, talk_id: str, body: dict[str, Any], status: int) -> None:
                api.sent.append(body)
                try:
                    times = {k: stored(body[k]) for k in ("startsAt", "endsAt") if body.get(k)}
                except ValueError as error:
                    self.answer(422, {"title": "Invalid talk", "status": 422, "detail": str(error)})
                    return
                revision = api.talks.get(talk_id, {}).get("revision", 0) + 1
                talk = {**body, **times, "id": talk_id, "revision": revision}
                api.talks[talk_id] = talk
                self.answer(status, talk)

        super().__init__(Handler)


@pytest.fixture
def machine_in_new_york() -> Iterator[None]:
    """This machine's time zone is New York's for the test (TZ), as it was after."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "America/New_York"
    time.tzset()
    yield
    if before is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = before
    time.tzset()


@pytest.fixture
def organiser(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """An organiser token for the stand-in, and a config folder of the test's own."""
    monkeypatch.setenv("TALKRATE_ADMIN_TOKEN", "organiser")
    monkeypatch.setenv("TALKRATE_CONFIG_DIR", str(tmp_path / "config"))


@pytest.fixture
def served() -> Iterator[list[VenueApi]]:
    made: list[VenueApi] = []
    yield made
    for api in made:
        api.close()


def venue(
    served: list[VenueApi], config: dict[str, Any] | int | None, *talks: dict[str, Any]
) -> VenueApi:
    api = VenueApi(config, list(talks))
    served.append(api)
    return api


def run(
    api: VenueApi, capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, str, list[str]]:
    """`talkrate --api URL ARGS`: its exit status, its stdout and its lines on stderr."""
    status = main(["--api", api.url, *args])
    out, err = capsys.readouterr()
    return status, out, err.splitlines()


def test_the_programme_and_a_talk_are_shown_in_the_venue_s_zone(
    machine_in_new_york: None, served: list[VenueApi], capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a deployment whose venue is in Berlin, read from a machine set to New York
    api = venue(served, BERLIN, KEYNOTE)
    # When the programme and the talk are shown
    status, table, _ = run(api, capsys, "talks")
    assert status == 0
    _, view, _ = run(api, capsys, "show", "keynote")
    # Then their times are Berlin's, named as Berlin's (New York's would be 04:00 EST)
    assert "when" in table
    assert "2026-12-05 10:00\N{EN DASH}10:45" in table
    assert "2026-12-05 10:00\N{EN DASH}10:45" in view
    assert WINDOW_IN_BERLIN.search(view), view
    assert "EST" not in table + view
    # And the talk's times are named by their zone on their own line, where the line below
    # named it alone (read at a glance, they were taken for the reader's own)
    assert "Hall A · 2026-12-05 10:00\N{EN DASH}10:45 CET\n" in view, view
    # And the config was read once for each command
    assert api.config_reads == 2


def test_a_watched_talk_is_shown_in_the_venue_s_zone_read_once(
    machine_in_new_york: None, served: list[VenueApi], capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the same deployment
    api = venue(served, BERLIN, KEYNOTE)
    # When a talk is watched (polled: no live channel) until it stops
    status, out, _ = run(api, capsys, "watch", "keynote", "--duration", "0.5", "--interval", "0.2")
    # Then its view says its times in Berlin's zone, and the config was read once, at start
    assert status == 0
    assert "2026-12-05 10:00\N{EN DASH}10:45" in out
    assert WINDOW_IN_BERLIN.search(out), out
    assert api.config_reads == 1


def test_a_refused_rating_says_its_window_in_the_venue_s_zone(
    machine_in_new_york: None,
    organiser: None,
    served: list[VenueApi],
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a talk outside its rating window, at a venue in Berlin
    api = venue(served, BERLIN, KEYNOTE)
    # When an attendee rates it
    status, _, err = run(api, capsys, "rate", "keynote", "4")
    # Then the refusal says when the talk takes ratings in Berlin's time, named
    assert status == 1
    assert err == [
        "talkrate: Outside the rating window (409): keynote takes ratings from 2026-12-05 10:00 "
        "CET until 2026-12-06 10:45 CET"
    ]


def test_the_machine_s_zone_is_used_where_the_deployment_names_none_or_cannot_say(
    machine_in_new_york: None, served: list[VenueApi], capsys: pytest.CaptureFixture[str]
) -> None:
    # Given deployments whose config names Berlin, names no zone, lacks the key (before the
    # setting), is not served, or fails
    shown = {"Berlin": ("CET", "10:00"), "New York": ("EST", "04:00")}
    for config, zone in (
        (BERLIN, "Berlin"),
        (NO_ZONE, "New York"),
        ({"votingPolicy": "open"}, "New York"),
        (None, "New York"),
        (500, "New York"),
    ):
        api = venue(served, config, KEYNOTE)
        # When the programme is shown
        status, table, err = run(api, capsys, "talks")
        # Then it is, in the venue's zone where there is one, else in the machine's, as before
        # the setting, without a word about it
        assert status == 0, (config, err)
        named, starts = shown[zone]
        assert f"when ({named})" in table, (config, table)
        assert f"2026-12-05 {starts}\N{EN DASH}" in table, (config, table)
        assert err == []
        assert api.config_reads == 1


@pytest.mark.parametrize("name", ["Europe/Berln", "localtime", "Factory"])
def test_a_zone_this_machine_does_not_know_is_said_once_and_the_machine_s_used(
    machine_in_new_york: None,
    served: list[VenueApi],
    capsys: pytest.CaptureFixture[str],
    name: str,
) -> None:
    # Given a deployment naming a zone this machine's time zone database lacks (or a name its
    # files hold that is no zone: localtime would be each machine's own)
    api = venue(served, {**BERLIN, "timeZone": name}, KEYNOTE)
    # When a talk is shown
    status, view, err = run(api, capsys, "show", "keynote")
    # Then it is, in the machine's zone, with one warning line naming the venue's
    assert status == 0
    assert "2026-12-05 04:00\N{EN DASH}04:45" in view
    [warning] = err
    assert warning.startswith(f"talkrate: warning: the venue's time zone {name!r} is not")
    assert warning.endswith("times are in this machine's, EST")


def test_commands_that_show_no_times_do_not_read_the_config(
    served: list[VenueApi], capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a deployment naming its zone
    api = venue(served, BERLIN, KEYNOTE)
    # When a script reads the programme as JSON, and the talk
    run(api, capsys, "--json", "talks")
    run(api, capsys, "--json", "show", "keynote")
    # Then the times are the API's, and the config was not read
    assert api.config_reads == 0


def test_a_wall_time_is_read_in_the_venue_s_zone_and_sent_with_its_offset(
    machine_in_new_york: None,
    organiser: None,
    served: list[VenueApi],
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a venue in Berlin
    api = venue(served, BERLIN)
    # When an organiser adds a talk with wall times (a space, or a T), and one with an offset
    status, _, err = run(
        api, capsys, "admin", "add", "t1", "--title", "T1",
        "--starts", "2026-12-05 10:00", "--ends", "2026-12-05T10:45",
    )  # fmt: skip
    assert status == 0, err
    run(api, capsys, "admin", "add", "t2", "--title", "T2", "--starts", "2026-12-05T10:00-05:00")
    # Then the wall times were sent as Berlin's, with its offset; the offset given kept
    assert (api.sent[0]["startsAt"], api.sent[0]["endsAt"]) == (
        "2026-12-05 10:00+01:00",
        "2026-12-05T10:45+01:00",
    )
    assert api.talks["t1"]["startsAt"] == "2026-12-05T09:00:00Z"
    assert api.sent[1]["startsAt"] == "2026-12-05T10:00-05:00"
    # And an edit's wall time too, in summer (CEST, +02:00), the config read once
    reads = api.config_reads
    status, _, err = run(api, capsys, "admin", "edit", "t2", "--ends", "2026-06-01 18:00")
    assert status == 0, err
    assert api.sent[2]["endsAt"] == "2026-06-01 18:00+02:00"
    assert api.config_reads == reads + 1


def test_a_wall_time_the_clocks_skip_or_repeat_is_refused_and_one_with_its_offset_taken(
    organiser: None, served: list[VenueApi], capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a venue in Berlin, whose clocks go from 02:00 to 03:00 on 2027-03-28 and from 03:00
    # back to 02:00 on 2026-10-25
    api = venue(served, BERLIN)
    # When an organiser gives a start in the hour skipped
    status, _, err = run(
        api, capsys, "admin", "add", "t1", "--title", "T1", "--starts", "2027-03-28 02:30"
    )
    # Then it is refused, saying so, and nothing is sent
    assert status == 2
    assert err == [
        "talkrate: --starts 2027-03-28 02:30 does not exist in Europe/Berlin (its clocks skip "
        "that hour)"
    ]
    status, _, err = run(
        api, capsys, "admin", "add", "t1", "--title", "T1", "--ends", "2027-03-28T02:00"
    )
    assert err == [
        "talkrate: --ends 2027-03-28T02:00 does not exist in Europe/Berlin (its clocks skip "
        "that hour)"
    ]
    assert api.sent == []
    # When one is in the hour shown twice, Then it is refused too, naming the offset of each
    # (it silently meant the first)
    status, _, err = run(
        api, capsys, "admin", "add", "t2", "--title", "T2", "--starts", "2026-10-25 02:30"
    )
    assert status == 2
    assert err == [
        "talkrate: --starts 2026-10-25 02:30 happens twice in Europe/Berlin (its clocks go back "
        "over it): write 2026-10-25 02:30+02:00 for the first or 2026-10-25 02:30+01:00 "
        "for the second"
    ]
    assert api.sent == []
    # When a talk of 30 minutes over the change is written with the offsets said
    starts, ends = "2027-10-31 02:45+02:00", "2027-10-31 02:15+01:00"
    status, _, err = run(
        api, capsys, "admin", "add", "t2", "--title", "T2", "--starts", starts, "--ends", ends
    )
    # Then it is added as written: from the first 02:45 to the second 02:15
    assert status == 0, err
    assert (api.sent[0]["startsAt"], api.sent[0]["endsAt"]) == (starts, ends)
    assert (api.talks["t2"]["startsAt"], api.talks["t2"]["endsAt"]) == (
        "2027-10-31T00:45:00Z",
        "2027-10-31T01:15:00Z",
    )


def test_without_a_venue_zone_a_wall_time_is_refused_as_before(
    organiser: None, served: list[VenueApi], capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a deployment that names no zone
    api = venue(served, NO_ZONE)
    # When an organiser gives a start without a zone
    status, _, err = run(
        api, capsys, "admin", "add", "t1", "--title", "T1", "--starts", "2026-12-05 10:00"
    )
    # Then it goes as given, and the API refuses it
    assert status == 1
    assert api.sent[0]["startsAt"] == "2026-12-05 10:00"
    assert "must carry a time zone" in err[-1]
    assert "t1" not in api.talks


def test_a_room_clash_is_said_in_the_venue_s_zone(
    machine_in_new_york: None,
    organiser: None,
    served: list[VenueApi],
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given the keynote in Hall A, 10:00-10:45 in Berlin
    api = venue(served, BERLIN, KEYNOTE)
    # When an organiser adds a talk in Hall A from 10:30 (Berlin's)
    status, _, err = run(
        api, capsys, "admin", "add", "late", "--title", "Late", "--room", "Hall A",
        "--starts", "2026-12-05 10:30", "--ends", "2026-12-05 11:00",
    )  # fmt: skip
    # Then the clash is said in Berlin's time, the config read once
    assert status == 0
    assert err == [
        "talkrate: warning: room clash in Hall A, 2026-12-05 10:30\N{EN DASH}10:45 CET: late "
        "(Late, 10:30\N{EN DASH}11:00) and keynote (Keynote, 10:00\N{EN DASH}10:45)"
    ]
    assert api.config_reads == 1


def test_an_import_reads_wall_times_in_the_venue_s_zone_and_again_changes_nothing(
    machine_in_new_york: None,
    organiser: None,
    served: list[VenueApi],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    # Given a venue in Berlin, and a programme of wall times (one in summer), one talk in the
    # keynote's room at once
    api = venue(served, BERLIN, KEYNOTE)
    file = tmp_path / "programme.csv"
    file.write_text(
        "id,title,room,startsAt,endsAt\n"
        "winter,Winter,Hall A,2026-12-05 10:30,2026-12-05T11:00\n"
        "summer,Summer,Hall B,2026-06-01 09:00,2026-06-01 09:45\n"
    )
    # When it is imported
    status, out, err = run(api, capsys, "admin", "import", str(file))
    # Then each time was sent as Berlin's, with its offset, and the clash said in its time
    assert status == 0, err
    assert "2 created, 0 updated, 0 unchanged" in out
    sent = {body["title"]: (body["startsAt"], body["endsAt"]) for body in api.sent}
    assert sent == {
        "Winter": ("2026-12-05 10:30+01:00", "2026-12-05T11:00+01:00"),
        "Summer": ("2026-06-01 09:00+02:00", "2026-06-01 09:45+02:00"),
    }
    assert err == [
        "talkrate: warning: room clash in Hall A, 2026-12-05 10:30\N{EN DASH}10:45 CET: winter "
        "(Winter, 10:30\N{EN DASH}11:00) and keynote (Keynote, 10:00\N{EN DASH}10:45)"
    ]
    assert api.config_reads == 1
    # When the same file is imported again (the talks now hold their times in UTC)
    status, out, _ = run(api, capsys, "admin", "import", str(file))
    # Then both talks are unchanged: the same instants
    assert status == 0
    assert "0 created, 0 updated, 2 unchanged" in out
    assert len(api.sent) == 2


def test_an_import_of_wall_times_to_an_api_out_of_reach_says_so_not_that_its_lines_are_bad(
    organiser: None, served: list[VenueApi], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # Given a good programme of wall times, and an address where no API answers (the one just
    # stopped: its config, which names the venue's zone, cannot be read)
    file = tmp_path / "programme.csv"
    file.write_text("id,title,startsAt\nwinter,Winter,2026-12-05 10:30\n")
    gone = venue(served, BERLIN)
    gone.close()
    served.remove(gone)
    # When it is tried
    status = main(["--api", gone.url, "admin", "import", "--dry-run", str(file)])
    _, err = capsys.readouterr()
    # Then the command says it cannot reach the API (exit 1), as the others do: it said each
    # line named no time zone, and told the organiser to rewrite a good file (exit 2)
    assert status == 1, err
    assert err.splitlines()[-1].startswith(f"talkrate: cannot reach the API at {gone.url}")
    assert "names no time zone" not in err


def test_an_import_refuses_a_wall_time_the_venue_s_clocks_skip_and_one_without_a_zone_elsewhere(
    organiser: None, served: list[VenueApi], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    file = tmp_path / "programme.csv"
    file.write_text("id,title,startsAt\nspring,Spring,2027-03-28 02:30\n")
    # Given a venue in Berlin, When a file with a start in the hour its clocks skip is tried
    status, _, err = run(venue(served, BERLIN), capsys, "admin", "import", "--dry-run", str(file))
    # Then the line is refused, saying so
    assert status == 2
    assert err == [
        "talkrate: line 2: startsAt 2027-03-28 02:30 does not exist in Europe/Berlin (its "
        "clocks skip that hour)"
    ]
    # And where the deployment names no zone, a time without one is refused as before
    status, _, err = run(venue(served, NO_ZONE), capsys, "admin", "import", "--dry-run", str(file))
    assert status == 2
    assert err == [
        "talkrate: line 2: startsAt 2027-03-28 02:30 names no time zone (write it as "
        "2027-03-28 02:30Z for UTC, or with its offset, 2027-03-28 02:30+01:00)"
    ]


def test_an_import_compares_no_end_with_a_start_it_refused(
    organiser: None, served: list[VenueApi], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    file = tmp_path / "programme.csv"
    file.write_text(
        "id,title,startsAt,endsAt\n"
        "spring,Spring,2027-03-28 02:30,2027-03-28T03:30\n"
        "zoned,Zoned,2031-06-02 10:00,2031-06-02T07:30Z\n"
    )
    # Given a venue in Berlin, When a file whose start is in the hour its clocks skip is tried
    status, _, err = run(venue(served, BERLIN), capsys, "admin", "import", "--dry-run", str(file))
    # Then that start is its line's one problem (its end, at 03:30+02:00, is not compared with
    # it as written); a start in the venue's zone is still compared with a zoned end
    assert status == 2
    assert err == [
        "talkrate: line 2: startsAt 2027-03-28 02:30 does not exist in Europe/Berlin (its "
        "clocks skip that hour)",
        "talkrate: line 3: endsAt 2031-06-02T07:30Z is not after startsAt 2031-06-02 10:00+02:00",
        "talkrate: 2 lines of the file cannot be imported (nothing was imported)",
    ]
    # And where the deployment names no zone, a start naming none is its line's one problem
    # beside an end naming one
    status, _, err = run(venue(served, NO_ZONE), capsys, "admin", "import", "--dry-run", str(file))
    assert status == 2
    assert err[-2] == (
        "talkrate: line 3: startsAt 2031-06-02 10:00 names no time zone (write it as "
        "2031-06-02 10:00Z for UTC, or with its offset, 2031-06-02 10:00+01:00)"
    )
    assert not [line for line in err if "is not after" in line]


def test_the_results_export_is_as_it_was_whatever_the_venue_s_zone(
    served: list[VenueApi], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # Given the same programme at a venue in Berlin, and at one that names no zone
    files = []
    for config in (BERLIN, NO_ZONE):
        api = venue(served, config, KEYNOTE)
        api.talks["keynote"]["summary"] = {"count": 1, "avg": 5.0, "ratings": {"5": 1}}
        files.append(tmp_path / f"{len(files)}.csv")
        # When the results are exported
        assert run(api, capsys, "admin", "export", str(files[-1]))[0] == 0
        # Then the config was not read
        assert api.config_reads == 0
    # And both files are the same, byte for byte, their times the API's
    assert files[0].read_bytes() == files[1].read_bytes()
    assert b"2026-12-05T09:00:00Z,2026-12-05T09:45:00Z" in files[0].read_bytes()


def test_a_stack_s_venue_zone_is_read_where_its_pages_are(
    machine_in_new_york: None,
    served: list[VenueApi],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a deployed stack: its API (the execute-api URL, ApiUrl) does not serve the app,
    # whose config.json, naming Berlin, is on its CloudFront distribution (AppUrl)
    api, pages = venue(served, None, KEYNOTE), venue(served, BERLIN)
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "eu-west-1",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        template = {
            "Resources": {"Handle": {"Type": "AWS::SNS::Topic"}},
            "Outputs": {
                "ApiUrl": {"Value": api.url},
                "AppUrl": {"Value": f"{pages.url}/app/"},
            },
        }
        boto3.client("cloudformation").create_stack(
            StackName="talkrate-prod", TemplateBody=json.dumps(template)
        )
        # When the programme is shown with --stack
        status = main(["--stack", "talkrate-prod", "talks"])
    table = capsys.readouterr().out
    # Then its times are Berlin's (the API's 404 for config.json left them in New York's)
    assert status == 0
    assert "when" in table
    assert (api.config_reads, pages.config_reads) == (0, 1)


def test_an_import_of_many_clashes_says_one_line_a_clash_and_the_first_twenty(
    organiser: None,
    served: list[VenueApi],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    # Given a file of 2,000 talks in a placeholder room at one hour (the times copied down),
    # and 24 rooms of two talks at once each: 25 clashes
    api = venue(served, BERLIN)
    lines = ["id,title,room,startsAt,endsAt"]
    lines += [f"tba-{n},TBA {n},TBA,2026-12-05 09:00,2026-12-05 10:00" for n in range(2000)]
    for room in range(24):
        lines += [
            f"r{room}-{n},Talk {n},Room {room:02},2026-12-05 11:00,2026-12-05 12:00" for n in (1, 2)
        ]
    file = tmp_path / "programme.csv"
    file.write_text("\n".join(lines) + "\n")
    # When an organiser looks at what its import would do
    status, out, err = run(api, capsys, "admin", "import", "--dry-run", str(file))
    # Then each clash is one line, the 2,000 talks of the placeholder room one of them, and
    # the lines stop at 20, saying how many more (as a file's bad lines do)
    assert status == 0, err
    assert "would be: 2048 created" in out
    assert len(err) == 21
    assert err[0] == (
        "talkrate: warning: room clash in TBA, 2026-12-05 09:00\N{EN DASH}10:00 CET: 2,000 talks "
        "overlap: tba-0 (TBA 0, 09:00\N{EN DASH}10:00), tba-1 (TBA 1, 09:00\N{EN DASH}10:00), "
        "tba-10 (TBA 10, 09:00\N{EN DASH}10:00) and 1,997 more"
    )
    assert err[1].startswith("talkrate: warning: room clash in Room 00, ")
    assert err[-1] == "talkrate: warning: and 5 more room clashes (`--json` lists every one)"
    # And --json lists every clash, with every one of its talks
    status, out, _ = run(api, capsys, "--json", "admin", "import", "--dry-run", str(file))
    found = json.loads(out)["clashes"]
    assert [len(clash["talks"]) for clash in found] == [2000] + [2] * 24
