"""Two talks in one room at once: found in the programme as a change leaves it, to warn.

A talk takes its room from its start to its end: one without both times, or without a room,
holds no room at any moment and never clashes. A talk that ends when the next one starts does
not clash with it. Rooms are compared as a person reads their names: case, the spaces around
a name, runs of spaces inside it and how its accents are encoded do not matter ("salle  ève "
is Salle Ève); the accents themselves do (Salle Eve is another room).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from talkrate_cli.programme import instant


def room_key(room: Any) -> str | None:
    """The room a name means, for comparing (None: no room): composed (NFC), spaces around and
    between words and case set aside, as the organisers' page does (web/js/pages/admin.js,
    `overlapping`: JavaScript's toLowerCase, so lower() here rather than casefold())."""
    if not isinstance(room, str):
        return None
    words = unicodedata.normalize("NFC", room).split()
    return " ".join(words).lower() or None


def _window(talk: dict[str, Any]) -> tuple[datetime, datetime] | None:
    starts, ends = instant(talk.get("startsAt")), instant(talk.get("endsAt"))
    return (starts, ends) if starts and ends and starts < ends else None


@dataclass(frozen=True)
class Clash:
    """Two talks of one room whose times overlap, from `starts` to `ends`."""

    room: str
    first: dict[str, Any]
    second: dict[str, Any]
    starts: datetime
    ends: datetime

    def document(self) -> dict[str, Any]:
        """As --json lists it: the room, the overlap in UTC, and both talks."""

        def talk(t: dict[str, Any]) -> dict[str, Any]:
            return {k: t.get(k) for k in ("id", "title", "room", "startsAt", "endsAt")}

        return {
            "room": self.room,
            "startsAt": _utc(self.starts),
            "endsAt": _utc(self.ends),
            "talks": [talk(self.first), talk(self.second)],
        }


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def room_clashes(talks: Iterable[dict[str, Any]], changed: Iterable[str]) -> list[Clash]:
    """Every clash of the programme `talks` (each with its `id`) that involves a talk of
    `changed`, each once, the changed talk first; in the order of the overlaps' starts."""
    changed = set(changed)
    by_room: dict[str, list[tuple[datetime, datetime, dict[str, Any]]]] = {}
    for talk in talks:
        key, window = room_key(talk.get("room")), _window(talk)
        if key and window:
            by_room.setdefault(key, []).append((*window, talk))
    found = []
    for booked in by_room.values():
        booked.sort(key=lambda b: (b[0], b[1], str(b[2].get("id"))))
        for at, (starts, ends, talk) in enumerate(booked):
            for other_starts, other_ends, other in booked[at + 1 :]:
                if other_starts >= ends:  # sorted by start: none after this one overlaps
                    break
                if talk.get("id") not in changed and other.get("id") not in changed:
                    continue
                first, second = (talk, other) if talk.get("id") in changed else (other, talk)
                found.append(
                    Clash(
                        room=" ".join(str(first["room"]).split()),
                        first=first,
                        second=second,
                        starts=max(starts, other_starts),
                        ends=min(ends, other_ends),
                    )
                )
    return sorted(found, key=lambda c: (c.starts, room_key(c.room) or "", str(c.first["id"])))
