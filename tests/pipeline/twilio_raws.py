"""Twilio webhook raws as the channel stores them, and a way to put them in the archive."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from gateway.messages import RawMessage, Stored, utcnow
from gateway.storage.archive import Archive
from gateway.storage.db import Database
from tests.support.twilio_signing import form_body

PHONE = "+6281234567890"
SHORT_CODE = "+621708"


def twilio_form(sid: str, body: str, *, sender: str = PHONE, **extra: str) -> bytes:
    """The form body Twilio posts for an inbound SMS."""
    fields = {
        "ToCountry": "ID",
        "SmsMessageSid": sid,
        "NumMedia": "0",
        "SmsSid": sid,
        "SmsStatus": "received",
        "Body": body,
        "FromCountry": "ID",
        "To": SHORT_CODE,
        "NumSegments": "1",
        "MessageSid": sid,
        "AccountSid": "AC" + "a" * 32,
        "From": sender,
        "ApiVersion": "2010-04-01",
        **extra,
    }
    return form_body({key: value for key, value in fields.items() if value is not None})


def twilio_raw(
    sid: str,
    body: str = "Jalan di depan SDN 3 Cibinong rusak parah, mohon segera diperbaiki",
    *,
    sender: str = PHONE,
    event: str = "message",
    channel: str = "twilio",
    received_at: datetime | None = None,
    payload: bytes | None = None,
    meta: dict[str, str] | None = None,
) -> RawMessage:
    """A RawMessage exactly as channels/twilio.py hands it to the sink."""
    return RawMessage(
        channel=channel,
        event=event,
        external_id=sid,
        received_at=received_at or utcnow(),
        payload=twilio_form(sid, body, sender=sender) if payload is None else payload,
        meta={"signature": "valid", "sender": sender, "peer": "127.0.0.1", **(meta or {})},
    )


def numbered_raws(count: int, *, prefix: str = "SMburst") -> list[RawMessage]:
    """`count` distinct complaints from distinct reporters, received in order a millisecond apart."""
    start = utcnow() - timedelta(seconds=5)
    return [
        twilio_raw(
            f"{prefix}{index:05d}",
            f"Lampu jalan nomor {index} di Jl. Merdeka mati sejak minggu lalu",
            sender=f"+62812{index:08d}",
            received_at=start + timedelta(milliseconds=index),
        )
        for index in range(count)
    ]


async def archive_all(db: Database, raws: Iterable[RawMessage]) -> list[Stored]:
    """Store raws through the real group-commit archive, one submit each."""
    archive = Archive(db)
    try:
        return [await archive.submit(raw) for raw in raws]
    finally:
        await archive.close()
