"""The sink channels see: counts what arrives, marks floods, and hands it to the archive."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import replace

import structlog
from prometheus_client import Counter

from gateway import metrics
from gateway.messages import RawMessage, Sink, Stored
from gateway.storage.archive import Archive
from gateway.storage.raw_insert import ArchiveUnavailable
from gateway.storage.spool import Spool

log = structlog.get_logger(__name__)

FLOOD_WINDOW_SECONDS = 60.0


class SenderRate:
    """Per-sender message counts over the last minute, in bounded memory (least recent senders evicted)."""

    def __init__(self, *, per_minute: int, max_senders: int = 50_000) -> None:
        self._limit = per_minute
        self._max_senders = max_senders
        self._seen: OrderedDict[str, deque[float]] = OrderedDict()

    def over_limit(self, key: str, now: float | None = None) -> bool:
        """Count one message from `key`; True when it is past the per-minute limit."""
        now = time.monotonic() if now is None else now
        times = self._seen.pop(key, None)
        if times is None:
            times = deque(maxlen=self._limit + 1)
            if len(self._seen) >= self._max_senders:
                self._seen.popitem(last=False)
        self._seen[key] = times
        while times and now - times[0] > FLOOD_WINDOW_SECONDS:
            times.popleft()
        times.append(now)
        return len(times) > self._limit


class DurableSink:
    """The archive, with the on-disk spool behind it for when the database is down.

    While anything waits in the spool, new messages go there too, so they reach the database in the
    order they arrived.
    """

    def __init__(self, archive: Archive, spool: Spool) -> None:
        self._archive = archive
        self._spool = spool
        self._wake = asyncio.Event()
        self.on_drained: Callable[[], None] | None = None

    async def submit(self, raw: RawMessage) -> Stored:
        """Committed to the database, or fsynced to the spool: either way durable before we answer."""
        if self._spool.size == 0:
            try:
                return await self._archive.submit(raw)
            except ArchiveUnavailable:
                log.warning("ingest.spooling", channel=raw.channel)
        await self._spool.append([raw])
        self._wake.set()
        return Stored.SPOOLED

    async def drain_forever(self, *, retry_seconds: float = 1.0) -> None:
        """Move spooled messages into the database whenever it answers again."""
        while True:
            if self._spool.size == 0:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=5)
                continue
            try:
                moved = await self._spool.drain(self._archive.store_many)
            except ArchiveUnavailable as exc:
                log.info("spool.database_still_down", error=str(exc), waiting=self._spool.size)
                await asyncio.sleep(retry_seconds)
                continue
            if moved and self.on_drained is not None:
                self.on_drained()
            await asyncio.sleep(0.05)


class IngestSink:
    """Sink for channels: flood marking and metrics around the durable store."""

    def __init__(self, store: Sink, *, sender_rate_per_minute: int) -> None:
        self._store = store
        self._rate = SenderRate(per_minute=sender_rate_per_minute)
        self._counters: dict[str, tuple[Counter, Counter]] = {}

    async def submit(self, raw: RawMessage) -> Stored:
        """Store `raw`; a sender past the per-minute rate is stored too, marked as a flood."""
        sender = raw.meta.get("sender")
        if sender and self._rate.over_limit(f"{raw.channel}\x00{sender}"):
            raw = replace(raw, meta={**raw.meta, "flood": "1"})
            metrics.FLOODED.labels(raw.channel).inc()
        stored = await self._store.submit(raw)
        received, duplicates = self._channel_counters(raw.channel)
        (duplicates if stored is Stored.DUPLICATE else received).inc()
        return stored

    def _channel_counters(self, channel: str) -> tuple[Counter, Counter]:
        # The labelled children, looked up once per channel rather than on every message.
        counters = self._counters.get(channel)
        if counters is None:
            counters = self._counters[channel] = (metrics.RECEIVED.labels(channel), metrics.DUPLICATES.labels(channel))
        return counters
