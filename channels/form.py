"""application/x-www-form-urlencoded bodies, parsed on the acknowledgement path.

The same result as `urllib.parse.parse_qsl(text, keep_blank_values=True, errors="strict")` (a property test
holds the two equal over arbitrary input), in about half the time: most provider fields carry neither
`%` nor `+` and skip unquoting altogether, and an escaped ASCII field is decoded in one pass over its bytes
(urllib's `unquote` first splits every string into ASCII and non-ASCII runs with a regular expression).
"""

from __future__ import annotations

from urllib.parse import unquote

_HEX_DIGITS = "0123456789ABCDEFabcdef"
# "%XX" in any case, as urllib.parse.unquote_to_bytes reads it; anything else after "%" stays as it is.
_ESCAPES = {(a + b).encode("ascii"): bytes.fromhex(a + b) for a in _HEX_DIGITS for b in _HEX_DIGITS}


def _unquote_plus(part: str) -> str:
    if "+" in part:
        part = part.replace("+", " ")
    if "%" not in part:
        return part
    if not part.isascii():
        return unquote(part, errors="strict")
    head, *escaped = part.encode("ascii").split(b"%")
    chunks = [head]
    for item in escaped:
        byte = _ESCAPES.get(item[:2])
        if byte is None:
            chunks += (b"%", item)
        else:
            chunks += (byte, item[2:])
    return b"".join(chunks).decode("utf-8")


def parse_form(body: bytes) -> list[tuple[str, str]]:
    """(name, value) pairs in order; UnicodeDecodeError when the body or an escaped value is not UTF-8."""
    pairs = []
    for item in body.decode("utf-8").split("&"):
        if item:
            name, _, value = item.partition("=")
            if "%" in item or "+" in item:
                name, value = _unquote_plus(name), _unquote_plus(value)
            pairs.append((name, value))
    return pairs
