"""The talk catalog against a real PostgreSQL."""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import psycopg2
import psycopg2.extensions
import pytest

from talkrate.adapters.postgres import PostgresDatabase, PostgresTalkCatalog, _fetch_one
from talkrate.adapters.talk_cache import CachedTalkCatalog
from talkrate.errors import BackendUnavailable, TalkChanged
from talkrate.values import Precondition
from talkrate_local.embedded import EmbeddedPostgres

pytestmark = pytest.mark.integration


def test_known_and_unknown_talks(talks_dsn: str, talk: str) -> None:
    catalog = PostgresTalkCatalog(PostgresDatabase(talks_dsn))
    assert catalog.exists(talk)
    assert catalog.exists("testcontainers-integration-testing")  # seeded dev data
    assert not catalog.exists(talk + "-missing")
    assert catalog.ping()


def test_ids_are_parameters_never_sql(talks_dsn: str) -> None:
    catalog = PostgresTalkCatalog(PostgresDatabase(talks_dsn))
    assert not catalog.exists("x' OR '1'='1")
    assert catalog.exists("flight-of-the-gopher")  # the table survived


def test_a_connection_that_went_away_is_reopened(talks_dsn: str, talk: str) -> None:
    catalog = PostgresTalkCatalog(PostgresDatabase(talks_dsn))
    assert catalog.exists(talk)
    catalog._db._connection.close()  # type: ignore[union-attr]  # as when the server drops it
    assert catalog.exists(talk)


def test_an_unreachable_catalog_is_reported_quickly() -> None:
    catalog = PostgresTalkCatalog(PostgresDatabase("postgresql://postgres@127.0.0.1:1/talkrate"))
    started = time.monotonic()
    with pytest.raises(BackendUnavailable):
        catalog.exists("any")
    assert not catalog.ping()
    assert time.monotonic() - started < 10


@pytest.mark.parametrize("bounded", [None, 2.0], ids=["unbounded", "bounded"])
def test_a_refused_login_is_told_apart_from_an_unreachable_server(
    talks_dsn: str, bounded: float | None
) -> None:
    # Given a DSN whose user the server does not know, and one where no server listens
    parts = psycopg2.extensions.parse_dsn(talks_dsn)
    stranger = psycopg2.extensions.make_dsn(**{**parts, "user": "nobody-of-talkrate"})
    nowhere = psycopg2.extensions.make_dsn(**{**parts, "host": "127.0.0.1", "port": "1"})
    # Then each says what happened, naming the user refused (no secret: the one to compare
    # with the configured user)
    with pytest.raises(BackendUnavailable, match="refused the connection") as refused:
        PostgresTalkCatalog(PostgresDatabase(stranger, answer_within=bounded)).exists("any")
    assert 'role "nobody-of-talkrate" does not exist' in str(refused.value)
    with pytest.raises(BackendUnavailable, match="is unreachable"):
        PostgresTalkCatalog(PostgresDatabase(nowhere, answer_within=bounded)).exists("any")


@pytest.mark.parametrize("bounded", [None, 2.0], ids=["unbounded", "bounded"])
def test_a_session_the_server_ends_on_both_tries_is_said_closed_not_refused(
    talks_dsn: str, bounded: float | None
) -> None:
    # Given a database whose every session the server ends (its statement terminates itself)
    database = PostgresDatabase(talks_dsn, answer_within=bounded)
    # When the statement is run (and, the session lost, run again on a new one)
    with pytest.raises(BackendUnavailable) as ended:
        database.run(lambda cursor: cursor.execute("SELECT pg_terminate_backend(pg_backend_pid())"))
    # Then it says the server closed the connection, on one line: neither that it refused a
    # connection (it took two) nor that it cannot be reached
    said = str(ended.value)
    assert said.startswith("PostgreSQL closed the connection: ")
    assert "\n" not in said


def backend_pid(database: PostgresDatabase) -> int:
    """The process id of the server process behind the database's connection."""
    row = database.run(lambda cursor: _fetch_one(cursor, "SELECT pg_backend_pid()"))
    assert row is not None
    return int(row[0])


def test_a_server_process_that_stops_answering_is_given_up_on_within_the_bound(
    talks_dsn: str, talk: str
) -> None:
    # Given a catalog whose statements wait 1 s at most, and its connection's server process
    # stopped (its kernel still acknowledges what is sent: no TCP timeout ever fires)
    database = PostgresDatabase(talks_dsn, answer_within=1.0)
    catalog = PostgresTalkCatalog(database)
    assert catalog.exists(talk)
    pid = backend_pid(database)
    os.kill(pid, signal.SIGSTOP)
    try:
        # When it asks for a talk
        started = time.monotonic()
        with pytest.raises(BackendUnavailable, match="did not answer within 1 s"):
            catalog.exists(talk)
        waited = time.monotonic() - started
    finally:
        os.kill(pid, signal.SIGCONT)
    # Then it gave up after the bound, not later; and the next statement, on a new connection,
    # is answered
    assert 1.0 <= waited < 3.0
    assert catalog.exists(talk)
    assert backend_pid(database) != pid
    database.close()


@pytest.fixture
def own_server() -> Iterator[EmbeddedPostgres]:
    """A PostgreSQL server of the test's own (the local runtime's embedded one), to stop whole."""
    folder = Path(tempfile.mkdtemp(prefix="talkrate-stopped-"))
    folder.chmod(0o755)  # reachable by the unprivileged user it runs as under root
    service = EmbeddedPostgres(folder / "postgres", database="postgres")
    service.start()
    yield service
    service.stop()
    shutil.rmtree(folder, ignore_errors=True)


def test_a_whole_server_that_stops_is_given_up_on_and_holds_no_other_thread(
    own_server: EmbeddedPostgres,
) -> None:
    # Given a bounded connection to a server, and another thread of the process ticking
    database = PostgresDatabase(own_server.connection, answer_within=1.0)
    assert database.ping()
    ticks: list[float] = []
    stop = threading.Event()

    def tick() -> None:
        while not stop.is_set():
            ticks.append(time.monotonic())
            time.sleep(0.05)

    ticker = threading.Thread(target=tick, daemon=True)
    ticker.start()
    # When the whole server stops (postmaster and backends: the cancel request cannot be taken),
    # resumed by another process after 8 s whatever happens here
    postmaster = psutil.Process(own_server._process.pid if own_server._process else 0)
    postmaster.suspend()  # first: it starts no process while the others are stopped
    stopped = [postmaster, *postmaster.children(recursive=True)]
    for process in stopped[1:]:
        process.suspend()
    pids = " ".join(str(process.pid) for process in stopped)
    resume = subprocess.Popen(["sh", "-c", f"sleep 8; kill -CONT {pids}"])
    try:
        started = time.monotonic()
        with pytest.raises(BackendUnavailable, match="did not answer within 1 s"):
            database.run(lambda cursor: _fetch_one(cursor, "SELECT 1"))
        waited = time.monotonic() - started
        time.sleep(1.0)  # the cancel request is still waiting for the stopped server
        stop.set()
        ticker.join()
    finally:
        for process in stopped:
            with contextlib.suppress(psutil.NoSuchProcess):  # a backend may have ended since
                process.resume()
        resume.kill()
        resume.wait()
    # Then the call gave up after its bound (and the cancel's short wait), and no thread was
    # held meanwhile: psycopg2's own cancel() holds the interpreter until the server answers
    assert 1.0 <= waited < 2.5
    assert max(later - earlier for earlier, later in itertools.pairwise(ticks)) < 0.5
    # And once the server runs again, the next call is answered on a new connection
    assert database.ping()
    database.close()


def test_a_write_held_by_a_lock_is_given_up_on_and_changes_nothing(
    talks_dsn: str, talk: str
) -> None:
    # Given another session holding the talk's row, and a bounded catalog
    holder = psycopg2.connect(talks_dsn)
    holding = holder.cursor()
    holding.execute("SELECT id FROM talks WHERE id = %s FOR UPDATE", (talk,))
    database = PostgresDatabase(talks_dsn, answer_within=1.0)
    catalog = PostgresTalkCatalog(database)
    try:
        # When the catalog removes the talk while the row stays held
        started = time.monotonic()
        with pytest.raises(BackendUnavailable, match="did not answer within 1 s"):
            catalog.delete(talk)
        assert time.monotonic() - started < 3.0
    finally:
        holder.rollback()
        holder.close()
    # Then the talk is still there once the lock is gone: the abandoned statement did not commit
    # later (its connection was closed, and with it its transaction)
    time.sleep(0.2)
    assert catalog.exists(talk)
    assert PostgresTalkCatalog(PostgresDatabase(talks_dsn)).exists(talk)
    database.close()


def test_a_bounded_connection_hears_removals_like_any_other(talks_dsn: str, talk: str) -> None:
    # The talk cache's LISTEN and its reading of notifications, on an asynchronous connection
    catalog = PostgresTalkCatalog(PostgresDatabase(talks_dsn, answer_within=2.0))
    assert catalog.changed_since_last_call() is None
    assert catalog.exists(talk)
    assert catalog.changed_since_last_call() == set()
    PostgresTalkCatalog(PostgresDatabase(talks_dsn)).delete(talk)
    assert heard(catalog) == {talk}
    assert not catalog.exists(talk)


def test_a_talk_removed_by_another_instance_is_forgotten_by_the_next_answer(
    talks_dsn: str, talk: str
) -> None:
    # Given two instances, each with its own connection; the first has the talk in its cache
    first = CachedTalkCatalog(PostgresTalkCatalog(PostgresDatabase(talks_dsn)), ttl=3600)
    second = PostgresTalkCatalog(PostgresDatabase(talks_dsn))
    assert first.exists(talk)
    assert first.exists(talk)  # from the cache now: the ttl is an hour
    # When the second removes it
    assert second.delete(talk)
    # Then the first knows within moments (the notification crosses a socket), not in an hour
    deadline = time.monotonic() + 2
    while first.exists(talk) and time.monotonic() < deadline:
        time.sleep(0.005)
    assert not first.exists(talk)


def test_removals_are_heard_without_a_round_trip_and_a_new_connection_drops_everything(
    talks_dsn: str, talk: str
) -> None:
    database = PostgresDatabase(talks_dsn)
    catalog, other = PostgresTalkCatalog(database), PostgresTalkCatalog(PostgresDatabase(talks_dsn))
    assert catalog.changed_since_last_call() is None  # nothing heard yet: assume anything
    assert catalog.exists(talk)  # opens the connection, which listens first
    assert catalog.changed_since_last_call() == set()
    other.delete(talk)
    other.delete(talk)  # already gone: nothing more to hear
    assert heard(catalog) == {talk}
    assert catalog.changed_since_last_call() == set()
    database._connection.close()  # type: ignore[union-attr]  # as when the server drops it
    assert catalog.changed_since_last_call() is None
    assert not catalog.exists(talk)  # reopened
    assert catalog.changed_since_last_call() is None  # the new connection may have missed some
    assert catalog.changed_since_last_call() == set()


def heard(catalog: PostgresTalkCatalog) -> set[str] | None:
    """What the catalog hears within two seconds (a notification crosses a socket)."""
    deadline = time.monotonic() + 2
    while not (removed := catalog.changed_since_last_call()) and time.monotonic() < deadline:
        time.sleep(0.005)
    return removed


def test_a_proxy_endpoint_replaces_the_dsn_host(talks_dsn: str, talk: str) -> None:
    # Given a DSN naming a host that does not answer, and the real server as the proxy endpoint
    parts = psycopg2.extensions.parse_dsn(talks_dsn)
    endpoint = parts.get("host") or "127.0.0.1"
    elsewhere = psycopg2.extensions.make_dsn(**{**parts, "host": "db.invalid"})
    # Then connections go to the endpoint, with the DSN's user, password and database
    assert PostgresTalkCatalog(PostgresDatabase(elsewhere, host=endpoint)).exists(talk)
    with pytest.raises(BackendUnavailable):
        PostgresTalkCatalog(PostgresDatabase(elsewhere)).exists(talk)


def test_two_saves_expecting_one_revision_leave_exactly_one_change(
    talks_dsn: str, talk: str
) -> None:
    # Given two organisers' instances that read the talk at the same revision
    first = PostgresTalkCatalog(PostgresDatabase(talks_dsn))
    second = PostgresTalkCatalog(PostgresDatabase(talks_dsn))
    read = first.get(talk)
    assert read is not None
    assert read.revision is not None
    expected = Precondition(if_match=frozenset({read.revision}))
    # And a third session holding the talk's row, so that both saves queue behind it
    holder = psycopg2.connect(talks_dsn)
    holder_cursor = holder.cursor()
    holder_cursor.execute("SELECT 1 FROM talks WHERE id = %s FOR UPDATE", (talk,))
    outcomes: dict[str, object] = {}

    def save(name: str, catalog: PostgresTalkCatalog) -> None:
        try:
            outcomes[name] = catalog.save(read._replace(room=name), expected)
        except TalkChanged as changed:
            outcomes[name] = changed

    threads = [
        threading.Thread(target=save, args=("Hall A", first)),
        threading.Thread(target=save, args=("Hall B", second)),
    ]
    for thread in threads:
        thread.start()

    def waiting_on_the_row() -> int:
        """The sessions waiting for a lock in a statement that names the talk (psycopg2 sends
        its parameters within the statement's text)."""
        with (
            contextlib.closing(psycopg2.connect(talks_dsn)) as watcher,
            watcher.cursor() as cursor,
        ):
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE wait_event_type = 'Lock' AND strpos(query, %s) > 0",
                (talk,),
            )
            return int(cursor.fetchone()[0])

    deadline = time.monotonic() + 10
    while waiting_on_the_row() < 2:  # both are waiting on the row
        assert time.monotonic() < deadline, "the two saves did not both wait on the row"
        time.sleep(0.02)
    holder.rollback()
    holder.close()
    for thread in threads:
        thread.join(10)
    # Then one save went through and the other was refused with the revision it missed
    saved = {name: o for name, o in outcomes.items() if isinstance(o, tuple)}
    refused = {name: o for name, o in outcomes.items() if isinstance(o, TalkChanged)}
    assert len(saved) == len(refused) == 1, outcomes
    (winner, (created, revision, _)), (_, changed) = saved.popitem(), refused.popitem()
    assert created is False
    assert revision > read.revision
    assert changed.revision == revision
    now = first.get(talk)
    assert now is not None
    assert (now.room, now.revision) == (winner, revision)


def test_revisions_are_never_reused_not_even_by_a_talk_added_again(
    talks_dsn: str, talk: str
) -> None:
    catalog = PostgresTalkCatalog(PostgresDatabase(talks_dsn))
    before = catalog.get(talk)
    assert before is not None
    assert before.revision is not None
    assert catalog.delete(talk)
    added = catalog.create(before)
    assert added is not None
    assert added > before.revision
    # The organiser who read the removed talk cannot change the new one with what they read
    with pytest.raises(TalkChanged):
        catalog.save(before, Precondition(if_match=frozenset({before.revision})))
    with pytest.raises(TalkChanged):
        catalog.delete(talk, Precondition(if_match=frozenset({before.revision})))
    assert catalog.get(talk) == before._replace(revision=added)


def waiting_on_locks(talks_dsn: str, count: int) -> None:
    """Until `count` sessions of this database wait on a lock (at most five seconds)."""
    with contextlib.closing(psycopg2.connect(talks_dsn)) as watcher:
        watcher.autocommit = True
        cursor = watcher.cursor()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            row = cursor.fetchone()
            if row is not None and row[0] >= count:
                return
            time.sleep(0.01)
    raise AssertionError(f"{count} sessions never waited on the talk's row")


def test_a_removal_answers_the_revision_it_removed_after_earlier_saves_before_a_new_add(
    talks_dsn: str, talk: str
) -> None:
    # Given a talk, and its removal answered with the revision the talk had
    catalog = PostgresTalkCatalog(PostgresDatabase(talks_dsn))
    saved = catalog.get(talk)
    assert saved is not None
    assert saved.revision is not None
    edited = catalog.save(saved._replace(room="Hall E")).revision
    assert catalog.delete(talk) == edited
    # Then a removal of no talk answers none, and the talk added again comes after the removal
    assert catalog.delete(talk) is None
    added = catalog.create(saved)
    assert added is not None
    assert added > edited
    again = catalog.save(saved._replace(room="Hall F")).revision
    assert catalog.delete(talk, Precondition(if_match=frozenset({again}))) == again


def test_a_save_that_adds_a_talk_again_while_it_is_removed_comes_after_the_removal(
    talks_dsn: str, talk: str
) -> None:
    # Given two organisers' instances, one removing a talk and the other saving it, at once: a
    # third session holds the talk's row, the removal queues on it first, then the save (which
    # has already drawn the revision a talk it adds would take)
    remover = PostgresTalkCatalog(PostgresDatabase(talks_dsn))
    saver = PostgresTalkCatalog(PostgresDatabase(talks_dsn))
    read = saver.get(talk)
    assert read is not None
    holder = psycopg2.connect(talks_dsn)
    holder.cursor().execute("SELECT 1 FROM talks WHERE id = %s FOR UPDATE", (talk,))
    outcomes: dict[str, object] = {}
    removal = threading.Thread(target=lambda: outcomes.update(removed=remover.delete(talk)))
    save = threading.Thread(
        target=lambda: outcomes.update(saved=saver.save(read._replace(room="Hall S")))
    )
    try:
        removal.start()
        waiting_on_locks(talks_dsn, 1)
        save.start()
        waiting_on_locks(talks_dsn, 2)
    finally:
        # When the row is let go: the removal goes first, the save then adds the talk again
        holder.rollback()
        holder.close()
    removal.join(10)
    save.join(10)
    # Then the removal came before the save in the order their revisions give, as in the
    # catalog: a page that hears them in either order keeps the talk (the save's revision is
    # the greater), where a revision drawn by the removal itself would be the greater
    removed, (created, revision, _) = outcomes["removed"], outcomes["saved"]  # type: ignore[misc]
    assert created is True
    assert isinstance(removed, int)
    assert revision > removed
    assert removed == read.revision
    now = saver.get(talk)
    assert now is not None
    assert (now.room, now.revision) == ("Hall S", revision)
