"""Text helpers every normalizer shares: cleaning, markers, references, titles, language."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from functools import cache

from py3langid.langid import MODEL_FILE, LanguageIdentifier

from gateway.records import Privacy, Reference

TITLE_MAX = 80
LANGUAGES = ("id", "jv", "en")

# Control characters other than tab and newline carry no meaning in a complaint and break
# terminals and JSON consumers; format characters (zero-width joiners in emoji) are kept.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SPACES = re.compile(r"[ \t\u00a0]+")
_MANY_NEWLINES = re.compile(r"\n{3,}")
_PRIVACY_MARKER = re.compile(r"(?<![\w#])#(anonim|rahasia)\b", re.IGNORECASE)
# LAPOR! tracking IDs are numeric; a follow-up starts with one: "#1916449 jalan masih rusak".
_LEADING_TRACKING_ID = re.compile(r"^\s*#\s?(\d{5,10})\b[\s:,.\-]*")
# A sentence ends at ! or ?, or at a full stop after a word of four letters or more, so that
# the abbreviations of Indonesian addresses (Jl., Kel., Kec., No., RT.) do not end a title.
_SENTENCE_END = re.compile(r"(?<=[!?])\s|(?<=\w{4}\.)\s")


def clean_text(text: str) -> str:
    """Normalize line endings, drop control characters and runs of blanks; never drop words."""
    # Control characters go before NFC: one between a letter and its combining mark would otherwise keep
    # them apart until the next pass composed them, and cleaning would not be idempotent.
    text = _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = unicodedata.normalize("NFC", text)
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return _MANY_NEWLINES.sub("\n\n", "\n".join(lines)).strip()


@dataclass(frozen=True, slots=True)
class Markers:
    """What the reporter asked for with markers, and the text without them."""

    text: str
    privacy: Privacy


def extract_markers(text: str) -> Markers:
    """Take `#anonim` and `#rahasia` out of the text and turn them into privacy flags."""
    found: set[str] = set()
    # Until none is left: taking "#rahasia" out of "#rahasia#anonim" leaves a "#anonim" that now stands alone.
    while matches := {m.group(1).lower() for m in _PRIVACY_MARKER.finditer(text)}:
        found |= matches
        text = clean_text(_PRIVACY_MARKER.sub(" ", text))
    if not found:
        return Markers(text, Privacy())
    return Markers(text, Privacy(anonim="anonim" in found, rahasia="rahasia" in found))


def leading_tracking_reference(text: str) -> tuple[Reference | None, str]:
    """A leading `#<tracking id>` and the text after it, or (None, text)."""
    match = _LEADING_TRACKING_ID.match(text)
    if match is None:
        return None, text
    return Reference(kind="tracking_id", value=match.group(1)), text[match.end():].strip()


def derive_title(text: str, *, fallback: str = "Pengaduan tanpa teks", limit: int = TITLE_MAX) -> str:
    """The first sentence or line of the text, cut at a word boundary to `limit` characters."""
    first = text.strip().split("\n", 1)[0].strip()
    if not first:
        return fallback
    first = _SENTENCE_END.split(first, 1)[0].strip()
    if len(first) <= limit:
        return first
    cut = first[: limit - 1]
    if " " in cut[limit // 2 :]:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,;:-") + "…"


def _has_letters(text: str, count: int) -> bool:
    """True when the text holds at least `count` letters (stops counting there: texts can be long)."""
    for ch in text:
        if ch.isalpha():
            count -= 1
            if count == 0:
                return True
    return False


@cache
def _identifier() -> LanguageIdentifier:
    # Loaded once per process: the model takes about half a second to read.
    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(list(LANGUAGES))
    return identifier


def load_language_model() -> None:
    """Read the language model now instead of on the first message (it blocks for about half a second)."""
    _identifier()


def detect_language(text: str) -> str | None:
    """Indonesian, Javanese or English, or None when the text is too short to tell."""
    if not _has_letters(text, 8):
        return None
    language, _confidence = _identifier().classify(text)
    return str(language)


def dedup_key(*parts: str) -> str:
    """A stable key over the identity and the text, insensitive to case and spacing."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(" ".join(part.casefold().split()).encode())
        digest.update(b"\x00")
    return digest.hexdigest()[:32]
