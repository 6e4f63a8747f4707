"""SMS alphabets: GSM-7 or UCS-2 for a text, segment counts, and decoding what gateways hand over.

GSM 03.38 default alphabet and extension table: https://en.wikipedia.org/wiki/GSM_03.38
Segment sizes (160/153 septets, 70/67 UCS-2 units): 3GPP TS 23.040 §9.2.3.24.1.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import unquote_to_bytes

# The default alphabet in code order: the index of a character is its septet value (0x1B is the escape).
GSM7_TABLE = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_ESCAPE = 0x1B
# Characters reached through the escape septet, by their second septet.
GSM7_EXTENSION = {0x0A: "\f", 0x14: "^", 0x28: "{", 0x29: "}", 0x2F: "\\", 0x3C: "[", 0x3D: "~", 0x3E: "]",
                  0x40: "|", 0x65: "€"}

_BASIC = {char: code for code, char in enumerate(GSM7_TABLE) if code != GSM7_ESCAPE}
_EXTENDED = {char: code for code, char in GSM7_EXTENSION.items()}

GSM7_SINGLE = 160
GSM7_MULTI = 153  # 7 septets go to the concatenation header
UCS2_SINGLE = 70
UCS2_MULTI = 67
ELLIPSIS_GSM7 = "..."
ELLIPSIS_UCS2 = "…"


class Alphabet(StrEnum):
    """The two alphabets a text SMS is sent in."""

    GSM7 = "gsm7"
    UCS2 = "ucs2"


def is_gsm7(text: str) -> bool:
    """True when every character has a GSM-7 septet (basic or extension table)."""
    return all(char in _BASIC or char in _EXTENDED for char in text)


def gsm7_septets(text: str) -> int | None:
    """Septets the text needs in GSM-7 (extension characters take two), or None when it needs UCS-2."""
    return sum(_units(text, Alphabet.GSM7)) if is_gsm7(text) else None


def alphabet_for(text: str) -> Alphabet:
    """GSM-7 where the text allows it, UCS-2 only when a character needs it."""
    return Alphabet.GSM7 if is_gsm7(text) else Alphabet.UCS2


def _units(text: str, alphabet: Alphabet) -> list[int]:
    """The size of each character: septets in GSM-7, UTF-16 code units in UCS-2."""
    if alphabet is Alphabet.GSM7:
        return [2 if char in _EXTENDED else 1 for char in text]
    return [2 if ord(char) > 0xFFFF else 1 for char in text]


def segment_count(text: str, alphabet: Alphabet | None = None) -> int:
    """How many SMS segments the text takes; an escape pair or surrogate pair is never split."""
    alphabet = alphabet or alphabet_for(text)
    single, multi = (GSM7_SINGLE, GSM7_MULTI) if alphabet is Alphabet.GSM7 else (UCS2_SINGLE, UCS2_MULTI)
    units = _units(text, alphabet)
    if sum(units) <= single:
        return 1
    segments, used = 1, 0
    for size in units:
        if used + size > multi:
            segments, used = segments + 1, 0
        used += size
    return segments


def fit_one_segment(text: str) -> str:
    """The text cut at a word boundary, with an ellipsis, so that it fits one segment of its alphabet."""
    alphabet = alphabet_for(text)
    if segment_count(text, alphabet) == 1:
        return text
    limit = GSM7_SINGLE if alphabet is Alphabet.GSM7 else UCS2_SINGLE
    ellipsis = ELLIPSIS_GSM7 if alphabet is Alphabet.GSM7 else ELLIPSIS_UCS2
    budget = limit - sum(_units(ellipsis, alphabet))
    kept, used = [], 0
    for char, size in zip(text, _units(text, alphabet), strict=True):
        if used + size > budget:
            break
        kept.append(char)
        used += size
    cut = "".join(kept)
    if " " in cut[len(cut) // 2 :]:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,;:-") + ellipsis


def decode_gsm7_unpacked(data: bytes) -> str:
    """Septets one per octet (as SMPP and HTTP gateways carry them) to text; unknown escapes become a space."""
    out: list[str] = []
    escaped = False
    for octet in data:
        septet = octet & 0x7F
        if escaped:
            out.append(GSM7_EXTENSION.get(septet, " "))
            escaped = False
        elif septet == GSM7_ESCAPE:
            escaped = True
        else:
            out.append(GSM7_TABLE[septet])
    return "".join(out)


def decode_ucs2(data: bytes) -> str:
    """UTF-16BE (UCS-2 as phones really send it, surrogate pairs included); a stray odd byte is replaced."""
    return data.decode("utf-16-be", errors="replace")


class Coding(StrEnum):
    """What the user data of an SMS holds, as the gateway's data coding value says."""

    GSM7 = "gsm7"
    LATIN1 = "latin1"
    ASCII = "ascii"
    UTF8 = "utf8"
    UCS2 = "ucs2"
    BINARY = "binary"


@dataclass(frozen=True, slots=True)
class Decoded:
    """User data turned into text, or marked binary (a WAP push, an OTA configuration)."""

    text: str
    binary: bool = False


def decode_user_data(data: bytes, coding: Coding) -> Decoded:
    """Decode SMS user data of a known coding; binary data is kept out of the text."""
    if coding is Coding.BINARY:
        return Decoded(text="", binary=True)
    if coding is Coding.UCS2:
        return Decoded(decode_ucs2(data))
    if coding is Coding.GSM7:
        return Decoded(decode_gsm7_unpacked(data))
    if coding is Coding.UTF8:
        return Decoded(data.decode("utf-8", errors="replace"))
    if coding is Coding.ASCII:
        return Decoded(data.decode("ascii", errors="replace"))
    return Decoded(data.decode("latin-1"))


def coding_from_smpp(data_coding: int, *, default_alphabet: Coding = Coding.GSM7) -> Coding:
    """SMPP 3.4 data_coding (§5.2.19) to a coding; 0 is the SMSC default alphabet, which the SMSC chooses."""
    if data_coding == 0:
        return default_alphabet
    if data_coding == 1:
        return Coding.ASCII
    if data_coding in (3, 6, 7, 10, 13, 14):  # ISO-8859-1 and other one-byte Latin sets, read as Latin-1
        return Coding.LATIN1
    if data_coding == 8:
        return Coding.UCS2
    if data_coding in (2, 4, 9):
        return Coding.BINARY
    # DCS general group (0x00-0x3F) and message class group (0xF0-0xFF): bits 2-3 give the alphabet.
    group = data_coding >> 4
    if group <= 0x3 or group == 0xF:
        alphabet_bits = (data_coding >> 2) & 0x3
        if group == 0xF:
            alphabet_bits &= 0x1
        return {0: default_alphabet, 1: Coding.BINARY, 2: Coding.UCS2}.get(alphabet_bits, Coding.BINARY)
    if group in (0xC, 0xD):  # message waiting indication, default alphabet
        return default_alphabet
    if group == 0xE:  # message waiting indication, UCS-2
        return Coding.UCS2
    return Coding.BINARY


def parse_form_bytes(data: bytes) -> dict[str, bytes]:
    """A query string or form body with values kept as bytes (UCS-2 and binary arrive percent-encoded).

    The first value of a repeated key wins; '+' is a space, as in application/x-www-form-urlencoded.
    """
    fields: dict[str, bytes] = {}
    for pair in data.split(b"&"):
        if not pair:
            continue
        name, _, value = pair.partition(b"=")
        key = unquote_to_bytes(name.replace(b"+", b" ")).decode("utf-8", errors="replace")
        fields.setdefault(key, unquote_to_bytes(value.replace(b"+", b" ")))
    return fields


def without_params(data: bytes, names: frozenset[str]) -> bytes:
    """The query string or form body with the named parameters (a secret) taken out, the rest byte for byte."""
    kept = []
    for pair in data.split(b"&"):
        name = unquote_to_bytes(pair.partition(b"=")[0].replace(b"+", b" ")).decode("utf-8", errors="replace")
        if pair and name not in names:
            kept.append(pair)
    return b"&".join(kept)


def text_field(fields: dict[str, bytes], *names: str) -> str | None:
    """The first present field of `names` as UTF-8 text (addresses, ids, numbers), stripped; None if absent."""
    for name in names:
        value = fields.get(name)
        if value is not None:
            return value.decode("utf-8", errors="replace").strip()
    return None
