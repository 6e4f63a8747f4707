"""The SMS normalizer every SMS-like channel shares (Twilio, Kannel, Jasmin, SMSSync)."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.messages import RawMessage
from gateway.records import Attachment, Location, Outcome, ReplyRoute, Reporter
from normalizers.draft import MEDIA_ONLY_TITLE, Draft, build
from normalizers.phone import to_e164
from normalizers.text import clean_text, derive_title

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
    phone = to_e164(fields.sender)
    identity = phone or fields.sender.strip()
    draft = Draft(
        reporter=Reporter(identity=identity, phone=phone, name=(fields.name or None)),
        text=clean_text(fields.text),
        conversation_key=identity,
        reply_to=ReplyRoute(channel=raw.channel, address=_reply_address(fields.sender, phone), sender=fields.recipient),
        attachments=fields.attachments,
        location=fields.location,
        flags=fields.flags,
        fallback_title=_fallback_title(fields),
        commands=True,
    )
    return build(raw, draft)


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
