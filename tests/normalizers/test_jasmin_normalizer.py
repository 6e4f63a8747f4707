"""Jasmin MO requests (written from the Jasmin HTTP API documentation) to complaints, pure."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from gateway.errors import QuarantinedInput, UnsupportedEvent
from gateway.messages import RawMessage
from gateway.records import Complaint, Ignored
from normalizers.jasmin import normalize

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "jasmin"
T0 = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)


def raw(name: str, *, event: str = "message", alphabet: str = "gsm7", payload: bytes | None = None) -> RawMessage:
    return RawMessage(
        channel="jasmin",
        event=event,
        external_id=name,
        received_at=T0,
        payload=payload if payload is not None else (FIXTURES / name).read_bytes().strip(),
        meta={"method": "POST", "default_alphabet": alphabet},
    )


def text(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("message", "phone", "body"),
    [
        (raw("mo_gsm.form"), "+6281234567890", text("gsm_text.txt")),
        (raw("mo_ucs2.form"), "+6285712345678", text("ucs2_text.txt")),
        (raw("mo_latin1.form"), "+6281234567893", "Café ilegal di taman kota"),
        # No hex copy: the percent-encoded UCS-2 content itself is decoded.
        (raw("x", payload=b"from=6281200000009&coding=8&content=%00J%00a%00l%00a%00n%D8%3D%DE%A7"),
         "+6281200000009", "Jalan🚧"),
    ],
    ids=["gsm-default-alphabet", "ucs2-coding-8", "latin1-coding-3", "content-without-binary"],
)
def test_message_becomes_a_complaint(message: RawMessage, phone: str, body: str) -> None:
    outcome = normalize(message)
    assert isinstance(outcome, Complaint)
    assert outcome.reporter.phone == phone
    assert outcome.body.text == body


def test_coding_zero_as_latin1_when_the_smsc_says_so() -> None:
    message = raw("x", alphabet="latin1", payload=b"from=6281200000009&coding=0&content=warga%40contoh.id")
    outcome = normalize(message)
    assert isinstance(outcome, Complaint)
    assert outcome.body.text == "warga@contoh.id"


@pytest.mark.parametrize(
    ("message", "reason"),
    [(raw("mo_binary.form"), "binary_message"), (raw("dlr_level2.form", event="status"), "delivery_status")],
    ids=["binary-coding-4", "dlr"],
)
def test_ignored(message: RawMessage, reason: str) -> None:
    outcome = normalize(message)
    assert isinstance(outcome, Ignored) and outcome.reason == reason


@pytest.mark.parametrize(
    ("message", "error"),
    [
        (raw("mo_missing_from.form"), QuarantinedInput),
        (raw("x", payload=b"from=6281200000009&coding=0"), QuarantinedInput),
        (raw("x", payload=b"from=6281200000009&coding=eight&content=x"), QuarantinedInput),
        (raw("mo_gsm.form", event="mms"), UnsupportedEvent),
    ],
    ids=["missing-from", "missing-content", "bad-coding", "unknown-event"],
)
def test_quarantined(message: RawMessage, error: type[Exception]) -> None:
    with pytest.raises(error):
        normalize(message)
