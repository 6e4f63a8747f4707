"""Byte mutations of real and fixture messages: the email normalizer never lets anything but
QuarantinedInput or UnsupportedEvent escape."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.errors import QuarantinedInput, UnsupportedEvent
from gateway.messages import RawMessage
from gateway.records import Complaint, FollowUp, Ignored
from normalizers.email import normalize
from normalizers.email_attachments import attachment_blobs
from normalizers.email_parse import external_id

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / ".." / "shared" / "corpus"
SMALL = 12_000  # bytes; large corpus files add time without new structure


def seeds() -> list[bytes]:
    paths = sorted((ROOT / "tests" / "fixtures" / "email").glob("*.eml"))
    if CORPUS.is_dir():
        paths += sorted(p for p in CORPUS.glob("email-*/*") if p.name != "MANIFEST.md")
    return [data for data in (p.read_bytes() for p in paths) if len(data) <= SMALL]


SEEDS = seeds()
# Bytes that matter to MIME parsers: structure, encodings, 8-bit and NUL.
INTERESTING = st.sampled_from(
    [b"\r\n", b"\n\n", b"--", b"=?", b"?=", b"=?utf-8?b?", b"\x00", b"\xff", b"\xc3", b";", b'"', b"<", b">", b"*0*="]
)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 8))):
        position = draw(st.integers(0, len(data)))
        action = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "duplicate"]))
        if action == "flip" and position < len(data):
            data[position] = draw(st.integers(0, 255))
        elif action == "insert":
            data[position:position] = draw(st.one_of(INTERESTING, st.binary(min_size=1, max_size=16)))
        elif action == "delete":
            del data[position : position + draw(st.integers(1, 64))]
        elif action == "truncate":
            del data[position:]
        elif action == "duplicate":
            data[position:position] = data[max(0, position - 200) : position]
    return bytes(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(payload=mutated(), mail_from=st.sampled_from(["", "<>", "<warga@example.id>"]))
def test_mutations_never_crash(payload: bytes, mail_from: str) -> None:
    meta = {"mail_from": mail_from} if mail_from else {}
    raw = RawMessage(
        channel="email",
        event="message",
        external_id=external_id(payload),
        received_at=datetime(2025, 12, 1, tzinfo=UTC),
        payload=payload,
        meta=meta,
    )
    try:
        attachment_blobs(payload)
        outcome = normalize(raw)
    except (QuarantinedInput, UnsupportedEvent):
        return
    assert isinstance(outcome, Complaint | FollowUp | Ignored)
    # The record must survive the trip to the database as JSON.
    outcome.model_dump_json()
