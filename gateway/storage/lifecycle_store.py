"""The lifecycle's storage on the real database: status polling, opt-outs, escalation, duplicates.

`LifecycleStore` implements the Protocols of gateway/lifecycle/repository.py with a transaction
per call; the module functions work inside a transaction the pipeline or dispatcher already holds.
Records are read-modify-written under a row lock (`FOR UPDATE` on PostgreSQL, SQLite's single
writer), so a status poll and a reporter's follow-up never overwrite each other's history.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection
from ulid import ULID

from channels.base import OutgoingReply
from config.settings import Settings
from gateway.lifecycle.complaint_deadlines import DeadlineKey, deadlines_of, governing_deadline
from gateway.lifecycle.deadlines import DeadlineState, WorkingCalendar
from gateway.lifecycle.escalation import Escalation, EscalationCase, EscalationState, PendingOffer
from gateway.lifecycle.inbound import InboundText, KeywordOutcome, handle_keyword
from gateway.lifecycle.repository import SyncTarget, SyncUpdate
from gateway.lifecycle.settings import LifecycleSettings
from gateway.lifecycle.status import SOURCE_REPORTER
from gateway.lifecycle.sync import poll_interval
from gateway.messages import utcnow
from gateway.records import Complaint, Ignored, ReplyRoute, StatusChange
from gateway.storage.claims import claim
from gateway.storage.db import Database
from gateway.storage.dispositions import with_disposition
from gateway.storage.migrate import upgrade
from gateway.storage.tables import complaint, complaint_contact, complaint_lifecycle, reply, reporter_preference

# Reasons of Ignored outcomes that are reporter commands (gateway/lifecycle/optout.py).
COMMAND_REASONS = frozenset({"opt_out", "opt_in", "consent"})
# How long a claimed complaint is kept from other sync workers while its poll runs.
SYNC_LEASE = timedelta(minutes=2)

_ESCALATION_STATES: dict[str, EscalationState] = {"offered": "offered", "consented": "consented",
                                                  "exported": "exported"}


def _dialect(db: Database) -> Any:
    return postgresql if db.is_postgres else sqlite


async def _locked_record(db: Database, connection: AsyncConnection, complaint_id: str) -> Complaint | None:
    query = sa.select(complaint.c.record).where(complaint.c.id == complaint_id)
    if db.is_postgres:
        query = query.with_for_update()
    row = (await connection.execute(query)).first()
    return None if row is None else Complaint.model_validate_json(row.record)


async def insert_replies(db: Database, connection: AsyncConnection, replies: Iterable[OutgoingReply]) -> int:
    """Put lifecycle replies in the reply outbox; a reply id already there (as `dedup`) is skipped."""
    now = utcnow()
    added = 0
    for message in replies:
        result = await connection.execute(
            _dialect(db).insert(reply)
            .values(
                id=str(ULID()),
                dedup=message.id,
                complaint_id=message.complaint_id,
                channel=message.channel,
                kind=message.kind,
                address=message.address,
                sender=message.sender,
                subject=message.subject,
                text=message.text,
                in_reply_to=message.in_reply_to,
                public=message.public,
                meta=json.dumps(
                    {**message.meta, **({"tracking_id": message.tracking_id} if message.tracking_id else {})}
                ),
                state="pending",
                next_attempt_at=now,
                created_at=now,
            )
            .on_conflict_do_nothing(index_elements=["dedup"])
        )
        added += result.rowcount
    return added


async def start_tracking(
    db: Database, connection: AsyncConnection, record: Complaint, *, settings: LifecycleSettings, now: datetime
) -> None:
    """Begin the lifecycle of a just-filed complaint: its deadline and its first status poll."""
    first_poll = now + poll_interval(now - record.received_at, settings)
    values = {"finished": False, "next_poll_at": first_poll, "deadline_at": governing_deadline(record),
              "updated_at": now}
    await connection.execute(
        _dialect(db).insert(complaint_lifecycle)
        .values(id=record.id, poll_failures=0, seen_response_ids="[]", created_at=now, **values)
        .on_conflict_do_update(index_elements=["id"], set_=values)
    )


async def note_reporter_reply(
    db: Database,
    connection: AsyncConnection,
    parent_id: str,
    at: datetime,
    *,
    settings: LifecycleSettings,
    calendar: WorkingCalendar,
) -> None:
    """A reporter answered (a follow-up): in the parent's history, and its closing clock stops."""
    parent = await _locked_record(db, connection, parent_id)
    if parent is None:
        return
    history = (*parent.status_history, StatusChange(status="follow_up", at=at, source=SOURCE_REPORTER))
    updated = parent.model_copy(update={"status_history": history})
    updated = updated.model_copy(update={"deadlines": deadlines_of(updated, settings=settings, calendar=calendar)})
    now = utcnow()
    await connection.execute(
        sa.update(complaint).where(complaint.c.id == parent_id).values(record=updated.model_dump_json(), updated_at=now)
    )
    await connection.execute(
        sa.update(complaint_lifecycle)
        .where(complaint_lifecycle.c.id == parent_id, complaint_lifecycle.c.finished.is_(False))
        .values(
            last_reporter_reply_at=sa.func.coalesce(
                sa.func.max(complaint_lifecycle.c.last_reporter_reply_at, at)
                if not db.is_postgres
                else sa.func.greatest(complaint_lifecycle.c.last_reporter_reply_at, at),
                at,
            ),
            deadline_at=governing_deadline(updated),
            updated_at=now,
        )
    )


async def index_contacts(db: Database, connection: AsyncConnection, record: Complaint, keys: Iterable[str]) -> None:
    """Index a complaint under its reporter's phone, email and identity (and those in its text)."""
    for key in keys:
        await connection.execute(
            _dialect(db).insert(complaint_contact)
            .values(complaint_id=record.id, key=key[:330], received_at=record.received_at)
            .on_conflict_do_nothing(index_elements=["complaint_id", "key"])
        )


async def duplicate_candidates(
    connection: AsyncConnection, keys: Iterable[str], *, since: datetime, until: datetime, limit: int = 50
) -> list[Complaint]:
    """Complaints received in [since, until] that share a contact key with a new one."""
    wanted = sorted({key[:330] for key in keys})
    if not wanted:
        return []
    ids = (
        sa.select(complaint_contact.c.complaint_id)
        .where(
            complaint_contact.c.key.in_(wanted),
            complaint_contact.c.received_at >= since,
            complaint_contact.c.received_at <= until,
        )
        .distinct()
    )
    rows = await connection.execute(
        sa.select(complaint.c.record)
        .where(complaint.c.id.in_(ids.scalar_subquery()))
        .order_by(complaint.c.received_at)
        .limit(limit)
    )
    return [Complaint.model_validate_json(row.record) for row in rows.all()]


async def latest_route(connection: AsyncConnection, channel: str, identity: str) -> ReplyRoute | None:
    """Where the reporter's latest complaint on this channel is answered (their reply address)."""
    row = (
        await connection.execute(
            sa.select(complaint.c.record)
            .where(complaint.c.channel == channel, complaint.c.reporter_identity == identity)
            .order_by(complaint.c.received_at.desc())
            .limit(1)
        )
    ).first()
    return None if row is None else Complaint.model_validate_json(row.record).reply_to


class KeywordStore:
    """Opt-outs and escalation consent inside a transaction the caller holds (the pipeline's)."""

    def __init__(self, db: Database, connection: AsyncConnection) -> None:
        self._db = db
        self._connection = connection

    async def set_opt_out(self, channel: str, address: str, *, opted_out: bool, at: datetime) -> None:
        """Record STOP (or MULAI) for the reporter `address` on `channel`."""
        statement = _dialect(self._db).insert(reporter_preference).values(
            channel=channel, identity=address, opted_out=opted_out, undeliverable=False, updated_at=at
        )
        await self._connection.execute(
            statement.on_conflict_do_update(
                index_elements=["channel", "identity"], set_={"opted_out": opted_out, "updated_at": at}
            )
        )

    async def is_opted_out(self, channel: str, address: str) -> bool:
        """Whether the reporter asked for no more updates."""
        row = (
            await self._connection.execute(
                sa.select(reporter_preference.c.opted_out).where(
                    reporter_preference.c.channel == channel, reporter_preference.c.identity == address
                )
            )
        ).first()
        return bool(row.opted_out) if row is not None else False

    async def pending_offers(self, channel: str, address: str) -> Sequence[PendingOffer]:
        """Open escalation offers on complaints this reporter sent on this channel."""
        rows = await self._connection.execute(
            sa.select(complaint_lifecycle, complaint.c.tracking_id)
            .join(complaint, complaint.c.id == complaint_lifecycle.c.id)
            .where(
                complaint.c.channel == channel,
                complaint.c.reporter_identity == address,
                complaint_lifecycle.c.escalation_state == "offered",
            )
            .order_by(complaint_lifecycle.c.offered_at)
        )
        return [PendingOffer(escalation=_escalation(row), tracking_id=row.tracking_id) for row in rows.all()]

    async def record_consent(self, escalations: Sequence[Escalation], replies: Sequence[OutgoingReply]) -> None:
        """Mark the escalations consented and queue their confirmations."""
        now = utcnow()
        for escalation in escalations:
            await self._connection.execute(
                sa.update(complaint_lifecycle)
                .where(complaint_lifecycle.c.id == escalation.complaint_id,
                       complaint_lifecycle.c.escalation_state == "offered")
                .values(escalation_state=escalation.state, consented_at=escalation.consented_at, updated_at=now)
            )
        await insert_replies(self._db, self._connection, replies)


def _escalation(row: Any) -> Escalation:
    return Escalation(
        complaint_id=row.id,
        state=_ESCALATION_STATES[row.escalation_state],
        offered_at=row.offered_at,
        consented_at=row.consented_at,
        exported_at=row.exported_at,
    )


async def apply_command(
    db: Database,
    connection: AsyncConnection,
    *,
    channel: str,
    raw_id: str,
    outcome: Ignored,
    text: str,
    received_at: datetime,
    settings: LifecycleSettings,
) -> KeywordOutcome | None:
    """Act on a reporter command a normalizer recognised (STOP, MULAI, YA); confirmations are queued."""
    if outcome.reason not in COMMAND_REASONS or not outcome.identity:
        return None
    route = await latest_route(connection, channel, outcome.identity)
    message = InboundText(
        message_id=raw_id,
        channel=channel,
        address=outcome.identity,
        text=text,
        received_at=received_at,
        sender=route.sender if route else None,
        reply_address=route.address if route else None,
    )
    store = KeywordStore(db, connection)
    result = await handle_keyword(message, optouts=store, consents=store, settings=settings)
    if result is None:
        return None
    keyword_outcome, replies = result
    await insert_replies(db, connection, replies)
    return keyword_outcome


class LifecycleStore:
    """SyncRepository, OptOutRepository, ConsentRepository and EscalationRepository on the database."""

    def __init__(
        self,
        db: Database,
        *,
        settings: LifecycleSettings | None = None,
        calendar: WorkingCalendar | None = None,
        lease: timedelta = SYNC_LEASE,
    ) -> None:
        self._db = db
        self._settings = settings or LifecycleSettings()
        self._calendar = calendar or WorkingCalendar.from_settings(self._settings)
        self._lease = lease

    async def due_for_sync(self, now: datetime, *, limit: int) -> Sequence[SyncTarget]:
        """Claim unfinished complaints whose next poll is due, pushing it out by the lease."""
        table = complaint_lifecycle
        rows = await claim(
            self._db,
            table,
            ready=sa.and_(table.c.finished.is_(False), sa.or_(table.c.next_poll_at.is_(None),
                                                              table.c.next_poll_at <= now)),
            order_by=table.c.next_poll_at.asc().nullsfirst(),
            limit=limit,
            values={"next_poll_at": now + self._lease},
        )
        if not rows:
            return []
        ids = [row.id for row in rows]
        async with self._db.connect() as connection:
            found = await connection.execute(
                sa.select(complaint.c.id, complaint.c.record, reporter_preference.c.opted_out)
                .outerjoin(
                    reporter_preference,
                    sa.and_(reporter_preference.c.channel == complaint.c.channel,
                            reporter_preference.c.identity == complaint.c.reporter_identity),
                )
                .where(complaint.c.id.in_(ids))
            )
            records = {row.id: (Complaint.model_validate_json(row.record), bool(row.opted_out)) for row in found}
        targets = []
        for row in rows:
            if row.id not in records:
                continue
            record, opted_out = records[row.id]
            targets.append(
                SyncTarget(
                    complaint=record,
                    seen_response_ids=frozenset(json.loads(row.seen_response_ids or "[]")),
                    failures=row.poll_failures,
                    opted_out=opted_out,
                    escalation=_escalation(row) if row.escalation_state else None,
                    last_reporter_reply_at=row.last_reporter_reply_at,
                )
            )
        return targets

    async def apply_sync(self, update: SyncUpdate) -> None:
        """One transaction: the record's status and history, the poll bookkeeping, the replies."""
        now = utcnow()
        async with self._db.begin() as connection:
            record = await _locked_record(self._db, connection, update.complaint_id)
            if record is None:
                return
            values: dict[str, Any] = {
                "last_polled_at": update.polled_at,
                "poll_failures": update.failures,
                "poll_error": update.error,
                "seen_response_ids": json.dumps(sorted(update.seen_response_ids)),
                "next_poll_at": update.next_poll_at,
                "finished": update.next_poll_at is None,
                "updated_at": now,
            }
            if update.error is None:
                merged = self._merge(record, update)
                values["deadline_at"] = None if update.next_poll_at is None else governing_deadline(merged)
                if merged != record:
                    columns: dict[str, Any] = {"record": merged.model_dump_json(), "status": merged.status,
                                               "updated_at": now}
                    if update.tracking_id is not None:
                        columns["tracking_id"] = update.tracking_id
                    if update.agency is not None:
                        columns["agency"] = update.agency[:128]
                    await connection.execute(sa.update(complaint).where(complaint.c.id == record.id).values(**columns))
            if update.escalation is not None:
                values |= {
                    "escalation_state": update.escalation.state,
                    "offered_at": update.escalation.offered_at,
                    "consented_at": update.escalation.consented_at,
                    "exported_at": update.escalation.exported_at,
                }
            await connection.execute(
                sa.update(complaint_lifecycle).where(complaint_lifecycle.c.id == update.complaint_id).values(**values)
            )
            await insert_replies(self._db, connection, update.replies)

    def _merge(self, record: Complaint, update: SyncUpdate) -> Complaint:
        changes: dict[str, Any] = {"status_history": record.status_history + update.new_history}
        if update.status is not None:
            changes["status"] = update.status
        if update.tracking_id is not None:
            changes["external"] = record.external.model_copy(update={"tracking_id": update.tracking_id})
        if update.agency is not None:
            changes["target"] = record.target.model_copy(update={"agency": update.agency})
        merged = record.model_copy(update=changes)
        if update.disposition is not None:
            merged = with_disposition(merged, update.disposition)
        # Deadlines from the record as stored now: a reporter reply may have landed since the poll began.
        deadlines = deadlines_of(merged, settings=self._settings, calendar=self._calendar)
        return merged.model_copy(update={"deadlines": deadlines})

    async def set_opt_out(self, channel: str, address: str, *, opted_out: bool, at: datetime) -> None:
        """Record STOP (or MULAI) for a reporter."""
        async with self._db.begin() as connection:
            await KeywordStore(self._db, connection).set_opt_out(channel, address, opted_out=opted_out, at=at)

    async def is_opted_out(self, channel: str, address: str) -> bool:
        """Whether the reporter asked for no more updates."""
        async with self._db.connect() as connection:
            return await KeywordStore(self._db, connection).is_opted_out(channel, address)

    async def pending_offers(self, channel: str, address: str) -> Sequence[PendingOffer]:
        """Open escalation offers for the reporter."""
        async with self._db.connect() as connection:
            return await KeywordStore(self._db, connection).pending_offers(channel, address)

    async def record_consent(self, escalations: Sequence[Escalation], replies: Sequence[OutgoingReply]) -> None:
        """Mark escalations consented and queue confirmations, in one transaction."""
        async with self._db.begin() as connection:
            await KeywordStore(self._db, connection).record_consent(escalations, replies)

    async def consented(self, *, include_exported: bool) -> Sequence[EscalationCase]:
        """Consented (and, when asked, exported) escalations with their complaints."""
        states = ("consented", "exported") if include_exported else ("consented",)
        async with self._db.connect() as connection:
            rows = await connection.execute(
                sa.select(complaint_lifecycle, complaint.c.record)
                .join(complaint, complaint.c.id == complaint_lifecycle.c.id)
                .where(complaint_lifecycle.c.escalation_state.in_(states))
                .order_by(complaint_lifecycle.c.consented_at, complaint_lifecycle.c.id)
            )
            return [
                EscalationCase(complaint=Complaint.model_validate_json(row.record), escalation=_escalation(row))
                for row in rows.all()
            ]

    async def mark_exported(self, complaint_ids: Sequence[str], at: datetime) -> None:
        """These escalations went out in an export batch."""
        if not complaint_ids:
            return
        async with self._db.begin() as connection:
            await connection.execute(
                sa.update(complaint_lifecycle)
                .where(complaint_lifecycle.c.id.in_(list(complaint_ids)),
                       complaint_lifecycle.c.escalation_state.in_(("consented", "exported")))
                .values(escalation_state="exported", exported_at=at, updated_at=utcnow())
            )


async def deadline_counts(db: Database, *, now: datetime, due_soon: timedelta) -> dict[DeadlineKey, int]:
    """Open complaints by channel, agency ("-" when unknown) and the state of their governing deadline."""
    lifecycle = complaint_lifecycle
    state = sa.case(
        (lifecycle.c.deadline_at < now, "breached"),
        (lifecycle.c.deadline_at <= now + due_soon, "due_soon"),
        else_="on_time",
    ).label("state")
    agency = sa.func.coalesce(complaint.c.agency, "-").label("agency")
    query = (
        sa.select(complaint.c.channel, agency, state, sa.func.count().label("n"))
        .join(complaint, complaint.c.id == lifecycle.c.id)
        .where(lifecycle.c.finished.is_(False), lifecycle.c.deadline_at.is_not(None))
        .group_by(complaint.c.channel, agency, state)
    )
    async with db.connect() as connection:
        rows = (await connection.execute(query)).all()
    states: dict[str, DeadlineState] = {"on_time": "on_time", "due_soon": "due_soon", "breached": "breached"}
    return {DeadlineKey(row.channel, row.agency, states[row.state]): int(row.n) for row in rows}


@asynccontextmanager
async def open_lifecycle_store(settings: Settings) -> AsyncIterator[LifecycleStore]:
    """A LifecycleStore on the configured database (migrated first), closed afterwards; for CLI commands."""
    await asyncio.to_thread(upgrade, settings.database.url)
    db = Database(settings.database.url)
    try:
        yield LifecycleStore(db, settings=settings.lifecycle)
    finally:
        await db.dispose()
