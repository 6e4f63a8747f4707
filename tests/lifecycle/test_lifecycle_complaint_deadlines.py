"""Deadlines of whole complaint records, in their region's zone, and the per-channel, per-agency report."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from gateway.lifecycle.complaint_deadlines import DeadlineKey, count_deadline_states, deadlines_of, timezone_of
from gateway.lifecycle.deadlines import WorkingCalendar
from gateway.lifecycle.settings import LifecycleSettings
from gateway.records import Deadlines, StatusChange, Target
from tests.lifecycle.complaints import build_complaint

SETTINGS = LifecycleSettings()
CALENDAR = WorkingCalendar()
THURSDAY_NIGHT_WIB = datetime(2026, 3, 12, 16, 30, tzinfo=UTC)  # already Friday in WITA and WIT


@pytest.mark.parametrize(
    ("codes", "default", "zone", "verify_by"),
    [
        ((), "WIB", "Asia/Jakarta", datetime(2026, 3, 17, 23, 59, 59)),
        (("73.71",), "WIB", "Asia/Makassar", datetime(2026, 3, 25, 23, 59, 59)),
        (("91.71",), "WIB", "Asia/Jayapura", datetime(2026, 3, 25, 23, 59, 59)),
        ((), "WITA", "Asia/Makassar", datetime(2026, 3, 25, 23, 59, 59)),
    ],
    ids=["default-wib", "makassar", "jayapura", "default-wita"],
)
def test_deadlines_in_the_reporters_zone(codes: tuple[str, ...], default: str, zone: str, verify_by: datetime) -> None:
    settings = LifecycleSettings.model_validate({"default_timezone": default})
    complaint = build_complaint(received_at=THURSDAY_NIGHT_WIB, region_codes=codes)
    assert timezone_of(complaint, settings) == ZoneInfo(zone)
    deadlines = deadlines_of(complaint, settings=settings, calendar=CALENDAR)
    assert deadlines.verify_by == verify_by.replace(tzinfo=ZoneInfo(zone))


def test_reporter_reply_cancels_close_deadline() -> None:
    responded = StatusChange(status="responded", at=THURSDAY_NIGHT_WIB + timedelta(days=5), source="agency")
    complaint = build_complaint(received_at=THURSDAY_NIGHT_WIB, status_history=(responded,))
    assert deadlines_of(complaint, settings=SETTINGS, calendar=CALENDAR).close_by is not None
    later = responded.at + timedelta(hours=1)
    assert deadlines_of(complaint, settings=SETTINGS, calendar=CALENDAR, last_reporter_reply_at=later).close_by is None
    earlier = responded.at - timedelta(hours=1)
    assert deadlines_of(complaint, settings=SETTINGS, calendar=CALENDAR, last_reporter_reply_at=earlier).close_by


def test_count_deadline_states() -> None:
    now = datetime(2026, 3, 10, tzinfo=UTC)
    late = Deadlines(verify_by=now - timedelta(days=1), escalation_from=now + timedelta(days=50))
    soon = Deadlines(verify_by=now + timedelta(hours=5), escalation_from=now + timedelta(days=50))
    fine = Deadlines(verify_by=now + timedelta(days=3), escalation_from=now + timedelta(days=50))
    complaints = [
        build_complaint(id="1", received_at=now, deadlines=late, target=Target(agency="Dinas PUPR")),
        build_complaint(id="2", received_at=now, deadlines=late, target=Target(agency="Dinas PUPR")),
        build_complaint(id="3", received_at=now, deadlines=soon, channel="email"),
        build_complaint(id="4", received_at=now, deadlines=fine),
        build_complaint(id="5", received_at=now, deadlines=late, status="selesai"),
    ]
    counts = count_deadline_states(complaints, now=now, due_soon=timedelta(hours=24))
    assert counts == {
        DeadlineKey("twilio", "Dinas PUPR", "breached"): 2,
        DeadlineKey("email", "-", "due_soon"): 1,
        DeadlineKey("twilio", "-", "on_time"): 1,
    }
