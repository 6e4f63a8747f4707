"""Migrated databases for each test, copied from one migrated template per session.

Running the alembic migrations costs most of a second per database; copying a migrated SQLite
file (sqlite3 backup API, consistent under WAL) or `CREATE DATABASE ... TEMPLATE` on PostgreSQL
costs a few milliseconds. The tests that check the migrations themselves still run them.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

from gateway.storage.migrate import upgrade
from tests.support.postgres import SERVER, temporary_database


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


@contextmanager
def postgres_copy(template_url: str) -> Iterator[str]:
    """A fresh database cloned from the template; dropped afterwards."""
    template = template_url.rsplit("/", 1)[1]
    name = f"lapor_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(SERVER, autocommit=True, connect_timeout=3) as admin:
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    try:
        yield template_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(SERVER, autocommit=True, connect_timeout=3) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file per session."""
    return migrated_sqlite_template(tmp_path_factory.mktemp("template"))


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    """One migrated PostgreSQL database per session."""
    with migrated_postgres_template() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated database (same contract as tests/conftest.py), copied from a session template."""
    if request.param == "sqlite":
        yield sqlite_copy(request.getfixturevalue("sqlite_template"), tmp_path / "gateway.db")
    else:
        with postgres_copy(request.getfixturevalue("postgres_template")) as url:
            yield url
