"""How the talkrate command words what it shows."""

from __future__ import annotations

import io
import json
import re
import unicodedata
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from rich.cells import cell_len
from rich.console import Console

from talkrate.stats import compute_stats
from talkrate_cli import output
from talkrate_cli.consoles import PIPED_WIDTH, TalkrateConsole
from talkrate_cli.output import counted, talk_view, when, window_line, zone_name
from tests.nodejs import run_node, run_web_module

pytestmark = pytest.mark.unit

TALK = {
    "startsAt": "2026-11-26T10:30:00Z",
    "endsAt": "2026-11-26T11:15:00Z",
    "ratingClosesAt": "2026-11-27T11:15:00Z",
}


@pytest.mark.parametrize(
    ("now", "line"),
    [
        (datetime(2026, 11, 26, 9, 0, tzinfo=UTC), "rating opens 2026-11-26 10:30 UTC"),
        (datetime(2026, 11, 26, 12, 0, tzinfo=UTC), "rating open until 2026-11-27 11:15 UTC"),
        (datetime(2026, 11, 27, 11, 16, tzinfo=UTC), "rating closed 2026-11-27 11:15 UTC"),
    ],
)
def test_a_talk_s_rating_window_is_said_as_of_now(now: datetime, line: str) -> None:
    assert window_line(TALK, now, UTC) == line


def test_times_are_shown_in_the_zone_of_the_machine_and_named() -> None:
    # An attendee in Berlin reads the times of their own clock, with the zone said
    berlin = ZoneInfo("Europe/Berlin")
    assert when(TALK, berlin) == "2026-11-26 11:30\N{EN DASH}12:15 CET"
    now = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    assert window_line(TALK, now, berlin) == "rating open until 2026-11-27 12:15 CET"
    assert zone_name(berlin) in ("CET", "CEST")
    assert when(TALK, UTC) == "2026-11-26 10:30\N{EN DASH}11:15 UTC"
    assert when({"startsAt": None, "endsAt": None}, berlin) == ""
    # In a table headed with the zone of its first talk, a talk on the other side of a clock
    # change says its own
    summer = {"startsAt": "2026-06-01T08:00:00Z", "endsAt": "2026-06-01T09:00:00Z"}
    assert when(summer, berlin, named="CET") == "2026-06-01 10:00\N{EN DASH}11:00 CEST"
    assert when(TALK, berlin, named="CET") == "2026-11-26 11:30\N{EN DASH}12:15"


def test_a_talk_over_a_change_of_the_clocks_names_the_zone_of_each_end() -> None:
    # Given talks in Berlin over the spring's skipped hour and the autumn's repeated one
    berlin = ZoneInfo("Europe/Berlin")
    spring = {"startsAt": "2027-03-28T01:30:00+01:00", "endsAt": "2027-03-28T03:15:00+02:00"}
    autumn = {"startsAt": "2027-10-31T02:45:00+02:00", "endsAt": "2027-10-31T02:15:00+01:00"}
    # Then each end is named by its own zone, in a table headed by either (the end was CET's
    # 03:15 under a CET heading, and the autumn talk read as ending before it starts)
    said = "2027-03-28 01:30 CET\N{EN DASH}03:15 CEST"
    assert when(spring, berlin, named="CET") == when(spring, berlin) == said
    assert when(autumn, berlin, named="CET") == "2027-10-31 02:45 CEST\N{EN DASH}02:15 CET"


def test_a_talk_that_ends_on_another_day_says_its_end_s_date() -> None:
    # Given a late talk past midnight and a workshop of 24 hours, in New York
    new_york = ZoneInfo("America/New_York")
    late = {"startsAt": "2026-12-06T04:45:00Z", "endsAt": "2026-12-06T05:45:00Z"}
    workshop = {"startsAt": "2026-12-06T01:00:00Z", "endsAt": "2026-12-07T01:00:00Z"}
    # Then each end names its date, as the organisers' page does (they read 23:45-00:45, an end
    # before the start, and 20:00-20:00, no length at all)
    assert when(late, new_york) == "2026-12-05 23:45\N{EN DASH}2026-12-06 00:45 EST"
    assert when(workshop, new_york) == "2026-12-05 20:00\N{EN DASH}2026-12-06 20:00 EST"
    # And a talk within one day is said as before
    assert when(TALK, new_york) == "2026-11-26 05:30\N{EN DASH}06:15 EST"


def test_a_title_of_emoji_sequences_keeps_the_columns_after_it_aligned() -> None:
    # Given titles holding ZWJ sequences (a family, a rainbow flag): one glyph of two cells each
    titles = [
        "Family \U0001f468\u200d\U0001f469\u200d\U0001f467 talk",
        "Flag \U0001f3f3\ufe0f\u200d\U0001f308 x",
    ]
    board = {
        "talks": [
            {"rank": 1, "talkId": f"t{i}", "title": title, "track": "Emo", "score": 3.0, "count": 1}
            for i, title in enumerate([*titles, "Plain title xx"])
        ]
    }
    out = io.StringIO()
    Console(file=out, width=120, color_system=None).print(output.leaderboard_table(board))
    # Then the track column starts at one display column on every row (by grapheme clusters)
    from rich.cells import cell_len

    starts = {cell_len(line[: line.index("Emo")]) for line in out.getvalue().splitlines()[1:]}
    assert len(starts) == 1, out.getvalue()


def test_a_talk_without_times_is_always_open() -> None:
    untimed = {"startsAt": None, "endsAt": None, "ratingClosesAt": None}
    assert window_line(untimed, datetime(2030, 1, 1, tzinfo=UTC)) == "rating open"


@pytest.mark.parametrize(
    ("count", "said"), [(0, "0 talks"), (1, "1 talk"), (2, "2 talks"), (1_000, "1000 talks")]
)
def test_a_count_takes_its_noun_in_its_number(count: int, said: str) -> None:
    assert counted(count, "talk") == said
    assert counted(count, "talk is", "talks are").endswith("is" if count == 1 else "are")


@pytest.mark.parametrize("columns", [30, 40, 80])
def test_a_narrow_terminal_still_shows_every_value_its_count_and_share(columns: int) -> None:
    # Given a talk's bars shown (show, watch) in a terminal of `columns` (a split pane, a phone)
    ratings = {"talkId": "t", "ratings": {"5": 1910, "4": 12, "3": 0, "2": 7, "1": 1}}
    screen = Console(file=io.StringIO(), width=columns, color_system=None)
    # When it is drawn
    screen.print(talk_view({"title": "A talk"}, ratings))
    lines = screen.file.getvalue().splitlines()  # type: ignore[attr-defined]
    # Then each value's line fits, with its bar, its count and its share whole (at 30 columns
    # the bars took the whole line and the rest was cut off; at 40, the shares were "…")
    for value, count, share in (("5", 1910, "99%"), ("4", 12, "1%"), ("3", 0, "0%")):
        [line] = [line for line in lines if line.startswith(f"{value}★")]
        assert len(line) <= columns
        assert re.search(rf"{value}★\s+[█·]+\s+{count}\s+{share}$", line), lines


# A leaderboard whose texts are longer than a narrow terminal: a long title, a title of
# two-column characters, a long id and a long track, a six-figure count, a rank of two digits.
LONG_BOARD = {
    "prior": {"mean": 3.0, "weight": 10},
    "talks": [
        {
            "rank": 1, "talkId": "postgres-as-a-queue", "track": "Data", "count": 281,
            "title": "PostgreSQL as a Queue: When and When Not, and Why the Answer Changes",
            "ratings": {"5": 150, "4": 100, "3": 20, "2": 6, "1": 5},
        },
        {
            "rank": 2, "talkId": "kafka-exactly-once-myths-and-mechanics", "track": "Streaming",
            "title": "Exactly-Once in Kafka", "count": 139_000, "ratings": {"5": 139_000},
        },
        {
            "rank": 12, "talkId": "nihongo", "track": "Architecture and Design", "count": 7,
            "title": "日本語で話す分散システムの設計と運用について", "ratings": {"3": 7},
        },
    ],
}  # fmt: skip


@pytest.mark.parametrize("columns", [40, 36, 30, 26, 23])
def test_a_narrow_terminal_keeps_the_leaderboard_s_figures_whole(columns: int) -> None:
    # Given the leaderboard (`top`, `watch --leaderboard`) in a terminal of `columns`
    talks = LONG_BOARD["talks"]
    figures = zip(
        output.score_texts(talks, LONG_BOARD["prior"]), ["4.37", "5.00", "3.00"], strict=True
    )
    screen = TalkrateConsole(highlight=False, markup=False, emoji=False, width=columns)
    # When it is drawn
    [header, *lines] = printed(screen, output.leaderboard_table(LONG_BOARD)).splitlines()
    # Then no line is wider than the terminal, and each talk's row has its rank and its
    # figures whole: score, average and count (the header read "sco…" at 40 columns, the
    # figures "4.…" and "139…" at 30)
    assert max(cell_len(line) for line in [header, *lines]) <= columns
    assert header.split()[0] == "#"
    assert header.split()[-3:] == ["score", "avg", "count"]
    rows = [line for line in lines if re.match(r"\s*\d+ ", line)]
    for row, place, (score, avg) in zip(rows, talks, figures, strict=True):
        assert re.match(rf"\s*{place['rank']} ", row), row
        assert re.search(rf" {score}\s+{avg}\s+{place['count']}$", row), row
    # And the texts give way: the title whole or cut with an ellipsis, then left out with the
    # track before it; the id last, whole where it is shown (folded on the lines below its row)
    words = header.split()
    assert words[1:-3] == ["talk", "title", "track"][: {40: 2, 36: 1, 30: 1}.get(columns, 0)]
    if "title" in words:
        start = header.index("title")
        for row, place in zip(rows, talks, strict=True):
            shown = row[start:].split("  ")[0]
            whole = shown == place["title"]
            assert whole or (shown.endswith("…") and place["title"].startswith(shown[:-1])), row
    if "talk" in words:
        start, end = header.index("talk"), header.index(words[2]) - 2
        ids, current = [], ""
        for line in lines:
            if re.match(r"\s*\d+ ", line) and current:
                ids.append(current)
                current = ""
            current += line[start:end].strip()
        ids.append(current)
        assert ids == [place["talkId"] for place in talks]


# A programme whose texts are longer than a narrow terminal: a long title, a long id, a long
# room and track, a six-figure count, titles of two-column characters (Japanese), of vowel signs
# and viramas drawn on their letters (Devanagari) and of combining accents, a talk unrated.
LONG_PROGRAMME = [
    {
        "id": "postgres-as-a-queue", "track": "Data", "room": "Hall A",
        "title": "PostgreSQL as a Queue: When and When Not, and Why the Answer Changes",
        "startsAt": "2026-12-01T11:30:00Z", "endsAt": "2026-12-01T12:15:00Z",
        "summary": {"count": 281, "ratings": {"5": 150, "4": 100, "3": 20, "2": 6, "1": 5}},
    },
    {
        "id": "kafka-exactly-once-myths-and-mechanics", "track": "Streaming",
        "room": "Main Auditorium, Level 2", "title": "Exactly-Once in Kafka",
        "startsAt": "2026-12-01T09:00:00Z", "endsAt": "2026-12-01T09:45:00Z",
        "summary": {"count": 139_000, "ratings": {"5": 139_000}},
    },
    {
        "id": "nihongo", "track": "Architecture and Design", "room": "Room 1",
        "title": "日本語で話す分散システムの設計と運用について",
        "summary": {"count": 7, "ratings": {"3": 7}},
    },
    {
        "id": "hindi", "track": "Languages",
        "title": "हिन्दी में वितरित प्रणालियों का डिज़ाइन और संचालन",
        "summary": {"count": 12, "ratings": {"4": 6, "5": 6}},
    },
    {
        "id": "creme",
        "title": "Cafe\u0301 cre\u0300me bru\u0302le\u0301e: re\u0301sume\u0301s of de\u0301ja\u0300 vu",
    },
]  # fmt: skip


def from_column(line: str, column: int) -> str:
    """The line from its `column`th column on, as a terminal counts columns."""
    index = 0
    while index < len(line) and cell_len(line[:index]) < column:
        index += 1
    return line[index:]


def cut_from(shown: str, text: str) -> bool:
    """Whether `shown` is `text` cut on one line with an ellipsis: a prefix of it, with no
    letter parted from its marks (an accent, a vowel sign: Unicode's category M) nor half of a
    wide one (rich pads with a space where the "…" follows one)."""
    kept = shown.removesuffix("…").rstrip(" ")
    return (
        shown.endswith("…")
        and text.startswith(kept)
        and len(kept) < len(text)
        and not unicodedata.category(text[len(kept)]).startswith("M")
    )


@pytest.mark.parametrize("columns", [120, 100, 80, 60, 45, 40, 30])
def test_a_narrow_terminal_keeps_the_programme_s_figures_and_ids_whole(columns: int) -> None:
    # Given the programme (`talkrate talks`) in a terminal of `columns`
    screen = TalkrateConsole(highlight=False, markup=False, emoji=False, width=columns)
    # When it is drawn
    [header, *lines] = printed(screen, output.talks_table(LONG_PROGRAMME, UTC)).splitlines()
    # Then no line is wider than the terminal, and each talk's count and average stand whole at
    # the end of its row, where the header's do (at 45 columns the header read "cou…", and at 40
    # a count "139…"; the titles, rooms and times folded into columns of a few letters)
    assert max(cell_len(line) for line in [header, *lines]) <= columns
    assert header.split()[-2:] == ["count", "avg"]
    rows = [line for line in lines if len(line.split()) > 1]  # (the others: an id's rest)
    assert len(rows) == len(LONG_PROGRAMME), lines
    for row, talk in zip(rows, LONG_PROGRAMME, strict=True):
        summary = talk.get("summary") or {}
        count, avg = summary.get("count", "-"), output.fmt_avg(None, summary.get("ratings"))
        assert re.search(rf"\s{count}\s+{re.escape(avg)}$", row.rstrip()), row
        assert cell_len(row.rstrip()) == cell_len(header.rstrip()), row
    # And the texts give way in their order: the track, then the room, then the time, then the
    # title; the id last
    texts = [word for word in header.split()[:-2] if word != "(UTC)"]
    assert texts == {
        120: ["talk", "title", "track", "room", "when"],
        100: ["talk", "title", "room", "when"],
        80: ["talk", "title", "when"],
        30: ["talk"],
    }.get(columns, ["talk", "title"])
    # And the title, the track and the room are each whole or cut on one line with "…", the
    # time whole
    for name in ("title", "track", "room", "when"):
        if name not in texts:
            continue
        start = header.index(name)
        for row, talk in zip(rows, LONG_PROGRAMME, strict=True):
            shown = from_column(row, start).split("  ")[0]
            whole = output.when(talk, UTC, "UTC") if name == "when" else talk.get(name) or ""
            assert shown == whole or (name != "when" and cut_from(shown, whole)), (name, row)
    # And each talk's id is whole, folded onto the lines below its row where it is longer than
    # its column
    ids: list[str] = []
    for line in lines:
        if len(line.split()) > 1:
            ids.append(line.split()[0])
        elif line.strip():
            ids[-1] += line.strip()
    assert ids == [talk["id"] for talk in LONG_PROGRAMME]


# The README's `talkrate talks --track Testing`
README_PROGRAMME = [
    {
        "id": "contract-testing-apis", "title": "Contract Testing for HTTP APIs",
        "track": "Testing", "room": "Room 2",
        "startsAt": "2026-12-01T11:00:00Z", "endsAt": "2026-12-01T11:45:00Z",
        "summary": {"count": 359, "avg": 3.75},
    },
    {
        "id": "testcontainers-integration-testing",
        "title": "Modern Integration Testing with Testcontainers", "track": "Testing",
        "room": "Hall A", "summary": {"count": 1910, "avg": 2.41},
    },
]  # fmt: skip


@pytest.mark.parametrize("columns", [136, 200, PIPED_WIDTH])
def test_a_programme_with_room_for_every_cell_is_drawn_as_the_readme_shows_it(
    columns: int,
) -> None:
    # Given the README's example of the programme (136 columns wide)
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    example = readme.split("$ talkrate talks --track Testing\n")[1].split("\n2 talks\n")[0]
    # When its talks are drawn in a terminal with room for every cell, or piped
    screen = TalkrateConsole(highlight=False, markup=False, emoji=False, width=columns)
    drawn = printed(screen, output.talks_table(README_PROGRAMME, UTC))
    # Then the table is the README's, line for line
    assert [line.rstrip() for line in drawn.splitlines()] == example.splitlines()


def test_a_share_s_tie_is_rounded_up_as_every_figure_of_the_command() -> None:
    # Given a talk rated 5 by one attendee of eight (12.5%) and 1 by seven (87.5%)
    ratings = {"talkId": "t", "ratings": {"5": 1, "4": 0, "3": 0, "2": 0, "1": 7}}
    screen = Console(file=io.StringIO(), width=80, color_system=None)
    # When its bars are drawn
    screen.print(talk_view({"title": "A talk"}, ratings))
    lines = screen.file.getvalue().splitlines()  # type: ignore[attr-defined]
    # Then the shares round their ties up (format's half to even wrote 12%), as the averages do
    [five] = [line for line in lines if line.startswith("5★")]
    [one] = [line for line in lines if line.startswith("1★")]
    assert five.endswith(" 13%"), five
    assert one.endswith(" 88%"), one


OVERRIDE, ISOLATE, MARK = "\u202e", "\u2067", "\u200f"  # RIGHT-TO-LEFT OVERRIDE, ISOLATE, MARK


def printed(console: Console, *renderables: object) -> str:
    """What the command's console prints of these, as a person reads it. Captured by rich, not
    by swapping the console's file: its `file` reads back sys.stderr as it is now (a test's
    capture), and setting that back would pin the console to it for every later test."""
    with console.capture() as capture:
        console.print(*renderables)
    return capture.get()


def test_direction_controls_in_a_talk_s_text_are_shown_not_obeyed_in_every_view() -> None:
    # Given talks saved before the API refused direction controls: one title holds an override,
    # a speaker an isolate, a track a right-to-left mark (which right-to-left names need)
    safe = {"id": "safe", "title": "Plain title", "track": "Web", "summary": {"count": 1}}
    stored = {
        "id": "stored",
        "title": f"Evil {OVERRIDE}eltit",
        "speakers": [f"{ISOLATE}Ada"],
        "track": f"Hebrew{MARK}",
        "room": "Hall A",
        "summary": {"count": 2, "avg": 4.5},
    }
    board = {
        "talks": [
            {"rank": 1, "talkId": "stored", "title": stored["title"], "score": 4.1, "count": 2},
            {"rank": 2, "talkId": "safe", "title": "Plain title", "score": 3.0, "count": 1},
        ]
    }
    # When the programme, the talk and the leaderboard are printed, and a line of the errors'
    drawn = printed(
        output.console,
        output.talks_table([safe, stored]),
        talk_view(stored, {"talkId": "stored", "ratings": {"5": 2}}),
        output.leaderboard_table(board),
    )
    said = printed(output.errors, f"  stored ({stored['title']})")
    # Then each control is shown as its code point, none printed as itself; the mark stays
    for text in (drawn, said):
        assert OVERRIDE not in text
        assert ISOLATE not in text
    assert "Evil <U+202E>eltit" in said
    lines = drawn.splitlines()
    assert sum("Evil <U+202E>eltit" in line for line in lines) == 3  # table, view, leaderboard
    assert any(line.startswith("<U+2067>Ada · Hebrew" + MARK) for line in lines), lines
    # And the tables' columns stay aligned: a control is measured as it is shown
    [plain, evil] = [line for line in lines if line.startswith(("safe ", "stored "))]
    assert plain.index("Web") == evil.index("Hebrew")
    [first, second] = [line for line in lines if re.match(r"\s*[12] ", line)]
    assert first.index("4.10") == second.index("3.00")


# Titles whose characters are not each one column: Devanagari's vowel signs and viramas (drawn
# on their letter), Japanese (two columns each), and Latin letters with combining accents.
SCRIPTS = [
    "Plain title",
    "हिन्दी में बातचीत",
    "日本語のトーク",
    "Cafe\u0301 cre\u0300me bru\u0302le\u0301e",
]


@pytest.mark.parametrize("width", [PIPED_WIDTH, 56], ids=["piped", "narrow-terminal"])
def test_titles_in_any_script_keep_the_later_columns_of_their_rows_in_line(width: int) -> None:
    # Given talks titled in scripts whose characters are not each one column wide
    talks = [
        {
            "id": f"t{n}",
            "title": title,
            "track": f"T{n}",
            "room": f"R{n}",
            "summary": {"count": 12, "avg": 4.5},
        }
        for n, title in enumerate(SCRIPTS)
    ]
    board = {
        "talks": [
            {"rank": 1, "talkId": f"t{n}", "title": title, "track": f"T{n}", "score": 4, "count": 1}
            for n, title in enumerate(SCRIPTS)
        ]
    }
    console = TalkrateConsole(highlight=False, markup=False, emoji=False, width=width)
    # When `talkrate talks` and `talkrate top` print them, piped and on a narrow terminal (the
    # programme's track left out)
    for table in (output.talks_table(talks), output.leaderboard_table(board)):
        [header, *lines] = printed(console, table).splitlines()
        # Then each row's column after the title (its track, or its room) starts at the column
        # the header's does, and its last column ends where the header's does, as a terminal
        # counts columns (rich.cells.cell_len)
        after = header.split()[header.split().index("title") + 1]
        start, end = cell_len(header[: header.index(after)]), cell_len(header.rstrip())
        rows = [line for line in lines if re.search(r" [TR]\d ", line)]
        assert len(rows) == len(SCRIPTS), lines
        mark = {"track": " T", "room": " R"}[after]
        assert [cell_len(row[: row.index(mark) + 1]) for row in rows] == [start] * len(rows)
        assert [cell_len(row.rstrip()) for row in rows] == [end] * len(rows)
        assert max(cell_len(line) for line in lines) <= width


def test_emoji_codes_and_brackets_in_a_talk_s_text_are_printed_as_typed() -> None:
    # Given a talk whose organiser wrote rich's emoji codes and markup into its text
    talk = {
        "id": "codes",
        "title": ":fire: Hot takes [bold]on[/bold] :smile:",
        "speakers": [":rocket: Ada"],
        "room": ":x:",
        "summary": {"count": 1, "avg": 5},
    }
    board = {
        "talks": [{"rank": 1, "talkId": "codes", "title": talk["title"], "score": 5.0, "count": 1}]
    }
    # When the programme, the talk, the leaderboard and an error line are printed
    drawn = printed(
        output.console,
        output.talks_table([talk]),
        talk_view(talk, {"talkId": "codes", "ratings": {"5": 1}}),
        output.leaderboard_table(board),
    )
    said = printed(output.errors, f"  codes ({talk['title']})")
    # Then each shows the text as typed: no emoji drawn for a code, no markup taken
    for text in (drawn, said):
        assert "\N{FIRE}" not in text
        assert "\N{ROCKET}" not in text
    assert ":fire: Hot takes [bold]on[/bold] :smile:" in said
    typed = ":fire: Hot takes [bold]on[/bold] :smile:"
    assert sum(typed in line for line in drawn.splitlines()) >= 2
    assert ":rocket: Ada" in drawn


def test_direction_controls_stay_as_they_are_in_json(capsys: pytest.CaptureFixture[str]) -> None:
    # Given a talk holding an override, printed for a script (--json)
    talk = {"id": "stored", "title": f"Evil {OVERRIDE}eltit"}
    output.emit_json(talk)
    # Then the document holds the title as the API answered it
    assert json.loads(capsys.readouterr().out) == talk


# Figures whose exact binary value is a tie at two places (2.625), is just under one (2.675 is
# 2.67499…) or over one (1.005 is 1.00499…: under), and some that are not ties at all.
FIGURES = [2.625, 4.125, 3.375, 0.875, 2.675, 1.005, 4.995, 2.0, 10 / 3, 84 / 32, 1.4545]


def test_the_command_writes_a_figure_to_two_places_as_the_pages_do() -> None:
    # Given the figures the pages write with JavaScript's toFixed(2) (web/js/dom.js)
    script = f"console.log(JSON.stringify({json.dumps(FIGURES)}.map((x) => x.toFixed(2))))"
    node_out = run_node("-e", script)
    pages = json.loads(node_out)
    # Then the command writes each alike: an average, a statistic and a score (2.625 was 2.62)
    assert [output.two_places(x) for x in FIGURES] == pages
    assert output.fmt_avg(84 / 32) == "2.63"
    stats = {"totalCount": 32, "avg": 2.625, "median": 3.5, "stdDev": 1.125}
    assert output.stats_line({"stats": stats}) == (
        "count 32 · avg 2.63 · median 3.5 · std dev (population) 1.13"
    )
    assert "median 3 ·" in output.stats_line({"stats": {**stats, "median": 3.0}})


# Boards (best first) whose scores two places would write alike across ranks: a talk rated 5 once
# (35/11 = 3.1818…) above one rated 4, 4, 4, 3, 3, 3, 3 (54/17 = 3.1764…); a tie (one rank);
# scores alike at the third place too (3.1813 above 3.1811); and plain ones.
BOARDS = [
    [{"rank": 1, "score": 35 / 11}, {"rank": 2, "score": 54 / 17}, {"rank": 3, "score": 3.05}],
    [{"rank": 1, "score": 35 / 11}, {"rank": 1, "score": 35 / 11}, {"rank": 3, "score": 3.1}],
    [{"rank": 1, "score": 3.1813}, {"rank": 2, "score": 3.1811}, {"rank": 3, "score": 2.5}],
    [{"rank": 1, "score": 4.5}, {"rank": 2, "score": 4.25}, {"rank": 3, "score": 2.625}],
    # a tie between a score two places tell apart (above) and one they do not (below)
    [
        {"rank": 9, "score": 3.1905},
        {"rank": 10, "score": 35 / 11},
        {"rank": 10, "score": 35 / 11},
        {"rank": 12, "score": 54 / 17},
    ],
    [],
]


def test_a_score_two_places_write_as_a_neighbour_of_another_rank_takes_more_places(
    tmp_path: Path,
) -> None:
    # When the command writes each board's scores
    written = [output.score_texts(board) for board in BOARDS]
    # Then two places where they tell the talks apart, more where two would not: 3.18 above
    # 3.18 read as a tie ranked apart; tied talks alike (the first of a tie wrote 3.18 and the
    # second 3.182, as only the second stood beside a 3.18 of another rank)
    assert written == [
        ["3.182", "3.176", "3.05"],
        ["3.18", "3.18", "3.10"],
        ["3.1813", "3.1811", "2.50"],
        ["4.50", "4.25", "2.63"],
        ["3.19", "3.182", "3.182", "3.176"],
        [],
    ]
    # And the pages write them alike (web/js/dom.js formatScores, in Node)
    script = (
        "const { formatScores } = await import(new URL('dom.js', process.argv[1]));"
        f"console.log(JSON.stringify({json.dumps(BOARDS)}.map(formatScores)));"
    )
    node_out = run_web_module(tmp_path / "js", script)
    assert json.loads(node_out) == written


# Histograms whose figures the API's four places, rounded again to two, wrote 0.01 off: 442/109
# (4.05504…: the API's 4.055, written 4.05); a deviation of 1.674979 (the API's 1.675, 1.68); a
# score of 97/32 (3.03125, a tie: to even 3.0312 where the export writes 3.0313); two places of
# different ranks whose scores four places write alike (3.45055 and 3.45045: both 3.4505).
PRIOR = {"mean": 3.0, "weight": 10}
EXACT_BOARD = [
    {"rank": 6, "score": 3.4505, "ratings": {"3": 40, "4": 41}},
    {"rank": 7, "score": 3.4505, "ratings": {"3": 51, "4": 50}},
    {"rank": 8, "score": 3.0312, "ratings": {"3": 21, "4": 1}},
]
AVERAGED = [{"4": 103, "5": 6}, {"4": 83, "5": 16}, {"1": 41, "2": 0}, {}]


def test_figures_are_written_from_their_histograms_exactly_by_the_command_and_the_pages(
    tmp_path: Path,
) -> None:
    # When the command writes averages, a deviation and a board's scores from their histograms
    averages = [output.fmt_avg(None, ratings) for ratings in AVERAGED]
    spread = output.two_places(output.deviation({"1": 1, "2": 1, "5": 4}) or 0)
    scores = output.score_texts(EXACT_BOARD, PRIOR)
    # Then each is the exact figure, a tie rounded up (the API's rounded ones rounded again
    # were 4.05, 1.68, and 3.4505 at two ranks)
    assert averages == ["4.06", "4.16", "1.00", "-"]
    assert spread == "1.67"
    assert scores == ["3.451", "3.450", "3.03"]
    assert output.quotient_text(97, 32, 4) == "3.0313"
    # And the pages write them alike (web/js/dom.js, web/js/histogram.js, in Node)
    script = (
        "const dom = await import(new URL('dom.js', process.argv[1]));"
        "const histogram = await import(new URL('histogram.js', process.argv[1]));"
        f"const averaged = {json.dumps(AVERAGED)}.map((r) => dom.formatAvg(null, r));"
        "const spread = histogram.deviationOf({1: 1, 2: 1, 5: 4}).toFixed(2);"
        f"const scores = dom.formatScores({json.dumps(EXACT_BOARD)}, {json.dumps(PRIOR)});"
        "console.log(JSON.stringify([averaged, spread, scores, dom.quotientText(97, 32, 4)]));"
    )
    node_out = run_web_module(tmp_path / "js", script)
    pages = json.loads(node_out)
    assert pages == [[a.replace("-", "\N{EN DASH}") for a in averages], spread, scores, "3.0313"]


# Talks whose most frequent values tie, or not: two, three and four of them, all five (none
# stands out), none at all, and one alone.
TIES = [
    {"4": 2, "5": 2, "3": 1},
    {"1": 4, "5": 4},
    {"3": 1, "4": 1, "5": 1},
    {"2": 1, "3": 1, "4": 1, "5": 1},
    {"1": 2, "2": 2, "3": 2, "4": 2, "5": 2},
    {},
    {"5": 3, "4": 1},
]


def test_the_mode_names_every_value_given_most_often_as_the_pages_do(tmp_path: Path) -> None:
    # Given talks rated some values equally often, read with the API's statistics
    read = [
        {"ratings": ratings, "stats": compute_stats({int(v): n for v, n in ratings.items()})}
        for ratings in TIES
    ]
    # When `talkrate show` writes their statistics
    lines = [output.stats_line(ratings) for ratings in read]
    # Then the mode names each value given most often (it named the lowest alone: "mode 4" for
    # a talk rated 4 and 5 twice each), "all alike" for all five, a dash for none
    modes = [line.rsplit(" · ", 1)[1] for line in lines]
    assert modes == [
        "mode 4 and 5",
        "mode 1 and 5",
        "mode 3, 4 and 5",
        "mode 2, 3, 4 and 5",
        "mode all alike",
        "mode -",
        "mode 5",
    ]
    assert lines[4] == "count 10 · avg 3.00 · median 3 · std dev (population) 1.41 · mode all alike"
    # And the API's `modes` are the same values (a reader without the histogram takes them)
    assert [output.stats_line({"stats": r["stats"]}).rsplit(" · ", 1)[1] for r in read] == modes
    # And the pages say the same words (web/js/histogram.js, in Node)
    script = (
        "const { modesOf, modesText } = await import(new URL('histogram.js', process.argv[1]));"
        f"console.log(JSON.stringify({json.dumps(TIES)}.map((r) => modesText(modesOf(r)))));"
    )
    node_out = run_web_module(tmp_path / "js", script)
    pages = json.loads(node_out)
    assert [f"mode {said}" for said in pages] == [m.replace("-", "\N{EN DASH}") for m in modes]


SPEAKERS = [["Ada Lovelace"], ["Ada Lovelace", "Grace Hopper"], ["Ada", "Grace", "Alan Turing"]]


def test_a_talk_s_speakers_are_listed_in_english_as_the_pages_list_them(tmp_path: Path) -> None:
    # Given talks of one, two and three speakers
    talks = [{"id": "listed", "title": "Listed", "speakers": names} for names in SPEAKERS]
    # When `talkrate show` writes them
    lines = [
        printed(output.console, talk_view(talk, {"ratings": {}})).splitlines()[1] for talk in talks
    ]
    # Then they read as English writes a list (it wrote "Ada, Grace, Alan Turing")
    assert lines == [
        "Ada Lovelace",
        "Ada Lovelace and Grace Hopper",
        "Ada, Grace and Alan Turing",
    ]
    # And the pages list them alike for a talk in English, of no language, or of one the
    # browser has no list format for (web/js/dom.js, in Node; Intl's narrow English wrote
    # "A, B, C", its long one "A, B, and C"), the "and" marked English where the talk's
    # language is another
    script = (
        "const { speakerParts } = await import(new URL('dom.js', process.argv[1]));"
        f"const names = {json.dumps(SPEAKERS)};"
        "const said = (language) => names.map((n) => speakerParts(n, language));"
        "console.log(JSON.stringify([null, 'en', 'en-US', 'tlh'].map(said)));"
    )
    node_out = run_web_module(tmp_path / "js", script)
    none, english, american, klingon = json.loads(node_out)
    for pages in (none, english, american, klingon):
        assert ["".join(part["value"] for part in parts) for parts in pages] == lines
    assert {part.get("lang") for parts in none + english + american for part in parts} == {None}
    assert [p.get("lang") for p in klingon[2] if p["type"] == "literal"] == ["en", "en"]


def pages_lists(tmp_path: Path, cases: list[tuple[str | None, list[str]]]) -> list[str]:
    """What the pages write for each (language, speakers): web/js/dom.js's speakerParts in
    Node, its pieces joined."""
    script = (
        "const { speakerParts } = await import(new URL('dom.js', process.argv[1]));"
        f"const cases = {json.dumps(cases)};"
        "const said = ([language, names]) => speakerParts(names, language);"
        "console.log(JSON.stringify(cases.map(said).map((parts) => parts.map((p) => p.value).join(''))));"
    )
    node_out = run_web_module(tmp_path / "js", script)
    written: list[str] = json.loads(node_out)
    return written


# (a talk's language, its speakers, the list `talkrate show` writes of them)
LANGUAGE_LISTS: list[tuple[str | None, list[str], str]] = [
    ("de", ["Ada", "Grace", "Alan Turing"], "Ada, Grace und Alan Turing"),
    ("de", ["Ada Lovelace"], "Ada Lovelace"),
    ("de-CH-1996", ["Ada", "Grace"], "Ada und Grace"),
    ("DE-u-co-phonebk", ["Ada", "Grace"], "Ada und Grace"),
    ("fr", ["Ada", "Grace", "Alan"], "Ada, Grace, Alan"),
    # Spanish's "y" is "e" before the sound "i", not before "hie"
    ("es", ["Ana", "Ignacio"], "Ana e Ignacio"),
    ("es-MX", ["Ana", "Luis", "Hilda"], "Ana, Luis e Hilda"),
    ("es", ["Ana", "Luis", "Hierro"], "Ana, Luis y Hierro"),
    ("ar", ["سميرة حداد", "يوسف علي", "ليلى"], "سميرة حداد ويوسف علي وليلى"),
    # Hebrew's vav takes a hyphen before a name in another script; `iw` is Hebrew's old code
    ("he", ["שרה כהן", "דוד לוי"], "שרה כהן ודוד לוי"),
    ("iw", ["שרה כהן", "Bob Smith"], "שרה כהן \u05d5-Bob Smith"),
    ("fa", ["مریم", "علی"], "مریم\u060c\u200f علی"),
    ("ja", ["山田", "佐藤", "鈴木"], "山田、佐藤、鈴木"),
    ("zh", ["王伟", "李娜", "张敏"], "王伟、李娜、张敏"),
    ("zh-TW", ["王偉", "李娜", "張敏"], "王偉、李娜和張敏"),
    ("zh-Hant-HK", ["王偉", "李娜"], "王偉及李娜"),
    ("ko", ["김민준", "이서연", "박지호"], "김민준, 이서연 및 박지호"),
    ("sr", ["Ана", "Марко", "Јована"], "Ана, Марко и Јована"),
    ("sr-Latn", ["Ana", "Marko", "Jovana"], "Ana, Marko i Jovana"),
    # (aliases: Serbo-Croatian is Serbian in Latin; Montenegrin with a region, Serbian there)
    ("sh", ["Ana", "Marko"], "Ana i Marko"),
    ("cnr-DE", ["Ana", "Marko"], "Ana и Marko"),
    # (Tigrinya writes words after names, not only between them)
    ("ti", ["ሰላም", "ዳዊት", "ሳራ"], "ሰላም፣ ዳዊትን ሳራን"),
    ("th", ["สมชาย", "สมหญิง", "ประยุทธ"], "สมชาย สมหญิง และประยุทธ"),
    # English, or what the browser has no list for or refuses: the pages' English
    ("en-GB", ["Ada", "Grace", "Alan"], "Ada, Grace and Alan"),
    (None, ["Ada", "Grace", "Alan"], "Ada, Grace and Alan"),
    ("tlh", ["Ada", "Grace"], "Ada and Grace"),
    ("zh-yue", ["王偉", "李娜"], "王偉 and 李娜"),
    ("i-klingon", ["Ada", "Grace"], "Ada and Grace"),
    ("x-conference", ["Ada", "Grace"], "Ada and Grace"),
]


def test_a_talk_s_speakers_are_listed_as_its_language_lists_them_on_the_page(
    tmp_path: Path,
) -> None:
    # Given talks in German, Spanish, Arabic, Hebrew, Persian, Japanese, Chinese, Korean,
    # Serbian, Tigrinya, Thai, English, none, and tags no browser has a list for or takes
    talks = [
        {"id": "listed", "title": "Listed", "speakers": names, "language": language}
        for language, names, _ in LANGUAGE_LISTS
    ]
    # When `talkrate show` writes them
    lines = [
        printed(output.console, talk_view(talk, {"ratings": {}})).splitlines()[1] for talk in talks
    ]
    # Then each is listed the way its language writes a list (it wrote English's for all)
    assert lines == [said for _, _, said in LANGUAGE_LISTS]
    # And as the talk's page lists them (web/js/dom.js, in Node)
    assert pages_lists(tmp_path, [(language, names) for language, names, _ in LANGUAGE_LISTS]) == (
        lines
    )


def test_every_language_s_list_is_the_one_the_page_writes(tmp_path: Path) -> None:
    # Given every tag whose list talkrate_cli.list_patterns holds, and every alias it knows,
    # with lists of two to five names, and names that change a Spanish or a Hebrew "and"
    from talkrate_cli.list_patterns import ALIASES, LISTS

    names = [
        ["Ada", "Bo"],
        ["Ada", "Bo", "Cy"],
        ["Ada", "Bo", "Cy", "Di"],
        ["A", "B", "C", "D", "E"],
    ]
    names += [["Ana", "Ignacio"], ["Ana", "Bo", "hi"], ["Ana", "Hiena"], ["שרה", "דוד"]]
    names += [["שרה", "Bob"], ["שרה", "דוד", "8"]]
    cases = [(tag, each) for tag in sorted({*LISTS, *ALIASES}) for each in names]
    # When the command lists them
    from talkrate_cli.lists import listed_in

    mine = [listed_in(each, tag) for tag, each in cases]
    # Then each is what the pages write (a newer Node's CLDR may differ: `make list-patterns`)
    pages = pages_lists(tmp_path, cases)
    differ = [(case, m, p) for case, m, p in zip(cases, mine, pages, strict=True) if m != p]
    assert differ == []
    assert len(cases) > 3000


def test_the_help_says_how_the_shares_and_the_deviation_are_figured(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from talkrate_cli.main import main

    # Given a talk rated 3, 4 and 5 once each, whose shares, each rounded on its own, are 33%
    screen = Console(file=io.StringIO(), width=80, color_system=None)
    screen.print(talk_view({"title": "A talk"}, {"ratings": {"3": 1, "4": 1, "5": 1}}))
    shares = re.findall(r" (\d+)%$", screen.file.getvalue(), re.MULTILINE)  # type: ignore[attr-defined]
    assert shares == ["33", "33", "33", "0", "0"]
    # When a speaker asks `talkrate show` for its help
    assert main(["show", "--help"]) == 0
    said = " ".join(capsys.readouterr().out.split())
    # Then it says the shares are rounded each on its own (equal counts, equal shares: 99% in
    # all here), and that the deviation is the population one, not a spreadsheet's STDEV
    assert "rounded on its own" in said
    assert "99% in all" in said
    assert "population one" in said
    assert "STDEV.P" in said
