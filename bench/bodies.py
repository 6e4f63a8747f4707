"""Realistic Twilio webhook bodies and their signatures, made before any clock starts."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from urllib.parse import urlencode

# The fields Twilio posts for an inbound SMS (https://www.twilio.com/docs/messaging/guides/webhook-request),
# so the gateway parses and stores bodies of the real size (about 450 bytes), not toy ones.
_TEMPLATE: dict[str, str] = {
    "ToCountry": "ID", "ToState": "", "SmsMessageSid": "", "NumMedia": "0", "ToCity": "", "FromZip": "",
    "SmsSid": "", "FromState": "", "SmsStatus": "received", "FromCity": "", "FromCountry": "ID",
    "To": "+621708", "ToZip": "", "NumSegments": "1", "AccountSid": "AC" + "b" * 32,
    "ApiVersion": "2010-04-01", "MessageSid": "", "From": "", "Body": "",
}

TEXTS = (
    "min jalan d dpn rmh sy rusak bgt \U0001F62D udh 3 bln gk dibenerin, tlg dong \U0001F64F",
    "Lampu penerangan jalan di Jl. Merdeka No. 12 RT 03 RW 05 mati sejak seminggu. Mohon diperbaiki.",
    "Sampah menumpuk di pasar Kec. Cibeunying, bau sekali dan banyak lalat #anonim",
    "#1916449 jalan masih rusak, belum ada perbaikan sama sekali",
    "Pelayanan KTP elektronik di kantor Disdukcapil lambat, antre dari jam 7 sampai jam 2 siang!",
    "Air PDAM tidak mengalir sudah 4 hari di perumahan Griya Asri blok C #rahasia",
    "The street light in front of the school has been broken for two weeks, please fix it.",
    "Dalan neng ngarep omahku rusak parah, akeh bolongan, mbebayani kanggo sing numpak motor",
)


def sid(prefix: str, index: int) -> str:
    """A MessageSid-shaped id (34 characters), unique per prefix and index."""
    return f"SM{prefix}{index:0{32 - len(prefix)}d}"


def sender_number(index: int) -> str:
    """An Indonesian mobile number in E.164, distinct for each index below 10^8."""
    return f"+62812{index:08d}"


def sms_fields(message_sid: str, sender: str, text: str) -> dict[str, str]:
    """The form fields Twilio posts for one inbound SMS."""
    return {**_TEMPLATE, "SmsMessageSid": message_sid, "SmsSid": message_sid, "MessageSid": message_sid,
            "From": sender, "Body": text}


def sms_body(message_sid: str, sender: str, text: str) -> bytes:
    """A form body as Twilio posts it for one inbound SMS."""
    return urlencode(sms_fields(message_sid, sender, text)).encode()


def sign(token: str, url: str, fields: Mapping[str, str]) -> str:
    """X-Twilio-Signature (HMAC-SHA1 of the URL and the sorted parameters), as the twilio library computes it."""
    payload = url + "".join(key + fields[key] for key in sorted(fields))
    digest = hmac.new(token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def signed_request(token: str, url: str, fields: Mapping[str, str]) -> tuple[bytes, dict[str, str]]:
    """The body and headers of a signed webhook carrying `fields`."""
    headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": sign(token, url, fields)}
    return urlencode(dict(fields)).encode(), headers
