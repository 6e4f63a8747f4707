"""What the reporter is told, in Bahasa Indonesia: short, one GSM-7 SMS segment, no personal data."""

from __future__ import annotations

from channels.sms_encoding import GSM7_SINGLE as SEGMENT_GSM7
from channels.sms_encoding import gsm7_septets as gsm7_length


def _fits(text: str) -> bool:
    length = gsm7_length(text)
    return length is not None and length <= SEGMENT_GSM7


def acknowledgement(tracking_id: str, *, follow_up: bool = False, ask_kelurahan: bool = False) -> str:
    """The reply once the registry has given a tracking ID; always one GSM-7 segment.

    `ask_kelurahan`: no kelurahan could be resolved from the text, so the reporter is asked to reply
    with it; the `#<tracking id>` prefix makes that reply a follow-up of this complaint.
    """
    if follow_up:
        candidates = [
            f"LAPOR!: Tambahan info utk laporan #{tracking_id} sudah diteruskan. Terima kasih. Pantau di lapor.go.id"
        ]
    elif ask_kelurahan:
        candidates = [
            f"LAPOR!: Laporan Anda diterima, nomor #{tracking_id}. Mohon balas dgn awalan #{tracking_id} "
            f"dan nama kelurahan lokasi masalah. Pantau di lapor.go.id",
            f"LAPOR!: Laporan #{tracking_id} diterima. Balas #{tracking_id} + nama kelurahan lokasinya",
        ]
    else:
        candidates = [
            f"LAPOR!: Laporan Anda diterima, nomor #{tracking_id}. Pantau di lapor.go.id. "
            f"Utk menambah info, balas dgn awalan #{tracking_id}"
        ]
    for text in candidates:
        if _fits(text):
            return text
    return f"LAPOR!: Laporan Anda diterima, nomor #{tracking_id}. Pantau di lapor.go.id"


def subject(tracking_id: str, title: str) -> str:
    """The subject of an e-mail reply; `[LAPOR #id]` lets a reply thread back to the complaint."""
    return f"[LAPOR #{tracking_id}] {title}"[:200]
