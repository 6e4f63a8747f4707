"""The reply outbox through the real Twilio channel and the local Twilio sandbox: sent once, never twice."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from aiohttp import web
from aiohttp.typedefs import Handler

from channels.base import ChannelContext
from channels.twilio import TwilioChannel, TwilioConfig
from gateway.dispatcher import Dispatcher
from gateway.messages import utcnow
from gateway.registry.lapor import LaporClient
from gateway.replies import ReplySender, outgoing
from gateway.sandbox.twilio import TwilioSandbox
from gateway.storage.archive import Archive
from gateway.storage.claims import claim
from gateway.storage.cursors import DatabaseCursors, DatabaseDeliveries
from gateway.storage.db import Database
from gateway.storage.tables import reply
from tests.dispatcher.fast_settings import FAST
from tests.dispatcher.outbox_state import (
    complaint_rows,
    drain,
    drain_replies,
    expire_leases,
    make_complaints,
    replies,
)
from tests.dispatcher.sim_harness import SimHandle
from tests.pipeline.twilio_raws import SHORT_CODE, numbered_raws
from tests.support.ports import free_port

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "twilio-test-auth-token-5d2b"
PUBLIC_URL = "https://gateway.example.go.id"


@dataclass
class TwilioFake:
    """The sandbox, its URL, and the API calls it answered."""

    sandbox: TwilioSandbox
    url: str
    calls: list[tuple[str, str, int]] = field(default_factory=list)

    def count(self, method: str) -> int:
        """Calls to the Messages resource with this method."""
        return sum(1 for m, path, _ in self.calls if m == method and path.endswith("/Messages.json"))


@pytest.fixture
async def twilio_fake() -> AsyncIterator[TwilioFake]:
    """TwilioSandbox served on a free loopback port."""
    sandbox = TwilioSandbox(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN)
    port = free_port()
    fake = TwilioFake(sandbox, f"http://127.0.0.1:{port}")

    @web.middleware
    async def record(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            fake.calls.append((request.method, request.path, exc.status))
            raise
        fake.calls.append((request.method, request.path, response.status))
        return response

    app = sandbox.app()
    app.middlewares.append(record)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", port).start()
        yield fake
    finally:
        await runner.cleanup()


def twilio_channel(db: Database, fake: TwilioFake, *, auth_token: str = AUTH_TOKEN) -> TwilioChannel:
    """The real Twilio channel, its REST client pointed at the sandbox."""
    config = TwilioConfig(enabled=True, account_sid=ACCOUNT_SID, auth_token=auth_token, api_base_url=fake.url,
                          timeout_seconds=5.0)
    context = ChannelContext(sink=Archive(db), public_url=PUBLIC_URL, cursors=DatabaseCursors(db),
                             deliveries=DatabaseDeliveries(db))
    return TwilioChannel(config=config, context=context)


async def acked_complaint(db: Database, lapor: LaporClient, count: int = 1) -> list[str]:
    """Complaints filed with the registry, each with its acknowledgement waiting in the reply outbox."""
    ids = await make_complaints(db, numbered_raws(count, prefix="SMack"))
    await drain(Dispatcher(db, lapor, FAST, worker_id="w"), db)
    assert len(await replies(db)) == count
    return ids


async def test_ack_is_sent_once_and_stored_with_the_provider_id(
    db: Database, sim: SimHandle, lapor: LaporClient, twilio_fake: TwilioFake
) -> None:
    (cid,) = await acked_complaint(db, lapor)
    sender = ReplySender(db, {"twilio": twilio_channel(db, twilio_fake)}, FAST)
    assert await sender.send_pending() == 1
    assert await sender.send_pending() == 0

    (sent,) = twilio_fake.sandbox.messages
    (row,) = await replies(db)
    tracking_id = (await complaint_rows(db))[cid].tracking_id
    assert (row.state, row.provider_id, row.delivery_status, row.attempts) == ("sent", sent["sid"], "queued", 1)
    assert row.sent_at is not None and row.locked_until is None and row.last_error is None
    assert (sent["to"], sent["from"], sent["body"]) == (row.address, SHORT_CODE, row.text)
    assert f"#{tracking_id}" in sent["body"]
    assert sent["status_callback"] == f"{PUBLIC_URL}/c/twilio/status"


async def test_fresh_reply_is_sent_without_searching_the_provider_first(
    db: Database, sim: SimHandle, lapor: LaporClient, twilio_fake: TwilioFake
) -> None:
    await acked_complaint(db, lapor, count=3)
    await drain_replies(ReplySender(db, {"twilio": twilio_channel(db, twilio_fake)}, FAST), db)
    assert twilio_fake.count("POST") == 3
    # find_sent is for replies a crashed process left in `sending`, not for every reply.
    assert twilio_fake.count("GET") == 0


async def test_provider_error_is_retried_and_sent_once(
    db: Database, sim: SimHandle, lapor: LaporClient, twilio_fake: TwilioFake
) -> None:
    await acked_complaint(db, lapor)
    twilio_fake.sandbox.fail_next = 1
    sender = ReplySender(db, {"twilio": twilio_channel(db, twilio_fake)}, FAST)
    assert await sender.send_pending() == 1
    (row,) = await replies(db)
    assert (row.state, row.attempts) == ("pending", 1)
    assert "twilio unavailable" in row.last_error
    assert twilio_fake.sandbox.messages == []

    await drain_replies(sender, db)
    (row,) = await replies(db)
    (sent,) = twilio_fake.sandbox.messages
    assert (row.state, row.provider_id, row.attempts) == ("sent", sent["sid"], 2)
    assert [status for method, _, status in twilio_fake.calls if method == "POST"] == [500, 201]


@pytest.mark.parametrize("sent_before_crash", [True, False], ids=["crash-after-send", "crash-before-send"])
async def test_reply_left_sending_by_a_crash_is_not_sent_twice(
    db: Database, sim: SimHandle, lapor: LaporClient, twilio_fake: TwilioFake, sent_before_crash: bool
) -> None:
    await acked_complaint(db, lapor)
    channel = twilio_channel(db, twilio_fake)
    lease = timedelta(seconds=FAST.lease_seconds)
    # The crashed process: claims the reply as the sender does, maybe hands it to Twilio, dies.
    (row,) = await claim(db, reply, ready=reply.c.state == "pending", order_by=reply.c.next_attempt_at, limit=1,
                         values={"state": "sending", "locked_until": utcnow() + lease})
    if sent_before_crash:
        await channel.send(outgoing(row))
    assert len(twilio_fake.sandbox.messages) == int(sent_before_crash)

    sender = ReplySender(db, {"twilio": channel}, FAST)
    assert await sender.send_pending() == 0, "a live lease is respected"
    await expire_leases(db, reply)
    await drain_replies(sender, db)

    (sent,) = twilio_fake.sandbox.messages
    (row,) = await replies(db)
    assert (row.state, row.provider_id) == ("sent", sent["sid"])


@pytest.mark.parametrize(
    ("channels", "state", "error", "not_before"),
    [("wrong-token", "dead", "twilio rejected the credentials", 0.0),
     ("none", "pending", "channel_not_running", 59.0)],
    ids=["rejected-credentials-dead", "channel-not-running-later"],
)
async def test_replies_that_cannot_go_now(
    db: Database, sim: SimHandle, lapor: LaporClient, twilio_fake: TwilioFake,
    channels: str, state: str, error: str, not_before: float,
) -> None:
    await acked_complaint(db, lapor)
    running: dict[str, Any] = {}
    if channels == "wrong-token":
        running["twilio"] = twilio_channel(db, twilio_fake, auth_token="not-the-token")
    before = utcnow()
    assert await ReplySender(db, running, FAST).send_pending() == 1
    (row,) = await replies(db)
    assert (row.state, row.attempts) == (state, 1)
    assert error in row.last_error
    assert AUTH_TOKEN not in row.last_error and "not-the-token" not in row.last_error
    if not_before:
        assert row.next_attempt_at >= before + timedelta(seconds=not_before)
    assert twilio_fake.sandbox.messages == []


async def test_delivery_status_callback_lands_on_the_sent_reply(
    db: Database, sim: SimHandle, lapor: LaporClient, twilio_fake: TwilioFake
) -> None:
    await acked_complaint(db, lapor)
    channel = twilio_channel(db, twilio_fake)
    await drain_replies(ReplySender(db, {"twilio": channel}, FAST), db)
    (sent,) = twilio_fake.sandbox.messages
    assert await DatabaseDeliveries(db).record_delivery("twilio", sent["sid"], "delivered")
    (row,) = await replies(db)
    assert row.delivery_status == "delivered"
    assert not await DatabaseDeliveries(db).record_delivery("twilio", "SMnot-ours", "delivered")


async def test_rejected_credentials_while_recovering_a_crashed_send_are_a_dead_letter(
    db: Database, sim: SimHandle, lapor: LaporClient, twilio_fake: TwilioFake
) -> None:
    await acked_complaint(db, lapor)
    await claim(db, reply, ready=reply.c.state == "pending", order_by=reply.c.next_attempt_at, limit=1,
                values={"state": "sending", "locked_until": utcnow() - timedelta(seconds=1)})
    channel = twilio_channel(db, twilio_fake, auth_token="not-the-token")
    assert await ReplySender(db, {"twilio": channel}, FAST).send_pending() == 1
    (row,) = await replies(db)
    # find_sent's 401 is a configuration error like send's, not "twilio unreachable" retried for hours.
    assert (row.state, row.attempts) == ("dead", 1), row.last_error
    assert "twilio rejected the credentials" in row.last_error
