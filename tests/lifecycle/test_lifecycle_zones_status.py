"""Province codes to WIB/WITA/WIT, registry statuses to stages, milestones and per-complaint deadline state."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from gateway.lifecycle.settings import Zone
from gateway.lifecycle.status import (
    SOURCE_AGENCY,
    SOURCE_REGISTRY,
    SOURCE_REPORTER,
    Stage,
    complaint_deadline_state,
    milestones_from,
    stage_of,
)
from gateway.lifecycle.zones import zone_for_regions
from gateway.records import Deadlines, StatusChange
from tests.lifecycle.complaints import MakeComplaint

WIB = ZoneInfo("Asia/Jakarta")


@pytest.mark.parametrize(
    ("codes", "default", "expected"),
    [
        (("31.71",), "WIB", "WIB"),  # Jakarta Pusat
        (("3273",), "WIT", "WIB"),  # Bandung, default ignored once a province is known
        (("51.71",), "WIB", "WITA"),  # Denpasar
        (("73",), "WIB", "WITA"),  # Sulawesi Selatan
        (("64.72",), "WIB", "WITA"),  # Samarinda
        (("62",), "WITA", "WIB"),  # Kalimantan Tengah is WIB
        (("61.71",), "WITA", "WIB"),  # Pontianak
        (("81.71",), "WIB", "WIT"),  # Ambon
        (("94",), "WIB", "WIT"),  # Papua Tengah (2022)
        (("91.71",), "WIB", "WIT"),  # Jayapura
        ((), "WITA", "WITA"),  # nothing known: the configured default
        (("ID-BA", "x"), "WIB", "WIB"),  # not a Kemendagri code
    ],
    ids=[
        "jakarta",
        "bandung",
        "denpasar",
        "sulsel",
        "samarinda",
        "kalteng-wib",
        "pontianak",
        "ambon",
        "papua-tengah",
        "jayapura",
        "empty-default",
        "unreadable-default",
    ],
)
def test_zone_for_regions(codes: tuple[str, ...], default: Zone, expected: str) -> None:
    assert zone_for_regions(codes, default=default) == expected


@pytest.mark.parametrize(
    ("status", "stage"),
    [
        ("baru", Stage.RECEIVED),
        ("diverifikasi", Stage.VERIFIED),
        ("Didisposisikan", Stage.DISPOSED),
        ("ditindaklanjuti", Stage.IN_PROGRESS),
        ("selesai", Stage.CLOSED),
        ("ditutup", Stage.CLOSED),
        ("open", Stage.DISPOSED),
        ("closed", Stage.CLOSED),
        ("In Progress", Stage.IN_PROGRESS),
        ("in-progress", Stage.IN_PROGRESS),
        ("Belum Terverifikasi", Stage.RECEIVED),
        ("pending_token", Stage.RECEIVED),
        ("diarsipkan", Stage.REJECTED),
        ("whatever", None),
        ("", None),
    ],
    ids=[
        "sim-baru",
        "sim-diverifikasi",
        "sim-didisposisikan-case",
        "sim-ditindaklanjuti",
        "sim-selesai",
        "sim-ditutup",
        "open311-open",
        "open311-closed",
        "spaced",
        "dashed",
        "lapor-label",
        "token",
        "archived",
        "unknown",
        "empty",
    ],
)
def test_stage_of(status: str, stage: Stage | None) -> None:
    assert stage_of(status) is stage


T0 = datetime(2026, 1, 5, 10, tzinfo=WIB)


def change(status: str, days: float, source: str = SOURCE_REGISTRY) -> StatusChange:
    return StatusChange(status=status, at=T0 + timedelta(days=days), source=source)


@pytest.mark.parametrize(
    ("history", "expected"),
    [
        ((), (None, None, None, None)),
        ((change("diverifikasi", 1), change("didisposisikan", 2)), (2, None, None, None)),
        ((change("ditindaklanjuti", 3),), (3, None, None, None)),  # disposition never seen: first later stage
        (
            (change("didisposisikan", 1), change("responded", 4, SOURCE_AGENCY), change("x", 5, SOURCE_REPORTER)),
            (1, 4, 5, None),
        ),
        (
            (change("didisposisikan", 1), change("responded", 4, SOURCE_AGENCY), change("responded", 8, SOURCE_AGENCY)),
            (1, 8, None, None),
        ),
        ((change("didisposisikan", 1), change("selesai", 9)), (1, None, None, 9)),
        ((change("selesai", 9), change("ditindaklanjuti", 10)), (9, None, None, None)),  # reopened
        ((change("diarsipkan", 2),), (None, None, None, 2)),
        ((change("didisposisikan", 2), change("diverifikasi", 1)), (2, None, None, None)),  # order by time
    ],
    ids=[
        "nothing",
        "disposed",
        "skipped-to-progress",
        "response-and-reply",
        "last-response",
        "closed",
        "reopened",
        "rejected",
        "out-of-order",
    ],
)
def test_milestones_from(
    make_complaint: MakeComplaint,
    history: tuple[StatusChange, ...],
    expected: tuple[float | None, float | None, float | None, float | None],
) -> None:
    found = milestones_from(make_complaint(received_at=T0, status_history=history))
    got = tuple(
        None if value is None else (value - T0).days
        for value in (found.disposed_at, found.responded_at, found.reporter_replied_at, found.closed_at)
    )
    assert got == expected
    assert found.received_at == T0


DL = Deadlines(
    verify_by=T0 + timedelta(days=3),
    plan_by=T0 + timedelta(days=10),
    close_by=T0 + timedelta(days=20),
    escalation_from=T0 + timedelta(days=60),
)


@pytest.mark.parametrize(
    ("status", "deadlines", "now_days", "expected"),
    [
        ("baru", DL, 1, "on_time"),
        ("baru", DL, 2.5, "due_soon"),
        ("diverifikasi", DL, 4, "breached"),  # verification includes disposition
        ("didisposisikan", DL, 4, "on_time"),  # now the plan deadline governs
        ("ditindaklanjuti", DL, 11, "breached"),
        ("responded", DL, 15, "on_time"),  # close_by governs after a response
        ("responded", DL.model_copy(update={"close_by": None}), 15, "breached"),  # reporter answered: plan_by
        ("ditindaklanjuti", DL.model_copy(update={"plan_by": None}), 59.5, "due_soon"),  # only Ombudsman left
        ("ditindaklanjuti", DL.model_copy(update={"plan_by": None}), 61, "breached"),
        ("selesai", DL, 100, None),
        ("diarsipkan", DL, 100, None),
        ("unheard-of", DL, 4, "breached"),  # unknown status counts as received
    ],
    ids=[
        "received-on-time",
        "received-due-soon",
        "verified-late",
        "disposed-plan",
        "progress-late",
        "responded-close",
        "responded-replied",
        "escalation-due-soon",
        "escalation-breached",
        "closed",
        "rejected",
        "unknown-status",
    ],
)
def test_complaint_deadline_state(
    make_complaint: MakeComplaint, status: str, deadlines: Deadlines, now_days: float, expected: str | None
) -> None:
    complaint = make_complaint(received_at=T0, status=status, deadlines=deadlines)
    now = T0 + timedelta(days=now_days)
    assert complaint_deadline_state(complaint, now=now, due_soon=timedelta(hours=24)) == expected
