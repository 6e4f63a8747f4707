"""The Meta normalizer on webhook fixtures, sliced per message exactly as the channel stores them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from channels.meta_split import split_delivery
from gateway.errors import QuarantinedInput, UnsupportedEvent
from gateway.messages import RawMessage
from gateway.records import Complaint, FollowUp, Ignored, Outcome, Reference
from normalizers.meta import normalize

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "meta"
RECEIVED = datetime(2024, 3, 6, 8, 0, tzinfo=UTC)


def raws(name: str) -> list[RawMessage]:
    body = (FIXTURES / name).read_bytes()
    return split_delivery(json.loads(body), raw_body=body, received_at=RECEIVED, meta={}).raws


def only(name: str) -> Outcome:
    [raw] = raws(name)
    return normalize(raw)


def complaint_of(outcome: Outcome) -> Complaint:
    if isinstance(outcome, FollowUp):
        return outcome.record
    assert isinstance(outcome, Complaint), outcome
    return outcome


def test_whatsapp_text_reporter_is_e164_and_anonim_marker_is_taken_out() -> None:
    record = complaint_of(only("whatsapp_text.json"))
    assert record.reporter.identity == "+6281234567890"
    assert record.reporter.phone == "+6281234567890" and record.reporter.name == "Sari"
    assert record.privacy.anonim and "#anonim" not in record.body.text
    assert record.title.startswith("Selamat pagi")
    assert record.reply_to is not None
    assert record.reply_to.address == "whatsapp:6281234567890"
    assert record.reply_to.sender == "106540352242922"
    assert record.body.language == "id"


MEDIA = [
    ("image", "whatsapp_image.json", "image/jpeg", "meta-media:1479537139650973", None, "Tumpukan sampah"),
    ("document", "whatsapp_document.json", "application/pdf", "meta-media:2734598472342", "kwitansi.pdf", "Bukti"),
    ("voice-note", "whatsapp_audio.json", "audio/ogg", "meta-media:9988776655", None, ""),
]


@pytest.mark.parametrize(("name", "media_type", "url", "filename", "text"), [r[1:] for r in MEDIA],
                         ids=[r[0] for r in MEDIA])
def test_whatsapp_media(name: str, media_type: str, url: str, filename: str | None, text: str) -> None:
    record = complaint_of(only(name))
    [attachment] = record.attachments
    assert (attachment.media_type, attachment.url, attachment.name) == (media_type, url, filename)
    assert record.body.text.startswith(text)
    if not text:
        assert record.title == "Laporan dengan lampiran"


def test_whatsapp_location() -> None:
    record = complaint_of(only("whatsapp_location.json"))
    assert record.location is not None
    assert (record.location.latitude, record.location.longitude) == (-6.2088, 106.8456)
    assert record.location.text == "Halte Bundaran HI Jl. M.H. Thamrin, Jakarta"


def test_interactive_replies() -> None:
    button = only("whatsapp_interactive_button.json")
    assert isinstance(button, FollowUp)
    assert button.record.body.text == "Jalan rusak"
    assert button.references == (Reference(kind="message_id", value="wamid.OUR_ACK_0001"),)
    assert complaint_of(only("whatsapp_interactive_list.json")).body.text == (
        "Pelayanan publik — Antrian KTP di kecamatan sangat lama"
    )


def test_reply_to_our_message_is_follow_up() -> None:
    outcome = only("whatsapp_reply_context.json")
    assert isinstance(outcome, FollowUp)
    assert outcome.references == (Reference(kind="message_id", value="wamid.OUR_ACK_0001"),)


def test_batch_gives_one_complaint_per_message_with_its_own_reporter() -> None:
    outcomes = [normalize(raw) for raw in raws("whatsapp_batch.json")]
    first, second = complaint_of(outcomes[0]), complaint_of(outcomes[1])
    assert (first.reporter.name, second.reporter.name) == ("Sari", "Andi")
    assert second.reporter.identity == "+6289876543210"
    assert first.id != second.id
    assert isinstance(outcomes[2], Ignored) and outcomes[2].reason == "delivery_status"


def test_messenger_attachments_and_location() -> None:
    record = complaint_of(only("messenger_attachments.json"))
    assert record.reporter.identity == "messenger:7001234567890123"
    assert [a.url for a in record.attachments] == ["https://scontent.xx.fbcdn.net/v/t1.15752-9/pohon.jpg?_nc_cat=1"]
    assert record.location is not None and record.location.latitude == -6.9147
    assert record.reply_to is not None and record.reply_to.sender == "1708000000001"


def test_instagram_tracking_reference() -> None:
    outcome = only("instagram_text.json")
    assert isinstance(outcome, FollowUp)
    assert outcome.references == (Reference(kind="tracking_id", value="1916449"),)
    assert outcome.record.reporter.identity == "instagram:1122334455667788"
    assert outcome.record.reply_to is not None
    assert outcome.record.reply_to.address == "instagram:1122334455667788"


IGNORED = [
    ("reaction", "whatsapp_reaction.json", "reaction"),
    ("echo", "messenger_echo.json", "own_message"),
    ("messenger-delivery", "messenger_delivery.json", "delivery_status"),
]


@pytest.mark.parametrize(("name", "reason"), [r[1:] for r in IGNORED], ids=[r[0] for r in IGNORED])
def test_ignored(name: str, reason: str) -> None:
    outcome = only(name)
    assert isinstance(outcome, Ignored) and outcome.reason == reason


def raw_of(event: str, payload: bytes) -> RawMessage:
    return RawMessage(channel="meta", event=event, external_id="x", received_at=RECEIVED, payload=payload)


FAILURES = [
    ("unknown-event", raw_of("unknown", b"{}"), UnsupportedEvent),
    ("unknown-message-type", raws("whatsapp_unknown_type.json")[0], UnsupportedEvent),
    ("reaction-event-stored-as-unknown", raws("messenger_reaction.json")[0], UnsupportedEvent),
    ("not-json", raw_of("whatsapp_message", b"\x00garbage"), QuarantinedInput),
    ("no-messages", raw_of("whatsapp_message", b'{"entry": [{"changes": [{"value": {}}]}]}'), QuarantinedInput),
    ("no-sender", raw_of("messenger_message", b'{"entry": [{"messaging": [{"message": {"mid": "1"}}]}]}'),
     QuarantinedInput),
    ("media-without-id", raw_of("whatsapp_message", json.dumps({"entry": [{"changes": [{"value": {"messages": [
        {"from": "62812", "id": "w1", "type": "image", "image": {"mime_type": "image/png"}}]}}]}]}).encode()),
     QuarantinedInput),
]


@pytest.mark.parametrize(("raw", "error"), [r[1:] for r in FAILURES], ids=[r[0] for r in FAILURES])
def test_failures(raw: RawMessage, error: type[Exception]) -> None:
    with pytest.raises(error):
        normalize(raw)


def test_deterministic_for_replay() -> None:
    for name in ("whatsapp_text.json", "messenger_attachments.json", "instagram_text.json"):
        assert only(name) == only(name)
