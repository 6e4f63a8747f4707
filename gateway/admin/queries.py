"""What the API and the console read: recent complaints, one complaint beside its raw message,
channel health, and deadline breaches."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

import sqlalchemy as sa

from gateway.messages import utcnow
from gateway.storage.db import Database
from gateway.storage.tables import complaint, dispatch_job, raw_message

HEALTH_WINDOW = timedelta(hours=24)
FINISHED_STATUSES = frozenset({"closed", "selesai", "ditutup", "rejected", "ditolak", "done"})
DEADLINE_NAMES = ("verify_by", "plan_by", "close_by", "escalation_from")


async def recent_complaints(db: Database, *, limit: int = 50) -> list[dict[str, Any]]:
    """The newest complaints: id, channel, time, status, tracking ID, title."""
    async with db.connect() as connection:
        rows = (await connection.execute(
            sa.select(complaint.c.id, complaint.c.channel, complaint.c.received_at, complaint.c.status,
                      complaint.c.tracking_id, complaint.c.relation, complaint.c.record)
            .order_by(complaint.c.received_at.desc(), complaint.c.id.desc()).limit(limit)
        )).all()
    return [
        {"id": row.id, "channel": row.channel, "received_at": row.received_at.isoformat(), "status": row.status,
         "tracking_id": row.tracking_id, "relation": row.relation,
         "title": str(json.loads(row.record).get("title", ""))}
        for row in rows
    ]


def readable_payload(payload: bytes) -> tuple[str, list[tuple[str, str]]]:
    """The raw payload as text, and its fields when it is a form body (Twilio, Kannel, Jasmin)."""
    text = payload.decode("utf-8", errors="replace")
    fields: list[tuple[str, str]] = []
    if text and "=" in text and not text.lstrip().startswith(("{", "<", "[")) and "\n" not in text.strip():
        try:
            fields = parse_qsl(text, keep_blank_values=True, strict_parsing=True)
        except ValueError:
            fields = []
    return text, fields


async def complaint_detail(db: Database, complaint_id: str) -> dict[str, Any] | None:
    """A complaint's normalized record beside the raw message it came from."""
    async with db.connect() as connection:
        row = (await connection.execute(sa.select(complaint).where(complaint.c.id == complaint_id))).first()
        if row is None:
            return None
        raw = (await connection.execute(sa.select(raw_message).where(raw_message.c.id == row.raw_id))).first()
        jobs = (await connection.execute(
            sa.select(dispatch_job.c.id, dispatch_job.c.kind, dispatch_job.c.state, dispatch_job.c.attempts,
                      dispatch_job.c.last_error).where(dispatch_job.c.complaint_id == complaint_id)
        )).all()
    detail: dict[str, Any] = {
        "id": row.id, "channel": row.channel, "status": row.status, "tracking_id": row.tracking_id,
        "record": json.loads(row.record), "raw": None,
        "dispatch": [dict(job._mapping) for job in jobs],
    }
    if raw is not None:
        text, fields = readable_payload(raw.payload)
        detail["raw"] = {
            "id": raw.id, "channel": raw.channel, "event": raw.event, "external_id": raw.external_id,
            "received_at": raw.received_at.isoformat(), "state": raw.state, "sha256": raw.sha256,
            "meta": json.loads(raw.meta or "{}"), "text": text, "fields": fields,
        }
    return detail


@dataclass(frozen=True, slots=True)
class ChannelHealth:
    """Traffic of one channel over the health window."""

    last_message_at: datetime | None
    received: int
    quarantined: int
    dead: int

    @property
    def error_rate(self) -> float:
        """Quarantined messages and dead letters per message received in the window."""
        return (self.quarantined + self.dead) / self.received if self.received else 0.0


async def channel_health(db: Database, *, now: datetime | None = None) -> dict[str, ChannelHealth]:
    """Per channel: last message, messages, quarantined and dead-lettered in the last 24 hours."""
    since = (now or utcnow()) - HEALTH_WINDOW
    async with db.connect() as connection:
        last: dict[str, object] = dict((await connection.execute(
            sa.select(raw_message.c.channel, sa.func.max(raw_message.c.received_at)).group_by(raw_message.c.channel)
        )).all())
        counts = (await connection.execute(
            sa.select(raw_message.c.channel, raw_message.c.state, sa.func.count())
            .where(raw_message.c.received_at >= since).group_by(raw_message.c.channel, raw_message.c.state)
        )).all()
        dead: dict[str, int] = dict((await connection.execute(
            sa.select(complaint.c.channel, sa.func.count())
            .join(complaint, complaint.c.id == dispatch_job.c.complaint_id)
            .where(dispatch_job.c.state == "dead", dispatch_job.c.updated_at >= since)
            .group_by(complaint.c.channel)
        )).all())
    received: dict[str, int] = {}
    quarantined: dict[str, int] = {}
    for channel, state, count in counts:
        received[channel] = received.get(channel, 0) + int(count)
        if state == "quarantined":
            quarantined[channel] = quarantined.get(channel, 0) + int(count)
    return {
        channel: ChannelHealth(
            last_message_at=_aware(last.get(channel)), received=received.get(channel, 0),
            quarantined=quarantined.get(channel, 0), dead=int(dead.get(channel, 0)),
        )
        for channel in set(last) | set(received) | set(dead)
    }


def _aware(value: object) -> datetime | None:
    # max() bypasses the column type on SQLite, which then hands back naive text or a naive datetime.
    if value is None:
        return None
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    assert isinstance(moment, datetime)
    return moment if moment.tzinfo else moment.replace(tzinfo=utcnow().tzinfo)


async def deadline_breaches(db: Database, *, now: datetime | None = None, limit: int = 50) -> list[dict[str, Any]]:
    """Open complaints with a deadline in the past, from the record's `deadlines` (set by the lifecycle)."""
    moment = now or utcnow()
    async with db.connect() as connection:
        rows = (await connection.execute(
            sa.select(complaint.c.id, complaint.c.channel, complaint.c.status, complaint.c.tracking_id,
                      complaint.c.record)
            .where(complaint.c.status.not_in(FINISHED_STATUSES), complaint.c.record.like('%"deadlines"%'))
            .order_by(complaint.c.received_at).limit(2000)
        )).all()
    breaches: list[dict[str, Any]] = []
    for row in rows:
        deadlines = json.loads(row.record).get("deadlines") or {}
        missed = {
            name: value for name in DEADLINE_NAMES
            if (value := deadlines.get(name)) and datetime.fromisoformat(value.replace("Z", "+00:00")) < moment
        }
        if missed:
            breaches.append({"id": row.id, "channel": row.channel, "status": row.status,
                             "tracking_id": row.tracking_id, "missed": missed})
            if len(breaches) >= limit:
                break
    return breaches
