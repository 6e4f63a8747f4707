"""The on-disk spool: where acknowledged webhooks wait, fsynced, while the database is down.

Records are JSON lines in numbered segment files. Appends go to the newest segment; the drainer
closes it, copies closed segments into the database in order (duplicates are harmless: the archive
dedups on (channel, external_id)), and deletes a segment only after its rows are committed.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from pathlib import Path

import structlog

from gateway import metrics
from gateway.errors import ConfigurationError
from gateway.messages import RawMessage, Stored

log = structlog.get_logger(__name__)

SEGMENT_GLOB = "segment-*.jsonl"


def encode(raw: RawMessage) -> bytes:
    """One spool line for a raw message."""
    return json.dumps({
        "channel": raw.channel, "event": raw.event, "external_id": raw.external_id,
        "received_at": raw.received_at.isoformat(), "payload": base64.b64encode(raw.payload).decode(),
        "meta": dict(raw.meta),
    }, separators=(",", ":")).encode() + b"\n"


def decode(line: bytes) -> RawMessage:
    """The raw message of a spool line."""
    data = json.loads(line)
    return RawMessage(
        channel=data["channel"], event=data["event"], external_id=data["external_id"],
        received_at=datetime.fromisoformat(data["received_at"]), payload=base64.b64decode(data["payload"]),
        meta=data["meta"],
    )


class Spool:
    """Append-only, fsynced segments in one folder; single writer per process."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._lock = asyncio.Lock()
        self._count = 0
        self._next = 0

    def open(self) -> None:
        """Create the folder, prove it is writable, and count what an earlier run left."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            probe = self.directory / ".probe"
            with probe.open("wb") as handle:
                handle.write(b"ok")
                handle.flush()
                os.fsync(handle.fileno())
            probe.unlink()
        except OSError as exc:
            raise ConfigurationError(
                "spool folder is not writable", detail=f"{self.directory}: {exc.strerror or exc}"
            ) from exc
        segments = self.segments()
        self._count = sum(self._lines(path) for path in segments)
        self._next = max((int(p.stem.split("-")[1]) for p in segments), default=0) + 1
        metrics.SPOOL_SIZE.set(self._count)

    def segments(self) -> list[Path]:
        """Segment files, oldest first."""
        return sorted(self.directory.glob(SEGMENT_GLOB), key=lambda p: int(p.stem.split("-")[1]))

    @staticmethod
    def _read(path: Path) -> list[RawMessage]:
        raws = []
        for line in path.read_bytes().split(b"\n"):
            if not line.strip():
                continue
            try:
                raws.append(decode(line))
            except (ValueError, KeyError, TypeError):
                # A torn last line: the process died before its fsync, so it was never acknowledged.
                log.warning("spool.torn_line", segment=path.name)
        return raws

    @staticmethod
    def _lines(path: Path) -> int:
        with path.open("rb") as handle:
            return sum(1 for line in handle if line.endswith(b"\n"))

    @property
    def size(self) -> int:
        """Messages waiting in the spool."""
        return self._count

    async def append(self, raws: Sequence[RawMessage]) -> None:
        """Write and fsync; returns only when the lines are on disk."""
        data = b"".join(encode(raw) for raw in raws)
        async with self._lock:
            await asyncio.to_thread(self._write, self._current(), data)
            self._count += len(raws)
        metrics.SPOOL_SIZE.set(self._count)

    def _current(self) -> Path:
        return self.directory / f"segment-{self._next:08d}.jsonl"

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)

    async def drain(self, store: Callable[[Sequence[RawMessage]], Awaitable[list[Stored]]], *, batch: int = 500) -> int:
        """Move spooled messages into the database in order; stops at the first failure."""
        async with self._lock:
            self._next += 1  # later appends go to a new segment while older ones drain
        moved = 0
        for path in self.segments():
            if path == self._current():
                break
            raws = self._read(path)
            for start in range(0, len(raws), batch):
                await store(raws[start : start + batch])  # raises while the database is still down
            path.unlink()
            moved += len(raws)
            async with self._lock:
                self._count -= len(raws)
            metrics.SPOOL_SIZE.set(self._count)
        if moved:
            log.info("spool.drained", messages=moved, left=self._count)
        return moved
