"""The lifecycle repositories on SQLite and PostgreSQL: claims, bookkeeping, outbox rows, consent, export."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from channels.base import OutgoingReply
from gateway.lifecycle.escalation import Escalation, consent
from gateway.lifecycle.repository import SyncUpdate
from gateway.lifecycle.settings import LifecycleSettings
from gateway.messages import utcnow
from gateway.records import StatusChange
from gateway.storage.db import Database
from gateway.storage.lifecycle_store import LifecycleStore, start_tracking
from gateway.storage.tables import complaint, complaint_contact, complaint_lifecycle, metadata, reply
from tests.lifecycle.complaints import build_complaint

NOW = utcnow()
LIFECYCLE_TABLES = {"complaint_lifecycle", "complaint_contact"}


async def test_migration_matches_the_table_definitions(db: Database) -> None:
    def differences(sync: sa.Connection) -> list[str]:
        context = MigrationContext.configure(sync, opts={"compare_type": True})
        found = [str(diff) for diff in compare_metadata(context, metadata)]
        return [diff for diff in found if any(name in diff for name in LIFECYCLE_TABLES)]

    async with db.connect() as connection:
        assert await connection.run_sync(differences) == []
        tables = await connection.run_sync(lambda sync: set(sa.inspect(sync).get_table_names()))
    assert LIFECYCLE_TABLES <= tables


async def filed(db: Database, *ids: str, age: timedelta = timedelta(hours=1)) -> LifecycleStore:
    """Complaints stored and tracked as the dispatcher leaves them after filing."""
    async with db.begin() as connection:
        for number, complaint_id in enumerate(ids):
            record = build_complaint(id=complaint_id, received_at=NOW - age, tracking_id=f"19164{number:02d}",
                                     identity=f"+62812345678{number:02d}", phone=f"+62812345678{number:02d}")
            await connection.execute(sa.insert(complaint).values(
                id=record.id, channel=record.channel, received_at=record.received_at, raw_id=f"r{complaint_id[1:]}",
                relation="new", reporter_identity=record.reporter.identity, dedup_key=record.dedup_key,
                tracking_id=record.external.tracking_id, status=record.status, record=record.model_dump_json(),
                created_at=NOW, updated_at=NOW, schema_version=1,
            ))
            await start_tracking(db, connection, record, settings=LifecycleSettings(), now=NOW - age)
    return LifecycleStore(db)


async def test_due_complaints_are_claimed_once_each(db: Database) -> None:
    ids = [f"01JSTORE00000000000000{n:04d}" for n in range(12)]
    store = await filed(db, *ids)
    batches = await asyncio.gather(*(store.due_for_sync(NOW, limit=5) for _ in range(4)))
    claimed = [target.complaint.id for batch in batches for target in batch]
    assert sorted(claimed) == sorted(ids), "every due complaint claimed, none twice"
    assert await store.due_for_sync(NOW, limit=50) == [], "the claim pushed the next poll out by the lease"
    assert len(await store.due_for_sync(NOW + timedelta(minutes=5), limit=50)) == len(ids), "lease ran out"


@pytest.mark.parametrize(
    ("next_poll", "finished", "due_again"),
    [(timedelta(minutes=30), False, False), (None, True, False), (timedelta(seconds=-1), False, True)],
    ids=["later", "finished", "overdue"],
)
async def test_apply_sync_bookkeeping(
    db: Database, next_poll: timedelta | None, finished: bool, due_again: bool
) -> None:
    store = await filed(db, "01JSTORE0000000000000BOOK1")
    (target,) = await store.due_for_sync(NOW, limit=1)
    reply_to = OutgoingReply(id="lifecycle-reply-1", channel="twilio", address="+6281234567800", text="kabar",
                             kind="agency_responded", complaint_id=target.complaint.id)
    update = SyncUpdate(
        complaint_id=target.complaint.id, polled_at=NOW, next_poll_at=None if next_poll is None else NOW + next_poll,
        failures=0, seen_response_ids=frozenset({"r1"}), status="diverifikasi",
        new_history=(StatusChange(status="diverifikasi", at=NOW, source="registry"),), replies=(reply_to,),
    )
    await store.apply_sync(update)
    await store.apply_sync(update)  # the same update again: one reply row
    async with db.connect() as connection:
        row = (await connection.execute(sa.select(complaint_lifecycle))).one()
        stored = (await connection.execute(sa.select(complaint))).one()
        replies = (await connection.execute(sa.select(reply))).all()
    assert row.finished is finished and row.seen_response_ids == '["r1"]'
    assert stored.status == "diverifikasi" and '"diverifikasi"' in stored.record
    assert [(r.dedup, r.kind, r.state) for r in replies] == [("lifecycle-reply-1", "agency_responded", "pending")]
    assert bool(await store.due_for_sync(NOW, limit=1)) is due_again


async def test_failed_poll_keeps_the_record_and_counts(db: Database) -> None:
    store = await filed(db, "01JSTORE0000000000000FAIL1")
    (target,) = await store.due_for_sync(NOW, limit=1)
    await store.apply_sync(SyncUpdate(complaint_id=target.complaint.id, polled_at=NOW,
                                      next_poll_at=NOW + timedelta(minutes=5), failures=3,
                                      seen_response_ids=frozenset(), error="TransientFailure: registry busy"))
    (again,) = await store.due_for_sync(NOW + timedelta(minutes=6), limit=1)
    assert again.failures == 3 and again.complaint == target.complaint


async def test_opt_out_consent_and_export(db: Database) -> None:
    store = await filed(db, "01JSTORE0000000000000ESC01", "01JSTORE0000000000000ESC02")
    assert not await store.is_opted_out("twilio", "+6281234567800")
    await store.set_opt_out("twilio", "+6281234567800", opted_out=True, at=NOW)
    assert await store.is_opted_out("twilio", "+6281234567800")
    targets = {target.complaint.id: target.opted_out for target in await store.due_for_sync(NOW, limit=5)}
    assert targets == {"01JSTORE0000000000000ESC01": True, "01JSTORE0000000000000ESC02": False}

    offer = Escalation(complaint_id="01JSTORE0000000000000ESC01", state="offered", offered_at=NOW)
    await store.apply_sync(SyncUpdate(complaint_id=offer.complaint_id, polled_at=NOW,
                                      next_poll_at=NOW + timedelta(hours=1), failures=0,
                                      seen_response_ids=frozenset(), escalation=offer))
    (pending,) = await store.pending_offers("twilio", "+6281234567800")
    assert pending.escalation == offer and pending.tracking_id == "1916400"
    assert await store.pending_offers("twilio", "+6281234567801") == []

    await store.record_consent([consent(offer, NOW)], [])
    assert await store.pending_offers("twilio", "+6281234567800") == []
    (case,) = await store.consented(include_exported=False)
    assert case.escalation.state == "consented" and case.complaint.id == offer.complaint_id
    await store.mark_exported([offer.complaint_id], NOW)
    assert await store.consented(include_exported=False) == []
    (exported,) = await store.consented(include_exported=True)
    assert exported.escalation.state == "exported" and exported.escalation.exported_at == NOW


async def test_contact_index_table_is_empty_until_the_pipeline_fills_it(db: Database) -> None:
    await filed(db, "01JSTORE0000000000000CONT1")
    async with db.connect() as connection:
        assert (await connection.execute(sa.select(sa.func.count()).select_from(complaint_contact))).scalar_one() == 0
