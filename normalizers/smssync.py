"""SMSSync posts (form fields from, message, message_id, sent_to, sent_timestamp, device_id) to the record.

Fields: https://github.com/ushahidi/SMSSync/blob/master/website-src/content/developers/index.md
The phone has already joined the parts of a long SMS and decoded its alphabet: `message` is UTF-8 text.
"""

from __future__ import annotations

from channels.sms_encoding import parse_form_bytes, text_field
from gateway.errors import QuarantinedInput, UnsupportedEvent
from gateway.messages import RawMessage
from gateway.records import Ignored, Outcome
from normalizers.sms import SmsFields, normalize_sms


def normalize(raw: RawMessage) -> Outcome:
    """A message the phone received, to a complaint, follow-up or Ignored; delivery results are Ignored."""
    if raw.event == "status":
        return Ignored(reason="delivery_status")
    if raw.event != "message":
        raise UnsupportedEvent("unsupported_event", detail=raw.event)
    form = parse_form_bytes(raw.payload)
    sender = text_field(form, "from")
    if not sender:
        raise QuarantinedInput("missing_field", detail="from")
    message = form.get("message")
    if message is None:
        raise QuarantinedInput("missing_field", detail="message")
    try:
        text = message.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise QuarantinedInput("malformed_field", detail="message is not UTF-8") from exc
    fields = SmsFields(sender=sender, recipient=text_field(form, "sent_to") or None, text=text)
    return normalize_sms(raw, fields)
