"""Telegram end to end: webhook (secret token) and long polling, into the registry and back with sendMessage."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.fake_telegram import FakeTelegramState
from tests.social_e2e.stack import (
    TELEGRAM_SECRET,
    Social,
    assert_no_secrets,
    fixture,
    jpeg,
    settle,
    social_stack,
    wait_until,
)

LARGEST_PHOTO = "AgACAgUAAxkBAAMFZf_large"


async def one_filed(stack: Social) -> dict[str, Any]:
    async def filed() -> bool:
        return len(await stack.complaints()) == 1 and len(stack.telegram.sent) >= 1

    await wait_until(filed, what="a complaint in the registry and an acknowledgement")
    await settle()
    [complaint] = await stack.complaints()
    assert len(stack.telegram.sent) == 1, stack.telegram.sent
    return complaint


@pytest.mark.parametrize(
    ("allow_private", "state"),
    [(True, "stored"), (False, "unavailable")],
    ids=["photo-stored", "private-address-refused"],
)
async def test_webhook_photo_to_registry_and_back(tmp_path: Path, allow_private: bool, state: str) -> None:
    telegram = FakeTelegramState()
    photo = jpeg("telegram-photo")
    telegram.files[LARGEST_PHOTO] = ("photos/file_7.jpg", photo)
    body = json.dumps(fixture("telegram", "message_photo.json")).encode()
    async with social_stack(tmp_path, allow_private=allow_private, telegram_state=telegram) as stack:
        headers = {"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET}
        assert await stack.post("/c/telegram/webhook", body, headers) == 200
        assert await stack.post("/c/telegram/webhook", body, headers) == 200  # a redelivery

        complaint = await one_filed(stack)
        tracking_id = complaint["tracking_id"]
        [ack] = stack.telegram.sent
        assert ack["chat_id"] == "555001234"
        assert f"#{tracking_id}" in ack["text"]
        assert ack["reply_parameters"]["message_id"] == 102

        [record] = await stack.records()
        [attachment] = record.attachments
        assert attachment.state == state
        [filed_attachment] = complaint["attachments"]
        if state == "stored":
            digest = hashlib.sha256(photo).hexdigest()
            assert attachment.sha256 == digest and attachment.size == len(photo)
            assert filed_attachment["sha256"] == digest
            assert (stack.media_dir / digest[:2] / digest[2:4] / digest).read_bytes() == photo
        else:
            assert attachment.sha256 is None and filed_attachment["sha256"] is None
            assert not stack.media_dir.exists()
            assert "private_address" in stack.log_output()
        assert_no_secrets(stack)


@pytest.mark.parametrize(
    "headers",
    [{}, {"X-Telegram-Bot-Api-Secret-Token": "wrong-secret"}, {"X-Telegram-Bot-Api-Secret-Token": ""}],
    ids=["missing-secret", "wrong-secret", "empty-secret"],
)
async def test_webhook_without_the_secret_stores_nothing(tmp_path: Path, headers: dict[str, str]) -> None:
    body = json.dumps(fixture("telegram", "message_text.json")).encode()
    async with social_stack(tmp_path) as stack:
        assert await stack.post("/c/telegram/webhook", body, headers) == 403
        await settle(0.3)
        assert await stack.raw_count() == 0
        assert await stack.complaints() == []
        assert stack.telegram.sent == []
        assert_no_secrets(stack)


async def test_polling_to_registry_and_back(tmp_path: Path) -> None:
    telegram = FakeTelegramState()
    update = fixture("telegram", "message_text.json")
    telegram.updates.append(update)
    async with social_stack(tmp_path, telegram_mode="polling", telegram_state=telegram) as stack:
        complaint = await one_filed(stack)
        [ack] = stack.telegram.sent
        assert ack["chat_id"] == "555001234"
        assert f"#{complaint['tracking_id']}" in ack["text"]
        # The update was confirmed: later getUpdates calls start after it.
        assert any(call.get("offset") == update["update_id"] + 1 for call in stack.telegram.get_updates_calls)
        assert stack.telegram.updates == []
        # In polling mode there is no webhook to post to.
        body = json.dumps(fixture("telegram", "message_photo.json")).encode()
        assert await stack.post("/c/telegram/webhook", body, {"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET}) \
            == 404
        assert await stack.raw_count() == 1
        assert_no_secrets(stack)
