"""SMS spam rules: loan offers, fake prizes, premium services, dukun services, promos, short links, USSD.

Spam is only ever *suspected*: the record keeps the flag "suspected_spam", the dispatcher holds it for an
operator, and nothing is deleted. Weights were set on the development rows named in
tests/intel/test_spam.py; the held-out rows there were not used to set them.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

SPAM_FLAG = "suspected_spam"
THRESHOLD = 1.0

# Spammers write digits for letters ("PR0M0", "C3K", "PERT4MIN4"); only inside words mixing both.
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t"})
# A word must start with a letter: "5jt" and "1hr" are amounts and units, not leetspeak.
_MIXED_WORD = re.compile(r"\b[a-z]+[0-9][a-z0-9]*\b")
_SPACE = re.compile(r"\s+")

_PHONE = r"(?:\+?62|0)8[\d \-.]{8,14}"

_CUES: tuple[tuple[str, str, float], ...] = (
    ("short_link", r"\b(?:bit\.ly|s\.id|tinyurl\.com|goo\.gl|cutt\.ly|shorturl\.at|rebrand\.ly|t\.ly|is\.gd)/", 0.6),
    ("short_link", r"\b[\w-]+\.blogspot\.com\b|\b[\w-]+\.(?:online|xyz|top|site)\b", 0.5),
    ("ussd", r"(?<![\w*])\*\d{2,4}(?:\*\d{1,6})*#", 0.6),
    ("contact", rf"\b(?:wa|whatsapp|whatsap|watsap|chat|tlp|telp|hub|cs)\b\W{{0,4}}{_PHONE}", 0.3),
    ("contact", rf"\b(?:info|inf|informasi)\b\W{{0,4}}\w{{0,8}}\W{{0,4}}{_PHONE}", 0.3),
    ("contact", r"\bminat\b", 0.4),
    ("link", r"https?://|\bwww\.", 0.3),
    ("contact", r"\bklik\w*\b|\bklick\b", 0.3),
    ("loan", r"\bpinja?m\w*|\bpnjm\w*|\bkta\b", 0.3),
    ("loan", r"\bbung\w?\b\W{0,3}(?:\d+(?:[.,]\d+)?\s?%|%)", 0.4),
    ("loan", r"\b(?:tanpa|tampa|tmpa|tnp)\s+(?:agunan|jaminan|riba|deposit)\b|\bagunan\b", 0.3),
    ("loan", r"\d+\s?(?:jt|juta)\s?(?:s/d|sd|sampai|-|hingga)\s?\d+\s?(?:jt|juta|m|milyar)", 0.4),
    ("loan", r"\b(?:ksp|koperasi)\b|\bcepat cair\b|\bcair\b|\btenor\b|\bmodal usaha\b", 0.2),
    ("loan", r"\b(?:masalah keuangan|butuh dana|dana darurat|butuh biaya|dana cepat|dana tunai)\b", 0.3),
    ("prize", r"\bhadiah\b|\bhdiah\b", 0.4),
    ("prize", r"\bpemenan\w*|\bjutawan\b|\bundian\b", 0.4),
    ("prize", r"\bcek tunai\b|\d[\d.,]{3,}\s?tunai\b", 0.4),
    ("prize", r"\b(?:sla?mt|selamat|slamat)\b", 0.2),
    ("prize", r"\b(?:kode|code|token)?\s?(?:id|pin)\b\W{0,4}[\[(]?[a-z0-9]{5,9}\b", 0.3),
    ("prize", r"\b(?:anda|no\.? anda|sim\s?card anda)\b.{0,30}"
              r"\b(?:resmi|terpilih|m\w{0,3}-?d\w?pa?t\w{0,4}|trdaftar|terdaftar)\b", 0.4),
    ("premium", r"\bbalas\s+sms\b|\bketik\s*:|\breg\s+\w+\s+ke\s+\d{3,5}\b", 0.5),
    ("premium", r"\b(?:rbt|nsp|sms premium)\b", 0.4),
    ("premium", r"/\d?\s?hr\b|/\d+\s?hari\b|\btarif\b", 0.4),
    ("premium", r"\bgratis\b", 0.2),
    ("dukun", r"\b(?:santet|pelet|pesugihan|susuk|dukun|ilmu hitam)", 0.7),
    ("promo", r"\bcuci gudang\b|\bpromo\b|\bdiskon\s+\d+\s?%", 0.4),
)
_COMPILED = tuple((category, re.compile(pattern), weight) for category, pattern, weight in _CUES)

# A citizen reporting a scam quotes it; these cues say the message is a report, not the scam itself.
_REPORT_CUES = re.compile(
    r"\b(?:penipuan|menipu|modus|melaporkan|lapor|diteror|meneror|ditagih|debt collector|resah|meresahkan"
    r"|mohon ditindak|tolong ditindak|tolong|mohon)\b",
)
_REPORT_DISCOUNT = 0.6


@dataclass(frozen=True, slots=True)
class SpamVerdict:
    """Whether a message looks like spam, its score and the cue categories that fired."""

    suspected: bool
    score: float
    cues: tuple[str, ...]


def spam_text(text: str) -> str:
    """Lower case, NFKC, leetspeak undone ("PR0M0" -> "promo"), whitespace collapsed."""
    lowered = unicodedata.normalize("NFKC", text).lower()
    lowered = _MIXED_WORD.sub(lambda m: m.group().translate(_LEET), lowered)
    return _SPACE.sub(" ", lowered)


def score_spam(text: str) -> SpamVerdict:
    """Score a message against the spam rules; `suspected` when the score reaches THRESHOLD."""
    prepared = spam_text(text)
    score = 0.0
    cues: list[str] = []
    for category, pattern, weight in _COMPILED:
        if pattern.search(prepared):
            score += weight
            if category not in cues:
                cues.append(category)
    if score and _REPORT_CUES.search(prepared):
        score -= _REPORT_DISCOUNT
        cues.append("report_cue")
    score = round(max(score, 0.0), 3)
    return SpamVerdict(suspected=score >= THRESHOLD, score=score, cues=tuple(cues))
