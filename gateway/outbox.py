"""Operator actions on the outboxes: list what waits or died, bring dead letters back."""

from __future__ import annotations

from typing import Any, Literal

import sqlalchemy as sa

from gateway.messages import utcnow
from gateway.storage.db import Database
from gateway.storage.spam_store import CONFIRMED_NOTE
from gateway.storage.tables import complaint, dispatch_job, reply

Queue = Literal["dispatch", "reply"]


def _table(queue: Queue) -> sa.Table:
    table: sa.Table = dispatch_job if queue == "dispatch" else reply
    return table


async def list_entries(
    db: Database, queue: Queue, *, states: tuple[str, ...], limit: int = 100
) -> list[dict[str, Any]]:
    """Outbox rows in the given states, oldest first, without message text or addresses."""
    table = _table(queue)
    columns = [table.c.id, table.c.state, table.c.attempts, table.c.next_attempt_at, table.c.last_error,
               table.c.complaint_id]
    if queue == "dispatch":
        columns += [table.c.kind, complaint.c.channel, complaint.c.tracking_id]
        query = sa.select(*columns).join(complaint, complaint.c.id == table.c.complaint_id)
    else:
        columns += [table.c.kind, table.c.channel, table.c.provider_id, table.c.delivery_status]
        query = sa.select(*columns)
    if states:
        query = query.where(table.c.state.in_(states))
    query = query.order_by(table.c.next_attempt_at).limit(limit)
    async with db.connect() as connection:
        return [dict(row._mapping) for row in (await connection.execute(query)).all()]


async def retry(db: Database, queue: Queue, *, ids: tuple[str, ...] = (), states: tuple[str, ...] = ("dead",)) -> int:
    """Put dead (or held) entries back in line with a fresh attempt budget; returns how many."""
    table = _table(queue)
    condition: sa.ColumnElement[bool] = table.c.state.in_(states)
    if "held" in states and queue == "dispatch":
        # An operator confirmed these as spam: releasing "everything held" must not file them.
        condition = sa.and_(condition, sa.or_(table.c.last_error.is_(None), table.c.last_error != CONFIRMED_NOTE))
    if ids:
        condition = sa.and_(condition, table.c.id.in_(ids))
    async with db.begin() as connection:
        result = await connection.execute(
            sa.update(table).where(condition).values(state="pending", attempts=0, next_attempt_at=utcnow(),
                                                     locked_until=None)
        )
    return int(result.rowcount)
