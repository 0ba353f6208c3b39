"""Domain exceptions. The API maps them to HTTP once, in its exception handlers."""


class TalkrateError(Exception):
    """Base class of every error the domain raises on purpose."""


class TalkNotFound(TalkrateError):
    """The talk id is not in the catalog."""

    def __init__(self, talk_id: str) -> None:
        super().__init__(f"No talk with id {talk_id!r}.")
        self.talk_id = talk_id


class RatingNotStored(TalkrateError):
    """Neither the event stream nor any fallback took the rating: the client should retry."""

    retry_after_seconds = 5


class RatingNotConfirmed(TalkrateError):
    """The event stream was sent the rating and did not confirm it in time, and the outbox
    could not keep it: it may be counted yet (the broker may have taken it, or take it when it
    answers again). A retry under the same Idempotency-Key, or by the same voter, counts once;
    one without either may count twice: the answer says so and names the event."""

    retry_after_seconds = 5

    def __init__(self, event_id: str) -> None:
        super().__init__(f"rating {event_id} not confirmed by the stream, not kept in the outbox")
        self.event_id = event_id


class InvalidHistogram(TalkrateError):
    """A histogram handed to the stats computation is not a valid count per value."""


class BackendUnavailable(TalkrateError):
    """A backing service did not answer; callers decide whether that is fatal."""


class PublishUnconfirmed(BackendUnavailable):
    """The event stream was handed the record and did not acknowledge it in time (or its
    connection broke, or the broker said its replicas had not all written it): it may have
    taken it. A refusal before sending (no broker reached, a paused stream, a broker's error
    answer) is a plain BackendUnavailable: nothing was taken."""


class ReadModelUnavailable(BackendUnavailable):
    """The read model (the counts) cannot be read and there is nothing honest to answer
    without it (the leaderboard): every rating is kept; its readers are told so."""

    retry_after_seconds = 5


class ReadModelUnreachable(BackendUnavailable):
    """Redis (the read model) does not answer (refused, timed out, a cluster without its
    nodes, BUSY with a long script): its counts can be neither written nor read just now. The projector says so on the
    live channel before its batch fails (talkrate.live.unavailable_message)."""


class SchemaBehind(TalkrateError):
    """The database's schema is older than this release's code (a column or table it reads is
    not there yet): deploy, or apply the schema, first."""


class RebuildNotSwapped(TalkrateError):
    """Redis did not run the rebuild's swap (it was busy, or away): nothing was replaced; the
    rebuild must run again."""


class RebuildLockLost(TalkrateError):
    """The rebuild's lock ran out before the swap: the projector may have applied batches since
    the snapshot, so nothing was replaced; the rebuild must run again."""


class IdempotencyStoreUnavailable(BackendUnavailable):
    """The idempotency records cannot be read or claimed; the request's work has not run."""


class ReadModelRebuilding(BackendUnavailable):
    """The read model is being rebuilt; the projector's batch must be retried afterwards."""


class ReadModelNotBuilt(ReadModelRebuilding):
    """Redis lost the read model (its built mark is gone) after the projector looked: the batch
    was refused, and its retry rebuilds the read model first."""


class IdempotencyKeyReused(TalkrateError):
    """An Idempotency-Key came back with a different request (another rating, another talk) than
    the one it was first used for; `what` names what it was used for ("rating", "talk")."""

    def __init__(self, key: str, what: str = "rating") -> None:
        super().__init__(key)
        self.what = what


class RequestInProgress(TalkrateError):
    """A request with the same Idempotency-Key is still being processed."""


class NotAuthenticated(TalkrateError):
    """An admin route was called without a bearer token."""


class NotAllowed(TalkrateError):
    """An admin route was called with a token that is not the admin's."""


class RatingUnknown(TalkrateError):
    """No rating with that event id is known."""

    def __init__(self, event_id: str) -> None:
        super().__init__(f"No rating with event id {event_id!r} is known.")


class TalkConflict(TalkrateError):
    """POST /talks for an id the catalog already has."""

    def __init__(self, talk_id: str) -> None:
        super().__init__(f"A talk with id {talk_id!r} exists; PUT /talks/{talk_id} replaces it.")


class TalkChanged(TalkrateError):
    """An organiser's If-Match / If-None-Match does not hold for the talk as it is now (someone
    else saved or removed it since they read it): nothing was changed."""

    def __init__(self, talk_id: str, revision: int | None) -> None:
        now = "it no longer exists" if revision is None else f'it is at revision "{revision}" now'
        super().__init__(
            f"Talk {talk_id!r} is not as the request expected ({now}): nothing was changed; "
            f"read it again (GET /talks/{talk_id}) and resend"
        )
        self.talk_id = talk_id
        self.revision = revision


class RatingWindowClosed(TalkrateError):
    """The talk does not take ratings now: before its start, or after its end plus the grace."""

    def __init__(self, talk_id: str, opens_at: str | None, closes_at: str | None) -> None:
        opens = f"from {opens_at}" if opens_at else "from its announcement"
        closes = f"until {closes_at}" if closes_at else "with no end"
        super().__init__(f"Talk {talk_id!r} takes ratings {opens} {closes}.")
        self.opens_at = opens_at
        self.closes_at = closes_at


class RatingsPaused(TalkrateError):
    """The organisers paused the talk's ratings (its times would take one): none is taken until
    they resume them. `closes_at`: when its window closes, if it does."""

    def __init__(self, talk_id: str, closes_at: str | None) -> None:
        super().__init__(
            f"The organisers paused the ratings of talk {talk_id!r}: no rating is taken until "
            "they resume them."
        )
        self.closes_at = closes_at


class RateLimited(TalkrateError):
    """Too many requests from one voter or one address: retry after `retry_after` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many requests; retry in {retry_after} s")
        self.retry_after = retry_after


class VoterTokenRequired(TalkrateError):
    """VotingPolicy is attendee and the rating came without a Voter-Token header."""


class InvalidVoterToken(TalkrateError):
    """A Voter-Token that is malformed, forged, signed with another key, or expired."""


class ForgottenVoter(InvalidVoterToken):
    """A genuine Voter-Token of a voter `talkrate ops forget-voter` filed away: whatever its
    expiry, it rates and renews no more (a changed mind under it would count beside the vote
    filed away)."""


class ForgottenUnknown(BackendUnavailable):
    """Neither Redis (unreachable, or its marks lost) nor PostgreSQL can say whether a voter
    token's voter was forgotten: its rating or renewal is refused (503, Retry-After) rather
    than let through unchecked (a forgotten voter's would count again)."""


class ExpiredVoterToken(InvalidVoterToken):
    """A genuine Voter-Token past its expiry: its voter is known (the signature holds), so a
    retry of a rating it sent in time can still be answered from that rating's key record."""

    def __init__(self, message: str, voter_id: str) -> None:
        super().__init__(message)
        self.voter_id = voter_id


class VoterKeysUpdating(TalkrateError):
    """A well-formed Voter-Token that neither key as read signed, while those keys were read too
    recently to be read again: another environment may have signed it with a key put since.
    Answered 429 with Retry-After (`retry_after`: seconds until the keys may be read again)
    rather than 401, so the client keeps its pass and sends it again, and rather than a 5xx,
    which forged or stale passes would make the 5xx alarms count; a forged one gains nothing,
    and is 401 once the keys are read again."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"the voter-token keys may be read again in {retry_after} s")
        self.retry_after = retry_after


class WrongVoterCode(TalkrateError):
    """POST /voters without the event code, or with a wrong one, while one is set."""


class VoterTokensUnavailable(TalkrateError):
    """No key to sign or check voter tokens with is configured."""


class LivePublishFailed(TalkrateError):
    """The live channel refused or did not take a publish request (never fatal to a batch)."""


class DuplicateKey(ValueError):
    """A JSON object names the same key twice (two parsers may read either value: neither is
    guessed). Raised by `unique_keys`; the API and the stats function URL refuse the body."""

    def __init__(self, key: str) -> None:
        super().__init__(f"duplicate key {key!r}")
        self.key = key


def unique_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    """`json.loads`'s object_pairs_hook: a JSON object as a dict, DuplicateKey when it names a
    key twice."""
    found = dict(pairs)
    if len(found) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise DuplicateKey(key)
            seen.add(key)
    return found
