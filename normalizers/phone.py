"""Phone numbers as one identity: 0812…, 62812…, +62812… and whatsapp:+62812… are the same reporter."""

from __future__ import annotations

import functools
import re

import phonenumbers

DEFAULT_REGION = "ID"
MIN_DIGITS = 8
MAX_DIGITS = 15
_TRANSPORT_PREFIX = re.compile(r"^(whatsapp|sms|tel|mms):", re.IGNORECASE)
_DIGITS = re.compile(r"\d+")


@functools.lru_cache(maxsize=4096)  # reporters write again: parsing a number costs more than the rest of an SMS
def to_e164(value: str, *, region: str = DEFAULT_REGION) -> str | None:
    """The number in E.164 (8 to 15 digits), or None when it is not a phone number (short code, alphanumeric)."""
    text = _TRANSPORT_PREFIX.sub("", value.strip())
    digits = "".join(_DIGITS.findall(text))
    if not digits or len(digits) > 17:
        return None
    if not text.startswith("+") and digits.startswith("62") and len(digits) >= 10:
        # Indonesian gateways often drop the plus: 62812… is +62812…, not a national number.
        text = "+" + digits
    e164 = _format(text, region)
    # E.164 allows at most 15 digits (ITU-T E.164 section 6.1); below 8, "possible" numbers are mostly short
    # codes and zeros that phonenumbers accepts for region ID ("00000" would become +6200000).
    if e164 is None or not MIN_DIGITS <= len(e164) - 1 <= MAX_DIGITS:
        return None
    # A number that reads back differently (zeros phonenumbers drops) is not one identity.
    return e164 if _format(e164, region) == e164 else None


def _format(text: str, region: str) -> str | None:
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def mask_phone(e164: str) -> str:
    """A phone number with its middle digits hidden, for logs: +62812****789."""
    if len(e164) <= 7:
        return "*" * len(e164)
    return e164[:6] + "*" * (len(e164) - 9) + e164[-3:]
