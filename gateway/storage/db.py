"""The database handle: one async engine, SQLite (WAL) by default or PostgreSQL."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Callable, Generator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import aiosqlite
from sqlalchemy import event
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from gateway.errors import ConfigurationError

_ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+psycopg"}
_SYNC_DRIVERS = {"sqlite": "sqlite", "postgresql": "postgresql+psycopg"}


def _parse(url: str) -> URL:
    try:
        parsed = make_url(url)
    except Exception as exc:
        raise ConfigurationError("invalid database url", detail=type(exc).__name__) from exc
    if parsed.get_backend_name() not in _ASYNC_DRIVERS:
        raise ConfigurationError("unsupported database", detail=parsed.get_backend_name())
    return parsed


def async_url(url: str) -> URL:
    """The URL with the async driver this project uses (aiosqlite, psycopg 3)."""
    parsed = _parse(url)
    return parsed.set(drivername=_ASYNC_DRIVERS[parsed.get_backend_name()])


def sync_url(url: str) -> URL:
    """The URL with a synchronous driver, for alembic."""
    parsed = _parse(url)
    return parsed.set(drivername=_SYNC_DRIVERS[parsed.get_backend_name()])


def ensure_sqlite_directory(url: str) -> None:
    """Create the folder of an SQLite file so that a fresh checkout can start."""
    parsed = _parse(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)


def sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """Settings every SQLite connection of the gateway runs with."""
    cursor = dbapi_connection.cursor()
    # WAL lets readers run beside the single writer; synchronous=FULL makes every commit
    # durable before we acknowledge (group commit amortizes the fsync).
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


class _SameThreadConnection(aiosqlite.Connection):
    """aiosqlite's interface, run on the calling thread instead of a worker thread.

    For a process whose event loop does nothing but database work (the pipeline's child process): every
    statement through aiosqlite is a round trip to its thread, and inside a write transaction those round
    trips keep SQLite's single write lock held while acknowledgements in the ingest process wait for it.
    """

    def __await__(self) -> Generator[Any, None, _SameThreadConnection]:
        return self._connect().__await__()  # no worker thread is started

    async def _connect(self) -> _SameThreadConnection:
        if self._connection is None:
            self._connection = self._connector()
        return self

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if not self._running or not self._connection:
            raise ValueError("Connection closed")
        return fn(*args, **kwargs)

    def stop(self) -> None:
        self._running = False
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def sqlite_connection(url: URL) -> sqlite3.Connection:
    """A plain sqlite3 connection to the engine's file, with its URI options (mode=ro, ...) but no pragmas."""
    args, options = SQLiteDialect_pysqlite().create_connect_args(url.set(drivername="sqlite"))
    return sqlite3.connect(str(args[0]), uri=bool(options.get("uri", False)), check_same_thread=False)


def _same_thread_creator(url: URL) -> Callable[[], Any]:
    async def create() -> _SameThreadConnection:
        return await _SameThreadConnection(lambda: sqlite_connection(url), 64)

    return create


# The Database whose SQLite write lock the current task holds, so a nested transaction does not wait on itself.
_holder: ContextVar[Database | None] = ContextVar("lapor_sqlite_writer", default=None)


class Database:
    """An async engine and the facts about its dialect that queries depend on."""

    def __init__(self, url: str, *, pool_size: int = 10, same_thread: bool = False) -> None:
        """`same_thread`: SQLite statements run on the event loop's thread (see _SameThreadConnection)."""
        ensure_sqlite_directory(url)
        self.url = async_url(url)
        self.dialect = self.url.get_backend_name()
        self._write_lock = asyncio.Lock()
        if self.dialect == "sqlite":
            creator = {"async_creator": _same_thread_creator(self.url)} if same_thread else {}
            self.engine: AsyncEngine = create_async_engine(self.url, pool_size=pool_size, max_overflow=0, **creator)
            event.listen(self.engine.sync_engine, "connect", sqlite_pragmas)
        else:
            self.engine = create_async_engine(
                self.url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True
            )

    @property
    def is_postgres(self) -> bool:
        """True on PostgreSQL, where claims use FOR UPDATE SKIP LOCKED."""
        return self.dialect == "postgresql"

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncConnection]:
        """A connection in a transaction, committed on success.

        SQLite has one writer per file. Writers of this process queue on an asyncio lock instead of in
        SQLite's busy handler, which sleeps in steps of up to 100 ms and starves the acknowledgement path.
        """
        async with self.writing(), self.engine.begin() as connection:
            yield connection

    @asynccontextmanager
    async def writing(self) -> AsyncIterator[None]:
        """This process's turn to write to SQLite (a no-op on PostgreSQL, and for a task already holding it)."""
        if self.dialect != "sqlite" or _holder.get() is self:
            yield
            return
        async with self._write_lock:
            token = _holder.set(self)
            try:
                yield
            finally:
                _holder.reset(token)

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[AsyncConnection]:
        """A connection for reading."""
        async with self.engine.connect() as connection:
            yield connection

    async def ping(self) -> bool:
        """True when the database answers."""
        try:
            async with self.engine.connect() as connection:
                await connection.exec_driver_sql("SELECT 1")
        except Exception:
            return False
        return True

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()
