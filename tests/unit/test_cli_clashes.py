"""Room clashes: two talks of one room at once, as the admin commands warn of them."""

from __future__ import annotations

import re
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


def pairs(talks: list[dict[str, Any]], changed: list[str]) -> list[tuple[str, ...]]:
    """The ids of each clash's talks."""
    return [tuple(t["id"] for t in c.talks) for c in room_clashes(talks, changed)]


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


def test_talks_that_overlap_one_another_are_one_clash_and_only_those_of_a_changed_talk() -> None:
    # Given three talks of one room at once, two others clashing among themselves, and a
    # later pair of the first room
    talks = [
        talk("a", "Salle Ève", "10:00", "11:00"),
        talk("b", "salle ève", "10:30", "11:30"),
        talk("c", "Salle Ève", "10:50", "12:00"),
        talk("x", "Hall A", "09:00", "10:00"),
        talk("y", "Hall A", "09:30", "10:30"),
        talk("late", "Salle Ève", "14:00", "15:00"),
        talk("later", "Salle Ève", "14:30", "15:30"),
    ]
    # When the clashes of "a" and "b" are asked for
    found = room_clashes(talks, ["a", "b"])
    # Then the three are one clash, the changed talks first, from the first moment two of them
    # hold the room to the last; x-y and the afternoon's pair are not theirs
    assert [[t["id"] for t in c.talks] for c in found] == [["a", "b", "c"]]
    assert [(c.starts.strftime("%H:%M"), c.ends.strftime("%H:%M")) for c in found] == [
        ("10:30", "11:30")
    ]
    # And a talk changed alone says the clash it is in, itself first
    assert pairs(talks, ["c"]) == [("c", "a", "b")]
    assert pairs(talks, ["x"]) == [("x", "y")]
    # And two changed talks of one room, apart, are two clashes, in the order of their starts
    assert pairs(talks, ["later", "a"]) == [("a", "b", "c"), ("later", "late")]


def test_a_chain_of_overlaps_is_one_clash_over_the_span_where_two_overlap() -> None:
    # Given a talk overlapping the next, which overlaps the one after it (the first and the
    # last apart), and a talk inside a long one
    talks = [
        talk("a", "Hall A", "09:00", "10:00"),
        talk("b", "Hall A", "09:30", "11:00"),
        talk("c", "Hall A", "10:30", "12:00"),
        talk("long", "Hall B", "09:00", "18:00"),
        talk("short", "Hall B", "12:00", "12:30"),
    ]
    [chain, inside] = room_clashes(talks, ["a", "long"])
    # Then the chain is one clash from 09:30 (b starts inside a) to 11:00 (b ends inside c)
    assert [t["id"] for t in chain.talks] == ["a", "b", "c"]
    assert (chain.starts.strftime("%H:%M"), chain.ends.strftime("%H:%M")) == ("09:30", "11:00")
    # And the talk inside the long one clashes over its own times
    assert (inside.starts.strftime("%H:%M"), inside.ends.strftime("%H:%M")) == ("12:00", "12:30")


def test_a_room_full_of_talks_at_once_is_one_clash_said_in_one_line() -> None:
    # Given 2,000 talks in one room at the same hour (a placeholder room, "TBA", the file's
    # times copied down), and a talk of another room
    many = [talk(f"t{n:04}", "TBA", "09:00", "10:00") for n in range(2000)]
    other = talk("apart", "Hall A", "09:00", "10:00")
    # When an import of all of them looks for clashes
    found = room_clashes([*many, other], [t["id"] for t in [*many, other]])
    # Then it is one clash of the 2,000 (not 1,999,000 pairs), said in one line that names
    # three of them and counts the rest
    assert len(found) == 1
    assert len(found[0].talks) == 2000
    assert clash_line(found[0], UTC) == (
        "room clash in TBA, 2026-12-02 09:00\N{EN DASH}10:00 UTC: 2,000 talks overlap: "
        "t0000 (Title of t0000, 09:00\N{EN DASH}10:00), t0001 (Title of t0001, 09:00\N{EN DASH}"
        "10:00), t0002 (Title of t0002, 09:00\N{EN DASH}10:00) and 1,997 more"
    )
    # And --json lists every one of its talks
    assert len(found[0].document()["talks"]) == 2000


@pytest.mark.parametrize(
    ("count", "ending"),
    [
        (3, "a0 (…), a1 (…) and a2 (…)"),
        (4, "a0 (…), a1 (…), a2 (…) and a3 (…)"),
        (5, "a0 (…), a1 (…), a2 (…) and 2 more"),
    ],
)
def test_a_clash_of_a_few_talks_names_them_all(count: int, ending: str) -> None:
    talks = [talk(f"a{n}", "Hall A", "09:00", "10:00") for n in range(count)]
    [clash] = room_clashes(talks, ["a0"])
    line = clash_line(clash, UTC)
    line = re.sub(r" \(Title of a\d, [^)]*\)", " (…)", line)
    assert line.endswith(f": {count} talks overlap: {ending}")


def test_a_clash_past_midnight_says_the_dates_of_its_ends() -> None:
    # Given a late talk to 08:30 the next morning, and a morning talk in its room
    late = {**talk("late", "Room B", None, None)}
    late.update(startsAt="2026-12-02T23:45:00Z", endsAt="2026-12-03T08:30:00Z")
    morning = {**talk("morning", "Room B", None, None)}
    morning.update(startsAt="2026-12-03T07:00:00Z", endsAt="2026-12-03T09:00:00Z")
    [clash] = room_clashes([late, morning], ["late"])
    # Then the overlap and each talk name the date of an end on another day (the late talk read
    # 23:45-08:30, as if it ended before it began)
    assert clash_line(clash, UTC) == (
        "room clash in Room B, 2026-12-03 07:00\N{EN DASH}08:30 UTC: late (Title of late, "
        "2026-12-02 23:45\N{EN DASH}2026-12-03 08:30) and morning (Title of morning, "
        "07:00\N{EN DASH}09:00)"
    )


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


def test_a_clash_s_talks_from_a_file_are_listed_for_scripts_in_utc() -> None:
    # Given a row of a file, its venue wall time sent with the venue's offset, over a talk of
    # the programme (as the API holds it, in UTC)
    row = {**talk("row", "Room B", None, None)}
    row.update(startsAt="2026-12-06 09:00-05:00", endsAt="2026-12-06 10:00-05:00")
    held = talk("held", "Room B", None, None)
    held.update(startsAt="2026-12-06T14:30:00Z", endsAt="2026-12-06T15:30:00Z")
    [clash] = room_clashes([row, held], ["row"])
    # Then --json lists every talk's times in UTC, as it says (the row's were as written)
    assert [(t["startsAt"], t["endsAt"]) for t in clash.document()["talks"]] == [
        ("2026-12-06T14:00:00Z", "2026-12-06T15:00:00Z"),
        ("2026-12-06T14:30:00Z", "2026-12-06T15:30:00Z"),
    ]


def test_a_talk_of_another_day_is_said_with_its_date() -> None:
    # A talk through the night overlaps one of the next morning: its own start is another day
    night = talk("night", "Hall A", None, None)
    night |= {"startsAt": "2026-12-01T22:00:00Z", "endsAt": "2026-12-02T09:30:00Z"}
    [clash] = room_clashes([night, talk("morning", "Hall A", "09:00", "10:00")], ["morning"])
    assert clash_line(clash, UTC).endswith(
        "night (Title of night, 2026-12-01 22:00\N{EN DASH}2026-12-02 09:30)"
    )
