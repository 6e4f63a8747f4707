"""Reporter commands: one list of words, recognised the same by the SMS and Meta normalizers."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from channels.meta_split import split_delivery
from gateway.lifecycle.optout import Command, command_of
from gateway.records import Complaint, FollowUp, Ignored
from normalizers.meta import normalize as normalize_meta
from normalizers.twilio import normalize as normalize_twilio
from tests.pipeline.twilio_raws import PHONE, twilio_raw

META_FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "meta" / "whatsapp_text.json"

CASES: list[tuple[str, str, Command | None]] = [
    ("stop", "STOP", "opt_out"),
    ("berhenti-punctuated", "Berhenti.", "opt_out"),
    ("stop-lapor", "stop lapor", "opt_out"),
    ("unreg", "UNREG", "opt_out"),
    ("mulai", "mulai", "opt_in"),
    ("start", "START!", "opt_in"),
    ("ya", "Ya", "consent"),
    ("ya-with-reference", "YA #1916449", "consent"),
    ("setuju", "setuju", "consent"),
    ("stop-in-a-complaint", "stop pungli di kantor kelurahan", None),
    ("ya-in-a-complaint", "Ya pak jalan di depan rumah rusak", None),
    ("three-words", "stop lapor sekarang", None),
]


@pytest.mark.parametrize(("text", "expected"), [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_command_of(text: str, expected: Command | None) -> None:
    assert command_of(text) == expected


@pytest.mark.parametrize(("text", "expected"), [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_sms_normalizer_turns_commands_into_ignored_with_the_reporter(text: str, expected: Command | None) -> None:
    outcome = normalize_twilio(twilio_raw("SMcmd", text, sender="081234567890"))
    if expected is None:
        assert isinstance(outcome, Complaint | FollowUp)
    else:
        assert outcome == Ignored(reason=expected, detail=text, identity=PHONE)


@pytest.mark.parametrize(("text", "expected"), [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_whatsapp_cloud_commands_carry_the_reporter_too(text: str, expected: Command | None) -> None:
    document = json.loads(META_FIXTURE.read_text(encoding="utf-8"))
    document["entry"][0]["changes"][0]["value"]["messages"][0]["text"]["body"] = text
    body = json.dumps(document).encode()
    [raw] = split_delivery(document, raw_body=body, received_at=datetime(2026, 12, 1, tzinfo=UTC), meta={}).raws
    outcome = normalize_meta(raw)
    if expected is None:
        assert isinstance(outcome, Complaint | FollowUp)
    else:
        assert isinstance(outcome, Ignored) and (outcome.reason, outcome.identity) == (expected, "+6281234567890")
