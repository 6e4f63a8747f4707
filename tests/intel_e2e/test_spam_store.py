"""Suspected spam on the real database: stored and held by the enriching pipeline, then released or confirmed.

Runs on SQLite and PostgreSQL, with the real registry sandbox and dispatcher. The spam text is a row of
../shared/corpus/id-sms-spam-bopbi held out from the spam rules' development (see tests/intel/test_spam.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from gateway.dispatcher import Dispatcher
from gateway.intel.settings import IntelSettings
from gateway.intel.spam import SPAM_FLAG
from gateway.intel.spam_review import CONFIRMED_FLAG, RELEASED_FLAG, ReviewDecision, review
from gateway.messages import utcnow
from gateway.pipeline import Pipeline
from gateway.registry.lapor import LaporClient
from gateway.runtime import intel_enricher
from gateway.storage.db import Database
from gateway.storage.spam_store import CONFIRMED_NOTE, DatabaseSpamReviews
from gateway.storage.tables import dispatch_job, reply
from normalizers.registry import NORMALIZERS
from tests.dispatcher.fast_settings import FAST
from tests.dispatcher.sim_harness import TOKEN, SimHandle, running_sim
from tests.intel_e2e.corpus_rows import held_out_spam
from tests.pipeline.twilio_raws import archive_all, twilio_raw


@pytest.fixture
async def sim(tmp_path: Path) -> AsyncIterator[SimHandle]:
    async with running_sim(tmp_path / "registry.db") as handle:
        yield handle


@pytest.fixture
async def lapor(sim: SimHandle) -> AsyncIterator[LaporClient]:
    client = LaporClient(base_url=sim.url, token=TOKEN, timeout_seconds=5.0)
    yield client
    await client.aclose()


async def _job(db: Database, complaint_id: str) -> sa.Row[tuple[str, str | None]]:
    async with db.connect() as connection:
        return (
            await connection.execute(
                sa.select(dispatch_job.c.state, dispatch_job.c.last_error).where(
                    dispatch_job.c.complaint_id == complaint_id
                )
            )
        ).one()


async def _acks(db: Database, complaint_id: str) -> list[str]:
    async with db.connect() as connection:
        rows = await connection.execute(sa.select(reply.c.text).where(reply.c.complaint_id == complaint_id))
        return [row.text for row in rows]


async def _store_spam(db: Database, sid: str, text: str) -> str:
    pipeline = Pipeline(db, NORMALIZERS, enrich=intel_enricher(IntelSettings()))
    await archive_all(db, [twilio_raw(sid, text, sender="+6281399990001")])
    assert await pipeline.process_pending() == 1
    reviews = DatabaseSpamReviews(db)
    async with db.connect() as connection:
        complaint_id = (await connection.execute(sa.text("SELECT id FROM complaint"))).scalar_one()
    stored = await reviews.get(complaint_id)
    assert stored is not None and SPAM_FLAG in stored.flags
    return str(complaint_id)


@pytest.mark.parametrize(
    ("decision", "job_state", "filed", "flags"),
    [
        ("release", "done", 1, {RELEASED_FLAG}),
        ("confirm", "held", 0, {SPAM_FLAG, CONFIRMED_FLAG}),
    ],
    ids=["release-files-and-acknowledges", "confirm-stays-held-unacknowledged"],
)
async def test_review_decides_what_the_dispatcher_does(
    db: Database, sim: SimHandle, lapor: LaporClient, decision: ReviewDecision, job_state: str, filed: int,
    flags: set[str],
) -> None:
    text = held_out_spam("prize/17.txt")
    complaint_id = await _store_spam(db, "SMspam-store-1", text)
    dispatcher = Dispatcher(db, lapor, FAST, worker_id="spam-test")

    # Held: the dispatcher does not even claim it, and nothing is acknowledged.
    assert (await _job(db, complaint_id)).state == "held"
    assert await dispatcher.dispatch_pending() == 0
    assert await sim.items() == [] and await _acks(db, complaint_id) == []

    reviews = DatabaseSpamReviews(db)
    stored = await reviews.get(complaint_id)
    assert stored is not None
    await reviews.save_review(review(stored, decision, operator="test", at=utcnow()), decision)
    for _ in range(3):
        await dispatcher.dispatch_pending()

    job = await _job(db, complaint_id)
    assert job.state == job_state
    assert len(await sim.items()) == filed
    acks = await _acks(db, complaint_id)
    assert len(acks) == filed
    after = await reviews.get(complaint_id)
    assert after is not None and flags <= set(after.flags)
    if decision == "confirm":
        assert job.last_error == CONFIRMED_NOTE and after.status == "spam"
        assert SPAM_FLAG in after.flags  # never deleted, still marked
    else:
        assert SPAM_FLAG not in after.flags and after.external.tracking_id is not None
        assert f"#{after.external.tracking_id}" in acks[0]


async def test_a_reviewed_record_cannot_be_reviewed_again(db: Database) -> None:
    complaint_id = await _store_spam(db, "SMspam-store-2", held_out_spam("loan/23.txt"))
    reviews = DatabaseSpamReviews(db)
    stored = await reviews.get(complaint_id)
    assert stored is not None
    confirmed = review(stored, "confirm", operator="test", at=utcnow())
    await reviews.save_review(confirmed, "confirm")
    again = await reviews.get(complaint_id)
    assert again is not None
    with pytest.raises(ValueError, match="not held"):
        review(again, "release", operator="test", at=utcnow())
    assert await reviews.get("01JUNKNOWN0000000000000000") is None


async def test_a_complaint_is_not_held(db: Database) -> None:
    pipeline = Pipeline(db, NORMALIZERS, enrich=intel_enricher(IntelSettings()))
    await archive_all(db, [twilio_raw("SMnot-spam", "Lampu PJU mati di Kelurahan Sukagalih sudah seminggu")])
    await pipeline.process_pending()
    async with db.connect() as connection:
        state = (await connection.execute(sa.select(dispatch_job.c.state))).scalar_one()
    assert state == "pending"
