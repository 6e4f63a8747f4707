"""The media worker: downloads a complaint's referenced attachments before it is filed.

Runs in the dispatcher, never on the webhook path. A fetch that fails (timeout, too large, private
address, provider error) marks that attachment `unavailable`; the complaint is filed all the same.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import aiohttp
import sqlalchemy as sa
import structlog

from channels.base import Channel
from channels.media_fetch import FetchedMedia, FetchFailed, MediaSource, fetch_media, media_session, store_media
from config.settings import MediaSettings
from gateway.errors import GatewayError
from gateway.messages import utcnow
from gateway.records import Attachment, Complaint
from gateway.storage.db import Database
from gateway.storage.tables import complaint

log = structlog.get_logger(__name__)


class MediaWorker:
    """Fetches and stores the `referenced` attachments of a record, content-addressed, and saves the record."""

    def __init__(self, db: Database, channels: Mapping[str, Channel], settings: MediaSettings) -> None:
        self._db = db
        # The gateway's live mapping: a channel rebuilt by a live reload is found here too.
        self._channels = channels
        self._settings = settings
        self._session: aiohttp.ClientSession | None = None

    def session(self) -> aiohttp.ClientSession:
        """The download session: its resolver refuses private addresses unless the settings allow them."""
        if self._session is None:
            if self._settings.allow_private_addresses:
                timeout = aiohttp.ClientTimeout(total=self._settings.timeout_seconds)
                self._session = aiohttp.ClientSession(timeout=timeout)
            else:
                self._session = media_session(timeout=self._settings.timeout_seconds)
        return self._session

    async def close(self) -> None:
        """Close the download session."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def prepare(self, record: Complaint) -> Complaint:
        """The record with every referenced attachment stored or unavailable; saved before it is filed."""
        if not any(attachment.state == "referenced" for attachment in record.attachments):
            return record
        attachments = await asyncio.gather(
            *(self._settle(record, index, attachment) for index, attachment in enumerate(record.attachments))
        )
        updated = record.model_copy(update={"attachments": tuple(attachments)})
        async with self._db.begin() as connection:
            await connection.execute(
                sa.update(complaint)
                .where(complaint.c.id == record.id)
                .values(record=updated.model_dump_json(), updated_at=utcnow())
            )
        return updated

    async def _settle(self, record: Complaint, index: int, attachment: Attachment) -> Attachment:
        if attachment.state != "referenced":
            return attachment
        outcome = await self._download(record.channel, attachment)
        if isinstance(outcome, FetchFailed):
            # Never the URL: a Telegram file URL holds the bot token, a signed URL its signature.
            log.warning("media.unavailable", complaint_id=record.id, attachment=index, channel=record.channel,
                        reason=outcome.reason, detail=outcome.detail)
            return attachment.model_copy(update={"state": "unavailable"})
        try:
            await asyncio.to_thread(store_media, self._settings.directory, outcome.data)
        except OSError as exc:
            # A full or unwritable media folder costs the attachment, not the complaint.
            log.error("media.store_failed", complaint_id=record.id, attachment=index, error=type(exc).__name__)
            return attachment.model_copy(update={"state": "unavailable"})
        log.info("media.stored", complaint_id=record.id, attachment=index, channel=record.channel,
                 size=outcome.size)
        return attachment.model_copy(update={"state": "stored", "size": outcome.size, "sha256": outcome.sha256})

    async def _download(self, channel_name: str, attachment: Attachment) -> FetchedMedia | FetchFailed:
        if not attachment.url:
            return FetchFailed("", "no_url")
        # One budget for the provider lookup and the download, well inside the dispatcher's job lease.
        try:
            return await asyncio.wait_for(self._lookup_and_fetch(channel_name, attachment.url),
                                          timeout=self._settings.timeout_seconds)
        except TimeoutError:
            return FetchFailed("", "timeout", f"{self._settings.timeout_seconds:g}s")

    async def _lookup_and_fetch(self, channel_name: str, url: str) -> FetchedMedia | FetchFailed:
        try:
            source = await self._source(channel_name, url)
        except GatewayError as exc:
            return FetchFailed("", "lookup_failed", exc.reason)
        except Exception as exc:  # a provider lookup failure of any kind only costs this attachment
            return FetchFailed("", "lookup_failed", type(exc).__name__)
        return await fetch_media(
            source.url,
            session=self.session(),
            max_bytes=self._settings.max_bytes,
            timeout=self._settings.timeout_seconds,
            allow_private=self._settings.allow_private_addresses,
            headers=source.headers,
        )

    async def _source(self, channel_name: str, url: str) -> MediaSource:
        channel = self._channels.get(channel_name)
        return MediaSource(url) if channel is None else await channel.media_source(url)
