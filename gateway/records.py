"""The canonical complaint record (schema v1) and the other outcomes of normalization."""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from ulid import ULID

SCHEMA_VERSION = 1

Classification = Literal["pengaduan", "aspirasi", "permintaan_informasi"]
Relation = Literal["new", "follow_up", "duplicate"]
ReferenceKind = Literal["tracking_id", "message_id", "conversation", "complaint_id"]
AttachmentState = Literal["referenced", "stored", "unavailable"]


class Record(BaseModel):
    """Base of every record model: immutable, unknown fields are errors."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Reporter(Record):
    """Who complained, as the channel knows them; `identity` is the per-channel key."""

    identity: str
    phone: str | None = None
    email: str | None = None
    user_id: str | None = None
    handle: str | None = None
    name: str | None = None


class Privacy(Record):
    """`anonim`: identity never sent to the registry; `rahasia`: complaint marked confidential."""

    anonim: bool = False
    rahasia: bool = False


class Body(Record):
    """The full complaint text and its language tag (id, jv or en)."""

    text: str
    language: str | None = None


class Location(Record):
    """Where the problem is: free text, coordinates, and region codes where resolved."""

    text: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    region_codes: tuple[str, ...] = ()
    level: str | None = None
    confidence: float | None = None


class Target(Record):
    """The agency and category the complaint is for, where known."""

    agency: str | None = None
    category: str | None = None


class Attachment(Record):
    """A file that came with the complaint: a provider URL until it is fetched and stored."""

    media_type: str
    url: str | None = None
    size: int | None = None
    sha256: str | None = None
    name: str | None = None
    state: AttachmentState = "referenced"


class Reference(Record):
    """A pointer to an earlier complaint found in the message (tracking ID, Message-ID, ...)."""

    kind: ReferenceKind
    value: str


class Thread(Record):
    """How this record relates to earlier ones."""

    conversation_key: str | None = None
    parent_id: str | None = None
    relation: Relation = "new"
    references: tuple[Reference, ...] = ()
    unresolved: tuple[Reference, ...] = ()


class ReplyRoute(Record):
    """Where the acknowledgement goes: the channel's address for the reporter, and whether it is public."""

    channel: str
    address: str
    sender: str | None = None
    in_reply_to: str | None = None
    public: bool = False


class External(Record):
    """Identifiers the registry gave this complaint."""

    tracking_id: str | None = None
    open311_request_id: str | None = None
    open311_token: str | None = None


class StatusChange(Record):
    """One entry of the status history."""

    status: str
    at: datetime
    source: str = "gateway"
    note: str | None = None


class Deadlines(Record):
    """Legal deadlines computed in Indonesian working days."""

    verify_by: datetime | None = None
    plan_by: datetime | None = None
    close_by: datetime | None = None
    escalation_from: datetime | None = None


class Insight(Record):
    """A derived result beside the record: what was decided, how sure, and by whom."""

    kind: str
    value: str
    confidence: float
    decided_by: Literal["rule", "model", "reporter", "registry"]
    detail: dict[str, str] = Field(default_factory=dict)


class RawRef(Record):
    """The raw messages a record came from."""

    ids: tuple[str, ...]
    sha256: tuple[str, ...]


class Complaint(Record):
    """The canonical complaint record, the same for every channel."""

    id: str
    schema_version: int = SCHEMA_VERSION
    channel: str
    received_at: datetime
    raw: RawRef
    reporter: Reporter
    privacy: Privacy = Privacy()
    classification: Classification = "pengaduan"
    title: str
    body: Body
    incident_date: date | None = None
    location: Location | None = None
    target: Target = Target()
    attachments: tuple[Attachment, ...] = ()
    dedup_key: str
    thread: Thread = Thread()
    reply_to: ReplyRoute | None = None
    external: External = External()
    status: str = "received"
    status_history: tuple[StatusChange, ...] = ()
    deadlines: Deadlines = Deadlines()
    insights: tuple[Insight, ...] = ()
    flags: tuple[str, ...] = ()


class FollowUp(Record):
    """A message that refers to an earlier complaint; the pipeline resolves the reference.

    `record` is what the message becomes: a follow-up of the referenced complaint when the
    gateway knows it, otherwise a new complaint that keeps the reference as unresolved.
    """

    references: tuple[Reference, ...]
    record: Complaint


class Ignored(Record):
    """Known input that is deliberately not a complaint, with the reason; kept in the archive."""

    reason: str
    detail: str = ""
    identity: str | None = None  # the reporter, where the reason concerns them (opt_out, consent)


Outcome = Complaint | FollowUp | Ignored


def record_id(channel: str, external_id: str, received_at: datetime) -> str:
    """A ULID that is deterministic for a raw message, so replay reproduces the same record."""
    seed = hashlib.sha256(f"{channel}\x00{external_id}".encode()).digest()
    millis = int(received_at.timestamp() * 1000)
    return str(ULID.from_bytes(millis.to_bytes(6, "big") + seed[:10]))


def raw_id(channel: str, external_id: str) -> str:
    """A stable id for a raw message, derived from its dedup key."""
    return hashlib.sha256(f"raw\x00{channel}\x00{external_id}".encode()).hexdigest()[:26]
