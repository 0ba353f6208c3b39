"""PostgreSQL: the talk catalog, the event store, the outbox and the dead letters."""

from __future__ import annotations

import functools
import io
import json
import re
import select
import sys
import threading
import time
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from importlib import resources
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import psycopg2
import psycopg2.errors
import psycopg2.extensions
import psycopg2.extras
import psycopg2.sql

from talkrate.errors import (
    BackendUnavailable,
    IdempotencyKeyReused,
    SchemaBehind,
    TalkChanged,
    TalkConflict,
)
from talkrate.events import Rating, WrittenRecord, unix_ms
from talkrate.observability import correlated, logger
from talkrate.projected import (
    DeadLetter,
    OutboxEntry,
    ProjectedRating,
    ProjectionBatch,
    ReadModelState,
    RelayResult,
    Step,
    retired_topic,
)
from talkrate.values import (
    RATING_VALUES,
    Histogram,
    KeptAnswer,
    Precondition,
    RatingWindow,
    Saved,
    Talk,
    fingerprint,
)

if TYPE_CHECKING:
    from talkrate.ports import Publishable

CONNECT_TIMEOUT_SECONDS = 3
# A refused login reads the connection string again (a rotated password) at most this often, so
# that a password that is simply wrong does not turn every request into a Secrets Manager call.
REREAD_AFTER_SECONDS = 60.0
# What PostgreSQL (and RDS Proxy) say when a login's password or IAM token is refused (28P01).
_LOGIN_REFUSED = re.compile(r"password authentication failed|PAM authentication failed")
T = TypeVar("T")
Cursor = psycopg2.extensions.cursor


class PostgresTimedOut(BackendUnavailable):
    """PostgreSQL took the statement but did not answer within the database's bound."""


class _BoundedCursor(psycopg2.extensions.cursor):
    """A cursor of a bounded connection: each statement waits for its answer until the
    connection's `deadline`, that of the call it is part of (`_answered`)."""

    def execute(self, query: Any, vars: Any = None) -> None:
        super().execute(query, vars)
        _answered(self.connection)


class _BoundedConnection(psycopg2.extensions.connection):
    """An asynchronous connection (psycopg2's `async_`): libpq sends and returns, and
    `_answered` waits on the socket until a deadline. Its cursors are `_BoundedCursor`s."""

    answer_within: float = CONNECT_TIMEOUT_SECONDS  # the bound of one call, in seconds
    deadline: float = 0.0  # time.monotonic() by which the current call must be answered


# How long a call given up on waits for its cancel request to be taken, before it answers: a
# server that runs takes it at once, so the statement ends before the caller's 503 is out (and
# before Lambda freezes the environment with the request still unsent); one that is stopped
# takes it when it runs again.
CANCEL_WAIT_SECONDS = 0.5


def _answered(connection: psycopg2.extensions.connection, cancel: bool = True) -> None:
    """Wait until the server has answered what the connection sent, until its deadline.

    libpq has no timeout for a query, a server-side `statement_timeout` needs a server that runs
    (and a SET that would pin the connection to one backend behind RDS Proxy), and TCP gives up
    only when the peer's kernel stops acknowledging. So the bound is kept here: on an
    asynchronous connection psycopg2 hands the waiting to its caller. When the time is up the
    statement is cancelled and the connection closed (`_give_up`) and PostgresTimedOut raised:
    the caller answers as for an unreachable database.
    """
    deadline: float = connection.deadline  # type: ignore[attr-defined]
    while True:
        state = connection.poll()
        if state == psycopg2.extensions.POLL_OK:
            return
        left = deadline - time.monotonic()
        if left <= 0:
            if cancel:
                _give_up(connection)
            else:
                connection.close()
            bound = connection.answer_within  # type: ignore[attr-defined]
            raise PostgresTimedOut(f"PostgreSQL did not answer within {bound:g} s")
        # poll(2), not select(2): a process with a thousand sockets open has descriptors
        # select cannot watch.
        waiting = select.poll()
        waiting.register(
            connection.fileno(),
            select.POLLIN if state == psycopg2.extensions.POLL_READ else select.POLLOUT,
        )
        waiting.poll(max(1, int(left * 1000)))


def _give_up(connection: psycopg2.extensions.connection) -> None:
    """Cancel the statement out on the connection, and close the connection.

    The cancel request goes through libpq's PQcancel, called with ctypes on a thread of its own:
    it opens a connection of its own to the server and waits for its answer without a timeout,
    and psycopg2's `cancel()` holds the interpreter lock meanwhile, which would stop every thread
    of the process as long as the server does not answer. The caller waits at most
    CANCEL_WAIT_SECONDS for it. Cancelled, a statement waiting for a lock, or a write not yet
    committed, changes nothing; a server that is stopped takes the request when it runs again
    (a statement it had already committed stays). Closing ends the session, and any transaction
    left open in it.
    """
    cancelled = threading.Thread(
        target=_send_cancel, args=(_cancel_handle(connection),), name="postgres-cancel", daemon=True
    )
    connection.close()  # the cancel request needs only its handle, made above
    cancelled.start()
    cancelled.join(CANCEL_WAIT_SECONDS)


@functools.cache
def _libpq() -> Any:
    """libpq as psycopg2 loaded it (its symbols are found through psycopg2's own module)."""
    import ctypes

    import psycopg2._psycopg

    library = ctypes.CDLL(psycopg2._psycopg.__file__)
    library.PQgetCancel.restype = ctypes.c_void_p
    library.PQgetCancel.argtypes = [ctypes.c_void_p]
    library.PQcancel.restype = ctypes.c_int
    library.PQcancel.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
    library.PQfreeCancel.restype = None
    library.PQfreeCancel.argtypes = [ctypes.c_void_p]
    return library


def _cancel_handle(connection: psycopg2.extensions.connection) -> int | None:
    """libpq's cancel handle of the connection (the server's address, the session's key), or
    None when there is none to make (libpq not found: the statement is left to end by itself)."""
    try:
        handle: int | None = _libpq().PQgetCancel(connection.pgconn_ptr)
    except (OSError, AttributeError, psycopg2.Error):
        logger.warning("PostgreSQL: no cancel request can be made", exc_info=True)
        return None
    return handle


def _send_cancel(handle: int | None) -> None:
    """Send the cancel request and free its handle (ctypes lets go of the interpreter lock
    while libpq waits)."""
    if not handle:
        return
    import ctypes

    library = _libpq()
    reason = ctypes.create_string_buffer(256)
    try:
        if not library.PQcancel(handle, reason, len(reason)):
            logger.warning("PostgreSQL: the cancel request failed", extra={"reason": reason.value})
    finally:
        library.PQfreeCancel(handle)


class PostgresDatabase:
    """One lazily opened connection, reused while warm and reopened once when it has gone away."""

    def __init__(
        self,
        dsn: str,
        name: str = "talkrate",
        host: str | None = None,
        answer_within: float | None = None,
        reread: Callable[[], str | None] | None = None,
    ) -> None:
        self._dsn = dsn
        self._name = name
        # The connection string as its secret holds it now (None: not from a secret): read
        # when the server refuses the login, so a rotated password is taken up by a warm
        # environment at its next connection instead of failing until Lambda retires it.
        self._reread = reread
        self._reread_at = -REREAD_AFTER_SECONDS
        # Seconds a call (run, transaction, a first LISTEN) may wait for the server, its connect
        # and every statement included (None: as long as the server takes). A bounded connection
        # is asynchronous, which psycopg2 allows no COPY on: the event store stores a batch with
        # its checking INSERT there (the API never stores one).
        self._answer_within = answer_within
        # Replaces the DSN's host (an RDS Proxy endpoint in front of the same database).
        self._host_override: dict[str, Any] = {"host": host} if host else {}
        self._connection: psycopg2.extensions.connection | None = None
        self._lock = threading.Lock()
        self._channels: set[str] = set()  # LISTENed to on every connection
        self._opened = 0  # connections opened so far
        self._gap = False  # notifications may have been missed since the last notifications()

    def run(self, work: Callable[[Cursor], T]) -> T:
        """Run `work` with each statement committed on its own (autocommit: one round trip each).

        For single statements and idempotent sequences only: a dropped connection makes the whole
        of `work` run again.
        """
        with self._lock:
            deadline = self._call_deadline()
            for attempt in (1, 2):
                try:
                    with self._connect(deadline).cursor() as cursor:
                        return work(cursor)
                except (psycopg2.OperationalError, psycopg2.InterfaceError) as error:
                    self.close()
                    if attempt == 2:
                        raise BackendUnavailable(_unusable(error)) from error
        raise AssertionError("unreachable")  # pragma: no cover

    @contextmanager
    def transaction(
        self, mode: Literal["", "ISOLATION LEVEL REPEATABLE READ READ ONLY"] = ""
    ) -> Iterator[Cursor]:
        """One transaction around the caller's block (not retried: the block is not repeatable).

        `mode` is appended to BEGIN, e.g. "ISOLATION LEVEL REPEATABLE READ READ ONLY". A BEGIN
        that fails on a kept connection the server has since dropped (a restart, a failover) is
        sent once more on a new one, as `run` does: nothing of the block has run yet.
        """
        with self._lock:
            deadline = self._call_deadline()
            for attempt in (1, 2):
                try:
                    cursor = self._connect(deadline).cursor()
                    cursor.execute(f"BEGIN {mode}")
                    break
                except (psycopg2.OperationalError, psycopg2.InterfaceError) as error:
                    self.close()
                    if attempt == 2:
                        raise BackendUnavailable(_unusable(error)) from error
            try:
                yield cursor
                cursor.execute("COMMIT")
            except (psycopg2.OperationalError, psycopg2.InterfaceError) as error:
                self.close()
                raise BackendUnavailable(f"PostgreSQL failed: {error}") from error
            except BaseException:
                if not cursor.connection.closed:
                    cursor.execute("ROLLBACK")
                raise
            finally:
                cursor.close()

    def ping(self) -> bool:
        """True when the database answers."""
        try:
            return bool(self.run(lambda cursor: _fetch_one(cursor, "SELECT 1")))
        except BackendUnavailable:
            return False

    def notifications(self, channel: str) -> list[str] | None:
        """Payloads NOTIFYed on `channel` by any session since the last call, without a round trip.

        The first call starts listening. None means notifications may have been missed (no
        connection yet, the first call, or the connection was reopened): assume anything changed.
        """
        with self._lock:
            connection = self._connection
            if connection is None or connection.closed:
                # The caller drops what it knows; the next connection listens before any query.
                self._channels.add(channel)
                self._gap = False
                return None
            if channel not in self._channels:
                self._channels.add(channel)
                self._listen(self._connect(self._call_deadline()), channel)
                self._gap = True  # what the caller knows predates the listening
            try:
                connection.poll()  # reads what the server has sent; sends nothing
            except (psycopg2.OperationalError, psycopg2.InterfaceError):
                self.close()
                return None
            payloads = [n.payload for n in connection.notifies if n.channel == channel]
            connection.notifies[:] = [n for n in connection.notifies if n.channel != channel]
            missed, self._gap = self._gap, False
            return None if missed else payloads

    def _call_deadline(self) -> float | None:
        """When a call starting now must have its answers (None: unbounded)."""
        return None if self._answer_within is None else time.monotonic() + self._answer_within

    def _connect(self, deadline: float | None) -> psycopg2.extensions.connection:
        """The connection, opened when there is none; on a bounded one, the call's `deadline`
        set for its statements (and its opening, and the LISTENs a new one begins with)."""
        if self._connection is not None and not self._connection.closed:
            if deadline is not None:
                self._connection.deadline = deadline  # type: ignore[attr-defined]
            return self._connection
        options: dict[str, Any] = {
            "connect_timeout": CONNECT_TIMEOUT_SECONDS,
            "application_name": self._name,
            **self._host_override,
        }
        try:
            self._connection = self._open(deadline, options)
        except psycopg2.OperationalError as error:
            if not (_LOGIN_REFUSED.search(str(error)) and self._dsn_renewed()):
                raise
            self._connection = self._open(deadline, options)
        for channel in self._channels:
            self._listen(self._connection, channel)
        # A replaced connection heard nothing between its predecessor's end and now.
        self._gap = self._gap or self._opened > 0
        self._opened += 1
        return self._connection

    def _open(
        self, deadline: float | None, options: dict[str, Any]
    ) -> psycopg2.extensions.connection:
        if self._answer_within is None:
            connection = connect(self._dsn, **options)
            # Transactions are explicit (transaction()); a lone read costs one round trip.
            connection.autocommit = True
            return connection
        # asynchronous: autocommit by nature; libpq's connect_timeout is ours to keep
        assert deadline is not None  # every call of a bounded one starts a clock  # nosec B101
        return _connect_bounded(self._dsn, self._answer_within, deadline, options)

    def _dsn_renewed(self) -> bool:
        """After a refused login: whether the connection string read again from its secret is
        a new one (then taken), at most once every REREAD_AFTER_SECONDS."""
        now = time.monotonic()
        if self._reread is None or now - self._reread_at < REREAD_AFTER_SECONDS:
            return False
        self._reread_at = now
        try:
            dsn = self._reread()
        except Exception:  # Secrets Manager unreachable: the refused login is the answer
            logger.warning("PostgreSQL refused the login; its secret could not be read again")
            return False
        if not dsn or dsn == self._dsn:
            return False
        logger.warning("PostgreSQL refused the login: connecting with its secret's new value")
        self._dsn = dsn
        return True

    @staticmethod
    def _listen(connection: psycopg2.extensions.connection, channel: str) -> None:
        with connection.cursor() as cursor:
            cursor.execute(psycopg2.sql.SQL("LISTEN {}").format(psycopg2.sql.Identifier(channel)))

    def close(self) -> None:
        """Close the connection; the next use opens a new one."""
        if self._connection is not None:
            try:
                self._connection.close()
            finally:
                self._connection = None


# What the search takes for an apostrophe, as the web app does: straight, curly, the modifier
# letter apostrophe, a backtick, an acute accent.
APOSTROPHES = "'\u2019\u2018\u02bc`\u00b4"
_SELECT_TALK = (
    "SELECT id, title, speakers, track, room, starts_at, ends_at, revision, language, "
    "ratings_paused FROM talks"
)
# A talk is found when every word of the query is in its title, speakers, track or room, both
# with case, accents and apostrophes set aside as the web app's programme search sets them aside
# (web/js/pages/common.js): apostrophes out (%(apostrophes)s: APOSTROPHES), NFKD, every combining
# mark dropped (%(marks)s: `combining_marks()`), apostrophes out again; "Çelik" -> "celik",
# "Don't" (straight or curly) -> "dont".
_SEARCH_TALKS = """
SELECT id, title, speakers, track, room, starts_at, ends_at, revision, language, ratings_paused,
    count(*) OVER ()
FROM talks
WHERE (%(words)s::text[] IS NULL OR NOT EXISTS (
    SELECT 1 FROM unnest(%(words)s::text[]) AS word
    WHERE strpos(
        lower(translate(regexp_replace(normalize(translate(
            concat_ws(' ', title, array_to_string(speakers, ' '), track, room),
            %(apostrophes)s, ''), NFKD), %(marks)s, '', 'g'), %(apostrophes)s, '')),
        lower(translate(regexp_replace(normalize(translate(word, %(apostrophes)s, ''), NFKD),
            %(marks)s, '', 'g'), %(apostrophes)s, ''))) = 0))
  AND (%(track)s::text IS NULL OR track = %(track)s)
ORDER BY starts_at NULLS LAST, id
LIMIT %(limit)s OFFSET %(offset)s
"""


@functools.cache
def combining_marks() -> str:
    """A regular expression's class of every combining mark (Unicode's M categories, as the web
    app's `\\p{M}`: Hebrew points and Arabic vowels too), made once per process at its first
    search (about 0.2 s; 299 ranges), not at its cold start."""
    ranges: list[tuple[int, int]] = []
    for code in range(sys.maxunicode + 1):
        if unicodedata.category(chr(code))[0] == "M":
            if ranges and ranges[-1][1] == code - 1:
                ranges[-1] = (ranges[-1][0], code)
            else:
                ranges.append((code, code))
    return "[" + "".join(f"{chr(a)}-{chr(b)}" if a < b else chr(a) for a, b in ranges) + "]"


# (a talk added without saying whether its ratings are paused: not paused)
_INSERT_TALK = """
INSERT INTO talks (id, title, speakers, track, room, starts_at, ends_at, language, ratings_paused)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, COALESCE(%s, false))
"""
_CREATE_TALK = _INSERT_TALK + "ON CONFLICT (id) DO NOTHING RETURNING revision, ratings_paused"
# A POST /talks's Idempotency-Key: the rows older than its lifetime gone, then the key claimed
# (a concurrent request with the same key waits there until the first commits or rolls back).
_FORGET_OLD_TALK_REQUESTS = (
    "DELETE FROM talk_requests WHERE created_at < now() - make_interval(secs => %s)"
)
_CLAIM_TALK_REQUEST = (
    "INSERT INTO talk_requests (key_hash, request) VALUES (%s, %s) "
    "ON CONFLICT (key_hash) DO NOTHING RETURNING key_hash"
)
_KEPT_TALK_REQUEST = "SELECT request, status, headers, body FROM talk_requests WHERE key_hash = %s"
_KEEP_TALK_ANSWER = (
    "UPDATE talk_requests SET status = %s, headers = %s, body = %s WHERE key_hash = %s"
)
# NOTIFY payload: the id of a talk removed or replaced (its rating window may have moved, its
# ratings been paused or resumed).
CHANGES_CHANNEL = "talkrate_talk_changed"
_SAVE_TALK = (
    "WITH saved AS ("  # constant SQL joined to constants; the values are parameters  # nosec B608
    + _INSERT_TALK
    + """
ON CONFLICT (id) DO UPDATE SET title = EXCLUDED.title, speakers = EXCLUDED.speakers,
    track = EXCLUDED.track, room = EXCLUDED.room, starts_at = EXCLUDED.starts_at,
    ends_at = EXCLUDED.ends_at, language = EXCLUDED.language,
    ratings_paused = COALESCE(%s, talks.ratings_paused), revision = nextval('talk_revisions')
RETURNING id, (xmax = 0) AS created, revision, ratings_paused)
SELECT created, revision, ratings_paused, pg_notify(%s, id) FROM saved
"""
)
_UPDATE_TALK = """
UPDATE talks SET title = %s, speakers = %s, track = %s, room = %s, starts_at = %s, ends_at = %s,
    language = %s, ratings_paused = COALESCE(%s, ratings_paused),
    revision = nextval('talk_revisions')
WHERE id = %s RETURNING revision, ratings_paused
"""
# RETURNING gives the row as it was deleted, locked: the revision of the talk's last save, what
# its removal is announced with (after that save, before any that adds the talk again).
_DELETE_TALK = """
WITH removed AS (DELETE FROM talks WHERE id = %s RETURNING id, revision)
SELECT revision, pg_notify(%s, id) FROM removed
"""


class PostgresTalkCatalog:
    """TalkCatalog: the talks table."""

    def __init__(self, database: PostgresDatabase) -> None:
        self._db = database

    def exists(self, talk_id: str) -> bool:
        """True when the talk is in the catalog."""
        return self.rating_window(talk_id) is not None

    def rating_window(self, talk_id: str) -> RatingWindow | None:
        """The talk's start and end (either may be unset) and whether its ratings are paused,
        or None when there is no such talk."""
        row = self._db.run(
            lambda cursor: _fetch_one(
                cursor,
                "SELECT starts_at, ends_at, ratings_paused FROM talks WHERE id = %s",
                (talk_id,),
            )
        )
        return None if row is None else RatingWindow(row[0], row[1], bool(row[2]))

    def ping(self) -> bool:
        """True when the catalog answers."""
        return self._db.ping()

    def get(self, talk_id: str) -> Talk | None:
        """The talk, or None."""
        row = self._db.run(
            lambda cursor: _fetch_one(cursor, _SELECT_TALK + " WHERE id = %s", (talk_id,))
        )
        return None if row is None else _talk(row)

    def search(
        self, query: str | None, track: str | None, limit: int, offset: int
    ) -> tuple[list[Talk], int]:
        """A page of talks with every word of `query` in their title, speakers, track or room
        (case and accents aside), and how many match in all."""
        words = None if query is None else query.split()
        marks = combining_marks() if words else ""
        args: dict[str, Any] = {"words": words, "marks": marks, "track": track}
        args["apostrophes"] = APOSTROPHES
        args |= {"limit": limit, "offset": offset}
        rows = self._db.run(lambda cursor: _fetch_all(cursor, _SEARCH_TALKS, args))
        if rows:
            return [_talk(row[:-1]) for row in rows], int(rows[0][-1])
        if offset:  # past the end: the window function saw no row to count
            return [], self.search(query, track, 1, 0)[1]
        return [], 0

    def create(self, talk: Talk) -> int | None:
        """Add the talk: its revision, or None when the id is taken."""
        row = self._db.run(lambda cursor: _fetch_one(cursor, _CREATE_TALK, _row(talk)))
        return None if row is None else int(row[0])

    def create_once(
        self,
        talk: Talk,
        key: str,
        request: dict[str, Any],
        answer: Callable[[Talk], KeptAnswer],
        kept_seconds: int,
    ) -> tuple[KeptAnswer, bool]:
        """Add the talk under an Idempotency-Key (`key`, with its scope), in one transaction with
        the key's answer: (answer(the talk added), True) when it is added now; (the kept
        answer, False) when an earlier request with this key and this `request` added it, up
        to `kept_seconds` ago. IdempotencyKeyReused when the key was kept for another request,
        TalkConflict when the id is taken (nothing is kept for the key: a retry tries again).
        """
        import hashlib

        key_hash = hashlib.sha256(key.encode()).hexdigest()
        requested = fingerprint(request)
        # Before the transaction: a request refused (its rollback) forgets them all the same.
        self._db.run(lambda cursor: cursor.execute(_FORGET_OLD_TALK_REQUESTS, (kept_seconds,)))
        with self._db.transaction() as cursor:
            if _fetch_one(cursor, _CLAIM_TALK_REQUEST, (key_hash, requested)) is None:
                kept = _fetch_one(cursor, _KEPT_TALK_REQUEST, (key_hash,))
                if kept is None or kept[1] is None:  # (gone meanwhile: a retry claims it)
                    raise BackendUnavailable("an Idempotency-Key's record changed meanwhile")
                if kept[0] != requested:
                    raise IdempotencyKeyReused(key, "talk")
                return KeptAnswer(int(kept[1]), dict(kept[2] or {}), str(kept[3])), False
            row = _fetch_one(cursor, _CREATE_TALK, _row(talk))
            if row is None:
                raise TalkConflict(talk.id)  # (the key's claim is rolled back with it)
            given = answer(talk._replace(revision=int(row[0])))
            cursor.execute(
                _KEEP_TALK_ANSWER, (given.status, json.dumps(given.headers), given.body, key_hash)
            )
            return given, True

    def save(self, talk: Talk, precondition: Precondition | None = None) -> Saved:
        """Create or replace the talk: whether it was created, its new revision, and whether its
        ratings are paused (`talk.ratings_paused` None: as they were; not for a talk added).

        With a precondition, the talk's row is locked while it is checked against the revision
        it has (TalkChanged when it does not hold: nothing is changed). Every process listening
        for changes hears of it when it commits.
        """
        if precondition is None:
            row = self._db.run(
                lambda cursor: _fetch_one(
                    cursor, _SAVE_TALK, (*_row(talk), talk.ratings_paused, CHANGES_CHANNEL)
                )
            )
            assert row is not None  # an upsert returns its row  # nosec B101
            return Saved(bool(row[0]), int(row[1]), bool(row[2]))
        for _ in range(3):
            with self._db.transaction() as cursor:
                current = _locked_revision(cursor, talk.id, precondition)
                if current is None:
                    row = _fetch_one(cursor, _CREATE_TALK, _row(talk))
                    if row is None:
                        continue  # added by another request since: check again, on its row
                else:
                    row = _fetch_one(cursor, _UPDATE_TALK, (*_row(talk)[1:], talk.id))
                assert row is not None  # its row is locked: the update found it  # nosec B101
                cursor.execute("SELECT pg_notify(%s, %s)", (CHANGES_CHANNEL, talk.id))
                return Saved(current is None, int(row[0]), bool(row[1]))
        raise BackendUnavailable(f"talk {talk.id!r} kept changing while it was saved")

    def delete(self, talk_id: str, precondition: Precondition | None = None) -> int | None:
        """Remove the talk from the catalog (its ratings stay in the event store): the revision
        it had, or None when there was no such talk (TalkChanged when the precondition does not
        hold).

        The revision is the one of the row deleted, read under its lock: a save that committed
        before is that revision or an earlier one, a save that adds the talk again after takes a
        later one. Every process listening for changes hears of it when the deletion commits.
        """
        if precondition is None:
            row = self._db.run(
                lambda cursor: _fetch_one(cursor, _DELETE_TALK, (talk_id, CHANGES_CHANNEL))
            )
            return None if row is None else int(row[0])
        with self._db.transaction() as cursor:
            if _locked_revision(cursor, talk_id, precondition) is None:
                return None
            row = _fetch_one(cursor, _DELETE_TALK, (talk_id, CHANGES_CHANNEL))
            return None if row is None else int(row[0])

    def changed_since_last_call(self) -> set[str] | None:
        """Talks removed or replaced by any process since the last call (the first starts
        listening); None when changes may have been missed, so that whatever was remembered
        must be dropped."""
        removed = self._db.notifications(CHANGES_CHANNEL)
        return None if removed is None else set(removed)

    def ids_in_track(self, track: str) -> list[str]:
        """The ids of the talks of a track."""
        rows = self._db.run(
            lambda cursor: _fetch_all(cursor, "SELECT id FROM talks WHERE track = %s", (track,))
        )
        return [row[0] for row in rows]

    def titles(self, talk_ids: list[str]) -> dict[str, Talk]:
        """The talks of these ids that exist, by id."""
        rows = self._db.run(
            lambda cursor: _fetch_all(cursor, _SELECT_TALK + " WHERE id = ANY(%s)", (talk_ids,))
        )
        return {row[0]: _talk(row) for row in rows}


_RECORD_EVENTS = """
INSERT INTO rating_events
    (event_id, talk_id, value, occurred_at, topic, partition, "offset", voter_id)
SELECT * FROM unnest(%s::uuid[], %s::text[], %s::smallint[], %s::timestamptz[], %s::text[],
                     %s::integer[], %s::bigint[], %s::text[])
ON CONFLICT (event_id) DO NOTHING
RETURNING event_id::text, topic, partition, "offset"
"""
# The ratings that count: every rating without a voter, and each voter's latest per talk (a
# voter whose id reads like a rating's eventId is still another voter: `voter_id IS NULL` first).
_COUNTED = """
SELECT DISTINCT ON (talk_id, voter_id IS NULL, COALESCE(voter_id, event_id::text))
       talk_id, value, voter_id, occurred_at, event_id
FROM rating_events
ORDER BY talk_id, voter_id IS NULL, COALESCE(voter_id, event_id::text), occurred_at DESC,
         event_id DESC
"""
_COUNTED_FOR_TALK = """
SELECT value::text, count(*) FROM (
    SELECT DISTINCT ON (voter_id IS NULL, COALESCE(voter_id, event_id::text)) value
    FROM rating_events WHERE talk_id = %s
    ORDER BY voter_id IS NULL, COALESCE(voter_id, event_id::text), occurred_at DESC,
             event_id DESC
) AS counted GROUP BY value
"""
_FIRST_POSITIONS = """
SELECT event_id::text, topic, partition, "offset" FROM rating_events WHERE event_id = ANY(%s::uuid[])
"""
# Where copies of events stored before were delivered: a redelivery of a copy (the same
# position) finds its row there and changes nothing.
_RECORD_DUPLICATE_POSITIONS = """
INSERT INTO duplicate_positions (topic, partition, "offset", event_id)
SELECT * FROM unnest(%s::text[], %s::integer[], %s::bigint[], %s::uuid[])
ON CONFLICT (topic, partition, "offset") DO NOTHING
"""
# Each partition's last stored position: an event's, a dead letter's, or a duplicate's, but not
# a duplicate's a retirement left behind. The previous release's retire_topic (an older CLI's
# `ops topic-recreated`, a rolled-back stack) renamed the events' and dead letters' positions
# only, so a copy's row kept the live name with the old topic's offset, which a rebuild would
# take as the recreated topic's applied one. Such a row is told by its event, first stored
# under "<its topic> (retired <UTC time>)", and by being recorded before that time (a copy
# recorded after it, the relay publishing the entry again to the new broker, is the new
# topic's). The projector's usual COPY writes no duplicate: a probe of rating_events' eventId
# index for each of the few there are.
_LAST_POSITIONS = """
SELECT topic, partition, max("offset") FROM (
    SELECT topic, partition, "offset" FROM rating_events
    UNION ALL
    SELECT d.topic, d.partition, d."offset" FROM duplicate_positions AS d
    WHERE NOT EXISTS (
        SELECT 1 FROM rating_events AS e
        WHERE e.event_id = d.event_id
          AND left(e.topic, length(d.topic) + 10) = d.topic || ' (retired '
          AND d.recorded_at < (substring(e.topic FROM ' \\(retired ([0-9-]+ [0-9:.]+) UTC\\)$')
                               ::timestamp AT TIME ZONE 'UTC')
    )
    UNION ALL
    SELECT topic, partition, "offset" FROM dead_letters
) AS positions GROUP BY 1, 2
"""
_RECORD_DEAD_LETTERS = """
INSERT INTO dead_letters (topic, partition, "offset", key, value, reason)
SELECT * FROM unnest(%s::text[], %s::integer[], %s::bigint[], %s::bytea[], %s::bytea[], %s::text[])
ON CONFLICT (topic, partition, "offset") DO NOTHING
RETURNING partition, "offset"
"""
# The letters already stored where a batch's letters were not: a redelivery holds the same
# record, a topic deleted and created again (its offsets begin at 0 again) another one.
MAX_POSITIONS_LOGGED = 50  # the positions a warning names at most
_LETTERS_AT = """
SELECT partition, "offset", key, value FROM dead_letters
WHERE topic = %s AND (partition, "offset") IN (SELECT * FROM unnest(%s::integer[], %s::bigint[]))
"""


_COPY_EVENTS = (
    'COPY rating_events (event_id, talk_id, value, occurred_at, topic, partition, "offset", '
    "voter_id) FROM STDIN"
)
# COPY's text format: a backslash, tab, newline or carriage return inside a field is escaped.
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_new_events(cursor: Cursor, ratings: list[ProjectedRating]) -> bool:
    """Store events none of which is stored yet, with one COPY; False (nothing stored) otherwise.

    COPY is several times faster than an INSERT that checks each row, and is all or nothing: a
    single stored eventId makes it fail whole, and the caller takes the checking INSERT instead.
    Run it as a statement of its own (autocommit), so that failure leaves no transaction aborted.
    Talk and voter ids cannot hold a tab, newline or backslash (their patterns); topics can.
    An asynchronous (bounded) connection has no COPY: False there too.
    """
    if cursor.connection.async_:
        return False
    topics = {r.topic: r.topic.translate(_COPY_ESCAPES) for r in ratings}
    lines = []
    for r in ratings:
        event = r.event
        voter = "\\N" if event.voter_id is None else event.voter_id  # \N: NULL
        lines.append(
            f"{event.event_id}\t{event.talk_id}\t{event.value}\t{event.occurred_at.isoformat()}\t"
            f"{topics[r.topic]}\t{r.partition}\t{r.offset}\t{voter}\n"
        )
    try:
        cursor.copy_expert(_COPY_EVENTS, io.StringIO("".join(lines)))
    except psycopg2.errors.UniqueViolation:
        return False
    return True


def _tell_letters_held_elsewhere(
    cursor: Cursor, letters: list[DeadLetter], stored: set[tuple[int, int]]
) -> None:
    """Warn of a letter not stored because another record's letter holds its position (the
    topic deleted and created again before `ops topic-recreated`): it is in Kafka still, and
    `ops replay` of its position after `ops topic-recreated` stores it. Positions only: a
    record may name a voter."""
    for topic in {d.topic for d in letters}:
        waiting = [d for d in letters if d.topic == topic and (d.partition, d.offset) not in stored]
        if not waiting:
            continue
        cursor.execute(
            _LETTERS_AT, (topic, [d.partition for d in waiting], [d.offset for d in waiting])
        )
        held = {(int(p), int(o)): (_bytes(k), _bytes(v)) for p, o, k, v in cursor.fetchall()}
        other = [
            f"{topic}-{d.partition}@{d.offset}"
            for d in waiting
            if not _same_record(held.get((d.partition, d.offset)), d)
        ]
        if other:
            logger.warning(
                "dead letters not stored: another record's letter holds their position (the "
                "topic deleted and created again); after `ops topic-recreated`, `ops replay` of "
                "these positions stores them",
                extra={"positions": other[:MAX_POSITIONS_LOGGED], "count": len(other)},
            )


def _first_seen_here(first: dict[str, tuple[str, int, int]], rating: ProjectedRating) -> bool:
    """Whether the rating's event was first stored from the rating's own position (`first`: each
    eventId's first position): else the rating is a copy, a duplicate."""
    return first.get(str(rating.event.event_id)) == (rating.topic, rating.partition, rating.offset)


def _same_record(held: tuple[bytes | None, bytes | None] | None, letter: DeadLetter) -> bool:
    """Whether the letter stored at a position is this record's: the same key and value, or a
    value `ops forget-voter` rewrote (its voter filed under a `forgotten-` id) with the same key.
    A record of the topic created again is another one."""
    if held is None:
        return True  # none there now (a retirement meanwhile): nothing to tell
    key, value = held
    if (key, value) == (letter.key, letter.value):
        return True
    return key == letter.key and value is not None and b"forgotten-" in value


class PostgresEventStore:
    """EventStore: rating_events (unique by eventId), duplicate_positions (where copies of
    stored events were delivered) and dead_letters (unique by position)."""

    def __init__(self, database: PostgresDatabase) -> None:
        self._db = database

    def record(self, batch: ProjectionBatch) -> ProjectionBatch:
        """Store the batch's events and dead letters; mark events first seen elsewhere.

        An event is counted where it was first stored: a redelivery of that same record (same
        position) is not a duplicate, while the same eventId at another position is one, whose
        position is kept among the duplicates' (the stored positions of a partition reach as far
        as the read model applies).
        """
        ratings, letters = batch.ratings, batch.dead_letters

        def store_letters(cursor: Cursor) -> None:
            if not letters:
                return
            cursor.execute(
                _RECORD_DEAD_LETTERS,
                (
                    [d.topic for d in letters],
                    [d.partition for d in letters],
                    [d.offset for d in letters],
                    [_binary(d.key) for d in letters],
                    [_binary(d.value) for d in letters],
                    [d.reason for d in letters],
                ),
            )
            stored = {(int(p), int(o)) for p, o in cursor.fetchall()}
            if len(stored) < len(letters):
                _tell_letters_held_elsewhere(cursor, letters, stored)

        # Each statement commits on its own, and a rebuild takes the last stored position of a
        # partition (an event's, a copy's or a letter's) as applied: the ratings are stored
        # first, the positions that count nothing after them. Letters first, a rebuild between
        # the two took a letter's later position as applied and the ratings before it as not
        # stored, so the batch's retry skipped them: counted by the next rebuild only.
        def work(cursor: Cursor) -> dict[str, tuple[str, int, int]] | None:
            first = record_events(cursor)
            store_letters(cursor)
            return first

        def record_events(cursor: Cursor) -> dict[str, tuple[str, int, int]] | None:
            if not ratings or _copy_new_events(cursor, ratings):
                return None  # every event is new: each was first seen where it is now
            # Some event was stored before: a redelivery, or a duplicate from elsewhere.
            cursor.execute(
                _RECORD_EVENTS,
                (
                    [str(r.event.event_id) for r in ratings],
                    [r.event.talk_id for r in ratings],
                    [r.event.value for r in ratings],
                    [r.event.occurred_at for r in ratings],
                    [r.topic for r in ratings],
                    [r.partition for r in ratings],
                    [r.offset for r in ratings],
                    [r.event.voter_id for r in ratings],
                ),
            )
            first = {row[0]: (row[1], row[2], row[3]) for row in cursor.fetchall()}
            seen_before = list({str(r.event.event_id) for r in ratings} - first.keys())
            if seen_before:
                cursor.execute(_FIRST_POSITIONS, (seen_before,))
                first.update({row[0]: (row[1], row[2], row[3]) for row in cursor.fetchall()})
            copies = [r for r in ratings if not _first_seen_here(first, r)]
            if copies:
                # A copy counts nowhere, but the read model applies its offset: its position is
                # kept, or a partition whose last record is one looks behind the read model.
                cursor.execute(
                    _RECORD_DUPLICATE_POSITIONS,
                    (
                        [r.topic for r in copies],
                        [r.partition for r in copies],
                        [r.offset for r in copies],
                        [str(r.event.event_id) for r in copies],
                    ),
                )
            return first

        first = self._db.run(work)
        if first is None:
            return batch
        marked = [r if _first_seen_here(first, r) else r._replace(duplicate=True) for r in ratings]
        return ProjectionBatch(ratings=marked, dead_letters=letters)

    def projected_at(self, event_id: str) -> tuple[str, int, int] | None:
        """Where the stored event was first projected from, or None when it is not stored."""
        return self.projected_positions([event_id]).get(event_id)

    def projected_positions(self, event_ids: list[str]) -> dict[str, tuple[str, int, int]]:
        """Where each of these stored events was first projected from (those not stored left
        out), in one read."""
        rows = self._db.run(
            lambda cursor: _fetch_all(
                cursor,
                'SELECT event_id::text, topic, partition, "offset" FROM rating_events '
                "WHERE event_id = ANY(%s::uuid[])",
                (event_ids,),
            )
        )
        return {str(row[0]): (str(row[1]), int(row[2]), int(row[3])) for row in rows}

    def stored_rating(self, event_id: str) -> dict[str, Any] | None:
        """The stored event of this eventId (`talk_id`, `value`, `occurred_at`, `voter_id`, and
        where and when it was stored: `topic`, `partition`, `offset`, `recorded_at`), or None:
        `ops redrive` tells a letter's own earlier redrive from another rating under its id."""
        return self._db.run(lambda cursor: _stored_rating(cursor, event_id))

    def already_stored(self, batch: ProjectionBatch) -> tuple[set[str], set[tuple[str, int, int]]]:
        """Of the batch, the eventIds the event store holds (at any position) and the positions
        of its dead letters it holds: `ops replay` tells what it brought back from what was
        there already."""

        def work(cursor: Cursor) -> tuple[set[str], set[tuple[str, int, int]]]:
            ids = [str(r.event.event_id) for r in batch.ratings]
            cursor.execute(
                "SELECT event_id::text FROM rating_events WHERE event_id = ANY(%s::uuid[])", (ids,)
            )
            events = {str(row[0]) for row in cursor.fetchall()}
            letters = batch.dead_letters
            cursor.execute(
                'SELECT topic, partition, "offset" FROM dead_letters WHERE (topic, partition, '
                '"offset") IN (SELECT * FROM unnest(%s::text[], %s::integer[], %s::bigint[]))',
                (
                    [d.topic for d in letters],
                    [d.partition for d in letters],
                    [d.offset for d in letters],
                ),
            )
            return events, {(str(t), int(p), int(o)) for t, p, o in cursor.fetchall()}

        stored: tuple[set[str], set[tuple[str, int, int]]] = self._db.run(work)
        return stored

    def histogram(self, talk_id: str) -> Histogram:
        """The talk's histogram counted from the stored events, and its revision (how many
        events of it are stored: what the read model's revision counts)."""

        def work(cursor: Cursor) -> tuple[list[Any], Any]:
            rows = _fetch_all(cursor, _COUNTED_FOR_TALK, (talk_id,))
            stored = _fetch_one(
                cursor, "SELECT count(*) FROM rating_events WHERE talk_id = %s", (talk_id,)
            )
            return rows, stored[0] if stored else 0

        rows, revision = self._db.run(work)
        return Histogram.from_counts(dict(rows), revision=revision)

    def state(self, progress: Callable[[str], None] = lambda _: None) -> ReadModelState:
        """The whole read model recomputed from one consistent snapshot of the store."""
        histograms: dict[str, dict[str, int]] = {}
        votes: dict[str, dict[str, str]] = {}
        with self._db.transaction("ISOLATION LEVEL REPEATABLE READ READ ONLY") as cursor:
            total = _fetch_one(cursor, "SELECT count(*) FROM rating_events")
            events = int(total[0]) if total else 0
            progress(f"event store: {events} events")
            cursor.execute(_COUNTED)
            seen = 0
            while rows := cursor.fetchmany(5000):
                for talk_id, value, voter_id, occurred_at, event_id in rows:
                    histogram = histograms.setdefault(talk_id, dict.fromkeys(RATING_VALUES, 0))
                    histogram[str(value)] += 1
                    if voter_id is not None:
                        votes.setdefault(talk_id, {})[voter_id] = vote_record(
                            value, occurred_at, str(event_id)
                        )
                seen += len(rows)
                progress(
                    Step(
                        f"counted {seen} of {events} events, over {len(histograms)} talks",
                        seen,
                        events,
                    )
                )
            offsets = {
                f"{topic}-{partition}": int(offset)
                for topic, partition, offset in _fetch_all(
                    cursor,
                    _LAST_POSITIONS,
                )
            }
            talk_offsets: dict[str, dict[str, int]] = {}
            revisions: dict[str, int] = {}
            cursor.execute(
                'SELECT talk_id, topic, partition, max("offset"), count(*) FROM rating_events '
                "GROUP BY 1, 2, 3"
            )
            while rows := cursor.fetchmany(5000):
                for talk_id, topic, partition, offset, stored in rows:
                    talk_offsets.setdefault(talk_id, {})[f"{topic}-{partition}"] = int(offset)
                    revisions[talk_id] = revisions.get(talk_id, 0) + int(stored)
            # (A database of a schema before forgotten_voters has none: its rebuild still runs.)
            kept = _fetch_one(cursor, "SELECT to_regclass('forgotten_voters') IS NOT NULL")
            forgotten = frozenset(
                str(row[0])
                for row in (
                    _fetch_all(cursor, "SELECT pseudonym FROM forgotten_voters")
                    if kept and kept[0]
                    else []
                )
            )
        progress(f"offsets of {len(offsets)} partitions")
        return ReadModelState(
            histograms=histograms,
            offsets=offsets,
            events=events,
            votes=votes,
            talk_offsets=talk_offsets,
            revisions=revisions,
            forgotten=forgotten,
        )

    def dead_letters(self, include_redriven: bool = False) -> list[dict[str, Any]]:
        """The records set aside, oldest first."""
        with self._db.transaction() as cursor:
            cursor.execute(
                f"{_DEAD_LETTER} WHERE (%s OR redriven_at IS NULL) ORDER BY id", (include_redriven,)
            )
            return [_letter(cursor, row) for row in cursor.fetchall()]

    def record_redrive(
        self, letter_id: int, value: bytes | None, event_id: str, event: dict[str, Any]
    ) -> bool:
        """Add a redrive about to publish `event` under `event_id` to the letter's `redrives`,
        committed before anything is published: a redrive cut off after Kafka took its record
        is on the letter still. Only a letter still pending and holding `value` (what the
        redrive judged) takes it; False otherwise (deleted, redriven, or rewritten meanwhile:
        `redriving` says which)."""
        # In a transaction of its own, not `run`'s retry: a statement sent again would record the
        # redrive twice.
        with self._db.transaction() as cursor:
            cursor.execute(
                "UPDATE dead_letters SET redrives = redrives || jsonb_build_array("
                "jsonb_build_object('eventId', %s::text, 'value', %s::jsonb, 'at', "
                """to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))) """
                "WHERE id = %s AND redriven_at IS NULL AND value IS NOT DISTINCT FROM %s",
                (event_id, json.dumps(event), letter_id, _binary(value)),
            )
            return bool(cursor.rowcount)

    @contextmanager
    def redriving(
        self, letter_id: int, event_id: str
    ) -> Iterator[tuple[dict[str, Any] | None, dict[int, dict[str, Any]], Any, Any]]:
        """A dead letter's redrive under `event_id`, one at most whatever runs beside it (`ops
        redrive`): the eventId is locked first (waiting for any redrive publishing under it),
        then the letter's row (waiting for a redrive that holds it). Yields the letter as it is
        then (None: no such letter), every dead letter as they are then (by id, the redrives
        recorded on them by runs beside this one included), the event store's rating of an
        eventId as `stored_rating` answers it and the outbox's entry of one as
        `PostgresOutbox.entry` does, read in this transaction: the caller judges the
        letter again on them, and publishes it in the block. When the block ends without an
        exception, a letter that was pending is marked redriven, in the same transaction; a
        block that raises (a publish Kafka refused) leaves it pending, to be redriven again.

        One that another run redrove (before, or while this one waited) is yielded with its
        `redriven_at` and left as it is: the caller publishes nothing. The locks are held while
        the block publishes, and PostgreSQL is not to be called meanwhile but through what is
        yielded (the connection is this transaction's)."""
        with self._db.transaction() as cursor:
            # Two runs redriving two letters under one eventId (two ratings its producer sent
            # under it) each judged it free before either published: the second to take this
            # lock sees the first's recorded redrive, and is refused.
            cursor.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended('redrive ' || %s, 0))", (event_id,)
            )
            cursor.execute(f"{_DEAD_LETTER} WHERE id = %s FOR UPDATE", (letter_id,))
            row = cursor.fetchone()
            letter = None if row is None else _letter(cursor, row)
            cursor.execute(f"{_DEAD_LETTER} ORDER BY id")
            letters = {d["id"]: d for d in (_letter(cursor, r) for r in cursor.fetchall())}
            stored = functools.partial(_stored_rating, cursor)
            outboxed = functools.partial(_outbox_entry, cursor)
            yield letter, letters, stored, outboxed
            if letter is not None and letter["redriven_at"] is None:
                cursor.execute(
                    "UPDATE dead_letters SET redriven_at = now() WHERE id = %s", (letter_id,)
                )

    def is_empty(self) -> bool:
        """Whether no event is stored yet (a new deployment)."""
        row = self._db.run(
            lambda cursor: _fetch_one(cursor, "SELECT NOT EXISTS (SELECT 1 FROM rating_events)")
        )
        return bool(row and row[0])

    def holding(self, talk_ids: list[str]) -> set[str]:
        """Those of the talks the event store holds a rating of (one index probe a talk)."""
        rows = self._db.run(
            lambda cursor: _fetch_all(
                cursor,
                "SELECT t FROM unnest(%s::text[]) AS t "
                "WHERE EXISTS (SELECT 1 FROM rating_events WHERE talk_id = t)",
                (talk_ids,),
            )
        )
        return {str(row[0]) for row in rows}

    def talks_voted_by(self, voter_id: str) -> list[str]:
        """The talks a voter's stored ratings are of."""
        sql = "SELECT DISTINCT talk_id FROM rating_events WHERE voter_id = %s ORDER BY talk_id"
        with self._db.transaction() as cursor:
            cursor.execute(sql, (voter_id,))
            return [row[0] for row in cursor.fetchall()]

    def ratings_of_voter(self, voter_id: str) -> int:
        """How many ratings of a voter's the event store holds (every one, a changed mind's
        earlier values too)."""
        sql = "SELECT count(*) FROM rating_events WHERE voter_id = %s"
        with self._db.transaction() as cursor:
            cursor.execute(sql, (voter_id,))
            return int((cursor.fetchone() or (0,))[0])

    def pending_of_voter(self, voter_id: str) -> int:
        """How many outbox entries of a voter's ratings still wait for the relay."""
        sql = (
            "SELECT count(*) FROM rating_outbox WHERE published_at IS NULL "
            "AND position(%s IN payload) > 0"
        )
        with self._db.transaction() as cursor:
            cursor.execute(sql, (_voter_member(voter_id),))
            return int((cursor.fetchone() or (0,))[0])

    def last_rating_of_voter(self, voter_id: str) -> datetime | None:
        """When the voter's newest stored rating was made (None when none is stored): their
        token was valid then (`ops forget-voter --expired` checks an operator's word by it)."""
        with self._db.transaction() as cursor:
            cursor.execute(
                "SELECT max(occurred_at) FROM rating_events WHERE voter_id = %s", (voter_id,)
            )
            row = cursor.fetchone()
        return row[0] if row else None

    def positions_of_voter(self, voter_id: str) -> list[tuple[str, str, int]]:
        """Each stored rating of the voter as (talk, "topic-partition", offset): where it was
        first projected from, which the read model's applied offsets tell counted or not. A
        retired topic's are left out: no projector is delivered them again (a Kafka topic's
        name holds no space, so no topic is named as a retired one)."""
        rows = self._db.run(
            lambda cursor: _fetch_all(
                cursor,
                'SELECT talk_id, topic, partition, "offset" FROM rating_events '
                "WHERE voter_id = %s AND position(' (retired ' IN topic) = 0",
                (voter_id,),
            )
        )
        return [
            (str(talk), f"{topic}-{partition}", int(offset))
            for talk, topic, partition, offset in rows
        ]

    def forget(self, pseudonym: str) -> None:
        """Keep the voter filed under `pseudonym` as forgotten, for good (`ops forget-voter`,
        before anything else: whatever follows, every pass of theirs is refused).
        BackendUnavailable, naming the cause, on a database whose schema has no
        forgotten_voters yet (a deployment older than the checkout running the command); one
        whose table has no `marked_at` yet keeps the voter all the same."""
        try:
            try:
                self._db.run(
                    # Redis's mark not known to be set (again, at a run after one that set it:
                    # Redis may have lost it since) until `marked` says so: RelayFunction sets it.
                    lambda cursor: cursor.execute(
                        "INSERT INTO forgotten_voters (pseudonym) VALUES (%s) "
                        "ON CONFLICT (pseudonym) DO UPDATE SET marked_at = NULL",
                        (pseudonym,),
                    )
                )
            except psycopg2.errors.UndefinedColumn:
                self._db.run(
                    lambda cursor: cursor.execute(
                        "INSERT INTO forgotten_voters (pseudonym) VALUES (%s) "
                        "ON CONFLICT (pseudonym) DO NOTHING",
                        (pseudonym,),
                    )
                )
        except psycopg2.errors.UndefinedTable as error:
            raise BackendUnavailable(
                "the database has no forgotten_voters table (its schema is older than this "
                "command's): deploy this release first, then run the command again"
            ) from error

    def unmarked_forgotten(self, limit: int) -> list[str]:
        """Up to `limit` forgotten voters whose Redis mark is not known to be set (one lookup of
        a partial index: none, most of the time)."""
        try:
            rows = self._db.run(
                lambda cursor: _fetch_all(
                    cursor,
                    "SELECT pseudonym FROM forgotten_voters WHERE marked_at IS NULL "
                    "ORDER BY pseudonym LIMIT %s",
                    (limit,),
                )
            )
        except (psycopg2.errors.UndefinedColumn, psycopg2.errors.UndefinedTable) as error:
            raise _marks_schema_behind(error) from None
        return [str(pseudonym) for (pseudonym,) in rows]

    def unmarked_count(self) -> int:
        """How many forgotten voters' Redis marks are not known to be set (a count over the
        partial index: nothing to read, most of the time)."""
        try:
            row = self._db.run(
                lambda cursor: _fetch_one(
                    cursor, "SELECT count(*) FROM forgotten_voters WHERE marked_at IS NULL"
                )
            )
        except (psycopg2.errors.UndefinedColumn, psycopg2.errors.UndefinedTable) as error:
            raise _marks_schema_behind(error) from None
        return int(row[0]) if row else 0

    def marked(self, pseudonyms: list[str]) -> int:
        """Record the Redis marks of these forgotten voters as set; answers how many rows were
        waiting for it (none on a table without `marked_at` yet: nothing to record it in)."""
        try:
            return int(
                self._db.run(
                    lambda cursor: _rowcount(
                        cursor,
                        "UPDATE forgotten_voters SET marked_at = now() "
                        "WHERE pseudonym = ANY(%s) AND marked_at IS NULL",
                        (pseudonyms,),
                    )
                )
            )
        except psycopg2.errors.UndefinedColumn:
            return 0

    def marked_forgotten(self, after: str, limit: int) -> list[str]:
        """Up to `limit` forgotten voters whose Redis mark was recorded as set, in pseudonym
        order after `after` (a range of the primary key)."""
        try:
            rows = self._db.run(
                lambda cursor: _fetch_all(
                    cursor,
                    "SELECT pseudonym FROM forgotten_voters "
                    "WHERE pseudonym > %s AND marked_at IS NOT NULL "
                    "ORDER BY pseudonym LIMIT %s",
                    (after, limit),
                )
            )
        except (psycopg2.errors.UndefinedColumn, psycopg2.errors.UndefinedTable) as error:
            raise _marks_schema_behind(error) from None
        return [str(pseudonym) for (pseudonym,) in rows]

    def keep_forgotten(self, pseudonyms: list[str]) -> int:
        """Keep these voters as forgotten, their Redis marks set (copied from Redis's marks:
        an earlier release's forget, of a voter with no rating stored); answers how many were
        not kept before."""
        return int(
            self._db.run(
                lambda cursor: _rowcount(
                    cursor,
                    "INSERT INTO forgotten_voters (pseudonym, marked_at) "
                    "SELECT unnest(%s::text[]), now() ON CONFLICT (pseudonym) DO NOTHING",
                    (pseudonyms,),
                )
            )
        )

    def was_forgotten(self, pseudonym: str) -> bool:
        """Whether the voter filed under `pseudonym` was forgotten (one primary-key lookup);
        BackendUnavailable when PostgreSQL cannot say (a schema without the table too: the
        caller refuses, it never lets the voter through unchecked)."""
        try:
            row = self._db.run(
                lambda cursor: _fetch_one(
                    cursor, "SELECT 1 FROM forgotten_voters WHERE pseudonym = %s", (pseudonym,)
                )
            )
        except psycopg2.Error as error:
            raise BackendUnavailable(f"the forgotten voters cannot be read: {error}") from error
        return row is not None

    def rename_voter(self, voter_id: str, pseudonym: str) -> tuple[int, int, int]:
        """File every trace of a voter under `pseudonym`, in one transaction (`ops forget-voter`):
        their events (grouped as before: a rebuild counts the same), and the outbox entries and
        dead letters whose `voterId` names them (only that member: the id may be short, and
        appear in another record's other fields), the outbox's link to the accepting request
        (whose access-log line has the client's address) with them, and the events the redrives
        recorded on dead letters published. Answers how many events, outbox entries and dead
        letters it changed."""
        member = re.compile(rb'("voterId"\s*:\s*")' + re.escape(voter_id.encode()) + rb'"')
        renamed = rb"\g<1>" + pseudonym.encode() + b'"'
        with self._db.transaction() as cursor:
            # (`forget` wrote it first; again here, so the filing away never goes without it)
            cursor.execute(
                "INSERT INTO forgotten_voters (pseudonym) VALUES (%s) "
                "ON CONFLICT (pseudonym) DO NOTHING",
                (pseudonym,),
            )
            cursor.execute(
                "UPDATE rating_events SET voter_id = %s WHERE voter_id = %s", (pseudonym, voter_id)
            )
            events = cursor.rowcount
            changed: list[set[int]] = []
            for table, column, unlinked in (
                ("rating_outbox", "payload", ", correlation_id = NULL"),
                ("dead_letters", "value", ""),
            ):
                names = {"table": psycopg2.sql.Identifier(table)}
                names["column"] = psycopg2.sql.Identifier(column)
                # FOR NO KEY UPDATE, as the UPDATE's own: a relay tells its runs' rows
                # (FOR UPDATE) from these by it, and does not count them held by another run.
                cursor.execute(
                    psycopg2.sql.SQL(
                        "SELECT id, {column} FROM {table} WHERE position(%s IN {column}) > 0 "
                        "FOR NO KEY UPDATE"
                    ).format(**names),
                    (voter_id.encode(),),
                )
                rows = []
                for row_id, data in cursor.fetchall():
                    rewritten = member.sub(renamed, bytes(data))
                    if rewritten != bytes(data):
                        rows.append((psycopg2.Binary(rewritten), row_id))
                if rows:
                    cursor.executemany(
                        psycopg2.sql.SQL(
                            "UPDATE {table} SET {column} = %s{unlink} WHERE id = %s"
                        ).format(**names, unlink=psycopg2.sql.SQL(unlinked)),
                        rows,
                    )
                changed.append({row_id for _, row_id in rows})
            # The redrives recorded on dead letters (`ops redrive`) hold the events they
            # published, the voter's id in them.
            cursor.execute(
                "SELECT id, redrives::text FROM dead_letters "
                "WHERE position(%s IN redrives::text) > 0 FOR NO KEY UPDATE",
                (voter_id,),
            )
            redrives = [
                (renamed_text, row_id)
                for row_id, text in cursor.fetchall()
                if (renamed_text := member.sub(renamed, text.encode()).decode()) != text
            ]
            cursor.executemany(
                "UPDATE dead_letters SET redrives = %s::jsonb WHERE id = %s", redrives
            )
            letters = changed[1] | {row_id for _, row_id in redrives}
            return events, len(changed[0]), len(letters)

    def retire_topic(self, topic: str, retired: str | None = None) -> int:
        """File the positions recorded for `topic` under a name of their own, for when the topic
        was recreated empty (a new broker): its new records start again at offset 0, and a
        rebuild must not take the old topic's offsets as theirs, nor a dead letter's position
        stand in for a new one. The events still count; only their positions are renamed, to
        `retired` ("<topic> (retired <UTC time>)", `projected.retired_topic`, made now when not
        given). Answers how many positions (of events, of duplicates and of dead letters) it
        renamed.
        """
        retired = retired or retired_topic(topic)
        renamed = 0
        with self._db.transaction() as cursor:
            for statement in (
                "UPDATE rating_events SET topic = %s WHERE topic = %s",
                "UPDATE duplicate_positions SET topic = %s WHERE topic = %s",
                "UPDATE dead_letters SET topic = %s WHERE topic = %s",
            ):
                cursor.execute(statement, (retired, topic))
                renamed += cursor.rowcount
        return renamed


class PostgresOutbox:
    """RatingOutbox: rating_outbox, published in order by RelayFunction."""

    def __init__(self, database: PostgresDatabase) -> None:
        self._db = database

    def enqueue(self, event: Rating) -> None:
        """Keep the event until it is published; raise BackendUnavailable if it cannot."""
        # The request being answered, as the logger knows it (as the Kafka publisher sends it).
        correlation_id = logger.get_correlation_id()
        self._db.run(
            lambda cursor: cursor.execute(
                "INSERT INTO rating_outbox (event_id, talk_id, payload, correlation_id) "
                "VALUES (%s, %s, %s, %s) ON CONFLICT (event_id) DO NOTHING",
                (
                    str(event.event_id),
                    event.talk_id,
                    psycopg2.Binary(event.to_json()),
                    correlation_id[:200] if correlation_id else None,
                ),
            )
        )

    def status(self, event_id: str) -> str | None:
        """ "queued" while waiting, "published" once sent, None when not in the outbox."""
        row = self._db.run(
            lambda cursor: _fetch_one(
                cursor,
                "SELECT published_at IS NOT NULL FROM rating_outbox WHERE event_id = %s",
                (event_id,),
            )
        )
        return None if row is None else "published" if row[0] else "queued"

    def entry(self, event_id: str) -> dict[str, Any] | None:
        """The entry kept under this eventId (`payload`, the rating as written; `created_at`;
        `published_at`, None while it waits for the relay), or None: `ops redrive` reads in
        it the API's record of a dead letter's own rating (the API makes every eventId)."""
        return self._db.run(lambda cursor: _outbox_entry(cursor, event_id))

    def relay(
        self, publish: Callable[[Publishable], None], limit: int, until: float | None = None
    ) -> RelayResult:
        """Publish pending entries in order, marking each; stop at the first failure, or when
        `until` (time.monotonic()) has come: the marks are committed only at the end, so a run
        cut off by its timeout would leave every entry it published to be published again.

        The rows stay locked (SKIP LOCKED keeps concurrent relays apart) until the transaction
        ends. A crash after publishing and before the commit republishes those rows next time;
        the projector counts an eventId once, so that costs nothing but a duplicate record.
        What is left pending is told apart: the entries another run holds (a concurrent
        relay's batch) are counted by what this one can still lock, up to `limit` of them (a
        backlog is not locked whole to count it), `FOR KEY SHARE`: only a relay run's lock,
        `FOR UPDATE`, refuses that one. A command that rewrites an entry (`ops forget-voter`)
        holds it by a weaker lock, and it is not counted held: no other run publishes it.
        """
        published, failed = 0, False
        with self._db.transaction() as cursor:
            cursor.execute(
                "SELECT id, talk_id, payload, correlation_id FROM rating_outbox "
                "WHERE published_at IS NULL ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED",
                (limit,),
            )
            # As written, whichever version wrote it: nothing parsed, nothing dropped.
            entries = [
                OutboxEntry(i, WrittenRecord(talk_id.encode(), bytes(payload)), c)
                for i, talk_id, payload, c in cursor
            ]
            for entry in entries:
                if until is not None and time.monotonic() >= until:
                    break
                try:
                    # Published, and logged, as the request that accepted the rating.
                    with correlated(entry.correlation_id):
                        publish(entry.event)
                except BackendUnavailable as error:
                    cursor.execute(
                        "UPDATE rating_outbox SET attempts = attempts + 1, last_error = %s "
                        "WHERE id = %s",
                        (str(error)[:500], entry.id),
                    )
                    failed = True
                    break
                cursor.execute(
                    "UPDATE rating_outbox SET published_at = now(), attempts = attempts + 1 "
                    "WHERE id = %s",
                    (entry.id,),
                )
                published += 1
            # What waits, and how much of it no other relay run holds (this run's own rows
            # included, the ones it did not get to): the rest is another run's batch. One
            # statement, so the two counts see the same rows.
            left = _fetch_one(
                cursor,
                "SELECT count(*), coalesce(extract(epoch FROM now() - min(created_at)), 0), "
                "(SELECT count(*) FROM (SELECT 1 FROM rating_outbox WHERE published_at IS NULL "
                "LIMIT %s FOR KEY SHARE SKIP LOCKED) AS free) "
                "FROM rating_outbox WHERE published_at IS NULL",
                (limit,),
            )
        pending, oldest, free = (int(left[0]), float(left[1]), int(left[2])) if left else (0, 0, 0)
        return RelayResult(
            published,
            pending,
            max(0.0, oldest),
            stream_failed=failed,
            # Counted only when fewer than `limit` were free: then every other one is held.
            held_elsewhere=max(0, pending - free) if free < limit else None,
        )


def _voter_member(voter_id: str) -> bytes:
    """How the written form of an event names its voter (talkrate.events.Rating.to_json)."""
    return f'"voterId":"{voter_id}"'.encode()


def vote_record(value: int, occurred_at: datetime, event_id: str) -> str:
    """A voter's current rating as the read model keeps it: "value|occurredMs|eventId"."""
    return f"{value}|{unix_ms(occurred_at)}|{event_id}"


# Held while schema.sql runs: two processes applying it at once (a deploy and an operator, two
# local runtimes) would otherwise race in CREATE ... IF NOT EXISTS.
_SCHEMA_LOCK = 7_361_221


def connect(dsn: str, **options: Any) -> psycopg2.extensions.connection:
    """psycopg2.connect, with what a failure says of the DSN taken out of its message.

    libpq quotes what it could not read: a password with a "%", "/" or "@" in it shows up in
    "invalid dsn", "invalid integer value ... for connection option "port"" or "could not
    translate host name ...". Every failure to connect is an OperationalError (the database is
    unusable, whatever the cause: the callers answer 503), its message with every piece of the
    DSN's password replaced by "***" (the host, port and user stay), without the original
    chained. A string libpq cannot read at all (psycopg2's ProgrammingError, "invalid dsn": a
    URL that lost its "://" is quoted whole) is said in words of our own, naming the forms
    libpq reads and nothing of the string, before any connection is tried.
    """
    try:
        connection: psycopg2.extensions.connection = psycopg2.connect(dsn, **options)
    except psycopg2.ProgrammingError as error:
        raise psycopg2.OperationalError(_unreadable(dsn, str(error))) from None
    except psycopg2.Error as error:
        message = _redacted(str(error).strip(), dsn)
        if not isinstance(error, psycopg2.OperationalError):
            message = f"{type(error).__name__}: {message}"
        raise psycopg2.OperationalError(message) from None
    return connection


def _unusable(error: Exception) -> str:
    """What a failure to reach or use the database says, on one line: a session the server ended
    (terminated, a restart, a failover) is told apart from a connection refused with a FATAL
    error (a login refused, a database that does not exist: reachable, and says why not) and
    from a server that cannot be reached; a connection string libpq cannot read is said as
    `connect` says it (a setting to correct)."""
    from talkrate.connection_strings import UNREADABLE  # on a failure only

    text = " ".join(str(error).split())
    if text.startswith(UNREADABLE):
        return text
    if "terminating connection" in text or "server closed the connection" in text:
        return f"PostgreSQL closed the connection: {text}"
    if "FATAL:" in text:
        return f"PostgreSQL refused the connection: {text}"
    return f"PostgreSQL is unreachable: {text}"


def _connect_bounded(
    dsn: str, answer_within: float, deadline: float, options: dict[str, Any]
) -> psycopg2.extensions.connection:
    """An asynchronous connection, opened within the connect timeout and the call's `deadline`,
    whose statements wait for their answers until the deadline of their call."""
    connection = connect(
        dsn,
        async_=True,
        connection_factory=_BoundedConnection,
        cursor_factory=_BoundedCursor,
        **options,
    )
    connection.answer_within = answer_within  # type: ignore[attr-defined]
    connection.deadline = min(deadline, time.monotonic() + options["connect_timeout"])  # type: ignore[attr-defined]
    try:
        _answered(connection, cancel=False)  # no statement to cancel yet
        connection.deadline = deadline  # type: ignore[attr-defined]
    except PostgresTimedOut as error:
        raise BackendUnavailable(_unusable(error)) from None
    except psycopg2.Error as error:  # refused, a login failure: what connect() says of them
        connection.close()
        raise psycopg2.OperationalError(_redacted(str(error).strip(), dsn)) from None
    return connection


def _unreadable(dsn: str, said: str) -> str:
    """What a DSN libpq cannot read is refused with (on a failure only)."""
    from talkrate.connection_strings import unreadable

    return unreadable(dsn, said)


def _redacted(message: str, dsn: str) -> str:
    """The message with every piece of the DSN's password replaced (the host, port and user
    stay: an operator must see which server refused whom). On a failure only: not at a cold
    start."""
    from talkrate.connection_strings import redacted

    return redacted(message, dsn)


def apply_schema(
    dsn: str, host: str | None = None, connect_timeout: float = 10, sql: str | None = None
) -> bool:
    """Create or update the tables talkrate needs (idempotent); `host` replaces the DSN's host
    (an RDS Proxy endpoint). False when this schema (`sql`, schema.sql by default) was applied
    before: then its statements are not run, and no table is locked exclusively. Either way
    forgotten_voters is filled from the event store (FILL_FORGOTTEN_VOTERS).

    Every deploy that changes the functions' code runs this, and an `ALTER TABLE ... IF NOT
    EXISTS` takes its table's exclusive lock even when there is nothing to do: behind a long
    transaction (a relay emptying a backlog, an operator's psql) every deploy then waited and
    failed, and a rollback too (it applies the earlier file: CloudFormation cannot roll that
    back, and the stack is stuck). A schema applied once is recorded by its digest; as every
    change is additive, an earlier file (a rollback) has nothing left to do either."""
    import hashlib  # the schema function's only: not on the API's cold start

    sql = resources.files("talkrate").joinpath("schema.sql").read_text() if sql is None else sql
    digest = hashlib.sha256(sql.encode()).hexdigest()
    options: dict[str, Any] = {"connect_timeout": connect_timeout}
    if host:
        options["host"] = host
    try:
        psycopg2.extensions.parse_dsn(dsn)
    except psycopg2.ProgrammingError:
        readable = False  # (a string libpq cannot read: connect says so, in words of its own)
    else:
        readable = True
    try:
        connection = connect(dsn, **options)
    except psycopg2.OperationalError as error:
        if not readable:
            raise
        from talkrate.schema import DatabaseNotConnected

        raise DatabaseNotConnected(str(error)) from None
    try:
        with connection, connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
            # A table lock the schema waits for (a long read holds one) would queue every write
            # of the live service behind it: give up soon instead, and let the deploy say so.
            cursor.execute("SET LOCAL lock_timeout = '5s'")
            applied = False
            cursor.execute("SELECT to_regclass('schema_applied') IS NOT NULL")
            if (cursor.fetchone() or (False,))[0]:
                cursor.execute("SELECT 1 FROM schema_applied WHERE digest = %s", (digest,))
                applied = cursor.fetchone() is not None and _has_all(cursor, sql)
            if not applied:
                cursor.execute(sql)
                cursor.execute(
                    "INSERT INTO schema_applied (digest) VALUES (%s) ON CONFLICT DO NOTHING",
                    (digest,),
                )
            # Whatever the file: a voter an earlier release forgot meanwhile (a rollback's)
            # is kept from its next apply on. No table's exclusive lock: a read of the events,
            # rows added to forgotten_voters.
            cursor.execute("SELECT to_regclass('forgotten_voters') IS NOT NULL")
            if (cursor.fetchone() or (False,))[0]:
                cursor.execute(FILL_FORGOTTEN_VOTERS)
            return not applied
    finally:
        connection.close()


# The voters the event store files under a `forgotten-` id, kept in forgotten_voters (run at
# every schema apply: idempotent; one scan of rating_events, at a deploy only).
FILL_FORGOTTEN_VOTERS = (
    "INSERT INTO forgotten_voters (pseudonym) "
    "SELECT DISTINCT voter_id FROM rating_events WHERE voter_id LIKE 'forgotten-%' "
    "ON CONFLICT (pseudonym) DO NOTHING"
)


_CREATED = re.compile(r"CREATE TABLE IF NOT EXISTS (\w+)", re.IGNORECASE)
_ADDED = re.compile(r"ALTER TABLE (\w+) ADD COLUMN IF NOT EXISTS (\w+)", re.IGNORECASE)


def _has_all(cursor: Cursor, sql: str) -> bool:
    """Whether every table the schema creates, and every column it adds to one, is in the
    catalog (no lock taken): a file recorded as applied is applied again where one was dropped
    by hand, or a dump from before it restored."""
    tables = _CREATED.findall(sql)
    added = _ADDED.findall(sql)
    cursor.execute(
        "SELECT count(*) FROM information_schema.tables "
        "WHERE table_schema = current_schema() AND table_name = ANY(%s)",
        (tables,),
    )
    if (cursor.fetchone() or (0,))[0] != len(set(tables)):
        return False
    cursor.execute(
        "SELECT count(*) FROM information_schema.columns WHERE table_schema = current_schema() "
        "AND (table_name, column_name) IN (SELECT * FROM unnest(%s::text[], %s::text[]))",
        ([t for t, _ in added], [c for _, c in added]),
    )
    return bool((cursor.fetchone() or (0,))[0] == len(set(added)))


def _talk(row: tuple[Any, ...]) -> Talk:
    talk_id, title, speakers, track, room, starts_at, ends_at, revision, language, paused = row
    return Talk(
        id=talk_id,
        title=title,
        speakers=list(speakers or []),
        track=track,
        room=room,
        starts_at=starts_at,
        ends_at=ends_at,
        revision=revision,
        language=language,
        ratings_paused=bool(paused),
    )


def _locked_revision(cursor: Cursor, talk_id: str, precondition: Precondition) -> int | None:
    """The talk's revision (None when there is none), its row locked until the transaction ends;
    TalkChanged when the precondition does not hold for it."""
    row = _fetch_one(cursor, "SELECT revision FROM talks WHERE id = %s FOR UPDATE", (talk_id,))
    revision = None if row is None else int(row[0])
    if not precondition.holds(revision):
        raise TalkChanged(talk_id, revision)
    return revision


def _row(talk: Talk) -> tuple[Any, ...]:
    return (
        talk.id,
        talk.title,
        talk.speakers,
        talk.track,
        talk.room,
        talk.starts_at,
        talk.ends_at,
        talk.language,
        talk.ratings_paused,
    )


def _marks_schema_behind(error: psycopg2.Error) -> SchemaBehind:
    """The words for a database whose forgotten_voters does not record marks yet."""
    first = str(error).splitlines()[0]
    return SchemaBehind(
        f"the database's schema is older than this release ({first}): the forgotten voters' "
        "Redis marks are not recorded there; deploy (or apply the schema) first"
    )


def _fetch_one(cursor: Cursor, sql: str, args: Any = ()) -> tuple[Any, ...] | None:
    cursor.execute(sql, args)
    row: tuple[Any, ...] | None = cursor.fetchone()
    return row


def _rowcount(cursor: Cursor, sql: str, args: Any = ()) -> int:
    cursor.execute(sql, args)
    return int(cursor.rowcount)


def _fetch_all(cursor: Cursor, sql: str, args: Any = ()) -> list[tuple[Any, ...]]:
    cursor.execute(sql, args)
    return list(cursor.fetchall())


def _binary(data: bytes | None) -> psycopg2.Binary | None:
    return None if data is None else psycopg2.Binary(data)


def _bytes(data: Any) -> bytes | None:
    """A bytea as PostgreSQL answers it (a memoryview), as bytes."""
    return None if data is None else bytes(data)


def _plain(row: tuple[Any, ...]) -> list[Any]:
    return [bytes(v) if isinstance(v, memoryview) else v for v in row]


# A stored rating as `ops redrive` reads it, with where and when it was stored.
_STORED_NAMES = (
    "talk_id",
    "value",
    "occurred_at",
    "voter_id",
    "topic",
    "partition",
    "offset",
    "recorded_at",
)
_STORED_RATING = (
    'SELECT talk_id, value, occurred_at, voter_id, topic, partition, "offset", recorded_at '
    "FROM rating_events WHERE event_id = %s"
)


def _stored_rating(cursor: Cursor, event_id: str) -> dict[str, Any] | None:
    row = _fetch_one(cursor, _STORED_RATING, (event_id,))
    return None if row is None else dict(zip(_STORED_NAMES, row, strict=True))


# An outbox entry as `ops redrive` reads it: the rating the API kept under an eventId, waiting
# for the relay (published_at NULL) or relayed to Kafka.
_OUTBOX_ENTRY = "SELECT payload, created_at, published_at FROM rating_outbox WHERE event_id = %s"


def _outbox_entry(cursor: Cursor, event_id: str) -> dict[str, Any] | None:
    row = _fetch_one(cursor, _OUTBOX_ENTRY, (event_id,))
    if row is None:
        return None
    return {"payload": bytes(row[0]), "created_at": row[1], "published_at": row[2]}


# A dead letter as `ops dead-letters` lists it and `ops redrive` reads it.
_DEAD_LETTER = (
    'SELECT id, topic, partition, "offset", key, value, reason, created_at, redriven_at, '
    "redrives FROM dead_letters"
)


def _letter(cursor: Cursor, row: tuple[Any, ...]) -> dict[str, Any]:
    """A row of _DEAD_LETTER as a dict of its columns (key and value as bytes)."""
    columns = [c.name for c in cursor.description or ()]
    return dict(zip(columns, _plain(row), strict=True))
