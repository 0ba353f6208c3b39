"""What the simulated crowd does, planned in advance from a seed (pure: no network).

Each talk has a "true quality" so averages differ. Talks are grouped into slots (by start time
when the programme has times, else a few at a time); when a slot ends its attendees rate in a
burst: each delay is exponential, so the arrivals form a Poisson process whose intensity decays
from the end of the talk. Some attendees change their mind a little later, and a small share of
requests are deliberately bad. The steady mode instead draws Poisson arrivals at a fixed rate.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import groupby
from typing import Any

# Deliberately bad requests and the status each must get.
BAD_KINDS: dict[str, int] = {
    "value-out-of-range": 422,
    "value-as-text": 422,
    "unknown-talk": 404,
    "not-json": 400,
}
VOTER_ID_IN_BODY = "voter-id-in-body"  # 422 once voter tokens exist (then identity is the token)
TALKS_PER_UNTIMED_SLOT = 4


@dataclass(frozen=True)
class SimTalk:
    """A talk of the catalog with the crowd's hidden opinion of it."""

    talk_id: str
    slot: int
    quality: float  # mean rating the crowd tends to give
    popularity: float  # relative share of the slot's audience

    def draw(self, rng: random.Random) -> int:
        """One attendee's rating: around the talk's quality, 1..5."""
        return min(5, max(1, round(rng.gauss(self.quality, 0.85))))


@dataclass(frozen=True, order=True)
class Action:
    """One request to send `at` seconds after the start."""

    at: float
    sequence: int
    attendee: int = field(compare=False)
    talk_id: str = field(compare=False)
    value: int = field(compare=False)
    bad: str | None = field(default=None, compare=False)  # a BAD_KINDS key, or None
    change: bool = field(default=False, compare=False)  # a changed mind


@dataclass(frozen=True)
class Crowd:
    """How the attendees behave."""

    attendees: int
    attend: float = 0.8  # chance an attendee is in some talk of a slot
    rate: float = 0.75  # chance they rate the talk they saw
    change_mind: float = 0.1  # chance they rate it again later
    bad_share: float = 0.02  # share of deliberately bad requests
    voter_id_is_bad: bool = False  # voter tokens exist: a voterId in the body is refused


def slots_of(talks: Sequence[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The programme in slots: talks starting together, in time order; untimed talks a few at
    a time after them."""
    timed = sorted((t for t in talks if t.get("startsAt")), key=lambda t: str(t["startsAt"]))
    untimed = [t for t in talks if not t.get("startsAt")]
    slots = [list(group) for _, group in groupby(timed, key=lambda t: str(t["startsAt"]))]
    for first in range(0, len(untimed), TALKS_PER_UNTIMED_SLOT):
        slots.append(untimed[first : first + TALKS_PER_UNTIMED_SLOT])
    return slots


def cast(talks: Sequence[dict[str, Any]], rng: random.Random) -> list[SimTalk]:
    """Give each talk a slot, a true quality and a popularity."""
    cast_talks = []
    for slot, members in enumerate(slots_of(talks)):
        for talk in members:
            cast_talks.append(
                SimTalk(
                    talk_id=str(talk["id"]),
                    slot=slot,
                    quality=rng.uniform(1.8, 4.7),
                    popularity=rng.uniform(0.3, 1.0),
                )
            )
    return cast_talks


def _changed(value: int, rng: random.Random) -> int:
    return min(5, max(1, value + rng.choice((-2, -1, 1, 1, 2)))) if value else value


def _bad_kinds(crowd: Crowd) -> list[str]:
    return [*BAD_KINDS, *([VOTER_ID_IN_BODY] if crowd.voter_id_is_bad else [])]


def plan_conference(
    talks: Sequence[SimTalk], crowd: Crowd, slot_seconds: float, rng: random.Random
) -> list[Action]:
    """Ratings in bursts after each slot ends, changed minds, and a share of bad requests."""
    by_slot: dict[int, list[SimTalk]] = {}
    for talk in talks:
        by_slot.setdefault(talk.slot, []).append(talk)
    burst = slot_seconds / 3  # mean delay after the end of a talk
    actions: list[Action] = []
    for slot, members in sorted(by_slot.items()):
        ends = (slot + 1) * slot_seconds
        weights = [t.popularity for t in members]
        for attendee in range(crowd.attendees):
            if rng.random() >= crowd.attend:
                continue
            seen = rng.choices(members, weights)[0]
            if rng.random() >= crowd.rate:
                continue
            at = ends + rng.expovariate(1 / burst)
            value = seen.draw(rng)
            actions.append(Action(at, len(actions), attendee, seen.talk_id, value))
            if rng.random() < crowd.change_mind:
                later = at + rng.expovariate(1 / burst)
                actions.append(
                    Action(
                        later,
                        len(actions),
                        attendee,
                        seen.talk_id,
                        _changed(value, rng),
                        change=True,
                    )
                )
    return _with_bad_requests(actions, talks, crowd, rng)


def plan_steady(
    talks: Sequence[SimTalk], crowd: Crowd, rate: float, duration: float, rng: random.Random
) -> list[Action]:
    """Poisson arrivals at `rate` per second for `duration` seconds: any attendee, any talk
    (weighted by popularity); an attendee who rates a talk again has changed their mind."""
    weights = [t.popularity for t in talks]
    actions: list[Action] = []
    rated: set[tuple[int, str]] = set()
    at = rng.expovariate(rate)
    while at < duration:
        attendee = rng.randrange(crowd.attendees)
        talk = rng.choices(talks, weights)[0]
        again = (attendee, talk.talk_id) in rated
        rated.add((attendee, talk.talk_id))
        actions.append(
            Action(at, len(actions), attendee, talk.talk_id, talk.draw(rng), change=again)
        )
        at += rng.expovariate(rate)
    return _with_bad_requests(actions, talks, crowd, rng, replace=True)


def _with_bad_requests(
    actions: list[Action],
    talks: Sequence[SimTalk],
    crowd: Crowd,
    rng: random.Random,
    replace: bool = False,
) -> list[Action]:
    """Mix in bad requests: added at random moments (or replacing some, to keep a steady rate)."""
    if not actions or crowd.bad_share <= 0:
        return sorted(actions)
    kinds = _bad_kinds(crowd)
    count = max(1, math.floor(len(actions) * crowd.bad_share))
    span = max(a.at for a in actions)
    mixed = list(actions)
    for n in range(count):
        kind = kinds[n % len(kinds)]
        talk = rng.choice(talks).talk_id
        attendee = rng.randrange(crowd.attendees)
        if replace:
            slot = rng.randrange(len(mixed))
            old = mixed[slot]
            mixed[slot] = Action(old.at, old.sequence, attendee, talk, 0, bad=kind)
        else:
            mixed.append(Action(rng.uniform(0, span), len(mixed), attendee, talk, 0, bad=kind))
    return sorted(mixed)
