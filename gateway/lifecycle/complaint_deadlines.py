"""Deadlines and deadline states of whole complaint records, for the dispatcher, `stats` and /metrics."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from gateway.lifecycle.deadlines import DeadlineState, WorkingCalendar, deadlines_for
from gateway.lifecycle.settings import LifecycleSettings
from gateway.lifecycle.status import complaint_deadline_state, current_stage, governing_deadlines, milestones_from
from gateway.lifecycle.zones import tzinfo_for, zone_for_regions
from gateway.records import Complaint, Deadlines


def timezone_of(complaint: Complaint, settings: LifecycleSettings) -> ZoneInfo:
    """The reporter's region time zone: from the complaint's region codes, else the configured default."""
    codes = complaint.location.region_codes if complaint.location else ()
    return tzinfo_for(zone_for_regions(codes, default=settings.default_timezone))


def deadlines_of(
    complaint: Complaint,
    *,
    settings: LifecycleSettings,
    calendar: WorkingCalendar,
    last_reporter_reply_at: datetime | None = None,
) -> Deadlines:
    """The complaint's four deadlines from its receipt and status history (and a later reporter reply)."""
    milestones = milestones_from(complaint)
    if last_reporter_reply_at is not None and (
        milestones.reporter_replied_at is None or last_reporter_reply_at > milestones.reporter_replied_at
    ):
        milestones = replace(milestones, reporter_replied_at=last_reporter_reply_at)
    return deadlines_for(milestones, settings=settings, calendar=calendar, tz=timezone_of(complaint, settings))


def governing_deadline(complaint: Complaint) -> datetime | None:
    """The earliest deadline that applies to the complaint now (None once it is finished).

    Deadline states worsen as a deadline nears, so this one deadline decides the complaint's
    state; storage keeps it in a column and counts states in SQL.
    """
    deadlines = governing_deadlines(current_stage(complaint), complaint.deadlines)
    return min(deadlines) if deadlines else None


@dataclass(frozen=True, slots=True)
class DeadlineKey:
    """One row of the deadline report: channel, agency (or "-") and state."""

    channel: str
    agency: str
    state: DeadlineState


def count_deadline_states(
    complaints: Iterable[Complaint], *, now: datetime, due_soon: timedelta
) -> Counter[DeadlineKey]:
    """Open complaints counted by channel, agency and deadline state (finished ones are left out)."""
    counts: Counter[DeadlineKey] = Counter()
    for complaint in complaints:
        state = complaint_deadline_state(complaint, now=now, due_soon=due_soon)
        if state is not None:
            counts[DeadlineKey(complaint.channel, complaint.target.agency or "-", state)] += 1
    return counts
