"""Reading the outboxes back, and driving the dispatcher until its work is done."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from gateway.dispatcher import Dispatcher
from gateway.messages import RawMessage, utcnow
from gateway.pipeline import Pipeline
from gateway.records import Complaint
from gateway.replies import ReplySender
from gateway.storage.db import Database
from gateway.storage.tables import complaint, dispatch_job, raw_message, reply
from normalizers.registry import NORMALIZERS
from tests.pipeline.twilio_raws import archive_all

UNFINISHED = ("pending", "in_flight")


async def rows(db: Database, table: sa.Table) -> list[Any]:
    """Every row of a table."""
    async with db.connect() as connection:
        return list((await connection.execute(sa.select(table))).all())


async def jobs(db: Database) -> list[Any]:
    """The dispatch outbox."""
    return await rows(db, dispatch_job)


async def replies(db: Database) -> list[Any]:
    """The reply outbox."""
    return await rows(db, reply)


async def records(db: Database) -> dict[str, Complaint]:
    """Canonical records by complaint id."""
    return {row.id: Complaint.model_validate_json(row.record) for row in await rows(db, complaint)}


async def complaint_rows(db: Database) -> dict[str, Any]:
    """Complaint rows by id."""
    return {row.id: row for row in await rows(db, complaint)}


async def make_complaints(db: Database, raws: Iterable[RawMessage], normalizers: Any = None) -> list[str]:
    """Archive raws and run the pipeline over them; the complaint ids, in the order of `raws`."""
    raws = list(raws)
    await archive_all(db, raws)
    pipeline = Pipeline(db, normalizers or NORMALIZERS)
    while await pipeline.process_pending():
        pass
    by_external = {row.external_id: row.complaint_id for row in await rows(db, raw_message)}
    return [str(by_external[raw.external_id]) for raw in raws]


async def drain(dispatcher: Dispatcher, db: Database, *, timeout: float = 20.0) -> int:
    """Dispatch until no job is pending or in flight; how many claims that took."""
    deadline = time.monotonic() + timeout
    claims = 0
    while any(job.state in UNFINISHED for job in await jobs(db)):
        if time.monotonic() > deadline:
            states = sorted((job.state, job.attempts, job.last_error) for job in await jobs(db))
            raise AssertionError(f"dispatch did not finish in {timeout}s: {states}")
        if await dispatcher.dispatch_pending() == 0:
            await asyncio.sleep(0.02)
        claims += 1
    return claims


async def drain_replies(sender: ReplySender, db: Database, *, timeout: float = 20.0) -> None:
    """Send replies until none is pending or sending."""
    deadline = time.monotonic() + timeout
    while any(row.state in ("pending", "sending") for row in await replies(db)):
        if time.monotonic() > deadline:
            states = sorted((row.state, row.attempts, row.last_error) for row in await replies(db))
            raise AssertionError(f"replies did not finish in {timeout}s: {states}")
        if await sender.send_pending() == 0:
            await asyncio.sleep(0.02)


async def expire_leases(db: Database, table: sa.Table) -> None:
    """Let the lease of every claimed row run out (moved back in time rather than waited for)."""
    async with db.begin() as connection:
        await connection.execute(
            sa.update(table).where(table.c.locked_until.is_not(None))
            .values(locked_until=utcnow() - timedelta(seconds=1))
        )
