"""The SMSSync channel over real HTTP, playing the phone: push messages, poll task=send, confirm, report."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from channels.base import ChannelContext, CredentialCheck, OutgoingReply
from channels.sms_encoding import segment_count
from channels.smssync import CursorReplyQueue, PendingReply, SmsSyncChannel, SmsSyncConfig, result_status
from gateway.errors import ConfigurationError
from gateway.records import Complaint
from normalizers.smssync import normalize
from tests.channels.social_doubles import (
    MemoryCursors,
    MemoryDeliveries,
    RecordingSink,
    captured_logs,
    channel_app,
    leaked,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "smssync"
SECRET = "smssync-test-secret"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
SUCCESS = {"payload": {"success": True, "error": None}}
Client = TestClient[web.Request, web.Application]


def form(name: str) -> bytes:
    return (FIXTURES / name).read_bytes().strip()


class Phone:
    """The SMSSync app's side of the protocol (PostMessage, ProcessMessageResult)."""

    def __init__(self, client: Client, secret: str = SECRET) -> None:
        self.client = client
        self.secret = secret

    async def push(self, body: bytes) -> tuple[int, Any]:
        response = await self.client.post("/c/smssync/sync", data=body, headers=FORM)
        return response.status, await response.json()

    async def task_send(self) -> tuple[int, Any]:
        response = await self.client.get("/c/smssync/sync", params={"task": "send", "secret": self.secret})
        return response.status, await response.json()

    async def task_sent(self, uuids: list[str]) -> tuple[int, Any]:
        # The app sends no secret with task=sent.
        response = await self.client.post("/c/smssync/sync?task=sent", json={"queued_messages": uuids})
        return response.status, await response.json()

    async def results_wanted(self) -> list[str]:
        response = await self.client.get("/c/smssync/sync", params={"task": "result", "secret": self.secret})
        assert response.status == 200
        return list((await response.json())["message_uuids"])

    async def report(self, body: bytes) -> int:
        response = await self.client.post(
            f"/c/smssync/sync?task=result&secret={self.secret}", data=body,
            headers={"Content-Type": "application/json; charset=utf-8"},
        )
        return response.status


class Env:
    def __init__(self, client: Client, channel: SmsSyncChannel, sink: RecordingSink,
                 deliveries: MemoryDeliveries) -> None:
        self.client, self.channel, self.sink, self.deliveries = client, channel, sink, deliveries
        self.phone = Phone(client)


async def start(**overrides: object) -> Env:
    settings: dict[str, object] = {"enabled": True, "secret": SECRET, **overrides}
    sink, deliveries = RecordingSink(), MemoryDeliveries()
    context = ChannelContext(sink=sink, public_url="http://127.0.0.1", cursors=MemoryCursors(), deliveries=deliveries)
    channel = SmsSyncChannel(config=SmsSyncConfig.model_validate(settings), context=context)
    client: Client = TestClient(TestServer(channel_app(channel)))
    await client.start_server()
    return Env(client, channel, sink, deliveries)


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    environment = await start()
    yield environment
    await environment.client.close()


@pytest.mark.parametrize(
    ("fixture", "status", "answer", "stored"),
    [
        ("message.form", 200, SUCCESS, True),
        ("message_unicode.form", 200, SUCCESS, True),
        ("message_missing_text.form", 200, SUCCESS, True),
        ("message_bad_secret.form", 403, {"payload": {"success": False, "error": "invalid secret"}}, False),
    ],
    ids=["message", "unicode", "missing-text-kept-for-quarantine", "bad-secret"],
)
async def test_phone_pushes_a_message(env: Env, fixture: str, status: int, answer: Any, stored: bool) -> None:
    assert await env.phone.push(form(fixture)) == (status, answer)
    if not stored:
        assert env.sink.stored == []
        return
    [raw] = env.sink.stored
    assert b"secret" not in raw.payload and SECRET.encode() not in raw.payload
    assert raw.meta["device_id"] in ("kecamatan-01", "")


async def test_message_without_secret_is_refused(env: Env) -> None:
    status, _ = await env.phone.push(b"from=%2B6281234567890&message=Halo&message_id=x")
    assert status == 403 and env.sink.stored == []


async def test_stored_message_normalizes(env: Env) -> None:
    await env.phone.push(form("message_unicode.form"))
    outcome = normalize(env.sink.stored[0])
    assert isinstance(outcome, Complaint)
    assert outcome.body.text == "Dalan rusak ꦥꦤ꧀ꦗꦼꦤꦼꦁ 🚧 ing desa Karangrejo"


async def test_duplicate_message_id_is_stored_once(env: Env) -> None:
    for _ in range(2):
        assert await env.phone.push(form("message.form")) == (200, SUCCESS)
    assert len(env.sink.stored) == 1 and env.sink.duplicates == 1
    assert env.sink.stored[0].external_id == "5e6f7a8b-1c2d-4e3f-8a9b-0c1d2e3f4a01"


def reply(reply_id: str, text: str = "LAPOR!: Laporan Anda diterima, nomor #1916449.", kind: str = "ack"
          ) -> OutgoingReply:
    return OutgoingReply(id=reply_id, channel="smssync", address="+6281234567890", text=text, kind=kind)


async def test_replies_go_out_through_the_phone(env: Env) -> None:
    result = await env.channel.send(reply("01JREPLY00000000000000000A"))
    await env.channel.send(reply("01JREPLY00000000000000000B", "Laporan diterima dan diteruskan ke dinas. " * 6))
    assert (result.provider_id, result.status) == ("01JREPLY00000000000000000A", "queued")

    status, polled = await env.phone.task_send()
    assert status == 200
    assert polled["payload"]["task"] == "send" and polled["payload"]["secret"] == SECRET
    messages = polled["payload"]["messages"]
    assert [m["uuid"] for m in messages] == ["01JREPLY00000000000000000A", "01JREPLY00000000000000000B"]
    assert messages[0] == {"to": "+6281234567890", "message": "LAPOR!: Laporan Anda diterima, nomor #1916449.",
                           "uuid": "01JREPLY00000000000000000A"}
    assert segment_count(messages[1]["message"]) == 1  # the acknowledgement is one SMS

    # Offered, not yet confirmed: the next poll within the lease does not hand them out again.
    assert (await env.phone.task_send())[1]["payload"]["messages"] == []

    status, confirmed = await env.phone.task_sent(["01JREPLY00000000000000000A", "01JREPLY00000000000000000B",
                                                   "01JUNKNOWN000000000000000Z"])
    assert (status, confirmed) == (200, {"message_uuids": ["01JREPLY00000000000000000A",
                                                           "01JREPLY00000000000000000B"]})
    assert await env.phone.results_wanted() == ["01JREPLY00000000000000000A", "01JREPLY00000000000000000B"]

    report = json.dumps({"message_result": [
        {"uuid": "01JREPLY00000000000000000A", "sent_result_code": 0, "sent_result_message": "SMSSync Message Sent",
         "delivered_result_code": 0, "delivered_result_message": "SMS Delivered"},
        {"uuid": "01JREPLY00000000000000000B", "sent_result_code": 0, "sent_result_message": "SMSSync Message Sent",
         "delivered_result_code": -1, "delivered_result_message": ""},
    ]}).encode()
    assert await env.phone.report(report) == 200
    assert [(r[1], r[2]) for r in env.deliveries.recorded] == [
        ("01JREPLY00000000000000000A", "delivered"), ("01JREPLY00000000000000000B", "sent")]
    assert await env.phone.results_wanted() == ["01JREPLY00000000000000000B"]  # still waiting for its report
    assert [raw.event for raw in env.sink.stored] == ["status"]


async def test_an_unconfirmed_reply_is_offered_again_after_the_lease() -> None:
    environment = await start(lease_seconds=0)
    try:
        await environment.channel.send(reply("01JREPLY00000000000000000A"))
        first = (await environment.phone.task_send())[1]["payload"]["messages"]
        again = (await environment.phone.task_send())[1]["payload"]["messages"]
        assert [m["uuid"] for m in first] == [m["uuid"] for m in again] == ["01JREPLY00000000000000000A"]
    finally:
        await environment.client.close()


async def test_without_the_results_api_a_reply_is_handed_out_once() -> None:
    environment = await start(results_api=False, lease_seconds=0)
    try:
        await environment.channel.send(reply("01JREPLY00000000000000000A"))
        assert len((await environment.phone.task_send())[1]["payload"]["messages"]) == 1
        assert (await environment.phone.task_send())[1]["payload"]["messages"] == []
    finally:
        await environment.client.close()


@pytest.mark.parametrize(
    ("method", "url", "body", "status"),
    [
        ("GET", "/c/smssync/sync?task=send&secret=wrong-secret-value", None, 403),
        ("GET", "/c/smssync/sync?task=send", None, 403),
        ("GET", f"/c/smssync/sync?task=result&secret=wrong-{SECRET}", None, 403),
        ("GET", f"/c/smssync/sync?task=reboot&secret={SECRET}", None, 400),
        ("POST", "/c/smssync/sync?task=sent&secret=wrong-secret-value", b'{"queued_messages": []}', 403),
        ("POST", "/c/smssync/sync?task=sent", b'{"queued": "x"}', 400),
        ("POST", "/c/smssync/sync?task=result&secret=wrong-secret-value", form("result.json"), 403),
        ("POST", f"/c/smssync/sync?task=result&secret={SECRET}", b'{"message_result": 3}', 400),
        ("POST", f"/c/smssync/sync?task=reboot&secret={SECRET}", b"", 400),
    ],
    ids=["send-bad-secret", "send-no-secret", "result-bad-secret", "unknown-get-task", "sent-bad-secret",
         "sent-malformed", "result-post-bad-secret", "result-malformed", "unknown-post-task"],
)
async def test_task_failures(env: Env, method: str, url: str, body: bytes | None, status: int) -> None:
    await env.channel.send(reply("01JREPLY00000000000000000A"))
    response = await env.client.request(method, url, data=body)
    assert response.status == status
    assert env.deliveries.recorded == [] and env.sink.stored == []
    assert (await env.phone.task_send())[1]["payload"]["messages"] != []  # nothing was handed out


@pytest.mark.parametrize(
    ("item", "status"),
    [
        ({"sent_result_code": 0, "delivered_result_code": 0}, "delivered"),
        ({"sent_result_code": 0, "delivered_result_code": -1}, "sent"),
        ({"sent_result_code": 0}, "sent"),
        ({"sent_result_code": 4, "delivered_result_code": -1}, "failed"),
        ({"sent_result_code": 0, "delivered_result_code": 2}, "failed"),
    ],
    ids=["delivered", "sent-awaiting-report", "sent-no-report-field", "no-service", "not-delivered"],
)
def test_result_status(item: dict[str, object], status: str) -> None:
    assert result_status(item) == status


async def test_check_credentials_follows_the_phone_polling(env: Env) -> None:
    assert await env.channel.check_credentials() is CredentialCheck.CANNOT_CONNECT
    await env.phone.task_send()
    assert await env.channel.check_credentials() is CredentialCheck.OK
    await env.channel.context.cursors.set("smssync", "last_poll", (datetime.now(UTC) - timedelta(hours=2)).isoformat())
    assert await env.channel.check_credentials() is CredentialCheck.CANNOT_CONNECT


async def test_check_credentials_without_a_secret() -> None:
    context = ChannelContext(sink=RecordingSink(), public_url="", cursors=MemoryCursors(),
                             deliveries=MemoryDeliveries())
    channel = SmsSyncChannel(config=SmsSyncConfig(), context=context)
    assert await channel.check_credentials() is CredentialCheck.INVALID_AUTH
    with pytest.raises(ConfigurationError):
        SmsSyncChannel(config=SmsSyncConfig(enabled=True), context=context)


async def test_cursor_queue_is_idempotent_and_forgets_settled_replies() -> None:
    queue = CursorReplyQueue(MemoryCursors())
    now = datetime(2026, 12, 1, tzinfo=UTC)
    for _ in range(2):
        await queue.enqueue("smssync", PendingReply("u1", "+62812", "halo"))
    assert len(await queue.claim("smssync", limit=10, lease=timedelta(minutes=5), now=now)) == 1
    assert await queue.confirm("smssync", ["u1", "u1"]) == ["u1"]
    assert await queue.confirm("smssync", ["u1"]) == ["u1"]  # a repeated confirmation is answered the same
    await queue.settle("smssync", ["u1"])
    assert await queue.awaiting_result("smssync", limit=10) == []
    assert await queue.confirm("smssync", ["u1"]) == []
    assert await queue.claim("smssync", limit=10, lease=timedelta(0), now=now + timedelta(hours=1)) == []


async def test_secret_never_reaches_the_logs(env: Env) -> None:
    with captured_logs() as lines:
        await env.phone.push(form("message.form"))
        await env.phone.push(form("message_bad_secret.form"))
        await env.channel.send(reply("01JREPLY00000000000000000A"))
        await env.phone.task_send()
        await Phone(env.client, secret="wrong-secret-value").task_send()
    ours = [line for line in lines if not line.startswith("aiohttp.access")]  # the gateway runs access_log=None
    assert ours
    assert leaked(ours, [SECRET, "wrong-secret-value"]) == []


async def test_delivery_results_fixture(env: Env) -> None:
    assert await env.phone.report(form("result.json")) == 200
    assert [r[1:] for r in env.deliveries.recorded] == [
        ("01JREPLY00000000000000000A", "delivered", ""),
        ("01JREPLY00000000000000000B", "failed", "No service"),  # kept as the reply's last error
        ("01JREPLY00000000000000000C", "sent", ""),
    ]
