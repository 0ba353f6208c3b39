"""The local catalog database: created if missing, schema applied, dev talks seeded."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import psycopg2
import psycopg2.extensions
from psycopg2 import sql

from talkrate.adapters.postgres import PostgresDatabase, PostgresEventStore, apply_schema
from talkrate_local.devdata import DEV_TALKS, DevTalk, programme_opening

_UPSERT = """
INSERT INTO talks (id, title, speakers, track, room, starts_at, ends_at, language)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (id) DO UPDATE SET
    title = EXCLUDED.title, speakers = EXCLUDED.speakers, track = EXCLUDED.track,
    room = EXCLUDED.room, starts_at = EXCLUDED.starts_at, ends_at = EXCLUDED.ends_at,
    language = EXCLUDED.language,
    revision = nextval('talk_revisions')
"""


@contextmanager
def event_store(dsn: str) -> Iterator[PostgresEventStore]:
    """The event store in the DSN's database, on a connection of its own closed afterwards."""
    database = PostgresDatabase(dsn, name="talkrate")
    try:
        yield PostgresEventStore(database)
    finally:
        database.close()


def create_database(dsn: str) -> bool:
    """Create the DSN's database when it does not exist yet; True when it was created."""
    params = psycopg2.extensions.parse_dsn(dsn)
    name = params.get("dbname")
    if not name:
        raise ValueError("the connection string names no database")
    maintenance = psycopg2.extensions.make_dsn(dsn, dbname="postgres")
    connection = psycopg2.connect(maintenance, connect_timeout=5)
    try:
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if cursor.fetchone():
                return False
            cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            return True
    except psycopg2.errors.DuplicateDatabase:
        return False  # created concurrently by another process
    finally:
        connection.close()


def seed(dsn: str, talks: tuple[DevTalk, ...] = DEV_TALKS, now: datetime | None = None) -> int:
    """Insert or refresh the dev talks, their programme dated around `now` (the current time);
    returns how many there are."""
    opening = programme_opening(now)
    connection = psycopg2.connect(dsn, connect_timeout=5)
    try:
        with connection, connection.cursor() as cursor:
            cursor.executemany(
                _UPSERT,
                [
                    (
                        t.id,
                        t.title,
                        list(t.speakers),
                        t.track,
                        t.room,
                        t.starts_at(opening),
                        t.ends_at(opening),
                        t.language,
                    )
                    for t in talks
                ],
            )
    finally:
        connection.close()
    return len(talks)


def recreate(dsn: str) -> None:
    """An empty catalog with the dev talks only: for test suites that need one of their own."""
    create_database(dsn)
    connection = psycopg2.connect(dsn, connect_timeout=5)
    try:
        with connection, connection.cursor() as cursor:
            cursor.execute(
                "DROP TABLE IF EXISTS talks, rating_events, duplicate_positions, rating_outbox, "
                "dead_letters, forgotten_voters, schema_applied"
            )
    finally:
        connection.close()
    prepare(dsn)


def prepare(dsn: str) -> None:
    """Make the catalog ready: database, schema, dev talks (idempotent)."""
    create_database(dsn)
    apply_schema(dsn)
    seed(dsn)


if __name__ == "__main__":
    import os

    target = os.environ.get("TALKS_CONNECTION", "postgresql://postgres@127.0.0.1:5432/talkrate")
    prepare(target)
    print(f"catalog ready: {len(DEV_TALKS)} dev talks")
