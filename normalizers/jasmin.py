"""Jasmin MO messages (HTTP client connector parameters) to the record.

Parameters: https://docs.jasminsms.com/en/latest/apis/ja-http/ ("Receiving SMS-MO"). `content` is the
short message as the SMSC sent it (UCS-2 bytes for coding 8), `binary` the same bytes in hex; the hex
is preferred because it survives any form decoding. Jasmin reassembles long MO messages itself.
"""

from __future__ import annotations

import binascii

from channels.sms_encoding import Coding, coding_from_smpp, decode_user_data, parse_form_bytes, text_field
from gateway.errors import QuarantinedInput, UnsupportedEvent
from gateway.messages import RawMessage
from gateway.records import Ignored, Outcome
from normalizers.sms import SmsFields, normalize_sms

_DEFAULT_ALPHABETS = {"gsm7": Coding.GSM7, "latin1": Coding.LATIN1}


def _user_data(fields: dict[str, bytes]) -> bytes:
    hexed = fields.get("binary")
    if hexed:
        try:
            return binascii.unhexlify(hexed.strip())
        except (binascii.Error, ValueError):
            pass  # a broken hex copy: the content itself is still there
    content = fields.get("content")
    if content is None:
        raise QuarantinedInput("missing_field", detail="content")
    return content


def normalize(raw: RawMessage) -> Outcome:
    """A Jasmin MO message to a complaint, follow-up or Ignored; DLRs and binary SMS are Ignored."""
    if raw.event == "status":
        return Ignored(reason="delivery_status")
    if raw.event != "message":
        raise UnsupportedEvent("unsupported_event", detail=raw.event)
    fields = parse_form_bytes(raw.payload)
    sender = text_field(fields, "from")
    if not sender:
        raise QuarantinedInput("missing_field", detail="from")
    coding_text = text_field(fields, "coding") or "0"
    if not coding_text.isdigit():
        raise QuarantinedInput("malformed_field", detail="coding")
    default = _DEFAULT_ALPHABETS.get(raw.meta.get("default_alphabet", "gsm7"), Coding.GSM7)
    coding = coding_from_smpp(int(coding_text), default_alphabet=default)
    decoded = decode_user_data(_user_data(fields), coding)
    if decoded.binary:
        return Ignored(reason="binary_message", detail=f"coding={coding_text}")
    fields_out = SmsFields(sender=sender, recipient=text_field(fields, "to") or None, text=decoded.text)
    return normalize_sms(raw, fields_out)
