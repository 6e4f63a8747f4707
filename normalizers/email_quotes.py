"""Trimming quoted replies, forwarded originals and signatures from a plain-text email body."""

from __future__ import annotations

import re

# "On Mon, 1 Jan 2024 at 10:00, Budi <budi@example.id> wrote:" and its Indonesian forms
# ("Pada Sen, 1 Jan 2024 ... menulis:"); clients wrap it over two lines, so it is matched on
# a line joined with the next one.
_ATTRIBUTION = re.compile(
    r"^(on\b.{0,200}\bwrote|pada\b.{0,200}\bmenulis|.{0,200}\b(wrote|menulis|schrieb|a écrit))\s*:\s*$",
    re.IGNORECASE,
)
_SEPARATOR = re.compile(
    r"^\s*(-{2,}\s*(original message|pesan asli|forwarded message|pesan yang diteruskan|pesan terusan)"
    r"\s*-{2,}|_{10,}|-{10,})\s*$",
    re.IGNORECASE,
)
# Outlook's reply header block: "From: ..." followed within a few lines by "Sent:"/"Date:".
_OUTLOOK_FROM = re.compile(r"^\s*\*?(from|dari)\s*:\*?\s", re.IGNORECASE)
_OUTLOOK_NEXT = re.compile(r"^\s*\*?(sent|date|tanggal|dikirim|to|kepada|subject|subjek)\s*:\*?\s", re.IGNORECASE)
_SIGNATURE = re.compile(r"^-- ?$")
_MOBILE_FOOTER = re.compile(
    r"^\s*(sent from my|sent from (yahoo|outlook|mail)|get outlook for|dikirim dari|terkirim dari)\b",
    re.IGNORECASE,
)
FOOTER_WINDOW = 4  # a mobile footer is only cut when it is among the last lines


def trim_reply(text: str) -> str:
    """The author's own words: no quoted original, no forwarded block, no signature.

    Never returns an empty string for a non-empty input: a message that is all quote keeps
    its text, since something must become the complaint body.
    """
    lines = text.split("\n")
    cut = _quote_start(lines)
    kept = lines[:cut]
    kept = _drop_signature(kept)
    while kept and (not kept[-1].strip() or kept[-1].lstrip().startswith(">")):
        kept.pop()
    trimmed = "\n".join(kept).strip()
    return trimmed or text.strip()


def _quote_start(lines: list[str]) -> int:
    """Index of the first line of a quoted or forwarded original, or len(lines)."""
    for index, line in enumerate(lines):
        stripped = line.strip()
        if not stripped:
            continue
        joined = stripped + " " + (lines[index + 1].strip() if index + 1 < len(lines) else "")
        if _SEPARATOR.match(stripped):
            return index
        if _ATTRIBUTION.match(stripped) or (
            stripped.lower().startswith(("on ", "pada ")) and _ATTRIBUTION.match(joined)
        ):
            return index
        if _OUTLOOK_FROM.match(stripped) and any(
            _OUTLOOK_NEXT.match(following) for following in lines[index + 1 : index + 4]
        ):
            return index
        if stripped.startswith(">") and all(
            not rest.strip() or rest.lstrip().startswith(">") for rest in lines[index:]
        ):
            return index
    return len(lines)


def _drop_signature(lines: list[str]) -> list[str]:
    """Lines before the `-- ` signature delimiter and before a trailing mobile footer."""
    for index in range(len(lines) - 1, -1, -1):
        if _SIGNATURE.match(lines[index]) and index > 0:
            lines = lines[:index]
            break
    tail_start = max(0, len(lines) - FOOTER_WINDOW)
    for index in range(tail_start, len(lines)):
        if _MOBILE_FOOTER.match(lines[index]) and index > 0:
            return lines[:index]
    return lines
