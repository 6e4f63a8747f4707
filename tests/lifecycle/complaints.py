"""A builder of complaint records for lifecycle tests."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from gateway.records import Body, Complaint, External, Location, Privacy, RawRef, ReplyRoute, Reporter

MakeComplaint = Callable[..., Complaint]


def build_complaint(
    *,
    id: str = "01JCOMPLAINT0000000000001",
    channel: str = "twilio",
    received_at: datetime,
    text: str = "Jalan di depan SDN 3 Cibinong rusak parah, banyak lubang, sudah tiga bulan tidak diperbaiki",
    phone: str | None = "+6281234567890",
    email: str | None = None,
    identity: str | None = None,
    name: str | None = "Budi Santoso",
    tracking_id: str | None = "1916449",
    status: str = "baru",
    region_codes: tuple[str, ...] = (),
    public: bool = False,
    reply: bool = True,
    anonim: bool = False,
    rahasia: bool = False,
    **extra: Any,
) -> Complaint:
    """A filed complaint with the fields the lifecycle reads."""
    address = phone or email or "someone"
    return Complaint(
        id=id,
        channel=channel,
        received_at=received_at,
        raw=RawRef(ids=("raw1",), sha256=("0" * 64,)),
        reporter=Reporter(identity=identity or address, phone=phone, email=email, name=name),
        privacy=Privacy(anonim=anonim, rahasia=rahasia),
        title=text[:40],
        body=Body(text=text, language="id"),
        location=Location(text="Cibinong", region_codes=region_codes) if region_codes else None,
        dedup_key=f"{channel}:{id}",
        reply_to=ReplyRoute(channel=channel, address=address, public=public) if reply else None,
        external=External(tracking_id=tracking_id),
        status=status,
        **extra,
    )
