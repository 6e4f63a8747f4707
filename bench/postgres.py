"""A throwaway PostgreSQL database for the benchmark, on the server the tests use."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

SERVER = os.environ.get("LAPOR_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


class PostgresUnavailable(Exception):
    """The PostgreSQL server does not answer; the section is skipped."""


def _admin() -> psycopg.Connection[tuple[object, ...]]:
    try:
        return psycopg.connect(SERVER, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        raise PostgresUnavailable(f"PostgreSQL at {SERVER} does not answer ({type(exc).__name__})") from exc


@contextmanager
def temporary_database() -> Iterator[str]:
    """Create a uniquely named database, yield its SQLAlchemy URL, drop it afterwards."""
    name = f"lapor_bench_{uuid.uuid4().hex[:12]}"
    with _admin() as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = psycopg.conninfo.conninfo_to_dict(SERVER)
    host, port, user = base.get("host", "127.0.0.1"), base.get("port", "5432"), base.get("user", "postgres")
    password = f":{base['password']}" if base.get("password") else ""
    try:
        yield f"postgresql+psycopg://{user}{password}@{host}:{port}/{name}"
    finally:
        with _admin() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
