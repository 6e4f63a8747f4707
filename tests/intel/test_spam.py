"""SMS spam rules on the real bopbi corpus (development rows and held-out rows) and on complaints.

Held out from rule writing: loan/16-26, prize/16-20 and premium-sms/2 (17 rows). Rows loan/21-26 were
never read before this test first ran; loan/16-20 and prize/16-20 were seen while inspecting the corpus.
The rules were set on the other 33 rows only, with one exception: after the held-out check (15 of 17,
missing loan/25 and premium-sms/2), the composed "premium" row below failed, and splitting the
premium-service and tariff cues to fix it also makes premium-sms/2 pass. Treat that row as seen.
"""

from __future__ import annotations

import csv
import re
from typing import Any

import pytest

from gateway.intel.spam import score_spam
from tests.support.corpus import corpus_dir


def _rows() -> list[dict[str, str]]:
    path = corpus_dir("id-sms-spam-bopbi") / "sms_spam_id.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _held_out(row: dict[str, str]) -> bool:
    number = int(re.search(r"(\d+)\.txt$", row["source_file"]).group(1))  # type: ignore[union-attr]
    return (row["category"] in ("loan", "prize") and number >= 16) or row["source_file"] == "premium-sms/2.txt"


def test_every_development_row_is_suspected() -> None:
    rows = [r for r in _rows() if not _held_out(r)]
    assert len(rows) == 33
    missed = [r["source_file"] for r in rows if not score_spam(r["text"]).suspected]
    assert missed == []


def test_held_out_rows_are_mostly_suspected() -> None:
    rows = [r for r in _rows() if _held_out(r)]
    assert len(rows) == 17
    caught = sum(score_spam(r["text"]).suspected for r in rows)
    # 15 of 17 at the blind check; 16 of 17 after the change described above (loan/25 is still missed).
    assert caught / len(rows) >= 0.85


def test_no_complaint_of_the_development_set_is_suspected(devset: list[dict[str, Any]]) -> None:
    flagged = [d["id"] for d in devset if score_spam(d["text"]).suspected]
    assert flagged == []


@pytest.mark.parametrize(
    ("text", "suspected", "cue"),
    [
        ("Dapatkan pulsa gratis! tekan *888*1# sekarang, klik bit.ly/pulsa-gratis", True, "ussd"),
        ("PR0M0 cuci gudang HP 750rb minat wa 0852-1111-2222", True, "promo"),
        ("Selamat no anda mendapatkan hadiah cek tunai Rp100jt PIN:AB12CD3 klik s.id/hadiah", True, "prize"),
        ("Pinjaman dana cepat cair tanpa agunan bunga 1% minat chat WA 081311112222", True, "loan"),
        ("Balas SMS ini ketik: REG RBT, tarif 2rb/7hr", True, "premium"),
        ("Saya diteror debt collector pinjol, ditagih terus padahal sudah lunas, tolong ditindak", False, ""),
        ("Lampu PJU mati di Jl. Braga sudah 2 minggu, hub 081234567890", False, ""),
        ("Mohon info cara daftar PPDB SMP, syaratnya apa? link pendaftaran bit.ly tidak bisa dibuka", False, ""),
        ("", False, ""),
    ],
    ids=["ussd", "leet-promo", "fake-prize", "loan", "premium", "pinjol-complaint", "complaint-with-phone",
         "complaint-mentions-link", "empty"],
)
def test_rules(text: str, suspected: bool, cue: str) -> None:
    verdict = score_spam(text)
    assert verdict.suspected is suspected, verdict
    if cue:
        assert cue in verdict.cues
