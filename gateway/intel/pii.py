"""Personal data in free text: NIK/KK, phone numbers, emails and bank account numbers.

`mask_pii` is for logs and admin listings (last digits kept so an admin can tell records apart);
`placeholder_pii` is for anything public (a reply on X, a public comment) and keeps nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, MutableMapping
from typing import Literal

PiiKind = Literal["email", "nik", "phone", "bank_account", "number"]

_SEP = r"[ .\-]"
# One pass, alternatives in priority order; each alternative is bounded by non-digits on both sides
# so it can never end inside a longer digit run and leave part of it unmasked.
_PII = re.compile(
    r"(?P<email>[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+)"
    rf"|(?P<nik>(?<!\d)(?:\d{_SEP}?){{15}}\d(?!\d))"
    rf"|(?P<phone>(?<![\w+])(?:\+62{_SEP}?|62|0)8\d{{1,3}}(?:{_SEP}?\d{{2,5}}){{1,3}}(?!\d)"
    rf"|\(0\d{{2,3}}\){_SEP}?\d{{3,4}}{_SEP}?\d{{3,4}}(?!\d))"
    r"|(?:(?i:no\.?\s*rek(?:ening)?|norek|rekening|rek|a/n|bca|bri|bni|mandiri|bsi|btn|bjb)\W{0,6})"
    rf"(?P<bank_account>\d(?:\d|{_SEP}(?=\d)){{6,22}}\d(?!\d))"
    r"|(?P<number>(?<!\d)\d{10,}(?!\d))",
)
_DIGIT = re.compile(r"\d")

PLACEHOLDERS: dict[PiiKind, str] = {
    "email": "[email]",
    "nik": "[NIK]",
    "phone": "[nomor telepon]",
    "bank_account": "[nomor rekening]",
    "number": "[nomor]",
}


_KINDS: tuple[PiiKind, ...] = ("email", "nik", "phone", "bank_account", "number")


def _kind(match: re.Match[str]) -> PiiKind:
    for kind in _KINDS:
        if match.group(kind) is not None:
            return kind
    raise AssertionError("the PII pattern matched without a group")


def _keep_last_digits(value: str, keep: int) -> str:
    total = len(_DIGIT.findall(value))
    seen = 0

    def star(m: re.Match[str]) -> str:
        nonlocal seen
        seen += 1
        return m.group() if seen > total - keep else "*"

    return _DIGIT.sub(star, value)


def _mask_value(kind: PiiKind, value: str) -> str:
    if kind == "email":
        local, _, domain = value.partition("@")
        return f"{local[:1]}***@{domain}"
    return _keep_last_digits(value, 4 if kind != "phone" else 3)


def _substitute(text: str, render: Callable[[PiiKind, str], str]) -> str:
    def replace(match: re.Match[str]) -> str:
        kind = _kind(match)
        value = match.group(kind)
        start, end = match.span(kind)
        whole_start = match.start()
        # The bank alternative also matches its cue ("rek", "BCA"); the cue itself stays readable.
        return match.group()[: start - whole_start] + render(kind, value) + match.group()[end - whole_start :]

    return _PII.sub(replace, text)


def mask_pii(text: str) -> str:
    """Mask personal data for logs and admin listings, keeping the last few digits."""
    return _substitute(text, _mask_value)


def placeholder_pii(text: str) -> str:
    """Replace personal data with placeholders such as "[NIK]" for anything public."""
    return _substitute(text, lambda kind, _value: PLACEHOLDERS[kind])


def find_pii(text: str) -> list[tuple[PiiKind, str]]:
    """The personal data found in a text, as (kind, value) pairs, for tests and counting."""
    return [(_kind(m), m.group(_kind(m))) for m in _PII.finditer(text)]


def redact_log_event(
    _logger: object, _method: str, event_dict: MutableMapping[str, object],
) -> MutableMapping[str, object]:
    """A structlog processor that masks personal data in every string value of a log event."""
    for key, value in event_dict.items():
        if isinstance(value, str):
            event_dict[key] = mask_pii(value)
    return event_dict
