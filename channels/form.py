"""application/x-www-form-urlencoded bodies, parsed on the acknowledgement path.

The same result as `urllib.parse.parse_qsl(text, keep_blank_values=True, errors="strict")` (a property test
holds the two equal over arbitrary input), in about half the time: most provider fields carry neither
`%` nor `+`, and those skip unquoting altogether.
"""

from __future__ import annotations

from urllib.parse import unquote


def _unquote_plus(part: str) -> str:
    if "+" in part or "%" in part:
        return unquote(part.replace("+", " "), errors="strict")
    return part


def parse_form(body: bytes) -> list[tuple[str, str]]:
    """(name, value) pairs in order; UnicodeDecodeError when the body or an escaped value is not UTF-8."""
    pairs = []
    for item in body.decode("utf-8").split("&"):
        if item:
            name, _, value = item.partition("=")
            pairs.append((_unquote_plus(name), _unquote_plus(value)))
    return pairs
