"""Registry statuses mapped to lifecycle stages, and the deadline events they start or stop."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from enum import StrEnum

from gateway.lifecycle.deadlines import DeadlineState, Milestones, deadline_state, worst_state
from gateway.records import Complaint, Deadlines, StatusChange


class Stage(StrEnum):
    """Where a complaint is in the SP4N-LAPOR! flow, whatever the registry calls it."""

    RECEIVED = "received"  # filed, not yet verified
    VERIFIED = "verified"  # verified by the registry's administrator, not yet sent to an agency
    DISPOSED = "disposed"  # disposition to the agency: the follow-up plan clock starts
    IN_PROGRESS = "in_progress"  # the agency is working on it
    RESPONDED = "responded"  # the agency answered: the closing clock starts
    CLOSED = "closed"  # finished (selesai)
    REJECTED = "rejected"  # archived, not processed further


OPEN_STAGES = frozenset({Stage.RECEIVED, Stage.VERIFIED, Stage.DISPOSED, Stage.IN_PROGRESS, Stage.RESPONDED})
FINAL_STAGES = frozenset({Stage.CLOSED, Stage.REJECTED})

# Status words as registries spell them, lower-cased: the gateway's own contract (registry-sim:
# baru, diverifikasi, didisposisikan, ditindaklanjuti, selesai, ditutup),
# the Indonesian labels of lapor.go.id, and Open311 GeoReport v2's open/closed
# (https://wiki.open311.org/GeoReport_v2/#get-service-request).
_STATUS_STAGE: dict[str, Stage] = {
    "received": Stage.RECEIVED,
    "submitted": Stage.RECEIVED,
    "pending": Stage.RECEIVED,
    "pending_token": Stage.RECEIVED,
    "filed": Stage.RECEIVED,
    "delivered": Stage.RECEIVED,
    "new": Stage.RECEIVED,
    "baru": Stage.RECEIVED,
    "belum terverifikasi": Stage.RECEIVED,
    "verified": Stage.VERIFIED,
    "terverifikasi": Stage.VERIFIED,
    "diverifikasi": Stage.VERIFIED,
    "disposed": Stage.DISPOSED,
    "dispositioned": Stage.DISPOSED,
    "forwarded": Stage.DISPOSED,
    "disposisi": Stage.DISPOSED,
    "didisposisikan": Stage.DISPOSED,
    "belum ditindaklanjuti": Stage.DISPOSED,
    # Open311 has no verification step: an open request already sits with the responsible agency.
    "open": Stage.DISPOSED,
    "in_progress": Stage.IN_PROGRESS,
    "in progress": Stage.IN_PROGRESS,
    "processing": Stage.IN_PROGRESS,
    "proses": Stage.IN_PROGRESS,
    "diproses": Stage.IN_PROGRESS,
    "dalam proses": Stage.IN_PROGRESS,
    "ditindaklanjuti": Stage.IN_PROGRESS,
    "responded": Stage.RESPONDED,
    "answered": Stage.RESPONDED,
    "ditanggapi": Stage.RESPONDED,
    "closed": Stage.CLOSED,
    "resolved": Stage.CLOSED,
    "done": Stage.CLOSED,
    "completed": Stage.CLOSED,
    "selesai": Stage.CLOSED,
    "ditutup": Stage.CLOSED,
    "rejected": Stage.REJECTED,
    "archived": Stage.REJECTED,
    "ditolak": Stage.REJECTED,
    "diarsipkan": Stage.REJECTED,
}

_ORDER = {stage: rank for rank, stage in enumerate(Stage)}

# Sources of status history entries written by the lifecycle worker and the pipeline.
SOURCE_REGISTRY = "registry"
SOURCE_AGENCY = "agency"
SOURCE_REPORTER = "reporter"


def stage_of(status: str) -> Stage | None:
    """The stage a registry status means, or None for a status the gateway does not know."""
    return _STATUS_STAGE.get(" ".join(status.strip().lower().replace("-", "_").split()))


def current_stage(complaint: Complaint) -> Stage:
    """The stage of the complaint's current status; unknown statuses count as received."""
    return stage_of(complaint.status) or Stage.RECEIVED


def milestones_from(complaint: Complaint) -> Milestones:
    """The clock-starting events found in a complaint's status history.

    Registry statuses (source "registry") give disposition and closing, the first time each was
    reached or passed; agency responses (source "agency") and reporter follow-ups (source
    "reporter") give the last response and the last reply.
    """
    disposed_at = responded_at = replied_at = closed_at = None
    for change in _chronological(complaint.status_history):
        if change.source == SOURCE_AGENCY:
            responded_at = change.at
            continue
        if change.source == SOURCE_REPORTER:
            replied_at = change.at
            continue
        stage = stage_of(change.status)
        if stage is None:
            continue
        if disposed_at is None and _ORDER[stage] >= _ORDER[Stage.DISPOSED] and stage is not Stage.REJECTED:
            disposed_at = change.at
        if stage is Stage.RESPONDED and (responded_at is None or change.at > responded_at):
            responded_at = change.at
        if stage in FINAL_STAGES:
            closed_at = closed_at or change.at
        else:
            closed_at = None  # reopened
    return Milestones(
        received_at=complaint.received_at,
        disposed_at=disposed_at,
        responded_at=responded_at,
        reporter_replied_at=replied_at,
        closed_at=closed_at,
    )


def _chronological(history: Iterable[StatusChange]) -> list[StatusChange]:
    return sorted(history, key=lambda change: change.at)


def governing_deadlines(stage: Stage, deadlines: Deadlines) -> list[datetime]:
    """The deadlines that apply to a complaint at this stage (none once it is closed or rejected).

    Verification runs until disposition, the follow-up plan until a response, closing after a
    response; the Ombudsman deadline applies to every open complaint.
    """
    if stage in FINAL_STAGES:
        return []
    applicable: list[datetime | None]
    if stage in (Stage.RECEIVED, Stage.VERIFIED):
        applicable = [deadlines.verify_by]
    elif stage is Stage.RESPONDED:
        applicable = [deadlines.close_by or deadlines.plan_by]
    else:
        applicable = [deadlines.plan_by]
    applicable.append(deadlines.escalation_from)
    return [deadline for deadline in applicable if deadline is not None]


def complaint_deadline_state(complaint: Complaint, *, now: datetime, due_soon: timedelta) -> DeadlineState | None:
    """The worst state of the deadlines that govern an open complaint, or None when it is finished."""
    stage = current_stage(complaint)
    states = [deadline_state(d, now, due_soon) for d in governing_deadlines(stage, complaint.deadlines)]
    return worst_state(states)
