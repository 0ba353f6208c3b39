"""The organisers' page reads a programme file (web/js/programme-file.js) as `talkrate admin
import` does, in Node: the characters the API refuses in a talk's text, refused alike by both."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from pathlib import Path

import pytest

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


def test_the_page_refuses_the_invisible_characters_the_command_line_refuses(
    tmp_path: Path,
) -> None:
    # Given files whose title, speaker, track and room each hold one invisible character
    chars = INVISIBLE_REFUSED + INVISIBLE_TAKEN
    files = [f"title,speakers,track,room\nKey{c}note,Ana;Bo{c}b,Ma{c}in,Hall {c}A\n" for c in chars]
    scripts = tmp_path / "js"
    shutil.copytree(ROOT / "web" / "js", scripts)
    (scripts / "package.json").write_text('{"type": "module"}')
    # When the page's import and the command line's read them
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
    # Then both say the same of each, refusing U+FEFF in each field as a control character
    assert dict(zip(chars, page, strict=True)) == dict(zip(chars, cli, strict=True))
    assert page[0] == [
        f"line 2: {f} holds a control character (a line break?)"
        for f in ("title", "speakers", "track", "room")
    ]
    assert page[1:] == [[]] * len(INVISIBLE_TAKEN)
