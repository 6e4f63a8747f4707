"""IMAP pull, for agencies whose complaint mailbox is hosted elsewhere: poll, archive, never touch.

imapclient is blocking, so each step runs in a worker thread (asyncio.to_thread). Position is
a UID cursor per folder in the database; UIDVALIDITY changes restart it (RFC 3501 §2.3.1.1),
and the Message-IDs recently taken keep a restart from downloading everything again.
Mail is only flagged \\Seen or deleted when the configuration says so.
"""

from __future__ import annotations

import asyncio
import hashlib
import imaplib
import json
import ssl
from collections.abc import Sequence
from typing import Literal

import structlog
from imapclient.exceptions import IMAPClientError, LoginError
from pydantic import SecretStr, model_validator

from channels.base import Channel, CredentialCheck, OutgoingReply, SendResult
from channels.email_reply import RelaySettings, send_ack
from channels.imap_mailbox import Listing, Mailbox, MailboxAddress
from gateway import metrics
from gateway.messages import RawMessage, utcnow
from normalizers.email_parse import external_id

log = structlog.get_logger(__name__)

IMAP_ERRORS = (OSError, ssl.SSLError, IMAPClientError, imaplib.IMAP4.error)
LOGIN_BACKOFF_SECONDS = 300.0
FOLDER_KEY_MAX = 48


class ImapConfig(RelaySettings):
    """`[channels.imap]`: the mailbox to poll, and the relay acknowledgements go out through."""

    host: str = "127.0.0.1"
    port: int = 993
    tls: Literal["implicit", "starttls"] = "implicit"  # no plaintext: the password crosses the network
    ca_file: str | None = None  # a private CA; the system store otherwise
    user: str = ""
    password: SecretStr = SecretStr("")
    folder: str = "INBOX"
    poll_seconds: float = 60.0
    batch_size: int = 50
    mark_seen: bool = False
    delete_after_ingest: bool = False
    timeout_seconds: float = 30.0
    recent_ids: int = 500

    @model_validator(mode="after")
    def _complete(self) -> ImapConfig:
        if self.enabled and not (self.user and self.password.get_secret_value()):
            raise ValueError("an enabled imap channel needs user and password")
        if self.batch_size < 1 or self.poll_seconds <= 0:
            raise ValueError("batch_size must be at least 1 and poll_seconds positive")
        return self


class ImapChannel(Channel):
    """Polls an IMAP folder and archives new mail; replies like the email channel, through a relay."""

    name = "imap"
    events = frozenset({"message"})
    config_model = ImapConfig
    config: ImapConfig

    @classmethod
    def raw_from_file(cls, payload: bytes, *, source: str) -> RawMessage:
        """An archived .eml; its Message-ID (or content hash) is the dedup key, as for polled mail."""
        return RawMessage(
            channel=cls.name, event="message", external_id=external_id(payload), received_at=utcnow(),
            payload=payload, meta={"source": source},
        )

    def secrets(self) -> Sequence[str]:
        """The mailbox password and the relay password."""
        found = (self.config.password.get_secret_value(), *self.config.relay_secrets())
        return tuple(value for value in found if value)

    def _address(self) -> MailboxAddress:
        return MailboxAddress(
            host=self.config.host, port=self.config.port, user=self.config.user,
            password=self.config.password.get_secret_value(), folder=self.config.folder, tls=self.config.tls,
            ca_file=self.config.ca_file, timeout=self.config.timeout_seconds,
        )

    def _key(self, what: str) -> str:
        # channel_cursor.key holds 64 characters; long folder names are hashed to fit.
        folder = self.config.folder
        if len(folder) > FOLDER_KEY_MAX:
            folder = hashlib.sha256(folder.encode()).hexdigest()[:FOLDER_KEY_MAX]
        return f"{folder}:{what}"

    async def run(self) -> None:
        """Poll until cancelled; connection and login failures are logged and retried."""
        delay = self.config.poll_seconds
        while True:
            try:
                taken = await self.poll_once()
                delay = self.config.poll_seconds
                if taken >= self.config.batch_size:
                    continue  # more is waiting
            except LoginError:
                log.error("imap.login_failed", host=self.config.host)
                delay = max(self.config.poll_seconds, LOGIN_BACKOFF_SECONDS)
            except IMAP_ERRORS as exc:
                log.warning("imap.poll_failed", host=self.config.host, error=type(exc).__name__)
                delay = min(delay * 2, LOGIN_BACKOFF_SECONDS)
            await asyncio.sleep(delay)

    async def poll_once(self) -> int:
        """One pass: list new UIDs, skip known Message-IDs, fetch and archive the rest; the count archived."""
        writable = self.config.mark_seen or self.config.delete_after_ingest
        mailbox = await asyncio.to_thread(Mailbox, self._address(), writable=writable)
        try:
            return await self._take(mailbox)
        finally:
            await asyncio.to_thread(mailbox.close)

    async def _take(self, mailbox: Mailbox) -> int:
        cursors = self.context.cursors
        last_uid = int(await cursors.get(self.name, self._key("uid")) or 0)
        if await cursors.get(self.name, self._key("uidvalidity")) != str(mailbox.uidvalidity):
            last_uid = 0
        recent: list[str] = json.loads(await cursors.get(self.name, self._key("recent")) or "[]")
        listing = await asyncio.to_thread(mailbox.list_new, last_uid, self.config.batch_size)
        wanted = self._unknown(listing, set(recent))
        bodies = await asyncio.to_thread(mailbox.fetch_bodies, wanted)
        done: list[int] = []
        taken = 0
        try:
            for uid in sorted(listing.message_ids):
                if uid in bodies:
                    raw = self._raw(uid, listing.uidvalidity, bodies[uid])
                    await self.context.sink.submit(raw)  # a failure stops here; the cursor stays before uid
                    recent.append(raw.external_id)
                    taken += 1
                done.append(uid)
        finally:
            if done:
                await cursors.set(self.name, self._key("uidvalidity"), str(listing.uidvalidity))
                await cursors.set(self.name, self._key("uid"), str(done[-1]))
                kept = list(dict.fromkeys(recent))[-self.config.recent_ids :]
                await cursors.set(self.name, self._key("recent"), json.dumps(kept))
        await self._after_ingest(mailbox, done)
        metrics.RECEIVED.labels(self.name).inc(taken)
        return taken

    @staticmethod
    def _unknown(listing: Listing, known: set[str]) -> list[int]:
        """UIDs whose Message-ID is neither recently taken nor repeated earlier in this listing."""
        wanted: list[int] = []
        for uid, message_id in sorted(listing.message_ids.items()):
            if message_id is None:
                wanted.append(uid)
            elif message_id not in known:
                known.add(message_id)
                wanted.append(uid)
        return wanted

    def _raw(self, uid: int, uidvalidity: int, payload: bytes) -> RawMessage:
        return RawMessage(
            channel=self.name, event="message", external_id=external_id(payload), received_at=utcnow(),
            payload=payload,
            meta={"folder": self.config.folder, "uid": str(uid), "uidvalidity": str(uidvalidity)},
        )

    async def _after_ingest(self, mailbox: Mailbox, uids: Sequence[int]) -> None:
        """Flag or delete archived mail, only when configured and only after it is durable."""
        if self.config.delete_after_ingest:
            await asyncio.to_thread(mailbox.delete, uids)
        elif self.config.mark_seen:
            await asyncio.to_thread(mailbox.mark_seen, uids)

    async def send(self, reply: OutgoingReply) -> SendResult:
        """The acknowledgement by email through the relay; its Message-ID is the provider id."""
        provider_id = await send_ack(reply, self.config, now=utcnow())
        metrics.REPLIES.labels(self.name, "sent").inc()
        return SendResult(provider_id=provider_id)

    async def check_credentials(self) -> CredentialCheck:
        """Log in to the mailbox and open the folder."""
        try:
            mailbox = await asyncio.to_thread(Mailbox, self._address(), writable=False)
        except LoginError:
            return CredentialCheck.INVALID_AUTH
        except (OSError, ssl.SSLError):
            return CredentialCheck.CANNOT_CONNECT
        except IMAP_ERRORS:
            return CredentialCheck.UNKNOWN
        await asyncio.to_thread(mailbox.close)
        return CredentialCheck.OK
