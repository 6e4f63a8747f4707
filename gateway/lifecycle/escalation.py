"""Ombudsman RI escalation: when to offer it, the reporter's `YA` consent, and the export batch."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from gateway.lifecycle.optout import CONSENT_WORDS, keyword_of
from gateway.lifecycle.status import FINAL_STAGES, Stage
from gateway.records import Complaint, Deadlines

EscalationState = Literal["offered", "consented", "exported"]
EXPORT_SCHEMA = "lapor-gateway.escalations/v1"

_REFERENCE = re.compile(r"#([\w-]+)")


@dataclass(frozen=True, slots=True)
class Escalation:
    """Where a complaint stands on the way to Ombudsman RI."""

    complaint_id: str
    state: EscalationState
    offered_at: datetime
    consented_at: datetime | None = None
    exported_at: datetime | None = None


def should_offer(stage: Stage, deadlines: Deadlines, now: datetime, escalation: Escalation | None) -> bool:
    """Offer escalation once, when an unfinished complaint has passed its resolution deadline."""
    if escalation is not None or stage in FINAL_STAGES or deadlines.escalation_from is None:
        return False
    return now > deadlines.escalation_from


def is_consent(text: str) -> bool:
    """Whether a message is a `YA` answer (also IYA or SETUJU, alone, any case, #reference allowed)."""
    return keyword_of(text) in CONSENT_WORDS


@dataclass(frozen=True, slots=True)
class PendingOffer:
    """An offer a reporter may still answer: the complaint, its tracking ID, when it was made."""

    escalation: Escalation
    tracking_id: str | None


def consent_targets(
    text: str, offers: Sequence[PendingOffer], *, now: datetime, window_days: int
) -> list[PendingOffer]:
    """The offers a `YA` message consents to: the one it names by #tracking id, else every open one.

    Offers older than the consent window, or already answered, are not consented to.
    """
    if not is_consent(text):
        return []
    open_offers = [
        offer
        for offer in offers
        if offer.escalation.state == "offered"
        and (now - offer.escalation.offered_at).total_seconds() <= window_days * 86400
    ]
    named = {match.lower() for match in _REFERENCE.findall(text)}
    if named:
        return [offer for offer in open_offers if (offer.tracking_id or "").lower() in named]
    return open_offers


def consent(escalation: Escalation, at: datetime) -> Escalation:
    """The escalation after the reporter said YA."""
    return replace(escalation, state="consented", consented_at=at)


class _Export(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ExportReporter(_Export):
    """Who to contact; absent for anonymous complaints."""

    name: str | None
    phone: str | None
    email: str | None
    handle: str | None
    channel: str


class ExportLocation(_Export):
    """Where the problem is."""

    text: str | None
    latitude: float | None
    longitude: float | None
    region_codes: tuple[str, ...]


class ExportStatus(_Export):
    """One entry of the status history."""

    status: str
    at: datetime
    source: str


class ExportItem(_Export):
    """One complaint the reporter agreed to take to Ombudsman RI."""

    complaint_id: str
    tracking_id: str | None
    channel: str
    received_at: datetime
    classification: str
    title: str
    body: str
    language: str | None
    incident_date: date | None
    location: ExportLocation | None
    agency: str | None
    category: str | None
    status: str
    status_history: tuple[ExportStatus, ...]
    deadlines: Deadlines
    offered_at: datetime
    consented_at: datetime
    anonymous: bool
    confidential: bool
    reporter: ExportReporter | None
    attachments: tuple[str, ...]


class EscalationExport(_Export):
    """The batch `lapor-gateway escalations export` writes for an Ombudsman integration."""

    schema_id: str = EXPORT_SCHEMA
    generated_at: datetime
    count: int
    items: tuple[ExportItem, ...]


@dataclass(frozen=True, slots=True)
class EscalationCase:
    """A consented escalation with its complaint, as the repository returns it."""

    complaint: Complaint
    escalation: Escalation


def export_item(case: EscalationCase) -> ExportItem:
    """One export entry; the reporter's identity is left out when the complaint is anonymous."""
    complaint, escalation = case.complaint, case.escalation
    if escalation.consented_at is None:
        raise ValueError("only consented escalations are exported")
    reporter = None
    if not complaint.privacy.anonim:
        who = complaint.reporter
        reporter = ExportReporter(
            name=who.name, phone=who.phone, email=who.email, handle=who.handle, channel=complaint.channel
        )
    location = None
    if complaint.location is not None:
        place = complaint.location
        location = ExportLocation(
            text=place.text, latitude=place.latitude, longitude=place.longitude, region_codes=place.region_codes
        )
    return ExportItem(
        complaint_id=complaint.id,
        tracking_id=complaint.external.tracking_id,
        channel=complaint.channel,
        received_at=complaint.received_at,
        classification=complaint.classification,
        title=complaint.title,
        body=complaint.body.text,
        language=complaint.body.language,
        incident_date=complaint.incident_date,
        location=location,
        agency=complaint.target.agency,
        category=complaint.target.category,
        status=complaint.status,
        status_history=tuple(
            ExportStatus(status=change.status, at=change.at, source=change.source)
            for change in complaint.status_history
        ),
        deadlines=complaint.deadlines,
        offered_at=escalation.offered_at,
        consented_at=escalation.consented_at,
        anonymous=complaint.privacy.anonim,
        confidential=complaint.privacy.rahasia,
        reporter=reporter,
        attachments=tuple(a.sha256 for a in complaint.attachments if a.sha256),
    )


def build_export(cases: Sequence[EscalationCase], *, generated_at: datetime) -> EscalationExport:
    """The export batch, ordered by consent time then complaint id."""
    items = sorted((export_item(case) for case in cases), key=lambda item: (item.consented_at, item.complaint_id))
    return EscalationExport(generated_at=generated_at, count=len(items), items=tuple(items))
