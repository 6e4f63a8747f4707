"""Operator decisions on suspected spam: release it into the normal flow, or confirm it as spam.

Neither deletes anything. The storage layer holds a record flagged suspected_spam out of the dispatch
outbox and sends no acknowledgement until `review` releases it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal, Protocol

from gateway.intel.spam import SPAM_FLAG
from gateway.records import Complaint, StatusChange

ReviewDecision = Literal["release", "confirm"]
RELEASED_FLAG = "spam_released"
CONFIRMED_FLAG = "spam_confirmed"


class SpamReviewStore(Protocol):
    """What the CLI needs from storage to review held complaints."""

    async def get(self, complaint_id: str) -> Complaint | None:
        """The stored complaint, or None."""

    async def save_review(self, complaint: Complaint, decision: ReviewDecision) -> None:
        """Persist the reviewed record; on release, enqueue it for dispatch and acknowledgement."""


def is_held(complaint: Complaint) -> bool:
    """Whether a complaint waits for an operator: suspected spam not yet reviewed."""
    return SPAM_FLAG in complaint.flags and not {RELEASED_FLAG, CONFIRMED_FLAG} & set(complaint.flags)


def may_acknowledge(complaint: Complaint) -> bool:
    """Whether the reporter may be sent an acknowledgement (never for held or confirmed spam)."""
    return not is_held(complaint) and CONFIRMED_FLAG not in complaint.flags


def review(complaint: Complaint, decision: ReviewDecision, *, operator: str, at: datetime) -> Complaint:
    """The record after an operator's decision; raises ValueError if it is not held."""
    if not is_held(complaint):
        raise ValueError("complaint is not held as suspected spam")
    if decision == "release":
        flags = (*(f for f in complaint.flags if f != SPAM_FLAG), RELEASED_FLAG)
        status = complaint.status
        change = StatusChange(status="spam_released", at=at, source="operator", note=operator)
    else:
        flags = (*complaint.flags, CONFIRMED_FLAG)
        status = "spam"
        change = StatusChange(status="spam", at=at, source="operator", note=operator)
    return complaint.model_copy(update={
        "flags": flags, "status": status, "status_history": (*complaint.status_history, change),
    })
