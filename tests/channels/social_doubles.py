"""In-memory stand-ins for what the core lends a channel (sink, cursors, delivery recorder)."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import structlog
from aiohttp import web

from channels.base import Channel, ChannelContext
from gateway.app import edge_errors
from gateway.messages import RawMessage, Stored


@dataclass
class RecordingSink:
    """Keeps what was submitted; a repeated (channel, external_id) is a duplicate, as in the archive."""

    stored: list[RawMessage] = field(default_factory=list)
    duplicates: int = 0

    async def submit(self, raw: RawMessage) -> Stored:
        """Store once per dedup key."""
        if any(s.channel == raw.channel and s.external_id == raw.external_id for s in self.stored):
            self.duplicates += 1
            return Stored.DUPLICATE
        self.stored.append(raw)
        return Stored.NEW


@dataclass
class MemoryCursors:
    """CursorStore in a dict."""

    values: dict[tuple[str, str], str] = field(default_factory=dict)

    async def get(self, channel: str, key: str) -> str | None:
        """The stored value, or None."""
        return self.values.get((channel, key))

    async def set(self, channel: str, key: str, value: str) -> None:
        """Store a value."""
        self.values[(channel, key)] = value


@dataclass
class MemoryDeliveries:
    """DeliveryRecorder in a list."""

    recorded: list[tuple[str, str, str, str]] = field(default_factory=list)

    async def record_delivery(self, channel: str, provider_id: str, status: str, detail: str = "") -> bool:
        """Remember one delivery status."""
        self.recorded.append((channel, provider_id, status, detail))
        return True


def memory_context(sink: RecordingSink | None = None, *, max_body_bytes: int = 1_048_576) -> ChannelContext:
    """A ChannelContext on in-memory doubles."""
    return ChannelContext(
        sink=sink or RecordingSink(),
        public_url="http://127.0.0.1:8080",
        cursors=MemoryCursors(),
        deliveries=MemoryDeliveries(),
        max_body_bytes=max_body_bytes,
    )


def channel_app(channel: Channel) -> web.Application:
    """The channel's routes mounted under /c/<name>/ behind the gateway's own error edge."""
    app = web.Application(middlewares=[edge_errors])
    for route in channel.routes():
        app.router.add_route(route.method, f"/c/{channel.name}{route.path}", route.handler)
    return app


@contextmanager
def captured_logs() -> Iterator[list[str]]:
    """Everything logged through structlog and stdlib logging (DEBUG and up), as text."""
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(f"{record.name} {record.getMessage()} {record.args!r} {record.exc_text or ''}")

    handler = Collect(level=logging.DEBUG)
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        with structlog.testing.capture_logs() as events:
            yield lines
            lines.extend(repr(event) for event in events)
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)


def leaked(lines: Sequence[str], secrets: Sequence[str]) -> list[str]:
    """The secrets that appear in any captured line."""
    return [secret for secret in secrets if any(secret in line for line in lines)]
