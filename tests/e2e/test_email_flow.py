"""E-mail end to end: a real SMTP client to the gateway's own server, the registry, the acknowledgement
through a relay, a threaded reply as a follow-up, machines ignored, and a bounce that stops further mail."""

from __future__ import annotations

import asyncio
import smtplib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import sqlalchemy as sa
from aiohttp import web

from config.settings import Settings
from gateway.registry.sim import build_sim_app
from gateway.runtime import Gateway
from gateway.storage.tables import raw_message, reply, reporter_preference
from tests.fakes.smtp_sink import SmtpSink, start_sink
from tests.support.ports import free_port

TOKEN = "email-e2e-registry-token"
DOMAIN = "lapor.example.go.id"
CITIZEN = "budi.santoso@example.com"


@dataclass
class Stack:
    gateway: Gateway
    smtp_port: int
    registry_url: str
    relay: SmtpSink

    async def complaints(self) -> list[dict[str, Any]]:
        async with aiohttp.ClientSession() as http:
            response = await http.get(f"{self.registry_url}/complaints", headers={"Authorization": f"Bearer {TOKEN}"})
            return list((await response.json())["items"])

    async def send(self, message: EmailMessage, *, sender: str = CITIZEN) -> None:
        def deliver() -> None:
            with smtplib.SMTP("127.0.0.1", self.smtp_port, timeout=10) as client:
                client.send_message(message, from_addr=sender, to_addrs=[f"aduan@{DOMAIN}"])

        await asyncio.to_thread(deliver)


async def wait_until(predicate: Any, *, timeout: float = 20) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.1)


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    registry_port = free_port()
    runner = web.AppRunner(build_sim_app(db_path=tmp_path / "registry.db", token=TOKEN))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", registry_port).start()
    relay = SmtpSink()
    relay_server, relay_port = await start_sink(relay)
    smtp_port = free_port()
    settings = Settings(
        server={"port": free_port()},
        database={"url": f"sqlite+aiosqlite:///{tmp_path / 'gw.db'}", "spool_dir": str(tmp_path / "spool")},
        registry={"url": f"http://127.0.0.1:{registry_port}", "token": TOKEN},
        dispatch={"poll_seconds": 0.1},
        channels={"email": {
            "enabled": True, "port": smtp_port, "domains": [DOMAIN], "max_message_bytes": 200_000,
            "relay_host": "127.0.0.1", "relay_port": relay_port, "from_address": f"pengaduan@{DOMAIN}",
        }},
    )
    gateway = Gateway(settings)
    await gateway.start()
    for _ in range(50):  # the SMTP server starts in the channel's run() task
        try:
            await asyncio.open_connection("127.0.0.1", smtp_port)
            break
        except OSError:
            await asyncio.sleep(0.1)
    yield Stack(gateway, smtp_port, f"http://127.0.0.1:{registry_port}", relay)
    await gateway.stop()
    relay_server.close()
    await runner.cleanup()


def complaint_mail(subject: str, body: str, **headers: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = f"Budi Santoso <{CITIZEN}>"
    message["To"] = f"aduan@{DOMAIN}"
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain="example.com")
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(body)
    return message


async def test_mail_to_registry_ack_and_threaded_reply(stack: Stack) -> None:
    first = complaint_mail("Jalan berlubang di Jl. Sukajadi", "Jalan di depan rumah saya berlubang besar.\n\n-- \nBudi")
    await stack.send(first)

    async def filed() -> bool:
        return len(await stack.complaints()) == 1

    await wait_until(filed)
    [complaint] = await stack.complaints()
    assert complaint["reporter"]["email"] == CITIZEN
    assert complaint["title"] == "Jalan berlubang di Jl. Sukajadi"
    tracking = complaint["tracking_id"]

    async def acknowledged() -> bool:
        return len(stack.relay.received) == 1

    await wait_until(acknowledged)
    ack = stack.relay.received[0].message()
    assert f"[LAPOR #{tracking}]" in str(ack["Subject"])
    assert ack["Auto-Submitted"] == "auto-replied"
    assert ack["In-Reply-To"] == first["Message-ID"]
    assert stack.relay.received[0].rcpt_tos == [CITIZEN]

    # The citizen answers the acknowledgement: a follow-up, not a second complaint.
    answer = complaint_mail(f"Re: {ack['Subject']}", "Sudah dua minggu belum diperbaiki.",
                            In_Reply_To=str(ack["Message-ID"]), References=str(ack["Message-ID"]))
    await stack.send(answer)

    async def followed_up() -> bool:
        async with aiohttp.ClientSession() as http:
            response = await http.get(f"{stack.registry_url}/complaints/{tracking}",
                                      headers={"Authorization": f"Bearer {TOKEN}"})
            return len((await response.json())["followups"]) == 1

    await wait_until(followed_up)
    assert len(await stack.complaints()) == 1

    # An out-of-office answer to our acknowledgement is kept, ignored, and never answered.
    machine = complaint_mail("Otomatis: Sedang cuti", "Saya sedang cuti sampai Senin.", Auto_Submitted="auto-replied")
    await stack.send(machine)

    async def machine_ignored() -> bool:
        async with stack.gateway.db.connect() as connection:
            rows = (await connection.execute(
                sa.select(raw_message.c.state, raw_message.c.reason).where(raw_message.c.state == "ignored")
            )).all()
        return len(rows) == 1

    await wait_until(machine_ignored)
    await asyncio.sleep(0.5)
    assert len(stack.relay.received) == 2  # the ack and the follow-up's ack; nothing for the machine


async def test_relay_attempt_is_refused(stack: Stack) -> None:
    def relay_attempt() -> tuple[int, bytes]:
        with smtplib.SMTP("127.0.0.1", stack.smtp_port, timeout=10) as client:
            client.ehlo()
            client.mail(CITIZEN)
            return client.rcpt("victim@elsewhere.example")

    code, text = await asyncio.to_thread(relay_attempt)
    assert code == 550 and b"5.7.1" in text


async def test_bounce_of_our_ack_marks_the_address_undeliverable(stack: Stack) -> None:
    await stack.send(complaint_mail("Lampu jalan mati", "Lampu PJU di gang kami mati seminggu."))

    async def acknowledged() -> bool:
        return len(stack.relay.received) == 1

    await wait_until(acknowledged)
    ack = stack.relay.received[0].message()
    # A minimal, standard DSN as a mail server would send it (RFC 3464).
    dsn = (
        f"From: Mail Delivery Subsystem <mailer-daemon@example.com>\r\nTo: pengaduan@{DOMAIN}\r\n"
        "Subject: Delivery Status Notification (Failure)\r\nMessage-ID: <dsn-1@example.com>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b0"\r\n\r\n'
        "--b0\r\nContent-Type: text/plain\r\n\r\nDelivery failed.\r\n"
        "--b0\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; example.com\r\n\r\n"
        f"Final-Recipient: rfc822; {CITIZEN}\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n"
        f"--b0\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: {ack['Message-ID']}\r\nTo: {CITIZEN}\r\n"
        "\r\n--b0--\r\n"
    ).encode()

    def deliver_bounce() -> None:
        with smtplib.SMTP("127.0.0.1", stack.smtp_port, timeout=10) as client:
            client.sendmail("", [f"pengaduan@{DOMAIN}"], dsn)

    await asyncio.to_thread(deliver_bounce)

    async def undeliverable() -> bool:
        async with stack.gateway.db.connect() as connection:
            found = (await connection.execute(
                sa.select(reporter_preference.c.undeliverable).where(reporter_preference.c.identity == CITIZEN)
            )).first()
        return bool(found and found.undeliverable)

    await wait_until(undeliverable)
    async with stack.gateway.db.connect() as connection:
        status_of_ack = (await connection.execute(sa.select(reply.c.delivery_status))).scalar_one()
    assert status_of_ack == "bounced"
