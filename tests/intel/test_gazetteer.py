"""Region matching inside the jurisdiction: prefixes, RT/RW, streets, ambiguity, out-of-jurisdiction names."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.errors import ConfigurationError
from gateway.intel.gazetteer import Gazetteer, is_precise


@pytest.fixture(scope="module")
def bandung() -> Gazetteer:
    return Gazetteer("32.73")


@pytest.mark.parametrize(
    ("text", "code", "level", "min_confidence"),
    [
        ("Jalan rusak di Kel. Cipaganti RT 05/RW 03, Kec. Coblong", "32.73.02.1001", "kelurahan", 0.95),
        ("kelurahan sadang serang", "32.73.02.1003", "kelurahan", 0.9),
        ("Sadang Serang rt.02 rw.11", "32.73.02.1003", "kelurahan", 0.8),
        ("desa cijerah", "32.73.15.1001", "kelurahan", 0.9),
        ("macet di buah batu", "32.73.22", "kecamatan", 0.8),
        ("Kec. Kiaracondong", "32.73.16", "kecamatan", 0.9),
        ("di kota bandung", "32.73", "kota", 0.5),
        ("KELURAHAN  CIPAGANTI", "32.73.02.1001", "kelurahan", 0.9),
        ("cisarantenbinaharapan", "32.73.24.1002", "kelurahan", 0.7),
    ],
    ids=["kel-prefix-with-kec", "kelurahan-word", "no-prefix-multiword", "desa-prefix", "spaced-kecamatan",
         "kec-prefix", "city-only", "upper-case-double-space", "joined-words"],
)
def test_resolves(bandung: Gazetteer, text: str, code: str, level: str, min_confidence: float) -> None:
    match = bandung.resolve(text)
    assert match is not None
    assert (match.code, match.level) == (code, level)
    assert match.confidence >= min_confidence
    assert match.region_codes[-1] == code and match.region_codes[0] == "32"


@pytest.mark.parametrize(
    "text",
    ["sampah pasar palasari", "warga kab. bandung", "kabupaten bandung barat", "ga ada lokasi", "",
     "sungai citarum meluap", "di merdeka"],
    ids=["market-not-kelurahan", "kabupaten-outside-city", "other-kabupaten", "nothing", "empty",
         "river-not-kelurahan", "generic-word-needs-prefix"],
)
def test_does_not_resolve(bandung: Gazetteer, text: str) -> None:
    assert bandung.resolve(text) is None


def test_street_named_after_an_area_is_a_weak_match(bandung: Gazetteer) -> None:
    match = bandung.resolve("lampu mati di jl. dago dekat ITB")
    assert match is not None and match.code == "32.73.02.1004"
    assert not is_precise(match)


def test_rt_rw_are_kept(bandung: Gazetteer) -> None:
    match = bandung.resolve("Kel. Cipaganti RT05/RW003")
    assert match is not None and (match.rt, match.rw) == ("5", "3")


def test_two_kelurahan_in_different_kecamatan_is_ambiguous(bandung: Gazetteer) -> None:
    match = bandung.resolve("Cisaranten Kidul dan Cisaranten Wetan")
    assert match is not None and match.ambiguous and match.code == "32.73"
    assert not is_precise(match)


def test_kecamatan_context_confirms_kelurahan(bandung: Gazetteer) -> None:
    alone = bandung.resolve("banjir di batununggal")
    with_kecamatan = bandung.resolve("banjir di batununggal kec bandung kidul")
    assert alone is not None and with_kecamatan is not None
    assert with_kecamatan.code == "32.73.21.1001" and with_kecamatan.confidence > alone.confidence


def test_unknown_jurisdiction_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        Gazetteer("99.99")


def test_other_jurisdiction_does_not_see_bandung() -> None:
    surabaya = Gazetteer("35.78")
    assert surabaya.resolve("Kel. Cipaganti") is None


def test_development_set_kelurahan(bandung: Gazetteer, devset: list[dict[str, Any]]) -> None:
    named = [d for d in devset if d["kelurahan_code"]]
    found = sum((m := bandung.resolve(d["text"])) is not None and m.code == d["kelurahan_code"] for d in named)
    unnamed = [d for d in devset if not d["kelurahan_code"]]
    asked = sum(not is_precise(bandung.resolve(d["text"])) for d in unnamed)
    assert found / len(named) >= 0.9, found
    assert asked == len(unnamed)
