"""Complaint records for registry tests: one reporter with every kind of identity filled in."""

from __future__ import annotations

from datetime import UTC, date, datetime

from gateway.records import (
    Attachment,
    Body,
    Complaint,
    Location,
    Privacy,
    RawRef,
    Reference,
    Relation,
    ReplyRoute,
    Reporter,
    Target,
    Thread,
)

PHONE = "+6281234567890"
EMAIL = "budi.santoso@example.co.id"
NAME = "Budi Santoso"
HANDLE = "@budi_cibinong"
USER_ID = "98765432101"
IDENTITY = f"twilio:{PHONE}"
# Every string that would identify the reporter; an anonymous request must contain none of them.
IDENTIFYING = (PHONE, PHONE.removeprefix("+"), "81234567890", EMAIL, NAME, HANDLE, USER_ID, IDENTITY)
DEDUP_KEY = "dedup:6281234567890:jalan-rusak"


def complaint(
    *,
    anonim: bool = False,
    rahasia: bool = False,
    text: str = "Jalan di depan SDN 3 Cibinong rusak parah, banyak lubang, sudah tiga bulan tidak diperbaiki",
    record_id: str = "01JD0000000000000000000001",
    relation: Relation = "new",
    references: tuple[Reference, ...] = (),
) -> Complaint:
    """A complaint with a full reporter identity, location, target, attachment and thread."""
    return Complaint(
        id=record_id,
        channel="twilio",
        received_at=datetime(2026, 11, 30, 2, 15, tzinfo=UTC),
        raw=RawRef(ids=("raw-1",), sha256=("a" * 64,)),
        reporter=Reporter(identity=IDENTITY, phone=PHONE, email=EMAIL, user_id=USER_ID, handle=HANDLE, name=NAME),
        privacy=Privacy(anonim=anonim, rahasia=rahasia),
        title="Jalan di depan SDN 3 Cibinong rusak parah",
        body=Body(text=text, language="id"),
        incident_date=date(2026, 11, 28),
        location=Location(text="Jl. Raya Cibinong", latitude=-6.4817, longitude=106.8540, region_codes=("32.01",)),
        target=Target(agency="Dinas PUPR Kabupaten Bogor", category="infrastruktur"),
        attachments=(
            Attachment(
                media_type="image/jpeg",
                url="https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1",
                size=2048,
                sha256="b" * 64,
                name="lubang.jpg",
            ),
        ),
        dedup_key=DEDUP_KEY,
        thread=Thread(
            conversation_key=f"twilio:{PHONE}",
            relation=relation,
            references=references,
        ),
        reply_to=ReplyRoute(channel="twilio", address=f"whatsapp:{PHONE}", sender="whatsapp:+14155238886"),
    )
