"""Which eventId a dead letter's redrive publishes it under, or why it publishes nothing.

The event store keeps an event once, by its eventId: a rating published under an eventId stored
for another rating counts nowhere, and one published under a second eventId beside its first
counts twice (a voterless one: a voter's latest rating of a talk counts once however many are
stored). So a letter's rating must go out under one eventId, whatever happened before: a redrive
cut off after Kafka took it, a repair changed between two redrives, a copy of the same record
(a producer's retry, set aside twice: the same own eventId and the same bytes) redriven too, a
producer that reused the letter's eventId for another rating.

Every redrive is recorded on its letter (`redrives`: the eventId and the event) and committed
before it is published (`PostgresEventStore.record_redrive`). A rating stored under one of the
eventIds of a letter's record is then told for the record's own (one of those redrives) from
another rating (stored before the letter was set aside, or published by another record's
redrive). Where neither can be told (a redrive of a release that recorded none, or one whose
record went with a database restore), the command refuses and names what to run in each case.

The API makes every eventId it takes (a request carries a talkId and a value only), so an
entry of its outbox (`rating_outbox`) under the letter's eventId is the API's record of the
letter's own rating, whatever its bytes show (`ops forget-voter` renames the voter in the
outbox and the event store, not in a record set aside later; another release writes another
form). Stored under that eventId, that rating counts already: the letter is only marked
(`_the_apis`). Not stored yet, it goes under that eventId as the outbox holds it, counted
once whichever copy is projected first; under a new eventId it would count twice, so
--new-event-id is refused. Records on Kafka the projector has not reached are not read
(`NOT_READ`).
"""

from __future__ import annotations

import json
import shlex
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from pydantic import ValidationError

from talkrate.models import (
    RatingSubmitted,
    carried_event_id,
    copies_event_id,
    record_event_id,
    redrive_event_id,
    reissued_event_id,
)
from talkrate_cli.errors import BadInput, CliError

Letter = dict[str, Any]  # a dead letter's row, as `PostgresEventStore.dead_letters` answers it
Stored = Callable[[str], "dict[str, Any] | None"]  # `PostgresEventStore.stored_rating`
Outboxed = Callable[[str], "dict[str, Any] | None"]  # `PostgresOutbox.entry`


@dataclass(frozen=True)
class Redrive:
    """A letter's rating as it is to be published."""

    event: RatingSubmitted  # under the eventId it goes out with
    letters_own: uuid.UUID | None  # the letter's own eventId, when it goes out under a new one
    # Who published the rating first, when the event store holds it already: what goes out is
    # a copy, counted nowhere (the command run again after a cut-off redrive).
    stored_already: str | None = None
    # What a person is told of the API's rating under the letter's eventId (`_the_apis`).
    api: str | None = None


@dataclass(frozen=True)
class _Recorded:
    """A redrive recorded on a letter: which letter, when, and the event it published."""

    letter_id: int
    at: str
    event: RatingSubmitted


# What the judging does not read, said wherever the operator is told an eventId is free.
NOT_READ = (
    "Not read: records on Kafka the projector has not reached; another rating sent there under "
    "that eventId by a producer other than the API is not seen (if that may be so, wait until "
    "the dashboard's projector offset lag is 0, and run the command again)."
)


def _when(at: Any) -> str:
    return str(at.astimezone(UTC).isoformat().replace("+00:00", "Z"))


def own_event_id(letter: Letter) -> uuid.UUID:
    """The eventId a letter goes out under unless its own is taken (`redrive_event_id`)."""
    return redrive_event_id(letter["topic"], letter["partition"], letter["offset"], letter["value"])


def own_event_ids(
    letter_id: int, letters: dict[int, Letter], twins: str | None
) -> dict[int, uuid.UUID]:
    """Every letter's own eventId, the one its redrive goes out under unless it is taken.

    A letter without a UUID eventId of its own, once redriven, keeps the one its first redrive
    recorded (made from its bytes, which `ops forget-voter` rewrites). One whose bytes another
    letter of its topic holds as well (`twins`) is a copy of the same record (a producer's
    retry, to count once together) or a rating of its own (the same rating sent twice): what a
    redrive of one of them recorded says which; before any, the operator does (`twins`,
    "copies" or "apart"), and the command refuses, saying both, without."""
    owns = {i: own_event_id(d) for i, d in letters.items()}
    for i, d in letters.items():
        first = next(iter(_recorded([d])), None)
        if first is not None and carried_event_id(d["value"]) is None:
            owns[i] = first.event.event_id
    letter = letters[letter_id]
    group = [letter, *_twins(letter, letters)] if _names_no_event_id(letter) else [letter]
    if twins is not None and len(group) == 1:
        raise BadInput(
            f"redrive: no other dead letter holds dead letter {letter_id}'s bytes without an "
            "eventId: drop --twins"
        )
    if len(group) > 1:
        shared = copies_event_id(letter["topic"], letter["value"])
        went = {r.event.event_id for r in _recorded(group)}
        apart = {
            record_event_id(m["topic"], m["partition"], m["offset"], m["value"]) for m in group
        }
        # Which a redrive recorded, unless `ops forget-voter` rewrote the bytes since: then the
        # operator says (under the one recorded, when the letters are copies).
        decided = "copies" if shared in went else "apart" if went & apart else twins
        if shared not in went and not went & apart and len(went) == 1:
            shared = next(iter(went))
        if twins is not None and decided != twins:
            raise BadInput(
                f"redrive: dead letter {letter_id} and dead letters "
                f"{_ids(group[1:])} hold the same bytes, and were redriven as "
                f"{decided}: drop --twins {twins}"
            )
        if decided is None:
            raise CliError(
                f"redrive: dead letter {letter_id} carries no eventId, and dead letters "
                f"{_ids(group[1:])} hold the same bytes: either they are copies of one "
                "record (its producer sent it again), to count once together, or ratings "
                "of their own, each to count. The command cannot tell which, so nothing was "
                "published for it and it stays pending. If they are copies: `talkrate ops "
                f"redrive {letter_id} --twins copies`; if each is a rating of its own: "
                f"`talkrate ops redrive {letter_id} --twins apart` (with the same --value, "
                "if any)."
            )
        if decided == "copies":
            owns.update({m["id"]: shared for m in group})
    return owns


def _names_no_event_id(letter: Letter) -> bool:
    """Whether the letter's own eventId is made from its position (it carries none)."""
    position = (letter["topic"], letter["partition"], letter["offset"], letter["value"])
    return own_event_id(letter) == record_event_id(*position)


def _twins(letter: Letter, letters: dict[int, Letter]) -> list[Letter]:
    """The other letters of its topic that hold the same bytes, carrying no eventId either."""
    topic = letter["topic"].split(" ", 1)[0]
    return [
        m
        for m in letters.values()
        if m["id"] != letter["id"]
        and m["value"] == letter["value"]
        and m["topic"].split(" ", 1)[0] == topic
        and _names_no_event_id(m)
    ]


def _ids(letters: list[Letter]) -> str:
    return ", ".join(str(m["id"]) for m in letters)


def judge(
    letter_id: int,
    event: RatingSubmitted,
    new_event_id: bool,
    letters: dict[int, Letter],
    owns: dict[int, uuid.UUID],
    stored: Stored,
    outboxed: Outboxed,
    repaired: bool,
) -> Redrive:
    """What the redrive of `letter_id` publishes: `event` (the letter's rating, repaired or as
    it is, under its own eventId) under the eventId that keeps its record counted once; or
    BadInput / CliError saying why nothing is published and what to run. `letters` are all the
    dead letters (redriven ones too), `owns` their own eventIds (`own_event_id`), `stored` the
    event store's rating of an eventId, `outboxed` the API's outbox entry of one, and `repaired`
    whether the rating comes from the operator's --value."""
    letter = letters[letter_id]
    own = event.event_id
    carried = carried_event_id(letter["value"])
    if new_event_id and carried is None:
        raise BadInput(
            f"redrive: dead letter {letter_id} has no eventId of its own: it is always "
            "redriven under one its record fixes; drop --new-event-id"
        )
    sharing = [letters[i] for i, its in owns.items() if its == own]
    family = [m for m in sharing if m["value"] == letter["value"]]  # copies of its record
    ours = _recorded(family)
    theirs = _recorded(m for m in sharing if m["value"] != letter["value"])
    new_ids: list[uuid.UUID] = []
    if carried is not None:
        # The one a redrive of a copy went under, else the one made from what the copies share;
        # and the one a release before 2026-12-05 made from each copy's position.
        new_ids = _unique(
            [
                *(r.event.event_id for r in ours if r.event.event_id != own),
                reissued_event_id(own, letter["value"]),
                *(
                    record_event_id(m["topic"], m["partition"], m["offset"], m["value"])
                    for m in family
                ),
            ]
        )
    held = {i: row for i in [own, *new_ids] if (row := stored(str(i))) is not None}
    target = own
    if new_event_id:
        target = next((i for i in new_ids if i in held), new_ids[0])
    outgoing = event.model_copy(update={"event_id": target})
    letters_own = own if new_event_id else None
    counted = _counted(letter_id, own, new_ids, held, ours, event)
    entry = outboxed(str(own))
    # The API's rating, unless the letter's record counts under a new eventId already (an
    # earlier --new-event-id redrive, published and stored): then it goes on under that one, as
    # below. One only recorded under a new eventId (its publish refused, or cut off) changes
    # nothing: under the API's eventId the letter counts once with the API's rating, and
    # following the recorded one would count it twice.
    moved = counted is not None and counted[0] != own
    if entry is not None and not moved:
        return _the_apis(letter_id, letter, event, entry, held.get(own), new_event_id, repaired)
    if counted is not None:
        where, row, who = counted
        if where == target and _same(row, outgoing):
            return Redrive(outgoing, letters_own, stored_already=who)
        raise CliError(_counts_already(letter_id, own, where, row, who))
    again = " (with the same --value)" if repaired else ""
    taken = _taken(letter_id, own, held.get(own), ours, theirs, family, again)
    if new_event_id:
        if taken is None:
            raise BadInput(
                f"redrive: dead letter {letter_id}'s eventId {own} is not stored for another "
                "rating, nor did another letter's redrive go out under it: under it the letter "
                "counts once, however often it is redriven (under a second one it could count "
                f"twice); drop --new-event-id. {NOT_READ}"
            )
        return Redrive(outgoing, letters_own)
    if taken is None:
        return Redrive(outgoing, None)
    certain, why = taken
    if certain:
        raise CliError(why)
    row = held[own]
    raise CliError(
        f"redrive: dead letter {letter_id}'s eventId {own} is stored already for a rating other "
        f"than this one ({_named(row, own)}), after this letter was set aside and by no redrive "
        "recorded on it or on a copy of its record: either its producer reused the eventId for "
        "another rating, or it is an earlier redrive of this letter (or of a copy of its "
        "record) that left no record (by a release before 2026-12-05, or lost with a database "
        "restore). The command cannot tell which, so nothing was published for it and it stays "
        "pending. If its producer reused the eventId, redrive it under a new one: `talkrate ops "
        f"redrive {letter_id} --new-event-id`{again}. If that rating is an earlier redrive of "
        f"this letter, it counts already: {_marking(letter_id, row, own, own)}."
    )


def _the_apis(
    letter_id: int,
    letter: Letter,
    event: RatingSubmitted,
    entry: dict[str, Any],
    row: dict[str, Any] | None,
    new_event_id: bool,
    repaired: bool,
) -> Redrive:
    """The letter whose eventId the API's outbox holds: a record of that rating (the API makes
    every eventId it takes), however its bytes differ (a voter renamed by `ops forget-voter`,
    another release's form, an operator's repair). Stored, it counts already: the stored
    rating goes again, a copy counted nowhere, and the letter is marked. Not stored yet
    (waiting for the relay, or relayed and not projected), it goes under its eventId as the
    outbox holds it (the letter's own rating when the outbox's form is not read here): the
    relayed copy and this one count once, whichever is projected first. --new-event-id is
    refused: under a new eventId the API's rating would count twice."""
    own = event.event_id
    payload = bytes(entry["payload"])
    kept: RatingSubmitted | None
    try:
        kept = RatingSubmitted.from_json(payload)
    except ValidationError:
        kept = None
    if payload == bytes(letter["value"] or b""):
        where = "this letter's very bytes"
    elif kept is None:
        where = "its rating under that eventId in a form this command does not read"
    else:
        where = "its rating under that eventId"
    if entry["published_at"] is None:
        where += f", accepted {_when(entry['created_at'])} and waiting for the relay"
    else:
        where += f", relayed at {_when(entry['published_at'])}"
    if new_event_id:
        raise BadInput(
            f"redrive: dead letter {letter_id}'s eventId {own} is the API's: its outbox holds "
            f"{where}. The letter is a record of that rating (the API makes every eventId it "
            "takes), and under a new eventId it would count twice; drop --new-event-id"
        )
    whose = "the --value's" if repaired else "the letter's"
    if row is not None:
        counts = _as_event(row, own)
        return Redrive(
            counts,
            None,
            stored_already=f"the API (its outbox holds {where})",
            api=f"the rating that counts: {_rating(counts)}{_differs(whose, counts, event)}",
        )
    going = event if kept is None else kept.model_copy(update={"event_id": own})
    if kept is not None:
        how = "as its outbox holds it"
    else:
        how = "as repaired by --value" if repaired else "as the letter holds it"
    return Redrive(
        going,
        None,
        api=(
            f"the API's rating {how} (its outbox holds {where}): {_rating(going)}"
            f"{_differs(whose, going, event)}; it counts once, whichever copy is projected first"
        ),
    )


def _rating(event: RatingSubmitted) -> str:
    rating = event.model_dump(mode="json", by_alias=True, exclude_none=True)
    named = f"talk {event.talk_id!r}, value {event.value}, occurred {rating['occurredAt']}"
    return named if event.voter_id is None else f"{named}, voter {event.voter_id}"


def _differs(whose: str, going: RatingSubmitted, event: RatingSubmitted) -> str:
    """Where the letter's rating (or the operator's repair) differs from the one that counts,
    the voter's id left unsaid (`ops forget-voter` renamed it: the letter holds the old one)."""
    theirs = event.model_dump(mode="json", by_alias=True)
    counts = going.model_dump(mode="json", by_alias=True)
    fields = []
    for name, value in theirs.items():
        if value != counts[name] and name != "eventId":
            fields.append(name if name == "voterId" else f"{name} ({value}, not counted)")
    return f"; {whose} differs in {', '.join(fields)}" if fields else ""


def _counted(
    letter_id: int,
    own: uuid.UUID,
    new_ids: list[uuid.UUID],
    held: dict[uuid.UUID, dict[str, Any]],
    ours: list[_Recorded],
    event: RatingSubmitted,
) -> tuple[uuid.UUID, dict[str, Any], str] | None:
    """Where the letter's record counts already: the eventId, the stored row, and who published
    it. Under a new eventId (only `ops redrive` makes those), whatever it holds; under its own,
    a rating a redrive of one of its copies published, or this very rating."""
    for where in new_ids:
        if where in held:
            who = _who(letter_id, held[where], where, ours) or (
                "an earlier redrive of this letter or of a copy of its record with "
                "--new-event-id, recorded on none of them (by a release before 2026-12-05, or "
                "lost with a database restore)"
            )
            return where, held[where], who
    row = held.get(own)
    if row is None:
        return None
    recorded = _who(letter_id, row, own, ours)
    if recorded is not None:
        return own, row, recorded
    if _same(row, event):
        return own, row, "an earlier redrive of this very rating (or its producer)"
    return None


def _taken(
    letter_id: int,
    own: uuid.UUID,
    row: dict[str, Any] | None,
    ours: list[_Recorded],
    theirs: list[_Recorded],
    family: list[Letter],
    again: str,
) -> tuple[bool, str] | None:
    """Why the letter's own eventId cannot carry its rating, and whether that is certain (else
    the stored rating may be an earlier redrive of the letter that left no record); None when
    it can carry it."""
    lead = f"redrive: dead letter {letter_id}'s eventId {own} is stored already for another rating"
    nowhere = (
        ": published under it, this one would count nowhere, so nothing was published for it and "
        "it stays pending. Redrive it under a new eventId, made from its eventId and bytes: "
        f"`talkrate ops redrive {letter_id} --new-event-id`{again}."
    )
    if row is not None:
        named = f"{lead} ({_named(row, own)})"
        other = next((r for r in theirs if r.event.event_id == own and _same(row, r.event)), None)
        if other is not None:
            return True, (
                f"{named}, published by the redrive of dead letter {other.letter_id} at "
                f"{other.at}, another record under that eventId{nowhere}"
            )
        if all(_precedes(row, m) for m in family):
            return True, f"{named}, from a record before this letter (no redrive of it){nowhere}"
    moved = next((r for r in ours if r.event.event_id != own), None)
    if moved is not None:
        return True, (
            f"redrive: dead letter {letter_id}'s record went out under a new eventId, "
            f"{moved.event.event_id}, at the redrive of dead letter {moved.letter_id} at "
            f"{moved.at} (its own, {own}, was taken): under its own as well it could count "
            "twice, so nothing was published for it and it stays pending. Redrive it under that "
            f"one: `talkrate ops redrive {letter_id} --new-event-id`{again}."
        )
    sent = next((r for r in theirs if r.event.event_id == own), None)
    if sent is not None:
        return True, (
            f"redrive: dead letter {letter_id}'s eventId {own} is taken for another rating: "
            f"recorded for the redrive of dead letter {sent.letter_id} at {sent.at} (perhaps "
            f"not published), another record under that eventId{nowhere}"
        )
    if row is not None:
        return False, ""
    return None


def _counts_already(
    letter_id: int, own: uuid.UUID, where: uuid.UUID, row: dict[str, Any], who: str
) -> str:
    return (
        f"redrive: dead letter {letter_id}'s rating counts already, as event {where} "
        f"({_named(row, where)}), published by {who}: published again with another value or "
        "under another eventId, it would count twice or nowhere, so nothing was published for "
        f"it and it stays pending. M{_marking(letter_id, row, where, own)[1:]}."
    )


def _marking(letter_id: int, row: dict[str, Any], where: uuid.UUID, own: uuid.UUID) -> str:
    """The command that marks the letter redriven: the stored rating again, under its eventId
    (a copy, counted nowhere)."""
    rating = _as_event(row, where).model_dump(mode="json", by_alias=True, exclude_none=True)
    value = json.dumps({k: v for k, v in rating.items() if k != "eventId"})
    flag = "" if where == own else " --new-event-id"
    return (
        f"mark it redriven with `talkrate ops redrive {letter_id} --value {shlex.quote(value)}"
        f"{flag}` (that rating again under that eventId: a copy, counted nowhere)"
    )


def _who(
    letter_id: int, row: dict[str, Any], where: uuid.UUID, ours: list[_Recorded]
) -> str | None:
    """The recorded redrive (of the letter or a copy of its record) that published the rating
    stored under `where`, as a person reads it; None when none did."""
    for r in ours:
        if r.event.event_id == where and _same(row, r.event):
            if r.letter_id == letter_id:
                return f"this letter's redrive at {r.at}"
            return f"the redrive of dead letter {r.letter_id} (a copy of its record) at {r.at}"
    return None


def _recorded(letters: Iterable[Letter]) -> list[_Recorded]:
    found = []
    for letter in letters:
        for done in letter.get("redrives") or []:
            try:
                event = RatingSubmitted.from_json(json.dumps(done["value"]))
            except (ValidationError, KeyError, TypeError):
                continue
            found.append(_Recorded(letter["id"], str(done.get("at")), event))
    return found


def _as_event(row: dict[str, Any], event_id: uuid.UUID) -> RatingSubmitted:
    """The stored rating as the event it was (to the millisecond an event carries)."""
    return RatingSubmitted(
        event_id=event_id,
        talk_id=row["talk_id"],
        value=row["value"],
        occurred_at=row["occurred_at"],
        voter_id=row["voter_id"],
    )


def _same(row: dict[str, Any], event: RatingSubmitted) -> bool:
    """Whether the stored rating is this event: talk, value, time and voter."""
    return _as_event(row, event.event_id).to_json() == event.to_json()


def _precedes(row: dict[str, Any], letter: Letter) -> bool:
    """Whether the stored rating was there before the letter was set aside, so that no redrive
    of it can have published it: from an earlier offset of the letter's own topic and partition
    (a redrive's record comes after it). When it was stored is no proof: after a database
    restore, `ops replay` stores the records of one partition at a time, so a redrive's record
    in another partition than the letter's may be stored before the letter is set aside again."""
    return bool(
        (row["topic"], row["partition"]) == (letter["topic"], letter["partition"])
        and row["offset"] < letter["offset"]
    )


def _named(row: dict[str, Any], event_id: uuid.UUID) -> str:
    stored = f"stored {_when(row['recorded_at'])} from {row['topic']}-{row['partition']}"
    return f"{_rating(_as_event(row, event_id))}; {stored}@{row['offset']}"


def _unique(ids: list[uuid.UUID]) -> list[uuid.UUID]:
    return list(dict.fromkeys(ids))
