"""X end to end: mentions polled from the fake X API (tweepy on the injected transport) and signed
Account Activity deliveries, into the registry and back as one public reply with the tracking ID."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.fake_x import FakeXState
from tests.social_e2e.stack import (
    X_ACCOUNT,
    X_SECRETS,
    Social,
    assert_no_secrets,
    fixture,
    settle,
    social_stack,
    wait_until,
    x_signature,
)

MENTION_ID = "1764700000000001000"
AUTHOR = {"id": "31337", "name": "Warga Jakarta", "username": "warga31337"}
# Attachments whose URLs point inside the gateway's network: loopback and the cloud metadata address.
PRIVATE_MEDIA = [
    {"media_key": "3_1764700000000000991", "type": "photo", "url": "http://127.0.0.1:9/media/photo.jpg"},
    {"media_key": "3_1764700000000000992", "type": "photo", "url": "http://169.254.169.254/latest/meta-data/a.jpg"},
]


def mention() -> dict[str, Any]:
    return {
        "id": MENTION_ID,
        "text": "@LAPOR1708 Lampu penerangan jalan mati total di depan SDN 3 Cempaka Putih, rawan kecelakaan",
        "author_id": AUTHOR["id"],
        "conversation_id": MENTION_ID,
        "created_at": "2024-03-05T12:30:00.000Z",
        "lang": "in",
        "attachments": {"media_keys": [m["media_key"] for m in PRIVATE_MEDIA]},
        "entities": {"mentions": [{"start": 0, "end": 10, "username": "LAPOR1708", "id": X_ACCOUNT}]},
        "edit_history_tweet_ids": [MENTION_ID],
    }


async def one_filed(stack: Social) -> dict[str, Any]:
    async def filed() -> bool:
        return len(await stack.complaints()) == 1 and len(stack.x.posted_tweets) >= 1

    await wait_until(filed, what="a complaint in the registry and a public reply")
    await settle()
    [complaint] = await stack.complaints()
    assert len(stack.x.posted_tweets) == 1, stack.x.posted_tweets
    assert stack.x.posted_dms == []
    return complaint


def assert_public_reply(stack: Social, tracking_id: str, tweet_id: str) -> None:
    [tweet] = stack.x.posted_tweets
    assert tweet["reply"]["in_reply_to_tweet_id"] == tweet_id
    assert f"#{tracking_id}" in tweet["text"]
    # A public tweet says nothing of what the reporter wrote or who they are.
    assert "Lampu" not in tweet["text"] and "warga31337" not in tweet["text"]


async def test_polled_mention_to_registry_and_public_reply(tmp_path: Path) -> None:
    state = FakeXState(mentions=[mention()], users=[AUTHOR], media=list(PRIVATE_MEDIA))
    async with social_stack(tmp_path, allow_private=False, x_poll=True, x_state=state) as stack:
        complaint = await one_filed(stack)
        assert_public_reply(stack, complaint["tracking_id"], MENTION_ID)
        assert complaint["reporter"]["handle"] == "warga31337"
        # Both media URLs point at private addresses: refused, the complaint filed without them.
        [record] = await stack.records()
        assert [a.state for a in record.attachments] == ["unavailable", "unavailable"]
        assert [a["sha256"] for a in complaint["attachments"]] == [None, None]
        assert not stack.media_dir.exists()
        # Polled again and again with since_id: still one complaint, one reply.
        assert sum(1 for _, path, _ in stack.x.requests if path.endswith("/mentions")) >= 2
        assert len(await stack.complaints()) == 1
        assert_no_secrets(stack)


def activity_body() -> bytes:
    delivery = fixture("x", "activity_tweet_create.json")
    tweet = delivery["tweet_create_events"][0]
    tweet["text"] = "@LAPOR1708 Jalan di Jl. Kaliurang km 7 berlubang besar, sudah 2 bulan tidak diperbaiki"
    tweet["entities"]["urls"] = []
    for holder in (tweet["entities"], tweet):
        holder.pop("media", None)
    tweet.pop("extended_entities", None)
    return json.dumps(delivery).encode()


async def test_signed_webhook_to_registry_and_public_reply(tmp_path: Path) -> None:
    body = activity_body()
    async with social_stack(tmp_path) as stack:
        headers = {"x-twitter-webhooks-signature": x_signature(body)}
        assert await stack.post("/c/x/webhook", body, headers) == 200
        assert await stack.post("/c/x/webhook", body, headers) == 200  # a redelivery
        complaint = await one_filed(stack)
        assert_public_reply(stack, complaint["tracking_id"], "1764481938504630272")
        assert complaint["reporter"]["user_id"] == "987654321"
        assert_no_secrets(stack)


@pytest.mark.parametrize(
    "signature",
    [
        None,
        "sha256=AAAA",
        "sha256=" + "A" * 43 + "=",
        x_signature(b"{}"),
        x_signature(activity_body()).removeprefix("sha256="),
    ],
    ids=["missing", "garbage", "wrong-digest", "signature-of-another-body", "unprefixed"],
)
async def test_bad_signature_stores_nothing(tmp_path: Path, signature: str | None) -> None:
    body = activity_body()
    async with social_stack(tmp_path) as stack:
        headers = {} if signature is None else {"x-twitter-webhooks-signature": signature}
        assert await stack.post("/c/x/webhook", body, headers) == 403
        await settle(0.3)
        assert await stack.raw_count() == 0
        assert await stack.complaints() == []
        assert stack.x.posted_tweets == []
        assert X_SECRETS["consumer_secret"] not in stack.log_output()
