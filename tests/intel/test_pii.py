"""Personal data in text: masked for logs and admins, replaced by placeholders in public replies."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.intel.pii import find_pii, mask_pii, placeholder_pii

SIXTEEN = re.compile(r"\d{16}")


@pytest.mark.parametrize(
    ("text", "masked", "public"),
    [
        ("NIK saya 3273012345678901", "NIK saya ************8901", "NIK saya [NIK]"),
        ("KK 3273 0123 4567 8902", "KK **** **** **** 8902", "KK [NIK]"),
        ("hub 0812-3456-7890", "hub ****-****-*890", "hub [nomor telepon]"),
        ("wa +62 812 3456 7890 ya", "wa +** *** **** *890 ya", "wa [nomor telepon] ya"),
        ("email budi.s@gmail.com", "email b***@gmail.com", "email [email]"),
        ("rek BCA 123-456-7890 a/n Budi", "rek BCA ***-***-7890 a/n Budi", "rek BCA [nomor rekening] a/n Budi"),
        ("no rek: 1234567890", "no rek: ******7890", "no rek: [nomor rekening]"),
        ("kode 12345678901234567890", "kode ****************7890", "kode [nomor]"),
        ("RT 05 RW 03, 12-05-2026, Rp 1.500.000", "RT 05 RW 03, 12-05-2026, Rp 1.500.000",
         "RT 05 RW 03, 12-05-2026, Rp 1.500.000"),
        ("", "", ""),
    ],
    ids=["nik", "kk-grouped", "phone-local", "phone-intl", "email", "bank-with-cue", "bank-norek",
         "long-number", "not-pii-rt-date-money", "empty"],
)
def test_masking(text: str, masked: str, public: str) -> None:
    assert mask_pii(text) == masked
    assert placeholder_pii(text) == public


def test_find_pii_kinds() -> None:
    kinds = [k for k, _ in find_pii("3273012345678901 0812-3456-7890 a@b.id rek 1234567890")]
    assert kinds == ["nik", "phone", "email", "bank_account"]


_digits_and_noise = st.text(
    alphabet=st.sampled_from("0123456789 -.+()@abcXYZ/\n١٢٣٤٥٦٧٨٩٠０１２３"), max_size=200,
)


@settings(max_examples=400, deadline=None)
@given(st.one_of(_digits_and_noise, st.text(max_size=200)))
def test_no_sixteen_digit_run_survives(text: str) -> None:
    assert not SIXTEEN.search(mask_pii(text))
    assert not SIXTEEN.search(placeholder_pii(text))


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=16, max_value=60), st.text(max_size=20), st.text(max_size=20))
def test_embedded_digit_runs_are_masked(length: int, before: str, after: str) -> None:
    text = f"{before} {'7' * length} {after}"
    assert not SIXTEEN.search(mask_pii(text))


def test_structlog_processor_masks_log_events() -> None:
    import structlog
    from structlog.testing import LogCapture

    from gateway.intel.pii import redact_log_event

    capture = LogCapture()
    structlog.configure(processors=[redact_log_event, capture])
    try:
        structlog.get_logger("t").info("complaint received", body="NIK 3273012345678901 hp 081234567890", n=3)
    finally:
        structlog.reset_defaults()
    (event,) = capture.entries
    assert "3273012345678901" not in str(event) and "081234567890" not in str(event)
    assert event["n"] == 3
