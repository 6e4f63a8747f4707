"""The audit trail: every admin change with who, what and when, written in the change's own transaction."""

from __future__ import annotations

import getpass
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection
from ulid import ULID

from gateway.admin.tables import admin_audit
from gateway.messages import utcnow
from gateway.storage.db import Database

Detail = Mapping[str, str | int | bool | None]


def cli_actor() -> str:
    """How the audit trail names a change made from the command line."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"cli:{user}"


async def record(
    connection: AsyncConnection, *, actor: str, action: str, target: str = "", detail: Detail | None = None,
    at: datetime | None = None,
) -> None:
    """Append one entry. Callers pass names and outcomes only, never a secret value."""
    await connection.execute(sa.insert(admin_audit).values(
        id=str(ULID()), at=at or utcnow(), actor=actor[:128], action=action, target=target[:128],
        detail=json.dumps(dict(detail or {}), sort_keys=True),
    ))


async def recent(db: Database, *, limit: int = 100) -> list[dict[str, Any]]:
    """The newest entries first."""
    async with db.connect() as connection:
        rows = (await connection.execute(
            sa.select(admin_audit).order_by(admin_audit.c.at.desc(), admin_audit.c.id.desc()).limit(limit)
        )).all()
    return [
        {"id": row.id, "at": row.at.isoformat(), "actor": row.actor, "action": row.action, "target": row.target,
         "detail": json.loads(row.detail)}
        for row in rows
    ]
