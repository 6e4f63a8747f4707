"""The SMS normalizer every SMS-like channel shares (Twilio, Kannel, Jasmin, SMSSync)."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.lifecycle.optout import command_of
from gateway.messages import RawMessage
from gateway.records import (
    Attachment,
    Body,
    Complaint,
    FollowUp,
    Ignored,
    Location,
    Outcome,
    RawRef,
    ReplyRoute,
    Reporter,
    Thread,
    raw_id,
    record_id,
)
from normalizers.phone import to_e164
from normalizers.text import (
    clean_text,
    dedup_key,
    derive_title,
    detect_language,
    extract_markers,
    leading_tracking_reference,
)

MEDIA_ONLY_TITLE = "Laporan dengan lampiran"
LOCATION_ONLY_TITLE = "Laporan lokasi"


@dataclass(frozen=True, slots=True)
class SmsFields:
    """What an SMS-like channel extracted from its transport format."""

    sender: str
    text: str
    recipient: str | None = None
    name: str | None = None
    attachments: tuple[Attachment, ...] = ()
    location: Location | None = None
    flags: tuple[str, ...] = ()


def normalize_sms(raw: RawMessage, fields: SmsFields) -> Outcome:
    """Turn one SMS-like message into a complaint, a follow-up, or an explicit Ignored."""
    text = clean_text(fields.text)
    phone = to_e164(fields.sender)
    identity = phone or fields.sender.strip()
    if not fields.attachments and fields.location is None:
        if not text:
            return Ignored(reason="empty_message")
        # STOP/BERHENTI, MULAI, YA: one list of commands, in gateway/lifecycle/optout.py.
        command = command_of(text)
        if command is not None:
            # The whole text is kept: "YA #1234" consents to that complaint only.
            return Ignored(reason=command, detail=text, identity=identity)

    reference, text = leading_tracking_reference(text)
    markers = extract_markers(text)
    text = markers.text
    reporter = Reporter(identity=identity, phone=phone, name=(fields.name or None))
    references = (reference,) if reference else ()
    record = Complaint(
        id=record_id(raw.channel, raw.external_id, raw.received_at),
        channel=raw.channel,
        received_at=raw.received_at,
        raw=RawRef(ids=(raw_id(raw.channel, raw.external_id),), sha256=(raw.sha256,)),
        reporter=reporter,
        privacy=markers.privacy,
        title=derive_title(text, fallback=_fallback_title(fields)),
        body=Body(text=text, language=detect_language(text)),
        location=fields.location,
        attachments=fields.attachments,
        dedup_key=dedup_key(identity, text),
        thread=Thread(conversation_key=identity, references=references),
        reply_to=ReplyRoute(channel=raw.channel, address=_reply_address(fields.sender, phone), sender=fields.recipient),
        flags=fields.flags,
    )
    if reference is not None:
        return FollowUp(references=references, record=record)
    return record


def _fallback_title(fields: SmsFields) -> str:
    """A title for a message without text: its shared location, or its attachments."""
    if fields.location is not None and not fields.attachments:
        place = fields.location.text
        return derive_title(f"{LOCATION_ONLY_TITLE}: {place}") if place else LOCATION_ONLY_TITLE
    return MEDIA_ONLY_TITLE


def _reply_address(sender: str, phone: str | None) -> str:
    """Reply in E.164, but keep a transport prefix such as Twilio's `whatsapp:` that routes the reply."""
    if ":" in sender or phone is None:
        return sender.strip()
    return phone
