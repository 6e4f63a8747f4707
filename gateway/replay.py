"""Replaying stored raw messages after a fix, dry runs over files, and importing archives."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from channels.registry import CHANNELS
from gateway.errors import ConfigurationError
from gateway.messages import RawMessage, Sink, Stored
from gateway.outcomes import Normalizer, Quarantined, normalize_safely
from gateway.pipeline import Pipeline, outcome_name, raw_from_row
from gateway.records import Complaint, FollowUp, Ignored, Outcome, raw_id
from gateway.storage.db import Database
from gateway.storage.tables import raw_message


def outcome_line(source: str, outcome: Outcome | Quarantined) -> dict[str, Any]:
    """The JSON line replay prints: {"source", "outcome", "reason", "record"}."""
    reason: str | None = None
    record: dict[str, Any] | None = None
    if isinstance(outcome, Quarantined):
        reason = outcome.reason
    elif isinstance(outcome, Ignored):
        reason = outcome.reason
    elif isinstance(outcome, FollowUp):
        record = outcome.record.model_dump(mode="json")
        record["references"] = [ref.model_dump(mode="json") for ref in outcome.references]
    elif isinstance(outcome, Complaint):
        record = outcome.model_dump(mode="json")
    return {"source": source, "outcome": outcome_name(outcome), "reason": reason, "record": record}


def raw_from_file(channel: str, path: Path) -> RawMessage:
    """Read an archived file (email: .eml, twilio: form body, x: JSON) as its channel would receive it."""
    cls = CHANNELS.get(channel)
    if cls is None:
        raise ConfigurationError("unknown channel", detail=channel)
    return cls.raw_from_file(path.read_bytes(), source=str(path))


def dry_run_files(channel: str, paths: Iterable[Path], normalizers: Mapping[str, Normalizer]) -> Iterable[str]:
    """Normalize files without storing anything; one JSON line per input."""
    for path in paths:
        raw = raw_from_file(channel, path)
        yield json.dumps(outcome_line(str(path), normalize_safely(raw, normalizers)), ensure_ascii=False)


async def ingest_files(channel: str, paths: Sequence[Path], sink: Sink) -> dict[str, int]:
    """Import files as if they had just been received; duplicates are counted, not stored twice."""
    counts = {"new": 0, "duplicate": 0}
    for path in paths:
        stored = await sink.submit(raw_from_file(channel, path))
        counts["duplicate" if stored is Stored.DUPLICATE else "new"] += 1
    return counts


@dataclass(frozen=True, slots=True)
class ReplayFilter:
    """Which stored raw messages to replay."""

    channel: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    ids: tuple[str, ...] = ()
    states: tuple[str, ...] = ()

    def raw_ids(self) -> list[str]:
        """The ids given, and the raw ids they stand for as a channel's external ids (the primary key finds both)."""
        channels = (self.channel,) if self.channel else tuple(CHANNELS)
        derived = (raw_id(channel, external_id) for channel in channels for external_id in self.ids)
        return list(dict.fromkeys((*self.ids, *derived)))

    def where(self) -> sa.ColumnElement[bool]:
        """The SQL condition."""
        table = raw_message
        conditions: list[sa.ColumnElement[bool]] = [table.c.state != "processing"]
        if self.channel:
            conditions.append(table.c.channel == self.channel)
        if self.since:
            conditions.append(table.c.received_at >= self.since)
        if self.until:
            conditions.append(table.c.received_at < self.until)
        if self.ids:
            conditions.append(table.c.id.in_(self.raw_ids()))
        if self.states:
            conditions.append(table.c.state.in_(self.states))
        return sa.and_(*conditions)


async def count_stored(db: Database, selection: ReplayFilter) -> int:
    """How many stored raws the filter selects."""
    async with db.connect() as connection:
        return int((await connection.execute(sa.select(sa.func.count()).where(selection.where()))).scalar_one())


async def stored_batches(db: Database, selection: ReplayFilter, *, batch: int = 500) -> AsyncIterator[list[Any]]:
    """Selected raw rows in arrival order, a batch at a time (keyset pagination)."""
    last: tuple[datetime, str] | None = None
    table = raw_message
    while True:
        query = sa.select(table).where(selection.where()).order_by(table.c.received_at, table.c.id).limit(batch)
        if last is not None:
            query = query.where(
                sa.or_(table.c.received_at > last[0], sa.and_(table.c.received_at == last[0], table.c.id > last[1]))
            )
        async with db.connect() as connection:
            rows = list((await connection.execute(query)).all())
        if not rows:
            return
        yield rows
        last = (rows[-1].received_at, rows[-1].id)


async def replay_stored(
    db: Database,
    pipeline: Pipeline,
    selection: ReplayFilter,
    *,
    dry_run: bool,
    normalizers: Mapping[str, Normalizer],
    emit: Callable[[dict[str, Any]], None],
    advance: Callable[[int], None],
) -> dict[str, int]:
    """Re-run selected raws through normalization; without dry_run the results are stored and dispatched."""
    counts: dict[str, int] = {}
    async for rows in stored_batches(db, selection):
        if dry_run:
            results = [(row.id, normalize_safely(raw_from_row(row), normalizers)) for row in rows]
        else:
            results = await pipeline.process_rows(rows)
        for (stored_id, outcome), row in zip(results, rows, strict=True):
            name = outcome_name(outcome)
            counts[name] = counts.get(name, 0) + 1
            emit(outcome_line(f"{row.channel}:{row.external_id}:{stored_id}", outcome))
        advance(len(rows))
    return counts
