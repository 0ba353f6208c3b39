"""The SQL that compose.yaml's PostgreSQL runs at its first start (schema, then dev talks) works on
a real PostgreSQL, twice over."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg2
import psycopg2.extensions
import pytest
from psycopg2 import sql

from talkrate_local import compose_seed, database
from talkrate_local.devdata import DEV_TALKS, programme_opening
from tests.builders import ROOT

pytestmark = pytest.mark.integration


@pytest.fixture
def empty_database(talks_dsn: str) -> Iterator[str]:
    """A database of its own on the test server, dropped afterwards."""
    name = f"talkrate_seed_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(psycopg2.extensions.make_dsn(talks_dsn, dbname="postgres"))
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield psycopg2.extensions.make_dsn(talks_dsn, dbname=name)
    finally:
        with admin.cursor() as cursor:
            cursor.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
        admin.close()


def test_the_compose_init_scripts_create_and_seed_the_catalog(empty_database: str) -> None:
    # Given the scripts compose.yaml mounts into docker-entrypoint-initdb.d, in name order
    scripts = [
        (ROOT / "layers" / "shared" / "talkrate" / "schema.sql").read_text(),
        (ROOT / "local" / "compose" / "20-dev-talks.sql").read_text(),
    ]
    connection = psycopg2.connect(empty_database)
    try:
        # When they run on an empty database, and once more
        before = datetime.now(UTC)
        for _ in range(2):
            with connection, connection.cursor() as cursor:
                for script in scripts:
                    cursor.execute(script)
        after = datetime.now(UTC)
        # Then the catalog holds the dev talks once, the workshop's among them
        with connection.cursor() as cursor:
            cursor.execute("SELECT id, speakers FROM talks ORDER BY starts_at, id")
            talks = dict(cursor.fetchall())
            cursor.execute("SELECT id, starts_at, ends_at FROM talks")
            times = {row[0]: (row[1], row[2]) for row in cursor.fetchall()}
    finally:
        connection.close()
    # And the programme is dated as the local stack dates it, around the moment of the seed
    openings = {programme_opening(before), programme_opening(after)}
    for talk in DEV_TALKS:
        assert times[talk.id] in {(talk.starts_at(o), talk.ends_at(o)) for o in openings}
    assert len(talks) == compose_seed.render().count("::text[]")
    assert talks["testcontainers-integration-testing"] == ["Mira Holloway"]
    assert talks["chaos-engineering-101"] == ["Liam O'Connor"]


@pytest.mark.parametrize("seed", ["compose", "make run"])
def test_each_seed_gives_the_dev_talks_their_languages(empty_database: str, seed: str) -> None:
    # Given the dev programme, with a talk given in a language of its own
    languages = {talk.id: talk.language for talk in DEV_TALKS}
    assert languages["serverless-cold-starts"] == "es"
    # When compose's init scripts seed an empty catalog, or the local stack prepares one
    if seed == "compose":
        connection = psycopg2.connect(empty_database)
        try:
            with connection, connection.cursor() as cursor:
                cursor.execute((ROOT / "layers" / "shared" / "talkrate" / "schema.sql").read_text())
                cursor.execute((ROOT / "local" / "compose" / "20-dev-talks.sql").read_text())
        finally:
            connection.close()
    else:
        database.prepare(empty_database)
    # Then each talk carries its language (none: the programme's own)
    connection = psycopg2.connect(empty_database)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT id, language FROM talks")
            stored = dict(cursor.fetchall())
    finally:
        connection.close()
    assert stored == languages
