"""Kannel MO messages (get-url query or post-url body), single or reassembled from parts, to the record.

Escape codes and X-Kannel headers: https://www.kannel.org/download/1.4.5/userguide-1.4.5/userguide.html
Kannel 1.4 codings: 0 = 7-bit (text already converted to the charset %C names), 1 = 8-bit, 2 = UCS-2.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from email.message import Message

from channels.concat import ASSEMBLED_EVENT, INCOMPLETE_FLAG, PART_EVENT, assemble, is_incomplete, split_assembled
from channels.sms_encoding import Coding, decode_user_data, parse_form_bytes, text_field
from gateway.errors import QuarantinedInput, UnsupportedEvent
from gateway.messages import RawMessage
from gateway.records import Complaint, FollowUp, Ignored, Outcome, RawRef, raw_id
from normalizers.sms import SmsFields, normalize_sms

_UCS2_CHARSETS = frozenset({"UTF-16BE", "UTF-16", "UCS-2", "UCS2", "UTF16-BE"})
_BINARY_CHARSETS = frozenset({"8-BIT", "BINARY"})
# "gsm" is what Kannel 1.3 reported for 7-bit text it had already converted to Latin-1.
_LATIN1_CHARSETS = frozenset({"ISO-8859-1", "LATIN1", "ISO8859-1", "GSM", "WINDOWS-1252", "CP1252"})


@dataclass(frozen=True, slots=True)
class KannelMessage:
    """The facts of one MO request, the text still as the bytes Kannel sent."""

    sender: str
    recipient: str | None
    data: bytes
    coding: Coding


def _coding(coding: str | None, charset: str | None) -> Coding:
    name = (charset or "").strip().strip('"').upper()
    if name in _UCS2_CHARSETS or coding == "2":
        return Coding.UCS2
    if name in _BINARY_CHARSETS or coding == "1":
        return Coding.BINARY
    if name in _LATIN1_CHARSETS:
        return Coding.LATIN1
    return Coding.UTF8  # Kannel 1.4 reports UTF-8 for 7-bit text it decoded from GSM


def _content_type(value: str) -> tuple[str, str | None]:
    message = Message()
    message["Content-Type"] = value or "text/plain"
    charset = message.get_param("charset")
    return message.get_content_type(), charset if isinstance(charset, str) else None


def parse(raw: RawMessage) -> KannelMessage:
    """One stored get-url or post-url request; quarantined when the sms-service leaves out a field."""
    if raw.meta.get("method") == "POST":
        query = parse_form_bytes(raw.meta.get("query", "").encode("ascii", errors="replace"))
        content_type, charset = _content_type(raw.meta.get("content_type", ""))
        sender = raw.meta.get("x-kannel-from") or text_field(query, "from")
        recipient = raw.meta.get("x-kannel-to") or text_field(query, "to")
        coding_value = raw.meta.get("x-kannel-coding") or text_field(query, "coding")
        coding = Coding.BINARY if content_type == "application/octet-stream" else _coding(coding_value, charset)
        data: bytes | None = raw.payload
    else:
        query = parse_form_bytes(raw.payload)
        sender = text_field(query, "from", "sender")
        recipient = text_field(query, "to", "receiver")
        coding = _coding(text_field(query, "coding"), text_field(query, "charset"))
        data = query.get("text", query.get("message"))
    if not sender:
        raise QuarantinedInput("missing_field", detail="from")
    if data is None:
        raise QuarantinedInput("missing_field", detail="text")
    return KannelMessage(sender=sender, recipient=recipient or None, data=data, coding=coding)


def _with_parts(outcome: Outcome, parts: Sequence[RawMessage]) -> Outcome:
    """Point the record at every stored part, not at the assembled message no table holds."""
    refs = RawRef(ids=tuple(raw_id(p.channel, p.external_id) for p in parts), sha256=tuple(p.sha256 for p in parts))
    if isinstance(outcome, Complaint):
        return outcome.model_copy(update={"raw": refs})
    if isinstance(outcome, FollowUp):
        return outcome.model_copy(update={"record": outcome.record.model_copy(update={"raw": refs})})
    return outcome


def normalize_messages(raw: RawMessage, messages: Sequence[KannelMessage]) -> Outcome:
    """Join the user data of the parts (so a character split across parts survives), decode once."""
    first = messages[0]
    if any(message.coding is Coding.BINARY for message in messages):
        return Ignored(reason="binary_message")
    if {message.coding for message in messages} != {first.coding}:
        raise QuarantinedInput("mixed_coding_parts")
    decoded = decode_user_data(b"".join(message.data for message in messages), first.coding)
    flags = (INCOMPLETE_FLAG,) if is_incomplete(raw) else ()
    fields = SmsFields(sender=first.sender, recipient=first.recipient, text=decoded.text, flags=flags)
    return normalize_sms(raw, fields)


def normalize(raw: RawMessage) -> Outcome:
    """A Kannel MO message, or a long one reassembled from parts; delivery reports are Ignored."""
    if raw.event == "status":
        return Ignored(reason="delivery_status")
    if raw.event == PART_EVENT:
        # A part normalized on its own (replay of one file): what arrived, marked incomplete.
        assembled = assemble([raw])
        if assembled.event == PART_EVENT:  # its concatenation meta is broken
            raise QuarantinedInput("malformed_part", detail=raw.external_id)
        return normalize(assembled)
    if raw.event == ASSEMBLED_EVENT:
        parts = split_assembled(raw)
        return _with_parts(normalize_messages(raw, [parse(part) for part in parts]), parts)
    if raw.event != "message":
        raise UnsupportedEvent("unsupported_event", detail=raw.event)
    return normalize_messages(raw, [parse(raw)])
