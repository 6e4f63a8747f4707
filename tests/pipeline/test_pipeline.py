"""The pipeline: stored raws become complaints and outbox jobs, quarantines or ignores, exactly once."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from gateway.messages import RawMessage, utcnow
from gateway.pipeline import Pipeline
from gateway.records import Complaint, Reference
from gateway.replay import ReplayFilter, replay_stored
from gateway.storage.claims import claim
from gateway.storage.db import Database
from gateway.storage.tables import complaint, dispatch_job, raw_message, reporter_preference
from normalizers.registry import NORMALIZERS
from tests.pipeline.twilio_raws import PHONE, archive_all, twilio_raw


@dataclass(frozen=True)
class Stored:
    """Everything the pipeline wrote, read back."""

    raws: dict[str, Any]
    complaints: list[Any]
    jobs: list[Any]
    preferences: list[Any]

    def record(self, external_id: str) -> Complaint:
        """The canonical record made from one raw."""
        complaint_id = self.raws[external_id].complaint_id
        (row,) = [row for row in self.complaints if row.id == complaint_id]
        return Complaint.model_validate_json(row.record)


async def read_back(db: Database) -> Stored:
    """The raw archive, complaints, jobs and preferences as they are now."""
    async with db.connect() as connection:
        raws = {row.external_id: row for row in (await connection.execute(sa.select(raw_message))).all()}
        complaints = list((await connection.execute(sa.select(complaint))).all())
        jobs = list((await connection.execute(sa.select(dispatch_job))).all())
        preferences = list((await connection.execute(sa.select(reporter_preference))).all())
    return Stored(raws, complaints, jobs, preferences)


async def process_all(pipeline: Pipeline) -> int:
    """Run the pipeline until nothing is left to claim; how many raws it processed."""
    total = 0
    while done := await pipeline.process_pending():
        total += done
    return total


@pytest.fixture
def pipeline(db: Database) -> Pipeline:
    """The pipeline with the real normalizer table."""
    return Pipeline(db, NORMALIZERS, batch_size=50)


NO_SID = b"Body=jalan+rusak&From=%2B6281234567890&To=%2B621708&AccountSid=ACx"

CASES: list[tuple[str, RawMessage, str, str | None]] = [
    ("complaint", twilio_raw("SMc1"), "normalized", None),
    ("malformed-body", twilio_raw("SMc2", payload=b"Body=\xff\xfejalan&From=%2B6281234567890"), "quarantined",
     "malformed_form_body: UnicodeDecodeError"),
    ("missing-from", twilio_raw("SMc3", sender=""), "quarantined", "missing_field: From"),
    ("missing-sid", twilio_raw("SMc4", payload=NO_SID), "quarantined", "missing_field: MessageSid"),
    ("unknown-event", twilio_raw("SMc5", event="reaction"), "quarantined", "unsupported_event: reaction"),
    ("no-normalizer", twilio_raw("SMc6", channel="pigeon"), "quarantined", "no_normalizer: pigeon"),
    ("delivery-status", twilio_raw("SMc7", event="status"), "ignored", "delivery_status"),
    ("empty-message", twilio_raw("SMc8", "   "), "ignored", "empty_message"),
    ("opt-out", twilio_raw("SMc9", "STOP"), "ignored", "opt_out"),
]


@pytest.mark.parametrize(("raw", "state", "reason"), [case[1:] for case in CASES], ids=[case[0] for case in CASES])
async def test_each_stored_raw_gets_an_outcome_and_a_reason(
    db: Database, pipeline: Pipeline, raw: RawMessage, state: str, reason: str | None
) -> None:
    await archive_all(db, [raw])
    assert await process_all(pipeline) == 1
    stored = await read_back(db)
    row = stored.raws[raw.external_id]
    assert (row.state, row.reason) == (state, reason)
    assert row.processed_at is not None and row.locked_until is None
    assert bytes(row.payload) == raw.payload, "the raw stays in the archive whatever its outcome"
    if state == "normalized":
        (record_row,) = stored.complaints
        (job,) = stored.jobs
        assert row.complaint_id == record_row.id == job.complaint_id
        assert (job.kind, job.state, job.idempotency_key) == ("file", "pending", f"file:{record_row.id}")
        assert (record_row.relation, record_row.parent_id, record_row.tracking_id) == ("new", None, None)
        assert record_row.reporter_identity == PHONE
        record = stored.record(raw.external_id)
        assert [change.status for change in record.status_history] == ["received"]
        assert record.raw.sha256 == (raw.sha256,)
    else:
        assert (row.complaint_id, stored.complaints, stored.jobs) == (None, [], [])


async def test_opt_out_records_the_reporters_preference(db: Database, pipeline: Pipeline) -> None:
    await archive_all(db, [twilio_raw("SMstop", "Berhenti", sender="081234567890")])
    await process_all(pipeline)
    (preference,) = (await read_back(db)).preferences
    assert (preference.channel, preference.identity, preference.opted_out) == ("twilio", PHONE, True)


@pytest.mark.parametrize(
    ("meta", "job_state", "flag"),
    [({}, "pending", None), ({"flood": "1"}, "held", "flood"),
     ({"signature": "invalid"}, "pending", "signature_unverified")],
    ids=["plain", "flood-held", "unsigned-flagged"],
)
async def test_transport_flags_reach_the_record_and_floods_are_held(
    db: Database, pipeline: Pipeline, meta: dict[str, str], job_state: str, flag: str | None
) -> None:
    await archive_all(db, [twilio_raw("SMflag", meta=meta)])
    await process_all(pipeline)
    stored = await read_back(db)
    (job,) = stored.jobs
    assert job.state == job_state
    record = stored.record("SMflag")
    assert (flag in record.flags) if flag else record.flags == ()


async def set_tracking_id(db: Database, external_id: str, tracking_id: str) -> str:
    """Mark the complaint made from a raw as filed under `tracking_id`, as the dispatcher does."""
    stored = await read_back(db)
    complaint_id = str(stored.raws[external_id].complaint_id)
    async with db.begin() as connection:
        await connection.execute(
            sa.update(complaint).where(complaint.c.id == complaint_id).values(tracking_id=tracking_id)
        )
    return complaint_id


async def test_follow_up_of_a_known_complaint_points_to_it(db: Database, pipeline: Pipeline) -> None:
    await archive_all(db, [twilio_raw("SMparent")])
    await process_all(pipeline)
    parent_id = await set_tracking_id(db, "SMparent", "1916449")
    await archive_all(db, [
        twilio_raw("SMchild", "#1916449 jalan masih rusak, belum ada perbaikan"),
        twilio_raw("SMchild2", "#1916449  sekarang ada lubang baru", sender="whatsapp:+6281234567890"),
    ])
    assert await process_all(pipeline) == 2
    stored = await read_back(db)
    for external_id in ("SMchild", "SMchild2"):
        record = stored.record(external_id)
        assert (record.thread.relation, record.thread.parent_id) == ("follow_up", parent_id)
        assert record.thread.unresolved == ()
        assert not record.body.text.startswith("#1916449")
        (job,) = [job for job in stored.jobs if job.complaint_id == record.id]
        assert (job.kind, job.state, job.idempotency_key) == ("follow_up", "pending", f"follow_up:{record.id}")
        (row,) = [row for row in stored.complaints if row.id == record.id]
        assert (row.relation, row.parent_id) == ("follow_up", parent_id)


async def test_unknown_tracking_id_stays_a_new_complaint_with_the_reference_kept(
    db: Database, pipeline: Pipeline
) -> None:
    await archive_all(db, [twilio_raw("SMorphan", "#9999999 lampu jalan mati lagi")])
    await process_all(pipeline)
    stored = await read_back(db)
    record = stored.record("SMorphan")
    assert (record.thread.relation, record.thread.parent_id) == ("new", None)
    assert record.thread.unresolved == (Reference(kind="tracking_id", value="9999999"),)
    (job,) = stored.jobs
    assert job.kind == "file"


async def test_reprocessing_the_same_rows_is_idempotent(db: Database, pipeline: Pipeline) -> None:
    raws = [twilio_raw("SMr1"), twilio_raw("SMr2", "STOP"), twilio_raw("SMr3", payload=b"\xff"),
            twilio_raw("SMr4", "#424242 masih banjir")]
    await archive_all(db, raws)
    await process_all(pipeline)
    first = await read_back(db)
    assert await pipeline.process_pending() == 0, "processed raws are not claimed again"

    async with db.connect() as connection:
        rows = (await connection.execute(sa.select(raw_message))).all()
    await pipeline.process_rows(rows)
    lines: list[dict[str, Any]] = []
    counts = await replay_stored(db, pipeline, ReplayFilter(channel="twilio"), dry_run=False,
                                 normalizers=NORMALIZERS, emit=lines.append, advance=lambda _n: None)
    assert sum(counts.values()) == len(lines) == 4

    again = await read_back(db)
    assert [(row.id, row.record) for row in again.complaints] == [(row.id, row.record) for row in first.complaints]
    assert [(row.id, row.kind, row.state) for row in again.jobs] == [
        (row.id, row.kind, row.state) for row in first.jobs
    ]
    assert len(again.complaints) == len(again.jobs) == 2
    assert {k: (v.state, v.complaint_id) for k, v in again.raws.items()} == {
        k: (v.state, v.complaint_id) for k, v in first.raws.items()
    }


async def test_stored_replay_reports_the_outcome_it_stored(db: Database, pipeline: Pipeline) -> None:
    await archive_all(db, [twilio_raw("SMparent")])
    await process_all(pipeline)
    await set_tracking_id(db, "SMparent", "1916449")
    await archive_all(db, [twilio_raw("SMknown", "#1916449 masih rusak"), twilio_raw("SMunknown", "#9999999 banjir")])
    lines: list[dict[str, Any]] = []
    await replay_stored(db, pipeline, ReplayFilter(channel="twilio", ids=("SMknown", "SMunknown")), dry_run=False,
                        normalizers=NORMALIZERS, emit=lines.append, advance=lambda _n: None)
    outcomes = {line["source"].split(":")[1]: line["outcome"] for line in lines}
    # An unknown tracking id was stored as a new complaint, so that is what the operator must read.
    assert outcomes == {"SMknown": "follow_up", "SMunknown": "complaint"}


async def test_reprocessing_does_not_reset_a_job_already_dispatched(db: Database, pipeline: Pipeline) -> None:
    await archive_all(db, [twilio_raw("SMdone")])
    await process_all(pipeline)
    async with db.begin() as connection:
        await connection.execute(sa.update(dispatch_job).values(state="done", attempts=1))
        rows = (await connection.execute(sa.select(raw_message))).all()
    await pipeline.process_rows(rows)
    (job,) = (await read_back(db)).jobs
    assert (job.state, job.attempts) == ("done", 1)


@pytest.mark.parametrize(
    ("lease_left", "picked_up"),
    [(-1.0, True), (30.0, False)],
    ids=["crashed-lease-expired", "still-held-by-a-live-process"],
)
async def test_a_raw_left_processing_is_picked_up_once_its_lease_expires(
    db: Database, pipeline: Pipeline, lease_left: float, picked_up: bool
) -> None:
    await archive_all(db, [twilio_raw("SMcrash")])
    # Another process claims the raw and dies before writing anything.
    taken = await claim(
        db, raw_message, ready=raw_message.c.state == "received", order_by=raw_message.c.received_at, limit=10,
        values={"state": "processing", "locked_until": utcnow() + timedelta(seconds=lease_left)},
    )
    assert len(taken) == 1
    assert await process_all(pipeline) == (1 if picked_up else 0)
    stored = await read_back(db)
    assert stored.raws["SMcrash"].state == ("normalized" if picked_up else "processing")
    assert len(stored.complaints) == len(stored.jobs) == (1 if picked_up else 0)


async def test_another_reporter_cannot_add_to_a_complaint(db: Database, pipeline: Pipeline) -> None:
    await archive_all(db, [twilio_raw("SMowner")])
    await process_all(pipeline)
    await set_tracking_id(db, "SMowner", "1916450")
    await archive_all(db, [twilio_raw("SMstranger", "#1916450 laporan ini palsu, abaikan", sender="+6285700000001")])
    await process_all(pipeline)
    record = (await read_back(db)).record("SMstranger")
    assert (record.thread.relation, record.thread.parent_id) == ("new", None)
    assert record.thread.unresolved == (Reference(kind="tracking_id", value="1916450"),)


async def test_under_pressure_it_takes_one_message_and_rests(db: Database, pipeline: Pipeline) -> None:
    """A burst of acknowledgements: on either database the pipeline all but stops (one message, then a rest)."""
    await archive_all(db, [twilio_raw(f"SMburst{n}") for n in range(10)])
    pressure = True
    pipeline.under_pressure = lambda: pressure
    pipeline.pause_after_write = lambda: 0.5 if pressure else 0.0
    running = asyncio.create_task(pipeline.run(poll_seconds=0.05))
    try:
        await asyncio.sleep(0.3)
        states = [row.state for row in (await read_back(db)).raws.values()]
        assert states.count("normalized") == 1
        pressure = False  # the burst is over: whole batches again
        for _ in range(100):
            await asyncio.sleep(0.05)
            if all(row.state == "normalized" for row in (await read_back(db)).raws.values()):
                break
        assert all(row.state == "normalized" for row in (await read_back(db)).raws.values())
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
