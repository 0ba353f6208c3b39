"""The voter pass across two tabs (web/js/voter.js), in Node with a tab's view of localStorage
that catches up late: what no browser lets a test slow down on purpose."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.nodejs import run_node, web_scripts

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("lag_ms", [0, 40, 300])
def test_a_tab_that_waited_its_turn_takes_the_other_tab_s_new_pass_not_a_second_one(
    tmp_path: Path, lag_ms: int
) -> None:
    # Given two tabs with a pass due for renewal that the service sets aside (a forgotten
    # voter's, an expired one by its clock): tab A holds the lock and gets the new voter's pass,
    # tab B waits its turn and gets the lock before its view shows A's write (`lag_ms` later)
    scripts = web_scripts(tmp_path / "js")
    harness = ROOT / "tests" / "unit" / "js" / "voter_tabs.mjs"
    # When tab B asks for a pass
    node_out = run_node(str(harness), scripts.as_uri(), str(lag_ms))
    outcome = json.loads(node_out.strip().splitlines()[-1])
    # Then it presents nothing to the service and uses tab A's pass: one attendee stays one
    # voter (it presented the set-aside pass again, and a second new voter counted each held
    # rating twice)
    assert outcome == {"sent": [], "used": "v1.voter-of-tab-a.sig"}
