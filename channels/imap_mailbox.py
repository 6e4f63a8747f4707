"""Blocking IMAP work with imapclient (BSD licence), run by channels.imap in a worker thread.

Headers first: the Message-IDs of new UIDs are fetched alone, so mail the gateway already has
is never downloaded again; bodies use BODY.PEEK[] so reading never sets \\Seen (RFC 3501 §6.4.5).
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError

from normalizers.email_parse import message_ids

HEADER_ITEM = b"BODY[HEADER.FIELDS (MESSAGE-ID)]"
BODY_ITEM = b"BODY[]"


@dataclass(frozen=True, slots=True)
class MailboxAddress:
    """Where the mailbox is and how to reach it safely."""

    host: str
    port: int
    user: str
    password: str
    folder: str
    tls: str  # "implicit" (IMAPS, port 993) or "starttls"
    ca_file: str | None
    timeout: float


@dataclass(frozen=True, slots=True)
class Listing:
    """New UIDs of the folder above a cursor, with the Message-ID of each (None if it has none)."""

    uidvalidity: int
    message_ids: dict[int, str | None]


class Mailbox:
    """One logged-in IMAP session on one folder; every method blocks."""

    def __init__(self, address: MailboxAddress, *, writable: bool) -> None:
        context = ssl.create_default_context(cafile=address.ca_file)  # verifies chain and host name
        implicit = address.tls == "implicit"
        self.client = IMAPClient(
            address.host, address.port, ssl=implicit, ssl_context=context, timeout=address.timeout
        )
        try:
            if not implicit:
                self.client.starttls(context)
            self.client.login(address.user, address.password)
            selected = self.client.select_folder(address.folder, readonly=not writable)
        except BaseException:
            self.close()
            raise
        self.uidvalidity = int(selected[b"UIDVALIDITY"])

    def list_new(self, after_uid: int, limit: int) -> Listing:
        """UIDs above `after_uid` (at most `limit`, oldest first) and their Message-IDs."""
        # "N:*" always matches the last message, even when its UID is below N (RFC 3501 §6.4.8).
        uids = sorted(uid for uid in self.client.search(["UID", f"{after_uid + 1}:*"]) if uid > after_uid)[:limit]
        found: dict[int, str | None] = {}
        if uids:
            fetched = self.client.fetch(uids, ["BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"])
            for uid in uids:
                header = fetched.get(uid, {}).get(HEADER_ITEM, b"")
                ids = message_ids(bytes(header).decode("utf-8", "replace"))
                found[uid] = ids[0] if ids else None
        return Listing(self.uidvalidity, found)

    def fetch_bodies(self, uids: Sequence[int]) -> dict[int, bytes]:
        """The full RFC 5322 bytes of each UID, without setting \\Seen."""
        if not uids:
            return {}
        fetched = self.client.fetch(list(uids), ["BODY.PEEK[]"])
        return {uid: bytes(data[BODY_ITEM]) for uid, data in fetched.items() if BODY_ITEM in data}

    def mark_seen(self, uids: Sequence[int]) -> None:
        """Set \\Seen on ingested mail (only when configured)."""
        if uids:
            self.client.add_flags(list(uids), [b"\\Seen"], silent=True)

    def delete(self, uids: Sequence[int]) -> None:
        """Delete ingested mail (only when configured): \\Deleted, then UID EXPUNGE where supported."""
        if not uids:
            return
        self.client.delete_messages(list(uids), silent=True)
        if self.client.has_capability("UIDPLUS"):
            self.client.uid_expunge(list(uids))
        else:
            self.client.expunge()

    def close(self) -> None:
        """Log out, ignoring a connection that is already gone."""
        try:
            self.client.logout()
        except (OSError, IMAPClientError, IMAPClient.Error, IMAPClient.AbortError):
            with contextlib.suppress(OSError):
                self.client.shutdown()
