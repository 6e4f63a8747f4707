"""GSM-7 or UCS-2, segment counts, one-segment cuts, and decoding what SMS gateways hand over."""

from __future__ import annotations

import pytest

from channels.sms_encoding import (
    GSM7_TABLE,
    Alphabet,
    Coding,
    alphabet_for,
    coding_from_smpp,
    decode_gsm7_unpacked,
    decode_user_data,
    fit_one_segment,
    parse_form_bytes,
    segment_count,
    text_field,
    without_params,
)


@pytest.mark.parametrize(
    ("text", "alphabet"),
    [
        ("Laporan Anda diterima, nomor #1916449", Alphabet.GSM7),
        ("Harga Rp50.000 @ loket {B} ~ €5", Alphabet.GSM7),
        ("Café à Bandung", Alphabet.GSM7),
        ("Jalan rusak 🚧", Alphabet.UCS2),
        ("Kata “kutip” melengkung", Alphabet.UCS2),
        ("ꦥꦤ꧀ꦗꦼꦤꦼꦁ", Alphabet.UCS2),
        ("", Alphabet.GSM7),
    ],
    ids=["plain", "extension-table", "latin-in-gsm", "emoji", "smart-quotes", "javanese-script", "empty"],
)
def test_alphabet_is_gsm7_unless_a_character_needs_ucs2(text: str, alphabet: Alphabet) -> None:
    assert alphabet_for(text) is alphabet


@pytest.mark.parametrize(
    ("text", "segments"),
    [
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("a" * 306, 2),
        ("a" * 307, 3),
        ("€" * 80, 1),  # 160 septets: each extension character takes two
        ("€" * 81, 2),
        ("é" * 70 + "🚧", 2),  # the emoji forces UCS-2: 72 units
        ("ä" * 69 + "😀", 2),  # 71 UTF-16 units: a surrogate pair counts two
        ("😀" * 35, 1),
        ("x" * 66 + "😀" + "y" * 66, 3),  # the pair never straddles a segment boundary
    ],
    ids=["160", "161", "306", "307", "80-euro", "81-euro", "ucs2-72", "ucs2-71-pair", "35-pairs", "pair-boundary"],
)
def test_segment_count(text: str, segments: int) -> None:
    assert segment_count(text) == segments


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Pendek saja.", "Pendek saja."),
        ("kata " * 40, ("kata " * 31).rstrip() + "..."),
        ("😀 " + "kata " * 20, None),
    ],
    ids=["fits", "gsm-cut-at-word", "ucs2-cut"],
)
def test_fit_one_segment(text: str, expected: str | None) -> None:
    fitted = fit_one_segment(text)
    assert segment_count(fitted) == 1
    if expected is not None:
        assert fitted == expected
    else:
        assert fitted.endswith("…") and fitted.startswith("😀 kata")


def test_gsm7_table_has_128_septets_with_the_escape_at_0x1b() -> None:
    assert len(GSM7_TABLE) == 128
    assert GSM7_TABLE[0x1B] == "\x1b"


@pytest.mark.parametrize(
    ("data", "text"),
    [
        (bytes([0x00, 0x02, 0x11, 0x40]), "@$_¡"),
        (bytes([0x1B, 0x65, 0x1B, 0x3C, 0x1B, 0x3E]), "€[]"),
        (bytes([0x1B, 0x41]), " "),  # an escape to nothing the table defines
        (b"Halo", "Halo"),
    ],
    ids=["basic-non-ascii-positions", "extension", "unknown-escape", "ascii-letters"],
)
def test_decode_gsm7_unpacked(data: bytes, text: str) -> None:
    assert decode_gsm7_unpacked(data) == text


@pytest.mark.parametrize(
    ("data", "coding", "text", "binary"),
    [
        ("Jalan 🚧".encode("utf-16-be"), Coding.UCS2, "Jalan 🚧", False),
        ("Jalan".encode("utf-16-be") + b"\x00", Coding.UCS2, "Jalan\ufffd", False),
        ("Café".encode("latin-1"), Coding.LATIN1, "Café", False),
        ("Café".encode(), Coding.UTF8, "Café", False),
        (b"\x0b\x05\x04", Coding.BINARY, "", True),
    ],
    ids=["ucs2-pair", "ucs2-odd-byte", "latin1", "utf8", "binary"],
)
def test_decode_user_data(data: bytes, coding: Coding, text: str, binary: bool) -> None:
    decoded = decode_user_data(data, coding)
    assert (decoded.text, decoded.binary) == (text, binary)


@pytest.mark.parametrize(
    ("data_coding", "coding"),
    [(0, Coding.GSM7), (1, Coding.ASCII), (3, Coding.LATIN1), (8, Coding.UCS2), (4, Coding.BINARY),
     (2, Coding.BINARY), (0x18, Coding.UCS2), (0xF0, Coding.GSM7), (0xF4, Coding.BINARY), (0xE0, Coding.UCS2)],
    ids=["smsc-default", "ia5", "latin1", "ucs2", "octets", "octets-2", "general-group-ucs2", "class-gsm",
         "class-8bit", "mwi-ucs2"],
)
def test_coding_from_smpp(data_coding: int, coding: Coding) -> None:
    assert coding_from_smpp(data_coding) is coding


def test_coding_zero_follows_the_configured_default_alphabet() -> None:
    assert coding_from_smpp(0, default_alphabet=Coding.LATIN1) is Coding.LATIN1


def test_parse_form_bytes_keeps_bytes_and_first_value() -> None:
    fields = parse_form_bytes(b"text=%D8%3C%DF%0A&a=1&a=2&sp=a+b%20c&empty=&flag")
    assert fields["text"] == b"\xd8\x3c\xdf\x0a"
    assert fields["a"] == b"1"
    assert fields["sp"] == b"a b c"
    assert fields["empty"] == b"" and fields["flag"] == b""
    assert text_field(fields, "missing", "sp") == "a b c"
    assert text_field(fields, "missing") is None


def test_without_params_takes_out_only_the_secret_byte_for_byte() -> None:
    query = b"secret=s3cr3t&id=1&text=%D8%3C&secret=again&sec=x"
    assert without_params(query, frozenset({"secret"})) == b"id=1&text=%D8%3C&sec=x"
