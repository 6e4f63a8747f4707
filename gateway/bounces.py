"""Bounces of our own acknowledgements: the address is marked undeliverable so it gets no more mail."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.records import Ignored
from gateway.storage.db import Database
from gateway.storage.preferences import upsert_preference
from gateway.storage.tables import reply
from normalizers.email_bounce import bounced_acks


async def mark_bounced(db: Database, connection: AsyncConnection, outcome: Ignored) -> int:
    """Mark the replies a bounce names as bounced and their addresses undeliverable; how many."""
    marked = 0
    for provider_id in bounced_acks(outcome):
        row = (
            await connection.execute(
                sa.select(reply.c.channel, reply.c.address).where(reply.c.provider_id == provider_id)
            )
        ).first()
        if row is None:
            continue
        await connection.execute(
            sa.update(reply).where(reply.c.provider_id == provider_id).values(delivery_status="bounced")
        )
        await upsert_preference(db, connection, row.channel, row.address.strip().lower(), undeliverable=True)
        marked += 1
    return marked
