"""RelayFunction: publishes, in order, the ratings the API kept in the outbox while Kafka was down."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # a type only: its module is not loaded at the cold start
    from aws_lambda_powertools.utilities.typing import LambdaContext

from talkrate import wiring
from talkrate.config import load_settings
from talkrate.errors import ReadModelRebuilding, ReadModelUnreachable, SchemaBehind, TalkrateError
from talkrate.live import API_KEY_DAYS_LEFT_METRIC, api_key_days_left
from talkrate.observability import logger, metrics, tell_rebuilt
from talkrate.rebuild import REBUILD_EVENT, rebuild_if_lost
from talkrate.relay import LostMarks, mark_forgotten_voters, relay_outbox, restore_lost_marks

# The time a run must have left to start a rebuild: 500,000 events take about 10 s at the
# relay's 384 MB; a run whose outbox took longer leaves it to the next one, a minute later.
REBUILD_SECONDS = 20.0
# The time a run keeps, beyond one publish's budget, to record what it published: a run that
# Lambda ends at its timeout rolls its marks back, and every next run would publish the same
# entries again (a broker slow to acknowledge, 0.12 s a record, made 500 outlast the minute).
RECORD_SECONDS = 2.0
# How long a run publishes, at most, while a backlog drains (batch after batch): the next
# scheduled run, a minute later, must not find this one still busy (a throttle, which
# RelayThrottlesAlarm reports).
DRAIN_SECONDS = 40.0
# How many forgotten voters' Redis marks are not known to be set, after a run's attempt.
FORGOTTEN_MARKS_PENDING = "ForgottenMarksPending"


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if event == REBUILD_EVENT:
        # The API found the read model not built (Redis lost it) and asks, asynchronously, for
        # it now rather than at the next scheduled run: only that, first (a stream that is down
        # would hold the outbox's run, and the rebuild behind it, for most of a minute).
        return {"readModel": _restore_read_model(context)}
    # The relay runs every minute: it also tells how long the pages' live API key has left,
    # first, so a run the outbox fails reports it too.
    settings = load_settings()
    if (expires := settings.live_api_key_expires) is not None:
        days = api_key_days_left(expires, time.time())
        metrics.add_metric(name=API_KEY_DAYS_LEFT_METRIC, unit="None", value=days)
    left = context.get_remaining_time_in_millis() / 1000
    budget = min(DRAIN_SECONDS, left - settings.publish_timeout_seconds - RECORD_SECONDS)
    now = time.monotonic()
    until = now + budget
    # A stream that is down is tried again every few seconds while the run can still leave a
    # rebuild its time afterwards: ratings kept during an outage go out seconds after it ends.
    retry_until = now + left - settings.publish_timeout_seconds - RECORD_SECONDS - REBUILD_SECONDS
    try:
        result = relay_outbox(
            wiring.outbox(), wiring.rating_publisher(), until=until, retry_until=retry_until
        )
        metrics.add_metric(name="OutboxPublished", unit="Count", value=result.published)
        metrics.add_metric(name="OutboxPending", unit="Count", value=result.pending)
        metrics.add_metric(
            name="OutboxOldestAge", unit="Seconds", value=round(result.oldest_pending_seconds, 1)
        )
        if result.pending:
            # Why: the stream failed, another run (an operator's) holds them, or time ran out.
            logger.warning(
                "outbox entries still pending",
                extra={
                    "pending": result.pending,
                    "oldestSeconds": result.oldest_pending_seconds,
                    "streamFailed": result.stream_failed,
                    "heldElsewhere": result.held_elsewhere,
                },
            )
    finally:
        # After the outbox, whatever became of it: neither holds ratings back.
        _mark_forgotten_voters()
        _restore_read_model(context)
    return {
        "published": result.published,
        "pending": result.pending,
        "streamFailed": result.stream_failed,
    }


def _mark_forgotten_voters() -> None:
    """Finish, once Redis answers, a forget that could not reach it: the marks of the forgotten
    voters PostgreSQL keeps and Redis may not (one indexed query when none waits), and set again
    those Redis lost after they were recorded as set (a failover, an older copy restored: one
    read of the marked voters and one round trip to Redis a thousand of them). Then tell how
    many still wait (ForgottenMarksPending, every run PostgreSQL answers; a warning when any do):
    a Redis that answers but refuses the mark (full, read-only, a user who may not write it)
    leaves them unmarked run after run. Their pass is refused while the API's admission is
    refused too (it asks PostgreSQL then); it rates where Redis takes the admission's writes and
    not the mark (a user allowed the one and not the other, or the minute between Redis taking
    writes again and the next run). Nothing here fails the run; a Redis that does not answer
    (as the read model's calls tell it: away, timed out, BUSY, a cluster without its nodes, a
    password it does not take) is tried at the next run and counts nothing: the API asks
    PostgreSQL meanwhile, and the read model's own alarms tell the outage."""
    reason = ""
    try:
        store = wiring.event_store()
    except Exception:  # not configured or not reached: the outbox's run said so already
        return
    limiter = None
    try:
        limiter = wiring.request_limiter()
        marked = mark_forgotten_voters(store, limiter)
    except SchemaBehind as error:  # a deployment's database older than its code: said once
        logger.warning(str(error))
        return
    except ReadModelUnreachable:  # the API asks PostgreSQL meanwhile; the read model's alarms tell
        return
    except TalkrateError as error:
        marked, reason = 0, str(error)
    except Exception as error:  # an error neither store tells as its own
        logger.exception("the forgotten voters' marks could not be set")
        marked, reason = 0, str(error)
    if marked:
        logger.warning(
            "forgotten voters marked in Redis (a forget had not reached it)",
            extra={"marked": marked},
        )
    lost = LostMarks()
    if limiter is not None:  # (tried after a refusal too: a mark lost and refused is counted)
        try:
            lost = restore_lost_marks(store, limiter)
        except ReadModelUnreachable:
            return
        except TalkrateError as error:  # PostgreSQL not answering, or Redis refusing the look
            lost = LostMarks(reason=str(error))
        except Exception:  # an error neither store tells as its own
            logger.exception("the marks Redis lost could not be looked for")
    reason = reason or lost.reason
    if lost.restored:
        logger.warning(
            f"forgotten voters' marks Redis had lost set again ({lost.restored}): Redis lost "
            "writes it had acknowledged (a failover before its replica had them, an older copy "
            "restored); see docs/operations.md, Marks Redis lost",
            extra={"restored": lost.restored},
        )
    try:
        pending = store.unmarked_count() + lost.refused
    except Exception:  # PostgreSQL does not answer: its own alarms tell it, the next run counts
        return
    metrics.add_metric(name=FORGOTTEN_MARKS_PENDING, unit="Count", value=pending)
    if pending:
        logger.warning(
            f"forgotten voters wait for their mark in Redis ({pending}): Redis refuses it (see "
            "reason); a pass of theirs rates where Redis takes the admission's writes and not "
            "the mark; see docs/operations.md, ForgottenMarksPending",
            extra={"pending": pending, "reason": reason},
        )


def _restore_read_model(context: LambdaContext) -> str:
    """Whether Redis holds the read model, once a minute, and if not, rebuild it from the event
    store. The projector does the same before a batch, but runs only with records: a Redis
    emptied while no rating comes in (a flush, a replaced node, a cache recreated at night) would
    show every talk at zero until the next rating. A new deployment's (no event stored yet) is
    built silently. A lost one is reported first (ReadModelMissing: a run that dies rebuilding,
    out of time or memory, still counts towards its alarm), then rebuilt under the rebuild lock
    (ReadModelRebuilt, the projector's metric and alarm) when the run has REBUILD_SECONDS left;
    when another rebuild holds the lock, it is left to that one. A backend that does not answer
    is told by its own alarms. Nothing here fails the run: the outbox was relayed before.

    Answers what became of it: "built" (it was), "rebuilt", "left" (to another rebuild, or to
    the next run), or "unchecked" (a backend did not answer)."""
    try:
        read_model = wiring.read_model()
        if read_model.is_built():
            metrics.add_metric(name="ReadModelMissing", unit="Count", value=0)
            return "built"
        store = wiring.event_store()
        if store.is_empty():
            rebuild_if_lost(store, read_model, progress=lambda _: None)
            metrics.add_metric(name="ReadModelMissing", unit="Count", value=0)
            return "rebuilt"
    except ReadModelRebuilding:
        return "left"
    except TalkrateError:
        return "unchecked"
    except Exception:  # a refusal of Redis or PostgreSQL (BUSY, read-only, ...): next run
        logger.exception("the read model could not be checked")
        return "unchecked"
    logger.warning("the read model is missing from Redis: rebuilding it from the event store")
    metrics.add_metric(name="ReadModelMissing", unit="Count", value=1)
    metrics.flush_metrics()
    left = context.get_remaining_time_in_millis() / 1000
    if left < REBUILD_SECONDS:
        logger.warning(
            "too little time left in this run to rebuild the read model: the next run does",
            extra={"secondsLeft": round(left, 1), "secondsNeeded": REBUILD_SECONDS},
        )
        return "left"
    try:
        rebuilt = rebuild_if_lost(store, read_model, progress=logger.info)
    except ReadModelRebuilding:
        logger.info("another rebuild of the read model is running: left to it")
        return "left"
    except Exception:
        logger.exception("the read model could not be rebuilt; the next run tries again")
        return "left"
    if rebuilt is None:
        return "built"  # by another, between the look and the lock
    tell_rebuilt(rebuilt)
    return "rebuilt"
