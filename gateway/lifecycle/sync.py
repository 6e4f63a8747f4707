"""The status-sync worker: poll the registry for open complaints, less often as they age, record changes.

The decision for one poll is the pure function `plan_update`; `StatusSync` only fetches, plans and
hands the result to a `SyncRepository` that applies it in one transaction.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog

from gateway.errors import ConfigurationError, PermanentFailure, TransientFailure
from gateway.lifecycle import messages
from gateway.lifecycle.complaint_deadlines import deadlines_of
from gateway.lifecycle.deadlines import WorkingCalendar
from gateway.lifecycle.escalation import Escalation, should_offer
from gateway.lifecycle.messages import UpdateKind
from gateway.lifecycle.repository import SyncRepository, SyncTarget, SyncUpdate
from gateway.lifecycle.settings import LifecycleSettings
from gateway.lifecycle.status import (
    FINAL_STAGES,
    SOURCE_AGENCY,
    SOURCE_REGISTRY,
    Stage,
    stage_of,
)
from gateway.lifecycle.updates import acknowledgement_reply, update_reply
from gateway.messages import utcnow
from gateway.records import Complaint, StatusChange
from gateway.registry.base import RegistryClient, RegistryState
from gateway.registry.open311 import is_pending_token
from gateway.storage.dispositions import disposition_insight

log = structlog.get_logger(__name__)


def poll_interval(age: timedelta, settings: LifecycleSettings) -> timedelta:
    """How long to wait before polling a complaint of this age again."""
    for step in settings.poll_schedule:
        if age < timedelta(hours=step.until_age_hours):
            return timedelta(minutes=step.every_minutes)
    return timedelta(minutes=settings.poll_oldest_every_minutes)


def retry_interval(failures: int, settings: LifecycleSettings, retry_after: float | None = None) -> timedelta:
    """The wait after `failures` failed polls in a row: doubling, capped at the oldest interval."""
    cap = timedelta(minutes=settings.poll_oldest_every_minutes)
    wait = timedelta(minutes=settings.poll_retry_minutes) * (1 << min(max(failures - 1, 0), 20))
    if retry_after is not None:
        wait = max(wait, timedelta(seconds=retry_after))
    return min(wait, cap)


def _status_changes(complaint: Complaint, state: RegistryState, now: datetime) -> list[StatusChange]:
    if state.status == complaint.status:
        return []
    # The registry's updated_at dates the change more exactly than our poll, unless its clock is ahead.
    at = state.updated_at if state.updated_at is not None and state.updated_at <= now else now
    return [StatusChange(status=state.status, at=at, source=SOURCE_REGISTRY)]


def plan_update(
    target: SyncTarget,
    state: RegistryState,
    *,
    now: datetime,
    settings: LifecycleSettings,
    calendar: WorkingCalendar,
) -> SyncUpdate:
    """What one successful poll changes: history, deadlines, replies to the reporter, escalation."""
    complaint = target.complaint
    tracking_id = state.tracking_id or complaint.external.tracking_id or ""
    history = _status_changes(complaint, state, now)
    new_responses = [r for r in state.responses if r.id not in target.seen_response_ids]
    history += [
        StatusChange(status="responded", at=min(r.at or now, now), source=SOURCE_AGENCY, note=r.id)
        for r in new_responses
    ]
    resolved_tracking = tracking_id if tracking_id != (complaint.external.tracking_id or "") else None
    updated = complaint.model_copy(
        update={
            "status": state.status,
            "status_history": complaint.status_history + tuple(history),
            "external": complaint.external.model_copy(update={"tracking_id": tracking_id or None}),
        }
    )
    deadlines = deadlines_of(
        updated, settings=settings, calendar=calendar, last_reporter_reply_at=target.last_reporter_reply_at
    )
    before = stage_of(complaint.status)
    after = stage_of(state.status) or before or Stage.RECEIVED
    public = complaint.reply_to.public if complaint.reply_to else False
    notify = settings.notify_reporter and not target.opted_out

    replies = []
    if notify and new_responses:
        latest = max(new_responses, key=lambda r: r.at or now)
        text = messages.agency_responded(tracking_id, public=public, excerpt=latest.text)
        replies.append(update_reply(updated, UpdateKind.RESPONDED, text, discriminator=latest.id))
    if notify and after in FINAL_STAGES and before not in FINAL_STAGES:
        kind = UpdateKind.CLOSED if after is Stage.CLOSED else UpdateKind.REJECTED
        text = messages.closed(tracking_id, public=public) if after is Stage.CLOSED else messages.rejected(tracking_id)
        replies.append(update_reply(updated, kind, text, discriminator=f"{state.status}@{now.isoformat()}"))
    if complaint.external.tracking_id and is_pending_token(complaint.external.tracking_id) and (
        resolved_tracking and not is_pending_token(resolved_tracking)
    ):
        # The acknowledgement waited for Open311 to turn its token into a service_request_id.
        replies.append(acknowledgement_reply(updated, resolved_tracking))
    escalation = None
    if notify and updated.reply_to is not None and should_offer(after, deadlines, now, target.escalation):
        escalation = Escalation(complaint_id=complaint.id, state="offered", offered_at=now)
        text = messages.escalation_offer(tracking_id, days=settings.escalation_calendar_days, public=public)
        replies.append(update_reply(updated, UpdateKind.ESCALATION_OFFER, text, discriminator="offer"))

    final = after in FINAL_STAGES
    return SyncUpdate(
        complaint_id=complaint.id,
        polled_at=now,
        next_poll_at=None if final else now + poll_interval(now - complaint.received_at, settings),
        failures=0,
        seen_response_ids=target.seen_response_ids | {r.id for r in new_responses},
        status=state.status if state.status != complaint.status else None,
        tracking_id=resolved_tracking,
        new_history=tuple(history),
        deadlines=deadlines if deadlines != complaint.deadlines else None,
        replies=tuple(reply for reply in replies if reply is not None),
        escalation=escalation,
        # The registry's disposition names the agency; `stats` counts deadlines per agency.
        agency=state.agency if state.agency and state.agency != complaint.target.agency else None,
        disposition=disposition_insight(state),
    )


def plan_failure(target: SyncTarget, error: Exception, *, now: datetime, settings: LifecycleSettings) -> SyncUpdate:
    """A failed poll: nothing changes but the bookkeeping; try again later, backing off."""
    failures = target.failures + 1
    retry_after = error.retry_after if isinstance(error, TransientFailure) else None
    if isinstance(error, TransientFailure):
        wait = retry_interval(failures, settings, retry_after)
    else:
        # Permanent and configuration errors will not go away by themselves: poll rarely.
        wait = timedelta(minutes=settings.poll_oldest_every_minutes)
    return SyncUpdate(
        complaint_id=target.complaint.id,
        polled_at=now,
        next_poll_at=now + wait,
        failures=failures,
        seen_response_ids=target.seen_response_ids,
        error=f"{type(error).__name__}: {getattr(error, 'reason', str(error))}",
    )


@dataclass(slots=True)
class SyncReport:
    """What one round of the worker did."""

    polled: int = 0
    changed: int = 0
    failed: int = 0
    replies: int = 0


class StatusSync:
    """Polls the registry for due complaints and applies what changed."""

    def __init__(
        self,
        *,
        repository: SyncRepository,
        registry: RegistryClient,
        settings: LifecycleSettings,
        calendar: WorkingCalendar | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._repository = repository
        self._registry = registry
        self._settings = settings
        self._calendar = calendar or WorkingCalendar.from_settings(settings)
        self._clock = clock

    async def run_once(self) -> SyncReport:
        """Poll every complaint that is due now (up to the batch size) and apply the results."""
        now = self._clock()
        targets = await self._repository.due_for_sync(now, limit=self._settings.sync_batch_size)
        report = SyncReport()
        limit = asyncio.Semaphore(self._settings.sync_concurrency)

        async def one(target: SyncTarget) -> None:
            async with limit:
                update = await self._poll(target)
            await self._repository.apply_sync(update)
            report.polled += 1
            report.failed += update.error is not None
            report.changed += update.changed
            report.replies += len(update.replies)

        await asyncio.gather(*(one(target) for target in targets))
        return report

    async def _poll(self, target: SyncTarget) -> SyncUpdate:
        complaint = target.complaint
        tracking_id = complaint.external.tracking_id
        if tracking_id is None:
            return plan_failure(target, PermanentFailure("no tracking id"), now=self._clock(), settings=self._settings)
        try:
            state = await self._registry.fetch(tracking_id)
        except (TransientFailure, PermanentFailure, ConfigurationError) as exc:
            log.warning("lifecycle.poll_failed", complaint_id=complaint.id, error=type(exc).__name__, reason=exc.reason)
            return plan_failure(target, exc, now=self._clock(), settings=self._settings)
        update = plan_update(target, state, now=self._clock(), settings=self._settings, calendar=self._calendar)
        if update.changed:
            log.info(
                "lifecycle.status_changed",
                complaint_id=complaint.id,
                status=update.status,
                responses=len(update.seen_response_ids - target.seen_response_ids),
                replies=len(update.replies),
            )
        return update

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until `stop` is set, resting `sync_idle_seconds` whenever nothing was due."""
        while not stop.is_set():
            report = await self.run_once()
            if report.polled == 0:
                try:
                    await asyncio.wait_for(stop.wait(), timeout=self._settings.sync_idle_seconds)
                except TimeoutError:
                    pass
