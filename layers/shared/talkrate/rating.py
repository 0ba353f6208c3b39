"""Rating a talk and reading a talk's ratings: the API's service logic."""

from __future__ import annotations

import ipaddress
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal, NamedTuple

from talkrate.errors import (
    BackendUnavailable,
    ForgottenUnknown,
    ForgottenVoter,
    PublishUnconfirmed,
    RateLimited,
    RatingNotConfirmed,
    RatingNotStored,
    RatingsPaused,
    RatingWindowClosed,
    TalkNotFound,
)
from talkrate.events import Rating
from talkrate.observability import logger
from talkrate.read_model import unbuilt_zeros
from talkrate.requests import RatingBody
from talkrate.values import Admission, Limit, RatingWindow, TalkRatings, rfc3339
from talkrate.voters import forgotten_id

if TYPE_CHECKING:  # interfaces only: the API's init defines none of them
    from talkrate.ports import (
        AcceptedRatings,
        EventStore,
        ForgottenVoters,
        OutboxStatus,
        ProjectedEvents,
        RatingOutbox,
        RatingPublisher,
        RatingsReadModel,
        RebuildRequests,
        RequestLimiter,
        StatsCalculator,
        TalkCatalog,
    )


class Submission(NamedTuple):
    """An accepted rating: on the stream (`accepted`) or kept in the outbox for it (`queued`)."""

    event: Rating
    status: Literal["accepted", "queued"]


class Rater(NamedTuple):
    """Who sends a rating: the voter of a verified token (None without one), and from where."""

    voter_id: str | None
    address: str | None


class RatingRules(NamedTuple):
    """The grace after a talk's end, and the per-minute limits (0: no limit)."""

    grace: timedelta
    per_voter: int
    per_address: int

    def limits(self, rater: Rater) -> list[Limit]:
        """The limits a rating from `rater` counts against."""
        limits = []
        if rater.voter_id is not None:
            limits.append(Limit("voter", rater.voter_id, self.per_voter))
        if rater.address:
            limits.append(Limit("address", address_subject(rater.address), self.per_address))
        return limits


# The IPv6 prefix an address's limits count as one address (see address_subject).
ADDRESS_PREFIX_V6 = 48


def address_subject(address: str) -> str:
    """What an address's limits count: an IPv6 address by its /48, an IPv4-mapped one as its
    IPv4 address, any other as it is. A phone or a home router holds a whole /64 and may take
    any address in it (privacy addresses change on their own), and a site, or anyone who asks a
    tunnel broker, holds a /48 of 65,536 of them: counted by anything smaller, one such client
    minted voter passes (each a vote) 65,536 times an IPv4 address's limit. A /48 is at most one
    site's (a 6to4 one, 2002:a.b.c.d::/48, is exactly one IPv4 address); the attendees who share
    one, a venue's network or a mobile operator's pool, share its limits as a hall behind one
    IPv4 address does, which the limits' defaults are sized for."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, ADDRESS_PREFIX_V6), strict=False))
    return str(parsed)


def check_window(talk_id: str, window: RatingWindow, now: datetime, grace: timedelta) -> None:
    """Raise RatingWindowClosed unless the talk's times take ratings at `now`, RatingsPaused
    when they do but the organisers paused its ratings (a closed window is the lasting answer:
    resuming would not open it)."""
    closes = window.closes_at(grace)
    if window.is_open(now, grace):
        if window.paused:
            raise RatingsPaused(talk_id, rfc3339(closes) if closes else None)
        return
    raise RatingWindowClosed(
        talk_id,
        rfc3339(window.starts_at) if window.starts_at else None,
        rfc3339(closes) if closes else None,
    )


# The limits that count an address (the others count a voter).
ADDRESS_SCOPES = frozenset({"address", "voters-address"})


# What a forgotten voter's pass is answered (the page and `talkrate rate` show it).
FORGOTTEN_DETAIL = (
    "this pass's voter was forgotten at their request (their ratings are filed away under an "
    "id that does not name them): it rates and renews no more. A new pass from POST /voters is "
    "a new voter: a talk rated with it counts beside the rating filed away"
)


def admit(
    limiter: RequestLimiter,
    limits: list[Limit],
    accepted_event_id: str | None,
    voter_id: str | None = None,
    forgotten_voters: ForgottenVoters | None = None,
) -> bool:
    """Raise ForgottenVoter when `voter_id` was forgotten (`ops forget-voter`), RateLimited when
    a limit is used up: one round trip while Redis holds its marks.

    When Redis cannot say whether the voter was forgotten (unreachable, or answering without a
    built read model: its marks may be lost), `forgotten_voters` (PostgreSQL) is asked, and
    ForgottenUnknown (503) raised when it cannot say either (or is not given). When Redis
    cannot count, the container counts the request itself (`admit_here`: the same limits over
    its own requests), and True is returned: a rating not stored after all is given back there.
    """
    forgotten = None if voter_id is None else forgotten_id(voter_id)
    here = False
    try:
        admission = limiter.admit(limits, accepted_event_id, forgotten)
    except BackendUnavailable:
        if forgotten is not None:
            _refuse_if_forgotten(forgotten, forgotten_voters, "Redis is unreachable")
        admission, here = _counted_here(limiter, limits), True
    if admission.unknown and forgotten is not None:
        _refuse_if_forgotten(forgotten, forgotten_voters, "Redis holds no built read model")
        try:  # not forgotten: counted now, as any request (nothing was, above)
            admission = limiter.admit(limits, accepted_event_id)
        except BackendUnavailable:
            admission, here = _counted_here(limiter, limits), True
    if admission.barred:
        raise ForgottenVoter(FORGOTTEN_DETAIL)
    if not admission.allowed:
        # What operators need to tell a venue's shared address from one script: the API's own
        # line, since behind CloudFront the access log names the edge's address, not the viewer's.
        # An address limit names the address (or /48) it counted; a voter's, only its scope.
        full = admission.used_up
        logger.warning(
            "rate limited",
            extra={
                "scope": full.scope if full else None,
                "subject": full.subject if full and full.scope in ADDRESS_SCOPES else None,
                "retryAfter": admission.retry_after,
            },
        )
        raise RateLimited(admission.retry_after)
    return here


def _counted_here(limiter: RequestLimiter, limits: list[Limit]) -> Admission:
    logger.warning("rate limits unreachable: counted by this container alone", exc_info=True)
    return limiter.admit_here(limits)


def _refuse_if_forgotten(
    pseudonym: str, forgotten_voters: ForgottenVoters | None, why_asked: str
) -> None:
    """Ask PostgreSQL what Redis could not tell: ForgottenVoter when the voter was forgotten,
    ForgottenUnknown when it cannot say either (a forgotten voter is never let through
    unchecked)."""
    if forgotten_voters is None:
        raise ForgottenUnknown(f"{why_asked}, and no event store was given to ask")
    try:
        forgotten = forgotten_voters.was_forgotten(pseudonym)
    except BackendUnavailable as error:
        logger.warning(
            f"{why_asked} and the event store is unreachable: a voter token's request refused "
            "(whether its voter was forgotten is not known)",
            exc_info=True,
        )
        raise ForgottenUnknown(f"{why_asked}, and the event store is unreachable") from error
    if forgotten:
        raise ForgottenVoter(FORGOTTEN_DETAIL)


def submit_rating(
    request: RatingBody,
    rater: Rater,
    rules: RatingRules,
    catalog: TalkCatalog,
    publisher: RatingPublisher,
    outbox: RatingOutbox,
    limiter: RequestLimiter,
    now: datetime,
    event_id: str | None = None,
    forgotten_voters: ForgottenVoters | None = None,
) -> Submission:
    """Accept a rating for a known talk in its window: publish it, or keep it in the outbox when
    Kafka is down. `event_id` (with the `now` it was chosen at) is a retry's: its first attempt's.
    `forgotten_voters` is asked whether a voter was forgotten only when Redis cannot say.

    Raises TalkNotFound for an unknown talk, RatingWindowClosed outside the talk's window,
    RatingsPaused while the organisers paused its ratings (the check is here, at the door, not
    in the projector: a rating accepted before the pause still counts, once),
    RateLimited over a limit (nothing counted), ForgottenVoter for a forgotten voter's token,
    ForgottenUnknown when neither Redis nor PostgreSQL can say whether it is one, and
    RatingNotStored only when neither Kafka nor the outbox took the rating, RatingNotConfirmed
    when the outbox did not and Kafka may have (sent, not acknowledged in time).
    """
    window = catalog.rating_window(request.talk_id)
    if window is None:
        raise TalkNotFound(request.talk_id)
    check_window(request.talk_id, window, now, rules.grace)
    event = Rating.new(request.talk_id, request.value, rater.voter_id, now, event_id)
    event_id = event.event_id
    # One round trip: a forgotten voter's mark, the limits, and the accepted marker GET
    # /ratings/{eventId} reads.
    limits = rules.limits(rater)
    counted_here = admit(limiter, limits, event_id, rater.voter_id, forgotten_voters)
    try:
        publisher.publish(event)
    except BackendUnavailable as stream_error:
        unconfirmed = isinstance(stream_error, PublishUnconfirmed)
        logger.warning(
            "stream unavailable, keeping the rating in the outbox",
            extra={"eventId": event_id, "error": str(stream_error)},
        )
    else:
        return Submission(event, "accepted")
    try:
        outbox.enqueue(event)
    except BackendUnavailable as outbox_error:
        # Not known to be taken: the attendee's retry must not find the limits used up by it
        # (nor its status claim it accepted; one the broker did take shows once projected).
        try:
            if counted_here:
                limiter.give_back_here(limits)
            else:
                limiter.give_back(limits, event_id)
        except BackendUnavailable:
            logger.warning("could not give the limits back", extra={"eventId": event_id})
        if unconfirmed:
            raise RatingNotConfirmed(event_id) from outbox_error
        raise RatingNotStored("neither the stream nor the outbox took the rating") from outbox_error
    return Submission(event, "queued")


def read_ratings(
    talk_id: str,
    catalog: TalkCatalog,
    read_model: RatingsReadModel,
    event_store: EventStore,
    calculator: StatsCalculator,
    rebuilds: RebuildRequests,
) -> TalkRatings:
    """A talk's histogram with its statistics (left out when unavailable).

    The histogram comes from the read model, or from the event store when the read model is
    unreachable or not built (Redis lost its data: its zeros are no results; a rebuild is asked
    for); `source` says which, and `rebuilding` or `unavailable` why.
    """
    if not catalog.exists(talk_id):
        raise TalkNotFound(talk_id)
    unavailable = False
    try:
        histogram = read_model.histogram(talk_id)
        from_read_model = not unbuilt_zeros(read_model, [histogram], rebuilds)
    except BackendUnavailable:
        logger.warning("read model unreachable, counting from the event store")
        from_read_model = False
        unavailable = True
    if not from_read_model:
        histogram = event_store.histogram(talk_id)
    return TalkRatings(
        talk_id=talk_id,
        ratings=histogram.counts,
        stats=calculator.stats(histogram),
        source="read-model" if from_read_model else "event-store",
        revision=histogram.revision,
        rebuilding=not from_read_model and not unavailable,
        unavailable=unavailable,
    )


def rating_status(
    event_id: str,
    event_store: ProjectedEvents,
    outbox: OutboxStatus,
    read_model: AcceptedRatings,
) -> Literal["queued", "accepted", "projected"] | None:
    """Where a rating is: in the outbox, on Kafka, or counted (stored, and its batch applied to
    the histograms: a read shows it); None when unknown.

    Raises BackendUnavailable when the answer depends on a backend that cannot be reached.
    """
    position = event_store.projected_at(event_id)
    if position is not None:
        topic, partition, offset = position
        # Stored, and about to be counted: the read model is written right after the store.
        return "projected" if read_model.has_applied(f"{topic}-{partition}", offset) else "accepted"
    in_outbox = outbox.status(event_id)
    if in_outbox == "queued":
        return "queued"
    if in_outbox == "published" or read_model.was_accepted(event_id):
        return "accepted"
    return None
