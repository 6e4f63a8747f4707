"""The tables: raw archive, complaints, the dispatch outbox, the reply outbox, channel cursors."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlmodel import Field, SQLModel


class UtcDateTime(sa.types.TypeDecorator[datetime]):
    """Timezone-aware UTC on every dialect (SQLite stores naive text and would drop the zone)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


_TZ = UtcDateTime()


class RawMessageRow(SQLModel, table=True):
    """Every message exactly as it arrived; (channel, external_id) is the dedup key.

    The id is a hash of that key (gateway.records.raw_id), so the primary key enforces it: look a message up
    by `id == raw_id(channel, external_id)`, never by the two columns, which have no index of their own.
    """

    __tablename__ = "raw_message"
    __table_args__ = (sa.Index("ix_raw_message_state_received_at", "state", "received_at"),)

    id: str = Field(primary_key=True, max_length=26)
    channel: str = Field(max_length=32)
    event: str = Field(max_length=32)
    external_id: str = Field(max_length=255)
    received_at: datetime = Field(sa_type=_TZ)
    payload: bytes = Field(sa_type=sa.LargeBinary)
    sha256: str = Field(max_length=64)
    meta: str = Field(default="{}", sa_type=sa.Text)
    state: str = Field(default="received", max_length=16)
    reason: str | None = Field(default=None, sa_type=sa.Text)
    flags: str = Field(default="", max_length=255)
    locked_until: datetime | None = Field(default=None, sa_type=_TZ)
    processed_at: datetime | None = Field(default=None, sa_type=_TZ)
    complaint_id: str | None = Field(default=None, max_length=26)


class ComplaintRow(SQLModel, table=True):
    """The canonical record (JSON) with the columns queries need beside it."""

    __tablename__ = "complaint"

    id: str = Field(primary_key=True, max_length=26)
    schema_version: int = Field(default=1)
    channel: str = Field(max_length=32, index=True)
    received_at: datetime = Field(sa_type=_TZ, index=True)
    raw_id: str = Field(max_length=26, unique=True)
    relation: str = Field(default="new", max_length=16)
    parent_id: str | None = Field(default=None, max_length=26, index=True)
    reporter_identity: str = Field(max_length=320, index=True)
    dedup_key: str = Field(max_length=64, index=True)
    tracking_id: str | None = Field(default=None, max_length=64, index=True)
    status: str = Field(default="received", max_length=32)
    agency: str | None = Field(default=None, max_length=128)
    record: str = Field(sa_type=sa.Text)
    created_at: datetime = Field(sa_type=_TZ)
    updated_at: datetime = Field(sa_type=_TZ)


class DispatchJobRow(SQLModel, table=True):
    """The outbox of registry requests; the Idempotency-Key makes a resend harmless."""

    __tablename__ = "dispatch_job"
    __table_args__ = (sa.Index("ix_dispatch_job_state_next", "state", "next_attempt_at"),)

    id: str = Field(primary_key=True, max_length=26)
    kind: str = Field(max_length=16)
    complaint_id: str = Field(max_length=26, index=True)
    idempotency_key: str = Field(max_length=64, unique=True)
    state: str = Field(default="pending", max_length=16)
    attempts: int = Field(default=0)
    next_attempt_at: datetime = Field(sa_type=_TZ)
    locked_until: datetime | None = Field(default=None, sa_type=_TZ)
    locked_by: str | None = Field(default=None, max_length=64)
    last_error: str | None = Field(default=None, sa_type=sa.Text)
    created_at: datetime = Field(sa_type=_TZ)
    updated_at: datetime = Field(sa_type=_TZ)


class ReplyRow(SQLModel, table=True):
    """The outbox of messages to reporters; `dedup` keeps one acknowledgement per complaint."""

    __tablename__ = "reply"
    __table_args__ = (sa.Index("ix_reply_state_next", "state", "next_attempt_at"),)

    id: str = Field(primary_key=True, max_length=26)
    dedup: str = Field(max_length=128, unique=True)
    complaint_id: str | None = Field(default=None, max_length=26, index=True)
    channel: str = Field(max_length=32)
    kind: str = Field(max_length=16)
    address: str = Field(max_length=320)
    sender: str | None = Field(default=None, max_length=320)
    subject: str | None = Field(default=None, sa_type=sa.Text)
    text: str = Field(sa_type=sa.Text)
    in_reply_to: str | None = Field(default=None, sa_type=sa.Text)
    public: bool = Field(default=False)
    meta: str = Field(default="{}", sa_type=sa.Text)
    state: str = Field(default="pending", max_length=16)
    attempts: int = Field(default=0)
    next_attempt_at: datetime = Field(sa_type=_TZ)
    locked_until: datetime | None = Field(default=None, sa_type=_TZ)
    provider_id: str | None = Field(default=None, max_length=255, index=True)
    delivery_status: str | None = Field(default=None, max_length=32)
    last_error: str | None = Field(default=None, sa_type=sa.Text)
    created_at: datetime = Field(sa_type=_TZ)
    sent_at: datetime | None = Field(default=None, sa_type=_TZ)


class CursorRow(SQLModel, table=True):
    """A durable position of a poller: since_id, IMAP UID, getUpdates offset."""

    __tablename__ = "channel_cursor"

    channel: str = Field(primary_key=True, max_length=32)
    key: str = Field(primary_key=True, max_length=64)
    value: str = Field(sa_type=sa.Text)
    updated_at: datetime = Field(sa_type=_TZ)


class ReporterPreferenceRow(SQLModel, table=True):
    """What a reporter asked for: no more updates (STOP/BERHENTI), or an undeliverable address."""

    __tablename__ = "reporter_preference"

    channel: str = Field(primary_key=True, max_length=32)
    identity: str = Field(primary_key=True, max_length=320)
    opted_out: bool = Field(default=False)
    undeliverable: bool = Field(default=False)
    updated_at: datetime = Field(sa_type=_TZ)


class ComplaintLifecycleRow(SQLModel, table=True):
    """What the lifecycle keeps per filed complaint: status polling, the deadline that governs it, escalation.

    `id` is the complaint's id. `deadline_at` is the earliest deadline that applies at the complaint's
    current stage (NULL once it is finished), so `stats` and /metrics count deadline states in SQL.
    """

    __tablename__ = "complaint_lifecycle"
    __table_args__ = (
        sa.Index("ix_complaint_lifecycle_poll", "finished", "next_poll_at"),
        sa.Index("ix_complaint_lifecycle_escalation", "escalation_state"),
    )

    id: str = Field(primary_key=True, max_length=26)
    finished: bool = Field(default=False)
    next_poll_at: datetime | None = Field(default=None, sa_type=_TZ)
    last_polled_at: datetime | None = Field(default=None, sa_type=_TZ)
    poll_failures: int = Field(default=0)
    poll_error: str | None = Field(default=None, sa_type=sa.Text)
    seen_response_ids: str = Field(default="[]", sa_type=sa.Text)
    deadline_at: datetime | None = Field(default=None, sa_type=_TZ, index=True)
    last_reporter_reply_at: datetime | None = Field(default=None, sa_type=_TZ)
    escalation_state: str | None = Field(default=None, max_length=16)
    offered_at: datetime | None = Field(default=None, sa_type=_TZ)
    consented_at: datetime | None = Field(default=None, sa_type=_TZ)
    exported_at: datetime | None = Field(default=None, sa_type=_TZ)
    created_at: datetime = Field(sa_type=_TZ)
    updated_at: datetime = Field(sa_type=_TZ)


class ContactKeyRow(SQLModel, table=True):
    """Phone numbers and email addresses a complaint is indexed under, to find cross-channel duplicates."""

    __tablename__ = "complaint_contact"
    __table_args__ = (sa.Index("ix_complaint_contact_key_received", "key", "received_at"),)

    complaint_id: str = Field(primary_key=True, max_length=26)
    key: str = Field(primary_key=True, max_length=330)
    received_at: datetime = Field(sa_type=_TZ)


raw_message = RawMessageRow.__table__  # type: ignore[attr-defined]
complaint = ComplaintRow.__table__  # type: ignore[attr-defined]
dispatch_job = DispatchJobRow.__table__  # type: ignore[attr-defined]
reply = ReplyRow.__table__  # type: ignore[attr-defined]
channel_cursor = CursorRow.__table__  # type: ignore[attr-defined]
reporter_preference = ReporterPreferenceRow.__table__  # type: ignore[attr-defined]
complaint_lifecycle = ComplaintLifecycleRow.__table__  # type: ignore[attr-defined]
complaint_contact = ContactKeyRow.__table__  # type: ignore[attr-defined]
metadata = SQLModel.metadata
