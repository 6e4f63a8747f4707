"""What the lifecycle needs from storage: the Protocols the database layer implements, and their records."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from channels.base import OutgoingReply
from gateway.lifecycle.escalation import Escalation, EscalationCase, PendingOffer
from gateway.records import Complaint, Deadlines, Insight, StatusChange


@dataclass(frozen=True, slots=True)
class SyncTarget:
    """A filed, unfinished complaint due for a status poll, with what the sync remembered of it."""

    complaint: Complaint
    seen_response_ids: frozenset[str] = frozenset()
    failures: int = 0
    opted_out: bool = False
    escalation: Escalation | None = None
    last_reporter_reply_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class SyncUpdate:
    """Everything one poll changed; the repository applies it in one transaction.

    None in `status`, `tracking_id`, `deadlines`, `escalation` and `agency` means unchanged;
    `next_poll_at` None means the complaint is finished and is not polled again.
    """

    complaint_id: str
    polled_at: datetime
    next_poll_at: datetime | None
    failures: int
    seen_response_ids: frozenset[str]
    status: str | None = None
    tracking_id: str | None = None
    new_history: tuple[StatusChange, ...] = ()
    deadlines: Deadlines | None = None
    replies: tuple[OutgoingReply, ...] = ()
    escalation: Escalation | None = None
    error: str | None = None
    agency: str | None = None
    disposition: Insight | None = None  # the registry's final agency and class, kept as training data

    @property
    def changed(self) -> bool:
        """Whether the poll found anything new."""
        return (
            bool(self.new_history)
            or self.tracking_id is not None
            or self.escalation is not None
            or self.agency is not None
        )


class SyncRepository(Protocol):
    """Storage for the status-sync worker."""

    async def due_for_sync(self, now: datetime, *, limit: int) -> Sequence[SyncTarget]:
        """Claim up to `limit` complaints whose next poll is due (next_poll_at <= now, not finished).

        Claiming pushes their next_poll_at forward by a lease so that another worker does not
        take them at the same time; complaints with a tracking ID but no next_poll_at are due.
        """
        ...

    async def apply_sync(self, update: SyncUpdate) -> None:
        """In one transaction: append history, set status, tracking ID, deadlines, escalation,
        poll bookkeeping, and insert the replies into the reply outbox (ignoring ids already there)."""
        ...


class OptOutRepository(Protocol):
    """Who asked for no more updates, per (channel, address)."""

    async def set_opt_out(self, channel: str, address: str, *, opted_out: bool, at: datetime) -> None: ...

    async def is_opted_out(self, channel: str, address: str) -> bool: ...


class ConsentRepository(Protocol):
    """Escalation offers a reporter may answer with YA."""

    async def pending_offers(self, channel: str, address: str) -> Sequence[PendingOffer]:
        """Offers in state `offered` for complaints whose reply route is (channel, address)."""
        ...

    async def record_consent(self, escalations: Sequence[Escalation], replies: Sequence[OutgoingReply]) -> None:
        """Store the consented escalations and enqueue the confirmation replies, in one transaction."""
        ...


class EscalationRepository(Protocol):
    """Consented escalations for the export."""

    async def consented(self, *, include_exported: bool) -> Sequence[EscalationCase]:
        """Escalations in state `consented` (and `exported` too when asked), with their complaints."""
        ...

    async def mark_exported(self, complaint_ids: Sequence[str], at: datetime) -> None:
        """Set the state of these escalations to `exported`."""
        ...
