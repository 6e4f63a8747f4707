"""The IMAP pull channel against a real dovecot on loopback (IMAPS, certificate verified)."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import structlog
from pydantic import ValidationError

from channels.base import ChannelContext, CredentialCheck
from channels.imap import ImapChannel, ImapConfig
from gateway.messages import RawMessage, Stored
from gateway.records import Complaint
from gateway.storage.archive import Archive
from gateway.storage.cursors import DatabaseCursors, DatabaseDeliveries
from gateway.storage.db import Database
from normalizers.email import normalize
from tests.channels.social_doubles import MemoryCursors, RecordingSink, memory_context
from tests.fakes.imap_dovecot import Dovecot, running_dovecot


class FailingAfter(RecordingSink):
    """The sink interface: stores `allowed` messages, then fails like a database that went down."""

    allowed: int = 1_000_000

    async def submit(self, raw: RawMessage) -> Stored:
        """Fail once the allowance is used up."""
        if len(self.stored) >= self.allowed:
            raise ConnectionError("database unavailable")
        return await super().submit(raw)


def mail(number: int, message_id: str | None = None) -> bytes:
    header = f"Message-ID: {message_id or f'<imap-{number}@warga.example.id>'}\r\n" if message_id != "" else ""
    return (
        f"From: Warga {number} <warga{number}@example.id>\r\nTo: pengaduan@pemda.example.id\r\n"
        f"Subject: Laporan nomor {number}\r\n{header}Content-Type: text/plain; charset=utf-8\r\n\r\n"
        f"Jalan di RT {number} rusak parah.\r\n"
    ).encode()


@pytest.fixture(scope="module")
def server() -> Iterator[Dovecot]:
    with running_dovecot() as running:
        yield running


@dataclass
class Box:
    """One test's own folder on the shared dovecot."""

    server: Dovecot
    folder: str

    def append(self, *messages: bytes) -> None:
        self.server.append(*messages, folder=self.folder)

    def flags(self) -> dict[int, tuple[bytes, ...]]:
        return self.server.flags(self.folder)


@pytest.fixture
def dovecot(server: Dovecot, request: pytest.FixtureRequest) -> Box:
    box = Box(server, "T" + "".join(ch for ch in request.node.name if ch.isalnum())[-40:])
    server.append(folder=box.folder)  # creates the folder
    return box


def channel_for(box: Box, sink: RecordingSink | None = None, **settings: object) -> ImapChannel:
    server = box.server
    values: dict[str, object] = {
        "enabled": True, "host": "127.0.0.1", "port": server.port, "ca_file": str(server.ca_file),
        "user": server.user, "password": server.password, "poll_seconds": 0.05, "batch_size": 10,
        "timeout_seconds": 5, "folder": box.folder,
    }
    values.update(settings)
    context: ChannelContext = memory_context(sink or RecordingSink())
    return ImapChannel(config=ImapConfig.model_validate(values), context=context)


def stored(channel: ImapChannel) -> list[RawMessage]:
    sink = channel.context.sink
    assert isinstance(sink, RecordingSink)
    return sink.stored


def cursors(channel: ImapChannel) -> dict[tuple[str, str], str]:
    store = channel.context.cursors
    assert isinstance(store, MemoryCursors)
    return store.values


async def test_polls_new_mail_once_and_leaves_it_untouched(dovecot: Box) -> None:
    dovecot.append(mail(1), mail(2))
    channel = channel_for(dovecot)
    assert await channel.poll_once() == 2
    assert await channel.poll_once() == 0
    dovecot.append(mail(3))
    assert await channel.poll_once() == 1
    assert [raw.external_id for raw in stored(channel)] == [f"<imap-{n}@warga.example.id>" for n in (1, 2, 3)]
    assert cursors(channel)[("imap", f"{dovecot.folder}:uid")] == "3"
    assert all(b"\\Seen" not in flags for flags in dovecot.flags().values())  # never flagged unless configured
    assert len(dovecot.flags()) == 3  # never deleted unless configured
    raw = stored(channel)[0]
    assert raw.channel == "imap" and raw.meta["uid"] == "1"
    record = normalize(raw)
    assert isinstance(record, Complaint) and record.channel == "imap" and record.title == "Laporan nomor 1"


async def test_known_message_ids_are_not_downloaded_again(dovecot: Box) -> None:
    dovecot.append(mail(1), mail(1), mail(2, message_id=""))
    sink = RecordingSink()
    channel = channel_for(dovecot, sink)
    assert await channel.poll_once() == 2  # the copy with the same Message-ID is skipped before its body
    # A UIDVALIDITY change restarts the cursor; recently taken Message-IDs are still skipped.
    cursors(channel)[("imap", f"{dovecot.folder}:uidvalidity")] = "1"
    assert await channel.poll_once() == 1  # only the message without a Message-ID is fetched again
    assert sink.duplicates == 1  # ...and the archive's content-hash key makes it a duplicate


@pytest.mark.parametrize(
    ("settings", "remaining", "seen"),
    [({"mark_seen": True}, 2, True), ({"delete_after_ingest": True}, 0, False)],
    ids=["mark-seen", "delete"],
)
async def test_flag_or_delete_only_when_configured(
    dovecot: Box, settings: dict[str, object], remaining: int, seen: bool
) -> None:
    dovecot.append(mail(1), mail(2))
    channel = channel_for(dovecot, None, **settings)
    assert await channel.poll_once() == 2
    flags = dovecot.flags()
    assert len(flags) == remaining
    assert all((b"\\Seen" in value) is seen for value in flags.values())


async def test_store_failure_keeps_the_cursor_before_the_failed_message(dovecot: Box) -> None:
    dovecot.append(mail(1), mail(2), mail(3))
    sink = FailingAfter()
    sink.allowed = 1
    channel = channel_for(dovecot, sink)
    with pytest.raises(ConnectionError):
        await channel.poll_once()
    assert cursors(channel)[("imap", f"{dovecot.folder}:uid")] == "1"
    sink.allowed = 10
    assert await channel.poll_once() == 2
    assert [raw.meta["uid"] for raw in sink.stored] == ["1", "2", "3"]


async def test_run_loop_picks_up_new_mail(dovecot: Box) -> None:
    channel = channel_for(dovecot)
    task = asyncio.create_task(channel.run())
    try:
        await asyncio.to_thread(dovecot.append, mail(7))
        for _ in range(100):
            if stored(channel):
                break
            await asyncio.sleep(0.05)
        assert [raw.external_id for raw in stored(channel)] == ["<imap-7@warga.example.id>"]
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_certificate_is_verified(dovecot: Box) -> None:
    channel = channel_for(dovecot, ca_file=None)  # the system store does not know the test CA
    with pytest.raises(ssl.SSLCertVerificationError):
        await channel.poll_once()
    assert await channel.check_credentials() is CredentialCheck.CANNOT_CONNECT


async def test_check_credentials(dovecot: Box) -> None:
    assert await channel_for(dovecot).check_credentials() is CredentialCheck.OK
    assert await channel_for(dovecot, password="salah").check_credentials() is CredentialCheck.INVALID_AUTH
    assert await channel_for(dovecot, folder="Tidak-Ada").check_credentials() is CredentialCheck.UNKNOWN


async def test_login_failure_in_the_loop_is_logged_without_the_password(dovecot: Box) -> None:
    channel = channel_for(dovecot, password="kata-sandi-yang-salah")
    with structlog.testing.capture_logs() as logs:
        task = asyncio.create_task(channel.run())
        for _ in range(100):
            if logs:
                break
            await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert logs and logs[0]["event"] == "imap.login_failed"
    assert "kata-sandi-yang-salah" not in repr(logs)
    assert channel.secrets() == ("kata-sandi-yang-salah",)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"enabled": True, "user": "warga"}, "needs user and password"),
        ({"tls": "none"}, "tls"),
        ({"batch_size": 0}, "batch_size"),
        ({"unknown": 1}, "extra"),
    ],
    ids=["no-password", "plaintext", "empty-batch", "unknown-key"],
)
def test_config_refused(settings: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ImapConfig.model_validate(settings)


async def test_restart_with_the_real_archive_and_cursor_table(dovecot: Box, sqlite_url: str) -> None:
    database = Database(sqlite_url)
    archive = Archive(database)
    context = ChannelContext(
        sink=archive, public_url="", cursors=DatabaseCursors(database), deliveries=DatabaseDeliveries(database)
    )
    config = channel_for(dovecot).config
    try:
        dovecot.append(mail(1), mail(2))
        assert await ImapChannel(config=config, context=context).poll_once() == 2
        dovecot.append(mail(3))
        # A new channel object, as after a restart: the cursor comes from the database.
        assert await ImapChannel(config=config, context=context).poll_once() == 1
        async with database.connect() as connection:
            rows = (await connection.exec_driver_sql("SELECT channel, external_id FROM raw_message")).all()
        assert sorted(tuple(row) for row in rows) == [("imap", f"<imap-{n}@warga.example.id>") for n in (1, 2, 3)]
    finally:
        await archive.close()
        await database.dispose()
