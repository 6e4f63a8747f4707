"""Short Bahasa Indonesia updates to the reporter; public-channel versions carry no personal data.

Every text without an excerpt fits one GSM-7 SMS segment (160 characters). Public versions never
quote the agency's answer (it may name the reporter); they only say that something happened.
Ombudsman RI facts: complaints at https://ombudsman.go.id, call centre 137.
"""

from __future__ import annotations

from enum import StrEnum

OMBUDSMAN_CONTACT = "ombudsman.go.id atau telepon 137"
EXCERPT_CHARS = 120


class UpdateKind(StrEnum):
    """The kinds of lifecycle messages; also the `kind` of the outgoing reply."""

    RESPONDED = "agency_responded"
    CLOSED = "closed"
    REJECTED = "rejected"
    ESCALATION_OFFER = "escalation_offer"
    # At most 16 characters: the reply outbox's `kind` column.
    ESCALATION_CONFIRMED = "escalation_yes"
    OPTED_OUT = "opted_out"
    OPTED_IN = "opted_in"


def _excerpt(text: str) -> str:
    flat = " ".join(text.split()).replace('"', "'")
    return flat if len(flat) <= EXCERPT_CHARS else flat[: EXCERPT_CHARS - 3].rstrip() + "..."


def agency_responded(tracking_id: str, *, public: bool, excerpt: str | None = None) -> str:
    """The agency answered; private channels may quote the start of the answer."""
    if public or not excerpt or not excerpt.strip():
        return f"Laporan #{tracking_id} sudah ditanggapi instansi. Balas pesan ini bila masalahnya belum selesai."
    return (
        f'Laporan #{tracking_id} ditanggapi instansi: "{_excerpt(excerpt)}" '
        "Balas pesan ini bila belum selesai, STOP untuk berhenti."
    )


def closed(tracking_id: str, *, public: bool) -> str:
    """The registry closed the complaint."""
    del public  # the same text everywhere: it names nobody
    return f"Laporan #{tracking_id} sudah selesai dan ditutup. Terima kasih telah melapor."


def rejected(tracking_id: str) -> str:
    """The registry archived the complaint without processing it."""
    return (
        f"Laporan #{tracking_id} tidak dapat diproses lebih lanjut. Kirim laporan baru dengan keterangan lebih lengkap."
    )


def escalation_offer(tracking_id: str, *, days: int, public: bool) -> str:
    """The resolution deadline passed: the reporter may go to Ombudsman RI, and how."""
    del public  # no personal data in it; the YA answer works on every channel
    return (
        f"Laporan #{tracking_id} belum selesai setelah {days} hari. Anda dapat mengadu ke Ombudsman RI: "
        f"{OMBUDSMAN_CONTACT}. Balas YA bila setuju kami teruskan."
    )


def escalation_confirmed(tracking_id: str) -> str:
    """The reporter said YA: the complaint will go to Ombudsman RI."""
    return f"Terima kasih. Laporan #{tracking_id} akan kami teruskan ke Ombudsman RI."


def opted_out() -> str:
    """The reporter sent STOP or BERHENTI."""
    return "Anda tidak akan menerima kabar laporan lagi. Balas MULAI untuk menerimanya kembali."


def opted_in() -> str:
    """The reporter sent MULAI or START after stopping updates."""
    return "Kabar laporan akan kami kirim lagi. Balas STOP untuk berhenti."
