"""The Jasmin channel over real HTTP: MO and DLRs thrown as Jasmin throws them, /send to a fake Jasmin."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer

from channels.base import ChannelContext, CredentialCheck, OutgoingReply
from channels.jasmin import ACK, JasminChannel, JasminConfig
from channels.sms_encoding import segment_count
from gateway.errors import ConfigurationError, PermanentFailure, TransientFailure
from gateway.records import Complaint, Ignored
from normalizers.jasmin import normalize
from tests.channels.social_doubles import (
    MemoryCursors,
    MemoryDeliveries,
    RecordingSink,
    captured_logs,
    channel_app,
    leaked,
)
from tests.fakes.fake_jasmin import FakeJasminState, build_app, throw
from tests.support.ports import closed_url

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "jasmin"
SECRET = "jasmin-test-secret"


def form(name: str) -> bytes:
    return (FIXTURES / name).read_bytes().strip()


@dataclass
class Env:
    server: TestServer
    channel: JasminChannel
    sink: RecordingSink
    deliveries: MemoryDeliveries
    fake: FakeJasminState

    def url(self, path: str) -> str:
        return str(self.server.make_url(path))


async def start(api_url: str, fake: FakeJasminState, **overrides: object) -> Env:
    settings: dict[str, object] = {
        "enabled": True,
        "secret": SECRET,
        "api_url": api_url,
        "username": fake.username,
        "password": fake.password,
        **overrides,
    }
    sink, deliveries = RecordingSink(), MemoryDeliveries()
    context = ChannelContext(sink=sink, public_url="http://unset", cursors=MemoryCursors(), deliveries=deliveries)
    channel = JasminChannel(config=JasminConfig.model_validate(settings), context=context)
    server = TestServer(channel_app(channel))
    await server.start_server()
    channel.context = replace(context, public_url=str(server.make_url("")).rstrip("/"))
    return Env(server, channel, sink, deliveries, fake)


@pytest.fixture
async def fake_jasmin() -> AsyncIterator[tuple[str, FakeJasminState]]:
    state = FakeJasminState()
    server = TestServer(build_app(state))
    await server.start_server()
    yield str(server.make_url("")).rstrip("/"), state
    await server.close()


@pytest.fixture
async def env(fake_jasmin: tuple[str, FakeJasminState]) -> AsyncIterator[Env]:
    environment = await start(*fake_jasmin)
    yield environment
    await environment.server.close()


@pytest.mark.parametrize(
    ("path", "method", "fixture", "status", "attempts", "stored"),
    [
        (f"/c/jasmin/receive/{SECRET}", "POST", "mo_gsm.form", 200, 1, True),
        (f"/c/jasmin/receive/{SECRET}", "GET", "mo_gsm.form", 200, 1, True),
        (f"/c/jasmin/receive?secret={SECRET}", "POST", "mo_ucs2.form", 200, 1, True),
        (f"/c/jasmin/receive/{SECRET}", "POST", "mo_binary.form", 200, 1, True),
        (f"/c/jasmin/receive/{SECRET}", "POST", "mo_missing_from.form", 200, 1, True),
        ("/c/jasmin/receive/wrong-secret-value", "POST", "mo_gsm.form", 403, 4, False),
        ("/c/jasmin/receive", "POST", "mo_gsm.form", 403, 4, False),
    ],
    ids=["post-path-secret", "get-path-secret", "post-query-secret-ucs2", "binary", "missing-from-kept",
         "bad-secret-retried", "no-secret"],
)
async def test_mo_thrown_by_jasmin(
    env: Env, path: str, method: str, fixture: str, status: int, attempts: int, stored: bool
) -> None:
    got_status, body, tries = await throw(env.url(path), form(fixture), method=method)
    assert (got_status, tries) == (status, attempts)
    if not stored:
        assert env.sink.stored == []
        return
    assert body == ACK  # exactly, or Jasmin throws the message again
    [raw] = env.sink.stored
    assert raw.payload == form(fixture)
    assert raw.external_id.startswith("a2f6a9b8-")


async def test_empty_request_is_refused(env: Env) -> None:
    status, _body, _tries = await throw(env.url(f"/c/jasmin/receive/{SECRET}"), b"", max_retries=0)
    assert status == 400 and env.sink.stored == []


@pytest.mark.parametrize(
    ("fixture", "check"),
    [
        ("mo_ucs2.form", (FIXTURES / "ucs2_text.txt").read_text(encoding="utf-8")),
        ("mo_gsm.form", (FIXTURES / "gsm_text.txt").read_text(encoding="utf-8")),
        ("mo_binary.form", None),
    ],
    ids=["ucs2", "gsm", "binary"],
)
async def test_what_is_stored_normalizes(env: Env, fixture: str, check: str | None) -> None:
    await throw(env.url(f"/c/jasmin/receive/{SECRET}"), form(fixture))
    outcome = normalize(env.sink.stored[0])
    if check is None:
        assert isinstance(outcome, Ignored) and outcome.reason == "binary_message"
    else:
        assert isinstance(outcome, Complaint) and outcome.body.text == check


async def test_duplicate_message_id_is_acknowledged_and_stored_once(env: Env) -> None:
    for _ in range(2):
        status, body, _ = await throw(env.url(f"/c/jasmin/receive/{SECRET}"), form("mo_gsm.form"))
        assert (status, body) == (200, ACK)
    assert len(env.sink.stored) == 1 and env.sink.duplicates == 1


@pytest.mark.parametrize(
    ("path", "status", "recorded"),
    [
        (f"/c/jasmin/status/{SECRET}", 200, [("b7c1d2e3-0000-4000-8000-00000000d1e2", "delivered", "")]),
        ("/c/jasmin/status/wrong-secret-value", 403, []),
    ],
    ids=["level-2-delivered", "bad-secret"],
)
async def test_dlr(env: Env, path: str, status: int, recorded: list[tuple[str, str, str]]) -> None:
    got, _body, _ = await throw(env.url(path), form("dlr_level2.form"), max_retries=0)
    assert got == status
    assert [(r[1], r[2], r[3]) for r in env.deliveries.recorded] == recorded


def reply(text: str, *, kind: str = "ack") -> OutgoingReply:
    return OutgoingReply(id="01JREPLY0000000000000000JJ", channel="jasmin", address="+6285712345678", text=text,
                         kind=kind)


@pytest.mark.parametrize(
    ("text", "coding", "encoding"),
    [
        ("LAPOR!: Laporan Anda diterima, nomor #1916449.", b"0", "ascii"),
        ("LAPOR!: Laporan diterima 👍", b"8", "utf-16-be"),
        ("Café tutup", b"8", "utf-16-be"),  # GSM-7, but not ASCII: coding 0 bytes would depend on the SMSC
    ],
    ids=["gsm-ascii", "ucs2", "gsm-non-ascii"],
)
async def test_send(env: Env, text: str, coding: bytes, encoding: str) -> None:
    result = await env.channel.send(reply(text))
    [params] = env.fake.requests
    assert result.provider_id == env.fake.ids[0]
    assert params["coding"] == coding and params["content"] == text.encode(encoding)
    assert params["to"] == b"+6285712345678" and params["from"] == b"1708"
    assert params["dlr"] == b"yes" and params["dlr-level"] == b"2"


async def test_acknowledgement_is_one_segment(env: Env) -> None:
    await env.channel.send(reply("Laporan Anda diterima dan sedang diproses oleh dinas terkait. " * 5))
    assert segment_count(env.fake.requests[0]["content"].decode("ascii")) == 1


async def test_dlr_round_trip(env: Env) -> None:
    result = await env.channel.send(reply("LAPOR!: Laporan Anda diterima."))
    params = env.fake.requests[0]
    assert params["dlr-method"] == b"POST"
    body = f"id={result.provider_id}&message_status=DELIVRD&level=2".encode()
    status, text, _ = await throw(params["dlr-url"].decode(), body, max_retries=0)
    assert (status, text) == (200, ACK)
    assert env.deliveries.recorded == [("jasmin", result.provider_id, "delivered", "")]


@pytest.mark.parametrize(
    ("target", "password", "fail_with", "error"),
    [
        ("fake", "not-the-password", None, ConfigurationError),
        ("fake", None, 500, TransientFailure),
        ("fake", None, 412, PermanentFailure),
        ("closed", None, None, TransientFailure),
    ],
    ids=["wrong-password", "server-error", "no-route", "unreachable"],
)
async def test_send_failures(
    fake_jasmin: tuple[str, FakeJasminState], target: str, password: str | None, fail_with: int | None,
    error: type[Exception],
) -> None:
    url, state = fake_jasmin
    state.fail_with = fail_with
    base = url if target == "fake" else closed_url()
    environment = await start(base, state, **({"password": password} if password else {}))
    try:
        with pytest.raises(error):
            await environment.channel.send(reply("Halo"))
    finally:
        await environment.server.close()


@pytest.mark.parametrize(
    ("target", "password", "expected"),
    [
        ("fake", None, CredentialCheck.OK),
        ("fake", "not-the-password", CredentialCheck.INVALID_AUTH),
        ("closed", None, CredentialCheck.CANNOT_CONNECT),
    ],
    ids=["ok", "invalid-auth", "cannot-connect"],
)
async def test_check_credentials(
    fake_jasmin: tuple[str, FakeJasminState], target: str, password: str | None, expected: CredentialCheck
) -> None:
    url, state = fake_jasmin
    base = url if target == "fake" else closed_url()
    environment = await start(base, state, **({"password": password} if password else {}))
    try:
        assert await environment.channel.check_credentials() is expected
        assert state.requests == []
    finally:
        await environment.server.close()


def test_enabled_without_any_authentication_fails_loudly() -> None:
    context = ChannelContext(
        sink=RecordingSink(), public_url="http://x", cursors=MemoryCursors(), deliveries=MemoryDeliveries()
    )
    with pytest.raises(ConfigurationError):
        JasminChannel(config=JasminConfig(enabled=True), context=context)


async def test_allowlist_only(fake_jasmin: tuple[str, FakeJasminState]) -> None:
    environment = await start(*fake_jasmin, secret=None, allowed_addresses=("127.0.0.1/32",))
    try:
        status, body, _ = await throw(environment.url("/c/jasmin/receive"), form("mo_gsm.form"))
        assert (status, body) == (200, ACK) and len(environment.sink.stored) == 1
    finally:
        await environment.server.close()


async def test_secrets_never_reach_the_logs(env: Env) -> None:
    with captured_logs() as lines:
        await throw(env.url(f"/c/jasmin/receive/{SECRET}"), form("mo_gsm.form"))
        await throw(env.url("/c/jasmin/receive/wrong-secret-value"), form("mo_gsm.form"), max_retries=0)
        await env.channel.send(reply("LAPOR!: Laporan Anda diterima."))
        await env.channel.check_credentials()
    ours = [line for line in lines if not line.startswith("aiohttp.access")]  # the gateway runs access_log=None
    assert ours
    assert leaked(ours, [*env.channel.secrets(), "wrong-secret-value"]) == []
