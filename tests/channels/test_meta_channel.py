"""The Meta channel: webhook verification, signed deliveries, Graph API replies, credentials, logs."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from channels.base import CredentialCheck, OutgoingReply
from channels.media_fetch import FetchedMedia, fetch_media
from channels.meta import MetaChannel, MetaConfig
from gateway.errors import PermanentFailure, TransientFailure
from gateway.messages import utcnow
from tests.channels.social_doubles import (
    MemoryDeliveries,
    RecordingSink,
    captured_logs,
    channel_app,
    leaked,
    memory_context,
)
from tests.fakes.fake_meta import FakeGraphState, build_app
from tests.support.ports import closed_url

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "meta"
APP_SECRET = "test-app-secret"
VERIFY_TOKEN = "test-verify-token"


@pytest.fixture
def graph() -> FakeGraphState:
    return FakeGraphState()


@pytest.fixture
async def graph_url(graph: FakeGraphState) -> AsyncIterator[str]:
    server = TestServer(build_app(graph), host="127.0.0.1")
    await server.start_server()
    yield str(server.make_url("")).rstrip("/")
    await server.close()


@pytest.fixture
async def make_channel(graph_url: str, graph: FakeGraphState) -> AsyncIterator[Callable[..., MetaChannel]]:
    made: list[MetaChannel] = []

    def make(**overrides: Any) -> MetaChannel:
        values: dict[str, Any] = {
            "enabled": True, "app_secret": APP_SECRET, "verify_token": VERIFY_TOKEN, "access_token": graph.token,
            "graph_api_base_url": graph_url, "graph_api_version": graph.version,
            "whatsapp_phone_number_id": "106540352242922", "page_id": "1708000000001",
            "whatsapp_template_name": "lapor_tindak_lanjut",
        }
        values.update(overrides)
        channel = MetaChannel(config=MetaConfig(**values), context=memory_context(max_body_bytes=65_536))
        made.append(channel)
        return channel

    yield make
    for channel in made:
        await channel.close()


@pytest.fixture
async def webhook(make_channel: Callable[..., MetaChannel]) -> AsyncIterator[tuple[MetaChannel, TestClient[Any, Any]]]:
    channel = make_channel()
    client = TestClient(TestServer(channel_app(channel), host="127.0.0.1"))
    await client.start_server()
    yield channel, client
    await client.close()


def sign(body: bytes, secret: str = APP_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def sink_of(channel: MetaChannel) -> RecordingSink:
    sink = channel.context.sink
    assert isinstance(sink, RecordingSink)
    return sink


def deliveries_of(channel: MetaChannel) -> MemoryDeliveries:
    deliveries = channel.context.deliveries
    assert isinstance(deliveries, MemoryDeliveries)
    return deliveries


VERIFY = [
    ("ok", {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158201444"}, 200),
    ("wrong-token", {"hub.mode": "subscribe", "hub.verify_token": "nope", "hub.challenge": "1"}, 403),
    ("wrong-mode", {"hub.mode": "unsubscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1"}, 403),
    ("no-token", {"hub.mode": "subscribe", "hub.challenge": "1"}, 403),
]


@pytest.mark.parametrize(("query", "status"), [r[1:] for r in VERIFY], ids=[r[0] for r in VERIFY])
async def test_subscription_verification(
    webhook: tuple[MetaChannel, TestClient[Any, Any]], query: dict[str, str], status: int
) -> None:
    _channel, client = webhook
    response = await client.get("/c/meta/webhook", params=query)
    assert response.status == status
    if status == 200:
        assert await response.text() == "1158201444"


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


DELIVERIES = [
    ("wa-text", "whatsapp_text.json", "good", 200, ["whatsapp_message"], []),
    ("wa-batch", "whatsapp_batch.json", "good", 200, ["whatsapp_message", "whatsapp_message", "status"],
     [("wamid.OUR_ACK_0003", "read")]),
    ("wa-statuses", "whatsapp_status.json", "good", 200, ["status", "status"],
     [("wamid.OUR_ACK_0001", "delivered"), ("wamid.OUR_ACK_0002", "failed")]),
    ("messenger", "messenger_text.json", "good", 200, ["messenger_message"], []),
    ("messenger-echo", "messenger_echo.json", "good", 200, ["echo"], []),
    ("messenger-delivery", "messenger_delivery.json", "good", 200, ["status"], [("m_our_reply_0001", "delivered")]),
    ("messenger-reaction", "messenger_reaction.json", "good", 200, ["unknown"], []),
    ("instagram", "instagram_text.json", "good", 200, ["instagram_message"], []),
    ("unknown-object", "unknown_object.json", "good", 200, ["unknown"], []),
    ("bad-signature", "whatsapp_text.json", "bad", 403, [], []),
    ("missing-signature", "whatsapp_text.json", "missing", 403, [], []),
]


@pytest.mark.parametrize(("name", "signature", "status", "events", "statuses"), [r[1:] for r in DELIVERIES],
                         ids=[r[0] for r in DELIVERIES])
async def test_webhook_delivery(
    webhook: tuple[MetaChannel, TestClient[Any, Any]],
    name: str, signature: str, status: int, events: list[str], statuses: list[tuple[str, str]],
) -> None:
    channel, client = webhook
    body = fixture_bytes(name)
    headers = {"Content-Type": "application/json"}
    if signature == "good":
        headers["X-Hub-Signature-256"] = sign(body)
    elif signature == "bad":
        headers["X-Hub-Signature-256"] = sign(body, "wrong-secret")
    response = await client.post("/c/meta/webhook", data=body, headers=headers)
    assert response.status == status
    assert [raw.event for raw in sink_of(channel).stored] == events
    assert [(p, s) for _c, p, s, _d in deliveries_of(channel).recorded] == statuses


async def test_batch_messages_each_get_their_wamid_and_own_contact(
    webhook: tuple[MetaChannel, TestClient[Any, Any]],
) -> None:
    channel, client = webhook
    body = fixture_bytes("whatsapp_batch.json")
    await client.post("/c/meta/webhook", data=body, headers={"X-Hub-Signature-256": sign(body)})
    first, second, _status = sink_of(channel).stored
    assert second.external_id == "wamid.SECOND_IN_BATCH"
    assert b'"Andi"' in second.payload and b'"Sari"' not in second.payload
    assert first.meta["delivery_sha256"] == hashlib.sha256(body).hexdigest()


async def test_redelivery_and_oversized_and_not_json(webhook: tuple[MetaChannel, TestClient[Any, Any]]) -> None:
    channel, client = webhook
    body = fixture_bytes("whatsapp_text.json")
    for _ in range(2):
        assert (await client.post("/c/meta/webhook", data=body, headers={"X-Hub-Signature-256": sign(body)})).ok
    assert sink_of(channel).duplicates == 1
    big = b"{" + b" " * 70_000 + b"}"
    response = await client.post("/c/meta/webhook", data=big, headers={"X-Hub-Signature-256": sign(big)})
    assert response.status == 413
    junk = b"<xml>not json</xml>"
    assert (await client.post("/c/meta/webhook", data=junk, headers={"X-Hub-Signature-256": sign(junk)})).ok
    assert [r.event for r in sink_of(channel).stored] == ["whatsapp_message", "unknown"]


def reply(address: str, *, inbound_hours_ago: float | None = 1, **overrides: Any) -> OutgoingReply:
    meta = {} if inbound_hours_ago is None else {
        "last_inbound_at": (utcnow() - timedelta(hours=inbound_hours_ago)).isoformat()}
    values: dict[str, Any] = {"id": "r1", "channel": "meta", "address": address, "text": "Laporan #1916449 diterima",
                              "tracking_id": "1916449", "in_reply_to": "wamid.IN_1", "meta": meta}
    values.update(overrides)
    return OutgoingReply(**values)


SENDS = [
    ("wa-in-window", reply("whatsapp:6281234567890"), "106540352242922", "text"),
    ("wa-outside-window", reply("whatsapp:6281234567890", inbound_hours_ago=30), "106540352242922", "template"),
    ("wa-unknown-window-open", reply("whatsapp:6281234567890", inbound_hours_ago=None), "106540352242922", "text"),
    ("wa-unknown-window-closed", reply("whatsapp:6280000000001", inbound_hours_ago=None), "106540352242922",
     "template"),
    ("messenger", reply("messenger:7001234567890123"), "1708000000001", "messenger"),
    ("instagram-own-sender", reply("instagram:1122334455667788", sender="17841400000000001"), "17841400000000001",
     "messenger"),
]


@pytest.mark.parametrize(("outgoing", "node", "kind"), [r[1:] for r in SENDS], ids=[r[0] for r in SENDS])
async def test_send(
    make_channel: Callable[..., MetaChannel], graph: FakeGraphState, outgoing: OutgoingReply, node: str, kind: str
) -> None:
    graph.window_closed.add("6280000000001")
    result = await make_channel().send(outgoing)
    sent_node, body = graph.sent[-1]
    assert sent_node == node
    if kind == "messenger":
        assert body["message"] == {"text": "Laporan #1916449 diterima"}
        assert result.provider_id and result.provider_id.startswith("m_OUT_")
        return
    assert result.provider_id and result.provider_id.startswith("wamid.OUT_")
    assert body["type"] == kind
    if kind == "template":
        assert body["template"]["name"] == "lapor_tindak_lanjut"
        assert body["template"]["components"][0]["parameters"] == [{"type": "text", "text": "1916449"}]
    else:
        assert body["text"]["body"] == "Laporan #1916449 diterima"
        assert body["context"] == {"message_id": "wamid.IN_1"}


SEND_FAILURES = [
    ("messenger-outside-window", {}, reply("messenger:700", inbound_hours_ago=48), None, PermanentFailure),
    ("no-template-configured", {"whatsapp_template_name": ""}, reply("whatsapp:62812", inbound_hours_ago=48), None,
     PermanentFailure),
    ("rate-limited", {}, reply("whatsapp:62812"), (400, 130429), TransientFailure),
    ("server-error", {}, reply("whatsapp:62812"), (500, 1), TransientFailure),
    ("bad-recipient", {}, reply("whatsapp:62812"), (400, 131026), PermanentFailure),
    ("bad-address", {}, reply("sms:62812"), None, PermanentFailure),
]


@pytest.mark.parametrize(("config", "outgoing", "inject", "error"), [r[1:] for r in SEND_FAILURES],
                         ids=[r[0] for r in SEND_FAILURES])
async def test_send_failures(
    make_channel: Callable[..., MetaChannel], graph: FakeGraphState,
    config: dict[str, Any], outgoing: OutgoingReply, inject: tuple[int, int] | None, error: type[Exception],
) -> None:
    graph.fail_next = inject
    with pytest.raises(error):
        await make_channel(**config).send(outgoing)


CREDENTIALS = [
    ("ok", {}, CredentialCheck.OK),
    ("invalid-token", {"access_token": "expired"}, CredentialCheck.INVALID_AUTH),
    ("no-token", {"access_token": ""}, CredentialCheck.INVALID_AUTH),
    ("server-down", {"graph_api_base_url": "closed"}, CredentialCheck.CANNOT_CONNECT),
]


@pytest.mark.parametrize(("overrides", "expected"), [r[1:] for r in CREDENTIALS], ids=[r[0] for r in CREDENTIALS])
async def test_check_credentials(
    make_channel: Callable[..., MetaChannel], overrides: dict[str, Any], expected: CredentialCheck
) -> None:
    if overrides.get("graph_api_base_url") == "closed":
        overrides = {**overrides, "graph_api_base_url": closed_url()}
    assert await make_channel(**overrides).check_credentials() == expected


async def test_whatsapp_media_is_resolved_then_fetched_with_the_token(
    make_channel: Callable[..., MetaChannel], graph: FakeGraphState
) -> None:
    graph.media["1479537139650973"] = b"\xff\xd8\xff\xe0 jpeg bytes"
    channel = make_channel()
    source = await channel.media_source("meta-media:1479537139650973")
    async with aiohttp.ClientSession() as session:
        fetched = await fetch_media(source.url, session=session, max_bytes=1000, timeout=5, allow_private=True,
                                    headers=source.headers)
    assert isinstance(fetched, FetchedMedia)
    assert fetched.data == b"\xff\xd8\xff\xe0 jpeg bytes"
    with pytest.raises(PermanentFailure):
        await channel.media_source("meta-media:does-not-exist")


async def test_secrets_never_reach_logs(
    make_channel: Callable[..., MetaChannel], graph: FakeGraphState
) -> None:
    channel = make_channel()
    graph.media["55"] = b"x"
    with captured_logs() as lines:
        await channel.check_credentials()
        await channel.send(reply("whatsapp:6281234567890"))
        await channel.send(reply("whatsapp:6281234567890", inbound_hours_ago=30))
        graph.fail_next = (500, 1)
        with pytest.raises(TransientFailure):
            await channel.send(reply("messenger:700"))
        await channel.media_source("meta-media:55")
        # The gateway serves without an access log (gateway.runtime): Meta's verify token travels in the query.
        server = TestServer(channel_app(channel), host="127.0.0.1")
        await server.start_server(access_log=None)
        async with TestClient(server) as client:
            body = fixture_bytes("whatsapp_text.json")
            await client.post("/c/meta/webhook", data=body, headers={"X-Hub-Signature-256": sign(body, "wrong")})
            await client.post("/c/meta/webhook", data=body, headers={"X-Hub-Signature-256": sign(body)})
            params = {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "7"}
            assert (await client.get("/c/meta/webhook", params=params)).status == 200
            params["hub.verify_token"] = "wrong"
            assert (await client.get("/c/meta/webhook", params=params)).status == 403
    assert lines, "nothing was captured: the capture itself is broken"
    assert leaked(lines, list(channel.secrets())) == []
    assert len(channel.secrets()) == 3
