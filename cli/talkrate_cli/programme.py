"""The programme as a spreadsheet: rows read from CSV, compared with the catalog, written back.

Columns: id, title, speakers, track, room, startsAt, endsAt (RFC 3339, with a time zone; or,
where the deployment names the venue's time zone, a wall time without one, read in it),
language (a BCP 47 tag: he, ar, fa, en-GB, pt-BR; a file without the column, as every file
before 2026-12-05, leaves each talk's as it is). An
export has the same columns first, then the results, so it can be imported again. Cells are
separated by commas, or by semicolons or tabs (what a spreadsheet set to a European language
writes), as the header line shows. A column the file does not have leaves that field of an
existing talk as it is; an empty cell clears it. A header cell without a name is no column (its
cells must be empty).

The speakers cell lists names separated by ";" (written "; "); a ";" or "\\" inside a name is
escaped with a backslash ("Smith\\; Jr"), so every name reads back exactly as it was.

A cell that a spreadsheet would run as a formula (starting with =, +, -, @, a tab or a carriage
return), or that starts with a "'" of its own, is written after a "'" (as the web app's export
does), and read back without it. A formula's start after a ";", ",", tab or line break inside a
cell (and any spaces after it; after "'"s or double quotes too) is written after two, "''", and
read back without them: a spreadsheet that splits the line there (Excel set to a European
language splits a .csv on ";", whatever the quotes around our cell) would begin a cell with it.
A single "'" there is the text's own (`Vim: ':wq', '=G'`), and stays. See `guarded`.

An export is the file the organisers' page downloads: the same cells, an average to three places
(the histogram's, from its counts, a tie rounded up: `average_cell`), and, in a file, a
byte-order mark and CRLF line ends (what spreadsheets read as UTF-8 CSV). Its results are count,
avg, the histogram's 1 to 5, then rank and score (the leaderboard's, among the file's talks;
empty for a talk nobody rated) and ratingsPaused (true while the organisers pause its ratings:
its count stopped then); an import sends none of them (a ratingsPaused cell saying other than
its talk is only said: `pause_not_applied`).
"""

from __future__ import annotations

import csv
import itertools
import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, tzinfo
from decimal import ROUND_HALF_UP, Decimal
from typing import IO, Any, NamedTuple
from zoneinfo import ZoneInfo

from talkrate.events import MAX_TALK_ID_LENGTH, TALK_ID_RULE
from talkrate.leaderboard import ranked as board_places
from talkrate.talk_text import (
    DIRECTION_CONTROL,
    DIRECTION_CONTROLS,
    LANGUAGE_TAG,
    LANGUAGE_TAG_MAX_LENGTH,
    line_separator,
    without_dropped,
)
from talkrate_cli.errors import BadInput

COLUMNS = ("id", "title", "speakers", "track", "room", "startsAt", "endsAt", "language")
RATING_VALUES = ("1", "2", "3", "4", "5")
# ratingsPaused: whether the organisers had paused the talk's ratings when the file was written
# (its count stopped then); a result like the others, so an import sends it not (nor pauses):
# where it differs from the talk, the import says so (`pause_not_applied`).
RESULT_COLUMNS = ("count", "avg", *RATING_VALUES, "rank", "score", "ratingsPaused")
OPTIONAL = ("track", "room", "startsAt", "endsAt", "language")
# A talk's texts: U+FEFF dropped from them as the API drops it (talkrate.talk_text.DROPPED)
TEXTS = ("title", "speakers", "track", "room")
SPEAKER_SEPARATOR = ";"
DELIMITERS = (",", ";", "\t")
# The first line Excel reads (and some tools write for it) to know a file's separator: "sep=;"
SEPARATOR_LINE = re.compile(r"sep=(.)", re.IGNORECASE)
TIMES = ("startsAt", "endsAt")
# Where `guarded` puts "'"s. At a cell's start (after any spaces), one: before a formula's start
# or a "'" of the text's own. After a ";", ",", tab or line break inside it (where a spreadsheet
# may split the line) and any spaces, two: before a formula's start, or before the "'"s, double
# quotes and spaces leading to one (a reader opens a quoted cell at such a quote, and a lenient
# one drops the doubled quote the CSV holds: '""=1' reads as "=1"). Two, so that a "'" typed
# there by hand (`Vim: ':wq', '=G'`, a speaker "'-) Bob" after another) is no guard. `UNGUARD`
# finds each guard: one "'" at the start, two inside. web/js/programme-file.js holds the same.
GUARD = re.compile(
    r"""^(?P<start> *)(?=[=+\-@\t\r'])|(?<=[;,\t\r\n])(?P<inside> *)(?=['" ]*[=+\-@\t\r])"""
)
UNGUARD = re.compile(r"""^( *)'(?=[=+\-@\t\r'])|(?<=[;,\t\r\n])( *)''(?=['" ]*[=+\-@\t\r])""")
# What the API takes as a talk id (docs/openapi.json), and the characters no field may hold.
TALK_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:~-]{0,199}")
# The longest text the API takes in each field, and the most speakers a talk has.
LONGEST = {"title": 300, "track": 100, "room": 100, "speaker": 120}
MOST_SPEAKERS = 20
# The longest cell the API takes in a column, said of a cell too long for Python's csv to read.
LONGEST_CELL = {
    "id": MAX_TALK_ID_LENGTH,
    **{name: LONGEST[name] for name in ("title", "track", "room")},
    "language": LANGUAGE_TAG_MAX_LENGTH,
}
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_COLUMN_NAMES = {name.lower(): name for name in (*COLUMNS, *RESULT_COLUMNS)}
UNNAMED = "\x00column "  # the key of a header cell without a name (no name holds a NUL)


def guarded(text: str) -> str:
    """A cell's text that no spreadsheet runs as a formula, however it splits the line: "'"
    before a formula's start (=, +, -, @, a tab, a carriage return) and before a text's own "'"
    (so "'=x" reads back as itself, not as "=x"); and inside the cell, after each ";", ",",
    tab or line break and the spaces after it, "''" before a formula's start, or before the
    quotes leading to one (see GUARD): "Scaling teams;=2+3" is written "Scaling teams;''=2+3",
    whose second cell, split on ";", is text. Quoting the cell would not do: a spreadsheet
    splitting on ";" takes a quote after a "," as text, and its cell then starts at the "=".
    Nothing else is touched ("Rust; 'unsafe' code" stays as it is)."""
    return GUARD.sub(
        lambda found: found["start"] + "'" if found["start"] is not None else found[0] + "''",
        text,
    )


def unguarded(text: str) -> str:
    """A cell's text as it was before `guarded`: each guard it puts goes (a "'" at the start
    before a formula's start or a "'"; "''" inside, after a separator and its spaces, before a
    formula's start or the quotes leading to one). Any other "'" is the text's own and stays: a
    hand-typed 'Quoted', and a single "'" after a separator (`Vim: ':wq', '=G'`), which no
    export writes, also in a file exported before these guards."""
    return UNGUARD.sub(lambda found: found[1] or found[2] or "", text)


@dataclass(frozen=True)
class Row:
    """One talk of the spreadsheet, as the API's fields, and the line it came from."""

    line: int
    talk_id: str
    fields: dict[str, Any]
    id_from_title: bool = False  # the row had no id: `talk_id` is its title's slug
    # The row's ratingsPaused cell (an export read back): never sent, only compared with the
    # talk (`pause_not_applied`); None where the file has no such column, or the cell is
    # neither true nor false
    ratings_paused: bool | None = None


@dataclass(frozen=True)
class Problem:
    """What is wrong with one line of the file (`field`: its column; None: the whole row)."""

    line: int
    field: str | None
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"

    def document(self) -> dict[str, Any]:
        """As --json lists it, beside the API's field errors: line, field, message."""
        return {"line": self.line, "field": self.field, "message": self.message}


class BadRows(BadInput):
    """Lines of the file that cannot be talks: every one of them, nothing imported.

    A person reads the first SHOWN of them, a line each, then how many more and the sum (one
    problem: its line alone); --json lists every one under the problem document's `errors`."""

    SHOWN = 20

    def __init__(self, problems: Iterable[Problem]) -> None:
        # In the file's order; a line's own in the order they were found
        self.problems = sorted(dict.fromkeys(problems), key=lambda problem: problem.line)
        lines = len({problem.line for problem in self.problems})
        shown = [str(problem) for problem in self.problems[: self.SHOWN]]
        more = len(self.problems) - len(shown)
        self._said = [
            *shown,
            *([f"and {more} more (`--json` lists every one)"] if more else []),
            f"{lines} {'line' if lines == 1 else 'lines'} of the file cannot be imported "
            "(nothing was imported)",
        ]
        if len(self.problems) == 1:  # as the organisers' page says it, word for word
            self._said = shown
        super().__init__("; ".join(self._said[-1:] + self._said[:-1]))

    def said(self) -> list[str]:
        return self._said

    def document(self) -> dict[str, Any]:
        return {**super().document(), "errors": [p.document() for p in self.problems]}


def slug(title: str) -> str:
    """A talk id from a title, for rows without one, as the organisers' page makes it: accents
    dropped, not turned into dashes ("Über Café" -> "uber-cafe"); a title without a Latin
    letter or digit gets "talk-" and a hash of it ("שיחה" -> "talk-" and 8 hex digits)."""
    return slug_without_hash(title) or f"talk-{_fnv1a(title.strip())}"


def slug_without_hash(title: str) -> str:
    """The part of `slug` before a title without Latin letters is hashed ("" for such a title)."""
    plain = unicodedata.normalize("NFKD", title)
    plain = "".join(c for c in plain if not unicodedata.category(c).startswith("M")).lower()
    return re.sub(r"[^a-z0-9]+", "-", plain).strip("-")[:60]


def _fnv1a(text: str) -> str:
    """32-bit FNV-1a of the text's UTF-8, in 8 hex digits (as the organisers' page hashes)."""
    value = 0x811C9DC5
    for byte in text.encode():
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF
    return f"{value:08x}"


def earlier_slug(title: str) -> str:
    """The id `talkrate admin import` gave a row without one before 2026-12-02 (every letter
    outside a-z a dash: "Über Café" -> "ber-caf"; 80 characters)."""
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:80] or "talk"


def with_ids(rows: list[Row], catalog: dict[str, dict[str, Any]]) -> list[Row]:
    """The rows, each row without an id given the id of its talk.

    A row without an id is its title's talk: the talk of the catalog holding that title under
    its slug, under the id an import gave it before the slug changed (`earlier_slug`), or under
    its slug numbered (`-2`, `-3`: two titles whose slugs meet, at the slug's 60 characters
    say); else its slug, as before, unless another row of the file holds it; else the first
    numbered slug nobody holds. So importing a file again updates the talks it made, whatever
    their order, and two titles never share a talk. BadRows for the rows no id is left for.
    """
    kept, unnamed = identified(rows, catalog)
    if unnamed:
        raise BadRows(unnamed)
    return kept


def identified(
    rows: list[Row], catalog: dict[str, dict[str, Any]]
) -> tuple[list[Row], list[Problem]]:
    """The rows `with_ids` gives ids, and the problem of each row no id is left for (left
    out), as the organisers' page's withIds: the other rows are checked all the same."""
    used = {row.talk_id for row in rows if not row.id_from_title}
    kept, unnamed = [], []
    for row in rows:
        if row.id_from_title:
            title = row.fields["title"]
            numbered = [row.talk_id] + [f"{row.talk_id}-{n}" for n in range(2, 100)]
            # Before titles without Latin letters were hashed, each was "talk" (then "talk-2"...).
            hashed = row.talk_id != slug_without_hash(title)
            before = ["talk"] + [f"talk-{n}" for n in range(2, 100)] if hashed else []
            known = (row.talk_id, earlier_slug(title), *numbered[1:], *before)
            # (a title saved with U+FEFF is matched as the API keeps it: the row's has none)
            talk_id = next(
                (i for i in known if i not in used and _kept_title(catalog.get(i)) == title),
                None,
            ) or next(
                (i for i in numbered if i not in used and (i == row.talk_id or i not in catalog)),
                None,
            )
            if talk_id is None:
                unnamed.append(
                    Problem(row.line, "id", f"no free id for {title!r}: give the row one")
                )
                continue
            used.add(talk_id)
            row = replace(row, talk_id=talk_id)
        kept.append(row)
    return kept, unnamed


def _kept_title(talk: dict[str, Any] | None) -> str | None:
    """A catalog talk's title as the API would keep it if sent again (without U+FEFF)."""
    title = (talk or {}).get("title")
    return without_dropped(title) if isinstance(title, str) else None


def speakers_cell(speakers: Iterable[str]) -> str:
    """The speakers cell of a row: names joined by "; ", each ";" and "\\" in a name escaped."""
    return "; ".join(
        name.replace("\\", "\\\\").replace(SPEAKER_SEPARATOR, "\\" + SPEAKER_SEPARATOR)
        for name in speakers
    )


def speakers_from_cell(cell: str) -> list[str]:
    """The names of a speakers cell (see speakers_cell), each stripped; empty names dropped.

    A backslash escapes only ";" and itself; before anything else it is the name's own, as in
    a hand-typed cell."""
    names: list[str] = []
    name: list[str] = []
    at = 0
    while at < len(cell):
        char = cell[at]
        if char == "\\" and cell[at + 1 : at + 2] in (SPEAKER_SEPARATOR, "\\"):
            name.append(cell[at + 1])
            at += 2
            continue
        if char == SPEAKER_SEPARATOR:
            names.append("".join(name))
            name = []
        else:
            name.append(char)
        at += 1
    names.append("".join(name))
    return [stripped for each in names if (stripped := each.strip())]


def _delimiter(header: str) -> str:
    """The cell separator of a file whose header line this is: the first that yields a title."""
    for delimiter in DELIMITERS:
        try:
            names = next(csv.reader([header], delimiter=delimiter), [])
        except csv.Error:  # (a cell past the field limit: said once the separator is chosen)
            continue
        if "title" in (_column(name) for name in names):
            return delimiter
    return ","


def _column(name: str) -> str:
    """A header cell as the column it names: spaces around it and its case do not matter."""
    name = name.strip()
    return _COLUMN_NAMES.get(name.lower(), name)


# A time as the API reads it (pydantic's RFC 3339): date, "T" (or "t", or a space), hours and
# minutes, optional seconds and fraction, then "Z" (or "z") or an offset of hours and minutes.
_TIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:[.,][0-9]+)?)?"
    r"(?P<zone>[Zz]|[+-][0-9]{2}:?[0-5][0-9])?"
)
# The years (in UTC) the API takes a talk's times in.
FIRST_YEAR, LAST_YEAR = 1970, 9000


def _time(text: str) -> datetime | None:
    """The time `text` says, as the API would read it (naive when it names no zone), or None."""
    match = _TIME.fullmatch(text)
    if match is None:
        return None
    zone = match["zone"] or ""
    plain = text[: len(text) - len(zone)].replace("t", "T").replace(",", ".")
    try:
        return datetime.fromisoformat(plain + ("+00:00" if zone in ("Z", "z") else zone))
    except ValueError:  # 2026-02-30, 24:00, an offset of 24 hours
        return None


def time_problem(name: str, text: str, zone: ZoneInfo | None = None) -> str | None:
    """What is wrong with a time cell the API would not take (RFC 3339 with its zone, in the
    years the API takes), or None. With the venue's `zone`, a wall time without a zone is one
    of its clocks (`sent_time`): refused only when those clocks skip it."""
    return sent_time(name, text, zone)[1]


def sent_time(name: str, text: str, zone: ZoneInfo | None = None) -> tuple[str, str | None]:
    """A time cell as it is sent, and what is wrong with it (None when nothing is, see
    `time_problem`). With the venue's `zone`, a wall time without a zone is the instant its
    clocks show it at, sent as written with the venue's offset then ("2026-12-05 10:00" in
    Europe/Berlin is "2026-12-05 10:00+01:00", as the organisers' page writes it); any other
    time is sent as written."""
    parsed = _time(text)
    if parsed is None:
        if zone is not None:  # the venue's clocks read a wall time: no offset to copy wrong
            return text, (
                f"{name} {text!r} is not a time the API reads; write it as 2026-12-02 09:00 "
                f"(on the clocks of {zone.key}), or 2026-12-02T08:00Z for UTC"
            )
        return text, (
            f"{name} {text!r} is not a time the API reads; write it as "
            "2026-12-02T09:00+01:00 (or 2026-12-02T08:00Z for UTC)"
        )
    if parsed.tzinfo is None and zone is None:
        return text, (
            f"{name} {text} {NAMES_NO_ZONE} (write it as {text}Z for UTC, "
            f"or with its offset, {text}+01:00)"
        )
    sent = text
    try:
        if parsed.tzinfo is None and zone is not None:
            moment = _on_the_clocks_of(parsed, zone)
            if moment is None:
                skipped = f"{name} {text} does not exist in {zone.key} (its clocks skip that hour)"
                return text, skipped
            if (second := _second_time(parsed, zone)) is not None:
                return text, repeated_time(name, text, zone.key, moment, second)
            parsed, sent = moment, _with_offset(text, moment)
        year = parsed.astimezone(UTC).year
    except OverflowError:  # an offset carries it past the first or the last date there is
        year = 0
    if not FIRST_YEAR <= year <= LAST_YEAR:
        return text, f"{name} {text} is not between the years {FIRST_YEAR} and {LAST_YEAR}"
    return sent, None


def _with_offset(text: str, moment: datetime) -> str:
    """A wall time's text with the offset of the zone it is in at `moment`."""
    offset = moment.utcoffset()
    if offset is None or offset.seconds % 60:
        # An offset of seconds (Monrovia until 1972) is none RFC 3339 writes: said in UTC
        return moment.astimezone(UTC).isoformat()
    minutes = int(offset.total_seconds()) // 60
    sign, minutes = ("-" if minutes < 0 else "+"), abs(minutes)
    return f"{text}{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def _second_time(wall: datetime, zone: tzinfo) -> datetime | None:
    """The second instant the clocks of `zone` show `wall` at, when they show it twice (the
    hour they go back), else None."""
    second = wall.replace(tzinfo=zone, fold=1)
    first = wall.replace(tzinfo=zone, fold=0)
    return second if second.utcoffset() != first.utcoffset() else None


def repeated_time(name: str, text: str, zone: str, first: datetime, second: datetime) -> str:
    """What is said of a wall time the venue's clocks show twice (the hour they go back): which
    offset says each. The organisers' page (web/js/programme-file.js) says it in these words."""
    return (
        f"{name} {text} happens twice in {zone} (its clocks go back over it): write "
        f"{_with_offset(text, first)} for the first or {_with_offset(text, second)} for the "
        "second"
    )


def _on_the_clocks_of(wall: datetime, zone: tzinfo) -> datetime | None:
    """The instant the clocks of `zone` show the wall time `wall` (the first of the two when
    they go back and show it twice), or None when they skip it (they go forward over it).

    OverflowError for a wall time too near the first or last date there is to convert."""
    moment = wall.replace(tzinfo=zone, fold=0)
    shown = moment.astimezone(UTC).astimezone(zone)
    return moment if shown.replace(tzinfo=None) == wall else None


def names_no_zone(text: str) -> bool:
    """Whether `text` is a time as the API reads one, but without a time zone: a wall time."""
    parsed = _time(text)
    return parsed is not None and parsed.tzinfo is None


def not_utf8(name: str) -> str:
    """What is said of a file that is not UTF-8 text (the organisers' page says it alike)."""
    return f"{name} is not UTF-8 text: save it from the spreadsheet as 'CSV UTF-8'"


def unreadable_text(name: str, text: str) -> str | None:
    """What is said of a programme file's text read as UTF-8 that holds a NUL, or None.

    UTF-16 without a byte-order mark reads as UTF-8 with a NUL beside each ASCII letter (a
    third of its characters or more, which no programme has): it is not UTF-8, and was told it
    lacked a header line. Any other NUL is in UTF-8 text, and said as such, on the first line
    that holds one (lines as a text file ends them: CRLF, CR or LF). The organisers' page
    (web/js/programme-file.js's unreadableText) says the same."""
    if "\0" not in text:
        return None
    if text.count("\0") * 3 >= len(text):
        return not_utf8(name)
    lines = [at for at, line in enumerate(LINE_BREAK.split(text), start=1) if "\0" in line]
    more = (
        f"; {len(lines) - 1} more {'line holds' if len(lines) == 2 else 'lines hold'} one"
        if len(lines) > 1
        else ""
    )
    return (
        f"line {lines[0]}: a NUL byte (character 0{more}), which no text holds: a spreadsheet or "
        "a binary file may have put it there; remove it, or save the file from the spreadsheet "
        "as 'CSV UTF-8'"
    )


LINE_BREAK = re.compile(r"\r\n?|\n")


def read_rows(source: IO[str], zone: ZoneInfo | None = None) -> list[Row]:
    """The rows of a programme CSV; BadRows naming every line that cannot be a talk."""
    rows, problems = read_programme(source, zone)
    if problems:
        raise BadRows(problems)
    return rows


def read_programme(
    source: IO[str], zone: ZoneInfo | None = None
) -> tuple[list[Row], list[Problem]]:
    """The rows of a programme CSV that can be talks, and what is wrong with each line that
    cannot; BadInput for a file that is no programme at all (its header).

    A time cell without a zone is the venue's wall time when the deployment names the venue's
    `zone` (sent with its offset: `sent_time`), and refused without one.

    A row's fields are those of the file's columns only (title always): a column
    the file lacks is no change to an existing talk. The whole file is checked before anything
    is sent: a row the API would refuse (an id outside its pattern, a control character or a
    direction control, a time that is not one) is a problem of its line, and any problem stops the import before it
    sends anything, so no file is half imported for it."""
    header = source.readline()
    if header.lstrip().startswith(("[", "{")):
        raise BadInput("this is JSON; import takes a CSV (the columns of `talkrate admin export`)")
    before = []  # lines before the header: Excel's "sep=;" line, read as a blank one
    stated = SEPARATOR_LINE.fullmatch(header.rstrip("\r\n"))
    separator = stated[1] if stated and stated[1] in DELIMITERS else None
    if separator:
        before, header = ["\n"], source.readline()
    header_line = len(before) + 1
    delimiter = separator or _delimiter(header)
    try:
        names = [_column(name) for name in next(csv.reader([header], delimiter=delimiter), [])]
    except csv.Error as error:
        raise BadInput(
            _unread_header(header_line, error, [header], header_line, delimiter)
        ) from None
    # A header cell with no name (the `;;` a spreadsheet writes after the last column when a
    # cell to the right was ever touched) names no column: its cells must be empty.
    unnamed = {f"{UNNAMED}{at + 1}": at + 1 for at, name in enumerate(names) if not name}
    names = [name or f"{UNNAMED}{at + 1}" for at, name in enumerate(names)]
    # The header line goes through the reader too, so its line numbers are the file's.
    lines = _KeptLines(itertools.chain(before, [header], source))
    reader = csv.DictReader(lines, fieldnames=names, delimiter=delimiter)
    try:
        next(reader, None)
    except csv.Error as error:  # a quote opened in the header and never closed
        raise BadInput(_unread_header(header_line, error, lines.kept, 1, delimiter)) from None
    # A quote the header opens and the file never closes: the header took every line (no row
    # was left to read, nor said wrong).
    if _cell_scan(lines.kept, 1, delimiter).open_at_end is not None:
        raise BadInput(f"line {header_line}: {QUOTE_OPEN_AT_END}: the header line cannot be read")
    if "title" not in names:
        raise BadInput(
            "the CSV needs a header line naming its columns, with at least a title column "
            f"({', '.join(COLUMNS)})"
        )
    unknown = set(names) - set(COLUMNS) - set(RESULT_COLUMNS) - set(unnamed)
    if unknown:
        raise BadInput(f"unknown columns {sorted(unknown)}; expected {', '.join(COLUMNS)}")
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise BadInput(f"columns named twice in the header: {', '.join(twice)}")
    rows: list[Row] = []
    problems: list[Problem] = []
    seen: set[tuple[str, str]] = set()
    for line, record, open_quote in _records(reader, lines, delimiter, problems):
        if open_quote:
            _row_before_quote(line, record, names, unnamed, seen, problems, zone)
            continue
        if None in record or None in record.values():
            # A cell separator inside an unquoted cell ("Ana;Bo" in a ";" file) would move every
            # cell after it one column on: refused rather than stored in the wrong fields.
            count = len(names) + len(record.get(None) or []) - list(record.values()).count(None)
            problems.append(
                Problem(
                    line,
                    None,
                    f"{count} cells where the header has {len(names)}; a cell holding "
                    f"the separator {delimiter!r} must be in double quotes",
                )
            )
            continue
        cells = {k: _cell_text(k, unguarded(v)) for k, v in record.items()}
        row = _row(line, cells, names, unnamed, seen, problems, zone)
        if row is not None:
            rows.append(row)
    return rows, problems


def _row_before_quote(
    line: int,
    record: dict[str | Any, str | Any],
    names: list[str],
    unnamed: dict[str, int],
    seen: set[tuple[str, str]],
    problems: list[Problem],
    zone: ZoneInfo | None = None,
) -> None:
    """The problems of the cells before a double quote never closed (said before them): whole,
    they are judged as any row's. The quoted cell, the rest of the file, and the cells after it
    are not known until the quote is closed (where it closes decides how many cells follow):
    what depends on them is not judged, and the row is no talk."""
    read = [name for name in names if record.get(name) is not None]
    if None in record or not read:  # (cells too many already: where the quote closes, unknown)
        return
    sure = read[:-1]
    cells = {name: _cell_text(name, unguarded(record[name])) for name in sure}
    unread = names[len(sure) :]
    sure_unnamed = {name: column for name, column in unnamed.items() if name in cells}
    _row(line, cells, names, sure_unnamed, seen, problems, zone, unread)


def _row(
    line: int,
    cells: dict[str, str],
    names: list[str],
    unnamed: dict[str, int],
    seen: set[tuple[str, str]],
    problems: list[Problem],
    zone: ZoneInfo | None = None,
    unread: Sequence[str] = (),
) -> Row | None:
    """The talk of one line's cells, or None: a blank line, or one with problems (each added
    to `problems`, so that every problem of the line is said at once). The `unread` columns'
    cells are not known (see _row_before_quote): nothing depending on them is judged, and the
    line is no talk."""
    found = len(problems)

    def refuse(field: str | None, message: str) -> None:
        problems.append(Problem(line, field, message))

    for name, column in unnamed.items():
        if text := cells.pop(name):
            refuse(None, f"column {column} has no name in the header but holds {text!r}")
    if not any(cells.values()):
        return None
    title = cells.get("title")
    if not title and "title" not in unread:
        refuse("title", "a talk needs a title")
    talk_id = cells.get("id") or slug(title or "")
    if cells.get("id") and not TALK_ID.fullmatch(talk_id):
        refuse(
            "id",
            f"id {talk_id!r} is not one a talk can have: it may hold {TALK_ID_RULE}",
        )
    # A row without an id is its title's talk (its id is settled by `with_ids`); which talk a
    # row whose id or title is not known is, is not known either
    named = ("id", talk_id) if cells.get("id") else ("title", title or "")
    if "id" not in unread and named[0] not in unread:
        if named[1] and named in seen:
            refuse(named[0], f"talk {named[1]} appears twice")
        seen.add(named)
    for name, text in cells.items():
        if CONTROL.search(text):
            refuse(name, f"{name} holds a control character (a line break?)")
        elif name == "speakers":  # each name counted in as the API counts it: speakers.N
            for at, speaker in enumerate(speakers_from_cell(text), start=1):
                if control := DIRECTION_CONTROL.search(speaker):
                    said = direction_control(speaker, control.start())
                    refuse(name, f"speaker {at} holds {said}")
                elif separator := line_separator(speaker):
                    refuse(name, f"speaker {at} holds {separator}")
        elif control := DIRECTION_CONTROL.search(text):
            refuse(name, f"{name} holds {direction_control(text, control.start())}")
        elif name in TEXTS and (separator := line_separator(text)):
            refuse(name, f"{name} holds {separator}")
    fields: dict[str, Any] = {"title": title}
    if "speakers" in names and "speakers" not in unread:
        fields["speakers"] = speakers_from_cell(cells.get("speakers", ""))
    # How each time was read: an instant, a wall time of no zone known (compared with another
    # such as written), or refused (compared with nothing: its refusal is the line's problem)
    read: dict[str, str | None] = {}
    for name in (name for name in OPTIONAL if name in names and name not in unread):
        fields[name] = cells.get(name) or None
        if name in TIMES and fields[name]:
            text = fields[name]
            fields[name], problem = sent_time(name, text, zone)
            if problem:
                refuse(name, problem)
            wall = zone is None and names_no_zone(text)
            read[name] = "instant" if not problem else "wall" if wall else None
    in_order = read.get("startsAt") is not None and read.get("startsAt") == read.get("endsAt")
    problems += _fits(line, fields, in_order)
    if len(problems) > found or unread:
        return None
    paused = paused_cell(cells["ratingsPaused"]) if "ratingsPaused" in cells else None
    return Row(line, talk_id, fields, id_from_title=not cells.get("id"), ratings_paused=paused)


def paused_cell(text: str) -> bool | None:
    """A ratingsPaused cell as the export writes it, "true" or "false" (a spreadsheet's TRUE
    and FALSE too); None for an empty cell or any other text."""
    return {"true": True, "false": False}.get(text.strip().lower())


def _cell_text(column: str, text: str) -> str:
    """A cell's text as the row takes it: trimmed, and a talk's text without U+FEFF first (as
    the API takes it: a programme exported with one in a text is imported again, cleaned)."""
    return (without_dropped(text) if column in TEXTS else text).strip()


def direction_control(text: str, at: int) -> str:
    """The direction control at `at` of the text, said as the API says it: its code point and
    name, where it is (the first character is 1), and why it is in the way.

    The text is the one the API would judge: trimmed (a cell is), and a speaker's name alone,
    so the place is the one the API's refusal names."""
    char = text[at]
    return (
        f"U+{ord(char):04X} {DIRECTION_CONTROLS[char]} (character {at + 1}), an invisible "
        "control that can reorder the text around it where it is shown"
    )


class _KeptLines:
    """The file's lines as the csv reader takes them, those since `kept` was last emptied kept:
    the lines of the record being read, to say where a cell it cannot read began."""

    def __init__(self, lines: Iterable[str]) -> None:
        self._lines = iter(lines)
        self.kept: list[str] = []

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        line = next(self._lines)
        self.kept.append(line)
        return line


# A cell past Python's csv field limit while inside its quotes: maybe a quote never closed, the
# rest of the file in the cell.
CELL_TOO_LONG = "a cell longer than {limit} characters (a double quote never closed?)"


def _unread_header(
    line: int, error: csv.Error, lines: list[str], first: int, delimiter: str
) -> str:
    """Why the header line cannot be read (in the words of the page's import): `lines` are
    those the reader took for it, line `first` the first of them."""
    scan = _cell_scan(lines, first, delimiter)
    if "field limit" not in str(error):
        why = f"not CSV ({error})"
    elif scan.length is not None:
        why = _past_limit([], scan.cell, scan.length)[1]
    else:
        why = CELL_TOO_LONG.format(limit=csv.field_size_limit())
    return f"line {line}: {why}: the header line cannot be read"


def _past_limit(names: Sequence[str], at: int, length: int) -> tuple[str | None, str]:
    """The column of a cell past Python's csv field limit outside quotes (the `at`th of its
    record, 0 the first; None where the header names none) and what is said of it: what is
    said of any text too long for the API where the API limits the column ("title has 200000
    characters, the most a talk's title has is 300"), else the limit of what the import reads.
    """
    name = names[at] if at < len(names) and not names[at].startswith(UNNAMED) else None
    if name in LONGEST_CELL:
        return name, _too_long(name, length, LONGEST_CELL[name])
    return name, (
        f"{name or f'column {at + 1}'} has {length} characters, the most the import reads in "
        f"a cell is {csv.field_size_limit()}"
    )


def _too_long(name: str, length: int, most: int) -> str:
    return f"{name} has {length} characters, the most a talk's {name} has is {most}"


def _records(
    reader: csv.DictReader[str], lines: _KeptLines, delimiter: str, problems: list[Problem]
) -> Iterator[tuple[int, dict[str | Any, str | Any], bool]]:
    """The reader's rows, each with its line and whether a double quote it holds is never
    closed, and a problem for each that cannot be read.

    A cell past Python's csv field limit outside quotes (a text pasted whole into a cell) is a
    problem of its column, on the line it is on: the rest of its line is not read, the lines
    after it are. Inside quotes, it is most likely a quote never closed, which takes the rest
    of the file into one cell: a problem of the line that quote opened on, and the end of what
    can be read. A quote never closed before the file ends (Python's csv, not strict, reads it
    as a cell holding the rest of the file: a file cut short, or a quote typed by mistake) is
    said on the line it opened on, and its record is yielded for the cells before that one
    (see _row_before_quote): the rest of the file in its last cell, and a cell count short of
    the header's, were one fault said twice."""
    # The last record read: yielded once the next one is, when it is known to be whole
    held: tuple[int, dict[str | Any, str | Any], list[str], int] | None = None
    while True:
        begins = reader.reader.line_num + 1  # (the DictReader's own stays put on an error)
        lines.kept = []  # (a new list: the held record's stays whole)
        try:
            record = next(reader)
        except StopIteration:
            if held is not None:
                opened = _cell_scan(held[2], held[3], delimiter).open_at_end
                if opened is not None:
                    problems.append(Problem(opened, None, QUOTE_OPEN_AT_END))
                yield held[0], held[1], opened is not None
            return
        except csv.Error as error:
            if held is not None:
                yield held[0], held[1], False
                held = None
            scan = _cell_scan(lines.kept, begins, delimiter)
            if "field limit" not in str(error):
                why = f"not CSV ({error})"
            elif scan.length is not None:
                field, said = _past_limit(reader.fieldnames or [], scan.cell, scan.length)
                problems.append(Problem(scan.past_limit or begins, field, said))
                continue
            else:
                why = CELL_TOO_LONG.format(limit=csv.field_size_limit())
            line = scan.past_limit or begins
            problems.append(Problem(line, None, f"{why}; the lines after it were not read"))
            return
        if held is not None:
            yield held[0], held[1], False
        # The line the record begins on (a cell's line break makes it more than one; blank lines
        # before it are skipped): where a spreadsheet shows its row
        blank = next((i for i, text in enumerate(lines.kept) if text.strip("\r\n")), 0)
        held = (begins + blank, record, lines.kept, begins)


QUOTE_OPEN_AT_END = "a double quote never closed: the file ends inside the cell it opens"
# What a time without a zone is refused with where the venue's zone is not known.
NAMES_NO_ZONE = "names no time zone"
LINE_ENDS = ("\r", "\n")


class _CellScan(NamedTuple):
    """Where the cells of one record's lines began that Python's csv reads whole and no file
    should hold: one past its field limit (and its place in the record, 0 the first; its
    length when it was outside quotes there, so ends on that line), and a quoted one still open
    at the lines' end."""

    past_limit: int | None
    open_at_end: int | None
    cell: int = 0
    length: int | None = None


def _cell_scan(lines: list[str], first: int, delimiter: str) -> _CellScan:
    """The lines of one record (line `first` the first of them, blank lines before the record
    included) read as Python's csv reads them (the excel dialect: a double quote opens a quoted
    cell only at a cell's start, two in it are one), for the line where a cell past csv's field
    limit began, and where a quoted cell still open at their end began."""
    limit = csv.field_size_limit()
    state, length, began, cell = "start", 0, first, 0
    for number, line in enumerate(lines, first):
        for at, char in enumerate(line):
            if state == "start":
                if char in LINE_ENDS:
                    cell = 0
                    continue  # a blank line, or the end of a record
                began, length, state = number, 0, "field"
                if char == '"':
                    state = "quoted"
                    continue
                if char == delimiter:
                    state, cell = "start", cell + 1
                    continue
            elif state == "quoted":
                if char == '"':
                    state = "quote-in-quoted"
                    continue
            elif char == delimiter or char in LINE_ENDS:  # the end of a cell, or a closed one's
                state, cell = "start", (cell + 1 if char == delimiter else 0)
                continue
            elif state == "quote-in-quoted":
                state = "quoted" if char == '"' else "field"
            length += 1
            if length > limit and state == "quoted":
                return _CellScan(began, None, cell)
            if length > limit:  # outside quotes: the cell ends with its line, or a separator
                rest = re.split(f"[{re.escape(delimiter)}\r\n]", line[at + 1 :], maxsplit=1)[0]
                return _CellScan(began, None, cell, length + len(rest))
    return _CellScan(None, began if state == "quoted" else None)


def _fits(line: int, fields: dict[str, Any], in_order: bool = True) -> list[Problem]:
    """What a row holds that the API would refuse of a talk's fields: text too long or with
    nothing visible, too many speakers, an end not after the start (when `in_order`: both
    times read as instants, or both wall times where no zone is known)."""
    problems = []
    texts = [(name, fields.get(name)) for name in ("title", "track", "room")]
    texts += [("speaker", name) for name in fields.get("speakers") or []]
    for name, text in texts:
        field = "speakers" if name == "speaker" else name
        if not text:  # none, or a title missing (said as such)
            continue
        if len(text) > LONGEST[name]:
            problems.append(Problem(line, field, _too_long(name, len(text), LONGEST[name])))
        elif not any(not unicodedata.category(c).startswith(("Z", "C")) for c in text):
            problems.append(Problem(line, field, f"{name} {text!r} holds no visible character"))
    if (language := fields.get("language")) and (wrong := language_problem(language)):
        problems.append(Problem(line, "language", wrong))
    if len(fields.get("speakers") or []) > MOST_SPEAKERS:
        problems.append(
            Problem(
                line,
                "speakers",
                f"{len(fields['speakers'])} speakers, the most a talk has is {MOST_SPEAKERS}",
            )
        )
    if in_order and (wrong := _in_order(fields.get("startsAt"), fields.get("endsAt"))):
        problems.append(Problem(line, "endsAt", wrong))
    return problems


def language_problem(text: str) -> str | None:
    """What is wrong with a language cell the API would not take (see LANGUAGE_TAG), or None."""
    if len(text) <= LANGUAGE_TAG_MAX_LENGTH and LANGUAGE_TAG.fullmatch(text):
        return None
    return (
        f"language {text!r} is not a BCP 47 language tag of at most {LANGUAGE_TAG_MAX_LENGTH} "
        "characters, such as he, ar, fa, en-GB or pt-BR (the language's code, not its name)"
    )


def _in_order(starts: Any, ends: Any) -> str | None:
    start, end = instant(starts), instant(ends)
    if start and end and end <= start:
        return f"endsAt {ends} is not after startsAt {starts}"
    return None


def sendable(rows: list[Row], catalog: dict[str, dict[str, Any]]) -> None:
    """BadRows for every row the API would refuse as the import sends it over its talk of the
    catalog. A PUT replaces the whole talk, so a column the file lacks is sent as the talk
    holds it: times that end before they start with the one the file lacks kept (a file
    without an endsAt column, say), and a stored value the API refuses now (a direction
    control saved before it was refused), in a row that changes its talk."""
    problems = []
    for row in rows:
        current = catalog.get(row.talk_id)
        merged = {**(current or {}), **row.fields}
        if wrong := _in_order(merged.get("startsAt"), merged.get("endsAt")):
            problems.append(Problem(row.line, "endsAt", wrong))
        if current is None or same_talk(row.fields, current):
            continue  # nothing stored is sent
        for column in (name for name in COLUMNS[2:] if name not in row.fields):
            for said in _stored_refused(column, current.get(column)):
                problems.append(
                    Problem(
                        row.line,
                        column,
                        f"the talk's stored {said}; the file has no {column} column, so the "
                        "import would send it as stored, and the API now refuses it: add a "
                        f"{column} column with a value the API takes, or edit the talk first",
                    )
                )
    if problems:
        raise BadRows(problems)


def to_send(
    rows: list[Row], problems: list[Problem], catalog: dict[str, dict[str, Any]]
) -> list[Row]:
    """The file's rows as the import sends them over the catalog: each with its id
    (`with_ids`), each one the API would take as sent (`sendable`). BadRows naming every
    problem at once, the file's own (`problems`, from `read_programme`) with those of its rows
    over the catalog, in the file's order (the organisers' page names the same, in the same
    words and order: web/js/programme-file.js's planImport): a row no id is left for is
    named, and the others are checked all the same."""
    rows, unnamed = identified(rows, catalog)
    problems = [*problems, *unnamed]
    try:
        sendable(rows, catalog)
    except BadRows as more:
        problems = [*problems, *more.problems]
    if problems:
        raise BadRows(problems)
    return rows


def paused_talks(rows: Iterable[Row], catalog: dict[str, dict[str, Any]]) -> list[str]:
    """The file's talks whose ratings the organisers paused, in the file's order: an import
    leaves each so (it sends no ratingsPaused, and a PUT without it keeps the talk's), and a
    talk it creates is not paused."""
    return [row.talk_id for row in rows if _paused(catalog, row.talk_id)]


def _paused(catalog: dict[str, dict[str, Any]], talk_id: str) -> bool:
    """Whether the catalog's talk has its ratings paused (one not in it, which the import
    creates, is not)."""
    return bool((catalog.get(talk_id) or {}).get("ratingsPaused"))


@dataclass(frozen=True)
class PauseNotApplied:
    """A row whose ratingsPaused cell (`in_file`) says other than its talk (`paused`; a talk
    the import creates is not paused): the import reads no result, so the talk stays so."""

    line: int
    talk_id: str
    in_file: bool
    paused: bool

    def document(self) -> dict[str, Any]:
        """As --json lists it: line, talk, inFile (the cell), ratingsPaused (the talk's)."""
        return {
            "line": self.line,
            "talk": self.talk_id,
            "inFile": self.in_file,
            "ratingsPaused": self.paused,
        }


def pause_not_applied(
    rows: Iterable[Row], catalog: dict[str, dict[str, Any]]
) -> list[PauseNotApplied]:
    """The rows whose ratingsPaused cell differs from their talk's state, in the file's order
    (a file without the column, an empty cell or one neither true nor false: none)."""
    differing = []
    for row in rows:
        paused = _paused(catalog, row.talk_id)
        if row.ratings_paused is not None and row.ratings_paused != paused:
            differing.append(PauseNotApplied(row.line, row.talk_id, row.ratings_paused, paused))
    return differing


def _stored_refused(column: str, value: Any) -> list[str]:
    """What the API refuses now of a value a talk holds (saved before the rule), each said as
    "room holds ...": its texts trimmed as the API trims them, then judged by its rules."""
    if value is None or column == "language":  # (every language stored was checked so)
        return []
    if column in TIMES:
        return [wrong] if (wrong := time_problem(column, str(value))) else []
    if column == "speakers":
        names = enumerate(value or [], start=1)
        return [w for at, name in names if (w := _text_refused(f"speaker {at}", "speaker", name))]
    return [wrong] if (wrong := _text_refused(column, column, value)) else []


def _text_refused(label: str, kind: str, text: str) -> str | None:
    """Why the API would refuse this text as a talk's `kind` (title, track, room, speaker), in
    the order it checks (without U+FEFF and trimmed, then direction controls, length, control
    characters, a visible character); None when it takes it."""
    text = without_dropped(text).strip()
    if control := DIRECTION_CONTROL.search(text):
        return f"{label} holds {direction_control(text, control.start())}"
    if len(text) > LONGEST[kind]:
        return (
            f"{label} has {len(text)} characters, the most a talk's {kind} has is {LONGEST[kind]}"
        )
    if CONTROL.search(text):
        return f"{label} holds a control character"
    if separator := line_separator(text):
        return f"{label} holds {separator}"
    if not any(not unicodedata.category(c).startswith(("Z", "C")) for c in text):
        return f"{label} {text!r} holds no visible character"
    return None


def instant(value: Any) -> datetime | None:
    """An RFC 3339 time as an aware datetime (UTC when it names no zone); None for none or junk."""
    parsed = _time(str(value)) if value else None
    if parsed is None:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def same_talk(fields: dict[str, Any], current: dict[str, Any]) -> bool:
    """Whether the catalog already says what the row says (times compared as instants, a
    language's case aside); a field the row does not have is no difference."""
    for name in ("title", "track", "room"):
        if name in fields and (fields.get(name) or None) != (current.get(name) or None):
            return False
    if (
        "language" in fields
        and (fields.get("language") or "").lower() != (current.get("language") or "").lower()
    ):
        return False
    if "speakers" in fields and list(fields["speakers"] or []) != list(
        current.get("speakers") or []
    ):
        return False
    for name in (name for name in TIMES if name in fields):
        wanted, have = fields.get(name) or None, current.get(name) or None
        if wanted == have:
            continue
        if wanted is None or instant(wanted) is None or instant(wanted) != instant(have):
            return False
    return True


def histogram_sums(ratings: dict[str, int]) -> tuple[int, int]:
    """How many ratings a histogram of GET /talks holds, and the sum of their values."""
    count = sum(ratings.get(value, 0) for value in RATING_VALUES)
    total = sum(int(value) * ratings.get(value, 0) for value in RATING_VALUES)
    return count, total


def average_cell(ratings: dict[str, int]) -> str:
    """A talk's average as the export writes it: its histogram's exact average (whole counts
    divided), to three places, a tie rounded up; empty for a talk nobody rated.

    Not the API's `avg`, which is already rounded to four places: rounded again, 127/33
    (3.84848...) became 3.8485 and then 3.849. Integers only, as the organisers' page computes
    it, so both write the same cell."""
    from talkrate_cli.output import quotient_text  # (output imports this module)

    count, total = histogram_sums(ratings)
    return quotient_text(total, count, 3) if count else ""


def places(
    talks: Iterable[dict[str, Any]], prior: dict[str, float]
) -> dict[str, tuple[int, float]]:
    """Each rated talk's rank among these talks and its score, by the leaderboard's rule: the
    Bayesian average of its histogram with the prior GET /leaderboard names (`mean`, `weight`),
    computed as the projector scores it (the same division of the same integers: the same
    float), ranked as the board ranks (`talkrate.leaderboard.ranked`: tied talks share a rank,
    1, 1, 3). A talk nobody rated is not ranked (as on the leaderboard)."""
    scored = []
    for talk in talks:
        count, total = histogram_sums((talk.get("summary") or {}).get("ratings") or {})
        if count:
            score = (prior["mean"] * prior["weight"] + total) / (prior["weight"] + count)
            scored.append((talk["id"], score))
    return {talk_id: (rank, score) for rank, talk_id, score in board_places(scored)}


def score_cell(score: float) -> str:
    """A score as the export writes it: four places (as GET /leaderboard gives it), a tie
    rounded up as the averages are."""
    return str(Decimal(score).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP))


def write_results(
    target: IO[str],
    talks: Iterable[dict[str, Any]],
    prior: dict[str, float],
    line_end: str = "\n",
    delimiter: str = ",",
) -> int:
    """The programme with each talk's count, average, histogram, its rank and score among
    these talks (see `places`; both empty for a talk nobody rated), and whether its ratings are
    paused ("true"/"false"); the number of rows.

    `delimiter` ";" writes the file a spreadsheet whose list separator is ";" opens in columns
    (Excel where "," is the decimal mark, as in most of Europe): its average and score with a
    decimal comma too, which that spreadsheet reads as numbers (the import reads neither)."""
    talks = list(talks)
    ranked = places(talks, prior)
    writer = csv.writer(target, lineterminator=line_end, delimiter=delimiter)

    def decimal(text: str) -> str:
        return text.replace(".", ",") if delimiter == ";" else text

    writer.writerow((*COLUMNS, *RESULT_COLUMNS))
    written = 0
    for talk in talks:
        summary = talk.get("summary") or {}
        ratings = summary.get("ratings") or {}
        place = ranked.get(talk["id"])
        texts = (
            talk["id"],
            talk["title"],
            speakers_cell(talk.get("speakers") or []),
            talk.get("track") or "",
            talk.get("room") or "",
            talk.get("startsAt") or "",
            talk.get("endsAt") or "",
            talk.get("language") or "",
        )
        writer.writerow(
            (
                *(guarded(text) for text in texts),
                summary.get("count", ""),
                decimal(average_cell(ratings)),
                *(ratings.get(v, 0) for v in RATING_VALUES),
                *((place[0], decimal(score_cell(place[1]))) if place else ("", "")),
                "true" if talk.get("ratingsPaused") else "false",
            )
        )
        written += 1
    return written
