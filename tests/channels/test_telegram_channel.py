"""The Telegram channel against a local fake Bot API: webhook, long polling, replies, credentials, logs."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from channels.base import CredentialCheck, OutgoingReply
from channels.media_fetch import FetchedMedia, fetch_media
from channels.telegram import TelegramChannel, TelegramConfig
from gateway.errors import PermanentFailure, TransientFailure
from tests.channels.social_doubles import (
    MemoryCursors,
    RecordingSink,
    captured_logs,
    channel_app,
    leaked,
    memory_context,
)
from tests.fakes.fake_telegram import FakeTelegramState, build_app
from tests.support.ports import closed_url

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "telegram"
SECRET = "test-webhook-secret-Abc_123"


class Sleeps:
    """Records requested sleeps; cancels the loop after `stop_after` of them."""

    def __init__(self, stop_after: int) -> None:
        self.calls: list[float] = []
        self.stop_after = stop_after

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        if len(self.calls) >= self.stop_after:
            raise asyncio.CancelledError


@pytest.fixture
def bot() -> FakeTelegramState:
    return FakeTelegramState()


@pytest.fixture
async def bot_url(bot: FakeTelegramState) -> AsyncIterator[str]:
    server = TestServer(build_app(bot), host="127.0.0.1")
    await server.start_server(access_log=None)
    yield str(server.make_url("")).rstrip("/")
    await server.close()


@pytest.fixture
async def make_channel(bot_url: str, bot: FakeTelegramState) -> AsyncIterator[Callable[..., TelegramChannel]]:
    made: list[TelegramChannel] = []

    def make(sleep: Sleeps | None = None, **overrides: Any) -> TelegramChannel:
        values: dict[str, Any] = {"enabled": True, "bot_token": bot.token, "webhook_secret_token": SECRET,
                                  "api_base_url": bot_url, "poll_timeout_seconds": 0}
        values.update(overrides)
        channel = TelegramChannel(config=TelegramConfig(**values), context=memory_context(max_body_bytes=65_536),
                                  sleep=sleep or Sleeps(stop_after=1_000))
        made.append(channel)
        return channel

    yield make
    for channel in made:
        await channel.close()


def sink_of(channel: TelegramChannel) -> RecordingSink:
    sink = channel.context.sink
    assert isinstance(sink, RecordingSink)
    return sink


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


WEBHOOK = [
    ("text", "message_text.json", SECRET, 200, ("message", "555001234:101")),
    ("photo", "message_photo.json", SECRET, 200, ("message", "555001234:102")),
    ("edited", "edited_message.json", SECRET, 200, ("edited_message", "update:830010")),
    ("membership", "my_chat_member.json", SECRET, 200, ("my_chat_member", "update:830012")),
    ("unknown-update", "callback_query.json", SECRET, 200, ("unknown", "update:830013")),
    ("wrong-secret", "message_text.json", "nope", 403, None),
    ("missing-secret", "message_text.json", None, 403, None),
]


@pytest.mark.parametrize(("name", "secret", "status", "expected"), [r[1:] for r in WEBHOOK],
                         ids=[r[0] for r in WEBHOOK])
async def test_webhook(
    make_channel: Callable[..., TelegramChannel], name: str, secret: str | None, status: int,
    expected: tuple[str, str] | None,
) -> None:
    channel = make_channel()
    body = fixture_bytes(name)
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    async with TestClient(TestServer(channel_app(channel), host="127.0.0.1")) as client:
        response = await client.post("/c/telegram/webhook", data=body, headers=headers)
    assert response.status == status
    stored = sink_of(channel).stored
    if expected is None:
        assert stored == []
        return
    [raw] = stored
    assert (raw.event, raw.external_id) == expected
    assert raw.payload == body  # a webhook update is stored verbatim


async def test_webhook_edge_cases(make_channel: Callable[..., TelegramChannel]) -> None:
    channel = make_channel()
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    async with TestClient(TestServer(channel_app(channel), host="127.0.0.1")) as client:
        body = fixture_bytes("message_text.json")
        assert (await client.post("/c/telegram/webhook", data=body, headers=headers)).status == 200
        assert (await client.post("/c/telegram/webhook", data=body, headers=headers)).status == 200
        big = b"{" + b" " * 70_000 + b"}"
        assert (await client.post("/c/telegram/webhook", data=big, headers=headers)).status == 413
        assert (await client.post("/c/telegram/webhook", data=b"\xffjunk", headers=headers)).status == 200
    assert sink_of(channel).duplicates == 1
    assert [r.event for r in sink_of(channel).stored] == ["message", "unknown"]


async def test_no_webhook_route_in_polling_mode_and_refusal_without_secret(
    make_channel: Callable[..., TelegramChannel],
) -> None:
    assert make_channel(mode="polling").routes() == ()
    channel = make_channel(webhook_secret_token="")
    async with TestClient(TestServer(channel_app(channel), host="127.0.0.1")) as client:
        response = await client.post("/c/telegram/webhook", data=b"{}",
                                     headers={"X-Telegram-Bot-Api-Secret-Token": ""})
    assert response.status == 403 and sink_of(channel).stored == []


def updates(*names: str) -> list[dict[str, Any]]:
    return [json.loads(fixture_bytes(name)) for name in names]


async def test_polling_keeps_offset_and_confirms(
    make_channel: Callable[..., TelegramChannel], bot: FakeTelegramState
) -> None:
    bot.updates = updates("message_text.json", "message_photo.json", "callback_query.json")
    channel = make_channel(mode="polling")
    poller = channel.poller()
    assert await poller.poll_once() == 3
    cursors = channel.context.cursors
    assert isinstance(cursors, MemoryCursors)
    assert cursors.values[("telegram", "offset")] == "830014"
    assert await poller.poll_once() == 0
    assert bot.get_updates_calls[-1]["offset"] == 830014
    assert [r.event for r in sink_of(channel).stored] == ["message", "message", "unknown"]


async def test_polling_run_backs_off_on_errors_and_honours_retry_after(
    make_channel: Callable[..., TelegramChannel], bot: FakeTelegramState
) -> None:
    bot.fail_next = [(429, "Too Many Requests: retry after 7", 7), (409, "Conflict: webhook is active", None),
                     (502, "Bad Gateway", None)]
    bot.updates = updates("message_text.json")
    sleeps = Sleeps(stop_after=4)
    channel = make_channel(sleep=sleeps, mode="polling", poll_backoff_max_seconds=30, poll_idle_seconds=0.5)
    with pytest.raises(asyncio.CancelledError):
        await channel.run()
    assert sleeps.calls[0] == 7
    assert 1 <= sleeps.calls[1] <= 3 and 2 <= sleeps.calls[2] <= 5
    # Then one round with the update (no wait), one empty round: the idle wait, never a hot loop.
    assert sleeps.calls[3] == 0.5
    assert [r.external_id for r in sink_of(channel).stored] == ["555001234:101"]


async def test_polling_server_unreachable_backs_off(make_channel: Callable[..., TelegramChannel]) -> None:
    sleeps = Sleeps(stop_after=4)
    channel = make_channel(sleep=sleeps, mode="polling", api_base_url=closed_url(),
                           poll_backoff_max_seconds=3)
    with pytest.raises(asyncio.CancelledError):
        await channel.run()
    assert all(0 < s <= 3 for s in sleeps.calls) and sleeps.calls[-1] == 3


def reply(**overrides: Any) -> OutgoingReply:
    values: dict[str, Any] = {"id": "r1", "channel": "telegram", "address": "555001234",
                              "text": "Laporan Anda diterima dengan nomor #1916449", "in_reply_to": "101"}
    values.update(overrides)
    return OutgoingReply(**values)


async def test_send_replies_to_the_message(
    make_channel: Callable[..., TelegramChannel], bot: FakeTelegramState
) -> None:
    result = await make_channel().send(reply())
    [sent] = bot.sent
    assert sent["chat_id"] == "555001234" and sent["text"].endswith("#1916449")
    assert sent["reply_parameters"] == {"message_id": 101, "allow_sending_without_reply": True}
    assert result.provider_id == "555001234:500"


SEND_FAILURES = [
    ("blocked", {"address": "999"}, [], PermanentFailure),
    ("flood", {}, [(429, "Too Many Requests: retry after 5", 5)], TransientFailure),
    ("server", {}, [(500, "Internal Server Error", None)], TransientFailure),
]


@pytest.mark.parametrize(("overrides", "inject", "error"), [r[1:] for r in SEND_FAILURES],
                         ids=[r[0] for r in SEND_FAILURES])
async def test_send_failures(
    make_channel: Callable[..., TelegramChannel], bot: FakeTelegramState,
    overrides: dict[str, Any], inject: list[tuple[int, str, int | None]], error: type[Exception],
) -> None:
    bot.blocked_chats.add("999")
    bot.fail_next = list(inject)
    with pytest.raises(error) as caught:
        await make_channel().send(reply(**overrides))
    if inject and inject[0][2]:
        assert isinstance(caught.value, TransientFailure) and caught.value.retry_after == 5


CREDENTIALS = [
    ("ok", {}, CredentialCheck.OK),
    ("wrong-token", {"bot_token": "6000000001:AAH-revoked"}, CredentialCheck.INVALID_AUTH),
    ("no-token", {"bot_token": ""}, CredentialCheck.INVALID_AUTH),
    ("server-down", {"api_base_url": "closed"}, CredentialCheck.CANNOT_CONNECT),
]


@pytest.mark.parametrize(("overrides", "expected"), [r[1:] for r in CREDENTIALS], ids=[r[0] for r in CREDENTIALS])
async def test_check_credentials(
    make_channel: Callable[..., TelegramChannel], overrides: dict[str, Any], expected: CredentialCheck
) -> None:
    if overrides.get("api_base_url") == "closed":
        overrides = {**overrides, "api_base_url": closed_url()}
    assert await make_channel(**overrides).check_credentials() == expected


async def test_file_is_resolved_and_fetched(
    make_channel: Callable[..., TelegramChannel], bot: FakeTelegramState
) -> None:
    bot.files["AgACAgUAAxkBAAMFZf_large"] = ("photos/file_7.jpg", b"\xff\xd8 photo")
    channel = make_channel()
    source = await channel.media_source("telegram-file:AgACAgUAAxkBAAMFZf_large")
    async with aiohttp.ClientSession() as session:
        fetched = await fetch_media(source.url, session=session, max_bytes=100, timeout=5, allow_private=True)
    assert isinstance(fetched, FetchedMedia) and fetched.data == b"\xff\xd8 photo"
    with pytest.raises(PermanentFailure):
        await channel.media_source("telegram-file:unknown")


async def test_secrets_never_reach_logs(make_channel: Callable[..., TelegramChannel], bot: FakeTelegramState) -> None:
    bot.updates = updates("message_text.json")
    bot.files["f"] = ("docs/a.pdf", b"%PDF")
    sleeps = Sleeps(stop_after=2)
    channel = make_channel(sleep=sleeps, mode="polling")
    with captured_logs() as lines:
        await channel.check_credentials()
        await channel.send(reply())
        await channel.media_source("telegram-file:f")
        bot.fail_next = [(500, "Internal Server Error", None), (401, "Unauthorized", None)]
        with pytest.raises(TransientFailure):
            await channel.send(reply())
        with pytest.raises(asyncio.CancelledError):
            await channel.run()
        down = make_channel(sleep=Sleeps(stop_after=1), mode="polling", api_base_url=closed_url())
        with pytest.raises(asyncio.CancelledError):
            await down.run()
        hooked = make_channel()
        async with TestClient(TestServer(channel_app(hooked), host="127.0.0.1")) as client:
            body = fixture_bytes("message_text.json")
            await client.post("/c/telegram/webhook", data=body, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
            await client.post("/c/telegram/webhook", data=body, headers={"X-Telegram-Bot-Api-Secret-Token": "x"})
    assert any("telegram.poll_failed" in line for line in lines), "the failure path was not exercised"
    assert leaked(lines, [bot.token, SECRET, bot.token.split(":", 1)[1]]) == []
