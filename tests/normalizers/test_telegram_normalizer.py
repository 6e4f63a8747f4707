"""The Telegram normalizer on update fixtures, stored as the channel stores them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from channels.telegram_updates import update_raw
from gateway.errors import QuarantinedInput, UnsupportedEvent
from gateway.messages import RawMessage
from gateway.records import Complaint, FollowUp, Ignored, Outcome, Reference
from normalizers.telegram import normalize

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "telegram"
RECEIVED = datetime(2024, 3, 6, 8, 0, tzinfo=UTC)


def stored(name: str) -> RawMessage:
    body = (FIXTURES / name).read_bytes()
    return update_raw(json.loads(body), body, RECEIVED, {})


def outcome(name: str) -> Outcome:
    return normalize(stored(name))


def complaint_of(result: Outcome) -> Complaint:
    if isinstance(result, FollowUp):
        return result.record
    assert isinstance(result, Complaint), result
    return result


def test_text_message() -> None:
    record = complaint_of(outcome("message_text.json"))
    assert record.reporter.identity == "telegram:555001234"
    assert (record.reporter.handle, record.reporter.name) == ("dewi_l", "Dewi Lestari")
    assert record.privacy.rahasia and "#rahasia" not in record.body.text
    assert record.reply_to is not None
    assert (record.reply_to.address, record.reply_to.in_reply_to) == ("555001234", "101")
    assert record.thread.conversation_key == "telegram:555001234"


ATTACHMENTS = [
    ("photo-largest-size", "message_photo.json", "image/jpeg", "telegram-file:AgACAgUAAxkBAAMFZf_large", None, 88812),
    ("document", "message_document.json", "application/pdf", "telegram-file:BQACAgUAAxkBAAMGZf_doc", "edaran.pdf",
     51234),
]


@pytest.mark.parametrize(("name", "media_type", "url", "filename", "size"), [r[1:] for r in ATTACHMENTS],
                         ids=[r[0] for r in ATTACHMENTS])
def test_attachments(name: str, media_type: str, url: str, filename: str | None, size: int) -> None:
    record = complaint_of(outcome(name))
    [attachment] = record.attachments
    assert (attachment.media_type, attachment.url, attachment.name, attachment.size) == (
        media_type, url, filename, size)
    assert record.body.text  # the caption is the body


LOCATIONS = [
    ("location", "message_location.json", (-7.250445, 112.768845), None),
    ("venue", "message_venue.json", (-6.914744, 107.60981), "Alun-alun Bandung Jl. Asia Afrika"),
]


@pytest.mark.parametrize(("name", "point", "text"), [r[1:] for r in LOCATIONS], ids=[r[0] for r in LOCATIONS])
def test_locations(name: str, point: tuple[float, float], text: str | None) -> None:
    record = complaint_of(outcome(name))
    assert record.location is not None
    assert (record.location.latitude, record.location.longitude) == point
    assert record.location.text == text
    assert record.title == "Laporan dengan lampiran"


def test_reply_to_our_message_is_follow_up_keyed_like_our_sent_ids() -> None:
    result = outcome("message_reply.json")
    assert isinstance(result, FollowUp)
    assert result.references == (Reference(kind="message_id", value="555001234:77"),)


def test_leading_tracking_id_and_command_text() -> None:
    result = outcome("message_tracking.json")
    assert isinstance(result, FollowUp)
    assert result.references == (Reference(kind="tracking_id", value="1916449"),)
    assert complaint_of(outcome("lapor_command.json")).body.text == "Jembatan gantung di Desa Sukaraja putus"


IGNORED = [
    ("start", "message_start", "start_command.json", "bot_command"),
    ("edited", "", "edited_message.json", "edited_message"),
    ("group", "", "group_message.json", "not_private_chat"),
    ("blocked-bot", "", "my_chat_member.json", "membership_change"),
    ("other-bot", "", "bot_sender.json", "bot_message"),
]


@pytest.mark.parametrize(("name", "reason"), [(r[2], r[3]) for r in IGNORED], ids=[r[0] for r in IGNORED])
def test_ignored(name: str, reason: str) -> None:
    result = outcome(name)
    assert isinstance(result, Ignored) and result.reason == reason


def raw_of(event: str, payload: bytes) -> RawMessage:
    return RawMessage(channel="telegram", event=event, external_id="x", received_at=RECEIVED, payload=payload)


FAILURES = [
    ("unknown-update", stored("callback_query.json"), UnsupportedEvent),
    ("not-json", raw_of("message", b"\xff"), QuarantinedInput),
    ("array", raw_of("message", b"[]"), QuarantinedInput),
    ("no-chat", raw_of("message", b'{"update_id": 1, "message": {"message_id": 1, "from": {"id": 2}}}'),
     QuarantinedInput),
]


@pytest.mark.parametrize(("raw", "error"), [r[1:] for r in FAILURES], ids=[r[0] for r in FAILURES])
def test_failures(raw: RawMessage, error: type[Exception]) -> None:
    with pytest.raises(error):
        normalize(raw)


def test_deterministic_for_replay() -> None:
    assert outcome("message_photo.json") == outcome("message_photo.json")
