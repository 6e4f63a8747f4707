"""The sink channels see: counts what arrives, marks floods, and hands it to the archive."""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from dataclasses import replace

from gateway import metrics
from gateway.messages import RawMessage, Sink, Stored

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


class IngestSink:
    """Sink for channels: flood marking and metrics around the durable store."""

    def __init__(self, store: Sink, *, sender_rate_per_minute: int) -> None:
        self._store = store
        self._rate = SenderRate(per_minute=sender_rate_per_minute)

    async def submit(self, raw: RawMessage) -> Stored:
        """Store `raw`; a sender past the per-minute rate is stored too, marked as a flood."""
        sender = raw.meta.get("sender")
        if sender and self._rate.over_limit(f"{raw.channel}\x00{sender}"):
            raw = replace(raw, meta={**raw.meta, "flood": "1"})
            metrics.FLOODED.labels(raw.channel).inc()
        stored = await self._store.submit(raw)
        if stored is Stored.DUPLICATE:
            metrics.DUPLICATES.labels(raw.channel).inc()
        else:
            metrics.RECEIVED.labels(raw.channel).inc()
        return stored
