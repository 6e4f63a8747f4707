"""Claiming outbox rows: each row to exactly one claimer; leases expire; future rows wait."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from gateway.messages import utcnow
from gateway.storage.claims import claim
from gateway.storage.db import Database
from gateway.storage.tables import dispatch_job

LEASE = timedelta(seconds=30)


def job_row(job_id: str, *, state: str = "pending", due: datetime | None = None,
            locked_until: datetime | None = None) -> dict[str, Any]:
    """A dispatch_job row; complaint_id needs no complaint (no foreign key)."""
    now = utcnow()
    return {
        "id": job_id, "kind": "file", "complaint_id": job_id, "idempotency_key": f"file:{job_id}",
        "state": state, "attempts": 0, "next_attempt_at": due or now - timedelta(seconds=1),
        "locked_until": locked_until, "created_at": now, "updated_at": now,
    }


async def insert_jobs(db: Database, rows: list[dict[str, Any]]) -> None:
    """Put rows in the dispatch outbox."""
    async with db.begin() as connection:
        await connection.execute(sa.insert(dispatch_job), rows)


async def claim_jobs(db: Database, *, worker: str, limit: int) -> list[str]:
    """The dispatcher's own claim: due pending jobs and in-flight jobs whose lease ran out."""
    now = utcnow()
    table = dispatch_job
    rows = await claim(
        db,
        table,
        ready=sa.or_(
            sa.and_(table.c.state == "pending", table.c.next_attempt_at <= now),
            sa.and_(table.c.state == "in_flight", table.c.locked_until < now),
        ),
        order_by=table.c.next_attempt_at,
        limit=limit,
        values={"state": "in_flight", "locked_until": now + LEASE, "locked_by": worker},
    )
    return [row.id for row in rows]


async def drain(db: Database, worker: str, *, limit: int) -> list[str]:
    """Claim until nothing is left, as a worker loop does."""
    taken: list[str] = []
    while batch := await claim_jobs(db, worker=worker, limit=limit):
        taken.extend(batch)
        await asyncio.sleep(0)  # let the other claimer in between batches
    return taken


@pytest.mark.parametrize("claimers", [2, 4], ids=["two-workers", "four-workers"])
async def test_concurrent_claimers_never_share_a_row(database_url: str, claimers: int) -> None:
    ids = [f"job{index:05d}" for index in range(400)]
    databases = [Database(database_url) for _ in range(claimers)]
    try:
        await insert_jobs(databases[0], [job_row(job_id) for job_id in ids])
        results = await asyncio.gather(
            *(drain(database, f"worker-{n}", limit=7) for n, database in enumerate(databases))
        )
        taken = [job_id for result in results for job_id in result]
        assert sorted(taken) == ids, "every row claimed exactly once"
        async with databases[0].connect() as connection:
            rows = (await connection.execute(sa.select(dispatch_job.c.id, dispatch_job.c.locked_by))).all()
        owners: dict[str, str] = {row.id: row.locked_by for row in rows}
        for n, result in enumerate(results):
            assert all(owners[job_id] == f"worker-{n}" for job_id in result)
    finally:
        for database in databases:
            await database.dispose()


@pytest.mark.parametrize(
    ("state", "due_in", "lease_left", "claimed"),
    [
        ("pending", -1.0, None, True),
        ("pending", 0.0, None, True),
        ("pending", 60.0, None, False),
        ("in_flight", -1.0, -0.5, True),
        ("in_flight", -1.0, 30.0, False),
        ("done", -1.0, None, False),
        ("dead", -1.0, None, False),
        ("held", -1.0, None, False),
    ],
    ids=["due", "due-now", "not-yet-due", "lease-expired", "lease-held", "done", "dead", "held"],
)
async def test_which_rows_are_claimable(
    db: Database, state: str, due_in: float, lease_left: float | None, claimed: bool
) -> None:
    now = utcnow()
    await insert_jobs(db, [job_row(
        "only", state=state, due=now + timedelta(seconds=due_in),
        locked_until=None if lease_left is None else now + timedelta(seconds=lease_left),
    )])
    assert await claim_jobs(db, worker="w", limit=10) == (["only"] if claimed else [])


async def test_claim_takes_oldest_first_up_to_the_limit_and_sets_a_lease(db: Database) -> None:
    now = utcnow()
    await insert_jobs(db, [job_row(f"j{n}", due=now - timedelta(seconds=n)) for n in range(5)])
    # RETURNING gives no order; which rows were taken is what matters.
    assert sorted(await claim_jobs(db, worker="w", limit=2)) == ["j3", "j4"]
    async with db.connect() as connection:
        rows = {row.id: row for row in (await connection.execute(sa.select(dispatch_job))).all()}
    assert rows["j4"].state == "in_flight" and rows["j4"].locked_until > utcnow() + LEASE / 2
    assert rows["j0"].state == "pending" and rows["j0"].locked_until is None
    # A claimed row with a live lease is not claimed again.
    assert sorted(await claim_jobs(db, worker="w2", limit=10)) == ["j0", "j1", "j2"]
    assert await claim_jobs(db, worker="w3", limit=10) == []
