"""Final dispositions kept on stored records and read back as training data, on SQLite and PostgreSQL.

The registry's answer comes from the real registry sandbox: a complaint is filed, the sandbox closes it
with an agency, and LaporClient.fetch gives the RegistryState the status sync would hand over.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest
import sqlalchemy as sa

from gateway.intel.routing_rules import RoutingRules
from gateway.intel.settings import IntelSettings
from gateway.pipeline import Pipeline
from gateway.registry.base import RegistryState
from gateway.registry.lapor import LaporClient
from gateway.runtime import intel_enricher
from gateway.storage.db import Database
from gateway.storage.dispositions import (
    DISPOSITION_KIND,
    disposition_examples,
    disposition_insight,
    record_disposition,
)
from gateway.storage.spam_store import DatabaseSpamReviews
from gateway.storage.tables import complaint
from normalizers.registry import NORMALIZERS
from tests.dispatcher.sim_harness import TOKEN, SimHandle, running_sim
from tests.pipeline.twilio_raws import archive_all, twilio_raw

REPO = Path(__file__).resolve().parents[2]
RULES = RoutingRules.load(REPO / "config" / "routing.yaml")


@pytest.fixture
async def sim(tmp_path: Path) -> AsyncIterator[SimHandle]:
    async with running_sim(tmp_path / "registry.db") as handle:
        yield handle


@pytest.mark.parametrize(
    ("status", "agency", "kept"),
    [
        ("selesai", "EXAMPLE-3273-DLH", True),
        ("ditutup", "EXAMPLE-3273-DLH", True),
        ("ditindaklanjuti", "EXAMPLE-3273-DLH", False),
        ("ditolak", "EXAMPLE-3273-DLH", False),
        ("selesai", None, False),
    ],
    ids=["closed", "closed-ditutup", "still-open", "rejected", "no-agency"],
)
def test_only_a_closed_complaint_with_an_agency_is_kept(status: str, agency: str | None, kept: bool) -> None:
    state = RegistryState(tracking_id="1", status=status, agency=agency, classification="aspirasi")
    insight = disposition_insight(state)
    assert (insight is not None) is kept
    if insight is not None:
        assert insight.decided_by == "registry" and insight.value == agency
        assert insight.detail["classification"] == "aspirasi"


async def _stored(db: Database, sid: str, text: str, received_at: datetime) -> str:
    pipeline = Pipeline(db, NORMALIZERS, enrich=intel_enricher(IntelSettings()))
    await archive_all(db, [twilio_raw(sid, text, sender="+6281377770001", received_at=received_at)])
    await pipeline.process_pending()
    async with db.connect() as connection:
        found = (
            await connection.execute(sa.select(complaint.c.id).order_by(complaint.c.received_at.desc()).limit(1))
        ).scalar_one()
    return str(found)


async def test_registry_disposition_becomes_a_training_example(db: Database, sim: SimHandle) -> None:
    text = "Sampah menumpuk di TPS Kelurahan Sukagalih sudah seminggu tidak diangkut"
    complaint_id = await _stored(db, "SMdisp-1", text, datetime(2026, 11, 2, 3, 0, tzinfo=UTC))
    other_id = await _stored(db, "SMdisp-2", "Air PDAM tidak mengalir tiga hari", datetime(2026, 11, 3, tzinfo=UTC))
    reviews = DatabaseSpamReviews(db)
    record = await reviews.get(complaint_id)
    assert record is not None

    client = LaporClient(base_url=sim.url, token=TOKEN, timeout_seconds=5.0)
    try:
        filed = await client.file(record, idempotency_key=f"file:{record.id}")
        # The registry's administrator routes it to another agency than the gateway guessed, then closes it.
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"}) as http:
            for status in ("didisposisikan", "selesai"):
                async with http.post(f"{sim.url}/sim/complaints/{filed.tracking_id}/status",
                                     json={"status": status, "agency": "EXAMPLE-3273-DPKP",
                                           "classification": "pengaduan"}) as response:
                    assert response.status == 200, await response.text()
        state = await client.fetch(filed.tracking_id)
    finally:
        await client.aclose()

    async with db.begin() as connection:
        assert await record_disposition(connection, complaint_id, state) is True
        assert await record_disposition(connection, complaint_id, state) is False  # the same answer again
        assert await record_disposition(connection, "01JUNKNOWN0000000000000000", state) is False
    # An agency the rules file does not know is kept on the record but gives no example.
    async with db.begin() as connection:
        unknown = RegistryState(tracking_id="9", status="selesai", agency="KEMENTERIAN-LAIN")
        assert await record_disposition(connection, other_id, unknown) is True

    kept = await reviews.get(complaint_id)
    assert kept is not None
    (disposition,) = [i for i in kept.insights if i.kind == DISPOSITION_KIND]
    assert disposition.value == "EXAMPLE-3273-DPKP" and disposition.decided_by == "registry"
    assert any(i.kind == "agency" and i.value == "dlh" for i in kept.insights)  # the gateway's own guess stays

    examples = await disposition_examples(db, RULES, batch=1)
    assert [(e.text, e.agency, e.received_at) for e in examples] == [(text, "dpkp", record.received_at)]
