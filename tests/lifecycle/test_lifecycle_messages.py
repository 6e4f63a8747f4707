"""Reporter updates: Bahasa Indonesia, one SMS segment, no personal data on public channels."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from gateway.lifecycle import messages

# GSM 03.38 basic character set (the escape-table characters count double, and none is used here).
GSM7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
PERSONAL = "Budi Santoso, Jl. Melati 5, 081234567890, budi@example.com"
TRACKING = "1916449"

SHORT: list[tuple[str, Callable[[], str]]] = [
    ("responded-public", lambda: messages.agency_responded(TRACKING, public=True, excerpt=PERSONAL)),
    ("responded-private-no-excerpt", lambda: messages.agency_responded(TRACKING, public=False)),
    ("closed", lambda: messages.closed(TRACKING, public=True)),
    ("rejected", lambda: messages.rejected(TRACKING)),
    ("escalation-offer", lambda: messages.escalation_offer(TRACKING, days=60, public=True)),
    ("escalation-confirmed", lambda: messages.escalation_confirmed(TRACKING)),
    ("opted-out", messages.opted_out),
    ("opted-in", messages.opted_in),
]


@pytest.mark.parametrize("build", [b for _, b in SHORT], ids=[i for i, _ in SHORT])
def test_fits_one_gsm7_segment(build: Callable[[], str]) -> None:
    text = build()
    assert len(text) <= 160, (len(text), text)
    assert set(text) <= GSM7, set(text) - GSM7


@pytest.mark.parametrize("build", [b for _, b in SHORT], ids=[i for i, _ in SHORT])
def test_no_personal_data(build: Callable[[], str]) -> None:
    text = build()
    for piece in ("Budi", "Melati", "0812", "@example"):
        assert piece not in text


def test_private_response_quotes_a_cut_excerpt() -> None:
    answer = "Jalan akan diperbaiki minggu depan oleh Dinas PUPR. " * 10
    text = messages.agency_responded(TRACKING, public=False, excerpt=answer)
    assert "Dinas PUPR" in text and f"#{TRACKING}" in text
    assert "..." in text and len(text) < 260


def test_escalation_offer_says_how() -> None:
    text = messages.escalation_offer(TRACKING, days=60, public=False)
    assert "Ombudsman RI" in text and "ombudsman.go.id" in text and "137" in text
    assert "YA" in text and "60 hari" in text
