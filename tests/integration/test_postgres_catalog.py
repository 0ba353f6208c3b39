"""The talk catalog against a real PostgreSQL."""

from __future__ import annotations

import time

import pytest

from talkrate.adapters.postgres import PostgresDatabase, PostgresTalkCatalog
from talkrate.errors import BackendUnavailable

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
