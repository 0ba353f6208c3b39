"""Programme files with one fault each, and the one line both `talkrate admin import` and the
organisers' page say of it: each side's tests import the same files."""

from __future__ import annotations

import pytest

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
