"""PostgreSQL: the talk catalog."""

from __future__ import annotations

from importlib import resources
from typing import Any

import psycopg2
import psycopg2.extensions

from talkrate.errors import BackendUnavailable

CONNECT_TIMEOUT_SECONDS = 3


class PostgresTalkCatalog:
    """TalkCatalog over one lazily opened connection, reopened once when it has gone away."""

    def __init__(self, dsn: str) -> None:
        self._dsn = dsn
        self._connection: psycopg2.extensions.connection | None = None

    def exists(self, talk_id: str) -> bool:
        """True when the talk is in the catalog."""
        rows = self._query("SELECT 1 FROM talks WHERE id = %s", (talk_id,))
        return bool(rows)

    def ping(self) -> bool:
        """True when the catalog answers."""
        try:
            return bool(self._query("SELECT 1", ()))
        except BackendUnavailable:
            return False

    def _query(self, sql: str, args: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        for attempt in (1, 2):
            try:
                connection = self._connect()
                with connection.cursor() as cursor:
                    cursor.execute(sql, args)
                    return cursor.fetchall()
            except (psycopg2.OperationalError, psycopg2.InterfaceError) as error:
                self.close()
                if attempt == 2:
                    raise BackendUnavailable("the talk catalog is unreachable") from error
        raise AssertionError("unreachable")  # pragma: no cover

    def _connect(self) -> psycopg2.extensions.connection:
        if self._connection is None or self._connection.closed:
            self._connection = psycopg2.connect(
                self._dsn, connect_timeout=CONNECT_TIMEOUT_SECONDS, application_name="talkrate"
            )
            self._connection.autocommit = True
        return self._connection

    def close(self) -> None:
        """Close the connection; the next query opens a new one."""
        if self._connection is not None:
            try:
                self._connection.close()
            finally:
                self._connection = None


def apply_schema(dsn: str) -> None:
    """Create or update the tables talkrate needs (idempotent)."""
    sql = resources.files("talkrate").joinpath("schema.sql").read_text()
    connection = psycopg2.connect(dsn, connect_timeout=CONNECT_TIMEOUT_SECONDS)
    try:
        with connection, connection.cursor() as cursor:
            cursor.execute(sql)
    finally:
        connection.close()
