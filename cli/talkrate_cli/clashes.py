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
    between words and case set aside, as the organisers' page does (web/js/clashes.js,
    `place`: JavaScript's toLowerCase, so lower() here rather than casefold())."""
    if not isinstance(room, str):
        return None
    words = unicodedata.normalize("NFC", room).split()
    return " ".join(words).lower() or None


def _window(talk: dict[str, Any]) -> tuple[datetime, datetime] | None:
    starts, ends = instant(talk.get("startsAt")), instant(talk.get("endsAt"))
    return (starts, ends) if starts and ends and starts < ends else None


@dataclass(frozen=True)
class Clash:
    """Talks of one room whose times overlap, each with the next or one before it (sorted by
    start): the changed ones first, then the others, each by its start; the overlaps lie
    between `starts` (the first moment two of them hold the room) and `ends` (the last)."""

    room: str
    talks: tuple[dict[str, Any], ...]
    starts: datetime
    ends: datetime

    def document(self) -> dict[str, Any]:
        """As --json lists it: the room, the span of the overlaps in UTC, and every talk, its
        times in UTC too (a file's row holds them as written: a venue's wall time with its
        offset, `2026-12-06 09:00-05:00`)."""

        def utc(text: Any) -> Any:
            moment = instant(text)
            return _utc(moment) if moment else text

        def talk(t: dict[str, Any]) -> dict[str, Any]:
            held = {k: t.get(k) for k in ("id", "title", "room")}
            return {**held, "startsAt": utc(t.get("startsAt")), "endsAt": utc(t.get("endsAt"))}

        return {
            "room": self.room,
            "startsAt": _utc(self.starts),
            "endsAt": _utc(self.ends),
            "talks": [talk(t) for t in self.talks],
        }


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


_Booking = tuple[datetime, datetime, dict[str, Any]]


def room_clashes(talks: Iterable[dict[str, Any]], changed: Iterable[str]) -> list[Clash]:
    """The clashes of the programme `talks` (each with its `id`) that hold a talk of `changed`:
    one for each run of a room's talks that overlap one another, however many (a placeholder
    room's day-long talks make one, not a line for each pair); in the order of their starts.
    Sorted by start and swept once: O(n log n) in the talks of a room."""
    changed = set(changed)
    by_room: dict[str, list[_Booking]] = {}
    for talk in talks:
        key, window = room_key(talk.get("room")), _window(talk)
        if key and window:
            by_room.setdefault(key, []).append((*window, talk))
    found: list[Clash] = []
    for booked in by_room.values():
        booked.sort(key=lambda b: (b[0], b[1], str(b[2].get("id"))))
        run: list[_Booking] = []
        reach, span = booked[0][0], None
        for starts, ends, talk in booked:
            if starts < reach:
                # It overlaps the talk of the run that ends last, up to the earlier end
                first, last = span or (starts, starts)
                span = (first, max(last, min(ends, reach)))
            else:
                _found(found, run, span, changed)
                run, span = [], None
            run.append((starts, ends, talk))
            reach = max(reach, ends)
        _found(found, run, span, changed)
    return sorted(found, key=lambda c: (c.starts, room_key(c.room) or "", str(c.talks[0]["id"])))


def _found(
    found: list[Clash],
    run: list[_Booking],
    span: tuple[datetime, datetime] | None,
    changed: set[str],
) -> None:
    """The run of overlapping talks into `found`, when two overlap and one of them changed."""
    if span is None or not any(t.get("id") in changed for _, _, t in run):
        return
    ordered = sorted((t for _, _, t in run), key=lambda t: t.get("id") not in changed)  # stable
    room = " ".join(str(ordered[0]["room"]).split())
    found.append(Clash(room=room, talks=tuple(ordered), starts=span[0], ends=span[1]))
