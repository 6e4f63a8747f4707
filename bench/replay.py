"""Replay: stored Twilio SMS normalized per second on one core, in this process.

Two figures: the pure normalizer over raws read back from the archive (`normalize_safely`), and the pipeline
end to end (`Pipeline.process_pending`: claim, normalize, resolve references, store complaints and jobs).
"""

from __future__ import annotations

import asyncio
import gc
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

from bench.bodies import TEXTS, sender_number, sid, sms_body
from bench.report import Figure, Target
from gateway.messages import RawMessage, utcnow
from gateway.outcomes import Quarantined, normalize_safely
from gateway.pipeline import Pipeline, raw_from_row
from gateway.storage.archive import Archive
from gateway.storage.db import Database
from gateway.storage.migrate import upgrade
from gateway.storage.tables import raw_message
from normalizers.registry import NORMALIZERS

REPLAY_TARGET = Target(">=", 5000.0)
SENDERS = 1000  # reporters send more than once: a realistic mix of new and known numbers


@contextmanager
def one_core() -> Iterator[None]:
    """Pin this process to one CPU while measuring, as the target is stated per core."""
    if not hasattr(os, "sched_setaffinity"):
        yield
        return
    previous = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(previous)})
    try:
        yield
    finally:
        os.sched_setaffinity(0, previous)


def stored_sms(count: int) -> list[RawMessage]:
    """`count` Twilio SMS as the webhook edge stores them."""
    now = utcnow()
    raws = []
    for index in range(count):
        message_sid = sid("r", index)
        sender = sender_number(index % SENDERS)
        raws.append(RawMessage(
            channel="twilio", event="message", external_id=message_sid, received_at=now,
            payload=sms_body(message_sid, sender, f"{TEXTS[index % len(TEXTS)]} ({index})"),
            meta={"signature": "valid", "sender": sender, "peer": "127.0.0.1"},
        ))
    return raws


async def _measure(workdir: Path, count: int) -> list[Figure]:
    url = f"sqlite+aiosqlite:///{workdir / 'replay.db'}"
    await asyncio.to_thread(upgrade, url)
    db = Database(url)
    try:
        archive = Archive(db)
        raws = stored_sms(count)
        for start in range(0, count, 500):
            await archive.store_many(raws[start : start + 500])
        async with db.connect() as connection:
            rows = list((await connection.execute(sa.select(raw_message))).all())
        normalize_safely(raw_from_row(rows[0]), NORMALIZERS)  # load the language model before the clock starts

        # The pipeline process freezes its start-up heap and never holds more than a batch of rows; here the
        # harness holds all 20,000, and without the freeze the collector walked them again and again (~30%).
        gc.freeze()
        try:
            with one_core():
                cpu = time.process_time()
                started = time.perf_counter()
                quarantined = sum(
                    isinstance(normalize_safely(raw_from_row(row), NORMALIZERS), Quarantined) for row in rows
                )
                elapsed = time.perf_counter() - started
                cpu = time.process_time() - cpu
        finally:
            gc.unfreeze()

        pipeline = Pipeline(db, NORMALIZERS)
        with one_core():
            started = time.perf_counter()
            processed = 0
            while done := await pipeline.process_pending():
                processed += done
            end_to_end = time.perf_counter() - started
    finally:
        await db.dispose()
    return [
        Figure("replay_normalize", "replay: stored SMS normalized per second (normalize_safely)", count / elapsed,
               "SMS/s", REPLAY_TARGET,
               note=f"{count:,} stored raws, one core, wall clock; CPU-time rate {count / cpu:,.0f}/s; "
                    f"{quarantined} quarantined"),
        Figure("replay_pipeline", "replay end to end (Pipeline.process_pending, SQLite)", processed / end_to_end,
               "SMS/s", note="claim, normalize, resolve references, store complaints and dispatch jobs"),
    ]


def run(count: int) -> list[Figure]:
    """Store `count` SMS in a fresh SQLite archive and measure both replay rates."""
    with tempfile.TemporaryDirectory(prefix="lapor-bench-replay-") as tmp:
        return asyncio.run(_measure(Path(tmp), count))
