"""The X channel against a local fake X API: polling, rate limits, webhooks, replies, credentials, logs."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import tweepy.errors
from aiohttp.test_utils import TestClient, TestServer

from channels.base import CredentialCheck, OutgoingReply
from channels.x import XChannel, XConfig
from gateway.errors import PermanentFailure, TransientFailure
from tests.channels.social_doubles import (
    MemoryCursors,
    RecordingSink,
    captured_logs,
    channel_app,
    leaked,
    memory_context,
)
from tests.fakes.fake_x import FakeXState, build_app
from tests.support.ports import closed_url

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "x"
CORPUS = Path(__file__).resolve().parents[2] / ".." / "shared" / "corpus" / "twitter-v2-tweepy-cassettes"


def corpus_tweets(name: str) -> list[dict[str, Any]]:
    path = CORPUS / name
    if not path.exists():
        if os.environ.get("CI"):
            pytest.fail(f"corpus file missing in CI: {path}")
        pytest.skip(f"shared corpus not present at {CORPUS}")
    return list(json.loads(path.read_text(encoding="utf-8"))["data"])


class Sleeps:
    """Records requested sleeps instead of sleeping; can stop a loop after N of them."""

    def __init__(self, stop_after: int | None = None) -> None:
        self.calls: list[float] = []
        self.stop_after = stop_after

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        if self.stop_after is not None and len(self.calls) >= self.stop_after:
            raise asyncio.CancelledError


@pytest.fixture
def state() -> FakeXState:
    return FakeXState(users=[{"id": "42", "name": "Warga", "username": "warga42"}])


@pytest.fixture
async def fake_x(state: FakeXState) -> AsyncIterator[str]:
    server = TestServer(build_app(state), host="127.0.0.1")
    await server.start_server()
    yield str(server.make_url("")).rstrip("/")
    await server.close()


def make_config(base_url: str, state: FakeXState, **overrides: Any) -> XConfig:
    values: dict[str, Any] = {
        "enabled": True,
        "api_base_url": base_url,
        "bearer_token": state.bearer_token,
        "consumer_key": state.consumer_key,
        "consumer_secret": state.consumer_secret,
        "access_token": state.access_token,
        "access_token_secret": state.access_token_secret,
        "account_id": "1708",
        "account_handle": "LAPOR1708",
        "max_attempts": 3,
    }
    values.update(overrides)
    return XConfig(**values)


@pytest.fixture
async def make_channel(fake_x: str, state: FakeXState) -> AsyncIterator[Callable[..., XChannel]]:
    made: list[XChannel] = []

    def make(sleep: Sleeps | None = None, **overrides: Any) -> XChannel:
        channel = XChannel(
            config=make_config(fake_x, state, **overrides), context=memory_context(), sleep=sleep or Sleeps()
        )
        made.append(channel)
        return channel

    yield make
    for channel in made:
        await channel.close()


def sink_of(channel: XChannel) -> RecordingSink:
    sink = channel.context.sink
    assert isinstance(sink, RecordingSink)
    return sink


async def test_mentions_are_paginated_and_resumed_from_since_id(
    make_channel: Callable[..., XChannel], state: FakeXState
) -> None:
    state.mentions = [{**t, "author_id": "42"} for t in corpus_tweets("test_client_get_users_mentions__0.json")]
    state.page_size = 3
    channel = make_channel(search_query="", poll_dms=False)
    assert await channel.poller().poll_once() == 10
    stored = sink_of(channel).stored
    assert {r.external_id for r in stored} == {t["id"] for t in state.mentions}
    assert {r.event for r in stored} == {"tweet"}
    payload = json.loads(stored[0].payload)
    assert payload["includes"]["users"] == [{"id": "42", "name": "Warga", "username": "warga42"}]
    assert payload["for_user_id"] == "1708"
    pages = [q for m, p, q in state.requests if p == "/2/users/1708/mentions"]
    assert len(pages) == 4 and "pagination_token=3" in pages[1]
    cursors = channel.context.cursors
    assert isinstance(cursors, MemoryCursors)
    assert cursors.values[("x", "mentions_since_id")] == max(state.mentions, key=lambda t: int(t["id"]))["id"]

    state.requests.clear()
    assert await channel.poller().poll_once() == 0
    assert "since_id=1578516295611748353" in state.requests[0][2]


async def test_search_query_uses_next_token(make_channel: Callable[..., XChannel], state: FakeXState) -> None:
    state.search = [{**t, "author_id": "42"} for t in corpus_tweets("test_client_search_recent_tweets__0.json")]
    state.page_size = 4
    channel = make_channel(search_query="#lapor -is:retweet", poll_mentions=False, poll_dms=False)
    assert await channel.poller().poll_once() == 10
    queries = [q for m, p, q in state.requests if p == "/2/tweets/search/recent"]
    assert len(queries) == 3
    assert "next_token=4" in queries[1] and "query=#lapor -is:retweet" in queries[0]


async def test_dm_events_deduplicated_by_event_id(make_channel: Callable[..., XChannel], state: FakeXState) -> None:
    events = corpus_tweets("test_manage_and_lookup_direct_messages__4.json")
    state.dm_events = [{**e, "sender_id": "42"} for e in events]
    channel = make_channel(poll_mentions=False)
    assert await channel.poller().poll_once() == 2
    assert sorted(r.external_id for r in sink_of(channel).stored) == [
        "dm:1585800613253812228", "dm:1585800613752881156",
    ]
    assert await channel.poller().poll_once() == 0
    fresh: dict[str, Any] = {"id": "1585800613752881999", "event_type": "MessageCreate", "text": "baru"}
    fresh["sender_id"] = "42"
    state.dm_events.append(fresh)
    assert await channel.poller().poll_once() == 1


async def test_rate_limit_waits_until_reset_then_succeeds(
    make_channel: Callable[..., XChannel], state: FakeXState
) -> None:
    state.mentions = [{"id": "1", "text": "@LAPOR1708 halo", "author_id": "42"}]
    state.rate_limit_next, state.rate_limit_reset_in = 1, 30
    sleeps = Sleeps()
    channel = make_channel(sleep=sleeps, poll_dms=False)
    assert await channel.poller().poll_once() == 1
    assert len(sleeps.calls) == 1 and 28 <= sleeps.calls[0] <= 32


async def test_rate_limit_wait_is_bounded_and_retries_stop(
    make_channel: Callable[..., XChannel], state: FakeXState
) -> None:
    state.rate_limit_next, state.rate_limit_reset_in = 99, 3600
    sleeps = Sleeps()
    channel = make_channel(sleep=sleeps, poll_dms=False, max_attempts=3, max_rate_limit_wait_seconds=60)
    with pytest.raises(tweepy.errors.TooManyRequests):
        await channel.poller().poll_once()
    assert sleeps.calls == [60, 60]


async def test_run_keeps_polling_after_a_failed_pass_without_hot_loop(
    make_channel: Callable[..., XChannel], state: FakeXState
) -> None:
    state.fail_next_with = 401
    sleeps = Sleeps(stop_after=2)
    channel = make_channel(sleep=sleeps, poll_dms=False, poll_interval_seconds=7)
    state.mentions = [{"id": "3", "text": "@LAPOR1708 jalan rusak", "author_id": "42"}]
    with pytest.raises(asyncio.CancelledError):
        await channel.run()
    assert sleeps.calls == [7, 7]
    assert [r.external_id for r in sink_of(channel).stored] == ["3"]


def signed(secret: str, body: bytes) -> str:
    return "sha256=" + base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


@pytest.fixture
async def webhook(
    make_channel: Callable[..., XChannel],
) -> AsyncIterator[tuple[XChannel, TestClient[Any, Any]]]:
    channel = make_channel()
    client = TestClient(TestServer(channel_app(channel), host="127.0.0.1"))
    await client.start_server()
    yield channel, client
    await client.close()


async def test_crc_challenge(webhook: tuple[XChannel, TestClient[Any, Any]], state: FakeXState) -> None:
    _channel, client = webhook
    response = await client.get("/c/x/webhook", params={"crc_token": "9b4507b3-9040-4669-9ff4-a2ac9b8e4e0f"})
    assert response.status == 200
    expected = signed(state.consumer_secret, b"9b4507b3-9040-4669-9ff4-a2ac9b8e4e0f")
    assert await response.json() == {"response_token": expected}
    assert (await client.get("/c/x/webhook")).status == 400


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


WEBHOOK_ROWS = [
    ("tweet", fixture_bytes("activity_tweet_create.json"), "good", 200, [("activity_tweet", "1764481938504630272")]),
    ("dm", fixture_bytes("activity_direct_message.json"), "good", 200,
     [("activity_direct_message", "dm:1764500000000000111")]),
    ("favorite", fixture_bytes("activity_favorite.json"), "good", 200, [("activity_other", None)]),
    ("unknown-event", fixture_bytes("activity_unknown_event.json"), "good", 200, [("unknown", None)]),
    ("signed-not-json", b"\xff\xfenot json", "good", 200, [("unknown", None)]),
    ("bad-signature", fixture_bytes("activity_tweet_create.json"), "bad", 403, []),
    ("missing-signature", fixture_bytes("activity_tweet_create.json"), "missing", 403, []),
    ("oversized", b"{" + b" " * 2_000_000 + b"}", "good", 413, []),
]


@pytest.mark.parametrize(("body", "signature", "status", "expected"), [r[1:] for r in WEBHOOK_ROWS],
                         ids=[r[0] for r in WEBHOOK_ROWS])
async def test_webhook_delivery(
    webhook: tuple[XChannel, TestClient[Any, Any]], state: FakeXState,
    body: bytes, signature: str, status: int, expected: list[tuple[str, str | None]],
) -> None:
    channel, client = webhook
    headers = {"Content-Type": "application/json"}
    if signature == "good":
        headers["x-twitter-webhooks-signature"] = signed(state.consumer_secret, body)
    elif signature == "bad":
        headers["x-twitter-webhooks-signature"] = signed("not-the-secret", body)
    response = await client.post("/c/x/webhook", data=body, headers=headers)
    assert response.status == status
    stored = sink_of(channel).stored
    assert [r.event for r in stored] == [e for e, _ in expected]
    for raw, (_event, external_id) in zip(stored, expected, strict=True):
        if external_id is not None:
            assert raw.external_id == external_id


async def test_dm_webhook_keeps_only_the_two_parties(
    webhook: tuple[XChannel, TestClient[Any, Any]], state: FakeXState
) -> None:
    channel, client = webhook
    body = fixture_bytes("activity_direct_message.json")
    headers = {"x-twitter-webhooks-signature": signed(state.consumer_secret, body)}
    assert (await client.post("/c/x/webhook", data=body, headers=headers)).status == 200
    payload = json.loads(sink_of(channel).stored[0].payload)
    assert sorted(payload["users"]) == ["1708", "44196397"]


async def test_redelivery_is_a_duplicate(webhook: tuple[XChannel, TestClient[Any, Any]], state: FakeXState) -> None:
    channel, client = webhook
    body = fixture_bytes("activity_tweet_create.json")
    headers = {"x-twitter-webhooks-signature": signed(state.consumer_secret, body)}
    for _ in range(2):
        assert (await client.post("/c/x/webhook", data=body, headers=headers)).status == 200
    assert len(sink_of(channel).stored) == 1 and sink_of(channel).duplicates == 1


async def test_webhook_without_consumer_secret_refuses(make_channel: Callable[..., XChannel]) -> None:
    channel = make_channel(consumer_secret="")
    async with TestClient(TestServer(channel_app(channel), host="127.0.0.1")) as client:
        response = await client.post("/c/x/webhook", data=b"{}", headers={"x-twitter-webhooks-signature": "sha256=x"})
        assert response.status == 403
    assert sink_of(channel).stored == []


def reply(**overrides: Any) -> OutgoingReply:
    values: dict[str, Any] = {
        "id": "r1", "channel": "x", "address": "42", "text": "Yth. Budi, laporan jalan rusak di Jl. Mawar No 5 ...",
        "tracking_id": "1916449", "in_reply_to": "1764481938504630272", "public": True,
    }
    values.update(overrides)
    return OutgoingReply(**values)


async def test_public_reply_carries_tracking_id_and_no_personal_data(
    make_channel: Callable[..., XChannel], state: FakeXState
) -> None:
    result = await make_channel().send(reply())
    [posted] = state.posted_tweets
    assert result.provider_id == posted["id"]
    assert "#1916449" in posted["text"] and "Budi" not in posted["text"] and "Mawar" not in posted["text"]
    assert posted["reply"] == {"in_reply_to_tweet_id": "1764481938504630272"}


async def test_dm_reply_for_direct_messages_and_when_configured(
    make_channel: Callable[..., XChannel], state: FakeXState
) -> None:
    await make_channel().send(reply(public=False, text="Laporan #1916449 diterima"))
    await make_channel(tweet_ack="dm").send(reply(text="Laporan #1916450 diterima"))
    assert [(p, b["text"]) for p, b in state.posted_dms] == [
        ("42", "Laporan #1916449 diterima"), ("42", "Laporan #1916450 diterima"),
    ]
    assert state.posted_tweets == []


SEND_FAILURES = [
    ("dm-refused", {"address": "403", "public": False}, None, PermanentFailure),
    ("rate-limited", {}, "rate", TransientFailure),
    ("server-error", {}, 503, TransientFailure),
    ("bad-request", {}, 400, PermanentFailure),
]


@pytest.mark.parametrize(("overrides", "inject", "error"), [r[1:] for r in SEND_FAILURES],
                         ids=[r[0] for r in SEND_FAILURES])
async def test_send_failures(
    make_channel: Callable[..., XChannel], state: FakeXState,
    overrides: dict[str, Any], inject: int | str | None, error: type[Exception],
) -> None:
    if inject == "rate":
        state.rate_limit_next = 1
    elif isinstance(inject, int):
        state.fail_next_with = inject
    with pytest.raises(error) as caught:
        await make_channel().send(reply(**overrides))
    if isinstance(caught.value, TransientFailure) and inject == "rate":
        assert caught.value.retry_after is not None and caught.value.retry_after >= 1


CREDENTIALS = [
    ("ok-user-context", {}, CredentialCheck.OK),
    ("ok-bearer-only", {"consumer_key": "", "access_token": ""}, CredentialCheck.OK),
    ("wrong-consumer-secret", {"consumer_secret": "wrong"}, CredentialCheck.INVALID_AUTH),
    ("wrong-bearer", {"consumer_key": "", "access_token": "", "bearer_token": "wrong"}, CredentialCheck.INVALID_AUTH),
    ("nothing-configured", {"consumer_key": "", "access_token": "", "bearer_token": ""}, CredentialCheck.INVALID_AUTH),
    ("server-down", {"api_base_url": "closed"}, CredentialCheck.CANNOT_CONNECT),
]


@pytest.mark.parametrize(("overrides", "expected"), [r[1:] for r in CREDENTIALS], ids=[r[0] for r in CREDENTIALS])
async def test_check_credentials(
    make_channel: Callable[..., XChannel], overrides: dict[str, Any], expected: CredentialCheck
) -> None:
    if overrides.get("api_base_url") == "closed":
        overrides = {**overrides, "api_base_url": closed_url()}
    assert await make_channel(**overrides).check_credentials() == expected


async def test_secrets_never_reach_logs(
    make_channel: Callable[..., XChannel], state: FakeXState
) -> None:
    state.mentions = [{"id": "9", "text": "@LAPOR1708 sampah menumpuk", "author_id": "42"}]
    state.dm_events = [{"id": "10", "event_type": "MessageCreate", "text": "halo", "sender_id": "42"}]
    channel = make_channel(search_query="#lapor", account_id="")
    secrets = list(channel.secrets())
    assert len(secrets) == 4
    with captured_logs() as lines:
        await channel.check_credentials()
        await channel.poller().poll_once()
        await channel.send(reply())
        await channel.send(reply(public=False))
        state.fail_next_with = 500
        with pytest.raises(TransientFailure):
            await channel.send(reply())
        async with TestClient(TestServer(channel_app(channel), host="127.0.0.1")) as client:
            body = fixture_bytes("activity_tweet_create.json")
            await client.post("/c/x/webhook", data=body, headers={"x-twitter-webhooks-signature": signed("x", body)})
            await client.get("/c/x/webhook", params={"crc_token": "abc"})
    assert lines, "nothing was captured: the capture itself is broken"
    assert leaked(lines, secrets) == []

