"""Pure mapping from the canonical record to the request bodies of the registry contract.

The contract is written down in docs/registry-api.yaml. Anonymous complaints never carry
the reporter's identity, nor anything derived from it; confidential ones are marked.
"""

from __future__ import annotations

from typing import NotRequired, TypedDict

from gateway.records import Attachment, Complaint, Location, Reference, Reporter

# Only references the registry itself can resolve go out; Message-IDs and conversation ids
# are the gateway's internal bookkeeping and may embed a sender's address.
REGISTRY_REFERENCE_KINDS = frozenset({"tracking_id"})


class ReporterBody(TypedDict):
    """Who complained, sent only when the complaint is not anonymous."""

    identity: str
    phone: str | None
    email: str | None
    user_id: str | None
    handle: str | None
    name: str | None


class LocationBody(TypedDict):
    """Where the problem is."""

    text: str | None
    latitude: float | None
    longitude: float | None
    region_codes: list[str]


class AttachmentBody(TypedDict):
    """A file reference; the registry fetches it from `url`."""

    media_type: str
    url: str | None
    sha256: str | None
    name: str | None
    size: int | None


class TargetBody(TypedDict):
    """The agency and category the complaint is addressed to, where known."""

    agency: str | None
    category: str | None


class ReferenceBody(TypedDict):
    """A pointer to an earlier registry complaint."""

    kind: str
    value: str


class ThreadBody(TypedDict):
    """How the complaint relates to earlier ones."""

    relation: str
    parent_id: str | None
    references: list[ReferenceBody]


class ExternalRefsBody(TypedDict):
    """The gateway's own ids, so the registry record can be traced back."""

    gateway_id: str


class ComplaintRequest(TypedDict):
    """The body of POST /complaints."""

    title: str
    body: str
    language: str | None
    classification: str
    channel: str
    received_at: str
    incident_date: str | None
    anonim: bool
    rahasia: bool
    location: LocationBody | None
    attachments: list[AttachmentBody]
    target: TargetBody
    external_refs: ExternalRefsBody
    dedup_key: str | None
    thread: ThreadBody
    reporter: NotRequired[ReporterBody]


class FollowUpRequest(TypedDict):
    """The body of POST /complaints/{tracking_id}/followups."""

    body: str
    language: str | None
    channel: str
    received_at: str
    anonim: bool
    rahasia: bool
    relation: str
    attachments: list[AttachmentBody]
    external_refs: ExternalRefsBody
    reporter: NotRequired[ReporterBody]


def complaint_request(complaint: Complaint) -> ComplaintRequest:
    """The POST /complaints body for a complaint; no identity when it is anonymous."""
    anonim = complaint.privacy.anonim
    request = ComplaintRequest(
        title=complaint.title,
        # The contract requires a non-empty body; a photo or a shared location alone has only its title.
        body=complaint.body.text or complaint.title,
        language=complaint.body.language,
        classification=complaint.classification,
        channel=complaint.channel,
        received_at=complaint.received_at.isoformat(),
        incident_date=complaint.incident_date.isoformat() if complaint.incident_date else None,
        anonim=anonim,
        rahasia=complaint.privacy.rahasia,
        location=_location(complaint.location),
        attachments=[_attachment(a) for a in complaint.attachments],
        target=TargetBody(agency=complaint.target.agency, category=complaint.target.category),
        external_refs=ExternalRefsBody(gateway_id=complaint.id),
        # The dedup key may be derived from the reporter's identity (a hash of a phone
        # number is easily reversed), so an anonymous complaint goes without it.
        dedup_key=None if anonim else complaint.dedup_key,
        thread=ThreadBody(
            relation=complaint.thread.relation,
            parent_id=complaint.thread.parent_id,
            references=_references(complaint.thread.references + complaint.thread.unresolved),
        ),
    )
    if not anonim:
        request["reporter"] = _reporter(complaint.reporter)
    return request


def follow_up_request(complaint: Complaint) -> FollowUpRequest:
    """The POST /complaints/{tracking_id}/followups body; no identity when it is anonymous."""
    anonim = complaint.privacy.anonim
    request = FollowUpRequest(
        body=complaint.body.text or complaint.title,
        language=complaint.body.language,
        channel=complaint.channel,
        received_at=complaint.received_at.isoformat(),
        anonim=anonim,
        rahasia=complaint.privacy.rahasia,
        relation=complaint.thread.relation,
        attachments=[_attachment(a) for a in complaint.attachments],
        external_refs=ExternalRefsBody(gateway_id=complaint.id),
    )
    if not anonim:
        request["reporter"] = _reporter(complaint.reporter)
    return request


def _reporter(reporter: Reporter) -> ReporterBody:
    return ReporterBody(
        identity=reporter.identity,
        phone=reporter.phone,
        email=reporter.email,
        user_id=reporter.user_id,
        handle=reporter.handle,
        name=reporter.name,
    )


def _location(location: Location | None) -> LocationBody | None:
    if location is None:
        return None
    return LocationBody(
        text=location.text,
        latitude=location.latitude,
        longitude=location.longitude,
        region_codes=list(location.region_codes),
    )


def _attachment(attachment: Attachment) -> AttachmentBody:
    return AttachmentBody(
        media_type=attachment.media_type,
        url=attachment.url,
        sha256=attachment.sha256,
        name=attachment.name,
        size=attachment.size,
    )


def _references(references: tuple[Reference, ...]) -> list[ReferenceBody]:
    seen: set[tuple[str, str]] = set()
    out: list[ReferenceBody] = []
    for ref in references:
        if ref.kind in REGISTRY_REFERENCE_KINDS and (ref.kind, ref.value) not in seen:
            seen.add((ref.kind, ref.value))
            out.append(ReferenceBody(kind=ref.kind, value=ref.value))
    return out
