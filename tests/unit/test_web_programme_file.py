"""The organisers' page reads a programme file (web/js/programme-file.js) as `talkrate admin
import` does, in Node: the characters the API refuses in a talk's text, refused alike by both."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from talkrate.events import TALK_ID_RULE
from talkrate_cli.programme import BadRows, read_rows
from tests.nodejs import node
from tests.unit.test_cli_programme import INVISIBLE_REFUSED, INVISIBLE_TAKEN

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]

# Each file's refusals as the page's import says them, one list a file, in the order given.
_READ = """
const [scripts, files] = [process.argv[1], JSON.parse(process.argv[2])];
const { readProgramme } = await import(new URL("programme-file.js", scripts));
console.log(JSON.stringify(files.map((text) => readProgramme(text).errors.map((e) => e.message))));
"""


def read_by_both(tmp_path: Path, files: list[str]) -> tuple[list[list[str]], list[list[str]]]:
    """Each file's refusals as the page's import (in Node) and the command line's say them."""
    scripts = tmp_path / "js"
    shutil.copytree(ROOT / "web" / "js", scripts)
    (scripts / "package.json").write_text('{"type": "module"}')
    done = subprocess.run(
        [node(), "--input-type=module", "-e", _READ, scripts.as_uri() + "/", json.dumps(files)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    page = json.loads(done.stdout)
    cli = []
    for text in files:
        try:
            read_rows(io.StringIO(text))
            cli.append([])
        except BadRows as refused:
            cli.append([str(p) for p in refused.problems])
    return page, cli


def test_the_page_refuses_the_invisible_characters_the_command_line_refuses(
    tmp_path: Path,
) -> None:
    # Given files whose title, speaker, track and room each hold one invisible character
    chars = INVISIBLE_REFUSED + INVISIBLE_TAKEN
    files = [f"title,speakers,track,room\nKey{c}note,Ana;Bo{c}b,Ma{c}in,Hall {c}A\n" for c in chars]
    # When the page's import and the command line's read them
    page, cli = read_by_both(tmp_path, files)
    # Then both say the same of each, refusing U+FEFF in each field as a control character
    assert dict(zip(chars, page, strict=True)) == dict(zip(chars, cli, strict=True))
    assert page[0] == [
        f"line 2: {f} holds a control character (a line break?)"
        for f in ("title", "speakers", "track", "room")
    ]
    assert page[1:] == [[]] * len(INVISIBLE_TAKEN)


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
