"""Archived files (replay --dry-run, ingest) read with the event and dedup key live traffic would have had."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from channels.base import Channel
from channels.meta import MetaChannel
from channels.telegram import TelegramChannel
from channels.x import XChannel

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
ONE_TWEET = json.dumps({"id": "20", "text": "@LAPOR1708 PJU mati", "author_id": "42"}).encode()
GET_UPDATES = json.dumps({"ok": True, "result": [json.loads((FIXTURES / "telegram/message_photo.json").read_bytes())]})

ROWS: list[tuple[str, type[Channel], bytes, str, str]] = [
    ("x-poll-payload", XChannel, (FIXTURES / "x/tweet_with_media_and_place.json").read_bytes(), "tweet",
     "1764700000000000900"),
    ("x-dm-payload", XChannel, (FIXTURES / "x/dm_v2.json").read_bytes(), "direct_message", "dm:1764800000000000100"),
    ("x-bare-v2-tweet", XChannel, ONE_TWEET, "tweet", "20"),
    ("x-activity-delivery", XChannel, (FIXTURES / "x/activity_tweet_create.json").read_bytes(), "activity_tweet",
     "1764481938504630272"),
    ("x-not-json", XChannel, b"\x00\x01", "unknown", ""),
    ("meta-one-message", MetaChannel, (FIXTURES / "meta/whatsapp_image.json").read_bytes(), "whatsapp_message",
     "wamid.HBgNNjI4MTIzNDU2Nzg5MBUCABIYFjNFQjA2"),
    ("meta-batch-is-not-one-raw", MetaChannel, (FIXTURES / "meta/whatsapp_batch.json").read_bytes(), "unknown", ""),
    ("telegram-update", TelegramChannel, (FIXTURES / "telegram/message_text.json").read_bytes(), "message",
     "555001234:101"),
    ("telegram-get-updates-answer", TelegramChannel, GET_UPDATES.encode(), "message", "555001234:102"),
]


@pytest.mark.parametrize(("channel", "payload", "event", "external_id"), [r[1:] for r in ROWS],
                         ids=[r[0] for r in ROWS])
def test_raw_from_file(channel: type[Channel], payload: bytes, event: str, external_id: str) -> None:
    raw = channel.raw_from_file(payload, source="archive/file.json")
    assert raw.channel == channel.name
    assert raw.event == event
    assert raw.event in channel.events
    if external_id:
        assert raw.external_id == external_id
    else:
        assert raw.external_id.startswith(("file:", "sha256:"))
