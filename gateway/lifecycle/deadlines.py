"""Legal deadlines in Indonesian working days: weekends, public holidays and (optionally) cuti bersama skipped.

A deadline of N working days ends at 23:59:59 local time of the Nth working day after the day the
clock started (that day itself is not counted), in the reporter's zone (WIB, WITA or WIT).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo

import holidays

from gateway.lifecycle.settings import LifecycleSettings
from gateway.records import Deadlines

DeadlineState = Literal["on_time", "due_soon", "breached"]

_END_OF_DAY = time(23, 59, 59)
# The holidays package files Indonesia's cuti bersama (collective leave set each year by the
# SKB 3 Menteri) under the "government" category and official holidays under "public".
# https://github.com/vacanza/holidays/blob/main/holidays/countries/indonesia.py
_PUBLIC = "public"
_CUTI_BERSAMA = "government"


@lru_cache(maxsize=64)
def _days_off(year: int, *, with_cuti_bersama: bool) -> frozenset[date]:
    categories = (_PUBLIC, _CUTI_BERSAMA) if with_cuti_bersama else (_PUBLIC,)
    return frozenset(holidays.country_holidays("ID", years=year, categories=categories).keys())


@lru_cache(maxsize=64)
def _cuti_bersama(year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays("ID", years=year, categories=(_CUTI_BERSAMA,)).keys())


@dataclass(frozen=True, slots=True)
class WorkingCalendar:
    """Which dates are working days in Indonesia."""

    skip_cuti_bersama: bool = True

    def is_working_day(self, day: date) -> bool:
        """Monday to Friday, not a public holiday, and not cuti bersama when those are skipped."""
        if day.weekday() >= 5:
            return False
        return day not in _days_off(day.year, with_cuti_bersama=self.skip_cuti_bersama)

    def is_cuti_bersama(self, day: date) -> bool:
        """Whether the date is a cuti bersama day (whatever the configuration says about it)."""
        return day in _cuti_bersama(day.year)

    @classmethod
    def from_settings(cls, settings: LifecycleSettings) -> WorkingCalendar:
        """The calendar the `[lifecycle]` section describes."""
        return cls(skip_cuti_bersama=settings.skip_cuti_bersama)


def add_working_days(start: datetime, days: int, *, calendar: WorkingCalendar, tz: ZoneInfo) -> datetime:
    """The end (23:59:59 local) of the `days`-th working day after `start`'s local date.

    `days == 0` is the end of the start date if it is a working day, else of the next working day.
    The result is timezone-aware in `tz`.
    """
    if start.tzinfo is None:
        raise ValueError("start must be timezone-aware")
    if days < 0:
        raise ValueError("days must not be negative")
    day = start.astimezone(tz).date()
    if days == 0:
        while not calendar.is_working_day(day):
            day += timedelta(days=1)
    counted = 0
    while counted < days:
        day += timedelta(days=1)
        if calendar.is_working_day(day):
            counted += 1
    return datetime.combine(day, _END_OF_DAY, tzinfo=tz)


def add_calendar_days(start: datetime, days: int, *, tz: ZoneInfo) -> datetime:
    """The end (23:59:59 local) of the calendar day `days` days after `start`'s local date."""
    if start.tzinfo is None:
        raise ValueError("start must be timezone-aware")
    return datetime.combine(start.astimezone(tz).date() + timedelta(days=days), _END_OF_DAY, tzinfo=tz)


@dataclass(frozen=True, slots=True)
class Milestones:
    """When the events that start the legal clocks happened for one complaint."""

    received_at: datetime
    disposed_at: datetime | None = None
    responded_at: datetime | None = None
    reporter_replied_at: datetime | None = None
    closed_at: datetime | None = None


def deadlines_for(
    milestones: Milestones, *, settings: LifecycleSettings, calendar: WorkingCalendar, tz: ZoneInfo
) -> Deadlines:
    """The four deadlines of a complaint from its milestones.

    - verify_by: verification and disposition, from receipt;
    - plan_by: the agency's follow-up plan, from disposition;
    - close_by: closing after the last agency response, unless the reporter answered it;
    - escalation_from: the day from which the reporter may go to Ombudsman RI, from receipt.
    """
    plan_by = None
    if milestones.disposed_at is not None:
        plan_by = add_working_days(milestones.disposed_at, settings.plan_working_days, calendar=calendar, tz=tz)
    close_by = None
    responded = milestones.responded_at
    replied = milestones.reporter_replied_at
    if responded is not None and (replied is None or replied < responded):
        close_by = add_working_days(responded, settings.close_working_days, calendar=calendar, tz=tz)
    return Deadlines(
        verify_by=add_working_days(milestones.received_at, settings.verify_working_days, calendar=calendar, tz=tz),
        plan_by=plan_by,
        close_by=close_by,
        escalation_from=add_calendar_days(milestones.received_at, settings.escalation_calendar_days, tz=tz),
    )


def deadline_state(deadline: datetime, now: datetime, due_soon: timedelta) -> DeadlineState:
    """`breached` once the deadline has passed, `due_soon` within `due_soon` of it, else `on_time`."""
    if now > deadline:
        return "breached"
    if deadline - now <= due_soon:
        return "due_soon"
    return "on_time"


_SEVERITY: dict[DeadlineState, int] = {"on_time": 0, "due_soon": 1, "breached": 2}


def worst_state(states: list[DeadlineState]) -> DeadlineState | None:
    """The most severe of several deadline states, or None when there are none."""
    if not states:
        return None
    return max(states, key=lambda state: _SEVERITY[state])
