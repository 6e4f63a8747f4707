"""A flood from one sender is stored (durable) but held; legitimate senders still get through."""

from __future__ import annotations

import asyncio
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import sqlalchemy as sa

from gateway.storage.db import Database
from gateway.storage.tables import complaint, dispatch_job
from tests.faults.stack import Deployment, filed_sids, post_sms
from tests.support.ports import free_port
from tests.support.processes import wait_for

FLOOD = 1500
RATE = 30


def test_flood_is_held_and_others_pass(tmp_path: Path) -> None:
    deployment = Deployment(tmp_path, f"sqlite:///{tmp_path / 'gateway.db'}")
    deployment.start_backends()
    port = free_port()
    deployment.start_gateway("gateway", port, LAPOR_GATEWAY_INGEST__SENDER_RATE_PER_MINUTE=str(RATE))
    flooder = "+6281299990000"
    try:
        def flood(index: int) -> int:
            return post_sms(port, f"SMfault{index:06d}", flooder, f"PINJAMAN CEPAT cair SMfault{index:06d}")

        def legit(index: int) -> int:
            sid = f"SMfault{900000 + index:06d}"
            return post_sms(port, sid, f"+62813{index:07d}", f"Laporan {sid}: lampu jalan mati")

        with ThreadPoolExecutor(12) as pool:
            flood_statuses = pool.map(flood, range(FLOOD))
            legit_statuses = pool.map(legit, range(20))
            assert Counter(flood_statuses) == {200: FLOOD}  # durable and acknowledged to the provider
            assert Counter(legit_statuses) == {200: 20}

        wait_for(lambda: len(deployment.complaints()) >= RATE + 20, timeout=120, what="unheld complaints filed")
        filed = filed_sids(deployment.complaints())
        legit_filed = [sid for sid in filed if sid >= "SMfault900000"]
        assert len(legit_filed) == 20
        assert len(filed) == RATE + 20, "the flood past the rate must be held, not filed"

        async def held() -> tuple[int, int]:
            db = Database(f"sqlite:///{tmp_path / 'gateway.db'}")
            try:
                async with db.connect() as connection:
                    jobs = (await connection.execute(
                        sa.select(sa.func.count()).select_from(dispatch_job).where(dispatch_job.c.state == "held")
                    )).scalar_one()
                    records = (await connection.execute(
                        sa.select(sa.func.count()).select_from(complaint).where(complaint.c.record.contains('"flood"'))
                    )).scalar_one()
                return int(jobs), int(records)
            finally:
                await db.dispose()

        wait_for(lambda: asyncio.run(held())[0] == FLOOD - RATE, timeout=60, what="the flood held")
        assert asyncio.run(held()) == (FLOOD - RATE, FLOOD - RATE)
    finally:
        deployment.stop()
