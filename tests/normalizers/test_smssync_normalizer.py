"""SMSSync posts (written from the SMSSync developer documentation) to complaints, pure."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from channels.sms_encoding import without_params
from gateway.errors import QuarantinedInput, UnsupportedEvent
from gateway.messages import RawMessage
from gateway.records import Complaint, Ignored
from normalizers.smssync import normalize

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "smssync"
T0 = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)


def raw(name: str, *, event: str = "message", payload: bytes | None = None) -> RawMessage:
    # What the channel stores: the form body without the secret.
    body = payload if payload is not None else (FIXTURES / name).read_bytes().strip()
    return RawMessage(
        channel="smssync", event=event, external_id=name, received_at=T0,
        payload=without_params(body, frozenset({"secret"})), meta={},
    )


@pytest.mark.parametrize(
    ("name", "phone", "body"),
    [
        ("message.form", "+6281234567890",
         "Drainase tersumbat di Jl. Ahmad Yani no 12, air meluap ke jalan setiap hujan"),
        ("message_unicode.form", "+6281234567891", "Dalan rusak ꦥꦤ꧀ꦗꦼꦤꦼꦁ 🚧 ing desa Karangrejo"),
    ],
    ids=["plain", "javanese-script-and-emoji"],
)
def test_message_becomes_a_complaint(name: str, phone: str, body: str) -> None:
    outcome = normalize(raw(name))
    assert isinstance(outcome, Complaint)
    assert outcome.reporter.phone == phone
    assert outcome.body.text == body
    assert outcome.reply_to is not None and outcome.reply_to.sender == "+6285700001708"


@pytest.mark.parametrize(
    ("message", "reason"),
    [(raw("message_stop.form"), "opt_out"), (raw("result.json", event="status"), "delivery_status")],
    ids=["stop-keyword", "delivery-result"],
)
def test_ignored(message: RawMessage, reason: str) -> None:
    outcome = normalize(message)
    assert isinstance(outcome, Ignored) and outcome.reason == reason


@pytest.mark.parametrize(
    ("message", "error"),
    [
        (raw("message_missing_text.form"), QuarantinedInput),
        (raw("x", payload=b"message=halo"), QuarantinedInput),
        (raw("x", payload=b"from=0812&message=%FF%FE"), QuarantinedInput),
        (raw("message.form", event="call"), UnsupportedEvent),
    ],
    ids=["missing-message", "missing-from", "not-utf8", "unknown-event"],
)
def test_quarantined(message: RawMessage, error: type[Exception]) -> None:
    with pytest.raises(error):
        normalize(message)
