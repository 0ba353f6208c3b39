"""The talk catalog and the leaderboard: what attendees browse and organisers maintain."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

from talkrate.errors import (
    BackendUnavailable,
    ReadModelUnavailable,
    TalkChanged,
    TalkConflict,
    TalkNotFound,
)
from talkrate.leaderboard import ranked as places
from talkrate.observability import logger
from talkrate.read_model import not_built, unbuilt_zeros_of
from talkrate.values import Histogram, KeptAnswer, Precondition, RatingSummary, Talk

if TYPE_CHECKING:
    from talkrate.models import NewTalk, TalkFields  # only the organisers' writes load pydantic
    from talkrate.ports import Catalog, EventStore, Ratings, RebuildRequests  # interfaces only


class RatedTalk(NamedTuple):
    """A talk with its rating summary (None when the read model could not be reached);
    `unreadable` when its own could not be read while others' were (its shard of a Redis
    Cluster lost)."""

    talk: Talk
    summary: RatingSummary | None
    unreadable: bool = False


class TalkPage(NamedTuple):
    """One page of a catalog search; `rebuilding` when its talks are without their summaries
    because the read model is being rebuilt (Redis lost it), `unavailable` because it cannot be
    read (Redis unreachable), or some of them cannot (each RatedTalk `unreadable`)."""

    talks: list[RatedTalk]
    total: int
    rebuilding: bool = False
    unavailable: bool = False


class Ranked(NamedTuple):
    """A place on the leaderboard."""

    rank: int
    talk: Talk
    score: float
    summary: RatingSummary


class Unreadable(NamedTuple):
    """A place on the leaderboard whose talk's counts could not be read (its shard of a Redis
    Cluster lost): its rank is known (the board's scores are kept apart), its counts are not."""

    rank: int
    talk: Talk


class Leaderboard(NamedTuple):
    """The best talks, best first; none and `rebuilding` while the read model is being rebuilt
    (Redis lost it: an empty board would read as "nobody rated yet"). `unreadable`: the places
    of the page whose counts could not be read, left out of `ranked` (which keeps its ranks)."""

    ranked: list[Ranked]
    rebuilding: bool = False
    unreadable: list[Unreadable] = []  # noqa: RUF012 (a NamedTuple's default, never changed)


class Summaries(NamedTuple):
    """Talks' rating summaries by id: none when the read model is (`unavailable`) unreachable,
    or (`rebuilding`) not built; some, and the `unreadable` talks, when a shard of a Redis
    Cluster is lost."""

    of: dict[str, RatingSummary]
    rebuilding: bool = False
    unavailable: bool = False
    unreadable: frozenset[str] = frozenset()


def _summaries(ratings: Ratings, talk_ids: list[str], rebuilds: RebuildRequests) -> Summaries:
    try:
        readable = ratings.readable_histograms(talk_ids)
        if unbuilt_zeros_of(ratings, readable.of, rebuilds):
            return Summaries({}, rebuilding=True)
    except BackendUnavailable:
        logger.warning("read model unreachable: talks listed without their ratings")
        return Summaries({}, unavailable=True)
    return Summaries(
        {t: RatingSummary.of(h) for t, h in readable.of.items()},
        unreadable=frozenset(readable.unreadable),
    )


def find_talks(
    catalog: Catalog,
    ratings: Ratings,
    rebuilds: RebuildRequests,
    query: str | None,
    track: str | None,
    limit: int,
    offset: int,
) -> TalkPage:
    """A page of the catalog, each talk with its count and average.

    Without them while the read model is unreachable or not built: a page's talks counted from
    the event store would cost a read of their every rating, and the programme (every page of
    it, on every phone that opens it) is read far more often than a talk."""
    talks, total = catalog.search(query, track, limit, offset)
    summaries = _summaries(ratings, [t.id for t in talks], rebuilds)
    return TalkPage(
        [RatedTalk(t, summaries.of.get(t.id), t.id in summaries.unreadable) for t in talks],
        total,
        summaries.rebuilding,
        summaries.unavailable or bool(summaries.unreadable),
    )


def talk_details(
    catalog: Catalog,
    ratings: Ratings,
    event_store: EventStore,
    rebuilds: RebuildRequests,
    talk_id: str,
) -> RatedTalk:
    """One talk with its rating summary: from the event store while the read model is not built
    (as GET /ratings answers it then), without one while it is unreachable."""
    talk = catalog.get(talk_id)
    if talk is None:
        raise TalkNotFound(talk_id)
    summaries = _summaries(ratings, [talk_id], rebuilds)
    if summaries.rebuilding:
        return RatedTalk(talk, RatingSummary.of(event_store.histogram(talk_id)))
    return RatedTalk(talk, summaries.of.get(talk_id))


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


def add_talk_once(
    catalog: Catalog,
    ratings: Ratings,
    new: NewTalk,
    key: str,
    answer: Callable[[Talk], KeptAnswer],
    kept_seconds: int,
) -> tuple[KeptAnswer, Talk | None]:
    """Add a talk under a new id with an Idempotency-Key (`key`, with its scope): the answer,
    and the talk when it was added now. A repeat of the key's first request within
    `kept_seconds` (its answer lost on the way) is given that request's answer and adds nothing
    (None); IdempotencyKeyReused when the key came with another talk, TalkConflict when the id
    is taken."""
    saved: list[Talk] = []

    def answered(talk: Talk) -> KeptAnswer:
        saved.append(talk)
        return answer(talk)

    request = new.request()
    given, added = catalog.create_once(new.talk(new.id), key, request, answered, kept_seconds)
    if not added:
        return given, None
    _ranked_again(ratings, new.id)
    return given, saved[0]


def replace_talk(
    catalog: Catalog,
    ratings: Ratings,
    talk_id: str,
    fields: TalkFields,
    precondition: Precondition | None = None,
) -> tuple[bool, Talk]:
    """Create or replace the talk under this id: whether it was created, and the talk saved.
    Its ratings paused or resumed as `fields` say, or (not said) kept as they were.

    With a precondition (If-Match, If-None-Match) the talk is saved only when it holds for the
    talk as it is now; TalkChanged otherwise, nothing saved.
    """
    talk = fields.talk(talk_id)
    saved = catalog.save(talk, precondition)
    if saved.created:
        _ranked_again(ratings, talk_id)
    return saved.created, talk._replace(
        revision=saved.revision, ratings_paused=saved.ratings_paused
    )


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


def _cut_among_ties(
    catalog: Catalog,
    ratings: Ratings,
    talks: dict[str, Talk],
    found: list[tuple[str, float]],
    limit: int,
    among: list[str] | None,
) -> list[tuple[str, float]]:
    """The talks read above the score at the cut (`found`, at least `limit` of them), then
    that score's talks of the catalog in the board's order (the lower id first), as many as the
    page still shows; `talks` gains their titles.

    The tied talks come from one read of that score; their titles in growing slices (a
    removed talk skipped), so a score shared by hundreds of talks costs about a page's titles."""
    cut = found[limit - 1][1]
    above = [(t, s) for t, s in found if s > cut]
    try:
        read = ratings.tied(cut, among)
    except BackendUnavailable as error:
        raise ReadModelUnavailable(str(error)) from error
    # (those read at the cut kept, should their score have moved between the two reads)
    tied = sorted({t for t, s in found if s == cut}.union(read))
    shown: list[tuple[str, float]] = []
    needed, start = limit - len(above), 0
    step = needed + 10
    while len(shown) < needed and start < len(tied):
        chunk = tied[start : start + step]
        unknown = [t for t in chunk if t not in talks]
        if unknown:
            talks.update(catalog.titles(unknown))
        shown += [(t, cut) for t in chunk if t in talks]
        start, step = start + step, step * 4
    return above + shown


def leaderboard(
    catalog: Catalog, ratings: Ratings, rebuilds: RebuildRequests, limit: int, track: str | None
) -> Leaderboard:
    """The best talks by Bayesian average, with their count and average; by track if given.
    Ranked as `talkrate.leaderboard.ranked` ranks: tied talks share a rank, the lower id first.

    While the read model is not built, none, and `rebuilding`: the board counted from the event
    store would be a read of every rating, at every read of a board pages poll. While it cannot
    be read, ReadModelUnavailable: an empty board would say what is not so."""
    among = catalog.ids_in_track(track) if track is not None else None
    # Removed talks come back to the read model's board (a rating in flight at the removal, a
    # rebuild from the event store, which keeps their events): ask for a few more than
    # needed, and further down the board while removed talks still fill the page.
    wanted = limit + 10 if among is None else limit
    while True:
        try:
            ranked = ratings.leaderboard(wanted, among)
        except BackendUnavailable as error:
            raise ReadModelUnavailable(str(error)) from error
        talks = catalog.titles([talk_id for talk_id, _ in ranked])
        found = [(t, s) for t, s in ranked if t in talks]
        if len(ranked) < wanted or len(found) >= limit:  # the whole board read, or enough
            break
        wanted *= 4
    # Redis orders a tie by the greater id first: when the last place read still ties with the
    # place at the cut, that score's talks (all of them, read in one call) are ordered by the
    # board's own rule; titles are looked up only for as many as the page can still show.
    if len(ranked) == wanted and ranked[-1][1] == found[limit - 1][1]:
        found = _cut_among_ties(catalog, ratings, talks, found, limit, among)
    ranked = [(t, s) for _, t, s in places(found)][:limit]
    if not ranked and not_built(ratings, rebuilds):  # nobody rated yet, or the board lost
        return Leaderboard([], rebuilding=True)
    summaries = _summaries(ratings, [t for t, _ in ranked], rebuilds)
    if summaries.rebuilding:  # a ranked talk without ratings: a shard's share lost
        return Leaderboard([], rebuilding=True)
    if summaries.unavailable:  # (Redis went away between the two reads)
        raise ReadModelUnavailable("the read model stopped answering")
    # A place whose counts cannot be read (its shard lost; the board's own key answered) keeps
    # its rank, and is said apart: the ranks of the others do not close up over it.
    return Leaderboard(
        [
            Ranked(
                rank, talks[t], score, summaries.of.get(t) or RatingSummary.of(Histogram.empty())
            )
            for rank, t, score in places(ranked)
            if t not in summaries.unreadable
        ],
        unreadable=[
            Unreadable(rank, talks[t]) for rank, t, _ in places(ranked) if t in summaries.unreadable
        ],
    )
