"""X, Meta and Telegram webhooks and pollers through the real archive and cursor tables (SQLite)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from aiohttp.test_utils import TestClient, TestServer

from channels.base import Channel, ChannelContext
from channels.meta import MetaChannel, MetaConfig
from channels.telegram import TelegramChannel, TelegramConfig
from channels.x import XChannel, XConfig
from gateway.storage.archive import Archive
from gateway.storage.cursors import DatabaseCursors, DatabaseDeliveries
from gateway.storage.db import Database
from gateway.storage.tables import channel_cursor, raw_message
from tests.channels.social_doubles import channel_app
from tests.fakes.fake_telegram import FakeTelegramState, build_app

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.fixture
async def database(sqlite_url: str) -> AsyncIterator[Database]:
    db = Database(sqlite_url)
    yield db
    await db.dispose()


@pytest.fixture
async def context(database: Database) -> AsyncIterator[ChannelContext]:
    archive = Archive(database)
    yield ChannelContext(sink=archive, public_url="http://127.0.0.1:8080", cursors=DatabaseCursors(database),
                         deliveries=DatabaseDeliveries(database))
    await archive.close()


async def rows(database: Database) -> list[Any]:
    async with database.connect() as connection:
        query = sa.select(raw_message.c.channel, raw_message.c.event, raw_message.c.external_id,
                          raw_message.c.payload).order_by(raw_message.c.external_id)
        return list((await connection.execute(query)).all())


def x_headers(body: bytes) -> dict[str, str]:
    digest = hmac.new(b"consumer-secret", body, hashlib.sha256).digest()
    return {"x-twitter-webhooks-signature": "sha256=" + base64.b64encode(digest).decode()}


def meta_headers(body: bytes) -> dict[str, str]:
    return {"X-Hub-Signature-256": "sha256=" + hmac.new(b"app-secret", body, hashlib.sha256).hexdigest()}


def telegram_headers(_body: bytes) -> dict[str, str]:
    return {"X-Telegram-Bot-Api-Secret-Token": "hook-secret"}


def make(name: str, context: ChannelContext) -> Channel:
    if name == "x":
        return XChannel(config=XConfig(enabled=True, consumer_secret="consumer-secret", poll=False), context=context)
    if name == "meta":
        return MetaChannel(config=MetaConfig(enabled=True, app_secret="app-secret"), context=context)
    return TelegramChannel(config=TelegramConfig(enabled=True, webhook_secret_token="hook-secret"), context=context)


CASES = [
    ("x", "x/activity_tweet_create.json", x_headers, [("activity_tweet", "1764481938504630272")]),
    ("meta", "meta/whatsapp_batch.json", meta_headers,
     [("status", "status:wamid.OUR_ACK_0003:read"), ("whatsapp_message", "wamid.HBgNNjI4MTIzNDU2Nzg5MBUCABIYFjNFQjA11"),
      ("whatsapp_message", "wamid.SECOND_IN_BATCH")]),
    ("telegram", "telegram/message_text.json", telegram_headers, [("message", "555001234:101")]),
]


@pytest.mark.parametrize(("name", "fixture", "headers", "expected"), [c for c in CASES], ids=[c[0] for c in CASES])
async def test_webhook_stores_once_and_rejects_bad_signatures(
    context: ChannelContext, database: Database, name: str, fixture: str, headers: Any,
    expected: list[tuple[str, str]],
) -> None:
    channel = make(name, context)
    body = (FIXTURES / fixture).read_bytes()
    async with TestClient(TestServer(channel_app(channel), host="127.0.0.1")) as client:
        bad = {key: value[:-4] + "AAAA" for key, value in headers(body).items()}
        assert (await client.post(f"/c/{name}/webhook", data=body, headers=bad)).status == 403
        assert await rows(database) == []
        for _ in range(2):  # a redelivery is a duplicate, not a second raw
            assert (await client.post(f"/c/{name}/webhook", data=body, headers=headers(body))).status == 200
    stored = await rows(database)
    assert [(row.event, row.external_id) for row in stored] == expected
    assert {row.channel for row in stored} == {name}
    if name == "telegram":
        assert bytes(stored[0].payload) == body


async def test_telegram_polling_offset_survives_in_the_database(context: ChannelContext, database: Database) -> None:
    bot = FakeTelegramState()
    bot.updates = [json.loads((FIXTURES / "telegram" / n).read_bytes())
                   for n in ("message_text.json", "message_photo.json")]
    server = TestServer(build_app(bot), host="127.0.0.1")
    await server.start_server(access_log=None)
    try:
        config = TelegramConfig(enabled=True, mode="polling", bot_token=bot.token, poll_timeout_seconds=0,
                                api_base_url=str(server.make_url("")).rstrip("/"))
        first = TelegramChannel(config=config, context=context)
        assert await first.poller().poll_once() == 2
        await first.close()
        again = TelegramChannel(config=config, context=context)  # a restart: only the database remembers
        assert await again.poller().poll_once() == 0
        await again.close()
    finally:
        await server.close()
    assert bot.get_updates_calls[-1]["offset"] == 830003
    async with database.connect() as connection:
        value = (await connection.execute(sa.select(channel_cursor.c.value))).scalar_one()
    assert value == "830003"
    assert len(await rows(database)) == 2
