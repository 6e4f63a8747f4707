"""Signed-webhook registry target: the signature scheme, delivery to a local receiver, errors, redaction."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
import structlog
from aiohttp.test_utils import TestServer, unused_port
from pydantic import SecretStr

from config.settings import RegistrySettings
from gateway.errors import ConfigurationError, PermanentFailure, TransientFailure
from gateway.records import Body, Complaint, Privacy, RawRef, ReplyRoute, Reporter, Thread
from gateway.registry.base import RegistryClient
from gateway.registry.webhook import WebhookClient, signature, verify
from tests.fakes.fake_webhook_receiver import FakeWebhookReceiver

SECRET = "whsec-test-0123456789"
NOW = 1_772_416_800  # 2026-03-02 02:00 UTC


def complaint(**kw: object) -> Complaint:
    fields: dict[str, object] = {
        "id": "01JWEBHOOK000000000000001",
        "channel": "twilio",
        "received_at": datetime(2026, 3, 2, 2, 0, tzinfo=UTC),
        "raw": RawRef(ids=("r",), sha256=("0" * 64,)),
        "reporter": Reporter(identity="+6281234567890", phone="+6281234567890", name="Budi Santoso"),
        "title": "Jalan rusak",
        "body": Body(text="Jalan di depan SDN 3 Cibinong rusak parah.", language="id"),
        "dedup_key": "k",
        "thread": Thread(conversation_key="twilio:+6281234567890"),
        "reply_to": ReplyRoute(channel="twilio", address="+6281234567890"),
    }
    fields.update(kw)
    return Complaint.model_validate(fields)


def test_signature_matches_an_independent_computation() -> None:
    body = b'{"a":1}'
    expected = hmac.new(SECRET.encode(), b"1700000000." + body, hashlib.sha256).hexdigest()
    assert signature(SECRET, 1_700_000_000, body) == f"sha256={expected}"


GOOD = signature(SECRET, NOW, b"{}")


@pytest.mark.parametrize(
    ("secret", "body", "timestamp", "sig", "now", "expected"),
    [
        (SECRET, b"{}", str(NOW), GOOD, NOW, True),
        (SECRET, b"{}", str(NOW), GOOD, NOW + 299, True),
        (SECRET, b"{}", str(NOW), GOOD, NOW + 301, False),  # replayed later
        (SECRET, b"{}", str(NOW), GOOD, NOW - 301, False),  # from the future
        ("other-secret", b"{}", str(NOW), GOOD, NOW, False),
        (SECRET, b'{"x":1}', str(NOW), GOOD, NOW, False),  # body changed
        (SECRET, b"{}", str(NOW + 1), GOOD, NOW, False),  # timestamp changed
        (SECRET, b"{}", None, GOOD, NOW, False),
        (SECRET, b"{}", str(NOW), None, NOW, False),
        (SECRET, b"{}", "1e9", GOOD, NOW, False),
        (SECRET, b"{}", str(NOW), GOOD.replace("sha256=", "sha1="), NOW, False),
    ],
    ids=[
        "valid",
        "valid-at-edge",
        "stale",
        "future",
        "wrong-secret",
        "tampered-body",
        "tampered-timestamp",
        "missing-timestamp",
        "missing-signature",
        "malformed-timestamp",
        "wrong-algorithm",
    ],
)
def test_verify(secret: str, body: bytes, timestamp: str | None, sig: str | None, now: int, expected: bool) -> None:
    assert verify(secret, body=body, timestamp=timestamp, signature_header=sig, now=now) is expected


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[FakeWebhookReceiver, str]]:
    state = FakeWebhookReceiver(secret=SECRET, clock=lambda: NOW)
    server = TestServer(state.app(), host="127.0.0.1")
    await server.start_server()
    yield state, str(server.make_url("/hook"))
    await server.close()


def client(url: str, *, secret: str = SECRET, clock_offset: int = 0) -> WebhookClient:
    return WebhookClient(url=url, signing_secret=secret, clock=lambda: NOW + clock_offset, timeout_seconds=5)


async def test_file_follow_up_and_retry(receiver: tuple[FakeWebhookReceiver, str]) -> None:
    state, url = receiver
    webhook = client(url)
    try:
        filed = await webhook.file(complaint(), idempotency_key="job-1")
        again = await webhook.file(complaint(), idempotency_key="job-1")  # a retry after a lost answer
        await webhook.follow_up(filed.tracking_id, complaint(id="01JWEBHOOK000000000000002"), idempotency_key="job-2")
    finally:
        await webhook.aclose()
    assert (filed.tracking_id, filed.status) == ("WH-00001", "received")
    assert again == filed
    assert [d.event for d in state.deliveries] == ["complaint.filed", "complaint.follow_up"]
    first, follow = (d.document for d in state.deliveries)
    assert first["schema"] == "lapor-gateway.webhook/v1"
    complaint_doc = first["complaint"]
    assert isinstance(complaint_doc, dict)
    assert complaint_doc["reporter"]["phone"] == "+6281234567890" and "reply_to" not in complaint_doc
    assert follow["tracking_id"] == "WH-00001"


async def test_anonymous_payload_names_nobody(receiver: tuple[FakeWebhookReceiver, str]) -> None:
    state, url = receiver
    webhook = client(url)
    try:
        await webhook.file(complaint(privacy=Privacy(anonim=True)), idempotency_key="a")
    finally:
        await webhook.aclose()
    (delivery,) = state.deliveries
    text = json.dumps(delivery.document)
    assert "6281234567890" not in text and "Budi" not in text
    assert delivery.document["complaint"]["reporter"] is None  # type: ignore[index]


async def test_receiver_without_tracking_id(receiver: tuple[FakeWebhookReceiver, str]) -> None:
    state, url = receiver
    state.answer_tracking_id = False
    webhook = client(url)
    try:
        filed = await webhook.file(complaint(), idempotency_key="a")
    finally:
        await webhook.aclose()
    assert (filed.tracking_id, filed.status) == ("01JWEBHOOK000000000000001", "delivered")


ERROR_CASES: list[tuple[str, tuple[int, str | None] | None, str, int, str, type[Exception], float | None]] = [
    ("unavailable", (503, "30"), SECRET, 0, "/hook", TransientFailure, 30.0),
    ("throttled", (429, None), SECRET, 0, "/hook", TransientFailure, None),
    ("bad-request", (400, None), SECRET, 0, "/hook", PermanentFailure, None),
    ("conflict", (409, None), SECRET, 0, "/hook", PermanentFailure, None),
    ("wrong-secret", None, "wrong-secret", 0, "/hook", ConfigurationError, None),
    ("clock-skew", None, SECRET, -600, "/hook", ConfigurationError, None),  # our clock 10 min behind: stale
    ("wrong-url", None, SECRET, 0, "/nowhere", ConfigurationError, None),
]


@pytest.mark.parametrize(
    ("fail", "secret", "clock_offset", "path", "error", "retry_after"),
    [case[1:] for case in ERROR_CASES],
    ids=[case[0] for case in ERROR_CASES],
)
async def test_delivery_errors(
    receiver: tuple[FakeWebhookReceiver, str],
    fail: tuple[int, str | None] | None,
    secret: str,
    clock_offset: int,
    path: str,
    error: type[Exception],
    retry_after: float | None,
) -> None:
    state, url = receiver
    if fail is not None:
        state.fail_next(fail[0], retry_after=fail[1])
    webhook = client(url.replace("/hook", path), secret=secret, clock_offset=clock_offset)
    try:
        with pytest.raises(error) as caught:
            await webhook.file(complaint(), idempotency_key="k")
    finally:
        await webhook.aclose()
    if isinstance(caught.value, TransientFailure):
        assert caught.value.retry_after == retry_after
    assert state.deliveries == []


async def test_unreachable_and_no_status() -> None:
    webhook = client(f"http://127.0.0.1:{unused_port()}/hook")
    try:
        with pytest.raises(TransientFailure, match="unreachable"):
            await webhook.file(complaint(), idempotency_key="k")
        with pytest.raises(PermanentFailure, match="no status"):
            await webhook.fetch("WH-1")
    finally:
        await webhook.aclose()


@pytest.mark.parametrize(
    ("secret", "ok"),
    [(SecretStr("s"), True), (None, False), (SecretStr(""), False)],
    ids=["configured", "missing", "empty"],
)
def test_from_settings_needs_a_secret(secret: SecretStr | None, ok: bool) -> None:
    settings = RegistrySettings(kind="webhook", url="http://127.0.0.1:9/hook", signing_secret=secret)
    if ok:
        webhook: RegistryClient = WebhookClient.from_settings(settings)  # mypy checks the protocol
        assert isinstance(webhook, WebhookClient)
    else:
        with pytest.raises(ConfigurationError):
            WebhookClient.from_settings(settings)


async def test_logs_carry_no_secret_or_personal_data(receiver: tuple[FakeWebhookReceiver, str]) -> None:
    state, url = receiver
    webhook = client(url)
    with structlog.testing.capture_logs() as logs:
        await webhook.file(complaint(), idempotency_key="k")
        state.fail_next(500)
        with pytest.raises(TransientFailure):
            await webhook.file(complaint(), idempotency_key="k2")
    await webhook.aclose()
    text = repr(logs)
    assert logs
    for secret in (SECRET, "6281234567890", "Budi", "Cibinong", "sha256="):
        assert secret not in text
