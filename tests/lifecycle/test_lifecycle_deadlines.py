"""Working days with real 2026 Indonesian holidays and cuti bersama, time zones, and deadline states."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.lifecycle.deadlines import (
    Milestones,
    WorkingCalendar,
    add_working_days,
    deadline_state,
    deadlines_for,
)
from gateway.lifecycle.settings import LifecycleSettings

WIB = ZoneInfo("Asia/Jakarta")
WITA = ZoneInfo("Asia/Makassar")
WIT = ZoneInfo("Asia/Jayapura")
SKIP = WorkingCalendar(skip_cuti_bersama=True)
COUNT = WorkingCalendar(skip_cuti_bersama=False)


def wib(y: int, m: int, d: int, hh: int = 10, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=WIB)


def end_of(day: date, tz: ZoneInfo) -> datetime:
    return datetime(day.year, day.month, day.day, 23, 59, 59, tzinfo=tz)


# (start, days, calendar, tz, expected local date)
CASES = [
    (wib(2026, 1, 5), 3, SKIP, WIB, date(2026, 1, 8)),  # Monday, a plain week
    (wib(2026, 1, 9), 3, SKIP, WIB, date(2026, 1, 14)),  # Friday: the weekend is skipped
    (wib(2026, 1, 10), 3, SKIP, WIB, date(2026, 1, 14)),  # received on a Saturday
    (wib(2026, 1, 14), 3, SKIP, WIB, date(2026, 1, 20)),  # Isra Mi'raj, Friday 16 January
    (wib(2026, 2, 13), 3, SKIP, WIB, date(2026, 2, 20)),  # cuti bersama Mon 16 Feb, Imlek Tue 17 Feb
    (wib(2026, 2, 13), 3, COUNT, WIB, date(2026, 2, 19)),  # ... cuti bersama counted as a working day
    (wib(2026, 3, 17, 9), 3, SKIP, WIB, date(2026, 3, 27)),  # Nyepi 19 Mar, Idul Fitri 21-22, cuti 18/20/23/24
    (wib(2026, 3, 17, 9), 3, COUNT, WIB, date(2026, 3, 23)),  # ... with cuti bersama as working days
    (wib(2026, 3, 16), 10, SKIP, WIB, date(2026, 4, 7)),  # 10 days across Lebaran and Good Friday 3 Apr
    (wib(2026, 5, 13), 3, SKIP, WIB, date(2026, 5, 20)),  # Ascension 14 May, cuti 15 May
    (wib(2026, 5, 26), 3, SKIP, WIB, date(2026, 6, 3)),  # Idul Adha 27 May, cuti 28 May, Pancasila 1 Jun
    (wib(2026, 12, 23), 3, SKIP, WIB, date(2026, 12, 30)),  # cuti 24 Dec, Christmas 25 Dec
    (wib(2026, 12, 23), 3, COUNT, WIB, date(2026, 12, 29)),  # ... cuti bersama counted
    (wib(2026, 12, 30), 3, SKIP, WIB, date(2027, 1, 6)),  # New Year 2027, Isra Mi'raj 5 Jan 2027
    (wib(2026, 12, 24), 0, SKIP, WIB, date(2026, 12, 28)),  # zero days on a cuti bersama day
    (wib(2026, 1, 5), 0, SKIP, WIB, date(2026, 1, 5)),  # zero days on a working day
    # 2026-03-12 16:30 UTC is Thursday 23:30 in WIB but already Friday in WITA and WIT.
    (datetime(2026, 3, 12, 16, 30, tzinfo=UTC), 3, SKIP, WIB, date(2026, 3, 17)),
    (datetime(2026, 3, 12, 16, 30, tzinfo=UTC), 3, SKIP, WITA, date(2026, 3, 25)),
    (datetime(2026, 3, 12, 16, 30, tzinfo=UTC), 3, SKIP, WIT, date(2026, 3, 25)),
    (datetime(2026, 3, 12, 16, 30, tzinfo=UTC), 3, COUNT, WITA, date(2026, 3, 18)),
    # 16:59 UTC is 23:59 WIB Friday; 17:00 UTC is Saturday 00:00 WIB.
    (datetime(2026, 1, 9, 16, 59, tzinfo=UTC), 1, SKIP, WIB, date(2026, 1, 12)),
    (datetime(2026, 1, 9, 17, 0, tzinfo=UTC), 1, SKIP, WIB, date(2026, 1, 12)),
    (datetime(2026, 1, 8, 17, 0, tzinfo=UTC), 1, SKIP, WIB, date(2026, 1, 12)),  # Fri 00:00 WIB: Monday
    (datetime(2026, 1, 8, 16, 59, tzinfo=UTC), 1, SKIP, WIB, date(2026, 1, 9)),  # Thu 23:59 WIB: Friday
]


@pytest.mark.parametrize(
    ("start", "days", "calendar", "tz", "expected"),
    CASES,
    ids=[
        "plain-week",
        "friday",
        "saturday-start",
        "isra-miraj",
        "imlek-cuti-skipped",
        "imlek-cuti-counted",
        "nyepi-lebaran-skipped",
        "nyepi-lebaran-counted",
        "close-10-days-lebaran",
        "ascension",
        "idul-adha",
        "christmas-skipped",
        "christmas-counted",
        "into-2027",
        "zero-on-cuti",
        "zero-on-workday",
        "tz-wib-thursday-night",
        "tz-wita-friday",
        "tz-wit-friday",
        "tz-wita-cuti-counted",
        "wib-friday-2359",
        "wib-saturday-0000",
        "wib-friday-0000",
        "wib-thursday-2359",
    ],
)
def test_add_working_days(start: datetime, days: int, calendar: WorkingCalendar, tz: ZoneInfo, expected: date) -> None:
    result = add_working_days(start, days, calendar=calendar, tz=tz)
    assert result == end_of(expected, tz)
    assert result.tzinfo is tz


@pytest.mark.parametrize(
    ("start", "days", "message"),
    [
        (datetime(2026, 1, 5, 10), 3, "timezone-aware"),
        (wib(2026, 1, 5), -1, "negative"),
    ],
    ids=["naive-start", "negative-days"],
)
def test_add_working_days_refuses(start: datetime, days: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        add_working_days(start, days, calendar=SKIP, tz=WIB)


@pytest.mark.parametrize(
    ("day", "working_skip", "working_count", "cuti"),
    [
        (date(2026, 3, 18), False, True, True),  # cuti bersama Nyepi
        (date(2026, 3, 19), False, False, False),  # Nyepi
        (date(2026, 3, 21), False, False, False),  # Idul Fitri (a Saturday)
        (date(2026, 12, 24), False, True, True),  # cuti bersama Natal
        (date(2026, 12, 25), False, False, False),  # Christmas
        (date(2026, 3, 25), True, True, False),  # an ordinary Wednesday
        (date(2026, 3, 28), False, False, False),  # Saturday
    ],
    ids=["cuti-nyepi", "nyepi", "idul-fitri", "cuti-natal", "christmas", "ordinary-wednesday", "saturday"],
)
def test_calendar_days(day: date, working_skip: bool, working_count: bool, cuti: bool) -> None:
    assert SKIP.is_working_day(day) is working_skip
    assert COUNT.is_working_day(day) is working_count
    assert SKIP.is_cuti_bersama(day) is cuti


STARTS = st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC))
ZONES = st.sampled_from([WIB, WITA, WIT])
CALENDARS = st.sampled_from([SKIP, COUNT])


@settings(max_examples=150, deadline=None)
@given(start=STARTS, days=st.integers(min_value=0, max_value=40), tz=ZONES, calendar=CALENDARS)
def test_result_is_a_working_day_end_of_day(
    start: datetime, days: int, tz: ZoneInfo, calendar: WorkingCalendar
) -> None:
    result = add_working_days(start, days, calendar=calendar, tz=tz)
    assert calendar.is_working_day(result.date())
    assert (result.hour, result.minute, result.second) == (23, 59, 59)
    assert result >= start


@settings(max_examples=150, deadline=None)
@given(start=STARTS, days=st.integers(min_value=0, max_value=40), tz=ZONES, calendar=CALENDARS)
def test_monotonic_and_counts_exactly(start: datetime, days: int, tz: ZoneInfo, calendar: WorkingCalendar) -> None:
    this = add_working_days(start, days, calendar=calendar, tz=tz)
    following = add_working_days(start, days + 1, calendar=calendar, tz=tz)
    # Day 0 on a holiday is the next working day, which is also day 1: equal there, strictly later after.
    assert following > this if days >= 1 else following >= this
    # Exactly `days + 1` working days lie after the start date up to and including the next result.
    local_start = start.astimezone(tz).date()
    span = (following.date() - local_start).days
    counted = sum(calendar.is_working_day(local_start + timedelta(days=i)) for i in range(1, span + 1))
    assert counted == days + 1


@settings(max_examples=100, deadline=None)
@given(start=STARTS, days=st.integers(min_value=0, max_value=30), tz=ZONES)
def test_skipping_cuti_bersama_never_shortens(start: datetime, days: int, tz: ZoneInfo) -> None:
    assert add_working_days(start, days, calendar=SKIP, tz=tz) >= add_working_days(start, days, calendar=COUNT, tz=tz)


DEADLINE = wib(2026, 3, 27, 23, 59)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (DEADLINE - timedelta(days=3), "on_time"),
        (DEADLINE - timedelta(hours=24, seconds=1), "on_time"),
        (DEADLINE - timedelta(hours=24), "due_soon"),
        (DEADLINE - timedelta(minutes=1), "due_soon"),
        (DEADLINE, "due_soon"),
        (DEADLINE + timedelta(seconds=1), "breached"),
        (DEADLINE + timedelta(days=30), "breached"),
    ],
    ids=[
        "days-ahead",
        "just-outside-due-soon",
        "due-soon-edge",
        "minute-left",
        "at-deadline",
        "second-late",
        "month-late",
    ],
)
def test_deadline_state(now: datetime, expected: str) -> None:
    assert deadline_state(DEADLINE, now, timedelta(hours=24)) == expected


SETTINGS = LifecycleSettings()


@pytest.mark.parametrize(
    ("milestones", "expected"),
    [
        (
            Milestones(received_at=wib(2026, 1, 5)),
            {"verify_by": date(2026, 1, 8), "plan_by": None, "close_by": None, "escalation_from": date(2026, 3, 6)},
        ),
        (
            Milestones(received_at=wib(2026, 3, 13), disposed_at=wib(2026, 3, 17)),
            # plan: 5 working days after Tue 17 Mar skipping Lebaran: 25, 26, 27, 30, 31 March
            {
                "verify_by": date(2026, 3, 25),
                "plan_by": date(2026, 3, 31),
                "close_by": None,
                "escalation_from": date(2026, 5, 12),
            },
        ),
        (
            Milestones(received_at=wib(2026, 12, 1), disposed_at=wib(2026, 12, 2), responded_at=wib(2026, 12, 14)),
            # close: 10 working days after Mon 14 Dec: 15-18, 21-23, (24 cuti, 25 Natal), 28-30
            {
                "verify_by": date(2026, 12, 4),
                "plan_by": date(2026, 12, 9),
                "close_by": date(2026, 12, 30),
                "escalation_from": date(2027, 1, 30),
            },
        ),
        (
            Milestones(
                received_at=wib(2026, 12, 1),
                disposed_at=wib(2026, 12, 2),
                responded_at=wib(2026, 12, 14),
                reporter_replied_at=wib(2026, 12, 15),
            ),
            {
                "verify_by": date(2026, 12, 4),
                "plan_by": date(2026, 12, 9),
                "close_by": None,
                "escalation_from": date(2027, 1, 30),
            },
        ),
        (
            Milestones(
                received_at=wib(2026, 12, 1),
                responded_at=wib(2026, 12, 14),
                reporter_replied_at=wib(2026, 12, 10),
            ),
            {
                "verify_by": date(2026, 12, 4),
                "plan_by": None,
                "close_by": date(2026, 12, 30),
                "escalation_from": date(2027, 1, 30),
            },
        ),
    ],
    ids=[
        "received-only",
        "disposed-before-lebaran",
        "responded-no-reply",
        "reporter-answered",
        "reply-before-response",
    ],
)
def test_deadlines_for(milestones: Milestones, expected: dict[str, date | None]) -> None:
    deadlines = deadlines_for(milestones, settings=SETTINGS, calendar=SKIP, tz=WIB)
    got = {name: (value.date() if value else None) for name, value in deadlines.model_dump().items()}
    assert got == expected


def test_deadlines_follow_configuration() -> None:
    custom = LifecycleSettings(verify_working_days=1, escalation_calendar_days=30, skip_cuti_bersama=False)
    deadlines = deadlines_for(
        Milestones(received_at=wib(2026, 3, 17)),
        settings=custom,
        calendar=WorkingCalendar.from_settings(custom),
        tz=WIB,
    )
    assert deadlines.verify_by == end_of(date(2026, 3, 18), WIB)
    assert deadlines.escalation_from == end_of(date(2026, 4, 16), WIB)
