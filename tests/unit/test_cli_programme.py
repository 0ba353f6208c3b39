"""The programme spreadsheet: rows read, compared with the catalog, results written."""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from talkrate.models import TalkFields
from talkrate_cli.errors import CliError
from talkrate_cli.main import main
from talkrate_cli.programme import (
    BadRows,
    PauseNotApplied,
    average_cell,
    pause_not_applied,
    paused_talks,
    places,
    read_programme,
    read_rows,
    same_talk,
    sendable,
    slug,
    to_send,
    with_ids,
    write_results,
)
from tests.export_cells import (
    AVERAGE_CELLS,
    FORMULA_CELLS,
    HAND_TYPED_CELLS,
    formula_starts,
    listed,
)
from tests.unit import test_cli_venue_zone
from tests.unit.test_cli_venue_zone import NO_ZONE, VenueApi, run, venue
from tests.venue_cells import VENUE, VENUE_CELLS

pytestmark = pytest.mark.unit

# test_cli_venue_zone's stand-in API: an organiser token, and the stand-ins made
organiser = test_cli_venue_zone.organiser
served = test_cli_venue_zone.served

# The leaderboard's prior, as GET /leaderboard names it
PRIOR = {"mean": 3.0, "weight": 10.0}


def test_rows_become_the_api_fields() -> None:
    rows = read_rows(
        io.StringIO(
            "id,title,speakers,track,room,startsAt,endsAt\n"
            "k1,Keynote, Ada ; Grace ,Main,,2026-12-01T09:00:00Z,\n"
            ",Serverless at Scale!,,,,,\n"
            ",,,,,,\n"
        )
    )
    assert [(r.line, r.talk_id) for r in rows] == [(2, "k1"), (3, "serverless-at-scale")]
    assert rows[0].fields == {
        "title": "Keynote",
        "speakers": ["Ada", "Grace"],
        "track": "Main",
        "room": None,
        "startsAt": "2026-12-01T09:00:00Z",
        "endsAt": None,
    }


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("id,name\nx,y\n", "title column"),
        ("id,title,colour\nx,y,red\n", "unknown columns"),
        ("id,title\nx,\n", "line 2: a talk needs a title"),
        ("id,title\nx,A\nx,B\n", "line 3: talk x appears twice"),
        # A ";" in an unquoted cell of a ";" file: every cell after it would move a column on
        (
            "id;title;speakers;track;room\nt;T;Ana;Bo;Main;Hall A\n",
            "line 2: 6 cells where the header has 5",
        ),
        ("id,title,speakers,track,room\nt,T,Ana\n", "line 2: 3 cells where the header has 5"),
        ("id,title\nmy talk,T\n", "line 2: id 'my talk' is not one a talk can have"),
        ('id,title\nt,"Two\nlines"\n', "line 2: title holds a control character"),
        ("id,title\nt,Go\u009b2J\n", "line 2: title holds a control character"),
        (
            "id,title,startsAt\nt,T,02/12/2026 09:00\n",
            "line 2: startsAt '02/12/2026 09:00' is not a time",
        ),
        ('[{"id": "t", "title": "T"}]\n', "this is JSON; import takes a CSV"),
        ("id,title,title\nt,T,U\n", "columns named twice in the header: title"),
        (
            "id,title,language\nt,T,Hebrew\n",
            "line 2: language 'Hebrew' is not a BCP 47 language tag of at most 35 characters",
        ),
        ("id,title,language\nt,T,en_GB\n", "line 2: language 'en_GB' is not a BCP 47"),
        # What the API refuses of a talk's fields, said before anything is sent
        (
            "id,title,startsAt,endsAt\nt,T,2026-12-02T19:00Z,2026-12-02T18:00Z\n",
            "line 2: endsAt 2026-12-02T18:00Z is not after startsAt 2026-12-02T19:00Z",
        ),
        (
            "id,title,startsAt,endsAt\nt,T,2026-12-02T19:00+01:00,2026-12-02T18:00Z\n",
            "line 2: endsAt 2026-12-02T18:00Z is not after startsAt",
        ),
        (f"id,title\nt,{'x' * 301}\n", "line 2: title has 301 characters, the most .* is 300"),
        (f"id,title,track\nt,T,{'x' * 101}\n", "line 2: track has 101 characters"),
        (f"id,title,room\nt,T,{'x' * 101}\n", "line 2: room has 101 characters"),
        (f"id,title,speakers\nt,T,Ana;{'x' * 121}\n", "line 2: speaker has 121 characters"),
        (
            f"id,title,speakers\nt,T,{';'.join(['Ana'] * 21)}\n",
            "line 2: 21 speakers, the most a talk has is 20",
        ),
        ("id,title\nt,\u200b\n", r"line 2: title '\\u200b' holds no visible character"),
        # A cell past what Python's csv reads (it was "unexpected Error: field larger than
        # field limit"): a quote never closed takes the rest of the file into one cell
        (
            'id,title\nt,"T\n' + "u,U\n" * 40_000,
            r"line 2: a cell longer than 131072 characters \(a double quote never closed\?\)",
        ),
        # ... named by the line its quote opened on, not the line after the last row read
        # (it said line 3 here: blank lines between)
        (
            'id,title\na,A\n\n\nx,"Unclosed\n' + "y,Y\n" * 40_000,
            r"^line 5: a cell longer than 131072 characters \(a double quote never closed\?\)",
        ),
        (
            'id,title\na,A\nb,"two\nlines"\n\nc,C,"open\n' + "y,Y\n" * 40_000,
            r"; line 6: a cell longer than 131072 characters",
        ),
        # A header line past the field limit (it was "unexpected Error: field larger than field
        # limit"), or whose quote is never closed: the whole file refused, naming its line
        (
            'id,"title' + "z" * 140_000 + '"\nx,X\n',
            r"^line 1: a cell longer than 131072 characters \(a double quote never closed\?\): "
            "the header line cannot be read$",
        ),
        (
            'id,"title\n' + "x,X\n" * 40_000,
            r"^line 1: a cell longer than 131072 characters \(a double quote never closed\?\): "
            "the header line cannot be read$",
        ),
        # (no quote open: the cell said as too long for the import, not as a quote never closed)
        (
            "sep=;\nid;title" + "z" * 140_000 + "\nx;X\n",
            r"^line 2: column 2 has 140005 characters, the most the import reads in a cell is "
            "131072: the header line cannot be read$",
        ),
    ],
)
def test_a_spreadsheet_that_cannot_be_a_programme_is_refused_by_line(
    text: str, problem: str
) -> None:
    with pytest.raises(CliError, match=problem):
        read_rows(io.StringIO(text))


# A programme with a bad line of each kind among good ones (line numbers are the file's)
SEVERAL_BAD = (
    "id,title,speakers,track,startsAt,endsAt\n"
    "ok-1,Fine,Ana,,2026-12-02T09:00Z,2026-12-02T09:45Z\n"  # 2
    "bad id,Spaces in its id,,,,\n"  # 3
    "ok-2,,Bo,,,\n"  # 4: no title
    "ok-3,Fine too,,,,\n"  # 5
    "t4,Day first,,,02/12/2026 09:00,2026-12-02T10:00Z\n"  # 6
    "t5,Backwards,,,2026-12-02T19:00Z,2026-12-02T18:00Z\n"  # 7
    "ok-1,Twice,,,,\n"  # 8
    f"t7,Long track,,{'x' * 101},,\n"  # 9
    "t8,Cells,Ana,Bo,Main,,,\n"  # 10
    "no id,Two things wrong,,,2026-12-02 09:00,\n"  # 11: the id and the time's zone
)


def test_every_bad_line_of_a_file_is_said_with_its_field_and_problem() -> None:
    # Given a programme with bad lines of different kinds among good ones
    # When it is read
    with pytest.raises(BadRows) as raised:
        read_rows(io.StringIO(SEVERAL_BAD))
    # Then every bad line is said, each with its field and what is wrong, in the file's order
    said = [(p.line, p.field) for p in raised.value.problems]
    assert said == [
        (3, "id"),
        (4, "title"),
        (6, "startsAt"),
        (7, "endsAt"),
        (8, "id"),
        (9, "track"),
        (10, None),
        (11, "id"),
        (11, "startsAt"),
    ]
    messages = [str(p) for p in raised.value.problems]
    assert messages[0].startswith("line 3: id 'bad id' is not one a talk can have")
    assert messages[2].startswith("line 6: startsAt '02/12/2026 09:00' is not a time the API reads")
    assert "line 8: talk ok-1 appears twice" in messages
    assert "line 10: 8 cells where the header has 6" in messages[6]
    assert "line 11: startsAt 2026-12-02 09:00 names no time zone" in messages[-1]
    assert (
        raised.value.said()[-1] == "8 lines of the file cannot be imported (nothing was imported)"
    )


def test_the_bad_lines_a_person_reads_are_the_first_twenty_then_how_many_more() -> None:
    # Given a file of 25 lines without a title
    text = "id,title\n" + "".join(f"t{n},\n" for n in range(25))
    with pytest.raises(BadRows) as raised:
        read_rows(io.StringIO(text))
    # Then a person reads 20 of them, how many more, and the sum; the document lists every one
    said = raised.value.said()
    assert said[:2] == ["line 2: a talk needs a title", "line 3: a talk needs a title"]
    assert said[20:] == [
        "and 5 more (`--json` lists every one)",
        "25 lines of the file cannot be imported (nothing was imported)",
    ]
    errors = raised.value.document()["errors"]
    assert [e["line"] for e in errors] == list(range(2, 27))
    assert errors[0] == {"line": 2, "field": "title", "message": "a talk needs a title"}


def test_an_import_of_a_file_with_bad_lines_says_each_and_sends_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the programme with bad lines, and an API nothing answers at (nor a token): the
    # file's problems are its own
    programme = tmp_path / "programme.csv"
    programme.write_text(SEVERAL_BAD)
    monkeypatch.delenv("TALKRATE_ADMIN_TOKEN", raising=False)
    monkeypatch.setenv("TALKRATE_LOCAL_DATA", str(tmp_path))
    nowhere = ["--api", "http://127.0.0.1:9"]
    # When it is imported
    status = main([*nowhere, "admin", "import", str(programme)])
    # Then a line for each problem, then the sum, on stderr; exit 2, the file's fault
    lines = capsys.readouterr().err.splitlines()
    assert status == 2
    assert len(lines) == 10, lines
    assert lines[0].startswith("talkrate: line 3: id 'bad id'")
    assert lines[-1] == "talkrate: 8 lines of the file cannot be imported (nothing was imported)"
    # And with --json: one document listing every problem, one line on stderr
    status = main(["--json", *nowhere, "admin", "import", str(programme)])
    said = capsys.readouterr()
    error = json.loads(said.out)["error"]
    assert status == 2
    assert error["type"] == "urn:talkrate:cli:bad-input"
    assert [(e["line"], e["field"]) for e in error["errors"]][:3] == [
        (3, "id"),
        (4, "title"),
        (6, "startsAt"),
    ]
    assert len(error["errors"]) == 9
    assert said.err.strip().splitlines() == [lines[-1]]


def test_excel_s_separator_line_names_the_separator_and_lines_keep_their_numbers() -> None:
    # Given a file whose first line is Excel's "sep=;" (its commas are in the cells)
    text = "sep=;\r\nid;title;speakers\r\nx;A, B;Ana, Bo\r\ny;;\r\n"
    # When it is read, then its cells are split at ";" only, and a refusal names the file's line
    with pytest.raises(CliError, match="line 4: a talk needs a title"):
        read_rows(io.StringIO(text))
    [row] = read_rows(io.StringIO(text.replace("y;;\r\n", "")))
    assert (row.line, row.talk_id) == (3, "x")
    assert row.fields == {"title": "A, B", "speakers": ["Ana, Bo"]}


def test_header_names_are_read_whatever_their_spaces_and_case() -> None:
    [row] = read_rows(
        io.StringIO("Id, Title , SPEAKERS,startsat\nt,A talk,Ana,2026-12-02T09:00Z\n")
    )
    assert row.talk_id == "t"
    assert row.fields == {
        "title": "A talk",
        "speakers": ["Ana"],
        "startsAt": "2026-12-02T09:00Z",
    }


def test_the_same_talk_is_recognised_whatever_the_time_notation() -> None:
    [row] = read_rows(
        io.StringIO("id,title,speakers,startsAt\nk,T,A;B,2026-12-01T10:00:00+01:00\n")
    )
    current = {"id": "k", "title": "T", "speakers": ["A", "B"], "startsAt": "2026-12-01T09:00:00Z"}
    assert same_talk(row.fields, current)
    assert not same_talk(row.fields, {**current, "speakers": ["B", "A"]})
    assert not same_talk({**row.fields, "room": "Hall A"}, current)
    assert not same_talk({**row.fields, "startsAt": "not a time"}, current)


def test_a_column_the_file_lacks_is_no_change_to_the_talk() -> None:
    # Given a spreadsheet of ids and titles only, and a talk with its speakers, room and times
    [row] = read_rows(io.StringIO("id,title\nk,T\n"))
    current = {
        "id": "k",
        "title": "T",
        "speakers": ["Ann"],
        "track": "Main",
        "room": "Hall A",
        "startsAt": "2026-12-01T09:00:00Z",
        "endsAt": "2026-12-01T10:00:00Z",
    }
    # Then the row says nothing of the fields it has no column for
    assert row.fields == {"title": "T"}
    assert same_talk(row.fields, current)
    assert not same_talk({**row.fields, "room": None}, current)


def test_a_european_spreadsheet_separated_by_semicolons_is_read() -> None:
    # Given what Excel set to German or French saves as CSV: ';' between cells, CRLF, a quoted
    # speakers cell holding the speakers' own separator
    text = (
        "id;title;speakers;track;room;startsAt;endsAt\r\n"
        'k;Keynote, at last;"Ann; Bob";Main;Hall A;2026-12-01T09:00:00Z;\r\n'
    )
    [row] = read_rows(io.StringIO(text, newline=""))
    assert (row.line, row.talk_id) == (2, "k")
    assert row.fields == {
        "title": "Keynote, at last",
        "speakers": ["Ann", "Bob"],
        "track": "Main",
        "room": "Hall A",
        "startsAt": "2026-12-01T09:00:00Z",
        "endsAt": None,
    }
    [tabbed] = read_rows(io.StringIO("id\ttitle\nk\tT\n"))
    assert tabbed.fields == {"title": "T"}


def test_columns_a_spreadsheet_left_without_a_name_are_no_columns() -> None:
    # Given what Excel saves when a cell right of the programme was ever touched: a ";" more
    # after the last column, on every line (refused before: "unknown columns ['']")
    text = "\ufeffid;title;speakers;;\r\nk;Keynote;Ann;;\r\n;;;;\r\n"
    [row] = read_rows(io.StringIO(text.lstrip("\ufeff"), newline=""))
    # Then the named columns are read, as without them
    assert (row.line, row.talk_id, row.fields) == (
        2,
        "k",
        {"title": "Keynote", "speakers": ["Ann"]},
    )
    # And a cell under no name is refused at its line: it would be dropped without a word
    with pytest.raises(CliError, match="line 3: column 3 has no name in the header but holds 'x'"):
        read_rows(io.StringIO("id;title;;\nk;K;;\nl;L;x;\n"))


def test_a_time_without_a_zone_is_refused_before_anything_is_sent() -> None:
    # A spreadsheet's times often lose their zone; the API refuses them, so a dry run must too
    with pytest.raises(CliError, match="line 3: startsAt 2026-12-01T12:00:00 names no time zone"):
        read_rows(
            io.StringIO(
                "id,title,startsAt\na,A,2026-12-01T09:00:00+01:00\nb,B,2026-12-01T12:00:00\n"
            )
        )


def test_a_time_without_a_zone_is_the_venue_s_wall_time_where_the_deployment_names_one() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    # Given a spreadsheet of wall times (a space or a T, seconds or not), one with its offset,
    # read for a venue in Berlin
    rows = read_rows(
        io.StringIO(
            "id,title,startsAt,endsAt\n"
            "w,Winter,2026-12-05 10:00,2026-12-05T10:45:30\n"
            "s,Summer,2026-06-01T09:00,2026-06-01T09:45-04:00\n"
            "f,Fall back,2026-10-25 02:30+01:00,2026-10-25 03:30\n"
        ),
        berlin,
    )
    # Then each wall time is sent as written with the offset Berlin's clocks have then (as the
    # organisers' page sends it); an offset given is kept (the second of the two 02:30s of the
    # night the clocks go back)
    assert [(row.fields["startsAt"], row.fields["endsAt"]) for row in rows] == [
        ("2026-12-05 10:00+01:00", "2026-12-05T10:45:30+01:00"),
        ("2026-06-01T09:00+02:00", "2026-06-01T09:45-04:00"),
        ("2026-10-25 02:30+01:00", "2026-10-25 03:30+01:00"),
    ]
    # And a talk holding those instants (as the API answers them, in UTC) is unchanged by its row
    assert same_talk(
        rows[0].fields,
        {"title": "Winter", "startsAt": "2026-12-05T09:00:00Z", "endsAt": "2026-12-05T09:45:30Z"},
    )
    # And a wall time the clocks skip, or one in Berlin before 1970 in UTC, is refused by line
    with pytest.raises(BadRows) as refused:
        read_rows(
            io.StringIO(
                "id,title,startsAt,endsAt\n"
                "a,A,2027-03-28 02:30,2027-03-28T02:59\n"
                "b,B,1970-01-01 00:30,\n"
                "c,C,0001-01-01 00:00,\n"
            ),
            berlin,
        )
    assert [str(problem) for problem in refused.value.problems] == [
        "line 2: startsAt 2027-03-28 02:30 does not exist in Europe/Berlin (its clocks skip "
        "that hour)",
        "line 2: endsAt 2027-03-28T02:59 does not exist in Europe/Berlin (its clocks skip that "
        "hour)",
        "line 3: startsAt 1970-01-01 00:30 is not between the years 1970 and 9000",
        "line 4: startsAt 0001-01-01 00:00 is not between the years 1970 and 9000",
    ]


def test_an_export_can_be_imported_again_unchanged() -> None:
    talk = {
        "id": "k",
        "title": "T, with a comma",
        "speakers": ["A", "B"],
        "track": "Main",
        "startsAt": "2026-12-01T09:00:00Z",
        "summary": {"count": 3, "avg": 4.0, "ratings": {"3": 1, "4": 1, "5": 1}},
    }
    buffer = io.StringIO()
    assert write_results(buffer, [talk], PRIOR) == 1
    lines = buffer.getvalue().splitlines()
    assert lines[0].endswith(",count,avg,1,2,3,4,5,rank,score,ratingsPaused")
    # (ranked first of one: (3 * 10 + 12) / 13, to four places)
    assert lines[1] == (
        'k,"T, with a comma",A; B,Main,,2026-12-01T09:00:00Z,,,3,4.000,0,0,1,1,1,1,3.2308,false'
    )
    [row] = read_rows(io.StringIO(buffer.getvalue()))
    assert same_talk(row.fields, talk)


def test_an_export_says_which_talks_ratings_are_paused_and_imported_again_changes_nothing() -> None:
    # Given a rated talk whose ratings the organisers paused (its count stopped then), and one
    # taking ratings
    summary = {"count": 1, "avg": 5.0, "ratings": {"5": 1}}
    talks = [
        {"id": "paused", "title": "Cancelled halfway", "ratingsPaused": True, "summary": summary},
        {"id": "open", "title": "Ran as planned", "ratingsPaused": False, "summary": summary},
    ]
    # When they are exported
    buffer = io.StringIO()
    write_results(buffer, talks, PRIOR)
    header, *rows = buffer.getvalue().splitlines()
    # Then the last column says which is paused
    assert header.endswith(",score,ratingsPaused")
    assert [row.rsplit(",", 1)[1] for row in rows] == ["true", "false"]
    # And the import reads it as a result: nothing of the pause is sent
    read = read_rows(io.StringIO(buffer.getvalue()))
    assert all("ratingsPaused" not in row.fields for row in read)
    assert all(same_talk(row.fields, talk) for row, talk in zip(read, talks, strict=True))


def test_an_import_names_its_paused_talks_and_ratings_paused_cells_not_applied() -> None:
    # Given a catalog with two paused talks and an open one, and an export read back whose
    # ratingsPaused cells say true, false, TRUE (as a spreadsheet saves it), nothing or junk
    catalog = {
        "held": {"id": "held", "title": "Held", "ratingsPaused": True},
        "freed": {"id": "freed", "title": "Freed in the file", "ratingsPaused": True},
        "open": {"id": "open", "title": "Open"},
        "cased": {"id": "cased", "title": "Cased", "ratingsPaused": False},
    }
    text = (
        "id,title,count,ratingsPaused\n"
        "held,Held,0,true\n"
        "freed,Freed in the file,0,false\n"
        "open,Open,0,true\n"
        "cased,Cased,0,TRUE\n"
        ",A talk the import creates,,true\n"
        "blank,Blank,,\n"
        "junk,Junk,,yes\n"
    )
    rows = to_send(*read_programme(io.StringIO(text)), catalog)
    # Then the paused talks of the file are named in its order (a created one is not paused),
    # and each row whose cell says other than its talk, the created talk's by its slug
    assert paused_talks(rows, catalog) == ["held", "freed"]
    assert pause_not_applied(rows, catalog) == [
        PauseNotApplied(3, "freed", in_file=False, paused=True),
        PauseNotApplied(4, "open", in_file=True, paused=False),
        PauseNotApplied(5, "cased", in_file=True, paused=False),
        PauseNotApplied(6, "a-talk-the-import-creates", in_file=True, paused=False),
    ]
    # And nothing of the cell is sent, nor said of a file without the column
    assert all("ratingsPaused" not in row.fields for row in rows)
    plain = to_send(*read_programme(io.StringIO("id,title\nheld,Held\nopen,Open\n")), catalog)
    assert (paused_talks(plain, catalog), pause_not_applied(plain, catalog)) == (["held"], [])


def test_admin_import_says_its_paused_talks_and_a_ratings_paused_column_it_does_not_apply(
    organiser: None,
    served: list[VenueApi],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    # Given 25 paused talks and an open one, and an export of them read back, where the open
    # talk's cell says true and the first paused one's false
    talks = [{"id": f"p{n:02}", "title": f"P{n}", "ratingsPaused": True} for n in range(25)]
    api = venue(served, NO_ZONE, *talks, {"id": "open", "title": "Open", "ratingsPaused": False})
    file = tmp_path / "results.csv"
    lines = [f"{t['id']},{t['title']},{'false' if t['id'] == 'p00' else 'true'}" for t in talks]
    file.write_text("\n".join(["id,title,ratingsPaused", *lines, "open,Open,true"]) + "\n")
    # When it is imported, in a dry run first, then with --json
    status, out, err = run(api, capsys, "admin", "import", "--dry-run", str(file))
    assert status == 0, err
    json_status, document, _ = run(api, capsys, "--json", "admin", "import", str(file))
    # Then the summary names the paused talks, the first 20 and how many more, as what would
    # be; the column is said once on stderr as what would not be applied, naming both talks
    assert out.splitlines() == [
        "would be: 0 created, 0 updated, 26 unchanged",
        "25 talks would stay paused (ratings refused): "
        + ", ".join(f"p{n:02}" for n in range(20))
        + " and 5 more (`--json` lists every one) \N{EM DASH} `talkrate admin resume ID` "
        "opens them again",
    ]
    assert err == [
        "talkrate: warning: the file's ratingsPaused column would not be applied (an import "
        "never pauses or resumes ratings: `talkrate admin pause ID` and `talkrate admin resume "
        "ID` do); it differs from the talk for p00 (false in the file, the talk paused), open "
        "(true in the file, the talk not paused)"
    ]
    # And --json lists every paused talk and every cell not applied; nothing was sent
    assert json_status == 0
    assert json.loads(document)["paused"] == [t["id"] for t in talks]
    assert json.loads(document)["ratingsPausedNotApplied"] == [
        {"line": 2, "talk": "p00", "inFile": False, "ratingsPaused": True},
        {"line": 27, "talk": "open", "inFile": True, "ratingsPaused": False},
    ]
    assert api.sent == []


def test_an_export_for_excel_in_europe_is_separated_by_semicolons_and_imported_again() -> None:
    # Given a rated talk whose title holds a comma and whose speakers are two
    talk = {
        "id": "k",
        "title": "T, with a comma",
        "speakers": ["Ana", "Björn"],
        "track": "Main",
        "startsAt": "2026-12-01T09:00:00Z",
        "summary": {"count": 3, "avg": 4.0, "ratings": {"3": 1, "4": 1, "5": 1}},
    }
    # When it is exported for a spreadsheet whose list separator is ";" (European Excel)
    buffer = io.StringIO()
    assert write_results(buffer, [talk], PRIOR, delimiter=";") == 1
    # Then its cells are separated by ";" (no `sep=` line: Excel would drop the byte-order
    # mark after it), the speakers' cell quoted, and its decimals written with a comma, as
    # that spreadsheet reads a number (4.000 is no number there)
    lines = buffer.getvalue().splitlines()
    assert lines[0].startswith("id;title;speakers;")
    assert lines[0].endswith(";count;avg;1;2;3;4;5;rank;score;ratingsPaused")
    assert lines[1] == (
        'k;T, with a comma;"Ana; Björn";Main;;2026-12-01T09:00:00Z;;;3;4,000;0;0;1;1;1;1;3,2308;false'
    )
    # And the import reads it back as the same talk
    [row] = read_rows(io.StringIO(buffer.getvalue()))
    assert same_talk(row.fields, talk)


def test_a_talk_s_language_is_exported_and_imported_and_a_file_without_it_keeps_each_talk_s() -> (
    None
):
    # Given a talk in Hebrew, another in English of Britain, and one in no language given
    talks = [
        {"id": "he", "title": "\u05e9\u05dc\u05d5\u05dd", "language": "he"},
        {"id": "gb", "title": "Colour", "language": "en-GB"},
        {"id": "none", "title": "Plain"},
    ]
    talks = [talk | {"summary": {"count": 0, "avg": None, "ratings": {}}} for talk in talks]
    # When they are exported
    out = io.StringIO()
    write_results(out, talks, PRIOR)
    lines = out.getvalue().splitlines()
    # Then the language is a column after the times, before the results
    assert lines[0] == (
        "id,title,speakers,track,room,startsAt,endsAt,language,"
        "count,avg,1,2,3,4,5,rank,score,ratingsPaused"
    )
    assert [line.split(",")[7] for line in lines[1:]] == ["he", "en-GB", ""]
    # And the file imported again changes nothing, nor a file writing a tag in other case
    rows = read_rows(io.StringIO(out.getvalue()))
    assert [row.fields["language"] for row in rows] == ["he", "en-GB", None]
    assert all(same_talk(row.fields, talk) for row, talk in zip(rows, talks, strict=True))
    [cased] = read_rows(io.StringIO("id,title,language\ngb,Colour,EN-gb\n"))
    assert same_talk(cased.fields, talks[1])
    # And a file without the column (every file before it) leaves each talk's language alone
    [old] = read_rows(io.StringIO("id,title,room\nhe,\u05e9\u05dc\u05d5\u05dd,Hall A\n"))
    assert "language" not in old.fields
    # while a file whose cell is empty clears it, and one naming another changes it
    [cleared] = read_rows(io.StringIO("id,title,language\nhe,\u05e9\u05dc\u05d5\u05dd,\n"))
    assert cleared.fields["language"] is None
    assert not same_talk(cleared.fields, talks[0])
    [other] = read_rows(io.StringIO("id,title,language\nhe,\u05e9\u05dc\u05d5\u05dd,yi\n"))
    assert not same_talk(other.fields, talks[0])


def rated(talk_id: str, **counts: int) -> dict[str, object]:
    """A talk of GET /talks with this histogram ({"v5": 2} is two 5s)."""
    ratings = {name[1:]: n for name, n in counts.items()}
    count = sum(ratings.values())
    total = sum(int(v) * n for v, n in ratings.items())
    summary = {"count": count, "avg": total / count if count else None, "ratings": ratings}
    return {"id": talk_id, "title": talk_id, "summary": summary}


def test_the_export_ranks_the_rated_talks_by_the_leaderboard_s_score_and_tie_order() -> None:
    # Given a lucky talk (one 5), a solid one (twelve 4s), two of one histogram (a tie), and
    # one nobody rated
    talks = [
        rated("lucky", v5=1),
        rated("solid", v4=12),
        rated("tie-a", v3=1, v5=1),
        rated("tie-b", v3=1, v5=1),
        rated("unrated"),
    ]
    # When they are exported
    out = io.StringIO()
    write_results(out, talks, PRIOR)
    cells = {r["id"]: (r["rank"], r["score"]) for r in csv.DictReader(io.StringIO(out.getvalue()))}
    # Then the solid talk outranks the lucky one (the prior pulls one 5 towards 3), the tied
    # talks share a rank (as on the leaderboard), and the unrated talk has no place
    assert cells == {
        "solid": ("1", "3.5455"),
        "lucky": ("2", "3.1818"),
        "tie-b": ("3", "3.1667"),
        "tie-a": ("3", "3.1667"),
        "unrated": ("", ""),
    }
    # And the scores are the projector's own floats (the same division of the same integers)
    assert places(talks, PRIOR)["solid"] == (1, (3.0 * 10 + 48) / 22)


def test_an_export_with_ranks_and_scores_is_imported_again_unchanged() -> None:
    # Given an export whose talks are ranked
    talks = [rated("a", v5=3) | {"speakers": ["Ana"]}, rated("b", v1=1)]
    out = io.StringIO()
    write_results(out, talks, PRIOR)
    # When it is imported again
    rows = read_rows(io.StringIO(out.getvalue()))
    # Then its results (rank and score too) are no field of a talk, and nothing changes
    assert [row.fields for row in rows] == [
        {
            "title": "a",
            "speakers": ["Ana"],
            "track": None,
            "room": None,
            "startsAt": None,
            "endsAt": None,
            "language": None,
        },
        {
            "title": "b",
            "speakers": [],
            "track": None,
            "room": None,
            "startsAt": None,
            "endsAt": None,
            "language": None,
        },
    ]
    assert all(same_talk(row.fields, talk) for row, talk in zip(rows, talks, strict=True))


@pytest.mark.parametrize(("name", "ratings", "cell"), AVERAGE_CELLS)
def test_an_average_is_its_histogram_s_to_three_places_a_tie_rounded_up(
    name: str, ratings: dict[str, int], cell: str
) -> None:
    # Given a talk as GET /talks lists it: its histogram, and its avg to four places
    talk = listed("t", ratings)
    # When its results are exported
    out = io.StringIO()
    write_results(out, [talk], PRIOR)
    # Then its avg cell is its histogram's exact average to three places, not the API's
    # rounded again (the organisers' page writes the same: tests/e2e/test_web_app.py)
    [row] = csv.DictReader(io.StringIO(out.getvalue()))
    assert row["avg"] == cell, name
    assert average_cell(ratings) == cell, name


def test_speakers_whose_names_hold_the_separator_read_back_exactly() -> None:
    # Given talks whose speakers' names hold ";", a backslash, a comma and a quote
    speakers = [
        ["Smith; Jr.", "Ada"],
        ["C:\\talks\\", "Grace \\; Hopper", 'O"Neil, Pat'],
        [";", "\\"],
        [],
    ]
    talks = [{"id": f"k{n}", "title": "T", "speakers": names} for n, names in enumerate(speakers)]
    # When the results are written and read back with the csv module
    buffer = io.StringIO()
    write_results(buffer, talks, PRIOR)
    records = list(csv.DictReader(io.StringIO(buffer.getvalue())))
    # Then a spreadsheet sees one cell with the names, the separator escaped
    assert records[0]["speakers"] == "Smith\\; Jr.; Ada"
    # And the import reads every name back as it was
    rows = read_rows(io.StringIO(buffer.getvalue()))
    assert [row.fields["speakers"] for row in rows] == speakers


@pytest.mark.parametrize(
    "title", ["'=starts with an apostrophe", "''", "'", "'-", "''=x", "'Quoted' title", "=x"]
)
def test_a_title_starting_with_an_apostrophe_reads_back_as_itself(title: str) -> None:
    # Given a talk whose own title starts with "'" (before a formula's start, or not)
    talk = {"id": "k", "title": title, "speakers": [title]}
    # When it is exported and imported again
    out = io.StringIO()
    write_results(out, [talk], PRIOR)
    [row] = read_rows(io.StringIO(out.getvalue()))
    # Then it is the same title and speaker, and no cell starts as a formula would
    assert (row.fields["title"], row.fields["speakers"]) == (title, [title])
    [cells] = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert not cells["title"].startswith(("=", "+", "-", "@"))


def test_a_hand_typed_backslash_stays_in_the_name() -> None:
    [row] = read_rows(io.StringIO("title,speakers\nT,A\\B ; \\x;C\\\n"))
    assert row.fields["speakers"] == ["A\\B", "\\x", "C\\"]


def test_cells_a_spreadsheet_would_run_as_formulas_are_guarded_and_read_back() -> None:
    # Given talks whose title and first speaker start as a spreadsheet formula would
    talks = [
        {"id": "f1", "title": '=HYPERLINK("x")', "speakers": ["-Ann", "Bo"], "track": "+1"},
        {"id": "f2", "title": "@home", "speakers": ["'Quoted' Ann"]},
    ]
    out = io.StringIO()
    write_results(out, talks, PRIOR)
    # When they are exported
    cells = list(csv.DictReader(io.StringIO(out.getvalue())))
    # Then no cell starts with what a spreadsheet evaluates
    for row in cells:
        for value in row.values():
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), row
    assert (cells[0]["title"], cells[0]["speakers"]) == ('\'=HYPERLINK("x")', "'-Ann; Bo")
    # And an import reads each back as it was (a quote before anything else is the name's own)
    rows = read_rows(io.StringIO(out.getvalue()))
    assert [(r.fields["title"], r.fields["speakers"], r.fields["track"]) for r in rows] == [
        ('=HYPERLINK("x")', ["-Ann", "Bo"], "+1"),
        ("@home", ["'Quoted' Ann"], None),
    ]


@pytest.mark.parametrize(
    ("name", "title", "speakers", "title_cell", "speakers_cell"), FORMULA_CELLS
)
def test_no_cell_starts_a_formula_whatever_a_spreadsheet_splits_the_line_on(
    name: str, title: str, speakers: list[str], title_cell: str, speakers_cell: str
) -> None:
    # Given a talk whose title or speakers hold a formula after a ";", "," or space (a CFP's)
    talk = {"id": "cfp-42", "title": title, "speakers": speakers, "room": title}
    # When it is exported
    out = io.StringIO()
    write_results(out, [talk], PRIOR)
    # Then each such start is after a "'", and nothing else changed
    [cells] = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert (cells["title"], cells["speakers"], cells["room"]) == (
        title_cell,
        speakers_cell,
        title_cell,
    )
    # And however a spreadsheet splits its lines (Excel set to a European language splits a
    # .csv on ";"), no cell it makes starts a formula
    assert formula_starts(out.getvalue()) == [], name
    # And an import reads the talk back as it was
    [row] = read_rows(io.StringIO(out.getvalue()))
    assert (row.fields["title"], row.fields["speakers"], row.fields["room"]) == (
        title,
        speakers,
        title,
    )
    assert same_talk(row.fields, talk)


# Texts of characters that start formulas or split lines, as the API takes them (trimmed, no
# control character): each is a title, a speaker's name and a room
HOSTILE_TEXTS = st.text(alphabet="=+-@;,'\" \\a", min_size=1, max_size=12)


@settings(max_examples=400, deadline=None)
@given(HOSTILE_TEXTS, st.lists(HOSTILE_TEXTS, max_size=3))
def test_any_text_the_api_takes_is_exported_starting_no_formula_and_read_back_as_it_was(
    title: str, speakers: list[str]
) -> None:
    # Given a talk of these texts as the API holds it (trimmed; texts it refuses left out)
    try:
        fields = TalkFields.model_validate({"title": title, "speakers": speakers, "room": title})
    except ValidationError:
        fields = None
    assume(fields is not None)
    assert fields is not None
    talk = {"id": "t", **fields.model_dump(by_alias=True, exclude_none=True)}
    # When it is exported, then no cell a spreadsheet makes of it starts a formula, and an
    # import reads it back as it was
    out = io.StringIO()
    write_results(out, [talk], PRIOR)
    assert formula_starts(out.getvalue()) == []
    [row] = read_rows(io.StringIO(out.getvalue()))
    assert same_talk(row.fields, talk), out.getvalue()


@pytest.mark.parametrize(("name", "cell", "text"), HAND_TYPED_CELLS)
def test_an_import_takes_out_only_the_guards_an_export_puts(
    name: str, cell: str, text: str
) -> None:
    # Given a file typed by hand (or exported before the guards inside a cell) holding the cell
    # as a title and a room
    out = io.StringIO()
    csv.writer(out).writerows([["id", "title", "room"], ["h", cell, cell]])
    # When it is imported
    [row] = read_rows(io.StringIO(out.getvalue()))
    # Then each reads as the text it means: a single "'" after a separator is the text's own
    assert (row.fields["title"], row.fields["room"]) == (text, text), name


def old_guarded(text: str) -> str:
    """A cell as the export wrote it before 2026-12-05: a "'" at its start only."""
    return re.sub(r"^ *(?=[=+\-@\t\r'])", lambda found: found[0] + "'", text)


@settings(max_examples=400, deadline=None)
@given(HOSTILE_TEXTS)
def test_a_file_exported_before_the_guards_inside_a_cell_reads_back_as_it_was(
    text: str,
) -> None:
    # Given a text as the API holds it, exported before the guards inside a cell, which holds
    # no "''" before a formula's start after a separator (what an export writes now for none)
    try:
        title = TalkFields.model_validate({"title": text, "speakers": []}).title
    except ValidationError:
        title = None
    assume(title is not None and not re.search(r"""[;,] *''(?=['" ]*[=+\-@])""", title))
    assert title is not None
    out = io.StringIO()
    csv.writer(out).writerows([["id", "title"], ["old", old_guarded(title)]])
    # When it is imported now
    [row] = read_rows(io.StringIO(out.getvalue()))
    # Then the title is as it was
    assert row.fields["title"] == title, out.getvalue()


@pytest.mark.parametrize(
    ("title", "talk_id"),
    [
        # as the organisers' page makes them (web/js/programme-file.js): accents dropped
        ("Über Café", "uber-cafe"),
        ("Lucía Fernández: Señales en Ñuñoa", "lucia-fernandez-senales-en-nunoa"),
        ("İstanbul'da Kod", "istanbul-da-kod"),
        ("Serverless at Scale!", "serverless-at-scale"),
        ("Ω — 東京", "talk-4d1db174"),
        ("שיחה על מערכות", "talk-f19ce3de"),
        ("a" * 70, "a" * 60),
    ],
)
def test_a_row_without_an_id_gets_the_id_the_organisers_page_would_give(
    title: str, talk_id: str
) -> None:
    assert slug(title) == talk_id
    [row] = read_rows(io.StringIO(f"id,title\n,{title}\n"))
    assert (row.talk_id, row.id_from_title) == (talk_id, True)


def test_a_row_imported_before_the_ids_changed_keeps_its_talk() -> None:
    rows = read_rows(
        io.StringIO(
            "id,title\n"
            ",Über Café\n"  # imported before as ber-caf
            ",Ça va\n"  # a-va in the catalog, under another title: a new talk
            "ber-2,Ärger\n"  # an id of its own: kept as written
            ",Naïve\n"  # na-ve and naive both in the catalog: the current id wins
        )
    )
    catalog = {
        "ber-caf": {"id": "ber-caf", "title": "Über Café"},
        "a-va": {"id": "a-va", "title": "Ça va?"},
        "rger": {"id": "rger", "title": "Ärger"},
        "na-ve": {"id": "na-ve", "title": "Naïve"},
        "naive": {"id": "naive", "title": "Naïve"},
    }
    kept = with_ids(rows, catalog)
    assert [row.talk_id for row in kept] == ["ber-caf", "ca-va", "ber-2", "naive"]
    assert [row.fields for row in kept] == [row.fields for row in rows]


def test_titles_whose_ids_meet_get_ids_of_their_own_and_keep_them() -> None:
    # Two titles alike in their first 60 characters (ids are cut there), and a row whose id
    # is another row's title's
    stem = "Building resilient event-driven systems with Kafka and Redis"
    text = f"id,title\n,{stem}: part 1\n,{stem}: part 2\nbuilding-x,X\n,Building X\n"
    rows = with_ids(read_rows(io.StringIO(text)), {})
    base = slug(stem)
    assert [row.talk_id for row in rows] == [base, f"{base}-2", "building-x", "building-x-2"]
    # Imported again in another order, each title finds its own talk
    catalog = {row.talk_id: {"id": row.talk_id, "title": row.fields["title"]} for row in rows}
    again = with_ids(
        read_rows(io.StringIO("id,title\n" + "\n".join(reversed(text.splitlines()[1:])))), catalog
    )
    assert {row.fields["title"]: row.talk_id for row in again} == {
        row.fields["title"]: row.talk_id for row in rows
    }
    # And one imported before the cut (its 80-character ids) keeps those
    earlier = {
        f"{base}-part-1"[:80]: {"title": f"{stem}: part 1"},
        f"{base}-part-2"[:80]: {"title": f"{stem}: part 2"},
    }
    kept = with_ids(read_rows(io.StringIO(text)), earlier)
    assert [row.talk_id for row in kept[:2]] == [f"{base}-part-1", f"{base}-part-2"]


# Two titles whose ids meet (cut at 60 characters), the second saved with U+FEFF before it
# was dropped: each row without an id is matched to its talk by the title the API keeps
FEFF_STEM = "Building resilient event-driven systems with Kafka and Redis"
FEFF_CATALOG = {
    slug(FEFF_STEM): {"id": slug(FEFF_STEM), "title": f"{FEFF_STEM}: part 1"},
    f"{slug(FEFF_STEM)}-2": {"id": f"{slug(FEFF_STEM)}-2", "title": f"\ufeff{FEFF_STEM}: part 2"},
}
FEFF_FILE = f"title\n{FEFF_STEM}: part 2\n{FEFF_STEM}: part 1\n"


def test_a_title_saved_with_u_feff_is_still_its_talk_s_for_a_row_without_an_id() -> None:
    # When the file is imported again (part 2 first)
    rows = with_ids(read_rows(io.StringIO(FEFF_FILE)), FEFF_CATALOG)
    # Then each row updates its own talk: part 2 did not take part 1's, under its slug
    assert [row.talk_id for row in rows] == [f"{slug(FEFF_STEM)}-2", slug(FEFF_STEM)]


def test_a_title_without_an_id_twice_is_refused() -> None:
    with pytest.raises(CliError, match="line 3: talk Über Café appears twice"):
        read_rows(io.StringIO("id,title\n,Über Café\n,Über Café\n"))


def test_titles_without_latin_letters_imported_as_talk_before_keep_their_talks() -> None:
    # Given two such titles imported before they were hashed: "talk" and "talk-2"
    catalog = {
        "talk": {"id": "talk", "title": "שיחה על מערכות"},
        "talk-2": {"id": "talk-2", "title": "数据库的未来"},
    }
    hebrew = "שיחה על מערכות"
    rows = read_rows(io.StringIO(f"title\n数据库的未来\n{hebrew}\n新的\n"))
    # When the file is imported again, with a new title of the kind
    ids = [row.talk_id for row in with_ids(rows, catalog)]
    # Then each updates its talk, and the new one gets a hashed id
    assert ids[:2] == ["talk-2", "talk"]
    assert re.fullmatch(r"talk-[0-9a-f]{8}", ids[2])


def test_a_slug_held_by_another_talk_of_the_catalog_is_still_the_row_s() -> None:
    # As before the ids changed: a row without an id updates the talk of its slug (its title
    # may have been edited on the organisers' page since)
    [row] = with_ids(read_rows(io.StringIO("title\nKeynote\n")), {"keynote": {"title": "Opening"}})
    assert row.talk_id == "keynote"


def test_a_row_no_id_is_left_for_is_named_beside_the_other_rows_problems() -> None:
    # Given a catalog holding the numbered ids of "keynote" under other titles, and a file
    # whose row without an id is titled Keynote (its own id "keynote" held by the file's next
    # row), then a row whose end the file leaves before the start the catalog holds
    taken = [f"keynote-{n}" for n in range(2, 100)]
    catalog: dict[str, dict[str, Any]] = {i: {"id": i, "title": f"Other {i}"} for i in taken}
    catalog["t"] = {"id": "t", "title": "T", "startsAt": "2026-12-02T10:00:00Z"}
    text = "id,title,endsAt\n,Keynote,\nkeynote,Opening,\nt,T,2026-12-02T09:30Z\n"
    rows, problems = read_programme(io.StringIO(text))
    # When the import reads it over the catalog
    with pytest.raises(BadRows) as refused:
        to_send(rows, problems, catalog)
    # Then both rows' problems are named, as the organisers' page names them (no id left for
    # the first did not stop the check of the others), and nothing is sent
    assert [str(problem) for problem in refused.value.problems] == [
        "line 2: no free id for 'Keynote': give the row one",
        "line 4: endsAt 2026-12-02T09:30Z is not after startsAt 2026-12-02T10:00:00Z",
    ]


def test_an_end_before_a_start_the_file_leaves_as_it_is_is_refused() -> None:
    # A file of end times only, for a talk that starts at 10:00 in the catalog
    rows = read_rows(io.StringIO("id,title,endsAt\nt,T,2026-12-02T09:30Z\nu,U,2026-12-02T11:00Z\n"))
    catalog = {
        "t": {"id": "t", "title": "T", "startsAt": "2026-12-02T10:00:00Z", "endsAt": None},
        "u": {"id": "u", "title": "U", "startsAt": "2026-12-02T10:00:00Z", "endsAt": None},
    }
    with pytest.raises(CliError, match="line 2: endsAt 2026-12-02T09:30Z is not after startsAt"):
        sendable(rows, catalog)
    sendable(rows[1:], catalog)  # 11:00 after 10:00: taken
    sendable(rows, {})  # new talks: nothing kept to compare with


# Times the API refused or took differently from the import's check (a half-imported file
# followed), and times at the edges of what it takes.
TIMES_AT_THE_EDGES = [
    "2026-12-03T09:00Z",
    "2026-12-03t09:00:00z",
    "2026-12-03 09:00:00Z",
    "2026-12-03T09:00+0100",
    "2026-12-03T09:00+01",
    "20261203T090000Z",
    "2026-W49-4T09:00Z",
    "2026-12-03T0900Z",
    "2026-12-03T09Z",
    "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:59:59-01:00",
    "1970-01-01T00:30:00+01:00",
    "9000-12-31T23:59Z",
    "9001-01-01T00:30+01:00",
    "2026-12-03T09:00:00+23:59",
    "2026-12-03T09:00:00+24:00",
    "2026-12-03T09:00:00+01:60",
    "2026-12-03T24:00:00Z",
    "2026-02-30T09:00Z",
    "2026-12-03T09:00:00.Z",
    "2026-12-03T09:00:00,5Z",
    "2026-12-03T09:00:00+01:00:00",
    "2026-12-03T09:00:00 Z",
    "2026-12-03T09:00:00.123456789Z",
    "2026-12-03T09:00:00",
    "2026-12-03T9:00Z",
]


def _taken_by_the_api(text: str) -> bool:
    try:
        TalkFields.model_validate({"title": "T", "startsAt": text})
    except ValidationError:
        return False
    return True


def _taken_by_the_import(text: str) -> bool:
    try:
        read_rows(io.StringIO(f'id,title,startsAt\nk,T,"{text}"\n'))
    except CliError:
        return False
    return True


@pytest.mark.parametrize("text", TIMES_AT_THE_EDGES)
def test_the_import_takes_exactly_the_times_the_api_takes(text: str) -> None:
    assert _taken_by_the_import(text) == _taken_by_the_api(text)


@settings(max_examples=300, deadline=None)
@given(
    st.from_regex(
        r"[0-9]{4}-[01][0-9]-[0-3][0-9][Tt ][0-2][0-9](:[0-6][0-9]){0,2}([.,][0-9]{0,3})?"
        r"([Zz]|[+-][0-9]{1,2}(:?[0-9]{2})?)?",
        fullmatch=True,
    )
)
def test_the_import_and_the_api_agree_on_any_time_like_text(text: str) -> None:
    assert _taken_by_the_import(text) == _taken_by_the_api(text), text


# Language cells at the edges of what the API takes (talkrate.talk_text's LANGUAGE_TAG)
LANGUAGES_AT_THE_EDGES = [
    "he",
    "EN-gb",
    "zh-Hant-TW",
    "es-419",
    "de-CH-1996",
    "sl-rozaj-biske",
    "en-US-u-ca-gregory",
    "x-klingon",
    "i-klingon",
    "en-GB-oed",
    "de-CH-1996-u-co-phonebk-x-abc-defgh",  # 35 characters
    "de-CH-1996-u-co-phonebk-x-abc-defghi",  # 36
    "Hebrew",
    "e",
    "en_GB",
    "en-",
    "en--GB",
    "en-a",
    "en-x",
    "he\u200f",
    "\u212aa",
]


def _language_taken_by_the_api(text: str) -> bool:
    try:
        TalkFields.model_validate({"title": "T", "language": text})
    except ValidationError:
        return False
    return True


def _language_taken_by_the_import(text: str) -> bool:
    try:
        read_rows(io.StringIO(f'id,title,language\nk,T,"{text}"\n'))
    except CliError:
        return False
    return True


@pytest.mark.parametrize("text", LANGUAGES_AT_THE_EDGES)
def test_the_import_takes_exactly_the_languages_the_api_takes(text: str) -> None:
    assert _language_taken_by_the_import(text) == _language_taken_by_the_api(text)


@settings(max_examples=300, deadline=None)
@given(st.from_regex(r"[A-Za-z0-9]{1,9}(-[A-Za-z0-9]{1,9}){0,6}", fullmatch=True))
def test_the_import_and_the_api_agree_on_any_language_like_text(text: str) -> None:
    assert _language_taken_by_the_import(text) == _language_taken_by_the_api(text), text


# Unicode's nine explicit direction controls, then the three marks right-to-left text uses
DIRECTION_CONTROLS = [chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))]
DIRECTION_MARKS = ["\u200e", "\u200f", "\u061c"]


@pytest.mark.parametrize(
    "char", DIRECTION_CONTROLS + DIRECTION_MARKS, ids=lambda c: f"U+{ord(c):04X}"
)
def test_the_import_refuses_the_direction_controls_the_api_refuses_in_its_words(char: str) -> None:
    # Given a file whose title, speaker, track and room each hold the character after a word
    text = f"title,speakers,track,room\nKeynote {char}x,Ana;Bo {char}x,Main{char},Hall {char}A\n"
    fields = {"title": f"Keynote {char}x", "speakers": ["Ana", f"Bo {char}x"]}
    fields |= {"track": f"Main{char}", "room": f"Hall {char}A"}
    try:
        TalkFields.model_validate(fields)
        api_said = []
    except ValidationError as error:
        api_said = [e["msg"].removeprefix("Value error, must not hold ") for e in error.errors()]
    # When it is read
    try:
        read_rows(io.StringIO(text))
        import_said = []
    except BadRows as refused:
        import_said = [(p.field, p.message) for p in refused.problems]
    # Then it is refused exactly when the API would refuse the talk, each field in its words
    if char in DIRECTION_MARKS:
        assert (api_said, import_said) == ([], [])
        return
    said = f"U+{ord(char):04X} {unicodedata.name(char)} (character {{}}), an invisible control "
    said += "that can reorder the text around it where it is shown"
    assert api_said == [said.format(n) for n in (9, 4, 5, 6)]
    # (a speaker's character counted in its name, as the API counts it)
    assert import_said == [
        ("title", f"title holds {said.format(9)}"),
        ("speakers", f"speaker 2 holds {said.format(4)}"),
        ("track", f"track holds {said.format(5)}"),
        ("room", f"room holds {said.format(6)}"),
    ]


# Invisible characters of a talk's text that are no direction control: U+FEFF (a byte-order mark
# pasted inside a text), dropped as the API drops it; the joiners emoji sequences and Persian
# words need, a flag's tag characters and Arabic's letter mark, taken.
INVISIBLE_DROPPED = ["\ufeff"]
INVISIBLE_TAKEN = ["\u200d", "\u200c", "\U000e0067", "\U000e007f", "\u061c"]


def _api_taken(fields: dict[str, Any]) -> dict[str, Any]:
    """The fields as the API's talk model takes them (texts only)."""
    taken = TalkFields.model_validate(fields)
    return {k: getattr(taken, k) for k in fields}


@pytest.mark.parametrize(
    "char", INVISIBLE_DROPPED + INVISIBLE_TAKEN, ids=lambda c: f"U+{ord(c):04X}"
)
def test_the_import_drops_the_invisible_characters_the_api_drops_and_takes_the_rest(
    char: str,
) -> None:
    # Given a file whose title, speaker, track and room each hold the character inside a word,
    # and the room at its end too (after a space: trimmed once it is gone)
    text = (
        f"title,speakers,track,room\nKey{char}note,Ana;Bo{char}b,Ma{char}in,Hall {char}A {char}\n"
    )
    fields = {"title": f"Key{char}note", "speakers": ["Ana", f"Bo{char}b"]}
    fields |= {"track": f"Ma{char}in", "room": f"Hall {char}A {char}"}
    # When it is read, and the API takes the same talk
    [row] = read_rows(io.StringIO(text))
    taken = _api_taken(fields)
    # Then the import reads each text as the API keeps it: without U+FEFF, the rest as it is
    assert row.fields == taken
    if char in INVISIBLE_DROPPED:
        assert taken == {
            "title": "Keynote",
            "speakers": ["Ana", "Bob"],
            "track": "Main",
            "room": "Hall A",
        }


def test_a_programme_exported_with_u_feff_in_its_texts_is_imported_and_cleans_them() -> None:
    # Given a talk saved with U+FEFF in its speakers and room before the API dropped it, and
    # the programme's own export of it
    saved = {**LEGACY, "speakers": ["Ana", "Bo\ufeffb"], "room": "\ufeffHall A"}
    exported = io.StringIO(newline="")
    write_results(exported, [saved], PRIOR, line_end="\r\n")
    # When the export is imported again
    rows = read_rows(io.StringIO(exported.getvalue(), newline=""))
    # Then it is read without the character, and sent as a change: the talk saved clean
    sendable(rows, {"legacy": saved})
    assert (rows[0].fields["speakers"], rows[0].fields["room"]) == (["Ana", "Bob"], "Hall A")
    assert not same_talk(rows[0].fields, saved)


def _api_places(fields: dict[str, Any]) -> list[tuple[str, int]]:
    """Each field the API refuses for a direction control, and the character it names."""
    try:
        TalkFields.model_validate(fields)
    except ValidationError as error:
        found = [(e["loc"], re.search(r"\(character (\d+)\)", e["msg"])) for e in error.errors()]
        return [(".".join(map(str, loc)), int(m[1])) for loc, m in found if m]
    return []


def test_a_direction_control_is_placed_where_the_api_places_it_after_trimming() -> None:
    # Given a file whose title and second speaker start with spaces, then an isolate
    text = "title,speakers,room\n  \u2066Hi,Ana;  \u2067Bo , Hall \u202eA\n"
    fields = {"title": "  \u2066Hi", "speakers": ["Ana", "  \u2067Bo "], "room": " Hall \u202eA"}
    # When it is read, and the API judges the same texts
    with pytest.raises(BadRows) as refused:
        read_rows(io.StringIO(text))
    said = [
        (p.field, int(m[1]), p.message.split(" holds ")[0])
        for p in refused.value.problems
        if (m := re.search(r"\(character (\d+)\)", p.message))
    ]
    # Then both count the character in the text the API keeps (trimmed; a speaker's in the
    # name): the same place for each field (the import counted a speaker's in the whole cell)
    assert said == [("title", 1, "title"), ("speakers", 1, "speaker 2"), ("room", 6, "room")]
    assert _api_places(fields) == [("title", 1), ("speakers.1", 1), ("room", 6)]


LEGACY = {
    "id": "legacy",
    "title": "Old title",
    "speakers": ["Ana"],
    "track": "Main",
    "room": "Hall A",
    "startsAt": "2026-12-02T09:00:00Z",
    "endsAt": "2026-12-02T09:45:00Z",
}
# Values a talk may hold from before a rule the API has now, in a column a file lacks, each
# with what the import says of it (None: the API takes it)
STORED = [
    ("room", "Room \u202eb", "room holds U+202E RIGHT-TO-LEFT OVERRIDE (character 6)"),
    (
        "speakers",
        ["Ana", " \u2067Bo"],
        "speaker 2 holds U+2067 RIGHT-TO-LEFT ISOLATE (character 1)",
    ),
    ("track", "Main\u009b2J", "track holds a control character"),
    ("track", "Main\nTrack", "track holds a control character"),
    (
        "room",
        "Hall\u2028A",
        "room holds U+2028 LINE SEPARATOR (character 5), a line break: a talk's text is one line",
    ),
    ("room", "\u200b", "room '\\u200b' holds no visible character"),
    ("room", "   ", "room '' holds no visible character"),
    ("track", "x" * 101, "track has 101 characters, the most a talk's track has is 100"),
    ("startsAt", "1969-12-31T23:00:00Z", "startsAt 1969-12-31T23:00:00Z is not between the years"),
    ("room", "  Hall A ", None),  # trimmed, then taken
    ("room", "\u05d0\u05d5\u05dc\u05dd \u200f1", None),  # a mark: taken
    ("room", "Hall\ufeffA", None),  # saved before 2026-12-06: dropped, then taken
    ("track", "Family \U0001f469\u200d\U0001f467", None),  # a joiner: taken
]


@pytest.mark.parametrize(("column", "value", "said"), STORED, ids=lambda v: repr(v)[:30])
def test_a_stored_value_a_file_lacks_the_column_of_is_judged_as_the_api_will_judge_it(
    column: str, value: Any, said: str | None
) -> None:
    # Given a talk holding the value, saved before the API refused it, and a file of its id and
    # a new title (a PUT replaces the whole talk: the import sends the stored value)
    current = {**LEGACY, column: value}
    rows = read_rows(io.StringIO("id,title\nlegacy,New title\n"))
    body = {k: v for k, v in ({**current, "id": None} | rows[0].fields).items() if v is not None}
    # When the import checks the row as it would send it
    try:
        sendable(rows, {"legacy": current})
        refused = []
    except BadRows as error:
        refused = error.problems
    # Then it refuses the file exactly when the API would refuse the row, naming the line, the
    # field, that the stored value is the problem and what to do
    assert bool(refused) == bool(_api_refusals(body)) == (said is not None)
    if said is not None:
        [problem] = refused
        assert (problem.line, problem.field) == (2, column)
        assert str(problem).startswith(f"line 2: the talk's stored {said}")
        assert str(problem).endswith(
            f"; the file has no {column} column, so the import would send it as stored, and the "
            f"API now refuses it: add a {column} column with a value the API takes, or edit the "
            "talk first"
        )
        assert {e.split(".")[0] for e in _api_refusals(body)} == {column}
    # And a file with the column, a row leaving its talk as it is, and a new talk send nothing
    # stored: nothing refused
    clean = "Room b" if column != "speakers" else "Ana; Bo"
    clean = "2026-12-02T09:00Z" if column == "startsAt" else clean
    with_column = read_rows(io.StringIO(f"id,title,{column}\nlegacy,New title,{clean}\n"))
    sendable(with_column, {"legacy": current})
    sendable(read_rows(io.StringIO("id,title\nlegacy,Old title\n")), {"legacy": current})
    sendable(rows, {})


def _api_refusals(body: dict[str, Any]) -> list[str]:
    try:
        TalkFields.model_validate(body)
    except ValidationError as error:
        return [".".join(map(str, e["loc"])) for e in error.errors()]
    return []


def test_every_stored_value_a_row_would_send_is_said_and_the_times_too() -> None:
    # Given a talk holding two values the API refuses now and ending before a start the file
    # gives it
    current = {**LEGACY, "track": "\u202aMain", "speakers": ["\u2069Ana", "Bo\u202c"]}
    rows = read_rows(io.StringIO("id,title,startsAt\nlegacy,New,2026-12-02T10:00Z\n"))
    # When the import checks it
    with pytest.raises(BadRows) as refused:
        sendable(rows, {"legacy": current})
    # Then each is said, on its line, by field
    assert [(p.line, p.field) for p in refused.value.problems] == [
        (2, "endsAt"),
        (2, "speakers"),
        (2, "speakers"),
        (2, "track"),
    ]
    assert "speaker 2 holds U+202C POP DIRECTIONAL FORMATTING (character 3)" in str(refused.value)


@pytest.mark.parametrize(("name", "cell", "venue_s", "none"), VENUE_CELLS)
def test_the_command_reads_a_time_without_a_zone_as_the_organisers_page_does(
    name: str, cell: str, venue_s: str, none: str | None
) -> None:
    # Given a programme file whose start cell is this (the organisers' page's test reads the
    # same cells: tests/e2e/test_web_time_zone.py)
    def read(zone: ZoneInfo | None) -> str:
        try:
            [row] = read_rows(io.StringIO(f"id,title,startsAt\nw,W,{cell}\n"), zone)
        except CliError as error:
            return str(error)
        return str(row.fields["startsAt"])

    # Then with the venue's zone it is sent or refused in the page's words, and without one too
    assert read(ZoneInfo(VENUE)) == venue_s, name
    assert read(None) == (
        none
        or f"line 2: startsAt {cell} names no time zone (write it as {cell}Z for UTC, or with "
        f"its offset, {cell}+01:00)"
    ), name


def test_admin_add_and_edit_set_keep_change_and_clear_a_talk_s_language(
    organiser: None, served: list[VenueApi], capsys: pytest.CaptureFixture[str]
) -> None:
    api = venue(served, NO_ZONE)
    # When an organiser adds a talk in Hebrew
    status, _, err = run(api, capsys, "admin", "add", "t1", "--title", "T", "--language", "he")
    assert status == 0, err
    # Then its language is sent
    assert api.sent[-1]["language"] == "he"
    # And an edit of another field keeps it, --language changes it, and '' clears it
    assert run(api, capsys, "admin", "edit", "t1", "--room", "Hall A")[0] == 0
    assert (api.sent[-1]["room"], api.sent[-1]["language"]) == ("Hall A", "he")
    assert run(api, capsys, "admin", "edit", "t1", "--language", "fa")[0] == 0
    assert api.sent[-1]["language"] == "fa"
    assert run(api, capsys, "admin", "edit", "t1", "--language", "")[0] == 0
    assert "language" not in api.sent[-1]
    assert api.sent[-1]["room"] == "Hall A"


@pytest.mark.parametrize(
    ("zone", "text", "said"),
    [
        # A start in the hour the venue's clocks skip: its refusal alone, no "not after" it
        (
            "Europe/Berlin",
            "id,title,startsAt,endsAt\nt,T,2027-03-28T02:30,2027-03-28T03:30\n",
            [
                "line 2: startsAt 2027-03-28T02:30 does not exist in Europe/Berlin (its clocks "
                "skip that hour)"
            ],
        ),
        # A start in the hour the venue's clocks repeat: which one is asked, no "not after"
        (
            "Europe/Berlin",
            "id,title,startsAt,endsAt\nt,T,2027-10-31T02:45,2027-10-31T02:15+01:00\n",
            [
                "line 2: startsAt 2027-10-31T02:45 happens twice in Europe/Berlin (its clocks "
                "go back over it): write 2027-10-31T02:45+02:00 for the first or "
                "2027-10-31T02:45+01:00 for the second"
            ],
        ),
        # Without a venue's zone, a start naming none beside an end naming one: the same
        (
            None,
            "id,title,startsAt,endsAt\nt,T,2031-06-02T10:00,2031-06-02T09:00Z\n",
            [
                "line 2: startsAt 2031-06-02T10:00 names no time zone (write it as "
                "2031-06-02T10:00Z for UTC, or with its offset, 2031-06-02T10:00+01:00)"
            ],
        ),
        # Both naming none: compared as written, as before
        (
            None,
            "id,title,startsAt,endsAt\nt,T,2031-06-02T10:00,2031-06-02T09:00\n",
            [
                "line 2: startsAt 2031-06-02T10:00 names no time zone (write it as "
                "2031-06-02T10:00Z for UTC, or with its offset, 2031-06-02T10:00+01:00)",
                "line 2: endsAt 2031-06-02T09:00 names no time zone (write it as "
                "2031-06-02T09:00Z for UTC, or with its offset, 2031-06-02T09:00+01:00)",
                "line 2: endsAt 2031-06-02T09:00 is not after startsAt 2031-06-02T10:00",
            ],
        ),
        # A wall time of the venue's is an instant: compared with a zoned end
        (
            "Europe/Berlin",
            "id,title,startsAt,endsAt\nt,T,2031-06-02T10:00,2031-06-02T07:30Z\n",
            ["line 2: endsAt 2031-06-02T07:30Z is not after startsAt 2031-06-02T10:00+02:00"],
        ),
    ],
)
def test_an_end_is_compared_only_with_a_start_read_as_it_is(
    zone: str | None, text: str, said: list[str]
) -> None:
    # Given a line whose start is refused, or read, When the import reads it
    with pytest.raises(BadRows) as refused:
        read_rows(io.StringIO(text), ZoneInfo(zone) if zone else None)
    # Then a refused start is its problem alone: its end is not compared with it as written
    assert [str(problem) for problem in refused.value.problems] == said
