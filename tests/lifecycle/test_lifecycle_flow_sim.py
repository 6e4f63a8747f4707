"""The lifecycle end to end in one process: registry-sim moves a complaint, the gateway follows and tells the reporter.

Pipeline, dispatcher, status sync and reply sender run on SQLite and PostgreSQL; replies leave
through the real Twilio channel to the Twilio sandbox.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest

from gateway.commands.lifecycle import export_escalations
from gateway.lifecycle.complaint_deadlines import DeadlineKey
from gateway.lifecycle.status import SOURCE_AGENCY, SOURCE_REGISTRY, SOURCE_REPORTER
from gateway.registry.lapor import LaporClient
from gateway.registry.sim import build_sim_app
from gateway.stats import channel_stats
from gateway.storage.db import Database
from gateway.storage.lifecycle_store import deadline_counts
from tests.lifecycle.flow_harness import SIM_TOKEN, Flow, flow, serving
from tests.pipeline.twilio_raws import PHONE, twilio_raw

TEXT = "Lampu PJU di Jl. Merdeka Cibinong mati sudah dua minggu, gelap dan rawan kecelakaan"


class Sim:
    """registry-sim on a loopback port and its sandbox-only control endpoints."""

    def __init__(self, url: str) -> None:
        self.url = url

    async def control(self, tracking_id: str, what: str, body: dict[str, str]) -> None:
        """POST /sim/complaints/{tracking_id}/{status|responses}."""
        headers = {"Authorization": f"Bearer {SIM_TOKEN}"}
        async with aiohttp.ClientSession(headers=headers) as http:
            async with http.post(f"{self.url}/sim/complaints/{tracking_id}/{what}", json=body) as response:
                assert response.status in (200, 201), await response.text()


@pytest.fixture
async def sim(tmp_path: Path) -> AsyncIterator[Sim]:
    async with serving(build_sim_app(db_path=tmp_path / "registry.db", token=SIM_TOKEN)) as url:
        yield Sim(url)


@pytest.fixture
async def gateway(db: Database, sim: Sim) -> AsyncIterator[Flow]:
    client = LaporClient(base_url=sim.url, token=SIM_TOKEN, timeout_seconds=5.0)
    try:
        async with flow(db, client) as running:
            yield running
    finally:
        await client.aclose()


async def filed(gateway: Flow, sid: str = "SMlife1", text: str = TEXT) -> tuple[str, str]:
    """A complaint received by SMS and filed; its id and tracking ID."""
    await gateway.receive(twilio_raw(sid, text))
    (row,) = [row for row in await gateway.complaints() if row.relation == "new"]
    assert row.tracking_id, "filed with the registry"
    return row.id, row.tracking_id


async def test_filing_stores_deadlines_and_schedules_the_first_poll(gateway: Flow) -> None:
    complaint_id, tracking_id = await filed(gateway)
    record = await gateway.record(complaint_id)
    assert record.deadlines.verify_by is not None and record.deadlines.escalation_from is not None
    assert record.deadlines.verify_by > record.received_at
    assert [(c.status, c.source) for c in record.status_history] == [("received", "gateway"),
                                                                     ("baru", SOURCE_REGISTRY)]
    lifecycle = await gateway.lifecycle(complaint_id)
    assert lifecycle.finished is False and lifecycle.next_poll_at > record.received_at
    assert lifecycle.deadline_at is not None
    assert gateway.texts() == [gateway.texts()[0]] and f"#{tracking_id}" in gateway.texts()[0]
    assert "token:" not in gateway.texts()[0]


async def test_status_and_response_reach_the_record_and_the_reporter(gateway: Flow, sim: Sim) -> None:
    complaint_id, tracking_id = await filed(gateway)
    assert await gateway.poll() == 0, "not due before its first poll time"
    gateway.clock.advance(timedelta(minutes=10))
    assert await gateway.poll() == 1
    assert len(gateway.texts()) == 1, "nothing changed, nothing said"

    await sim.control(tracking_id, "status", {"status": "didisposisikan", "agency": "Dinas PUPR Kab. Bogor"})
    await sim.control(tracking_id, "responses", {"text": "Petugas akan memperbaiki lampu PJU minggu ini."})
    gateway.clock.advance(timedelta(minutes=10))
    assert await gateway.poll() == 1

    record = await gateway.record(complaint_id)
    row = await gateway.row(complaint_id)
    assert (record.status, row.status) == ("didisposisikan", "didisposisikan")
    assert row.agency == record.target.agency == "Dinas PUPR Kab. Bogor"
    sources = [(c.status, c.source) for c in record.status_history]
    assert ("didisposisikan", SOURCE_REGISTRY) in sources and ("responded", SOURCE_AGENCY) in sources
    assert record.deadlines.plan_by is not None and record.deadlines.close_by is not None
    update = gateway.texts()[-1]
    assert f"#{tracking_id}" in update and "ditanggapi" in update and "Petugas" in update
    assert gateway.sandbox.messages[-1]["to"] == PHONE

    # The same response polled again is not told twice.
    gateway.clock.advance(timedelta(minutes=10))
    await gateway.poll()
    assert len(gateway.texts()) == 2

    # A follow-up by the reporter is in the parent's history and stops the closing clock.
    await gateway.receive(twilio_raw("SMlife-follow", f"#{tracking_id} lampu masih mati"))
    record = await gateway.record(complaint_id)
    assert record.status_history[-1].source == SOURCE_REPORTER
    assert record.deadlines.close_by is None


async def test_stop_ends_updates_and_closing_ends_polling(gateway: Flow, sim: Sim) -> None:
    complaint_id, tracking_id = await filed(gateway)
    await gateway.receive(twilio_raw("SMlife-stop", "BERHENTI"))
    assert "MULAI" in gateway.texts()[-1], "the reporter is told how to resume"
    sent = len(gateway.texts())

    await sim.control(tracking_id, "responses", {"text": "Sudah diperbaiki."})
    await sim.control(tracking_id, "status", {"status": "selesai"})
    gateway.clock.advance(timedelta(minutes=10))
    assert await gateway.poll() == 1
    assert len(gateway.texts()) == sent, "no updates after BERHENTI"
    record = await gateway.record(complaint_id)
    assert record.status == "selesai" and ("responded", SOURCE_AGENCY) in [
        (c.status, c.source) for c in record.status_history
    ]
    lifecycle = await gateway.lifecycle(complaint_id)
    assert lifecycle.finished is True and lifecycle.deadline_at is None
    gateway.clock.advance(timedelta(days=1))
    assert await gateway.poll() == 0, "a closed complaint is not polled again"


async def test_closing_is_told_to_a_reporter_who_did_not_stop(gateway: Flow, sim: Sim) -> None:
    _, tracking_id = await filed(gateway)
    await sim.control(tracking_id, "status", {"status": "selesai"})
    gateway.clock.advance(timedelta(minutes=10))
    await gateway.poll()
    assert gateway.texts()[-1] == f"Laporan #{tracking_id} sudah selesai dan ditutup. Terima kasih telah melapor."


async def test_deadline_states_by_channel_and_agency(gateway: Flow, sim: Sim) -> None:
    complaint_id, tracking_id = await filed(gateway)
    due_soon = gateway.settings.due_soon
    counts = await deadline_counts(gateway.db, now=gateway.clock(), due_soon=due_soon)
    assert counts == {DeadlineKey("twilio", "-", "on_time"): 1}
    record = await gateway.record(complaint_id)
    assert record.deadlines.verify_by is not None
    near = record.deadlines.verify_by - timedelta(hours=1)
    assert await deadline_counts(gateway.db, now=near, due_soon=due_soon) == {DeadlineKey("twilio", "-", "due_soon"): 1}
    late = record.deadlines.verify_by + timedelta(hours=1)
    assert await deadline_counts(gateway.db, now=late, due_soon=due_soon) == {DeadlineKey("twilio", "-", "breached"): 1}

    await sim.control(tracking_id, "status", {"status": "didisposisikan", "agency": "Dinas PUPR"})
    gateway.clock.advance(timedelta(minutes=10))
    await gateway.poll()
    # Disposed: the five-day plan deadline governs now, so the verification deadline no longer breaches it.
    assert await deadline_counts(gateway.db, now=late, due_soon=due_soon) == {
        DeadlineKey("twilio", "Dinas PUPR", "on_time"): 1
    }


async def test_escalation_offer_consent_and_export(gateway: Flow) -> None:
    complaint_id, tracking_id = await filed(gateway)
    gateway.clock.advance(timedelta(days=61))
    await gateway.poll()
    offer = gateway.texts()[-1]
    assert "Ombudsman" in offer and "ombudsman.go.id" in offer and "YA" in offer and f"#{tracking_id}" in offer
    assert (await gateway.lifecycle(complaint_id)).escalation_state == "offered"
    counts = await deadline_counts(gateway.db, now=gateway.clock(), due_soon=gateway.settings.due_soon)
    assert counts == {DeadlineKey("twilio", "-", "breached"): 1}

    gateway.clock.advance(timedelta(hours=6))
    await gateway.poll()
    assert gateway.texts().count(offer) == 1, "offered once"

    await gateway.receive(twilio_raw("SMlife-ya", "Ya"))
    assert gateway.texts()[-1] == f"Terima kasih. Laporan #{tracking_id} akan kami teruskan ke Ombudsman RI."
    assert (await gateway.lifecycle(complaint_id)).escalation_state == "consented"

    written: list[str] = []
    batch = await export_escalations(gateway.store, include_exported=False, mark=True, now=gateway.clock(),
                                     write=written.append)
    document = json.loads(written[0])
    assert document["schema_id"] == "lapor-gateway.escalations/v1" and document["count"] == batch.count == 1
    (item,) = document["items"]
    assert (item["complaint_id"], item["tracking_id"]) == (complaint_id, tracking_id)
    assert item["reporter"]["phone"] == PHONE and item["body"] == TEXT
    again: list[str] = []
    assert (await export_escalations(gateway.store, include_exported=False, mark=True, now=gateway.clock(),
                                     write=again.append)).count == 0
    assert (await gateway.lifecycle(complaint_id)).escalation_state == "exported"


async def test_ya_without_an_offer_changes_nothing(gateway: Flow) -> None:
    complaint_id, _ = await filed(gateway)
    sent = len(gateway.texts())
    await gateway.receive(twilio_raw("SMlife-ya-early", "YA"))
    assert len(gateway.texts()) == sent
    assert (await gateway.lifecycle(complaint_id)).escalation_state is None
    assert (await channel_stats(gateway.db))["twilio"].ignored == 1


async def test_mulai_resumes_updates(gateway: Flow, sim: Sim) -> None:
    _, tracking_id = await filed(gateway)
    await gateway.receive(twilio_raw("SMlife-stop2", "STOP"))
    await gateway.receive(twilio_raw("SMlife-start", "MULAI"))
    assert "STOP" in gateway.texts()[-1], "the reporter is told how to stop again"
    await sim.control(tracking_id, "status", {"status": "selesai"})
    gateway.clock.advance(timedelta(minutes=10))
    await gateway.poll()
    assert gateway.texts()[-1].startswith(f"Laporan #{tracking_id} sudah selesai")


async def test_final_disposition_is_kept_as_training_data(gateway: Flow, sim: Sim) -> None:
    complaint_id, tracking_id = await filed(gateway)
    await sim.control(tracking_id, "status", {"status": "didisposisikan", "agency": "Dinas PUPR"})
    gateway.clock.advance(timedelta(minutes=10))
    await gateway.poll()
    record = await gateway.record(complaint_id)
    assert not [i for i in record.insights if i.decided_by == "registry"], "not final yet: nothing to learn"

    await sim.control(tracking_id, "status", {"status": "selesai", "agency": "Dinas PUPR",
                                              "classification": "pengaduan"})
    gateway.clock.advance(timedelta(minutes=10))
    await gateway.poll()
    record = await gateway.record(complaint_id)
    [disposition] = [i for i in record.insights if i.decided_by == "registry"]
    assert disposition.value == "Dinas PUPR" and disposition.detail["classification"] == "pengaduan"
