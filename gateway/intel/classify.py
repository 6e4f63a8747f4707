"""Class of a complaint by transparent rules: question cues, suggestion cues, otherwise pengaduan.

A reporter's own marker (#aspirasi, #info) wins over every rule.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from gateway.intel.matching import MatchText
from gateway.records import Classification

_MARKER = re.compile(r"(?<![\w#])#(aspirasi|usulan|saran|info|informasi|tanya|pengaduan|aduan)\b", re.IGNORECASE)
_MARKER_CLASS: dict[str, Classification] = {
    "aspirasi": "aspirasi",
    "usulan": "aspirasi",
    "saran": "aspirasi",
    "info": "permintaan_informasi",
    "informasi": "permintaan_informasi",
    "tanya": "permintaan_informasi",
    "pengaduan": "pengaduan",
    "aduan": "pengaduan",
}

# Cues run on the formal tokens (see matching.py), so "gmn" already reads "bagaimana".
_CUES: dict[Classification, tuple[tuple[re.Pattern[str], float], ...]] = {
    "permintaan_informasi": tuple((re.compile(p), w) for p, w in (
        (r"\b(?:apakah|bagaimana cara|bagaimana prosedur|berapa|kapan|dimana|di mana)\b", 0.8),
        (r"\b(?:mohon info\w*|minta info\w*|ingin tahu|ingin menanyakan|mau tanya|ingin bertanya|tanya)\b", 1.0),
        (r"\b(?:syarat\w*|prosedur|cara (?:daftar|mendaftar|mengurus|membuat|mengajukan)|jadwal|biaya)\b", 0.6),
        (r"\b(?:informasi|info)\b", 0.4),
    )),
    "aspirasi": tuple((re.compile(p), w) for p, w in (
        (r"\b(?:usul\w*|mengusulkan|saran\w*|menyarankan|sebaiknya|alangkah baiknya|akan lebih baik)\b", 1.2),
        (r"\b(?:harap dipertimbangkan|mohon dipertimbangkan|bagaimana kalau|semoga ke depan|ke depannya)\b", 0.8),
        (r"\b(?:mohon dibangun|perlu dibangun|perlu ditambah|mohon ditambah|mohon diadakan|perlu diadakan)\b", 0.6),
    )),
    "pengaduan": tuple((re.compile(p), w) for p, w in (
        (r"\b(?:rusak|mati|padam|berlubang|lubang|jebol|mampet|tersumbat|banjir|bocor|menumpuk|bau|macet)\b", 0.9),
        (r"\b(?:pungli|pungutan|dipersulit|lambat|kecewa|ditolak|tidak dilayani|tidak ada tindak lanjut|belum)\b", 0.7),
        (r"\b(?:sudah \d+ (?:hari|minggu|bulan)|berhari hari|berminggu minggu|berbulan bulan)\b", 0.6),
        (r"\b(?:mengganggu|meresahkan|membahayakan|bahaya|liar|tidak keluar|tidak mengalir|keruh)\b", 0.6),
    )),
}
_QUESTION_MARK = 0.5
_PRIOR_PENGADUAN = 0.5


@dataclass(frozen=True, slots=True)
class ClassResult:
    """The class, how sure, who decided, and which cues fired."""

    value: Classification
    confidence: float
    decided_by: Literal["rule", "reporter"]
    cues: tuple[str, ...]


def reporter_marker(text: str) -> Classification | None:
    """The class the reporter asked for with #aspirasi / #info (and their synonyms), if any."""
    match = _MARKER.search(text)
    return _MARKER_CLASS[match.group(1).lower()] if match else None


def classify(text: str, matched: MatchText) -> ClassResult:
    """Classify a message: the reporter's marker first, then weighted cue rules."""
    marker = reporter_marker(text)
    if marker is not None:
        return ClassResult(value=marker, confidence=1.0, decided_by="reporter", cues=("marker",))
    scores: dict[Classification, float] = {"pengaduan": _PRIOR_PENGADUAN, "aspirasi": 0.0, "permintaan_informasi": 0.0}
    cues: list[str] = []
    for klass, patterns in _CUES.items():
        for pattern, weight in patterns:
            found = pattern.search(matched.text)
            if found:
                scores[klass] += weight
                cues.append(f"{klass}:{found.group()}")
    if "?" in text:
        scores["permintaan_informasi"] += _QUESTION_MARK
        cues.append("permintaan_informasi:?")
    ranked = sorted(scores.items(), key=lambda item: item[1], reverse=True)
    (best, top), (_, second) = ranked[0], ranked[1]
    # Margin-based confidence: a clear winner approaches 0.95, a tie sits at 0.5.
    confidence = round(min(0.95, 0.5 + 0.45 * (top - second) / max(top, 1e-9)), 3)
    return ClassResult(value=best, confidence=confidence, decided_by="rule", cues=tuple(cues))
