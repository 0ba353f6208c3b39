"""Room clashes: two talks of one room at once, as the admin commands warn of them."""

from __future__ import annotations

from datetime import UTC
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from talkrate_cli.clashes import room_clashes, room_key
from talkrate_cli.output import clash_line

pytestmark = pytest.mark.unit


def talk(talk_id: str, room: str | None, starts: str | None, ends: str | None) -> dict[str, Any]:
    """A talk of 2026-12-02 (times as HH:MM in UTC, or None)."""
    return {
        "id": talk_id,
        "title": f"Title of {talk_id}",
        "room": room,
        "startsAt": f"2026-12-02T{starts}:00Z" if starts else None,
        "endsAt": f"2026-12-02T{ends}:00Z" if ends else None,
    }


def pairs(talks: list[dict[str, Any]], changed: list[str]) -> list[tuple[str, str]]:
    return [(c.first["id"], c.second["id"]) for c in room_clashes(talks, changed)]


@pytest.mark.parametrize(
    ("second", "clash"),
    [
        (("10:30", "11:15"), True),  # starts before the first ends
        (("09:00", "10:01"), True),  # ends a minute into the first
        (("10:15", "10:30"), True),  # inside it
        (("09:00", "12:00"), True),  # around it
        (("10:00", "10:45"), True),  # the same times
        (("10:45", "11:30"), False),  # starts as the first ends
        (("09:15", "10:00"), False),  # ends as the first starts
        (("11:00", "12:00"), False),  # later
    ],
)
def test_two_talks_of_a_room_clash_only_when_their_times_overlap(
    second: tuple[str, str], clash: bool
) -> None:
    # Given a talk 10:00-10:45 and another in the same room
    talks = [talk("a", "Salle Ève", "10:00", "10:45"), talk("b", "Salle Ève", *second)]
    # Then they clash exactly when one starts before the other ends
    assert pairs(talks, ["b"]) == ([("b", "a")] if clash else [])


@pytest.mark.parametrize(
    ("room", "same"),
    [
        ("salle ève", True),
        ("  SALLE ÈVE ", True),
        ("Salle   Ève", True),
        ("Salle E\N{COMBINING GRAVE ACCENT}ve", True),  # the accent encoded apart
        ("Salle Eve", False),
        ("Salle Ève 2", False),
    ],
)
def test_rooms_are_compared_as_a_person_reads_them(room: str, same: bool) -> None:
    assert (room_key(room) == room_key("Salle Ève")) is same
    talks = [talk("a", "Salle Ève", "10:00", "10:45"), talk("b", room, "10:30", "11:15")]
    assert bool(pairs(talks, ["b"])) is same


@pytest.mark.parametrize(
    "other",
    [
        talk("b", None, "10:30", "11:15"),
        talk("b", "", "10:30", "11:15"),
        talk("b", "   ", "10:30", "11:15"),
        talk("b", "Salle Ève", None, None),
        talk("b", "Salle Ève", "10:30", None),
        talk("b", "Salle Ève", None, "11:15"),
        talk("b", "Hall A", "10:30", "11:15"),
    ],
    ids=["no room", "empty room", "blank room", "no times", "no end", "no start", "other room"],
)
def test_a_talk_without_a_room_or_without_times_never_clashes(other: dict[str, Any]) -> None:
    talks = [talk("a", "Salle Ève", "10:00", "10:45"), other]
    assert pairs(talks, ["a", "b"]) == []


def test_each_clash_is_said_once_and_only_those_of_a_changed_talk() -> None:
    # Given three talks of one room at once, and two others clashing among themselves
    talks = [
        talk("a", "Salle Ève", "10:00", "11:00"),
        talk("b", "salle ève", "10:30", "11:30"),
        talk("c", "Salle Ève", "10:50", "12:00"),
        talk("x", "Hall A", "09:00", "10:00"),
        talk("y", "Hall A", "09:30", "10:30"),
    ]
    # When the clashes of "a" and "b" are asked for
    found = room_clashes(talks, ["a", "b"])
    # Then each pair involving one of them is said once (a-b not again as b-a), a changed talk
    # first, in the order of the overlaps, with the times of the overlap; x-y is not theirs
    assert [(c.first["id"], c.second["id"]) for c in found] == [("a", "b"), ("a", "c"), ("b", "c")]
    assert [(c.starts.strftime("%H:%M"), c.ends.strftime("%H:%M")) for c in found] == [
        ("10:30", "11:00"),
        ("10:50", "11:00"),
        ("10:50", "11:30"),
    ]
    # And a talk changed alone (one clash with a talk it does not overlap any more) says its own
    assert pairs(talks, ["c"]) == [("c", "a"), ("c", "b")]
    assert pairs(talks, ["x"]) == [("x", "y")]


def test_times_in_other_zones_are_compared_as_instants() -> None:
    # 11:30+01:00 is 10:30Z: inside a talk of 10:00-10:45Z
    first = talk("a", "Hall A", "10:00", "10:45")
    second = {**talk("b", "Hall A", None, None)}
    second |= {"startsAt": "2026-12-02T11:30:00+01:00", "endsAt": "2026-12-02T12:15:00+01:00"}
    assert pairs([first, second], ["b"]) == [("b", "a")]


def test_a_clash_is_said_with_both_talks_the_room_and_the_times_of_this_machine() -> None:
    talks = [
        talk("time-series", "Salle Ève", "09:30", "10:15"),
        {**talk("svelte", " Salle  Ève ", "10:00", "10:45"), "title": "Svelte vs React"},
    ]
    [clash] = room_clashes(talks, ["svelte"])
    # In Paris (UTC+1 in December) the overlap 10:00-10:15Z is 11:00-11:15 CET
    assert clash_line(clash, ZoneInfo("Europe/Paris")) == (
        "room clash in Salle Ève, 2026-12-02 11:00\N{EN DASH}11:15 CET: "
        "svelte (Svelte vs React, 11:00\N{EN DASH}11:45) and "
        "time-series (Title of time-series, 10:30\N{EN DASH}11:15)"
    )
    # And for a script: the room, the overlap in UTC, both talks as they are
    assert clash.document() == {
        "room": "Salle Ève",
        "startsAt": "2026-12-02T10:00:00Z",
        "endsAt": "2026-12-02T10:15:00Z",
        "talks": [
            {k: talks[1][k] for k in ("id", "title", "room", "startsAt", "endsAt")},
            {k: talks[0][k] for k in ("id", "title", "room", "startsAt", "endsAt")},
        ],
    }


def test_a_talk_of_another_day_is_said_with_its_date() -> None:
    # A talk through the night overlaps one of the next morning: its own start is another day
    night = talk("night", "Hall A", None, None)
    night |= {"startsAt": "2026-12-01T22:00:00Z", "endsAt": "2026-12-02T09:30:00Z"}
    [clash] = room_clashes([night, talk("morning", "Hall A", "09:00", "10:00")], ["morning"])
    assert clash_line(clash, UTC).endswith(
        "night (Title of night, 2026-12-01 22:00\N{EN DASH}09:30)"
    )
