"""Meta (WhatsApp Cloud API) end to end: signed webhook, media from the Graph API, reply inside the 24 h window."""

from __future__ import annotations

import copy
import hashlib
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from gateway.messages import utcnow
from tests.social_e2e.stack import (
    META_APP_SECRET,
    PHONE_NUMBER_ID,
    Social,
    assert_no_secrets,
    fixture,
    jpeg,
    meta_signature,
    settle,
    social_stack,
    wait_until,
)

MEDIA_ID = "1479537139650973"
REPORTER = "6281234567890"


async def one_filed(stack: Social) -> dict[str, Any]:
    async def filed() -> bool:
        return len(await stack.complaints()) == 1 and len(stack.graph.sent) >= 1

    await wait_until(filed, what="a complaint in the registry and a WhatsApp acknowledgement")
    await settle()
    [complaint] = await stack.complaints()
    assert len(stack.graph.sent) == 1, stack.graph.sent
    return complaint


def assert_whatsapp_ack(stack: Social, tracking_id: str, wamid: str) -> None:
    [(node, message)] = stack.graph.sent
    assert node == PHONE_NUMBER_ID
    assert message["to"] == REPORTER
    # Inside the customer-service window: a free-form text, not the template.
    assert message["type"] == "text"
    assert f"#{tracking_id}" in message["text"]["body"]
    assert message["context"] == {"message_id": wamid}


async def assert_reply_meta(stack: Social, tracking_id: str) -> None:
    [row] = await stack.replies()
    meta = json.loads(row["meta"])
    assert meta["tracking_id"] == tracking_id
    inbound = datetime.fromisoformat(meta["last_inbound_at"])
    assert inbound.tzinfo is not None and utcnow() - inbound < timedelta(minutes=5)
    assert row["state"] == "sent"


async def test_text_to_registry_and_back(tmp_path: Path) -> None:
    delivery = fixture("meta", "whatsapp_text.json")
    body = json.dumps(delivery).encode()
    async with social_stack(tmp_path) as stack:
        assert await stack.post("/c/meta/webhook", body, {"X-Hub-Signature-256": meta_signature(body)}) == 200
        assert await stack.post("/c/meta/webhook", body, {"X-Hub-Signature-256": meta_signature(body)}) == 200

        complaint = await one_filed(stack)
        wamid = delivery["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
        assert_whatsapp_ack(stack, complaint["tracking_id"], wamid)
        await assert_reply_meta(stack, complaint["tracking_id"])
        # #anonim: the registry never gets the reporter's number.
        assert complaint["anonim"] is True and "reporter" not in complaint
        assert_no_secrets(stack)


@pytest.mark.parametrize(
    ("allow_private", "state"),
    [(True, "stored"), (False, "unavailable")],
    ids=["image-stored", "private-address-refused"],
)
async def test_image_media_from_the_graph_api(tmp_path: Path, allow_private: bool, state: str) -> None:
    delivery = fixture("meta", "whatsapp_image.json")
    body = json.dumps(delivery).encode()
    image = jpeg("whatsapp-image")
    async with social_stack(tmp_path, allow_private=allow_private) as stack:
        stack.graph.media[MEDIA_ID] = image
        assert await stack.post("/c/meta/webhook", body, {"X-Hub-Signature-256": meta_signature(body)}) == 200

        complaint = await one_filed(stack)
        wamid = delivery["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
        assert_whatsapp_ack(stack, complaint["tracking_id"], wamid)
        [record] = await stack.records()
        [attachment] = record.attachments
        [filed] = complaint["attachments"]
        assert attachment.state == state
        if state == "stored":
            digest = hashlib.sha256(image).hexdigest()
            assert attachment.sha256 == filed["sha256"] == digest
            assert attachment.size == filed["size"] == len(image)
            assert (stack.media_dir / digest[:2] / digest[2:4] / digest).read_bytes() == image
        else:
            # The Graph API's download URL is on 127.0.0.1: refused, and the complaint filed anyway.
            assert attachment.sha256 is None and filed["sha256"] is None
            assert "private_address" in stack.log_output()
        assert_no_secrets(stack)


async def test_missing_media_is_unavailable_not_lost(tmp_path: Path) -> None:
    body = json.dumps(fixture("meta", "whatsapp_image.json")).encode()
    async with social_stack(tmp_path) as stack:  # the Graph API does not know the media id
        assert await stack.post("/c/meta/webhook", body, {"X-Hub-Signature-256": meta_signature(body)}) == 200
        await one_filed(stack)
        [record] = await stack.records()
        assert [a.state for a in record.attachments] == ["unavailable"]
        assert "lookup_failed" in stack.log_output()


def _tampered(body: bytes) -> dict[str, str]:
    delivery = json.loads(body)
    changed = copy.deepcopy(delivery)
    changed["entry"][0]["changes"][0]["value"]["messages"][0]["text"]["body"] = "diubah"
    return {"X-Hub-Signature-256": meta_signature(json.dumps(changed).encode())}


@pytest.mark.parametrize(
    "headers",
    [
        lambda body: {},
        lambda body: {"X-Hub-Signature-256": "sha256=" + "0" * 64},
        lambda body: {"X-Hub-Signature-256": meta_signature(body).removeprefix("sha256=")},
        _tampered,
    ],
    ids=["missing-signature", "wrong-signature", "unprefixed-signature", "signature-of-another-body"],
)
async def test_bad_signature_stores_nothing(tmp_path: Path, headers: Any) -> None:
    body = json.dumps(fixture("meta", "whatsapp_text.json")).encode()
    async with social_stack(tmp_path) as stack:
        assert await stack.post("/c/meta/webhook", body, headers(body)) == 403
        await settle(0.3)
        assert await stack.raw_count() == 0
        assert await stack.complaints() == []
        assert stack.graph.sent == []
        assert META_APP_SECRET not in stack.log_output()
