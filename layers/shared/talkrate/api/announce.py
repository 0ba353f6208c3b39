"""Telling the open pages of an organiser's change to the catalog, once it is saved: the talk's
document (None once removed) on its live channel and the leaderboard's (talkrate.live's
`catalog` message). Imported at the first organiser's write: the attendees' routes never load
the announcer."""

from __future__ import annotations

from typing import Any

from talkrate.announcer import announce_on_live_channel


def announce_change(talk_id: str, talk: dict[str, Any] | None, revision: int | None = None) -> None:
    """Announce the talk as the catalog has it now (`talk`: its document, None when removed,
    with `revision`, the one the removed talk had), within the announcer's bound for a write;
    never raises. The write has succeeded: a failed or slow announcement never costs the
    organiser's answer, and what the channel did not take is sent again in the background
    (talkrate.unsent_changes)."""
    announce_on_live_channel(
        "catalog change", lambda announcer: announcer.announce_change(talk_id, talk, revision)
    )
