"""Acknowledgements through a real local SMTP relay, and what comes back: replies and bounces."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
import structlog

from channels.base import CredentialCheck, OutgoingReply
from channels.email import EmailChannel, EmailConfig
from gateway.errors import ConfigurationError, GatewayError, PermanentFailure, TransientFailure
from gateway.messages import RawMessage, utcnow
from gateway.records import FollowUp, Ignored, Reference
from normalizers.email import normalize
from normalizers.email_parse import external_id
from tests.channels.social_doubles import memory_context
from tests.fakes.smtp_sink import SmtpSink, start_sink
from tests.support.ports import free_port

FROM = "pengaduan@lapor.example.go.id"
CITIZEN_ID = "<complaint-1@warga.example.id>"
PASSWORD = "relay-secret-9f8e"


@dataclass
class Relay:
    """The sink and a channel pointed at it."""

    sink: SmtpSink
    channel: EmailChannel


def channel_for(port: int, **settings: object) -> EmailChannel:
    config = EmailConfig.model_validate(
        {"enabled": True, "domains": ["lapor.example.go.id"], "relay_port": port, "from_address": FROM,
         "relay_timeout_seconds": 5, **settings}
    )
    return EmailChannel(config=config, context=memory_context())


@pytest.fixture
async def relay() -> AsyncIterator[Relay]:
    sink = SmtpSink(users={"gateway": PASSWORD})
    server, port = await start_sink(sink)
    yield Relay(sink, channel_for(port, relay_username="gateway", relay_password=PASSWORD))
    server.close()
    await server.wait_closed()


def ack(**changes: object) -> OutgoingReply:
    values: dict[str, object] = {
        "id": "01JDXYZACK0000000000000001", "channel": "email", "address": "budi.santoso@example.id",
        "text": "Laporan Anda sudah kami terima dan diteruskan ke instansi terkait.",
        "subject": "[LAPOR #1916449] Jalan rusak di Jl. Merdeka", "tracking_id": "1916449",
        "in_reply_to": CITIZEN_ID,
    }
    values.update(changes)
    return OutgoingReply(**values)  # type: ignore[arg-type]


async def test_acknowledgement_headers_and_body(relay: Relay) -> None:
    result = await relay.channel.send(ack())
    (received,) = relay.sink.received
    message = received.message()
    assert received.mail_from == FROM and received.rcpt_tos == ["budi.santoso@example.id"]
    assert message["Message-ID"] == result.provider_id == f"<lapor-ack.01JDXYZACK0000000000000001@{FROM.split('@')[1]}>"
    assert message["Subject"] == "[LAPOR #1916449] Jalan rusak di Jl. Merdeka"
    assert message["Auto-Submitted"] == "auto-replied"
    assert message["X-Auto-Response-Suppress"] == "All"
    assert message["In-Reply-To"] == CITIZEN_ID and message["References"] == CITIZEN_ID
    assert message["Content-Language"] == "id"
    body = message.get_content()
    assert "Yth. Pelapor" in body and "Nomor laporan Anda: 1916449." in body and "[LAPOR #1916449]" in body


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        (None, "[LAPOR #1916449] Laporan Anda telah diterima"),
        ("Status laporan\r\nBcc: victim@example.org", "[LAPOR #1916449] Status laporan Bcc: victim@example.org"),
    ],
    ids=["default-subject", "header-injection-flattened"],
)
async def test_subject_always_tagged(relay: Relay, subject: str | None, expected: str) -> None:
    await relay.channel.send(ack(subject=subject))
    message = relay.sink.received[0].message()
    assert message["Subject"] == expected
    assert message["Bcc"] is None


async def test_citizen_reply_to_the_ack_is_a_follow_up(relay: Relay) -> None:
    result = await relay.channel.send(ack())
    sent = relay.sink.received[0].message()
    reply = (
        f"From: Budi <budi.santoso@example.id>\r\nTo: {FROM}\r\nSubject: Re: {sent['Subject']}\r\n"
        f"Message-ID: <reply-2@warga.example.id>\r\nIn-Reply-To: {result.provider_id}\r\n"
        f"References: {CITIZEN_ID} {result.provider_id}\r\n\r\nLubangnya makin besar.\r\n"
    ).encode()
    outcome = normalize(RawMessage("email", "message", external_id(reply), utcnow(), reply))
    assert isinstance(outcome, FollowUp)
    assert outcome.references == (
        Reference(kind="tracking_id", value="1916449"),
        Reference(kind="message_id", value=str(result.provider_id)),
        Reference(kind="message_id", value=CITIZEN_ID),
    )


async def test_bounce_of_the_ack_names_it(relay: Relay) -> None:
    result = await relay.channel.send(ack())
    sent = relay.sink.received[0].data.decode()
    headers = sent.split("\r\n\r\n", 1)[0]
    bounce = (
        "From: MAILER-DAEMON@mx.example.id\r\nTo: " + FROM + "\r\nSubject: Undelivered Mail Returned to Sender\r\n"
        "Message-ID: <b1@mx.example.id>\r\nContent-Type: multipart/report; report-type=delivery-status; "
        'boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nUnknown user.\r\n--b\r\n'
        "Content-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.id\r\n\r\n"
        "Final-Recipient: rfc822; budi.santoso@example.id\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        "--b\r\nContent-Type: text/rfc822-headers\r\n\r\n" + headers + "\r\n--b--\r\n"
    ).encode()
    outcome = normalize(RawMessage("email", "message", external_id(bounce), utcnow(), bounce, {"mail_from": "<>"}))
    assert isinstance(outcome, Ignored) and outcome.reason == "bounce"
    detail = json.loads(outcome.detail)
    assert detail["bounced_message_ids"] == [result.provider_id] and detail["ours"] is True
    assert detail["recipients"] == ["budi.santoso@example.id"] and detail["status"] == "5.1.1"


@pytest.mark.parametrize(
    ("rcpt_reply", "data_reply", "error", "reason"),
    [
        ("550 5.1.1 No such user", None, PermanentFailure, "recipient_refused"),
        ("450 4.2.1 Mailbox busy", None, TransientFailure, "recipient_deferred"),
        (None, "554 5.7.1 Rejected as spam", PermanentFailure, "relay_refused"),
        (None, "451 4.3.0 Try later", TransientFailure, "relay_deferred"),
    ],
    ids=["rcpt-550", "rcpt-450", "data-554", "data-451"],
)
async def test_relay_refusals_mapped(
    relay: Relay, rcpt_reply: str | None, data_reply: str | None, error: type[GatewayError], reason: str
) -> None:
    relay.sink.rcpt_reply, relay.sink.data_reply = rcpt_reply, data_reply
    with pytest.raises(error) as caught:
        await relay.channel.send(ack())
    assert caught.value.reason == reason


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("MAILER-DAEMON@mx.example.id", "machine_address"),
        ("postmaster@example.id", "machine_address"),
        ("no-reply@pemda.example.go.id", "machine_address"),
        ("budi@example.id\r\nBcc: x@example.org", "invalid_address"),
        ("not-an-address", "invalid_address"),
    ],
    ids=["mailer-daemon", "postmaster", "no-reply", "injection", "malformed"],
)
async def test_never_sends_to_machines_or_bad_addresses(relay: Relay, address: str, reason: str) -> None:
    with pytest.raises(PermanentFailure) as caught:
        await relay.channel.send(ack(address=address))
    assert caught.value.reason == reason
    assert relay.sink.received == []


async def test_relay_down_is_transient() -> None:
    channel = channel_for(free_port())
    with pytest.raises(TransientFailure) as caught:
        await channel.send(ack())
    assert caught.value.reason == "relay_unavailable"


async def test_wrong_relay_password_is_a_configuration_error_and_never_logged(relay: Relay) -> None:
    sink = SmtpSink(users={"gateway": "the-right-one"})
    server, port = await start_sink(sink, require_auth=True)
    channel = channel_for(port, relay_username="gateway", relay_password=PASSWORD)
    try:
        with structlog.testing.capture_logs() as logs, pytest.raises(ConfigurationError):
            await channel.send(ack())
    finally:
        server.close()
        await server.wait_closed()
    assert PASSWORD not in repr(logs)
    assert channel.secrets() == (PASSWORD,)


async def test_check_credentials(relay: Relay) -> None:
    assert await relay.channel.check_credentials() is CredentialCheck.OK
    sink = SmtpSink(users={"gateway": "the-right-one"})
    server, port = await start_sink(sink, require_auth=True)
    try:
        wrong = channel_for(port, relay_username="gateway", relay_password="wrong")
        assert await wrong.check_credentials() is CredentialCheck.INVALID_AUTH
    finally:
        server.close()
        await server.wait_closed()
    assert await channel_for(free_port()).check_credentials() is CredentialCheck.CANNOT_CONNECT
