"""What a benchmarked gateway stored, read back from its database after a run."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import sqlalchemy as sa

from gateway.storage.db import sync_url
from gateway.storage.tables import raw_message


def read_acknowledged(path: Path) -> list[str]:
    """The MessageSids the load generator got a 200 for."""
    return path.read_text().split() if path.exists() else []


def missing(database_url: str, acknowledged: Iterable[str]) -> int:
    """How many acknowledged MessageSids have no raw_message row: must be 0."""
    engine = sa.create_engine(sync_url(database_url))
    try:
        with engine.connect() as connection:
            query = sa.select(raw_message.c.external_id).where(raw_message.c.channel == "twilio")
            stored = set(connection.execute(query).scalars())
    finally:
        engine.dispose()
    return sum(1 for sid in set(acknowledged) if sid not in stored)


def count_flagged(database_url: str, flag: str) -> int:
    """How many raw messages carry `flag` (for example `flood`)."""
    engine = sa.create_engine(sync_url(database_url))
    try:
        with engine.connect() as connection:
            query = sa.select(sa.func.count()).where(raw_message.c.flags.contains(flag))
            return int(connection.execute(query).scalar_one())
    finally:
        engine.dispose()
