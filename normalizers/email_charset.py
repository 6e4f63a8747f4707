"""Decoding MIME text parts whose charset is unknown, misspelt or simply wrong."""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

# Labels mail clients write that Python does not know, or knows as a narrower charset than
# the bytes really use (gb2312 mail is routinely gbk/gb18030, ks_c_5601 is cp949).
# https://encoding.spec.whatwg.org/#names-and-labels has the same mappings for the web.
_ALIASES = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "ks_c_5601-1987": "cp949",
    "euc-kr": "cp949",
    "iso-8859-8-i": "iso-8859-8",
    "windows-874": "cp874",
    "x-mac-roman": "mac_roman",
    "unicode-1-1-utf-7": "utf-7",
    "utf8": "utf-8",
    "x-unknown": "utf-8",
    "unknown-8bit": "utf-8",
    "default": "utf-8",
}
# Labels that declare a single-byte Western charset; mail labelled so is very often UTF-8.
REPLACEMENT_RATIO = 100  # at most one broken byte in a hundred keeps the declared charset
_UTF8_SEQUENCE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")
_WESTERN = frozenset({"us-ascii", "ascii", "iso-8859-1", "latin-1", "latin1", "windows-1252", "cp1252"})


@dataclass(frozen=True, slots=True)
class Decoded:
    """Text decoded from bytes, and whether the declared charset had to be overridden."""

    text: str
    fallback: bool


def codec_for(label: str | None) -> str | None:
    """The Python codec name for a MIME charset label, or None when there is no such codec."""
    if not label:
        return None
    name = label.strip().strip("\"'").lower()
    name = _ALIASES.get(name, name)
    try:
        info = codecs.lookup(name)
    except (LookupError, ValueError):
        return None
    # base64, rot13 and friends are codecs too, but not text encodings (bytes.decode refuses them).
    return info.name if getattr(info, "_is_text_encoding", True) else None


def decode_text(data: bytes, label: str | None) -> Decoded:
    """Decode bytes with the declared charset, then UTF-8, cp1252 and Latin-1; never raises."""
    declared = codec_for(label)
    declared_western = (label or "").strip().strip("\"'").lower() in _WESTERN
    if declared_western and not data.isascii():
        # A part labelled Latin-1 or ASCII that is valid UTF-8 was almost surely mislabelled.
        try:
            return Decoded(data.decode("utf-8"), fallback=True)
        except UnicodeDecodeError:
            pass
    if declared is not None:
        try:
            return Decoded(data.decode(declared), fallback=False)
        except (UnicodeDecodeError, LookupError, ValueError):
            pass
    try:
        return Decoded(data.decode("utf-8"), fallback=label is not None)
    except UnicodeDecodeError:
        pass
    if declared is not None and (declared != "utf-8" or _UTF8_SEQUENCE.search(data)):
        # A few broken sequences in an otherwise correct part: keep the declared charset.
        # (UTF-8 without a single valid multi-byte sequence is single-byte text mislabelled.)
        try:
            text = data.decode(declared, "replace")
        except (UnicodeError, LookupError):  # stateful codecs (utf-7, idna) can still refuse
            text = ""
        if text and text.count("\ufffd") <= len(data) // REPLACEMENT_RATIO + 1:
            return Decoded(text, fallback=True)
    try:
        return Decoded(data.decode("cp1252"), fallback=True)
    except UnicodeDecodeError:
        return Decoded(data.decode("latin-1"), fallback=True)


def repair_surrogates(text: str) -> str:
    """Re-decode the raw 8-bit bytes the parser kept as surrogate escapes in a header."""
    if not any("\udc80" <= ch <= "\udcff" for ch in text):
        return text
    try:
        data = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate that is not an escaped byte
        data = text.encode("utf-8", "replace")
    return decode_text(data, None).text
