"""The status-sync worker end to end: a real Open311 client against the local GeoReport v2 server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import pytest
import structlog
from aiohttp.test_utils import TestServer

from channels.base import OutgoingReply
from gateway.lifecycle.repository import SyncTarget, SyncUpdate
from gateway.lifecycle.settings import LifecycleSettings
from gateway.lifecycle.sync import StatusSync, poll_interval, retry_interval
from gateway.records import Complaint, Location, StatusChange
from gateway.registry.open311 import Open311Client
from tests.fakes.fake_open311 import FakeOpen311
from tests.lifecycle.complaints import build_complaint

SETTINGS = LifecycleSettings()
T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # Monday 09:00 WIB


@pytest.mark.parametrize(
    ("age", "expected_minutes"),
    [
        (timedelta(hours=1), 5),
        (timedelta(hours=23, minutes=59), 5),
        (timedelta(hours=24), 30),
        (timedelta(days=6), 30),
        (timedelta(days=10), 120),
        (timedelta(days=45), 360),
    ],
    ids=["first-hour", "end-of-first-day", "second-day", "first-week", "second-week", "old"],
)
def test_poll_interval_slows_with_age(age: timedelta, expected_minutes: float) -> None:
    assert poll_interval(age, SETTINGS) == timedelta(minutes=expected_minutes)


@pytest.mark.parametrize(
    ("failures", "retry_after", "expected_minutes"),
    [(1, None, 5), (2, None, 10), (4, None, 40), (30, None, 360), (1, 1200.0, 20), (1, 10**7, 360)],
    ids=["first", "second", "fourth", "capped", "retry-after-longer", "retry-after-capped"],
)
def test_retry_interval(failures: int, retry_after: float | None, expected_minutes: float) -> None:
    assert retry_interval(failures, SETTINGS, retry_after) == timedelta(minutes=expected_minutes)


@dataclass
class Row:
    target: SyncTarget
    next_poll_at: datetime | None = None
    error: str | None = None
    finished: bool = False


class MemorySync:
    """SyncRepository in memory, applying updates the way the database must."""

    def __init__(self) -> None:
        self.rows: dict[str, Row] = {}
        self.outbox: dict[str, OutgoingReply] = {}
        self.updates: list[SyncUpdate] = []

    def add(self, target: SyncTarget) -> None:
        self.rows[target.complaint.id] = Row(target)

    def complaint(self, cid: str) -> Complaint:
        return self.rows[cid].target.complaint

    async def due_for_sync(self, now: datetime, *, limit: int) -> Sequence[SyncTarget]:
        due = [
            row.target
            for row in self.rows.values()
            if not row.finished and (row.next_poll_at is None or row.next_poll_at <= now)
        ]
        return due[:limit]

    async def apply_sync(self, update: SyncUpdate) -> None:
        self.updates.append(update)
        row = self.rows[update.complaint_id]
        complaint = row.target.complaint
        changes: dict[str, object] = {"status_history": complaint.status_history + update.new_history}
        if update.status is not None:
            changes["status"] = update.status
        if update.tracking_id is not None:
            changes["external"] = complaint.external.model_copy(update={"tracking_id": update.tracking_id})
        if update.deadlines is not None:
            changes["deadlines"] = update.deadlines
        row.target = replace(
            row.target,
            complaint=complaint.model_copy(update=changes),
            seen_response_ids=update.seen_response_ids,
            failures=update.failures,
            escalation=update.escalation or row.target.escalation,
        )
        row.next_poll_at = update.next_poll_at
        row.error = update.error
        row.finished = update.next_poll_at is None
        for reply in update.replies:
            self.outbox.setdefault(reply.id, reply)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class World:
    fake: FakeOpen311
    client: Open311Client
    repo: MemorySync
    clock: Clock
    sync: StatusSync
    file: Callable[..., Awaitable[Complaint]]


@pytest.fixture
async def world() -> AsyncIterator[World]:
    fake = FakeOpen311()
    server = TestServer(fake.app(), host="127.0.0.1")
    await server.start_server()
    client = Open311Client(
        base_url=str(server.make_url("")),
        api_key=fake.api_key,
        jurisdiction_id=fake.jurisdiction_id,
        default_service_code="001",
        token_poll_attempts=1,
        token_poll_interval_seconds=0.01,
    )
    repo = MemorySync()
    clock = Clock(T0)
    sync = StatusSync(repository=repo, registry=client, settings=SETTINGS, clock=clock)

    async def file(**kw: object) -> Complaint:
        draft = build_complaint(received_at=T0, tracking_id=None, status="received", **kw)  # type: ignore[arg-type]
        draft = draft.model_copy(update={"location": Location(text="Jl. Raya Cibinong 1")})
        filed = await client.file(draft, idempotency_key=f"key-{draft.id}")
        # What the dispatcher records on filing: the registry's first status, in the history.
        complaint = draft.model_copy(
            update={
                "status": filed.status,
                "status_history": (StatusChange(status=filed.status, at=T0, source="registry"),),
                "external": draft.external.model_copy(update={"tracking_id": filed.tracking_id}),
            }
        )
        repo.add(SyncTarget(complaint=complaint))
        return complaint

    yield World(fake, client, repo, clock, sync, file)
    await client.aclose()
    await server.close()


async def test_response_then_close_notifies_once_each(world: World) -> None:
    complaint = await world.file()
    tracking = complaint.external.tracking_id
    assert tracking is not None

    first = await world.sync.run_once()
    assert (first.polled, first.replies) == (1, 0)
    stored = world.repo.complaint(complaint.id)
    assert stored.deadlines.verify_by is not None and stored.deadlines.escalation_from is not None
    assert world.repo.rows[complaint.id].next_poll_at == T0 + timedelta(minutes=5)

    world.fake.update(tracking, status="open", notes="Perbaikan dijadwalkan pekan depan oleh Dinas PUPR.")
    world.clock.now = T0 + timedelta(minutes=6)
    second = await world.sync.run_once()
    assert second.replies == 1
    (reply,) = world.repo.outbox.values()
    assert reply.kind == "agency_responded" and "Dinas PUPR" in reply.text and f"#{tracking}" in reply.text
    assert reply.address == "+6281234567890" and reply.complaint_id == complaint.id
    stored = world.repo.complaint(complaint.id)
    assert [(c.status, c.source) for c in stored.status_history] == [("open", "registry"), ("responded", "agency")]
    assert stored.deadlines.close_by is not None and stored.deadlines.plan_by is not None

    world.clock.now = T0 + timedelta(minutes=12)
    third = await world.sync.run_once()
    assert (third.polled, third.replies, third.changed) == (1, 0, 0)

    world.fake.update(tracking, status="closed", notes="Perbaikan dijadwalkan pekan depan oleh Dinas PUPR.")
    world.clock.now = T0 + timedelta(minutes=20)
    fourth = await world.sync.run_once()
    assert fourth.replies == 1
    assert sorted(r.kind for r in world.repo.outbox.values()) == ["agency_responded", "closed"]
    assert world.repo.rows[complaint.id].next_poll_at is None
    assert world.repo.complaint(complaint.id).status == "closed"

    world.clock.now = T0 + timedelta(days=2)
    assert (await world.sync.run_once()).polled == 0  # finished complaints are not polled


async def test_public_channel_gets_no_excerpt(world: World) -> None:
    complaint = await world.file(channel="x", public=True)
    tracking = complaint.external.tracking_id
    assert tracking is not None
    world.fake.update(tracking, status="open", notes="Sdr. Budi Santoso di Jl. Melati 5 akan kami hubungi.")
    await world.sync.run_once()
    (reply,) = world.repo.outbox.values()
    assert reply.public and "Budi" not in reply.text and "Melati" not in reply.text


async def test_opted_out_reporter_gets_nothing_but_history_is_kept(world: World) -> None:
    complaint = await world.file()
    world.repo.rows[complaint.id].target = replace(world.repo.rows[complaint.id].target, opted_out=True)
    assert complaint.external.tracking_id is not None
    world.fake.update(complaint.external.tracking_id, status="closed", notes="Selesai.")
    await world.sync.run_once()
    assert world.repo.outbox == {}
    assert world.repo.complaint(complaint.id).status == "closed"


async def test_escalation_offered_once_after_60_days(world: World) -> None:
    complaint = await world.file()
    world.clock.now = T0 + timedelta(days=59)
    await world.sync.run_once()
    assert world.repo.outbox == {}
    world.clock.now = T0 + timedelta(days=61)
    report = await world.sync.run_once()
    assert report.replies == 1
    (offer,) = world.repo.outbox.values()
    assert offer.kind == "escalation_offer" and "Ombudsman RI" in offer.text and "YA" in offer.text
    escalation = world.repo.rows[complaint.id].target.escalation
    assert escalation is not None and escalation.state == "offered"
    world.clock.now = T0 + timedelta(days=62)
    await world.sync.run_once()
    assert len(world.repo.outbox) == 1


@pytest.mark.parametrize(
    ("status", "retry_after", "failures_to_wait"),
    [
        (503, "1200", timedelta(minutes=20)),
        (429, None, timedelta(minutes=5)),
        (403, None, timedelta(minutes=360)),
        (404, None, timedelta(minutes=360)),
    ],
    ids=["unavailable-retry-after", "throttled", "credentials", "unknown-request"],
)
async def test_failed_poll_backs_off(
    world: World, status: int, retry_after: str | None, failures_to_wait: timedelta
) -> None:
    complaint = await world.file()
    world.fake.fail_next(status, retry_after=retry_after)
    report = await world.sync.run_once()
    assert (report.polled, report.failed, report.replies) == (1, 1, 0)
    row = world.repo.rows[complaint.id]
    assert row.next_poll_at == T0 + failures_to_wait
    assert row.target.failures == 1 and row.error is not None
    world.clock.now = T0 + failures_to_wait
    assert (await world.sync.run_once()).failed == 0
    assert world.repo.rows[complaint.id].target.failures == 0


async def test_pending_token_is_resolved_by_sync(world: World) -> None:
    world.fake.answer_with_tokens(polls_before_id=2)
    complaint = await world.file()
    assert complaint.external.tracking_id is not None and complaint.external.tracking_id.startswith("token:")
    await world.sync.run_once()  # second token poll: still no id
    assert world.repo.complaint(complaint.id).external.tracking_id == complaint.external.tracking_id
    world.clock.now = T0 + timedelta(minutes=5)
    await world.sync.run_once()
    resolved = world.repo.complaint(complaint.id).external.tracking_id
    assert resolved in world.fake.requests
    assert world.repo.updates[-1].tracking_id == resolved


async def test_logs_carry_no_personal_data(world: World) -> None:
    with structlog.testing.capture_logs() as logs:
        complaint = await world.file(email="budi@example.com")
        assert complaint.external.tracking_id is not None
        world.fake.update(complaint.external.tracking_id, status="open", notes="Sdr. Budi, 081234567890")
        await world.sync.run_once()
        world.fake.fail_next(503)
        world.clock.now = T0 + timedelta(hours=1)
        await world.sync.run_once()
    text = repr(logs)
    assert logs
    for secret in ("6281234567890", "081234567890", "budi@example.com", "Budi", world.fake.api_key, "Cibinong"):
        assert secret not in text
