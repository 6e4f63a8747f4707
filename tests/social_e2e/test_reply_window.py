"""The reply outbox hands Meta the reporter's last inbound time: text inside 24 hours, the template outside."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import aiohttp
import pytest
import sqlalchemy as sa

from channels.base import ChannelContext
from channels.meta import MetaChannel, MetaConfig
from config.settings import DispatchSettings
from gateway.dispatcher import enqueue_reply
from gateway.messages import utcnow
from gateway.replies import ReplySender
from gateway.storage.cursors import DatabaseCursors, DatabaseDeliveries
from gateway.storage.db import Database
from gateway.storage.tables import reply
from tests.channels.social_doubles import RecordingSink
from tests.fakes.fake_meta import FakeGraphState, build_app
from tests.social_e2e.stack import GRAPH_TOKEN, PHONE_NUMBER_ID, serve

TEMPLATE = "lapor_ack"
REPORTER = "6281234567890"


@dataclass
class Outbox:
    db: Database
    sender: ReplySender
    graph: FakeGraphState


@pytest.fixture
async def outbox(sqlite_url: str) -> AsyncIterator[Outbox]:
    graph = FakeGraphState(token=GRAPH_TOKEN)
    runner, graph_url = await serve(build_app(graph))
    db = Database(sqlite_url)
    async with aiohttp.ClientSession() as http:
        context = ChannelContext(sink=RecordingSink(), public_url="http://127.0.0.1:8080",
                                 cursors=DatabaseCursors(db), deliveries=DatabaseDeliveries(db), http=http)
        config = MetaConfig(enabled=True, access_token=GRAPH_TOKEN, graph_api_base_url=graph_url,
                            whatsapp_phone_number_id=PHONE_NUMBER_ID, whatsapp_template_name=TEMPLATE)
        channel = MetaChannel(config=config, context=context)
        yield Outbox(db, ReplySender(db, {"meta": channel}, DispatchSettings(max_attempts=1)), graph)
    await db.dispose()
    await runner.cleanup()


async def put(outbox: Outbox, *, address: str, meta: dict[str, str]) -> None:
    async with outbox.db.begin() as connection:
        await enqueue_reply(outbox.db, connection, dedup="ack:1", complaint_id="01HXAMPLE0000000000000000",
                            channel="meta", kind="ack", address=address, sender=PHONE_NUMBER_ID,
                            text="LAPOR!: Laporan Anda diterima, nomor #1916001.", meta=json.dumps(meta))


def hours_ago(hours: float) -> str:
    return (utcnow() - timedelta(hours=hours)).isoformat()


@pytest.mark.parametrize(
    ("address", "meta", "window_closed", "kinds", "state"),
    [
        (f"whatsapp:{REPORTER}", {"tracking_id": "1916001", "last_inbound_at": hours_ago(1)}, False,
         ["text"], "sent"),
        (f"whatsapp:{REPORTER}", {"tracking_id": "1916001", "last_inbound_at": hours_ago(30)}, False,
         ["template"], "sent"),
        # Unknown inbound time: text first; WhatsApp's 131047 (window closed) falls back to the template.
        (f"whatsapp:{REPORTER}", {"tracking_id": "1916001"}, True, ["text", "template"], "sent"),
        (f"whatsapp:{REPORTER}", {"tracking_id": "1916001", "last_inbound_at": "not a time"}, False,
         ["text"], "sent"),
        # Messenger has no template here: outside the window the reply is a dead letter, never sent.
        ("messenger:24000000001", {"tracking_id": "1916001", "last_inbound_at": hours_ago(30)}, False,
         [], "dead"),
    ],
    ids=["inside-window-text", "outside-window-template", "unknown-window-fallback", "unparsable-time",
         "messenger-outside-window"],
)
async def test_window_decides_text_or_template(
    outbox: Outbox, address: str, meta: dict[str, str], window_closed: bool, kinds: list[str], state: str
) -> None:
    if window_closed:
        outbox.graph.window_closed.add(REPORTER)
    await put(outbox, address=address, meta=meta)
    assert await outbox.sender.send_pending() == 1
    assert [body.get("type", "text") for _, body in outbox.graph.sent] == kinds
    for _, body in outbox.graph.sent:
        if body.get("type") == "template":
            assert body["template"]["name"] == TEMPLATE
            assert body["template"]["components"][0]["parameters"] == [{"type": "text", "text": "1916001"}]
    async with outbox.db.connect() as connection:
        row = (await connection.execute(sa.select(reply.c.state))).one()
    assert row.state == state
