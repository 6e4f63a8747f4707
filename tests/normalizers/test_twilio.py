"""Twilio normalizer: golden records for every fixture, and the facts each case is about."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from channels.twilio import TwilioChannel
from gateway.outcomes import normalize_safely
from gateway.replay import outcome_line
from normalizers.registry import NORMALIZERS
from tests.support.corpus import corpus_dir

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "twilio"
EXPECTED = FIXTURES / "expected"
RECEIVED_AT = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)


def normalized(path: Path) -> dict[str, object]:
    """The replay line for a fixture, with a fixed arrival time so records are reproducible."""
    raw = TwilioChannel.raw_from_file(path.read_bytes(), source=path.name)
    raw = type(raw)(raw.channel, raw.event, raw.external_id, RECEIVED_AT, raw.payload, {})
    line = outcome_line(path.name, normalize_safely(raw, NORMALIZERS))
    return json.loads(json.dumps(line, ensure_ascii=False))


def fixture_paths() -> list[Path]:
    return sorted(FIXTURES.glob("*.txt"))


@pytest.mark.parametrize("path", fixture_paths(), ids=lambda p: p.stem)
def test_golden_record(path: Path) -> None:
    expected_file = EXPECTED / f"{path.stem}.json"
    actual = normalized(path)
    if os.environ.get("UPDATE_GOLDEN"):
        EXPECTED.mkdir(exist_ok=True)
        expected_file.write_text(json.dumps(actual, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    assert actual == json.loads(expected_file.read_text(encoding="utf-8"))


CASES = [
    # (fixture, outcome, checks on the record or reason)
    ("sms_slang_emoji", "complaint", {"reporter.identity": "+6281234567890", "body.language": "id"}),
    ("sms_62_prefix", "complaint", {"reporter.phone": "+6281234567890",
                                    "title": "Lampu PJU mati di Jl. Merdeka sejak seminggu."}),
    ("sms_followup", "follow_up", {"body.text": "jalan masih rusak, belum ada perbaikan"}),
    ("sms_anonim", "complaint", {"privacy.anonim": True, "body.text": "Ada pungli di kantor kelurahan mohon ditindak"}),
    ("sms_rahasia", "complaint", {"privacy.rahasia": True, "privacy.anonim": False}),
    ("sms_empty", "ignored", {"reason": "empty_message"}),
    ("sms_stop", "ignored", {"reason": "opt_out"}),
    ("sms_unknown_extra_fields", "complaint", {"title": "Sampah menumpuk di pasar"}),
    ("whatsapp_location", "complaint", {"location.latitude": -6.9147, "location.longitude": 107.6098,
                                        "reporter.name": "Budi Santoso",
                                        "reply_to.address": "whatsapp:+6281234567890"}),
    ("whatsapp_media", "complaint", {"attachments.0.media_type": "image/jpeg",
                                     "attachments.1.media_type": "video/mp4",
                                     "reporter.identity": "+6281234567890"}),
    ("sms_javanese", "complaint", {"body.language": "jv", "reporter.identity": "+6285712345678"}),
    ("sms_english", "complaint", {"body.language": "en"}),
    ("sms_missing_from", "quarantined", {"reason": "missing_field: From"}),
    ("sms_invalid_utf8", "quarantined", {"reason": "malformed_form_body: UnicodeDecodeError"}),
]


def _get(line: dict[str, object], dotted: str) -> object:
    value: object = line if dotted == "reason" else line["record"]
    if dotted == "reason":
        return line["reason"]
    for part in dotted.split("."):
        value = value[int(part)] if isinstance(value, list) else value[part]  # type: ignore[index]
    return value


@pytest.mark.parametrize(("name", "outcome", "checks"), CASES, ids=[c[0] for c in CASES])
def test_case_facts(name: str, outcome: str, checks: dict[str, object]) -> None:
    line = normalized(FIXTURES / f"{name}.txt")
    assert line["outcome"] == outcome
    for dotted, expected in checks.items():
        assert _get(line, dotted) == expected, dotted


def test_concatenated_sms_keeps_every_character() -> None:
    path = FIXTURES / "sms_concatenated_1600.txt"
    line = normalized(path)
    record = line["record"]
    assert isinstance(record, dict)
    assert len(record["body"]["text"]) >= 1590  # only trailing blanks may go
    assert len(record["title"]) <= 80


def test_phone_forms_are_one_reporter() -> None:
    identities = {
        normalized(FIXTURES / name)["record"]["reporter"]["identity"]  # type: ignore[index]
        for name in ("sms_slang_emoji.txt", "sms_62_prefix.txt", "sms_anonim.txt", "whatsapp_media.txt")
    }
    assert identities == {"+6281234567890"}


def test_follow_up_carries_the_tracking_reference() -> None:
    record = normalized(FIXTURES / "sms_followup.txt")["record"]
    assert record["references"] == [{"kind": "tracking_id", "value": "1916449"}]  # type: ignore[index]


@pytest.mark.parametrize("name", ["sms_mms_us_photo.txt", "sms_special_chars_body.txt",
                                  "sms_apigw_pct20_encoding_cz.txt"])
def test_real_captured_bodies(name: str) -> None:
    path = corpus_dir("twilio-webhooks") / name
    line = normalized(path)
    assert line["outcome"] == "complaint"
    record = line["record"]
    assert isinstance(record, dict)
    if name == "sms_special_chars_body.txt":
        assert record["body"]["text"] == "hi there, 2+3=4"  # %2B is a plus, + is a space
    if name == "sms_mms_us_photo.txt":
        assert record["attachments"][0]["url"].startswith("https://api.twilio.com/")
    if name == "sms_apigw_pct20_encoding_cz.txt":
        assert record["reporter"]["identity"] == "+420723138687"


def test_record_is_deterministic() -> None:
    path = FIXTURES / "sms_slang_emoji.txt"
    assert normalized(path) == normalized(path)
