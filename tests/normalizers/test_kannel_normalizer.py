"""Kannel get-url/post-url requests (written from the Kannel user guide) to complaints, pure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from channels import concat
from channels.concat import ConcatInfo, assemble, part_meta
from gateway.errors import QuarantinedInput, UnsupportedEvent
from gateway.messages import RawMessage
from gateway.records import Complaint, FollowUp, Ignored, raw_id
from normalizers.kannel import normalize

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "kannel"
T0 = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)


def fixture_text(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def raw_get(name: str, *, event: str = "message", at: int = 0, meta: dict[str, str] | None = None) -> RawMessage:
    return RawMessage(
        channel="kannel",
        event=event,
        external_id=name,
        received_at=T0 + timedelta(seconds=at),
        payload=(FIXTURES / name).read_bytes().strip(),
        meta={"method": "GET", **(meta or {})},
    )


def raw_part(name: str, seq: int, total: int, *, reference: int, sender: str, at: int) -> RawMessage:
    meta = part_meta(ConcatInfo(reference, total, seq), sender=sender, recipient="1708")
    return raw_get(name, event=concat.PART_EVENT, at=at, meta=meta)


def long_parts() -> list[RawMessage]:
    return [
        raw_part(f"mo_part{seq}_of_3.query", seq, 3, reference=0x2A, sender="+6281234567899", at=seq)
        for seq in (1, 2, 3)
    ]


@pytest.mark.parametrize(
    ("fixture", "phone", "text"),
    [
        ("mo_gsm.query", "+6281234567890", fixture_text("gsm_text.txt")),
        ("mo_ucs2.query", "+6281234567891", fixture_text("ucs2_text.txt")),
        ("mo_no_id.query", "+6281234567890", "Sampah menumpuk di pasar"),
    ],
    ids=["gsm", "ucs2-emoji", "no-message-id"],
)
def test_message_becomes_a_complaint(fixture: str, phone: str, text: str) -> None:
    outcome = normalize(raw_get(fixture))
    assert isinstance(outcome, Complaint)
    assert outcome.reporter.phone == phone
    assert outcome.body.text == text
    assert outcome.reply_to is not None and outcome.reply_to.sender == "1708"
    assert "incomplete" not in outcome.flags


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (raw_get("mo_binary.query"), "binary_message"),
        (raw_get("dlr_delivered.query", event="status"), "delivery_status"),
    ],
    ids=["binary-wap-push", "delivery-report"],
)
def test_ignored(raw: RawMessage, reason: str) -> None:
    outcome = normalize(raw)
    assert isinstance(outcome, Ignored) and outcome.reason == reason


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        (raw_get("mo_missing_from.query"), QuarantinedInput),
        (raw_get("mo_gsm.query", event="sms"), UnsupportedEvent),
        (RawMessage(channel="kannel", event="message", external_id="x", received_at=T0, payload=b"from=0812",
                    meta={"method": "GET"}), QuarantinedInput),
    ],
    ids=["missing-from", "unknown-event", "missing-text"],
)
def test_quarantined(raw: RawMessage, error: type[Exception]) -> None:
    with pytest.raises(error):
        normalize(raw)


def test_follow_up_by_tracking_id() -> None:
    outcome = normalize(raw_get("mo_followup.query"))
    assert isinstance(outcome, FollowUp)
    assert outcome.references[0].value == "1916449"


def test_parts_out_of_order_reassemble_into_one_text() -> None:
    parts = long_parts()
    outcome = normalize(assemble([parts[2], parts[0], parts[1]]))
    assert isinstance(outcome, Complaint)
    # The emoji's surrogate pair is split between part 1 and part 2: decoding once keeps it whole.
    assert outcome.body.text == fixture_text("long_text.txt")
    assert outcome.raw.ids == tuple(raw_id("kannel", p.external_id) for p in parts)
    assert outcome.raw.sha256 == tuple(p.sha256 for p in parts)
    assert "incomplete" not in outcome.flags


def test_sixteen_bit_reference_gsm_parts() -> None:
    parts = [
        raw_part(f"mo_gsm16_part{seq}_of_2.query", seq, 2, reference=0x012C, sender="+6281234567898", at=seq)
        for seq in (2, 1)
    ]
    outcome = normalize(assemble(parts))
    assert isinstance(outcome, Complaint)
    assert outcome.body.text == fixture_text("gsm16_text.txt")


def test_missing_part_after_the_window_is_marked_incomplete() -> None:
    parts = long_parts()
    outcome = normalize(assemble([parts[0], parts[2]]))
    assert isinstance(outcome, Complaint)
    assert "incomplete" in outcome.flags
    assert outcome.body.text.startswith("Saya melaporkan banjir")


def test_a_lone_part_is_normalized_as_incomplete() -> None:
    outcome = normalize(long_parts()[1])
    assert isinstance(outcome, Complaint)
    assert "incomplete" in outcome.flags


def test_replay_is_deterministic() -> None:
    parts = long_parts()
    assert normalize(assemble(parts)) == normalize(assemble(list(reversed(parts))))


def test_post_url_request() -> None:
    # post-url: the text is the body (UTF-16BE for UCS-2), the facts are X-Kannel headers.
    text = "Pohon tumbang 🌳 menutup jalan"
    raw = RawMessage(
        channel="kannel",
        event="message",
        external_id="post-1",
        received_at=T0,
        payload=text.encode("utf-16-be"),
        meta={
            "method": "POST",
            "query": "id=post-1",
            "content_type": 'text/plain; charset="UTF-16BE"',
            "x-kannel-from": "+6281200000001",
            "x-kannel-to": "1708",
            "x-kannel-coding": "2",
        },
    )
    outcome = normalize(raw)
    assert isinstance(outcome, Complaint)
    assert outcome.body.text == text
    assert outcome.reporter.phone == "+6281200000001"


def test_post_url_octet_stream_is_binary() -> None:
    raw = RawMessage(
        channel="kannel", event="message", external_id="post-2", received_at=T0, payload=b"\x01\x02",
        meta={"method": "POST", "query": "", "content_type": "application/octet-stream",
              "x-kannel-from": "+6281200000001"},
    )
    outcome = normalize(raw)
    assert isinstance(outcome, Ignored) and outcome.reason == "binary_message"
