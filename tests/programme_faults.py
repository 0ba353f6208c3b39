"""Programme files with one fault each, and the one line both `talkrate admin import` and the
organisers' page say of it: each side's tests import the same files."""

from __future__ import annotations

import pytest

from talkrate.events import TALK_ID_RULE

# (content, said), one parameter set per fault
FILE_FAULTS = [
    # (it said the quote, then the row's "2 cells where the header has 3; a cell holding the
    # separator ',' must be in double quotes")
    pytest.param(
        b'id,title,room\nx,"Unclosed\ny,Y,R\n',
        "line 2: a double quote never closed: the file ends inside the cell it opens",
        id="a quote never closed",
    ),
    # (it said "programme.csv is not UTF-8 text")
    pytest.param(
        b"id,title\r\nx,X\r\ny,Y\x00\r\n",
        "line 3: a NUL byte (character 0), which no text holds: a spreadsheet or a binary "
        "file may have put it there; remove it, or save the file from the spreadsheet as "
        "'CSV UTF-8'",
        id="a NUL",
    ),
    # (it said "a cell longer than 131072 characters (a double quote never closed?); the lines
    # after it were not read")
    pytest.param(
        b"id,title\nx," + b"z" * 200_000 + b"\ny,Y\n",
        "line 2: title has 200000 characters, the most a talk's title has is 300",
        id="a title past the field limit",
    ),
]

# Rows holding a double quote never closed, and faults of their own in the cells before it:
# (content, said), each said line in the order both say them. The cells before the quote are
# whole and judged; the quoted cell and the cells after it are not known until the quote is
# closed (where it closes decides how many cells follow), and are not judged.
OPEN = "a double quote never closed: the file ends inside the cell it opens"
QUOTED_ROW_FAULTS = [
    pytest.param(
        'id,title,room\nbad id!,"Unclosed title,Hall A\n',
        [
            f"line 2: {OPEN}",
            f"line 2: id 'bad id!' is not one a talk can have: it may hold {TALK_ID_RULE}",
        ],
        id="an id no talk can have",
    ),
    pytest.param(
        'id,title,startsAt,endsAt\nx,,2031-06-02T10:00,"2031-06-02T09:00Z\n',
        [
            f"line 2: {OPEN}",
            "line 2: a talk needs a title",
            "line 2: startsAt 2031-06-02T10:00 names no time zone (write it as "
            "2031-06-02T10:00Z for UTC, or with its offset, 2031-06-02T10:00+01:00)",
        ],
        id="no title, a start naming no zone",
    ),
    pytest.param(
        'id,title\na,A\na,"Unclosed\n',
        [f"line 3: {OPEN}", "line 3: talk a appears twice"],
        id="an id twice",
    ),
    # (the id is in the quoted cell: whether its title's talk is the line before's, unknown)
    pytest.param(
        'title,id\nB,b\nB,"Unclosed\n',
        [f"line 3: {OPEN}"],
        id="a title twice, its id unknown",
    ),
    pytest.param(
        'id,title,,room\nx,X,stray,"Unclosed\n',
        [f"line 2: {OPEN}", "line 2: column 3 has no name in the header but holds 'stray'"],
        id="a cell under no column's name",
    ),
    # (the row's faults on the line it begins on, the quote on the line it opened on)
    pytest.param(
        'id,title,room\na,"Two\nlines","Unclosed\n',
        ["line 2: title holds a control character (a line break?)", f"line 3: {OPEN}"],
        id="a cell of two lines before it",
    ),
]
