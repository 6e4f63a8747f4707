"""Twilio SMS, MMS and WhatsApp webhooks (form bodies) into the canonical record.

Fields: https://www.twilio.com/docs/messaging/guides/webhook-request
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from gateway.errors import QuarantinedInput, UnsupportedEvent
from gateway.messages import RawMessage
from gateway.records import Attachment, Ignored, Location, Outcome
from normalizers.sms import SmsFields, normalize_sms

MAX_MEDIA = 10  # Twilio sends at most 10 media items per message


def parse_form(payload: bytes) -> dict[str, str]:
    """Decode a form body strictly; the first value of a repeated key wins."""
    try:
        text = payload.decode("utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, errors="strict", max_num_fields=500)
    except (UnicodeDecodeError, ValueError) as exc:
        raise QuarantinedInput("malformed_form_body", detail=type(exc).__name__) from exc
    form: dict[str, str] = {}
    for key, value in pairs:
        form.setdefault(key, value)
    return form


def _attachments(form: dict[str, str]) -> tuple[Attachment, ...]:
    try:
        count = min(int(form.get("NumMedia", "0") or 0), MAX_MEDIA)
    except ValueError:
        count = 0
    found = []
    for index in range(count):
        url = form.get(f"MediaUrl{index}")
        if url:
            media_type = form.get(f"MediaContentType{index}") or "application/octet-stream"
            found.append(Attachment(media_type=media_type, url=url))
    return tuple(found)


def _location(form: dict[str, str]) -> Location | None:
    # WhatsApp location messages: https://www.twilio.com/docs/whatsapp/api#location-messages
    try:
        latitude = float(form["Latitude"])
        longitude = float(form["Longitude"])
    except (KeyError, ValueError):
        return None
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        return None
    text = " ".join(part for part in (form.get("Label"), form.get("Address")) if part) or None
    return Location(text=text, latitude=latitude, longitude=longitude)


def normalize(raw: RawMessage) -> Outcome:
    """A Twilio message webhook to a complaint, follow-up or Ignored; status callbacks are Ignored."""
    if raw.event == "status":
        return Ignored(reason="delivery_status")
    if raw.event != "message":
        raise UnsupportedEvent("unsupported_event", detail=raw.event)
    form = parse_form(raw.payload)
    sender = form.get("From", "").strip()
    if not sender:
        raise QuarantinedInput("missing_field", detail="From")
    if not (form.get("MessageSid") or form.get("SmsSid")):
        raise QuarantinedInput("missing_field", detail="MessageSid")
    flags = ("signature_unverified",) if raw.meta.get("signature") == "invalid" else ()
    fields = SmsFields(
        sender=sender,
        recipient=form.get("To") or None,
        text=form.get("Body", ""),
        name=form.get("ProfileName") or None,
        attachments=_attachments(form),
        location=_location(form),
        flags=flags,
    )
    return normalize_sms(raw, fields)
