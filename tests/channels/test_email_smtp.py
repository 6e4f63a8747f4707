"""The SMTP server against real clients (smtplib in a thread, aiosmtplib, raw sockets)."""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
import pytest
from pydantic import ValidationError

from channels.base import ChannelContext
from channels.email import EmailChannel, EmailConfig
from gateway.errors import ConfigurationError
from gateway.messages import RawMessage, Stored
from gateway.records import Complaint
from gateway.storage.archive import Archive
from gateway.storage.db import Database
from normalizers.email import normalize
from tests.channels.social_doubles import RecordingSink, memory_context
from tests.fakes.email_tls import make_pki

DOMAIN = "lapor.example.go.id"
INBOX = f"pengaduan@{DOMAIN}"
LIMIT = 64 * 1024


class SwitchableSink(RecordingSink):
    """The sink interface, recording, that can be switched to fail like a database that is down."""

    failing: bool = False

    async def submit(self, raw: RawMessage) -> Stored:
        """Fail while `failing`, else record."""
        if self.failing:
            raise ConnectionError("database unavailable")
        return await super().submit(raw)


@dataclass
class Running:
    """A started channel, its sink and its port."""

    channel: EmailChannel
    sink: SwitchableSink
    port: int


def message_bytes(*, subject: str = "Jalan rusak", message_id: str = "<m1@warga.example.id>", size: int = 0) -> bytes:
    body = "Jalan di depan rumah berlubang.\r\n" + ("x" * 76 + "\r\n") * (size // 78)
    return (
        f"From: Budi <budi@warga.example.id>\r\nTo: {INBOX}\r\nSubject: {subject}\r\n"
        f"Message-ID: {message_id}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}"
    ).encode()


def make_channel(context: ChannelContext, **settings: object) -> EmailChannel:
    values: dict[str, object] = {
        "enabled": True, "port": 0, "domains": [DOMAIN], "addresses": ["aduan@pemda.example.id"],
        "max_message_bytes": LIMIT, "max_recipients": 5, "timeout_seconds": 5,
    }
    values.update(settings)
    return EmailChannel(config=EmailConfig.model_validate(values), context=context)


@pytest.fixture
async def smtp() -> AsyncIterator[Running]:
    sink = SwitchableSink()
    channel = make_channel(memory_context(sink))
    server = await channel.start()
    yield Running(channel, sink, int(server.sockets[0].getsockname()[1]))
    server.close()
    await server.wait_closed()


def smtplib_send(
    port: int, sender: str, recipients: list[str], data: bytes, **options: object
) -> dict[str, tuple[int, bytes]]:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        return client.sendmail(sender, recipients, data, **options)  # type: ignore[arg-type]


async def test_accepts_mail_for_our_domain_and_address(smtp: Running) -> None:
    data = message_bytes()
    refused = await asyncio.to_thread(
        smtplib_send, smtp.port, "budi@warga.example.id", [INBOX, "aduan@pemda.example.id"], data
    )
    assert refused == {}
    (raw,) = smtp.sink.stored
    assert raw.payload == data
    assert raw.external_id == "<m1@warga.example.id>"
    assert raw.meta["mail_from"] == "<budi@warga.example.id>"
    assert raw.meta["rcpt_tos"] == f"{INBOX},aduan@pemda.example.id"
    assert raw.meta["peer"] == "127.0.0.1"
    assert raw.meta["helo"]
    assert isinstance(normalize(raw), Complaint)


@pytest.mark.parametrize(
    "recipient",
    ["someone@elsewhere.example.org", f"x@sub.{DOMAIN}", "aduan@pemda.example.id.evil.example", "no-at-sign"],
    ids=["other-domain", "subdomain", "suffix-trick", "no-domain"],
)
async def test_relay_attempts_get_550(smtp: Running, recipient: str) -> None:
    with pytest.raises(smtplib.SMTPRecipientsRefused) as caught:
        await asyncio.to_thread(smtplib_send, smtp.port, "spammer@example.org", [recipient], message_bytes())
    code, text = caught.value.recipients[recipient]
    assert code == 550 and text.startswith(b"5.7.1")
    assert smtp.sink.stored == []


async def test_mixed_recipients_only_ours_kept(smtp: Running) -> None:
    refused = await asyncio.to_thread(
        smtplib_send, smtp.port, "budi@warga.example.id", [INBOX, "victim@example.org"], message_bytes()
    )
    assert set(refused) == {"victim@example.org"}
    assert smtp.sink.stored[0].meta["rcpt_tos"] == INBOX


async def test_recipient_limit(smtp: Running) -> None:
    recipients = [f"r{i}@{DOMAIN}" for i in range(7)]
    refused = await asyncio.to_thread(smtplib_send, smtp.port, "budi@warga.example.id", recipients, message_bytes())
    assert {address: code for address, (code, _text) in refused.items()} == {recipients[5]: 452, recipients[6]: 452}
    assert smtp.sink.stored[0].meta["rcpt_tos"].split(",") == recipients[:5]


async def test_oversize_declared_with_size_gets_552(smtp: Running) -> None:
    with pytest.raises(smtplib.SMTPSenderRefused) as caught:
        await asyncio.to_thread(
            smtplib_send, smtp.port, "budi@warga.example.id", [INBOX], message_bytes(size=LIMIT + 100)
        )
    assert caught.value.smtp_code == 552
    assert smtp.sink.stored == []


async def test_oversize_without_size_gets_552_after_data(smtp: Running) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", smtp.port)
    await reader.readline()
    data = message_bytes(size=LIMIT + 100)
    writer.write(b"HELO raw\r\nMAIL FROM:<budi@warga.example.id>\r\nRCPT TO:<" + INBOX.encode() + b">\r\nDATA\r\n")
    replies = [await reader.readline() for _ in range(4)]
    assert [line[:3] for line in replies] == [b"250", b"250", b"250", b"354"]
    writer.write(data + b".\r\n")
    assert (await reader.readline()).startswith(b"552")
    writer.close()
    assert smtp.sink.stored == []


async def test_smtputf8_and_8bit_headers(smtp: Running) -> None:
    data = (
        f"From: Wayan Sudársana <wayan@contoh.example>\r\nTo: {INBOX}\r\nSubject: Jembatan retak – mohon diperiksa\r\n"
        "Message-ID: <utf8@contoh.example>\r\nContent-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n\r\nJembatan di Desa Sukamaju retak sejak gempa kemarin.\r\n"
    ).encode()
    refused = await asyncio.to_thread(
        smtplib_send, smtp.port, "wayan@contoh.example", [INBOX], data, mail_options=["SMTPUTF8", "BODY=8BITMIME"]
    )
    assert refused == {}
    (raw,) = smtp.sink.stored
    assert raw.meta["smtputf8"] == "yes"
    record = normalize(raw)
    assert isinstance(record, Complaint)
    assert record.title == "Jembatan retak – mohon diperiksa"
    assert record.reporter.name == "Wayan Sudársana"


async def test_pipelined_commands(smtp: Running) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", smtp.port)
    await reader.readline()
    data = message_bytes(message_id="<pipelined@warga.example.id>")
    # Everything in one write, as a PIPELINING client (RFC 2920) would send it.
    writer.write(
        b"EHLO pipeline.test\r\nMAIL FROM:<budi@warga.example.id>\r\nRCPT TO:<" + INBOX.encode()
        + b">\r\nDATA\r\n" + data + b".\r\nQUIT\r\n"
    )
    output = await asyncio.wait_for(reader.read(), timeout=10)
    codes = [line[:3] for line in output.split(b"\r\n") if line[3:4] == b" "]
    assert codes == [b"250", b"250", b"250", b"354", b"250", b"221"]
    assert smtp.sink.stored[0].external_id == "<pipelined@warga.example.id>"
    writer.close()


async def test_disconnect_in_the_middle_of_data_stores_nothing(smtp: Running) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", smtp.port)
    await reader.readline()
    writer.write(b"HELO gone\r\nMAIL FROM:<budi@warga.example.id>\r\nRCPT TO:<" + INBOX.encode() + b">\r\nDATA\r\n")
    for _ in range(4):
        await reader.readline()
    writer.write(message_bytes()[:100])
    await writer.drain()
    writer.transport.abort()
    await asyncio.sleep(0.1)
    assert smtp.sink.stored == []
    # The server is still there for the next client.
    await asyncio.to_thread(smtplib_send, smtp.port, "budi@warga.example.id", [INBOX], message_bytes())
    assert len(smtp.sink.stored) == 1


async def test_451_when_the_store_fails_then_retry_succeeds(smtp: Running) -> None:
    smtp.sink.failing = True
    with pytest.raises(smtplib.SMTPDataError) as caught:
        await asyncio.to_thread(smtplib_send, smtp.port, "budi@warga.example.id", [INBOX], message_bytes())
    assert caught.value.smtp_code == 451 and "4.3.0" in str(caught.value.smtp_error)
    smtp.sink.failing = False
    await asyncio.to_thread(smtplib_send, smtp.port, "budi@warga.example.id", [INBOX], message_bytes())
    assert len(smtp.sink.stored) == 1


async def test_redelivery_is_a_duplicate_and_still_250(smtp: Running) -> None:
    client = aiosmtplib.SMTP(hostname="127.0.0.1", port=smtp.port, start_tls=False)
    await client.connect()
    for _ in range(2):
        errors, reply = await client.sendmail("budi@warga.example.id", [INBOX], message_bytes())
        assert errors == {} and reply.startswith("2.0.0")
    await client.quit()
    assert len(smtp.sink.stored) == 1 and smtp.sink.duplicates == 1


async def test_aiosmtplib_send_message(smtp: Running) -> None:
    message = EmailMessage()
    message["From"] = "Ani <ani@warga.example.id>"
    message["To"] = INBOX
    message["Subject"] = "Izin usaha lambat"
    message.set_content("Pengurusan izin usaha saya sudah tiga bulan.")
    await aiosmtplib.send(message, hostname="127.0.0.1", port=smtp.port, start_tls=False)
    (raw,) = smtp.sink.stored
    assert raw.external_id.startswith("sha256:")  # no Message-ID: the content hash is the dedup key
    record = normalize(raw)
    assert isinstance(record, Complaint) and record.title == "Izin usaha lambat"


@pytest.fixture
async def tls_smtp(tmp_path: Path) -> AsyncIterator[tuple[int, ssl.SSLContext, SwitchableSink]]:
    pki = make_pki(tmp_path / "pki")
    sink = SwitchableSink()
    channel = make_channel(
        memory_context(sink), tls_cert=str(pki.server_cert), tls_key=str(pki.server_key),
        require_auth=True, auth_users={"kantor": "rahasia-sekali"},
    )
    server = await channel.start()
    yield int(server.sockets[0].getsockname()[1]), ssl.create_default_context(cafile=str(pki.ca_cert)), sink
    server.close()
    await server.wait_closed()


async def test_auth_only_after_starttls(tls_smtp: tuple[int, ssl.SSLContext, SwitchableSink]) -> None:
    port, context, sink = tls_smtp
    plain = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False)
    await plain.connect()
    await plain.ehlo()
    assert plain.supports_extension("starttls") and not plain.supports_extension("auth")
    with pytest.raises(aiosmtplib.SMTPSenderRefused) as caught:
        await plain.sendmail("budi@warga.example.id", [INBOX], message_bytes())
    assert caught.value.code == 530  # authentication required
    await plain.quit()

    with pytest.raises(aiosmtplib.SMTPAuthenticationError):
        await aiosmtplib.send(
            message_bytes(), sender="a@b.id", recipients=[INBOX], hostname="127.0.0.1", port=port,
            start_tls=True, tls_context=context, username="kantor", password="salah",
        )
    await aiosmtplib.send(
        message_bytes(), sender="budi@warga.example.id", recipients=[INBOX], hostname="127.0.0.1", port=port,
        start_tls=True, tls_context=context, username="kantor", password="rahasia-sekali",
    )
    (raw,) = sink.stored
    assert raw.meta["tls"] == "yes"


def archive_context(archive: Archive) -> ChannelContext:
    doubles = memory_context()
    return ChannelContext(sink=archive, public_url="", cursors=doubles.cursors, deliveries=doubles.deliveries)


async def test_with_the_real_archive(sqlite_url: str) -> None:
    database = Database(sqlite_url)
    archive = Archive(database)
    channel = make_channel(archive_context(archive))
    server = await channel.start()
    port = int(server.sockets[0].getsockname()[1])
    try:
        await aiosmtplib.send(message_bytes(), sender="budi@warga.example.id", recipients=[INBOX],
                              hostname="127.0.0.1", port=port, start_tls=False)
        async with database.connect() as connection:
            rows = (await connection.exec_driver_sql("SELECT channel, external_id, payload FROM raw_message")).all()
        assert [tuple(row) for row in rows] == [("email", "<m1@warga.example.id>", message_bytes())]
    finally:
        server.close()
        await server.wait_closed()
        await archive.close()
        await database.dispose()


async def test_451_with_the_real_archive_when_the_database_cannot_store(tmp_path: Path) -> None:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'not-migrated.db'}")  # no tables: every insert fails
    archive = Archive(database)
    channel = make_channel(archive_context(archive))
    server = await channel.start()
    port = int(server.sockets[0].getsockname()[1])
    try:
        with pytest.raises(aiosmtplib.SMTPDataError) as caught:
            await aiosmtplib.send(message_bytes(), sender="budi@warga.example.id", recipients=[INBOX],
                                  hostname="127.0.0.1", port=port, start_tls=False)
        assert caught.value.code == 451
    finally:
        server.close()
        await server.wait_closed()
        await archive.close()
        await database.dispose()


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"unknown_key": 1}, "extra"),
        ({"tls_cert": "/x.pem"}, "tls_cert and tls_key go together"),
        ({"require_auth": True}, "need tls_cert and tls_key"),
        ({"from_address": "not-an-address"}, "from_address"),
    ],
    ids=["unknown-key", "cert-without-key", "auth-without-tls", "bad-from"],
)
def test_config_refused(settings: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        EmailConfig.model_validate({"domains": [DOMAIN], **settings})


async def test_no_recipients_configured_is_a_configuration_error() -> None:
    channel = EmailChannel(config=EmailConfig(port=0), context=memory_context())
    with pytest.raises(ConfigurationError):
        await channel.start()


async def test_require_starttls_refuses_plaintext_mail(tmp_path: Path) -> None:
    pki = make_pki(tmp_path / "pki")
    sink = SwitchableSink()
    channel = make_channel(
        memory_context(sink), tls_cert=str(pki.server_cert), tls_key=str(pki.server_key), require_starttls=True
    )
    server = await channel.start()
    port = int(server.sockets[0].getsockname()[1])
    try:
        with pytest.raises(aiosmtplib.SMTPSenderRefused) as caught:
            await aiosmtplib.send(message_bytes(), sender="budi@warga.example.id", recipients=[INBOX],
                                  hostname="127.0.0.1", port=port, start_tls=False)
        assert caught.value.code == 530
        context = ssl.create_default_context(cafile=str(pki.ca_cert))
        await aiosmtplib.send(message_bytes(), sender="budi@warga.example.id", recipients=[INBOX],
                              hostname="127.0.0.1", port=port, start_tls=True, tls_context=context)
        assert [raw.meta["tls"] for raw in sink.stored] == ["yes"]
    finally:
        server.close()
        await server.wait_closed()
