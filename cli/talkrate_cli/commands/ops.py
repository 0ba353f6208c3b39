"""talkrate ops: operations on the configured backends (not through the API).

The backends come from the same configuration as the functions (TALKS_CONNECTION,
RATINGS_CONNECTION, STREAMS_CONNECTION, or the Secrets Manager ARNs).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click

from talkrate_cli import output
from talkrate_cli.errors import BadInput, CliError
from talkrate_cli.main import Session, as_run, pass_session


class BackendError(CliError):
    """A backend refused or could not be reached."""


# `ops forget-voter` kept the voter in PostgreSQL and could not set Redis's mark.
NOT_FINISHED_EXIT = 3


class ForgetNotFinished(CliError):
    """A forget that kept the voter as forgotten in PostgreSQL and could not mark them in Redis:
    their pass may rate once Redis takes writes again, until the mark is set (exit 3)."""

    exit_code = NOT_FINISHED_EXIT
    kind = "forget-not-finished"
    title = "Forget not finished"


@click.group()
@click.pass_context
def ops(ctx: click.Context) -> None:
    """Operate the backends: rebuild, check, dead letters, redrive, replay, relay, a recreated
    topic, forgetting a voter, the forgotten voters' marks.

    They are the ones the configuration names (TALKS_CONNECTION, RATINGS_CONNECTION,
    STREAMS_CONNECTION, or CONNECTIONS_SECRET_ARN and STREAMS_*), not the API's."""
    # `talkrate --stack prod ops rebuild` would rebuild whatever the environment names: refused
    # rather than run somewhere the operator did not mean. TALKRATE_API in the environment is
    # for the other commands and is no reason to refuse.
    given = ctx.parent.get_parameter_source if ctx.parent else None
    for name, flag in (("api_url", "--api"), ("stack", "--stack")):
        if given and given(name) is click.core.ParameterSource.COMMANDLINE:
            raise click.UsageError(
                f"{flag} is for the commands that go through the API; `talkrate ops` works on "
                "the backends the configuration names (TALKS_CONNECTION, RATINGS_CONNECTION, "
                "STREAMS_CONNECTION, or CONNECTIONS_SECRET_ARN: see docs/operations.md)"
            )


# A long step's progress (`counted N of M events`: a line every 5,000 events), not on a terminal
# (a log, CI): a line at most this often, and its last one. On a terminal: one line, redrawn in
# place at most every REDRAW_SECONDS.
STEP_EVERY_SECONDS = 10.0
REDRAW_SECONDS = 0.2


def _say(command: str, console: Any = None, clock: Any = time.monotonic) -> Any:
    """Progress lines of a command, "<command>: <line>", on stdout (or the console given).

    The lines of a long step (talkrate.projected.Step) are not each said: at a million events
    that was 200 lines of a log. On a terminal the step is one line, redrawn in place (and
    ended by the next line, or when the command ends); elsewhere one every STEP_EVERY_SECONDS,
    and the step's last.

    A reader that left (`talkrate ops rebuild | head -1`) does not stop the work: a rebuild
    half-way (the projector paused, the lock taken) or a topic's positions retired without the
    rebuild that must follow them would be left for the operator to find. The lines after it go
    nowhere; the command finishes and says how it ended by its exit status."""
    from talkrate.projected import Step

    shown = console or output.console
    gone = False
    open_line = False  # a step's line drawn in place and not ended yet (a terminal)
    step_said = clock()  # when a step's line was last said (the command's start at first)
    # A step's newest line not said yet: said before whatever comes next, so the step always
    # ends on its last line (its count need not reach its total: the rebuild counts a voter's
    # newest rating of a talk, out of every event stored).
    unsaid: str | None = None

    def left() -> None:
        nonlocal gone
        gone = True
        # What is still buffered for the closed pipe, and Python's flush at exit, go nowhere.
        stream = sys.stdout if shown is output.console else sys.stderr
        os.dup2(os.open(os.devnull, os.O_WRONLY), stream.fileno())

    def say_unsaid() -> None:
        nonlocal unsaid, open_line
        line, unsaid = unsaid, None
        if line is None or gone:
            return
        if shown.is_terminal:
            open_line = True
            shown.file.write("\r\x1b[2K" + line[: max(shown.width - 1, 20)])
            shown.file.flush()
        else:
            shown.print(line, markup=False)

    def end_line() -> None:
        nonlocal open_line
        try:
            say_unsaid()
        except BrokenPipeError:
            left()
        if open_line and not gone:
            open_line = False
            try:
                shown.file.write("\n")
                shown.file.flush()
            except BrokenPipeError:
                left()

    def say(line: str) -> None:
        nonlocal open_line, step_said, unsaid
        if gone:
            return
        text = f"{command}: {line}"
        try:
            if isinstance(line, Step):
                now, last = clock(), line.done >= line.total
                if shown.is_terminal:
                    if last or now - step_said >= REDRAW_SECONDS or not open_line:
                        step_said, open_line, unsaid = now, True, None
                        shown.file.write("\r\x1b[2K" + text[: max(shown.width - 1, 20)])
                        shown.file.flush()
                    else:
                        unsaid = text
                    return
                if not last and now - step_said < STEP_EVERY_SECONDS:
                    unsaid = text
                    return
                step_said, unsaid = now, None
            end_line()
            shown.print(text, markup=False)
        except BrokenPipeError:
            left()

    context = click.get_current_context(silent=True)
    if context is not None:
        # Stopped mid-step (an error, Ctrl-C), the line is ended before the error is said.
        context.call_on_close(end_line)
    return say


def _backend_errors(run: Any) -> Any:
    """TalkrateError (a backend down, a record refused), a setting that cannot be read, and a
    Redis database number Redis does not have, as one line, exit 1."""
    import functools

    @functools.wraps(run)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        from psycopg2.errors import UndefinedColumn, UndefinedTable
        from redis import ResponseError
        from redis.exceptions import OutOfMemoryError

        from talkrate.config import SettingsError
        from talkrate.errors import TalkrateError

        try:
            return run(*args, **kwargs)
        except (TalkrateError, SettingsError) as error:
            raise BackendError(str(error)) from None
        except ResponseError as error:
            if isinstance(error, OutOfMemoryError):
                # (a rebuild taking its lock, at the very moment the memory alarm sends one)
                raise BackendError(
                    "Redis is over its maxmemory and refuses every write (OOM), the command's "
                    "first too: nothing was changed. Raise maxmemory (a rebuild needs about "
                    "twice the read model's memory while it runs), then run the command again"
                ) from None
            if str(error).startswith("BUSY"):
                raise BackendError(
                    "Redis is busy running a long script (BUSY) and answers no command until it "
                    "ends (or `SCRIPT KILL` stops it): run the command again then"
                ) from None
            if not str(error).startswith("DB index"):
                raise
            raise BackendError(
                f"Redis refused the database RATINGS_CONNECTION names ({error})"
            ) from None
        except (UndefinedColumn, UndefinedTable) as error:
            # A newer command on a database a deployment has not brought up to it yet.
            first = str(error).splitlines()[0]
            raise BackendError(
                f"the database's schema is older than this command ({first}): deploy (or apply "
                "the schema) first"
            ) from None

    return guarded


def _read_model() -> Any:
    """The configured read model; a RATINGS_CONNECTION it cannot read as written (a database
    that is no number, which redis-py would take for database 0) refused first, in one line,
    before anything is read, paused or replaced."""
    from talkrate import wiring
    from talkrate.adapters.redis_store import RedisUrl
    from talkrate.config import load_settings

    RedisUrl.parse(load_settings().ratings_connection)  # BackendUnavailable: said, exit 1
    return wiring.read_model()


def _require_same_store(store: Any, model: Any, where: dict[str, Any], command: str) -> None:
    """Refuse, before anything is stored, retired or replaced, a command that ends with a
    rebuild when the read model counts talks this event store holds no rating of: with
    TALKS_CONNECTION left at its default while RATINGS_CONNECTION names production's, the
    rebuild would empty production's counts."""
    counted = model.counted_talks()
    held = store.holding(list(counted)) if counted else set()
    lost = {talk: n for talk, n in counted.items() if talk not in held}
    if not lost:
        return
    anyway = (
        "`talkrate ops rebuild --force` rebuilds anyway"
        if command == "rebuild"
        else "if the event store really lost them, `talkrate ops rebuild --force` first"
    )
    raise BackendError(
        f"nothing replaced: the read model in {where['ratings']} counts "
        f"{sum(lost.values())} ratings of {len(lost)} talks (such as {sorted(lost)[0]!r}) of "
        f"which the event store in {where['talks']} holds none, and a rebuild would empty "
        f"them. Is TALKS_CONNECTION this read model's event store? {anyway}"
    )


class TopicNotApplied(CliError):
    """RATINGS_TOPIC names a topic the read model has applied no record of, while it has applied
    other topics' records: another stack's topic, or none set (`ratings`) on a stack with a
    topic of its own (exit 1)."""

    kind = "topic-not-applied"
    title = "Not the read model's topic"


# What a command would do with a topic the read model does not read (`_require_topic_applied`).
COMPARED = (
    "its positions are the ones compared with the event store's, so a span the event store "
    "lost would go unseen"
)
RETIRED = (
    "its positions, none the read model's, would be filed as retired, and the read model "
    "rebuilt without comparing any topic's"
)
REPLAYED = (
    "the rebuild that ends the replay compares its positions with the event store's, so a span "
    "the event store still lacks would leave the counts unseen"
)


SAID_TOPICS = 3  # the topics a refusal names at most (--json lists them all)


def _require_topic_applied(
    model: Any, where: dict[str, Any], stake: str, nothing: str, topic: str | None = None
) -> None:
    """Refuse, before the event store is read whole and before anything is stored, retired or
    replaced, a command whose topic (RATINGS_TOPIC, unless `topic` is given) the read model has
    applied no record of while it has applied other topics' records: with the wrong topic set,
    or none on a stack with a topic of its own, the command would compare (or retire) that
    topic's positions and miss a span the event store lost. A read model that has applied
    nothing (a new deployment, one lost, a topic just retired) is no sign either way. `stake`:
    what the command would do with it; `nothing`: what it did not do. Said in one line, the
    topics the read model applied named (the first SAID_TOPICS)."""
    from talkrate.config import load_settings
    from talkrate.rebuild import applied_topics

    topic = topic or load_settings().ratings_topic
    applied = applied_topics(model.applied_offsets())
    if not applied or topic in applied:
        return
    unset = "" if os.environ.get("RATINGS_TOPIC") else " (not set: its default)"
    named = ", ".join(map(repr, applied[:SAID_TOPICS]))
    if len(applied) > SAID_TOPICS:
        named += f" and {len(applied) - SAID_TOPICS} more"
    raise TopicNotApplied(
        f"RATINGS_TOPIC is {topic!r}{unset}, and the read model in {where['ratings']} has applied "
        f"no record of it, only of {named}: {stake}; {nothing}. Set "
        "RATINGS_TOPIC to the stack's RatingsTopic (`export RATINGS_TOPIC=\"$(parameter "
        "RatingsTopic)\"`: docs/operations.md, the operator commands' environment)",
        result={"ratingsTopic": topic, "appliedTopics": applied},
    )


class TopicNotConsumed(CliError):
    """RATINGS_TOPIC names a topic on which the projector's consumer group
    (PROJECTOR_CONSUMER_GROUP) has committed no offset: what `ops relay` or `ops redrive` would
    publish there no projector of the stack counts (exit 1)."""

    kind = "topic-not-consumed"
    title = "Not the projector's topic"


NEW_TOPIC_HELP = (
    "Publish into RATINGS_TOPIC though the projector's consumer group (PROJECTOR_CONSUMER_GROUP) "
    "has committed no offset of it: a stack whose projector has taken no record yet (a first "
    "deploy), or of the topic it has just moved to."
)


def _require_topic_consumed(settings: Any, command: str) -> None:
    """Refuse, before anything is published, a RATINGS_TOPIC on which the projector's consumer
    group has committed no offset (the broker says which topics it has: `committed_topics`):
    with another stack's topic, or none set on a stack with a topic of its own, the ratings
    published would count nowhere this stack reads, or in another stack's read model. A group
    that has committed nothing at all is not the stack's (PROJECTOR_CONSUMER_GROUP unset or
    another's), or its projector has taken no record yet: refused too, `--new-topic` says the
    latter. A broker that does not answer: BackendUnavailable, nothing published."""
    from talkrate.adapters.kafka_stream import committed_topics
    from talkrate.locations import kafka_location

    topic, group = settings.ratings_topic, settings.projector_consumer_group
    consumed = committed_topics(settings, group)
    if topic in consumed:
        return

    def named(variable: str, value: str) -> str:
        unset = "" if os.environ.get(variable) else " not set: its default"
        return f"{value!r} ({variable}{unset})"

    said_group = f"the projector's consumer group {named('PROJECTOR_CONSUMER_GROUP', group)}"
    where = kafka_location(settings.streams_connection)
    if consumed:
        listed = ", ".join(map(repr, consumed[:SAID_TOPICS]))
        if len(consumed) > SAID_TOPICS:
            listed += f" and {len(consumed) - SAID_TOPICS} more"
        found = (
            f"RATINGS_TOPIC is {named('RATINGS_TOPIC', topic)}, and {said_group} has committed "
            f"offsets at {where} only of {listed}: what {command} published there this stack's "
            "projector would never count"
        )
    else:
        found = (
            f"{said_group} has committed no offset at {where}, so nothing says that "
            f"RATINGS_TOPIC {named('RATINGS_TOPIC', topic)} is the one it consumes: it is "
            "another stack's group, or its projector has taken no record yet"
        )
    raise TopicNotConsumed(
        f"{command}: nothing published: {found}. Set RATINGS_TOPIC and PROJECTOR_CONSUMER_GROUP "
        "to the stack's RatingsTopic and ProjectorConsumerGroup (docs/operations.md, the "
        "operator commands' environment); where the projector has taken no record of the "
        "stack's topic yet (a first deploy, a topic just moved to), `--new-topic` publishes",
        result={
            "ratingsTopic": topic,
            "projectorConsumerGroup": group,
            "consumedTopics": consumed,
        },
    )


class _ConsumedFirst:
    """A RatingPublisher that, before its first publish, refuses a RATINGS_TOPIC the
    projector's consumer group does not consume (`_require_topic_consumed`): `ops relay` asks
    only once it has an entry to publish. Its refusal, and a broker that does not say, end the
    relay's transaction: every entry stays as it was."""

    def __init__(self, publisher: Any, settings: Any) -> None:
        self._publisher = publisher
        self._settings = settings
        self._asked = False

    def publish(self, event: Any) -> None:
        """Publish, once the topic was found the projector's."""
        from talkrate.errors import BackendUnavailable

        if not self._asked:
            try:
                _require_topic_consumed(self._settings, "relay")
            except BackendUnavailable as error:
                # (not the stream's failure to take the entry: said as it is, nothing counted)
                raise BackendError(f"relay: nothing published: {error}") from None
            self._asked = True
        self._publisher.publish(event)


def _behind_refused(error: Any) -> BackendError:
    """The rebuild's refusal of an event store behind the read model (EventStoreBehind), with
    the replays that bring the missing records back from Kafka, and what each names."""
    missing = error.missing
    return BackendError(
        f"nothing replaced: {error}. PostgreSQL restored from a backup? A rebuild now would take "
        "out of the counts any rating that those offsets alone hold (copies of events stored "
        "at other positions, projected before copies' positions were kept, hold none: their "
        "replay says `already stored` and rebuilds). While Kafka still holds them, store them "
        "again (the replay that leaves none missing rebuilds): "
        + "; ".join(f"`{span.replay_command}`" for span in missing)
        + ". What Kafka no longer holds is lost: `talkrate ops rebuild --force` rebuilds "
        'without it (docs/operations.md, "Restoring PostgreSQL from a backup")',
        result={"missing": _spans_listed(missing)},
    )


def _spans_listed(missing: Any) -> list[dict[str, Any]]:
    """The spans an event store behind the read model lacks, as --json lists them: each with
    the replay that stores it again."""
    return [
        {
            "topic": span.topic,
            "partition": span.partition,
            "first": span.first,
            "last": span.last,
            "replay": span.replay_command,
        }
        for span in missing
    ]


@ops.command()
@click.option(
    "--force",
    is_flag=True,
    help=(
        "Rebuild even when the event store seems not to be the read model's, or behind it: it "
        "holds no rating of talks the read model counts, or less of a partition than the read "
        "model applied (restored from a backup). Their ratings leave the counts."
    ),
)
@pass_session
@_backend_errors
def rebuild(session: Session, force: bool) -> None:
    """Recompute the Redis read model from the PostgreSQL event store.

    Refused, with nothing replaced, when the read model counts ratings of talks the event store
    holds none of: an event store other than the read model's (TALKS_CONNECTION left at its
    default while RATINGS_CONNECTION names production's) would empty them. Refused too when
    the event store holds less of a partition of the ratings topic than the read model applied
    (PostgreSQL restored from a backup): the refusal names the `ops replay` of each missing
    span. And refused, before the event store is read, when RATINGS_TOPIC names a topic the read
    model has applied no record of while it has applied other topics' (another stack's topic, or
    none set on a stack with its own): its positions would be compared, and a lost span missed."""
    from talkrate import wiring
    from talkrate.config import load_settings
    from talkrate.projected import ReadModelState
    from talkrate.rebuild import EventStoreBehind, rebuild_read_model

    # With --json the progress goes to stderr and the result is the one document on stdout.
    say = _say("rebuild", output.errors if session.as_json else None)
    # First where it reads and what it replaces: the backends come from the environment (or its
    # defaults), which is easy to have pointing elsewhere than one thinks.
    settings = load_settings()
    where = settings.where()
    model = _read_model()
    say(f"from {where['talks']} into {where['ratings']}")
    store = wiring.event_store()
    store.is_empty()  # PostgreSQL answers: else said before the projector is paused for nothing
    if not force:  # (--force compares no topic's positions)
        _require_topic_applied(model, where, COMPARED, "nothing replaced")

    class Checked:
        """The event store, refused before its state is read when it holds none of the talks
        the read model counts (inside the rebuild's lock: no batch moves the counts meanwhile)."""

        def state(self, progress: Any) -> ReadModelState:
            if not force:
                _require_same_store(store, model, where, "rebuild")
            return store.state(progress)

    try:
        state = rebuild_read_model(
            Checked(), model, progress=say, topic=None if force else settings.ratings_topic
        )
    except EventStoreBehind as error:
        raise _behind_refused(error) from None
    if session.as_json:
        output.emit_json(
            {"talks": len(state.histograms), "events": state.events, "partitions": state.offsets}
        )


@ops.command()
@pass_session
@_backend_errors
def check(session: Session) -> None:
    """Compare the read model with the event store, talk by talk: the talks whose counts
    differ (a Redis that lost some keys but not its built mark: a mistaken DEL, eviction).

    Reads the whole event store once, as a rebuild does, and every histogram; writes nothing.
    Exit 0 when they match, or while a rebuild (or `ops forget-voter`) runs (its lock held: it
    says which, when its lock says, and for how long; nothing compared, the rebuild replaces
    the read model and ends by itself); exit 1 when a talk differs, or when the read model is
    lost (not built and no rebuild running: Redis flushed or restarted empty): `talkrate ops
    rebuild` mends both (where the event store is behind the read model, restored from a
    backup: the `ops replay` of each span it lacks first, which it names in order); exit 1 too
    when the counts agree and the event store is behind all the same (it lost only copies of
    events stored at other positions: a rebuild would refuse), naming the same replays, and
    when the lock has no expiry (set by hand, or by a fault: it holds the projector off for
    good), with the command that clears it; exit 1, nothing compared, when RATINGS_TOPIC names a
    topic the read model has applied no record of while it has applied other topics'."""
    from talkrate import wiring
    from talkrate.config import load_settings
    from talkrate.read_model_check import check_read_model
    from talkrate.rebuild import behind_said

    say = _say("check", output.errors if session.as_json else None)
    settings = load_settings()
    where = settings.where()
    model = _read_model()
    say(f"{where['talks']} against {where['ratings']}")
    store = wiring.event_store()
    store.is_empty()  # PostgreSQL answers: a backend that is down is said first, as ever
    _require_topic_applied(model, where, COMPARED, "nothing compared")
    result = check_read_model(store, model, progress=say, topic=settings.ratings_topic)
    differing = [
        {"talkId": d.talk_id, "stored": d.stored, "counted": d.counted, "missing": d.missing}
        for d in result.differences
    ]
    found: dict[str, Any] = {
        "state": result.state,
        "built": result.built,
        "talks": result.talks,
        "differing": differing,
    }
    if result.lock is not None:
        held, expires = result.lock.held_seconds, result.lock.expires_in_seconds
        found["rebuildLock"] = {
            "heldSeconds": None if held is None else round(held, 1),
            "expiresInSeconds": None if expires is None else round(expires, 1),
            "heldBy": result.lock.held_by,
        }
    if result.behind:
        found["missing"] = _spans_listed(result.behind)
    if result.state == "stale-lock":
        held = result.lock.held_seconds if result.lock else None
        since = "" if held is None else f", taken {held:.0f} s ago"
        raise CliError(
            f"the projector is held off by a stale lock: `{REBUILD_LOCK}` has no expiry "
            f"({_holder_said(result.lock)}{since}), so it never runs out and no batch is "
            "counted while it stays; nothing compared. No rebuild or forget-voter runs under a "
            "lock without expiry (each sets one and renews it): it was set by hand or left by "
            "a fault. Only while no `talkrate ops rebuild` (`make rebuild`), `ops replay`, "
            "`ops topic-recreated` or `ops forget-voter` is running, clear it with "
            f"`{_clear_lock_command(model)}` (with the read model's password, if it has one, "
            "in the REDISCLI_AUTH environment variable: redis-cli reads it there, and it stays "
            "off the command line); the projector's next delivery then counts what waited",
            result=found,
        )
    if result.state == "lost":
        raise CliError(
            "the read model is lost: it is not built and no rebuild is running (Redis flushed, "
            "restarted empty, or never built), so nothing was compared; `talkrate ops rebuild` "
            "(`make rebuild`) rebuilds it from the event store (the projector's next batch, or "
            "the relay's next run, would too)",
            result=found,
        )
    if differing:
        if not session.as_json:
            for d in result.differences:
                output.console.print(
                    f"{d.talk_id}: the event store counts {sum(d.stored.values())} ratings, "
                    f"the read model {sum(d.counted.values())}",
                    markup=False,
                )
        told = (
            f"{len(differing)} of {result.talks} rated talks differ between the read model and "
            "the event store"
        )
        if result.behind:
            # (restored from a backup: a rebuild first would refuse, naming these replays)
            raise CliError(
                f"{told}, and the event store is behind the read model on "
                f"{behind_said(result.behind)}. {_replays_first(result.behind)}",
                result=found,
            )
        raise CliError(f"{told}: `talkrate ops rebuild` recounts them", result=found)
    if result.behind:
        # Counts that agree while the event store is behind (it lost only copies of events
        # stored at other positions, or a rating that changed no count): "matches" was said
        # here, and the next rebuild refused.
        raise CliError(
            f"the read model's counts agree with the event store's "
            f"({output.counted(result.talks, 'rated talk')}), but the event store is behind the "
            f"read model on {behind_said(result.behind)}, and a rebuild would refuse, replacing "
            "nothing, until it holds those offsets again (with the counts agreeing, they may "
            "hold only copies of events stored at other positions: their replay says `already "
            f"stored`). {_replays_first(result.behind)}",
            result=found,
        )
    if session.as_json:
        output.emit_json(found)
    elif result.lock is not None and result.lock.held_by == "forget-voter":
        output.console.print(
            f"the read model is held by `ops forget-voter` ({_lock_said(result.lock)}): nothing "
            "compared; it ends by itself in a moment, check again once it has",
            markup=False,
        )
    elif result.lock is not None:
        being = "being rebuilt" if result.lock.held_by else "being rebuilt or forgetting a voter"
        output.console.print(
            f"the read model is {being} ({_lock_said(result.lock)}): nothing compared; "
            f"{_holder_said(result.lock)} ends by itself, check again once it has",
            markup=False,
        )
    else:
        output.console.print(
            f"the read model matches the event store "
            f"({output.counted(result.talks, 'rated talk')})",
            markup=False,
        )


def _replays_first(behind: Any) -> str:
    """What `ops check` asks for where the event store is behind the read model: the replay of
    each span it lacks, in order, as the rebuild's refusal names them, then the rebuild."""
    return (
        "PostgreSQL restored from a backup? While Kafka still holds them, store those records "
        "again first, in this order: "
        + "; ".join(f"`{span.replay_command}`" for span in behind)
        + "; then rebuild (the last replay does, as `talkrate ops rebuild` would). What Kafka no "
        "longer holds is lost: `talkrate ops rebuild --force` rebuilds without it "
        '(docs/operations.md, "Restoring PostgreSQL from a backup")'
    )


REBUILD_LOCK = "projector/rebuilding"  # (the adapter's REBUILD_LOCK_KEY, loaded lazily)


def _lock_said(lock: Any) -> str:
    """How long the rebuild's lock has been held and when it runs out, in a few words."""
    held = "" if lock.held_seconds is None else f"held for {lock.held_seconds:.0f} s, "
    return (
        f"its lock {held}running out in {lock.expires_in_seconds:.0f} s unless "
        f"{_holder_said(lock)} renews it"
    )


def _holder_said(lock: Any) -> str:
    """What holds the rebuild's lock, as its value says (a version before said nothing)."""
    held_by = lock.held_by if lock else None
    if held_by == "rebuild":
        return "the rebuild"
    if held_by == "forget-voter":
        return "`ops forget-voter`"
    return "a rebuild or a forget-voter"


def _clear_lock_command(model: Any) -> str:
    """The redis-cli command that drops the rebuild's lock on the configured read model: its
    location, `--user NAME` when the URL names a user (an ACL or ElastiCache RBAC user: without
    it redis-cli authenticates as `default` and is refused WRONGPASS), never the password
    (redis-cli reads it from REDISCLI_AUTH), `-c` on a cluster."""
    import shlex
    from urllib.parse import unquote, urlsplit

    from talkrate.config import load_settings
    from talkrate.locations import UNPARSEABLE, redis_location

    url = load_settings().ratings_connection
    where = redis_location(url)
    target = "<the read model's redis:// URL>" if where == UNPARSEABLE else where
    # A name without a password is not a user redis-py signs in as (it sends no AUTH then): such
    # a name may be a password written where the user belongs, never printed.
    try:
        parts = urlsplit(url)
        signed_in = parts.password is not None or "password=" in parts.query
        user = unquote(parts.username or "") if signed_in else ""
    except ValueError:
        user = ""
    named = f" --user {shlex.quote(user)}" if user and where != UNPARSEABLE else ""
    cluster = " -c" if model.cluster else ""
    return f"redis-cli -u {target}{named}{cluster} DEL {REBUILD_LOCK}"


@ops.command(name="topic-recreated")
@click.argument("topic")
@click.option(
    "--force",
    is_flag=True,
    help="Retire the positions of a topic other than the configured one (RATINGS_TOPIC).",
)
@pass_session
@_backend_errors
def topic_recreated(session: Session, topic: str, force: bool) -> None:
    """After TOPIC was deleted and created again (its offsets begin at 0 again): file the old
    topic's positions under a name of their own (their ratings still count), then rebuild the
    read model, so the projector takes the new topic's records instead of skipping them as
    applied. Records it skipped meanwhile are in the event store and count after it. Refused,
    nothing retired, for a TOPIC the read model has applied no record of while it has applied
    other topics' (unless --force)."""
    from talkrate import wiring
    from talkrate.config import load_settings
    from talkrate.projected import ReadModelState
    from talkrate.rebuild import EventStoreBehind, rebuild_read_model

    settings = load_settings()
    if topic != settings.ratings_topic and not force:
        # A typo ("ratngs") retired nothing and rebuilt the read model all the same, and the
        # operator went on believing the skipped records would count.
        raise BadInput(
            f"topic-recreated: {topic!r} is not the ratings topic ({settings.ratings_topic!r}, "
            "from RATINGS_TOPIC): nothing done. `--force` retires another topic's positions"
        )
    say = _say("topic-recreated", output.errors if session.as_json else None)
    where = settings.where()
    model = _read_model()
    say(f"topic {topic!r}: in {where['talks']}, then {where['ratings']}")
    store = wiring.event_store()
    store.is_empty()  # PostgreSQL answers: else said before the projector is paused for nothing
    if not force:
        _require_topic_applied(model, where, RETIRED, "nothing retired", topic)
    retired: list[int] = []

    class Retiring:
        """The event store, retiring the topic's positions inside the rebuild's lock: no batch
        of the new topic is applied between the two. Nothing is retired when the event store
        is not the read model's."""

        def state(self, progress: Any) -> ReadModelState:
            _require_same_store(store, model, where, "topic-recreated")
            retired.append(store.retire_topic(topic))
            progress(f"{retired[0]} stored positions of {topic!r} filed as retired")
            return store.state(progress)

    # The retired topic's applied offsets are compared with nothing: its positions were just
    # filed under another name. Another topic's retirement leaves the ratings topic's compared.
    compared = None if topic == settings.ratings_topic else settings.ratings_topic
    try:
        state = rebuild_read_model(Retiring(), model, progress=say, topic=compared)
    except EventStoreBehind as error:
        raise _behind_refused(error) from None
    if session.as_json:
        output.emit_json({"retired": retired[0], "talks": len(state.histograms)})


def _shown(letter: dict[str, Any]) -> dict[str, Any]:
    """A dead letter as listed: its key and value as text when they are UTF-8, else in base64,
    each with its encoding beside it (`key_encoding`, `value_encoding`: "utf-8" or "base64",
    null for a record without one), so that a text starting "base64:" is not taken for bytes;
    its times in UTC as the API writes them ("2026-12-04T03:35:47.118761Z", not PostgreSQL's
    own form)."""
    from datetime import UTC, datetime

    shown = dict(letter)
    for name, moment in letter.items():
        if isinstance(moment, datetime):
            shown[name] = moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
    for name in ("key", "value"):
        data, encoding = shown[name], None
        if data is not None:
            try:
                shown[name], encoding = data.decode(), "utf-8"
            except UnicodeDecodeError:
                shown[name], encoding = base64.b64encode(data).decode(), "base64"
        shown[f"{name}_encoding"] = encoding
    return shown


@ops.command(name="dead-letters")
@click.option("--all", "include_redriven", is_flag=True, help="Include those already redriven.")
@pass_session
@_backend_errors
def dead_letters(session: Session, include_redriven: bool) -> None:
    """List the records the projector set aside (one JSON document a line).

    A record's key and value are shown as text when they are UTF-8, else in base64, each with
    its encoding beside it (key_encoding, value_encoding: "utf-8", "base64", or null)."""
    from talkrate import wiring

    letters = [
        _shown(d) for d in wiring.event_store().dead_letters(include_redriven=include_redriven)
    ]
    if session.as_json:
        output.emit_json(letters)
        return
    for letter in letters:
        print(json.dumps(letter, default=str))
    if not letters:
        # On stderr: a script reading stdout gets no line, the operator (or their log) is told.
        output.errors.print("no dead letters" + ("" if include_redriven else " waiting"))


@ops.command()
@click.argument("ids", type=int, nargs=-1, required=True)
@click.option("--value", help="The repaired RatingSubmitted JSON (one id only).")
@click.option(
    "--new-event-id",
    is_flag=True,
    help="Publish under a new eventId made from the letter's eventId and bytes: for a letter "
    "whose own is stored already for another rating (its producer reused it).",
)
@click.option(
    "--twins",
    type=click.Choice(["copies", "apart"]),
    help="For a letter without an eventId whose bytes other letters hold too: they are copies "
    "of one record, counted once together, or ratings each of its own (one id only).",
)
@click.option("--new-topic", is_flag=True, help=NEW_TOPIC_HELP)
@pass_session
@_backend_errors
def redrive(
    session: Session,
    ids: tuple[int, ...],
    value: str | None,
    new_event_id: bool,
    twins: str | None,
    new_topic: bool,
) -> None:
    """Republish dead letters by id (repaired with --value), each at most once.

    A letter another run redrove, before or while this one waited for it, is not published
    again: exit 2, as for an id of no dead letter. Every redrive of a letter, and of a copy of
    its record (the same eventId and bytes), publishes it under one eventId, the letter's own
    (or one made from its record when it has none): a repair's other eventId is replaced, and
    said so, and one left out is the letter's. Each redrive is recorded on the letter before it
    is published. A letter whose rating counts already (an earlier redrive of it or of a copy,
    cut off before its mark) is published again only as that rating; one whose eventId the event
    store holds for another rating would count nowhere: both are refused (exit 1), saying what
    to run, and the latter goes with --new-event-id under one made from its eventId and bytes,
    the same at every redrive of it and of its copies. A letter whose eventId the API's outbox
    holds is a record of that rating (the API makes every eventId it takes), whatever its bytes:
    stored, it counts already and is only marked (the output names the rating that counts);
    not stored yet, it goes under its eventId as the outbox holds it; --new-event-id is refused
    (it would count twice). Not read: records on Kafka the projector has not reached.

    Refused, nothing recorded or published, when the projector's consumer group
    (PROJECTOR_CONSUMER_GROUP) has committed no offset of RATINGS_TOPIC (unless --new-topic):
    the letters would go where the stack's projector does not read."""
    from talkrate import wiring
    from talkrate.config import load_settings
    from talkrate.events import Rating

    if value is not None and len(ids) != 1:
        # (said first: it was "no pending dead letter with id [1, 2]" when one was redriven)
        raise click.UsageError("--value repairs one dead letter at a time")
    if twins is not None and len(ids) != 1:
        raise click.UsageError("--twins says of one dead letter at a time")
    store = wiring.event_store()
    with _none_redriven_if_refused(ids):
        letters, judged = _judged_all(ids, value, new_event_id, twins, store)
    if not new_topic:  # (once the letters were judged: an id of none is said first)
        _require_topic_consumed(load_settings(), "redrive")
    publisher = wiring.rating_publisher()
    redriven: list[dict[str, Any]] = []
    done = {"redriven": redriven}
    for letter_id, going, replaced in judged:
        judged_value = letters[letter_id]["value"]
        # Recorded on the letter, and committed, before it is published: a redrive cut off
        # after Kafka took it is known for the letter's at the next one (a letter rewritten,
        # redriven or deleted meanwhile takes none, and is said so below).
        recorded = store.record_redrive(
            letter_id,
            judged_value,
            str(going.event.event_id),
            going.event.model_dump(mode="json", by_alias=True, exclude_none=True),
        )
        # Published under the locks of its eventId and of the letter, and marked in the same
        # transaction: two operators redriving it at once (each with a repair of its own
        # eventId) published it twice, counted twice; two redriving two letters under one
        # eventId published both, one counted nowhere. A publish that fails leaves it pending.
        event_id = str(going.event.event_id)
        with store.redriving(letter_id, event_id) as (letter, now, stored_now, outboxed_now):
            if letter is None:
                raise BadInput(
                    f"redrive: dead letter {letter_id} was deleted while this run read it: "
                    "nothing published for it",
                    done,
                )
            if letter["redriven_at"] is not None:
                raise BadInput(_already_redriven(letter, meanwhile=True), done)
            if letter["value"] != judged_value or not recorded:
                # Rewritten since it was judged (`ops forget-voter` renames its voter): what
                # was judged, or repaired from, is no longer what the letter holds.
                raise CliError(
                    f"redrive: dead letter {letter_id} was changed while this run read it "
                    "(`ops forget-voter`?): nothing published for it; run the command again",
                    done,
                )
            # Judged again on the letters and the event store as they are now, under the
            # eventId's lock: what another run recorded or published meanwhile is seen.
            try:
                again, _ = _judged(
                    letter_id, value, new_event_id, twins, now, stored_now, outboxed_now
                )
            except CliError as error:
                error.result = done
                raise
            if again.event.to_json() != going.event.to_json():
                raise CliError(
                    f"redrive: dead letter {letter_id} is judged otherwise now than when this "
                    "run read it (another run redrove a letter under its eventId meanwhile): "
                    "nothing published for it; run the command again",
                    done,
                )
            publisher.publish(Rating.of(going.event))
        done_one: dict[str, Any] = {"deadLetter": letter_id, "eventId": going.event.event_id}
        if replaced is not None:
            done_one["valueEventId"] = replaced
        if going.letters_own is not None:
            done_one["letterEventId"] = going.letters_own
        if going.stored_already is not None:
            done_one["storedAlready"] = True
        redriven.append(done_one)
        if not session.as_json:
            output.console.print(_redriven_line(letter_id, going, replaced))
    if session.as_json:
        output.emit_json(done)


@contextlib.contextmanager
def _none_redriven_if_refused(ids: tuple[int, ...]) -> Iterator[None]:
    """With several ids, a refusal while they are judged (before any is published) says that
    none was redriven, the letters before the refused one neither (`redriven` empty in --json)."""
    try:
        yield
    except CliError as refusal:
        if len(ids) > 1:
            named = ", ".join(map(str, ids[:-1])) + f" and {ids[-1]}"
            refusal.args = (f"{refusal}; nothing redriven: dead letters {named} wait as they were",)
            refusal.result = {"redriven": []}
        raise


def _judged_all(
    ids: tuple[int, ...], value: str | None, new_event_id: bool, twins: str | None, store: Any
) -> tuple[dict[int, dict[str, Any]], list[tuple[int, Any, Any]]]:
    """The dead letters as read, and each of `ids` judged (its letter id, what it publishes,
    the eventId a repair carried that it replaced), every one before any is published: one
    that cannot go stops them all (BadInput / CliError)."""
    from talkrate import wiring
    from talkrate.models import RatingSubmitted

    letters = {d["id"]: d for d in store.dead_letters(include_redriven=True)}
    missing = [i for i in ids if i not in letters]
    if missing:
        shown = ", ".join(map(str, missing))
        raise BadInput(f"redrive: no dead letter with id {shown}")
    for letter_id in ids:
        if letters[letter_id]["redriven_at"] is not None:
            raise BadInput(_already_redriven(letters[letter_id]))
    # Every letter is judged before any is published: one that cannot go stops them all.
    catalog, outbox, judged = wiring.talk_catalog(), wiring.outbox(), []
    claimed: dict[Any, tuple[int, RatingSubmitted]] = {}  # eventId: the letter of this run
    for letter_id in ids:
        going, replaced = _judged(
            letter_id, value, new_event_id, twins, letters, store.stored_rating, outbox.entry
        )
        if going.stored_already is None and not catalog.exists(going.event.talk_id):
            # The projector counts any talk's rating: one for a talk not in the programme would
            # count for nobody now, and for a talk added later under that id. (One that counts
            # already is only marked: nothing new counts.) The API's rating goes as its outbox
            # holds it, whatever a --value says.
            mend = (
                "the API accepted it for that talk (its outbox holds it); add the talk again "
                "first, or leave the letter pending"
                if going.api is not None
                else "add the talk first, or repair its talkId with --value"
            )
            raise CliError(
                f"redrive: dead letter {letter_id} rates {going.event.talk_id!r}, which is not in "
                f"the programme; {mend}"
            )
        # Two letters of the run under one eventId for two ratings: the one projected second
        # would be dropped as a copy, counted nowhere, and the redrive would say it succeeded.
        first = claimed.get(going.event.event_id)
        if first is not None and first[1].to_json() != going.event.to_json():
            raise CliError(
                f"redrive: dead letters {first[0]} and {letter_id} carry one eventId, "
                f"{going.event.event_id}, for two ratings (their producer reused it): nothing "
                f"published. Redrive {first[0]} alone first, then {letter_id} with --new-event-id"
            )
        claimed[going.event.event_id] = (letter_id, going.event)
        judged.append((letter_id, going, replaced))
    return letters, judged


def _judged(
    letter_id: int,
    value: str | None,
    new_event_id: bool,
    twins: str | None,
    letters: dict[int, dict[str, Any]],
    stored: Any,
    outboxed: Any,
) -> tuple[Any, Any]:
    """What the redrive of `letter_id` publishes (`judge`) and the eventId a repair carried that
    the letter's replaced (None: none), on the dead letters, the event store and the API's
    outbox as `letters`, `stored` and `outboxed` read them; BadInput / CliError when it
    publishes nothing."""
    from pydantic import ValidationError

    from talkrate.models import RatingSubmitted, problems_of
    from talkrate.projection import set_aside_now
    from talkrate_cli.operations.redrive import judge, own_event_ids

    stored_letter = letters[letter_id]
    # The eventId of every redrive of this letter: one cut off after Kafka took it, then run
    # again with another repair, would otherwise publish two events, counted twice.
    owns = own_event_ids(letter_id, letters, twins)
    own = owns[letter_id]
    raw = _with_event_id(value, own) if value is not None else stored_letter["value"] or b""
    try:
        event = RatingSubmitted.from_json(raw)
    except ValidationError as error:
        problems = "; ".join(problems_of(error)[:3])
        whose = "the value given" if value is not None else f"dead letter {letter_id}"
        # The operator's --value is bad input (2); a stored value still broken is not (1).
        raise (BadInput if value is not None else CliError)(
            f"redrive: {whose} is not a RatingSubmitted event ({problems})"
            + ("" if value is not None else "; repair it with --value")
        ) from None
    replaced = event.event_id if event.event_id != own else None
    event = event.model_copy(update={"event_id": own})
    going = judge(
        letter_id, event, new_event_id, letters, owns, stored, outboxed, value is not None
    )
    # Judged as the projector judges it now: a rating stamped in the future would only be set
    # aside again (a copy of a stored rating, which only marks the letter, counts nowhere).
    if going.stored_already is None and (why := set_aside_now(going.event.to_json())):
        whose = "the value given" if value is not None else f"dead letter {letter_id}"
        raise (BadInput if value is not None else CliError)(
            f"redrive: the projector would set {whose} aside again ({why})"
            + ("" if value is not None else "; repair it with --value")
        )
    # A letter as it was set aside is judged at that time too: one set aside for a time ahead of
    # the projector's clock is so whatever the time now, and published once that time has
    # passed it would stand over every rating its voter sent after it (the real ones).
    if (
        value is None
        and going.stored_already is None
        and (why := set_aside_now(going.event.to_json(), _set_aside_at(stored_letter)))
    ):
        raise CliError(
            f"redrive: dead letter {letter_id} was set aside for an occurredAt later than the "
            f"projector's clock when it was set aside ({why}); published as it is, now or "
            "later, it would stand over the ratings its voter sent after it. Repair its "
            "occurredAt to the time the rating was sent: talkrate ops redrive "
            f"{letter_id} --value '<the letter's value with that occurredAt>'"
        )
    return going, replaced


def _set_aside_at(letter: dict[str, Any]) -> datetime:
    """When a dead letter was set aside (its row's creation, UTC)."""
    created: datetime = letter["created_at"]
    return created if created.tzinfo else created.replace(tzinfo=UTC)


def _redriven_line(letter_id: int, going: Any, replaced: Any) -> str:
    """What a person is told of a letter published."""
    if going.letters_own is not None:
        why = (
            f", a new eventId made from its eventId and bytes (its own, {going.letters_own}, is "
            "stored for another rating): every redrive of it, and of a copy of its record, with "
            "--new-event-id carries this one, so that it counts once"
        )
    elif replaced is not None:
        why = (
            f", the letter's eventId, not the value's {replaced}: every redrive of a letter "
            "carries one, so that it counts once"
        )
    else:
        why = ""
    if going.stored_already is not None:
        why += (
            f"; the event store holds that rating already, published by {going.stored_already}: "
            "it counts once, this copy nowhere"
        )
        if going.api is not None:
            why += f"; {going.api}"
    elif going.api is not None:
        why += f", {going.api}"
    return f"redrive: dead letter {letter_id} republished as event {going.event.event_id}{why}"


def _with_event_id(value: str, event_id: Any) -> str:
    """A repaired value with the letter's eventId where it names none (an operator need not copy
    it in); as given otherwise, for the model to judge."""
    try:
        fields = json.loads(value)
    except ValueError:
        return value
    if not isinstance(fields, dict) or "eventId" in fields:
        return value
    return json.dumps({"eventId": str(event_id), **fields})


def _already_redriven(letter: dict[str, Any], meanwhile: bool = False) -> str:
    """Why a letter is not published: another run redrove it, before this one or while this
    one waited for it (its lock), and when."""
    who = "by another run while this one waited for it" if meanwhile else "already"
    return (
        f"redrive: dead letter {letter['id']} was redriven {who} (at "
        f"{_shown(letter)['redriven_at']}): nothing published for it"
    )


@ops.command(name="forget-voter")
@click.argument("voter")  # `-`: from standard input (_voter_given)
@click.option(
    "--expired",
    is_flag=True,
    hidden=True,
    help="(Taken and not needed: a voter id is forgotten at once, as a token is.)",
)
@pass_session
@_backend_errors
def forget_voter(session: Session, voter: str, expired: bool) -> None:
    """File every rating of one attendee under an id that does not name them (a deletion
    request), and refuse their passes from then on.

    VOTER is one of the attendee's voter tokens (from their phone: `v1.<voter id>.<expiry>.<sig>`,
    valid or expired: a renewed pass is the same voter), or its voter id; `-` reads it from
    standard input (asked for, not shown, on a terminal), off the command line, where the
    shell's history keeps it and `ps` shows it: whoever holds the token votes as the attendee
    until the mark is set, and their id finds the ratings filed away. First the voter is
    marked forgotten: every pass of theirs, the renewed ones too, is refused from that moment
    at POST /ratings (401 forgotten-voter) and renews nothing at POST /voters (a new anonymous
    voter's pass instead), so no changed mind of theirs counts beside the vote filed away. Then the ratings stay and every count with them; nothing links
    them to the token any more: the event store, the outbox, the dead letters and the read
    model's votes are changed together. Refused for a token the voter-token key did not sign
    (VOTER_TOKEN_KEY, or VOTER_TOKEN_SECRET_ARN: the stack's VoterTokenSecretArn output; needed
    for a token; with neither and the event store on this machine, the local runtime's own, from
    its data folder), and, the mark set, while a rating of theirs waits in the outbox or is stored
    and not yet counted, or while the read model is lost (Redis flushed or restarted empty, and
    no rebuild running: `ops rebuild` first); run it when no batch waits for `ops replay` either
    (ProjectorFailuresAlarm OK): a rating of theirs sent just before the mark and counted after
    the run is counted beside the others until it is run again and `ops rebuild` follows. The
    ratings topic keeps its copies until its retention deletes them. A voter id that names no
    stored rating (a typo?) is marked all the same, and said so: check it, or give the pass.

    Exit status: 0 done; 3 NOT finished: the voter is kept as forgotten in PostgreSQL but Redis
    could not be marked (unreachable, paused, full): their pass is refused meanwhile (the API
    asks PostgreSQL while Redis cannot run its admission), and may rate once Redis takes
    writes again, until RelayFunction's next run marks them or the command is run again (as it
    should be); 1 another refusal (said); 2 a VOTER not taken."""
    from talkrate import wiring
    from talkrate.errors import TalkrateError
    from talkrate.events import MAX_VOTER_ID_LENGTH, VOTER_ID_PATTERN
    from talkrate.voters import forgotten_id, read_token

    del expired  # an older runbook's flag: a voter id needs no word on its expiry any more
    voter = _voter_given(voter)
    read = read_token(voter)
    if read is not None:
        _require_signed(voter)
        voter_id, _ = read
    elif voter.startswith("v1."):
        raise BadInput("VOTER is not a whole voter token (`v1.<voter id>.<expiry>.<signature>`)")
    else:
        if len(voter) > MAX_VOTER_ID_LENGTH or not re.fullmatch(VOTER_ID_PATTERN, voter):
            raise BadInput("VOTER is neither a voter token nor a voter id")
        voter_id = voter
    pseudonym = forgotten_id(voter_id)
    say = _say("forget-voter", output.errors if session.as_json else None)
    store, model = wiring.event_store(), _read_model()
    if read is None:
        _refuse_a_mistyped_case(store, voter_id)
    # The mark first, whatever follows: from now on no pass of theirs (the one handed over, an
    # older or a renewed one) rates or renews, so nothing of theirs is counted under their id
    # once it is filed away. A run refused below is run again; the mark stays. PostgreSQL's
    # before Redis's: the API asks it when Redis cannot say (down, or its marks lost), and a
    # rebuild writes Redis's again from it.
    store.forget(pseudonym)
    try:
        wiring.request_limiter().bar(pseudonym)
    except TalkrateError as error:
        raise ForgetNotFinished(
            "NOT finished: the voter is kept as forgotten in PostgreSQL, but Redis could not "
            f"be marked ({error}). This pass may rate once Redis takes writes again, until "
            "the mark is set: run the command again once Redis answers (RelayFunction's next "
            "run, within a minute of Redis answering, sets the mark too); "
            f"{_filed_away_so_far(store, voter_id, pseudonym)}"
        ) from None
    store.marked([pseudonym])
    waiting = store.pending_of_voter(voter_id)
    if waiting:
        # The relay may be publishing it this moment, under the old id.
        raise BackendError(
            f"nothing changed: {output.counted(waiting, 'rating')} of this voter "
            f"{'waits' if waiting == 1 else 'wait'} in the outbox for Kafka; run it again once "
            "the relay has published them"
        )
    # The rebuild's lock: a rebuild reading the event store meanwhile would write the old id
    # back into the read model. The projector's batches wait meanwhile, as for a rebuild.
    if not model.lock_for_rebuild(by="forget-voter"):
        raise BackendError("a rebuild of the read model is running: try again once it is done")
    try:
        # A read model lost (Redis flushed or restarted empty; none being rebuilt: the lock is
        # ours) counts none of the voter's ratings: no batch to wait for, as said below.
        if not model.is_built():
            raise BackendError(
                "nothing changed: the read model is lost (it is not built and no rebuild is "
                "running: Redis flushed or restarted empty): `talkrate ops rebuild` rebuilds it "
                "from the event store; run this again then"
            )
        # A batch stored and not yet applied (the projector retries it) would count its record,
        # which names the voter, beside the vote filed away: refused until it is counted.
        uncounted = _not_yet_counted(store, model, voter_id)
        if uncounted:
            raise BackendError(
                f"nothing changed: {output.counted(uncounted, 'rating')} of this voter "
                f"{'is' if uncounted == 1 else 'are'} stored and not yet counted (a batch the "
                "projector is retrying); run it again once the projector has caught up"
            )
        # The talks of both ids, read under the lock: a rating of the voter counted after an
        # earlier run (under the old id, in the read model only) is on a talk of the new one.
        talks = sorted({*store.talks_voted_by(voter_id), *store.talks_voted_by(pseudonym)})
        # The read model first: stopped in between, the event store still names the voter, and
        # the command run again finds them and finishes under the same id.
        votes, doubled = model.rename_voter(voter_id, pseudonym, talks)
        if not model.hold_rebuild_lock():
            raise BackendError(
                "the rebuild's lock ran out before the event store was changed: run the "
                "command again (it finishes what this run began)"
            )
        events, outbox, letters = store.rename_voter(voter_id, pseudonym)
        # What the read model counts of those talks against what the event store does: a run
        # stopped after the read model's step (its merge told nothing since) shows here.
        # (A batch the lock held back, stored and not yet counted, shows too: a rebuild then is
        # only more work.)
        doubled += sum(
            model.histogram(talk).counts != store.histogram(talk).counts for talk in talks
        )
        # And a batch stored since the check above, renamed with the rest, still carries the
        # old id to the read model when it is retried: equal counts do not show it.
        doubled += _not_yet_counted(store, model, pseudonym)
        # Every stored rating of theirs, now filed away (by this run or an earlier one).
        found = store.ratings_of_voter(pseudonym)
    finally:
        model.unlock_after_rebuild()
    document = {
        "events": events,
        "found": found,
        "talks": len(talks),
        "votes": votes,
        "outbox": outbox,
        "deadLetters": letters,
        "rebuildNeeded": bool(doubled),
    }
    if not (found or votes or outbox or letters):
        # Marked all the same (right for a voter who has not rated yet), but an id mistyped, or
        # one no pass carries, is marked just as well: said beside --json's document too (on
        # stderr), so that an operator answering a deletion request does not take it for done.
        for line in _nothing_of_the_voter_stored(None if read else voter_id):
            say(line)
    if session.as_json:
        output.emit_json(document)
    elif found and not (events or votes or outbox or letters):
        say(
            f"nothing left to file away: their {output.counted(found, 'stored rating')} "
            f"{'was' if found == 1 else 'were'} filed under {pseudonym} by an earlier run; "
            "their passes are refused"
        )
    elif found or votes or outbox or letters:
        say(
            f"{output.counted(events, 'rating')} of {output.counted(len(talks), 'talk')}, "
            f"{output.counted(outbox, 'outbox entry', 'outbox entries')} and "
            f"{output.counted(letters, 'dead letter')} filed under {pseudonym}; the ratings "
            "topic keeps its copies until its retention deletes them"
        )
    if doubled:
        # A rating of theirs came after an earlier run, and was counted as another voter's, or
        # an earlier run stopped half-way.
        say(
            "the read model does not count these talks as the event store does (a rating of "
            "this voter counted after an earlier run, or a run stopped half-way): run "
            "`talkrate ops rebuild` to count their newest rating once"
        )


STDIN_LIMIT = 65536  # what `forget-voter -` reads of a pipe at most


def _voter_given(voter: str) -> str:
    """The VOTER of `ops forget-voter`: `-` reads it from standard input, asked for without
    echo on a terminal, else its one word; one given on the command line is taken as ever, and
    said to be kept where the shell's history and `ps` show it (never repeated)."""
    if voter != "-":
        output.say_error(
            as_run(
                "forget-voter: VOTER was given on the command line, where the shell's history "
                "keeps it and `ps` shows it while this runs; `talkrate ops forget-voter -` reads "
                "it from standard input (asked for, not shown, on a terminal)"
            )
        )
        return voter
    if sys.stdin.isatty():
        import getpass

        try:
            given = getpass.getpass("Voter token or voter id (not shown): ", stream=sys.stderr)
        except EOFError:
            given = ""
    else:
        given = sys.stdin.read(STDIN_LIMIT)  # (a pass is some 100 characters)
    words = given.split()
    if not words:
        raise BadInput("forget-voter: no VOTER on standard input (a voter token or voter id)")
    if len(words) > 1:
        # (two passes pasted, or a file of them: which one was meant is not guessed)
        raise BadInput(
            f"forget-voter: standard input holds {len(words)} words; one VOTER at a time "
            "(a voter token or voter id): nothing changed"
        )
    return words[0]


# The voter id of a pass the API hands out (`v1.<voter id>.…`): 32 lower-case hex digits.
ISSUED_VOTER_ID = r"[0-9a-f]{32}"
ISSUED_VOTER_ID_SAID = "a pass's voter id is 32 lower-case hex digits"


def _nothing_of_the_voter_stored(voter_id: str | None) -> list[str]:
    """What `ops forget-voter` says when no rating of the voter is stored, nor anything else of
    theirs: of a pass (`voter_id` None) that they have not rated; of a voter id, that it names
    no stored rating, and how to check it (a typo is marked as readily as a real id)."""
    if voter_id is None:
        return [
            "no rating of this voter is stored, so none was filed away (they have not rated); "
            "their passes are refused from now on"
        ]
    shape = (
        ""
        if re.fullmatch(ISSUED_VOTER_ID, voter_id)
        else f"; {ISSUED_VOTER_ID_SAID}, and {voter_id} is not one"
    )
    return [
        f"no rating of voter id {voter_id} is stored, so none was filed away (the id is marked "
        "forgotten all the same: a pass carrying it is refused)",
        "check the id: it is the second part of the attendee's pass, "
        f"v1.<voter id>.<expiry>.<signature>{shape}; giving their whole pass is the sure way",
    ]


def _refuse_a_mistyped_case(store: Any, voter_id: str) -> None:
    """Refuse, before anything is marked, a pass's voter id typed with capitals that names no
    stored rating while its lower-case form does: ids are compared exactly, and a pass's are
    lower-case, so the attendee's ratings would stay linked to them under a run that said it was
    done. Another producer's ids (not 32 hex digits) are taken as they are, whatever their case."""
    lower = voter_id.lower()
    if not re.fullmatch(ISSUED_VOTER_ID, lower):
        return  # another producer's id: its cases may be two voters
    if lower == voter_id or store.talks_voted_by(voter_id) or store.pending_of_voter(voter_id):
        return
    if store.talks_voted_by(lower) or store.pending_of_voter(lower):
        raise BadInput(
            f"VOTER names no stored rating, and {lower} (its lower-case form) does: voter ids "
            f"are compared exactly ({ISSUED_VOTER_ID_SAID}); run it with {lower}"
        )


def _filed_away_so_far(store: Any, voter_id: str, pseudonym: str) -> str:
    """What a forget stopped before its filing away says of the voter's ratings: the event
    store (which answered a moment before) still names them, or an earlier run filed them away
    (the command run again, Redis down this time)."""
    try:
        named = store.talks_voted_by(voter_id)
        filed = not named and store.talks_voted_by(pseudonym)
    except Exception:  # PostgreSQL stopped answering meanwhile: words true either way
        return "this run filed none of their ratings away"
    if named:
        return "none of their ratings is filed away yet"
    if filed:
        return (
            "their stored ratings were filed away by an earlier run (this run changed none of them)"
        )
    return "no rating of theirs is stored (nothing to file away)"


@ops.command(name="forgotten-marks")
@pass_session
@_backend_errors
def forgotten_marks(session: Session) -> None:
    """Bring the forgotten voters' marks in Redis and PostgreSQL's forgotten_voters in line.

    Copies into forgotten_voters every voter Redis holds a mark of and PostgreSQL does not
    keep (a voter a release from before the table, or one run during a rollback, forgot before
    any rating of theirs was stored: the event store has no `forgotten-` id of theirs, so no
    schema apply fills them in), then sets the marks PostgreSQL keeps and Redis does not yet,
    and those Redis lost after they were set (RelayFunction does both every minute too). Run
    it once after upgrading from a release before 2026-12-06 and after rolling forward past a
    rollback. Idempotent; it reads every key of Redis's (a SCAN), so it is an operator's step,
    not a scheduled one."""
    from talkrate import wiring
    from talkrate.errors import BackendUnavailable
    from talkrate.relay import mark_forgotten_voters, restore_lost_marks

    say = _say("forgotten-marks", output.errors if session.as_json else None)
    _read_model()  # RATINGS_CONNECTION readable as written, before anything is read
    limiter, store = wiring.request_limiter(), wiring.event_store()
    held = limiter.forgotten_marks()
    copied = store.keep_forgotten(held) if held else 0
    marked = 0
    while batch := mark_forgotten_voters(store, limiter):
        marked += batch
    lost = restore_lost_marks(store, limiter)
    if lost.refused:
        raise BackendUnavailable(
            f"{output.counted(lost.refused, 'mark')} Redis had lost could not be set again "
            f"({lost.reason}); {output.counted(lost.restored, 'mark')} set again before it"
        )
    if session.as_json:
        output.emit_json(
            {"redisMarks": len(held), "copied": copied, "marked": marked, "restored": lost.restored}
        )
        return
    again = f"; {output.counted(lost.restored, 'mark')} Redis had lost set again"
    say(
        f"{output.counted(len(held), 'mark')} in Redis, {copied} of them copied into "
        f"forgotten_voters; {output.counted(marked, 'mark')} set in Redis"
        + (again if lost.restored else "")
    )


def _require_signed(token: str) -> None:
    """Refuse a token this deployment did not sign: its expiry would be taken on its word, and
    an attendee who edited it into the past would be forgotten while their token still rates
    (their next rating then counting beside the vote filed away).

    No key configured and the event store on this machine: the local runtime's own key, as the
    admin commands take its organiser token (from its data folder, never printed)."""
    from talkrate import wiring
    from talkrate.errors import VoterTokensUnavailable

    try:
        signed = wiring.voter_tokens().signed(token)  # (a secret is read here)
    except VoterTokensUnavailable as error:
        local = _local_voter_key()
        if local is None:
            raise BadInput(
                f"nothing changed: the token's signature cannot be checked ({error}): set "
                "VOTER_TOKEN_KEY, or VOTER_TOKEN_SECRET_ARN to the stack's VoterTokenSecretArn "
                "output, as the API has it. A token's expiry is not taken on its word"
                + _where_local_key_is()
            ) from None
        key, path = local
        from talkrate.voters import VoterTokens

        if not VoterTokens(key, timedelta(hours=1)).signed(token):
            raise BadInput(
                f"nothing changed: the token's signature does not match the local runtime's "
                f"voter-token key ({path}, taken as VOTER_TOKEN_KEY is not set): a token of "
                "another runtime or deployment, or edited by hand. For a deployment reached "
                "through a tunnel, set VOTER_TOKEN_SECRET_ARN to its stack's "
                "VoterTokenSecretArn output (or VOTER_TOKEN_KEY to its key)"
            ) from None
        return
    if not signed:
        raise BadInput(
            "nothing changed: the token's signature does not match this deployment's voter-token "
            "keys: a token edited by hand, another deployment's, or one signed with a key since "
            "rotated away. For that one, give its voter id instead of the token (the part "
            "after `v1.`, up to the next dot)"
        )


def _event_store_is_local() -> bool:
    """Whether TALKS_CONNECTION names a PostgreSQL on this machine (loopback, or a socket)."""
    import psycopg2
    from psycopg2.extensions import parse_dsn

    from talkrate.config import load_settings

    try:
        host = parse_dsn(load_settings().talks_connection).get("host") or ""
    except psycopg2.ProgrammingError:  # a DSN it cannot read: not taken for a local one
        return False
    return all(h in ("127.0.0.1", "localhost", "::1") or h.startswith("/") for h in host.split(","))


def _local_voter_key() -> tuple[bytes, Path] | None:
    """The local runtime's voter-token key and where it is kept (its data folder's
    voter-token.key: TALKRATE_LOCAL_DATA, else .local/ in this checkout), when the event store
    is on this machine and the key is there; else None."""
    from talkrate_cli.settings import local_data_dir
    from talkrate_local.dev_secrets import VOTER_KEY_FILE

    if not _event_store_is_local():
        return None
    path = local_data_dir() / VOTER_KEY_FILE
    try:
        key = path.read_text().strip()
    except OSError:
        return None
    return (key.encode(), path) if key else None


def _where_local_key_is() -> str:
    """For the event store on this machine: where the local runtime would keep its key."""
    if not _event_store_is_local():
        return ""
    from talkrate_cli.settings import local_data_dir
    from talkrate_local.dev_secrets import VOTER_KEY_FILE

    path = local_data_dir() / VOTER_KEY_FILE
    return (
        f". A local runtime keeps its own in {path} (none there: TALKRATE_LOCAL_DATA names the "
        f'--data-dir it was given), or `export VOTER_TOKEN_KEY="$(cat {path})"`'
    )


def _not_yet_counted(store: Any, model: Any, voter_id: str) -> int:
    """How many stored ratings of the voter the read model has not applied yet (by where each
    was first projected from)."""
    return sum(
        1
        for talk, partition, offset in store.positions_of_voter(voter_id)
        if not model.has_counted(talk, partition, offset)
    )


@ops.command()
@click.option(
    "--limit",
    type=click.IntRange(1),
    default=500,
    show_default=True,
    help="Publish at most this many entries.",
)
@click.option("--new-topic", is_flag=True, help=NEW_TOPIC_HELP)
@pass_session
@_backend_errors
def relay(session: Session, limit: int, new_topic: bool) -> None:
    """Publish what waits in the outbox now (entries another relay run holds are left to it).

    Refused, nothing published, when the projector's consumer group (PROJECTOR_CONSUMER_GROUP)
    has committed no offset of RATINGS_TOPIC (unless --new-topic): the ratings would go where
    the stack's projector does not read. Asked only when an entry waits."""
    from talkrate import wiring
    from talkrate.config import load_settings
    from talkrate.relay import relay_outbox

    publisher: Any = wiring.rating_publisher()
    if not new_topic:
        publisher = _ConsumedFirst(publisher, load_settings())
    result = relay_outbox(wiring.outbox(), publisher, limit)
    told = f"relay: published {result.published}, still pending {result.pending}"
    document = {
        "published": result.published,
        "pending": result.pending,
        "oldestPendingSeconds": result.oldest_pending_seconds,
        "streamFailed": result.stream_failed,
        "heldElsewhere": result.held_elsewhere,
    }
    if result.stream_failed:
        raise CliError(
            f"{told}: the event stream did not acknowledge the next one; try again",
            result=document,
        )
    if session.as_json:
        output.emit_json(document)
    else:
        output.console.print(f"{told}{_why_pending(result.pending, result.held_elsewhere)}")


def _why_pending(pending: int, held: int | None) -> str:
    """Why entries still wait after a relay the stream did not fail: another run holds them
    (it publishes them), or this one could not take them (more than --limit, or written, or
    let go by another run, since it began, or held a moment by `ops forget-voter`)."""
    if not pending:
        return ""
    if held is None:
        return ": more than --limit wait; run it again"
    free = pending - held
    why = []
    if held:
        why.append(f"{held} held by another relay run, which publishes them")
    if free:
        why.append(
            f"{free} beyond --limit, written since it began or held a moment by another "
            "command: run it again for them"
        )
    return ": " + "; ".join(why)


@ops.command()
@click.option(
    "--failure", help="An on-failure report (a ProjectorFailures message body); - for stdin."
)
@click.option("--topic", help="The topic of the offsets to replay.")
@click.option("--partition", type=click.IntRange(0), help="The topic's partition.")
@click.option("--first", type=click.IntRange(0), help="First offset.")
@click.option("--last", type=click.IntRange(0), help="Last offset (inclusive).")
@pass_session
@_backend_errors
def replay(
    session: Session,
    failure: str | None,
    topic: str | None,
    partition: int | None,
    first: int | None,
    last: int | None,
) -> None:
    """Apply records the projector skipped after Lambda gave up on their batch, or that an
    event store restored from a backup lost (idempotent: it says how many were new).

    Give --failure REPORT, or --topic, --partition, --first and --last; not both. The rebuild
    that ends it waits while the event store still lacks offsets of another span the read
    model applied: the records are stored, and the replay of that span rebuilds. Refused, nothing
    stored, when RATINGS_TOPIC names a topic the read model has applied no record of while it has
    applied other topics' (that rebuild would compare its positions)."""
    from talkrate import wiring
    from talkrate.adapters.kafka_stream import client_options
    from talkrate.config import load_settings
    from talkrate.rebuild import OffsetRange
    from talkrate_cli.operations.replay import (
        StoredNotRebuilt,
        read_failure,
        read_from_kafka,
        require_held,
    )
    from talkrate_cli.operations.replay import (
        replay as apply_replay,
    )

    span = {"--topic": topic, "--partition": partition, "--first": first, "--last": last}
    given = [name for name, value in span.items() if value is not None]
    if failure is not None and given:
        # The report names its own offsets: a span beside it would be dropped without a word.
        raise click.UsageError(
            f"give --failure REPORT, or --topic, --partition, --first and --last, not both "
            f"(the report names its own offsets: {', '.join(given)} would be ignored)"
        )
    if failure is None and len(given) < len(span):
        missing = ", ".join(name for name in span if name not in given)
        raise click.UsageError(
            "give --failure REPORT, or --topic, --partition, --first and --last"
            + (f" ({missing} missing)" if given else "")
        )
    if failure is not None:
        try:
            text = sys.stdin.read() if failure == "-" else Path(failure).read_text()
            report = read_failure(json.loads(text))
        except OSError as error:
            raise BadInput(f"replay: {failure}: {error.strerror}") from None
        except (ValueError, KeyError, TypeError) as error:
            raise BadInput(f"replay: {failure}: {error}") from None
        ranges, records = report.ranges, report.records
    else:
        if int(last or 0) < int(first or 0):
            raise click.UsageError(f"--last ({last}) comes before --first ({first})")
        ranges = [OffsetRange(str(topic), int(partition or 0), int(first or 0), int(last or 0))]
        records = []
    # With --json the progress goes to stderr and the result is the one document on stdout.
    say = _say("replay", output.errors if session.as_json else None)
    say(", ".join(str(r) for r in ranges))
    store, model = wiring.event_store(), _read_model()
    # Before anything is read or stored: replayed events stored in another event store would
    # count nowhere, and the rebuild that follows would empty the read model's counts.
    settings = load_settings()
    _require_same_store(store, model, settings.where(), "replay")
    if records:  # their positions must be the named partitions': they become applied offsets
        require_held(client_options(settings), ranges, records)
    else:
        records = read_from_kafka(client_options(settings), ranges)
    # (after Kafka answered: a backend that is down is said first, as ever)
    _require_topic_applied(model, settings.where(), REPLAYED, "nothing stored")
    try:
        result = apply_replay(
            records, store, model, progress=say, topic=settings.ratings_topic, ranges=ranges
        )
    except StoredNotRebuilt as error:
        raise BackendError(
            str(error),
            result={"ranges": [str(r) for r in ranges], "records": len(records)}
            | error.result.document(),
        ) from None
    if session.as_json:
        output.emit_json(
            {
                "ranges": [str(r) for r in ranges],
                "records": result.records,
                **result.document(),
                "events": result.events,
                "talks": result.histograms,
            }
        )
        return
    say(
        f"{result.records} records replayed; the event store holds {result.events} events over "
        f"{result.histograms} talks"
    )
