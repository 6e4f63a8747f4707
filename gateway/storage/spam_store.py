"""Operator review of suspected spam on the gateway database: release files it, confirm keeps it held."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import sqlalchemy as sa
import structlog

from config.settings import Settings
from gateway.intel.spam_review import ReviewDecision, SpamReviewStore
from gateway.messages import utcnow
from gateway.pipeline import HOLD_FLAGS
from gateway.records import Complaint
from gateway.storage.db import Database
from gateway.storage.tables import complaint, dispatch_job

log = structlog.get_logger(__name__)

# Left on a confirmed record's held job so that `outbox list` shows why it waits.
CONFIRMED_NOTE = "spam_confirmed"


class DatabaseSpamReviews:
    """A SpamReviewStore on the complaint and dispatch_job tables; nothing is ever deleted."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, complaint_id: str) -> Complaint | None:
        """The stored complaint, or None."""
        async with self._db.connect() as connection:
            row = (
                await connection.execute(sa.select(complaint.c.record).where(complaint.c.id == complaint_id))
            ).first()
        return None if row is None else Complaint.model_validate_json(row.record)

    async def save_review(self, reviewed: Complaint, decision: ReviewDecision) -> None:
        """Store the reviewed record; a release puts its held jobs back in the outbox, a confirm leaves them held.

        A released record no longer carries suspected_spam, so the dispatcher acknowledges it once
        filed; it stays held only if another hold flag (a flood) is still on it.
        """
        now = utcnow()
        jobs = sa.and_(dispatch_job.c.complaint_id == reviewed.id, dispatch_job.c.state == "held")
        async with self._db.begin() as connection:
            await connection.execute(
                sa.update(complaint)
                .where(complaint.c.id == reviewed.id)
                .values(record=reviewed.model_dump_json(), status=reviewed.status, updated_at=now)
            )
            if decision == "release" and not HOLD_FLAGS.intersection(reviewed.flags):
                moved = await connection.execute(
                    sa.update(dispatch_job).where(jobs).values(
                        state="pending", attempts=0, next_attempt_at=now, locked_until=None, last_error=None,
                        updated_at=now,
                    )
                )
            else:
                note = CONFIRMED_NOTE if decision == "confirm" else "still_held"
                moved = await connection.execute(
                    sa.update(dispatch_job).where(jobs).values(last_error=note, updated_at=now)
                )
        log.info("spam.reviewed", complaint_id=reviewed.id, decision=decision, jobs=moved.rowcount)


@asynccontextmanager
async def open_spam_store(settings: Settings) -> AsyncIterator[SpamReviewStore]:
    """The store on the configured database, for `lapor-gateway spam release|confirm`."""
    db = Database(settings.database.url)
    try:
        yield DatabaseSpamReviews(db)
    finally:
        await db.dispose()
