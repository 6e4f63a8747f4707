"""Migrated, empty databases for each test without running the migrations for each test.

Running the alembic migrations costs most of a second per database, and creating and dropping a
PostgreSQL database about half a second more. SQLite: each test gets a copy of one migrated file
(sqlite3 backup API, consistent under WAL). PostgreSQL: one migrated database per session, emptied
with DELETE before each test (milliseconds, where TRUNCATE or CREATE DATABASE ... TEMPLATE fsync).
The tests that check the migrations themselves still run them on fresh databases.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from gateway.storage.migrate import upgrade
from tests.support.postgres import temporary_database


def migrated_sqlite_template(folder: Path) -> Path:
    """An SQLite file at the newest schema."""
    path = folder / "template.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


def sqlite_copy(template: Path, target: Path) -> str:
    """A copy of the template at `target`; its SQLAlchemy URL."""
    with sqlite3.connect(template) as source, sqlite3.connect(target) as copy:
        source.backup(copy)
    return f"sqlite+aiosqlite:///{target}"


@contextmanager
def migrated_postgres_template() -> Iterator[str]:
    """A PostgreSQL database at the newest schema, to clone from; dropped afterwards."""
    with temporary_database() as url:
        upgrade(url)
        yield url


def emptied(url: str) -> str:
    """Delete every row but the schema version; the URL again."""
    dsn = url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(dsn, connect_timeout=3) as connection:
        # Replica mode skips foreign-key triggers, so the order of the deletes does not matter.
        connection.execute("SET session_replication_role = replica")
        tables = connection.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
        ).fetchall()
        for (table,) in tables:
            connection.execute(sql.SQL("DELETE FROM {}").format(sql.Identifier(table)))
    return url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file per session."""
    return migrated_sqlite_template(tmp_path_factory.mktemp("template"))


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    """One migrated PostgreSQL database per session, shared by the tests one after another."""
    with migrated_postgres_template() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database (the contract of tests/conftest.py), without migrating each time."""
    if request.param == "sqlite":
        yield sqlite_copy(request.getfixturevalue("sqlite_template"), tmp_path / "gateway.db")
    else:
        yield emptied(request.getfixturevalue("postgres_template"))
