"""The organisers' page reads a programme file (web/js/programme-file.js) as `talkrate admin
import` does, in Node: the characters the API refuses in a talk's text, refused alike by both, and
those it drops, dropped alike."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from talkrate.events import TALK_ID_RULE
from talkrate_cli.errors import CliError
from talkrate_cli.programme import BadRows, read_rows, unreadable_text, with_ids
from tests.nodejs import run_web_module
from tests.programme_faults import QUOTED_ROW_FAULTS
from tests.unit.test_cli_programme import (
    FEFF_CATALOG,
    FEFF_FILE,
    INVISIBLE_DROPPED,
    INVISIBLE_TAKEN,
)

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]

# Each file's refusals as the page's import says them, one list a file, in the order given.
_READ = """
const { readFileSync } = await import("node:fs");
// (the files on stdin: a file past Python's csv field limit is longer than an argument can be)
const [scripts, files] = [process.argv[1], JSON.parse(readFileSync(0, "utf8"))];
const { readProgramme } = await import(new URL("programme-file.js", scripts));
const read = files.map((text) => readProgramme(text));
console.log(JSON.stringify(read.map(({ errors }) => errors.map((e) => e.message))));
console.log(JSON.stringify(read.map(({ rows }) => rows.map((row) => row.fields))));
"""


def read_by_both(tmp_path: Path, files: list[str]) -> tuple[list[list[str]], list[list[str]]]:
    """Each file's refusals as the page's import (in Node) and the command line's say them."""
    (page, _), (cli, _) = read_rows_by_both(tmp_path, files)
    return page, cli


Read = tuple[list[list[str]], list[list[dict[str, Any]]]]


def read_rows_by_both(tmp_path: Path, files: list[str]) -> tuple[Read, Read]:
    """Each file's refusals and its rows' fields, as the page's import (in Node) and the command
    line's read them."""
    node_out = run_web_module(tmp_path / "js", _READ, input=json.dumps(files))
    page_said, page_rows = map(json.loads, node_out.splitlines())
    said: list[list[str]] = []
    rows: list[list[dict[str, Any]]] = []
    for text in files:
        try:
            rows.append([row.fields for row in read_rows(io.StringIO(text))])
            said.append([])
        except BadRows as refused:
            rows.append([])
            said.append([str(p) for p in refused.problems])
    return (page_said, page_rows), (said, rows)


def test_the_page_drops_the_invisible_characters_the_command_line_drops(
    tmp_path: Path,
) -> None:
    # Given files whose title, speaker, track and room each hold one invisible character, the
    # room at its end too
    chars = INVISIBLE_DROPPED + INVISIBLE_TAKEN
    files = [
        f"title,speakers,track,room\nKey{c}note,Ana;Bo{c}b,Ma{c}in,Hall {c}A {c}\n" for c in chars
    ]
    # When the page's import and the command line's read them
    page, cli = read_rows_by_both(tmp_path, files)
    # Then both read each alike, refusing none: U+FEFF dropped from each field, then trimmed
    assert page == cli
    assert page[0] == [[]] * len(chars)
    assert page[1][0] == [
        {"title": "Keynote", "speakers": ["Ana", "Bob"], "track": "Main", "room": "Hall A"}
    ]


def test_the_page_and_the_command_line_say_an_accented_id_is_not_one_as_the_api_does(
    tmp_path: Path,
) -> None:
    # Given a programme whose id holds an accented letter, and one starting with a dash
    files = ["id,title\ncaf\u00e9-keynote,Keynote\n", "id,title\n-x,T\n"]
    # When the page's import and the command line's read them
    page, cli = read_by_both(tmp_path, files)
    # Then both refuse each id in the API's words, which name the letters a talk id takes
    assert (
        page
        == cli
        == [
            [
                f"line 2: id 'caf\u00e9-keynote' is not one a talk can have: it may hold {TALK_ID_RULE}"
            ],
            [f"line 2: id '-x' is not one a talk can have: it may hold {TALK_ID_RULE}"],
        ]
    )


def test_the_page_and_the_command_line_refuse_a_quote_never_closed_before_the_file_ends(
    tmp_path: Path,
) -> None:
    # Given files cut short inside a quoted cell: on the last row's own line, on a row after
    # good ones and blank lines, spanning lines (its title then holds a line break too), and
    # in a ";" file with a problem of the row's own
    files = [
        'id,title\nfz-i2,"unterminated\n',
        'id,title\na,A\n\n\nb,"cut\n',
        'id,title\na,A\nb,"two\nlines\n',
        'id;title;startsAt\nc;C;"02/12/2026 09:00\n',
        'id,title\na,"closed",\n',  # a closed quote and a cell too many: no open quote said
    ]
    # When the page's import and the command line's read them
    page, cli = read_by_both(tmp_path, files)
    # Then both refuse each in the same words and order, naming the line its quote opened on,
    # and import nothing (before, each imported its row with the rest of the file as a cell)
    open_at = "a double quote never closed: the file ends inside the cell it opens"
    assert page == cli
    assert page[0] == [f"line 2: {open_at}"]
    assert page[1] == [f"line 5: {open_at}"]
    assert page[2] == [f"line 3: {open_at}"]
    assert page[3] == [f"line 2: {open_at}"]
    assert all(open_at not in said for said in page[4])


def test_a_quote_never_closed_is_said_once_by_both(tmp_path: Path) -> None:
    # Given files whose quote opens and is never closed: its cell then holds the rest of the
    # file, line breaks and all; the cell's row has fewer cells than the header; and a row
    # after a row refused for its own fault
    files = [
        'id,title\na,"Unclosed\nb,Other\n',
        'id,title,room\na,"Unclosed\nb,Other,R\n',
        'title,id\n"Unclosed,a\nb,Other\n',
        'id,title,room\na,T,"Unclosed\nb,Other,R\n',
        'id,title\nbad id,T\nb,"Unclosed\n',
    ]
    # When the page's import and the command line's read them
    page, cli = read_by_both(tmp_path, files)
    # Then both say the open quote once, on the line it opened on (each said a second line for
    # the same fault: the cell's line break, or "2 cells where the header has 3; a cell holding
    # the separator ',' must be in double quotes"); another row's own fault is still said
    open_at = "a double quote never closed: the file ends inside the cell it opens"
    assert page == cli
    assert page == [
        [f"line 2: {open_at}"],
        [f"line 2: {open_at}"],
        [f"line 2: {open_at}"],
        [f"line 2: {open_at}"],
        [
            f"line 2: id 'bad id' is not one a talk can have: it may hold {TALK_ID_RULE}",
            f"line 3: {open_at}",
        ],
    ]


@pytest.mark.parametrize(("content", "said"), QUOTED_ROW_FAULTS)
def test_a_row_s_quote_never_closed_is_said_with_the_faults_of_the_cells_before_it(
    tmp_path: Path, content: str, said: list[str]
) -> None:
    # Given a row holding a double quote never closed, with faults in the cells before it
    # When the page's import and the command line's read it
    page, cli = read_by_both(tmp_path, [content])
    # Then both say the quote, then each fault of the cells before it, once (the quote alone was
    # said: the row's other faults only once it was mended); nothing of the quoted cell and the
    # cells after it, which are not known until the quote is closed
    assert page == cli == [said]


def test_a_cell_past_the_field_limit_outside_quotes_is_said_as_too_long_by_both(
    tmp_path: Path,
) -> None:
    # Given files with a cell of 200,000 characters and no quote (a text pasted whole into a
    # cell): a title, among other lines; a speakers cell; a cell under no column's name; one
    # whose cell began in quotes closed before it; and a header cell
    long = "x" * 200_000
    files = [
        f"id,title,room\na,{long},Hall A\nbad id,T,R\nc,C,R\n",
        f"id,title,speakers\na,T,{long}\n",
        f"id,title,,\na,T,,{long}\n",
        f'id,title\na,"quoted"{long}\nb,B\n',
    ]
    header = f"sep=;\nid;title{long}\nx;X\n"
    # When the page's import and the command line's read them
    page, cli = read_by_both(tmp_path, files)
    # Then both name the cell's line and column, its length and the most it can have: for a
    # column the API limits, in the import's words for any text too long; else the most the
    # import reads (each was "a cell longer than 131072 characters (a double quote never
    # closed?)", though no quote was open, and no line after it was read)
    assert page == cli
    assert page == [
        [
            "line 2: title has 200000 characters, the most a talk's title has is 300",
            f"line 3: id 'bad id' is not one a talk can have: it may hold {TALK_ID_RULE}",
        ],
        ["line 2: speakers has 200000 characters, the most the import reads in a cell is 131072"],
        ["line 2: column 4 has 200000 characters, the most the import reads in a cell is 131072"],
        ["line 2: title has 200006 characters, the most a talk's title has is 300"],
    ]
    node_out = run_web_module(tmp_path / "header", _REFUSED_WHOLE, input=header)
    with pytest.raises(CliError) as refused:
        read_rows(io.StringIO(header))
    said = (
        "line 2: column 2 has 200005 characters, the most the import reads in a cell is 131072: "
        "the header line cannot be read"
    )
    assert (node_out.strip(), str(refused.value)) == (said, said)


_REFUSED_WHOLE = """
const { readFileSync } = await import("node:fs");
const [scripts, text] = [process.argv[1], readFileSync(0, "utf8")];
const { readProgramme } = await import(new URL("programme-file.js", scripts));
try { readProgramme(text); console.log("read"); } catch (error) { console.log(error.message); }
"""


@pytest.mark.parametrize("text", ['title,"room\na,b\nc,d\n', 'sep=;\ntitle;"room\na;b\n'])
def test_a_quote_the_header_opens_and_the_file_never_closes_is_said_by_both(
    tmp_path: Path, text: str
) -> None:
    # Given a file whose header line opens a quote no line closes (every line is its cell)
    # When the page's import and the command line's read it
    node_out = run_web_module(tmp_path / "js", _REFUSED_WHOLE, input=text)
    with pytest.raises(CliError) as refused:
        read_rows(io.StringIO(text))
    # Then both refuse the whole file in the same words, naming the header's line (the command
    # read no row and said nothing wrong; the page said the file had no title column)
    line = 2 if text.startswith("sep=") else 1
    said = (
        f"line {line}: a double quote never closed: the file ends inside the cell it opens: the "
        "header line cannot be read"
    )
    assert (node_out.strip(), str(refused.value)) == (said, said)


_PLAN = """
const [scripts, text, talks] = [process.argv[1], process.argv[2], JSON.parse(process.argv[3])];
const { planImport, readProgramme } = await import(new URL("programme-file.js", scripts));
const plan = planImport(readProgramme(text), talks);
console.log(JSON.stringify([...plan.created, ...plan.updated, ...plan.unchanged].map((r) => r.talkId)));
"""


def test_the_page_matches_a_title_saved_with_u_feff_to_its_talk_as_the_command_line_does(
    tmp_path: Path,
) -> None:
    # Given two titles whose ids meet, the second saved with U+FEFF (test_cli_programme's)
    # When the page plans the import of the file again (part 2 first)
    node_out = run_web_module(
        tmp_path / "js", _PLAN, FEFF_FILE, json.dumps(list(FEFF_CATALOG.values()))
    )
    # Then each row updates its own talk, as the command line's import does
    ids = [row.talk_id for row in with_ids(read_rows(io.StringIO(FEFF_FILE)), FEFF_CATALOG)]
    assert sorted(json.loads(node_out)) == sorted(ids) == sorted(FEFF_CATALOG)


def test_the_page_and_the_command_line_name_a_row_whose_cell_spans_lines_by_its_first(
    tmp_path: Path,
) -> None:
    # Given a row whose quoted title holds a line break (a spreadsheet shows it as row 2),
    # after blank lines too
    files = ['id,title\nt,"Two\nlines"\nu,Fine\n', 'id,title\n\n\nt,"Two\nlines"\n']
    # When the page's import and the command line's read them
    page, cli = read_by_both(tmp_path, files)
    # Then both name the line the row begins on (they named the line it ended on)
    assert page == cli
    assert page == [
        ["line 2: title holds a control character (a line break?)"],
        ["line 4: title holds a control character (a line break?)"],
    ]


_UNREADABLE = """
const { readFileSync } = await import("node:fs");
const [scripts, texts] = [process.argv[1], JSON.parse(readFileSync(0, "utf8"))];
const { unreadableText } = await import(new URL("programme-file.js", scripts));
console.log(JSON.stringify(texts.map((text) => {
  const said = unreadableText("programme.csv", text);
  return said && [said.message, said.line];
})));
"""


def test_a_nul_in_utf8_text_is_said_on_its_line_and_utf16_as_not_utf8_by_both(
    tmp_path: Path,
) -> None:
    # Given files read as UTF-8 holding NULs: UTF-16 without a byte-order mark (a NUL beside
    # each letter), and UTF-8 text with a NUL on one line (after CRLF and CR line ends, in
    # Hebrew text) or on three
    programme = "id,title\ncafe-talk,Cafe talk\n"
    texts = [
        programme.encode("utf-16-le").decode(),
        programme.encode("utf-16-be").decode(),
        "id,title\r\na,A\rb,B\x00\nc,C\n",
        "id,title\n\u05e9\u05dc\u05d5\u05dd,\x00\u05e9\u05dc\u05d5\u05dd\n",
        "id,title\na,A\x00\nb,B\x00\x00\nc,C\nd,D\x00\n",
        programme,
    ]
    # When the page's import and the command line's read them
    node_out = run_web_module(tmp_path / "js", _UNREADABLE, input=json.dumps(texts))
    page = [said and said[0] for said in json.loads(node_out)]
    cli = [unreadable_text("programme.csv", text) for text in texts]
    # Then both say UTF-16 is not UTF-8, and name the line of a NUL in UTF-8 text and what may
    # have put it there (it was "not UTF-8 text" too, though it was)
    nul = (
        "a NUL byte (character 0{}), which no text holds: a spreadsheet or a binary file may "
        "have put it there; remove it, or save the file from the spreadsheet as 'CSV UTF-8'"
    )
    assert page == cli
    assert page == [
        "programme.csv is not UTF-8 text: save it from the spreadsheet as 'CSV UTF-8'",
        "programme.csv is not UTF-8 text: save it from the spreadsheet as 'CSV UTF-8'",
        f"line 3: {nul.format('')}",
        f"line 2: {nul.format('')}",
        f"line 2: {nul.format('; 2 more lines hold one')}",
        None,
    ]
    # (the page's refusal names its line, as a line's refusal does)
    assert [said and said[1] for said in json.loads(node_out)] == [None, None, 3, 2, 2, None]


_EXPORT = """
const { readFileSync } = await import("node:fs");
const [scripts, [talks, prior]] = [process.argv[1], JSON.parse(readFileSync(0, "utf8"))];
const { resultsCsv } = await import(new URL("programme-file.js", scripts));
console.log(JSON.stringify([resultsCsv(talks, prior), resultsCsv(talks, prior, { decimalComma: true })]));
"""


def test_the_page_s_export_with_a_decimal_comma_is_the_command_line_s(tmp_path: Path) -> None:
    from talkrate_cli.programme import write_results

    # Given rated talks, one with a comma in its title and two speakers (their cell holds ";")
    talks = [
        {
            "id": "k",
            "title": "T, with a comma",
            "speakers": ["Ana", "Björn"],
            "track": "Main",
            "summary": {"count": 3, "avg": 4.0, "ratings": {"3": 1, "4": 1, "5": 1}},
        },
        {"id": "u", "title": "Unrated", "summary": {"count": 0, "ratings": {}}},
    ]
    prior = {"mean": 3.0, "weight": 10.0}
    # When the page writes its export both ways, as `admin export` (--decimal-comma) does
    plain, europe = json.loads(
        run_web_module(tmp_path / "js", _EXPORT, input=json.dumps([talks, prior]))
    )
    files = {}
    for delimiter in (",", ";"):
        out = io.StringIO()
        write_results(out, talks, prior, line_end="\r\n", delimiter=delimiter)
        files[delimiter] = out.getvalue()
    # Then each is the command line's file, cell for cell (the page wrote "," only)
    assert plain == files[","]
    assert europe == files[";"]
    assert europe.splitlines()[1].startswith('k;T, with a comma;"Ana; Björn";Main;')


def test_the_page_and_the_command_line_refuse_line_and_paragraph_separators_in_a_talk_s_texts(
    tmp_path: Path,
) -> None:
    # Given files whose title, speakers, track and room hold U+2028 or U+2029 inside their
    # text (a paste from a word processor; the API refuses them with a 422 since 2026-12-07),
    # and one where a separator only ends a cell (trimmed away, as the API trims it)
    files = [
        "id,title,speakers,track,room\nt,Two\u2028lines,Ana,Main,Hall A\n",
        "id,title,speakers,track,room\nt,T,Ana; Bo\u2029b,Main,Hall A\n",
        "id,title,speakers,track,room\nt,T,Ana,Ma\u2028in,Hall A\nu,U,Bo,Main,Hall\u2029A\n",
        "id,title\nt,Trailing\u2028\n",
    ]
    # When the page's import and the command line's read them
    page, cli = read_by_both(tmp_path, files)
    # Then both refuse each before anything is sent, naming the line, the column, the character
    # and where it is, in the same words
    assert page == cli
    assert page == [
        [
            "line 2: title holds U+2028 LINE SEPARATOR (character 4), a line break: a talk's "
            "text is one line"
        ],
        [
            "line 2: speaker 2 holds U+2029 PARAGRAPH SEPARATOR (character 3), a line break: "
            "a talk's text is one line"
        ],
        [
            "line 2: track holds U+2028 LINE SEPARATOR (character 3), a line break: a talk's "
            "text is one line",
            "line 3: room holds U+2029 PARAGRAPH SEPARATOR (character 5), a line break: a "
            "talk's text is one line",
        ],
        [],
    ]
