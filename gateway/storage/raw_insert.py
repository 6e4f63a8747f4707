"""The acknowledgement path's one write: a batch of raw_message rows in one transaction, as cheaply as possible.

Every webhook waits for this commit, so it bypasses the ORM layers the rest of the code uses:

- SQLite: a connection of its own runs the whole transaction (BEGIN IMMEDIATE, two statements, COMMIT) on the
  event loop. Through aiosqlite each step was a round trip between its thread and a busy loop, and a 30-row
  batch took ~7 ms instead of ~0.5 ms.
- PostgreSQL: a connection of its own and one prepared statement per batch, `INSERT ... SELECT FROM
  unnest(<arrays>)`, instead of bound rows through the pool.

Both store exactly what SQLAlchemy would (tests/storage/test_archive.py reads the rows back through it) and
raise ArchiveUnavailable when the database refuses, so the caller never acknowledges an unstored message.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import psycopg
from sqlalchemy.engine import URL

from gateway.storage.db import Database, sqlite_connection, sqlite_pragmas

# The columns an arriving message fills, in the order of the statements below; the others keep their
# defaults until the pipeline sets them.
COLUMNS = ("id", "channel", "event", "external_id", "received_at", "payload", "sha256", "meta", "state", "flags")
_RECEIVED_AT = COLUMNS.index("received_at")

# One row's values in COLUMNS order (gateway.storage.archive.raw_values).
RawValues = tuple[Any, ...]


class ArchiveUnavailable(Exception):
    """The database refused the write; the caller must not acknowledge."""


def sqlite_timestamp(value: datetime) -> str:
    """A UTC datetime as SQLAlchemy stores it on SQLite (gateway.storage.tables.UtcDateTime), so rows sort alike."""
    if value.tzinfo is not UTC:  # utcnow() times, the usual case, need no conversion
        value = value.astimezone(UTC)
    return value.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


class SqliteRawWriter:
    """Inserts raw rows through a connection of its own, on the event loop, one short transaction per batch."""

    _INSERT = (
        "INSERT INTO raw_message (id, channel, event, external_id, received_at, payload, sha256, meta, state, flags) "
        "VALUES "
    )
    _ROW = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    _CHUNK = 500  # rows per statement: 5,000 parameters, well under SQLite's limit of 32,766

    def __init__(self, db: Database, *, busy_seconds: float = 10.0) -> None:
        self._db = db
        self._url: URL = db.url
        self._busy_seconds = busy_seconds
        self._connection: sqlite3.Connection | None = None
        self._closed = False

    async def insert(self, rows: Sequence[RawValues]) -> set[str]:
        """The ids of the rows inserted (the others were stored before); ArchiveUnavailable on failure."""
        if self._closed:
            raise ArchiveUnavailable("the archive is closed")
        at = _RECEIVED_AT
        values = [(*row[:at], sqlite_timestamp(row[at]), *row[at + 1 :]) for row in rows]
        # Writers of this process take turns here rather than in SQLite's sleeping busy handler.
        async with self._db.writing():
            return await self._when_unlocked(values)

    async def close(self) -> None:
        """Close the connection; later inserts raise ArchiveUnavailable."""
        self._closed = True
        self._disconnect()

    async def _when_unlocked(self, values: list[tuple[Any, ...]]) -> set[str]:
        # Another process (a CLI command, a second gateway on the same file) may hold SQLite's write lock:
        # wait for it without blocking the event loop, then give up so that the caller spools instead.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._busy_seconds
        pause = 0.0005
        while True:
            try:
                return self._transaction(values)
            except _Locked as exc:
                if loop.time() + pause > deadline:
                    raise ArchiveUnavailable("database is locked") from exc
                await asyncio.sleep(pause)
                pause = min(pause * 2, 0.004)  # the pipeline's transactions take a millisecond or two

    def _transaction(self, values: list[tuple[Any, ...]]) -> set[str]:
        # Synchronous on purpose: the whole transaction takes well under a millisecond (one fsync), where
        # handing it to a thread cost two wake-ups of a busy loop and GIL hand-offs at every SQLite step.
        try:
            connection = self._connect()
            try:
                connection.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                if exc.sqlite_errorcode in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
                    raise _Locked from exc
                raise
            try:
                inserted: set[str] = set()
                for start in range(0, len(values), self._CHUNK):
                    inserted |= self._insert_new(connection, values[start : start + self._CHUNK])
                connection.execute("COMMIT")
            except BaseException:
                if connection.in_transaction:
                    connection.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            self._disconnect()  # a file replaced or repaired is opened afresh next time
            raise ArchiveUnavailable(f"{type(exc).__name__}: {exc}") from exc
        return inserted

    def _insert_new(self, connection: sqlite3.Connection, values: list[tuple[Any, ...]]) -> set[str]:
        # Two statements whatever the batch size. Inside BEGIN IMMEDIATE nobody else writes, so the ids not
        # found are exactly the rows this INSERT adds.
        ids = [row[0] for row in values]
        placeholders = ", ".join("?" * len(ids))
        existing = {found for (found,) in connection.execute(
            f"SELECT id FROM raw_message WHERE id IN ({placeholders})", ids  # noqa: S608 (placeholders only)
        )}
        new = [row for row in values if row[0] not in existing]
        if new:
            statement = self._INSERT + ", ".join([self._ROW] * len(new))
            connection.execute(statement, [value for row in new for value in row])
        return {row[0] for row in new}

    def _connect(self) -> sqlite3.Connection:
        if self._connection is None:
            # The same file, URI options (mode=ro, ...) and pragmas as the engine's own connections, except
            # that a locked database is waited for in _when_unlocked, not in SQLite's blocking busy handler.
            connection = sqlite_connection(self._url)
            connection.isolation_level = None  # transactions are begun and ended explicitly
            try:
                sqlite_pragmas(connection, None)
                connection.execute("PRAGMA busy_timeout=0")
            except sqlite3.Error:
                connection.close()
                raise
            self._connection = connection
        return self._connection

    def _disconnect(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


class _Locked(Exception):
    """SQLite's write lock is held by another connection."""


# One statement for any batch size: the rows travel as one array per column, in binary (%b): psycopg's text
# format escapes every element of every array in Python, which cost more than the rest of the batch together.
_POSTGRES_SQL = (
    "INSERT INTO raw_message (id, channel, event, external_id, received_at, payload, sha256, meta, state, flags) "
    "SELECT * FROM unnest(%(id)b::text[], %(channel)b::text[], %(event)b::text[], %(external_id)b::text[], "
    "%(received_at)b::timestamptz[], %(payload)b::bytea[], %(sha256)b::text[], %(meta)b::text[], "
    "%(state)b::text[], %(flags)b::text[]) "
    "ON CONFLICT DO NOTHING RETURNING id"
)


class PostgresRawWriter:
    """Inserts raw rows through a psycopg connection of its own, kept open between batches.

    Through the engine's pool every batch paid a checkout, a pre-ping round trip and SQLAlchemy's execution
    layers; here it is one prepared statement in autocommit mode, one round trip. A connection that fails is
    dropped and the next batch opens a new one.
    """

    def __init__(self, db: Database, *, timeout_seconds: float = 10.0) -> None:
        self._conninfo = db.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._timeout = timeout_seconds
        self._connection: psycopg.AsyncConnection[Any] | None = None
        self._closed = False

    async def insert(self, rows: Sequence[RawValues]) -> set[str]:
        """The ids of the rows inserted, in one statement and one transaction; ArchiveUnavailable on failure."""
        if self._closed:
            raise ArchiveUnavailable("the archive is closed")
        arrays = {column: list(values) for column, values in zip(COLUMNS, zip(*rows, strict=True), strict=True)}
        # A database that stops answering (a half-open connection) must not hold acknowledgements: past the
        # timeout they go to the spool. The attempt is left to end in the background, because psycopg's own
        # clean-up of a cancelled query (a cancel request to the same silent server) takes seconds more.
        attempt = asyncio.ensure_future(self._insert(arrays))
        done, _ = await asyncio.wait({attempt}, timeout=self._timeout)
        if not done:
            self._connection = None  # never used again
            attempt.add_done_callback(_forget)
            attempt.cancel()
            raise ArchiveUnavailable("TimeoutError")
        try:
            return attempt.result()
        except (psycopg.Error, OSError) as exc:
            await self._disconnect()
            raise ArchiveUnavailable(type(exc).__name__) from exc

    async def _insert(self, arrays: dict[str, list[Any]]) -> set[str]:
        connection = await self._connect()
        # Autocommit: the one statement is its own transaction, all rows or none, committed when it answers.
        # BEGIN and COMMIT around it were two more round trips, each waiting for a busy event loop to notice.
        cursor = await connection.execute(_POSTGRES_SQL, arrays, prepare=True)
        return {str(row[0]) for row in await cursor.fetchall()}

    async def close(self) -> None:
        """Close the connection; later inserts raise ArchiveUnavailable."""
        self._closed = True
        await self._disconnect()

    async def _connect(self) -> psycopg.AsyncConnection[Any]:
        if self._connection is None or self._connection.closed:
            self._connection = await psycopg.AsyncConnection.connect(
                self._conninfo, autocommit=True, connect_timeout=max(1, int(self._timeout))
            )
        return self._connection

    async def _disconnect(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(psycopg.Error, OSError):
                await connection.close()


def _forget(attempt: asyncio.Future[Any]) -> None:
    """Collect the outcome of an abandoned attempt, so that asyncio does not report it as never retrieved."""
    if not attempt.cancelled():
        attempt.exception()
