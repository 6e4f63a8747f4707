"""The raw archive: the Sink channels submit to; concurrent submits share one commit."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from json.encoder import encode_basestring_ascii as _quote

import structlog

from gateway.messages import RawMessage, Stored
from gateway.records import raw_id
from gateway.storage.db import Database
from gateway.storage.raw_insert import COLUMNS, ArchiveUnavailable, PostgresRawWriter, RawValues, SqliteRawWriter

log = structlog.get_logger(__name__)


@dataclass(slots=True)
class _Pending:
    raw: RawMessage
    done: asyncio.Future[Stored]


def meta_json(meta: Mapping[str, str]) -> str:
    """`json.dumps(dict(meta), sort_keys=True)`, written out directly for string keys and values (twice as fast:
    json.dumps builds an encoder on every call)."""
    try:
        return "{" + ", ".join([f"{_quote(key)}: {_quote(value)}" for key, value in sorted(meta.items())]) + "}"
    except TypeError:  # not a string after all: the general encoder decides
        return json.dumps(dict(meta), sort_keys=True)


def raw_values(raw: RawMessage, *, state: str = "received") -> RawValues:
    """The raw_message columns an arriving message fills, in raw_insert.COLUMNS order."""
    return (raw_id(raw.channel, raw.external_id), raw.channel, raw.event, raw.external_id, raw.received_at,
            raw.payload, raw.sha256, meta_json(raw.meta), state, raw_flags(raw))


def raw_row(raw: RawMessage, *, state: str = "received") -> dict[str, object]:
    """The raw_message row for a RawMessage, by column name."""
    return dict(zip(COLUMNS, raw_values(raw, state=state), strict=True))


def raw_flags(raw: RawMessage) -> str:
    """Facts about how a message arrived that later steps act on, comma-separated."""
    flags = []
    if raw.meta.get("signature") == "invalid":
        flags.append("signature_unverified")
    if raw.meta.get("flood") == "1":
        flags.append("flood")
    return ",".join(flags)


class Archive:
    """Group commit: every submit waits for the transaction that holds it, and shares it with its neighbours."""

    def __init__(
        self,
        db: Database,
        *,
        max_batch: int = 256,
        on_stored: Callable[[], None] | None = None,
    ) -> None:
        self._db = db
        self._max_batch = max_batch
        self._queue: list[_Pending] = []
        self._wake = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        self._on_stored = on_stored
        self._writing: Sequence[_Pending] = ()  # the batch being written
        self._inserter: SqliteRawWriter | PostgresRawWriter = (
            PostgresRawWriter(db) if db.is_postgres else SqliteRawWriter(db)
        )
        self.commits = 0  # transactions committed, for tests and metrics
        self._last_submit = float("-inf")

    def recently_active(self, seconds: float) -> bool:
        """Whether a message was submitted within the last `seconds`."""
        return time.monotonic() - self._last_submit < seconds

    @property
    def waiting(self) -> bool:
        """True while acknowledgements are queued behind the commit in progress (a burst)."""
        return bool(self._queue)

    @property
    def busy(self) -> bool:
        """True while acknowledgements wait for a commit: background writers should let them go first."""
        return bool(self._queue) or bool(self._writing)

    async def submit(self, raw: RawMessage) -> Stored:
        """Store `raw` durably; NEW or DUPLICATE once committed, ArchiveUnavailable if it cannot be."""
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_loop(), name="archive-writer")
        self._last_submit = time.monotonic()
        done: asyncio.Future[Stored] = asyncio.get_running_loop().create_future()
        self._queue.append(_Pending(raw, done))
        self._wake.set()
        return await done

    async def close(self) -> None:
        """Finish the queued writes and the one in progress, then stop the writer."""
        if self._writer is not None and not self._writer.done():
            unfinished = [item.done for item in (*self._writing, *self._queue)]
            await asyncio.gather(*unfinished, return_exceptions=True)
        if self._writer is not None:
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer
        await self._inserter.close()

    async def _write_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                batch, self._queue = self._queue[: self._max_batch], self._queue[self._max_batch :]
                self._writing = batch
                try:
                    await self._write(batch)
                finally:
                    self._writing = ()

    async def _write(self, batch: Sequence[_Pending]) -> None:
        try:
            outcomes = await self.store_many([item.raw for item in batch])
        except ArchiveUnavailable as exc:
            log.warning("archive.write_failed", error=str(exc), batch=len(batch))
            for item in batch:
                if not item.done.done():
                    item.done.set_exception(exc)
            return
        for item, outcome in zip(batch, outcomes, strict=True):
            if not item.done.done():
                item.done.set_result(outcome)
        if self._on_stored is not None and Stored.NEW in outcomes:
            self._on_stored()

    async def store_many(self, raws: Sequence[RawMessage]) -> list[Stored]:
        """Insert in one transaction; a (channel, external_id) already stored is a duplicate.

        ArchiveUnavailable when the database refuses: nothing of the batch is stored then.
        """
        if not raws:
            return []
        rows: dict[str, RawValues] = {}
        keys: list[str] = []
        for raw in raws:
            row = raw_values(raw)
            key = str(row[0])
            keys.append(key)
            rows.setdefault(key, row)
        inserted = await self._inserter.insert(list(rows.values()))
        self.commits += 1
        outcomes: list[Stored] = []
        for key in keys:
            outcomes.append(Stored.NEW if key in inserted else Stored.DUPLICATE)
            inserted.discard(key)  # a second copy in the same batch is a duplicate
        return outcomes
