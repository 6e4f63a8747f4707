"""From stored raw messages to complaints and outbox jobs; references resolved against the database."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
import structlog
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Row
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection

from channels import concat
from gateway import metrics
from gateway.bounces import mark_bounced
from gateway.intel.spam import SPAM_FLAG
from gateway.lifecycle.deadlines import WorkingCalendar
from gateway.lifecycle.duplicates import contact_keys, find_duplicate, mark_duplicate
from gateway.lifecycle.settings import LifecycleSettings
from gateway.messages import RawMessage, utcnow
from gateway.outcomes import Normalizer, Quarantined, normalize_safely
from gateway.polling import poll_forever
from gateway.records import Complaint, FollowUp, Ignored, Outcome, Reference, StatusChange, raw_id
from gateway.storage.claims import claim
from gateway.storage.db import Database
from gateway.storage.lifecycle_store import apply_command, duplicate_candidates, index_contacts, note_reporter_reply
from gateway.storage.tables import complaint, dispatch_job, raw_message, reply
from normalizers.email_threading import subject_matches

log = structlog.get_logger(__name__)

Enricher = Callable[[Complaint], Complaint]
IgnoredHook = Callable[[AsyncConnection, str, str, Ignored], Awaitable[None]]
# Records with these flags are kept but not filed until an operator releases them.
HOLD_FLAGS = frozenset({SPAM_FLAG, "flood"})
# Channels of e-mail, where a Message-ID threads a reply only under the same subject; a chat's
# reply-to (Telegram, WhatsApp, X: also kind "message_id") is an explicit answer and needs no such check.
MAIL_CHANNELS = frozenset({"email", "imap"})


def raw_from_row(row: Row[Any]) -> RawMessage:
    """The RawMessage a raw_message row holds."""
    return RawMessage(
        channel=row.channel,
        event=row.event,
        external_id=row.external_id,
        received_at=row.received_at,
        payload=bytes(row.payload),
        meta=json.loads(row.meta or "{}"),
    )


def raw_id_of(raw: RawMessage) -> str:
    """The archive row id of a raw message."""
    return raw_id(raw.channel, raw.external_id)


def _same_group(raw: RawMessage, group: concat.Group) -> bool:
    return raw.channel == group.channel and raw.meta.get(concat.KEY) == group.key


def outcome_name(outcome: Outcome | Quarantined) -> str:
    """complaint | follow_up | ignored | quarantined."""
    if isinstance(outcome, Quarantined):
        return "quarantined"
    if isinstance(outcome, Ignored):
        return "ignored"
    if isinstance(outcome, FollowUp):
        return "follow_up"
    # A stored record: a resolved follow-up says so, an unresolved reference stays a complaint.
    return "follow_up" if outcome.thread.relation == "follow_up" else "complaint"


class Pipeline:
    """Normalizes raw messages in the order they arrived and writes the results in one transaction per batch."""

    def __init__(
        self,
        db: Database,
        normalizers: Mapping[str, Normalizer],
        *,
        enrich: Enricher | None = None,
        batch_size: int = 200,
        lease_seconds: float = 30.0,
        concat_window_seconds: float = 120.0,
        lifecycle: LifecycleSettings | None = None,
    ) -> None:
        self._db = db
        # Without lifecycle settings (the bare pipeline of unit tests) no duplicates are linked.
        self._lifecycle = lifecycle
        self._commands = lifecycle or LifecycleSettings()
        self._calendar = WorkingCalendar.from_settings(self._commands)
        self._normalizers = normalizers
        self._enrich = enrich
        self._batch_size = batch_size
        self._lease = timedelta(seconds=lease_seconds)
        self._concat_window = timedelta(seconds=concat_window_seconds)
        self.wake = asyncio.Event()
        # Hook for reasons other parts act on (consent to escalation, bounces of our replies).
        self.on_ignored: IgnoredHook | None = None
        # Set by the runtime: while it answers True, acknowledgements are waiting for the archive.
        self.yield_to: Callable[[], bool] | None = None
        # Set by the runtime: True while webhooks are being acknowledged. On SQLite the pipeline then writes
        # one message per transaction, so that the acknowledgement path gets the file's single write lock
        # within a millisecond or two; idle, it takes whole batches.
        self.acknowledging: Callable[[], bool] | None = None
        # Set by the runtime of a separate pipeline process: True while acknowledgements queue behind the
        # database (a burst). Then it takes one message at a time on either database: on PostgreSQL a batch's
        # statements run in server processes at full priority, whatever the pipeline process's nice value.
        self.under_pressure: Callable[[], bool] | None = None
        # Set by the runtime of a separate pipeline process: seconds to rest after each batch (0: none).
        self.pause_after_write: Callable[[], float] | None = None
        self._parts_due = 0.0

    def _limit(self) -> int:
        if self.under_pressure is not None and self.under_pressure():
            return 1
        if self._db.dialect == "sqlite" and self.acknowledging is not None and self.acknowledging():
            return 1
        return self._batch_size

    async def run(self, *, poll_seconds: float = 1.0) -> None:
        """Process new raw messages until cancelled."""
        async def batch() -> int:
            limit = self._limit()
            done = await self.process_pending(limit=limit)
            if time.monotonic() >= self._parts_due:  # parts wait for their siblings anyway: once a second
                self._parts_due = time.monotonic() + 1.0
                await self.process_parts()
            return self._batch_size if done == limit else done  # a full batch: more is waiting, go on at once

        await poll_forever(
            batch, wake=self.wake, poll_seconds=poll_seconds, full_batch=self._batch_size, log=log,
            name="pipeline", failure="batch_failed",
        )

    async def _let_acknowledgements_go_first(self) -> None:
        # Acknowledgements wait on the archive's commit; normalization can wait a moment (at most 0.2 s).
        for _ in range(40):
            if self.yield_to is None or not self.yield_to():
                return
            await asyncio.sleep(0.005)

    async def process_pending(self, *, limit: int | None = None) -> int:
        """Claim one batch of received raws (or ones a crashed process left) and process it."""
        await self._let_acknowledgements_go_first()
        now = utcnow()
        table = raw_message
        rows = await claim(
            self._db,
            table,
            ready=sa.and_(
                table.c.event != "part",
                sa.or_(
                    table.c.state == "received",
                    sa.and_(table.c.state == "processing", table.c.locked_until < now),
                ),
            ),
            order_by=table.c.received_at,
            limit=limit or self._batch_size,
            values={"state": "processing", "locked_until": now + self._lease},
        )
        if rows:
            try:
                await self.process_rows(rows)
            except BaseException:
                await self._release([row.id for row in rows])
                raise
            if self.pause_after_write is not None and (pause := self.pause_after_write()):
                # Another process's acknowledgements wait for the same database (SQLite's single write lock,
                # PostgreSQL's CPU and commit log): let them have it.
                await asyncio.sleep(pause)
        return len(rows)

    async def process_parts(self) -> int:
        """Reassemble concatenated SMS: a group is normalized once all parts are in, or after the window.

        Every part stays in the archive; the record hangs on the first part's row and the other parts
        point to it. Groups still waiting are given back for a later pass.
        """
        now = utcnow()
        table = raw_message
        rows = await claim(
            self._db,
            table,
            ready=sa.and_(
                table.c.event == "part",
                sa.or_(
                    table.c.state == "received",
                    sa.and_(table.c.state == "processing", table.c.locked_until < now),
                ),
            ),
            order_by=table.c.received_at,
            limit=self._batch_size * 5,
            values={"state": "processing", "locked_until": now + self._lease},
        )
        if not rows:
            return 0
        by_id = {row.id: row for row in rows}
        raws = {row.id: raw_from_row(row) for row in rows}
        finished: set[str] = set()
        try:
            async with self._db.begin() as connection:
                for group in concat.ready_groups(list(raws.values()), now, self._concat_window):
                    anchor = raw_id_of(group.anchor)
                    outcome = normalize_safely(concat.assemble(group.parts), self._normalizers)
                    values, outcome = await self._apply(
                        connection, anchor, group.channel, outcome, flags=by_id[anchor].flags
                    )
                    members = [key for key, raw in raws.items() if key != anchor and _same_group(raw, group)]
                    if members:
                        await connection.execute(
                            sa.update(raw_message).where(raw_message.c.id.in_(members))
                            .values(**{**values, "reason": f"part_of:{anchor}"})
                        )
                    finished.update({anchor, *members})
                    metrics.NORMALIZED.labels(group.channel, outcome_name(outcome)).inc()
        except BaseException:
            await self._release(list(by_id))
            raise
        waiting = [key for key in by_id if key not in finished]
        if waiting:
            await self._release(waiting)
        return len(finished)

    async def _release(self, ids: list[str]) -> None:
        """Give claimed rows back at once instead of leaving them until their lease runs out."""
        try:
            async with self._db.begin() as connection:
                await connection.execute(
                    sa.update(raw_message)
                    .where(raw_message.c.id.in_(ids), raw_message.c.state == "processing")
                    .values(state="received", locked_until=None)
                )
        except SQLAlchemyError:
            pass  # still down: the lease expires and another pass takes them

    async def process_rows(self, rows: Sequence[Row[Any]]) -> list[tuple[str, Outcome | Quarantined]]:
        """Normalize and store the outcome of each row; idempotent for rows already processed."""
        results: list[tuple[str, Outcome | Quarantined]] = []
        for index, row in enumerate(rows):
            results.append((row.id, normalize_safely(raw_from_row(row), self._normalizers)))
            if index % 5 == 4:
                await asyncio.sleep(0)  # keep the event loop answering webhooks during a long batch
        await self._let_acknowledgements_go_first()
        async with self._db.begin() as connection:
            for index, ((raw_id, outcome), row) in enumerate(zip(results, rows, strict=True)):
                _values, stored = await self._apply(connection, raw_id, row.channel, outcome, flags=row.flags)
                results[index] = (raw_id, stored)
        for (_, outcome), row in zip(results, rows, strict=True):
            metrics.NORMALIZED.labels(row.channel, outcome_name(outcome)).inc()
        return results

    async def _apply(
        self, connection: AsyncConnection, raw_id: str, channel: str, outcome: Outcome | Quarantined, *, flags: str
    ) -> tuple[dict[str, Any], Outcome | Quarantined]:
        """Store one outcome; returns the raw row's new values and what was stored (the resolved record)."""
        now = utcnow()
        done = {"processed_at": now, "locked_until": None}
        stored: Outcome | Quarantined = outcome
        if isinstance(outcome, Quarantined):
            values = {"state": "quarantined", "reason": outcome.reason, **done}
        elif isinstance(outcome, Ignored):
            await self._act_on_ignored(connection, channel, raw_id, outcome)
            values = {"state": "ignored", "reason": outcome.reason, **done}
        else:
            record = await self._resolve(connection, outcome)
            transport_flags = tuple(flag for flag in flags.split(",") if flag and flag not in record.flags)
            if transport_flags:
                record = record.model_copy(update={"flags": record.flags + transport_flags})
            if record.thread.relation == "new":
                record = await self._link_duplicate(connection, record)
            if self._enrich is not None and record.thread.relation == "new":
                record = self._enrich(record)
            await self._store_record(connection, raw_id, record)
            values = {"state": "normalized", "reason": None, "complaint_id": record.id, **done}
            stored = record
        await connection.execute(sa.update(raw_message).where(raw_message.c.id == raw_id).values(**values))
        return values, stored

    async def _act_on_ignored(
        self, connection: AsyncConnection, channel: str, raw_id: str, outcome: Ignored
    ) -> None:
        # STOP/BERHENTI, MULAI and YA, recognised by the normalizer (gateway/lifecycle/optout.py).
        await apply_command(
            self._db, connection, channel=channel, raw_id=raw_id, outcome=outcome, text=outcome.detail,
            received_at=utcnow(), settings=self._commands,
        )
        await mark_bounced(self._db, connection, outcome)
        if self.on_ignored is not None:
            await self.on_ignored(connection, channel, raw_id, outcome)

    async def _resolve(self, connection: AsyncConnection, outcome: Complaint | FollowUp) -> Complaint:
        if isinstance(outcome, Complaint):
            return outcome
        record = outcome.record
        for reference in outcome.references:
            parent_id = await find_referenced(connection, reference, channel=record.channel)
            if parent_id is not None and not await _same_reporter(connection, parent_id, record):
                # Tracking IDs are short and guessable: only the reporter may add to their complaint.
                log.info("pipeline.reference_of_another_reporter", reference_kind=reference.kind)
                parent_id = None
            if (
                parent_id is not None and reference.kind == "message_id" and record.channel in MAIL_CHANNELS
                and not await _same_subject(connection, parent_id, record)
            ):
                log.info("pipeline.reply_on_another_subject")
                parent_id = None
            if parent_id is not None:
                thread = record.thread.model_copy(update={"relation": "follow_up", "parent_id": parent_id})
                return record.model_copy(update={"thread": thread})
        thread = record.thread.model_copy(update={"unresolved": outcome.references})
        return record.model_copy(update={"thread": thread})

    async def _link_duplicate(self, connection: AsyncConnection, record: Complaint) -> Complaint:
        """The same person reporting the same thing again (any channel, within the window) is a duplicate."""
        settings = self._lifecycle
        if settings is None or settings.duplicate_window_hours <= 0:
            return record
        candidates = await duplicate_candidates(
            connection, contact_keys(record), since=record.received_at - settings.duplicate_window,
            until=record.received_at,
        )
        match = find_duplicate(
            record, candidates, window=settings.duplicate_window, threshold=settings.duplicate_similarity
        )
        if match is None:
            return record
        log.info("pipeline.duplicate_linked", complaint_id=record.id, parent_id=match.parent_id,
                 matched_on=match.matched_on)
        return mark_duplicate(record, match)

    async def _store_record(self, connection: AsyncConnection, raw_id: str, record: Complaint) -> None:
        now = utcnow()
        history = (StatusChange(status="received", at=record.received_at),)
        record = record.model_copy(update={"status_history": history})
        dialect = postgresql if self._db.is_postgres else sqlite
        inserted = await connection.execute(
            dialect.insert(complaint)
            .values(
                id=record.id,
                schema_version=record.schema_version,
                channel=record.channel,
                received_at=record.received_at,
                raw_id=raw_id,
                relation=record.thread.relation,
                parent_id=record.thread.parent_id,
                reporter_identity=record.reporter.identity,
                dedup_key=record.dedup_key,
                status=record.status,
                agency=record.target.agency,
                record=record.model_dump_json(),
                created_at=now,
                updated_at=now,
            )
            .on_conflict_do_nothing(index_elements=["id"])
        )
        if inserted.rowcount == 0:
            return  # replayed: the record and its job exist already
        if record.thread.relation == "follow_up" and record.thread.parent_id:
            await note_reporter_reply(self._db, connection, record.thread.parent_id, record.received_at,
                                      settings=self._commands, calendar=self._calendar)
        if self._lifecycle is not None and record.thread.relation != "follow_up":
            await index_contacts(self._db, connection, record, contact_keys(record))
        # A duplicate goes to the registry as a follow-up of its original, not as a second complaint.
        kind = "file" if record.thread.relation == "new" else "follow_up"
        await connection.execute(
            dialect.insert(dispatch_job)
            .values(
                id=record.id,
                kind=kind,
                complaint_id=record.id,
                idempotency_key=f"{kind}:{record.id}",
                state="held" if HOLD_FLAGS.intersection(record.flags) else "pending",
                next_attempt_at=now,
                created_at=now,
                updated_at=now,
            )
            .on_conflict_do_nothing(index_elements=["idempotency_key"])
        )


async def _same_reporter(connection: AsyncConnection, complaint_id: str, record: Complaint) -> bool:
    found = await connection.execute(
        sa.select(complaint.c.reporter_identity).where(complaint.c.id == complaint_id)
    )
    return found.scalar_one_or_none() == record.reporter.identity


async def _same_subject(connection: AsyncConnection, complaint_id: str, record: Complaint) -> bool:
    """Whether a mail reply is still about the complaint its Message-ID points to.

    People reuse an old thread for a new problem; without our `[LAPOR #id]` tag, only the subject
    tells a follow-up from a new complaint. A mail's title is its subject without reply prefixes and
    tag (normalizers/email), so the titles are compared.
    """
    found = await connection.execute(sa.select(complaint.c.record).where(complaint.c.id == complaint_id))
    stored = found.scalar_one_or_none()
    return stored is not None and subject_matches(record.title, Complaint.model_validate_json(stored).title)


async def find_referenced(connection: AsyncConnection, reference: Reference, *, channel: str) -> str | None:
    """The id of the root complaint a reference points to, or None when the gateway does not know it."""
    if reference.kind == "tracking_id":
        query = sa.select(complaint.c.id, complaint.c.parent_id).where(complaint.c.tracking_id == reference.value)
    elif reference.kind == "complaint_id":
        query = sa.select(complaint.c.id, complaint.c.parent_id).where(complaint.c.id == reference.value)
    else:
        # A Message-ID or a conversation id: one of our replies, or the reporter's own first message.
        replied = sa.select(reply.c.complaint_id).where(reply.c.provider_id == reference.value)
        original = sa.select(raw_message.c.complaint_id).where(raw_message.c.id == raw_id(channel, reference.value))
        query = sa.select(complaint.c.id, complaint.c.parent_id).where(
            sa.or_(complaint.c.id.in_(replied.scalar_subquery()), complaint.c.id.in_(original.scalar_subquery()))
        )
    found = (await connection.execute(query.limit(1))).first()
    if found is None:
        return None
    return str(found.parent_id or found.id)
