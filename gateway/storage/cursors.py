"""Durable poller positions and delivery statuses, as channels see them."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from gateway.messages import utcnow
from gateway.storage.db import Database
from gateway.storage.tables import channel_cursor, reply


class DatabaseCursors:
    """CursorStore on the channel_cursor table."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, channel: str, key: str) -> str | None:
        """The stored value, or None."""
        async with self._db.connect() as connection:
            row = (
                await connection.execute(
                    sa.select(channel_cursor.c.value).where(
                        channel_cursor.c.channel == channel, channel_cursor.c.key == key
                    )
                )
            ).first()
        return None if row is None else str(row.value)

    async def set(self, channel: str, key: str, value: str) -> None:
        """Store a value, replacing the old one."""
        dialect = postgresql if self._db.is_postgres else sqlite
        now = utcnow()
        statement = dialect.insert(channel_cursor).values(channel=channel, key=key, value=value, updated_at=now)
        async with self._db.begin() as connection:
            await connection.execute(
                statement.on_conflict_do_update(
                    index_elements=["channel", "key"], set_={"value": value, "updated_at": now}
                )
            )


class DatabaseDeliveries:
    """DeliveryRecorder on the reply table: provider statuses of our own replies."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def record_delivery(self, channel: str, provider_id: str, status: str, detail: str = "") -> bool:
        """Store the status; False when no reply of ours has that provider id."""
        async with self._db.begin() as connection:
            result = await connection.execute(
                sa.update(reply)
                # Kannel and SMSSync report on our own reply id, which can arrive before provider_id is saved.
                .where(
                    reply.c.channel == channel,
                    sa.or_(reply.c.provider_id == provider_id, reply.c.id == provider_id),
                )
                .values(delivery_status=status[:32], last_error=detail or None)
            )
        return bool(result.rowcount)
