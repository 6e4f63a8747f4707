"""Normalization for matching: formal words out, meaning kept, domain abbreviations win over slang."""

from __future__ import annotations

import filecmp

import pytest

from gateway.intel.matching import for_matching, squeeze
from gateway.intel.slang import DROPPED_SLANG, domain_entries, lexicon, slang_entries
from tests.support.corpus import corpus_dir


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("PJU mati", "penerangan jalan umum mati"),
        ("Kel. Cipaganti RT05/RW03", "kelurahan cipaganti rt 05 rw 03"),
        ("jl. dago gg. mawar", "jalan dago gang mawar"),
        ("lampunya matiii bangeeet", "lampunya mati banget"),
        ("maaaaf mengganggu", "maaf mengganggu"),
        ("sy mau nanya gmn cara bikin KTP", "saya mau tanya bagaimana cara bikin ktp"),
        ("air PDAM gk ngalir", "air pdam tidak mengalir"),
        ("ＰＪＵ　ｍａｔｉ", "penerangan jalan umum mati"),
        ("nyenengin", "menyenangkan"),
        ("", ""),
    ],
    ids=["pju-kept", "kel-rt-rw", "jl-gg", "elongation", "double-letter-word", "sms-abbreviations",
         "negation", "nfkc-fullwidth", "slang-list", "empty"],
)
def test_for_matching(text: str, expected: str) -> None:
    assert for_matching(text).text == expected


@pytest.mark.parametrize(
    ("text", "wrong"),
    [("PJU mati", "itu"), ("u rt 5", "untuk"), ("limbah b3", "bertiga"), ("pa RT", "apa"), ("ngapain", "mengapai")],
    ids=["pju-not-itu", "single-letter-dropped", "b3-not-bertiga", "pa-is-pak", "dropped-slang"],
)
def test_no_meaning_changing_rewrites(text: str, wrong: str) -> None:
    assert wrong not in for_matching(text).tokens


def test_domain_abbreviations_win_every_collision() -> None:
    slang = slang_entries()
    domain = domain_entries()
    collisions = set(slang) & set(domain)
    merged = lexicon().replacements
    for key in collisions:
        assert merged[key] == domain[key], key
    for key, expansion in domain.items():
        assert merged[key] == expansion


def test_dropped_and_short_slang_keys_are_not_applied() -> None:
    merged = lexicon().replacements
    domain = domain_entries()
    for key in DROPPED_SLANG:
        assert key not in merged or key in domain
    assert not [k for k in slang_entries() if len(k) < 3]


@pytest.mark.parametrize(
    ("token", "expected"),
    [("bangeeet", "banget"), ("maaaf", "maaf"), ("kebukaaa", "kebuka"), ("rusak", "rusak")],
    ids=["to-single", "keeps-known-double", "unknown-to-single", "untouched"],
)
def test_squeeze(token: str, expected: str) -> None:
    assert squeeze(token, lexicon().vocabulary) == expected


def test_shipped_word_list_is_the_corpus_copy_with_its_licence() -> None:
    from importlib import resources

    data = resources.files("gateway.intel").joinpath("data")
    licence = data.joinpath("LICENCE-slangs.txt").read_text(encoding="utf-8")
    assert "MIT License" in licence and "indo-normalizer" in licence
    shipped = str(data.joinpath("slangs.csv"))
    original = corpus_dir("id-slang") / "indo_normalizer_slangs.csv"
    assert filecmp.cmp(shipped, original, shallow=False)
