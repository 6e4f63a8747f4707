"""Counts operators read: queue depths for /healthz and /metrics, per-channel totals for `stats`."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta

import sqlalchemy as sa

from gateway import metrics
from gateway.lifecycle.complaint_deadlines import DeadlineKey
from gateway.messages import utcnow
from gateway.storage.db import Database
from gateway.storage.lifecycle_store import deadline_counts
from gateway.storage.tables import complaint, dispatch_job, raw_message, reply


async def queue_depths(db: Database) -> dict[str, dict[str, int]]:
    """Rows per state in the raw archive and both outboxes."""
    depths: dict[str, dict[str, int]] = {}
    async with db.connect() as connection:
        for name, table in (("raw", raw_message), ("dispatch", dispatch_job), ("reply", reply)):
            rows = await connection.execute(sa.select(table.c.state, sa.func.count()).group_by(table.c.state))
            depths[name] = {str(state): int(count) for state, count in rows.all()}
    for queue, states in depths.items():
        for state, count in states.items():
            metrics.QUEUE_DEPTH.labels(queue, state).set(count)
    return depths


@dataclass
class ChannelStats:
    """What happened to one channel's messages."""

    received: int = 0
    complaints: int = 0
    follow_ups: int = 0
    duplicates_linked: int = 0
    ignored: int = 0
    quarantined: int = 0
    pending: int = 0
    dispatched: int = 0
    dead: int = 0
    held: int = 0
    extra: dict[str, int] = field(default_factory=dict)


async def channel_stats(db: Database) -> dict[str, ChannelStats]:
    """Per channel: received, complaints, follow-ups, ignored, quarantined, dispatched, dead."""
    result: defaultdict[str, ChannelStats] = defaultdict(ChannelStats)
    async with db.connect() as connection:
        raws = await connection.execute(
            sa.select(raw_message.c.channel, raw_message.c.state, sa.func.count()).group_by(
                raw_message.c.channel, raw_message.c.state
            )
        )
        for channel, state, count in raws.all():
            stats = result[channel]
            stats.received += count
            if state == "ignored":
                stats.ignored += count
            elif state == "quarantined":
                stats.quarantined += count
            elif state in ("received", "processing"):
                stats.pending += count
        records = await connection.execute(
            sa.select(complaint.c.channel, complaint.c.relation, sa.func.count()).group_by(
                complaint.c.channel, complaint.c.relation
            )
        )
        for channel, relation, count in records.all():
            stats = result[channel]
            if relation == "follow_up":
                stats.follow_ups += count
            elif relation == "duplicate":
                stats.duplicates_linked += count
            else:
                stats.complaints += count
        jobs = await connection.execute(
            sa.select(complaint.c.channel, dispatch_job.c.state, sa.func.count())
            .join(complaint, complaint.c.id == dispatch_job.c.complaint_id)
            .group_by(complaint.c.channel, dispatch_job.c.state)
        )
        for channel, state, count in jobs.all():
            stats = result[channel]
            if state == "done":
                stats.dispatched += count
            elif state == "dead":
                stats.dead += count
            elif state == "held":
                stats.held += count
    return dict(result)


DEADLINE_STATES = ("on_time", "due_soon", "breached")


async def deadline_states(db: Database, *, due_soon: timedelta) -> dict[DeadlineKey, int]:
    """Open complaints by channel, agency and deadline state, also set as the /metrics gauge."""
    counts = await deadline_counts(db, now=utcnow(), due_soon=due_soon)
    # Cleared first: a state no complaint is in any more must not keep its last count.
    metrics.OPEN_BY_DEADLINE.clear()
    for key, count in counts.items():
        metrics.OPEN_BY_DEADLINE.labels(key.channel, key.agency, key.state).set(count)
    return counts


def deadline_table(counts: dict[DeadlineKey, int]) -> dict[str, dict[str, dict[str, int]]]:
    """The counts as {channel: {agency: {on_time, due_soon, breached}}}, every state present."""
    table: dict[str, dict[str, dict[str, int]]] = {}
    for key, count in sorted(counts.items(), key=lambda item: (item[0].channel, item[0].agency)):
        row = table.setdefault(key.channel, {}).setdefault(key.agency, dict.fromkeys(DEADLINE_STATES, 0))
        row[key.state] += count
    return table

