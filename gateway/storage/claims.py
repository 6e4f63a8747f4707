"""Claiming work from an outbox table safely across processes.

PostgreSQL: `UPDATE ... WHERE id IN (SELECT ... FOR UPDATE SKIP LOCKED)`, so concurrent workers
never take the same row. SQLite has no row locks (and `with_for_update(skip_locked=True)` is
silently a no-op there); its single writer makes the `UPDATE ... RETURNING` claim atomic.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Row

from gateway.storage.db import Database


async def claim(
    db: Database,
    table: sa.Table,
    *,
    ready: sa.ColumnElement[bool],
    order_by: sa.ColumnElement[Any],
    limit: int,
    values: dict[str, Any],
) -> Sequence[Row[Any]]:
    """Mark up to `limit` ready rows with `values` and return them, each to exactly one caller."""
    candidates = sa.select(table.c.id).where(ready).order_by(order_by).limit(limit)
    if db.is_postgres:
        candidates = candidates.with_for_update(skip_locked=True)
    statement = (
        sa.update(table)
        .where(table.c.id.in_(candidates.scalar_subquery()))
        .values(**values)
        .returning(*table.c)
    )
    async with db.begin() as connection:
        return (await connection.execute(statement)).all()
