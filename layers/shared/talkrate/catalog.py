"""The talk catalog and the leaderboard: what attendees browse and organisers maintain."""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from talkrate.errors import BackendUnavailable, TalkChanged, TalkConflict, TalkNotFound
from talkrate.observability import logger
from talkrate.ports import Catalog, Ratings
from talkrate.values import Histogram, Precondition, RatingSummary, Talk

if TYPE_CHECKING:  # only the organisers' writes bring pydantic in
    from talkrate.models import NewTalk, TalkFields


class RatedTalk(NamedTuple):
    """A talk with its rating summary (None when the read model could not be reached)."""

    talk: Talk
    summary: RatingSummary | None


class TalkPage(NamedTuple):
    """One page of a catalog search."""

    talks: list[RatedTalk]
    total: int


class Ranked(NamedTuple):
    """A place on the leaderboard."""

    rank: int
    talk: Talk
    score: float
    summary: RatingSummary


def _summaries(ratings: Ratings, talk_ids: list[str]) -> dict[str, RatingSummary]:
    try:
        return {t: RatingSummary.of(h) for t, h in ratings.histograms(talk_ids).items()}
    except BackendUnavailable:
        logger.warning("read model unreachable: talks listed without their ratings")
        return {}


def find_talks(
    catalog: Catalog,
    ratings: Ratings,
    query: str | None,
    track: str | None,
    limit: int,
    offset: int,
) -> TalkPage:
    """A page of the catalog, each talk with its count and average."""
    talks, total = catalog.search(query, track, limit, offset)
    summaries = _summaries(ratings, [t.id for t in talks])
    return TalkPage([RatedTalk(t, summaries.get(t.id)) for t in talks], total)


def talk_details(catalog: Catalog, ratings: Ratings, talk_id: str) -> RatedTalk:
    """One talk with its rating summary."""
    talk = catalog.get(talk_id)
    if talk is None:
        raise TalkNotFound(talk_id)
    return RatedTalk(talk, _summaries(ratings, [talk_id]).get(talk_id))


def _ranked_again(ratings: Ratings, talk_id: str) -> None:
    # A talk added under the id of a removed one has that talk's histogram (like its events):
    # it is ranked with it at once. With Redis down the talk is added all the same, and ranked at
    # its next rating or rebuild.
    try:
        ratings.rank_talk(talk_id)
    except BackendUnavailable:
        logger.warning("read model unreachable: talk added without its leaderboard place")


def add_talk(catalog: Catalog, ratings: Ratings, new: NewTalk) -> Talk:
    """Add a talk under a new id; TalkConflict when the id is taken."""
    talk = new.talk(new.id)
    revision = catalog.create(talk)
    if revision is None:
        raise TalkConflict(new.id)
    _ranked_again(ratings, talk.id)
    return talk._replace(revision=revision)


def replace_talk(
    catalog: Catalog,
    ratings: Ratings,
    talk_id: str,
    fields: TalkFields,
    precondition: Precondition | None = None,
) -> tuple[bool, Talk]:
    """Create or replace the talk under this id: whether it was created, and the talk saved.

    With a precondition (If-Match, If-None-Match) the talk is saved only when it holds for the
    talk as it is now; TalkChanged otherwise, nothing saved.
    """
    talk = fields.talk(talk_id)
    created, revision = catalog.save(talk, precondition)
    if created:
        _ranked_again(ratings, talk_id)
    return created, talk._replace(revision=revision)


def remove_talk(
    catalog: Catalog, ratings: Ratings, talk_id: str, precondition: Precondition | None = None
) -> int:
    """Remove the talk from the leaderboard and the catalog; its ratings stay in the event store.
    Answers the revision the talk had: its removal comes after that save and every earlier one.

    The leaderboard goes first: with Redis down the removal is refused (BackendUnavailable, 503)
    before anything changed, rather than done halfway and answered with an error. A
    precondition is checked before that, and again, atomically, with the removal: a talk saved
    in between is kept, ranked again, and TalkChanged raised.
    """
    if precondition is not None:
        current = catalog.get(talk_id)
        if not precondition.holds(None if current is None else current.revision):
            raise TalkChanged(talk_id, None if current is None else current.revision)
    ratings.forget_talk(talk_id)
    try:
        removed = catalog.delete(talk_id, precondition)
    except TalkChanged:
        _ranked_again(ratings, talk_id)
        raise
    if removed is None:
        raise TalkNotFound(talk_id)
    return removed


def leaderboard(catalog: Catalog, ratings: Ratings, limit: int, track: str | None) -> list[Ranked]:
    """The best talks by Bayesian average, with their count and average; by track if given."""
    among = catalog.ids_in_track(track) if track is not None else None
    # Removed talks come back to the read model's board (a rating in flight at the removal, a
    # rebuild from the event store, which keeps their events): ask for a few more than
    # needed, and further down the board while removed talks still fill the page.
    wanted = limit + 10 if among is None else limit
    while True:
        ranked = ratings.leaderboard(wanted, among)
        talks = catalog.titles([talk_id for talk_id, _ in ranked])
        found = [(t, s) for t, s in ranked if t in talks]
        if len(found) >= limit or len(ranked) < wanted:
            break
        wanted *= 4
    ranked = found[:limit]
    summaries = _summaries(ratings, [t for t, _ in ranked])
    return [
        Ranked(rank, talks[t], score, summaries.get(t) or RatingSummary.of(Histogram.empty()))
        for rank, (t, score) in enumerate(ranked, start=1)
    ]
