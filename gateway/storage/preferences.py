"""Reporters' preferences: opted out of updates (STOP/BERHENTI), or an address that bounces."""

from __future__ import annotations

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.messages import utcnow
from gateway.storage.db import Database
from gateway.storage.tables import reporter_preference


async def upsert_preference(
    db: Database, connection: AsyncConnection, channel: str, identity: str, **values: bool
) -> None:
    """Record a reporter's preference (opted out, undeliverable)."""
    dialect = postgresql if db.is_postgres else sqlite
    now = utcnow()
    statement = dialect.insert(reporter_preference).values(
        channel=channel, identity=identity, updated_at=now, **values
    )
    await connection.execute(
        statement.on_conflict_do_update(index_elements=["channel", "identity"], set_={"updated_at": now, **values})
    )
