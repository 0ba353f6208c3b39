"""The pages name a talk's live channel as the projector does (web/js/live.js `talkChannel`
against talkrate.live `channel_for_talk`), in Node: a page subscribed elsewhere hears nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from talkrate.live import channel_for_talk
from tests.nodejs import run_web_module

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]

_CHANNELS = """
const [scripts, ids] = [process.argv[1], JSON.parse(process.argv[2])];
const { talkChannel } = await import(new URL("live.js", scripts));
console.log(JSON.stringify(await Promise.all(ids.map((id) => talkChannel({ id })))));
"""

# Ids a segment may be, ids too long or of other characters, and ids with a dash at an end
# (no AppSync channel segment: hashed)
IDS = ["flight-of-the-gopher", "T1", "a" * 50, "a" * 51, "talk.2026", "keynote-", "x", "ü-1"]


def test_the_pages_name_a_talk_s_channel_as_the_projector_publishes_on_it(tmp_path: Path) -> None:
    node_out = run_web_module(tmp_path / "js", _CHANNELS, json.dumps(IDS))
    assert json.loads(node_out) == [channel_for_talk(talk_id) for talk_id in IDS]
    assert channel_for_talk("keynote-") != "/talkrate/talks/keynote-"
