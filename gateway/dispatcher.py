"""The dispatcher: files complaints and follow-ups with the registry from the outbox, exactly once."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
import structlog
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection
from ulid import ULID

from config.settings import DispatchSettings
from gateway import acks, metrics
from gateway.errors import ConfigurationError, GatewayError, PermanentFailure, TransientFailure
from gateway.intel.spam import SPAM_FLAG
from gateway.intel.spam_review import CONFIRMED_FLAG
from gateway.lifecycle.complaint_deadlines import deadlines_of
from gateway.lifecycle.deadlines import WorkingCalendar
from gateway.lifecycle.settings import LifecycleSettings
from gateway.messages import utcnow
from gateway.polling import poll_forever
from gateway.records import Complaint, StatusChange
from gateway.registry.base import Filed, RegistryClient
from gateway.registry.open311 import is_pending_token
from gateway.retry import RetryPolicy
from gateway.storage.claims import claim
from gateway.storage.db import Database
from gateway.storage.lifecycle_store import start_tracking
from gateway.storage.tables import complaint, dispatch_job, reply, reporter_preference

log = structlog.get_logger(__name__)

# Suspected spam until an operator releases it (which removes the flag), and spam an operator confirmed.
NO_ACK_FLAGS = frozenset({SPAM_FLAG, CONFIRMED_FLAG})


async def load_record(connection: AsyncConnection, complaint_id: str) -> Complaint:
    """The canonical record of a stored complaint."""
    row = (await connection.execute(sa.select(complaint.c.record).where(complaint.c.id == complaint_id))).one()
    return Complaint.model_validate_json(row.record)


class Dispatcher:
    """Claims outbox jobs, sends them with retries, and records the answer or the dead letter."""

    def __init__(
        self,
        db: Database,
        registry: RegistryClient,
        settings: DispatchSettings,
        *,
        worker_id: str,
        lifecycle: LifecycleSettings | None = None,
    ) -> None:
        self._db = db
        self._registry = registry
        self._settings = settings
        # Imported here, not with the module: gateway.intel.enrich brings scikit-learn (seconds to import),
        # which every CLI command importing this module would pay for.
        from gateway.intel.enrich import needs_kelurahan

        self._needs_kelurahan = needs_kelurahan
        # With lifecycle settings, a filed complaint gets its deadlines and its status polling.
        self._lifecycle = lifecycle
        self._calendar = WorkingCalendar.from_settings(lifecycle) if lifecycle else None
        # Open311 GeoReport v2 cannot add to a filed request: follow-ups would only dead-letter.
        self._follow_ups = bool(getattr(registry, "supports_follow_up", True))
        # A webhook keeps no status: nothing to poll, and no stage to judge its deadlines by.
        self._tracks_status = bool(getattr(registry, "supports_status", True))
        self._policy = RetryPolicy(settings)
        self._worker_id = worker_id
        self._slots = asyncio.Semaphore(settings.concurrency)
        self.wake = asyncio.Event()
        self.last_cycle = time.monotonic()
        self.on_reply_enqueued: Callable[[], None] | None = None
        # Runs before a record is sent (gateway.media fetches its attachments); returns the record to send.
        self.prepare: Callable[[Complaint], Awaitable[Complaint]] | None = None

    async def run(self) -> None:
        """Dispatch until cancelled."""
        async def cycle() -> int:
            self.last_cycle = time.monotonic()
            return await self.dispatch_pending()

        await poll_forever(
            cycle, wake=self.wake, poll_seconds=self._settings.poll_seconds,
            full_batch=self._settings.batch_size, log=log, name="dispatcher",
        )

    async def dispatch_pending(self) -> int:
        """Claim one batch of due jobs (and jobs a crashed worker left) and send them."""
        now = utcnow()
        table = dispatch_job
        jobs = await claim(
            self._db,
            table,
            ready=sa.or_(
                sa.and_(table.c.state == "pending", table.c.next_attempt_at <= now),
                sa.and_(table.c.state == "in_flight", table.c.locked_until < now),
            ),
            order_by=table.c.next_attempt_at,
            limit=self._settings.batch_size,
            values={
                "state": "in_flight",
                "locked_until": now + timedelta(seconds=self._settings.lease_seconds),
                "locked_by": self._worker_id,
            },
        )
        await asyncio.gather(*(self._guarded(job) for job in jobs))
        return len(jobs)

    async def _guarded(self, job: Row[Any]) -> None:
        async with self._slots:
            try:
                await self._handle(job)
            except Exception:
                log.exception("dispatcher.job_crashed", job=job.id)

    async def _handle(self, job: Row[Any]) -> None:
        if job.kind == "follow_up" and not self._follow_ups:
            log.info("dispatch.follow_up_skipped", job=job.id, reason="registry_has_no_follow_ups")
            await self._finish(job, state="skipped", attempts=job.attempts, error="registry has no follow-ups")
            return
        async with self._db.connect() as connection:
            record = await load_record(connection, job.complaint_id)
        if self.prepare is not None:
            record = await self.prepare(record)
        tries = 0
        try:
            async for attempt in self._policy.inline():
                with attempt:
                    tries += 1
                    started = time.perf_counter()
                    try:
                        filed = await self._send(job, record)
                    finally:
                        metrics.DISPATCH_LATENCY.labels(job.kind).observe(time.perf_counter() - started)
        except TransientFailure as exc:
            metrics.DISPATCH_ATTEMPTS.labels(job.kind, "transient").inc(tries)
            await self._reschedule(job, job.attempts + tries, exc)
        except (PermanentFailure, ConfigurationError) as exc:
            metrics.DISPATCH_ATTEMPTS.labels(job.kind, "permanent").inc()
            await self._dead(job, job.attempts + tries, exc)
        else:
            metrics.DISPATCH_ATTEMPTS.labels(job.kind, "ok").inc()
            await self._succeed(job, job.attempts + tries, record, filed)

    async def _send(self, job: Row[Any], record: Complaint) -> Filed:
        if job.kind == "file":
            return await self._registry.file(record, idempotency_key=job.idempotency_key)
        if job.kind == "follow_up":
            parent_id = record.thread.parent_id
            if parent_id is None:
                raise PermanentFailure("follow_up_without_parent")
            async with self._db.connect() as connection:
                parent = await load_record(connection, parent_id)
            tracking_id = parent.external.tracking_id
            if tracking_id is None:
                raise TransientFailure("parent_not_filed", retry_after=self._settings.backoff_initial_seconds * 4)
            await self._registry.follow_up(tracking_id, record, idempotency_key=job.idempotency_key)
            return Filed(tracking_id=tracking_id, status=parent.status)
        raise PermanentFailure("unknown_job_kind", detail=job.kind)

    async def _reschedule(self, job: Row[Any], attempts: int, failure: TransientFailure) -> None:
        if attempts >= self._settings.max_attempts:
            await self._dead(job, attempts, failure)
            return
        delay = self._policy.next_delay(attempts, failure)
        log.info("dispatch.retry_later", job=job.id, kind=job.kind, attempts=attempts, delay=round(delay, 2),
                 reason=failure.reason)
        await self._finish(job, state="pending", attempts=attempts, error=str(failure),
                           next_attempt_at=utcnow() + timedelta(seconds=delay))

    async def _dead(self, job: Row[Any], attempts: int, failure: GatewayError) -> None:
        log.warning("dispatch.dead_letter", job=job.id, kind=job.kind, attempts=attempts, reason=failure.reason)
        metrics.DEAD_LETTERS.labels(job.kind).inc()
        await self._finish(job, state="dead", attempts=attempts, error=str(failure))

    async def _finish(self, job: Row[Any], *, state: str, attempts: int, error: str | None, **values: Any) -> None:
        async with self._db.begin() as connection:
            await connection.execute(
                sa.update(dispatch_job)
                .where(dispatch_job.c.id == job.id)
                .values(state=state, attempts=attempts, last_error=error, locked_until=None,
                        updated_at=utcnow(), **values)
            )

    async def _succeed(self, job: Row[Any], attempts: int, record: Complaint, filed: Filed) -> None:
        now = utcnow()
        is_file = job.kind == "file"
        history = (*record.status_history, StatusChange(status=filed.status, at=now, source="registry"))
        external = record.external.model_copy(update={"tracking_id": filed.tracking_id})
        updated = record.model_copy(update={"external": external, "status": filed.status, "status_history": history})
        if is_file and self._lifecycle is not None and self._calendar is not None:
            deadlines = deadlines_of(updated, settings=self._lifecycle, calendar=self._calendar)
            updated = updated.model_copy(update={"deadlines": deadlines})
        async with self._db.begin() as connection:
            await connection.execute(
                sa.update(complaint)
                .where(complaint.c.id == record.id)
                .values(
                    tracking_id=filed.tracking_id if is_file else None,
                    status=filed.status,
                    record=updated.model_dump_json(),
                    updated_at=now,
                )
            )
            await connection.execute(
                sa.update(dispatch_job)
                .where(dispatch_job.c.id == job.id)
                .values(state="done", attempts=attempts, last_error=None, locked_until=None, updated_at=now)
            )
            if is_file and self._lifecycle is not None and self._tracks_status:
                await start_tracking(self._db, connection, updated, settings=self._lifecycle, now=now)
            if not is_pending_token(filed.tracking_id):
                # An Open311 token is no tracking ID: the status sync acknowledges once the id comes.
                await self._enqueue_ack(connection, updated, filed.tracking_id, follow_up=not is_file)
        log.info("dispatch.filed", job=job.id, kind=job.kind, tracking_id=filed.tracking_id)
        if self.on_reply_enqueued is not None:
            self.on_reply_enqueued()

    async def _enqueue_ack(
        self, connection: AsyncConnection, record: Complaint, tracking_id: str, *, follow_up: bool
    ) -> None:
        route = record.reply_to
        if route is None or NO_ACK_FLAGS.intersection(record.flags):
            return
        blocked = (
            await connection.execute(
                sa.select(reporter_preference.c.identity).where(
                    reporter_preference.c.channel == record.channel,
                    reporter_preference.c.identity == record.reporter.identity,
                    reporter_preference.c.undeliverable.is_(True),
                )
            )
        ).first()
        if blocked is not None:
            return
        await enqueue_reply(
            self._db,
            connection,
            dedup=f"ack:{record.id}",
            complaint_id=record.id,
            channel=route.channel,
            kind="ack",
            address=route.address,
            sender=route.sender,
            subject=acks.subject(tracking_id, record.title),
            text=acks.acknowledgement(
                tracking_id, follow_up=follow_up, ask_kelurahan=not follow_up and self._needs_kelurahan(record)
            ),
            in_reply_to=route.in_reply_to,
            public=route.public,
            # X puts the tracking ID in a public reply; Meta picks text or template by the 24-hour window.
            meta=json.dumps({"tracking_id": tracking_id, "last_inbound_at": record.received_at.isoformat()}),
        )


async def enqueue_reply(db: Database, connection: AsyncConnection, **values: Any) -> None:
    """Put a reply in the reply outbox once; the same `dedup` again is a no-op."""
    now = utcnow()
    dialect = postgresql if db.is_postgres else sqlite
    await connection.execute(
        dialect.insert(reply)
        .values(id=str(ULID()), state="pending", next_attempt_at=now, created_at=now, **values)
        .on_conflict_do_nothing(index_elements=["dedup"])
    )
