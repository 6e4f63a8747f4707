"""Cross-channel duplicates through the pipeline and dispatcher: linked, sent as a follow-up of the first, counted."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

import aiohttp
import pytest

from gateway.messages import RawMessage, utcnow
from gateway.records import Complaint
from gateway.registry.lapor import LaporClient
from gateway.registry.sim import build_sim_app
from gateway.stats import channel_stats
from gateway.storage.db import Database
from tests.lifecycle.flow_harness import SIM_TOKEN, Flow, flow, serving
from tests.pipeline.twilio_raws import PHONE, twilio_raw

SMS = "Jalan di depan SDN 3 Cibinong berlubang besar sejak dua minggu, sudah dua motor jatuh, mohon segera diperbaiki"
START = utcnow() - timedelta(hours=1)


def email_raw(body: str, *, sender: str = "budi.santoso@example.id", minutes: int = 30) -> RawMessage:
    """An e-mail as the SMTP channel stores it."""
    message = EmailMessage()
    message["From"] = f"Budi Santoso <{sender}>"
    message["To"] = "pengaduan@lapor.example.go.id"
    message["Subject"] = "Jalan berlubang di depan SDN 3"
    message["Message-ID"] = f"<dup-{minutes}@example.id>"
    message.set_content(body)
    return RawMessage(channel="email", event="message", external_id=f"<dup-{minutes}@example.id>",
                      received_at=START + timedelta(minutes=minutes), payload=bytes(message),
                      meta={"mail_from": sender, "rcpt_tos": "pengaduan@lapor.example.go.id"})


def sms_raw(sid: str, text: str, *, sender: str = PHONE, minutes: int = 30) -> RawMessage:
    return twilio_raw(sid, text, sender=sender, received_at=START + timedelta(minutes=minutes))


CASES = [
    ("email-naming-the-phone", email_raw(f"Selamat pagi,\n\n{SMS}.\n\nTerima kasih.\nBudi, HP 0812-3456-7890"),
     "duplicate", "contact_in_text"),
    ("sms-again", sms_raw("SMdup2", SMS + " ya pak"), "duplicate", "same_identity"),
    ("other-person", sms_raw("SMdup3", SMS, sender="+6285712345678"), "new", None),
    ("same-person-other-problem", sms_raw("SMdup4", "Lampu PJU di Jl. Merdeka mati sejak seminggu, gelap sekali"),
     "new", None),
    ("after-the-window", sms_raw("SMdup5", SMS, minutes=60 * 24 * 4), "new", None),
    ("email-without-a-shared-contact", email_raw(f"{SMS}.\n\nBudi", sender="warga@example.id"), "new", None),
]


@pytest.fixture
async def sim_url(tmp_path: Path) -> AsyncIterator[str]:
    async with serving(build_sim_app(db_path=tmp_path / "registry.db", token=SIM_TOKEN)) as url:
        yield url


@pytest.fixture
async def gateway(db: Database, sim_url: str) -> AsyncIterator[Flow]:
    client = LaporClient(base_url=sim_url, token=SIM_TOKEN, timeout_seconds=5.0)
    try:
        async with flow(db, client) as running:
            yield running
    finally:
        await client.aclose()


async def registry_items(url: str) -> list[dict[str, object]]:
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {SIM_TOKEN}"}) as http:
        async with http.get(f"{url}/complaints", params={"page": 1}) as response:
            data = await response.json()
    items: list[dict[str, object]] = data["items"]
    return items


@pytest.mark.parametrize(("second", "relation", "matched_on"), [case[1:] for case in CASES],
                         ids=[case[0] for case in CASES])
async def test_second_report_is_linked_only_when_same_person_same_problem_in_window(
    gateway: Flow, sim_url: str, second: RawMessage, relation: str, matched_on: str | None
) -> None:
    await gateway.receive(sms_raw("SMdup1", SMS, minutes=0))
    await gateway.receive(second)
    first, other = await gateway.complaints()
    assert (first.relation, other.relation) == ("new", relation)
    record = Complaint.model_validate_json(other.record)
    items = await registry_items(sim_url)
    stats = await channel_stats(gateway.db)
    if relation == "duplicate":
        assert other.parent_id == record.thread.parent_id == first.id
        (insight,) = [i for i in record.insights if i.kind == "duplicate_of"]
        assert insight.value == first.id and insight.detail == {"matched_on": matched_on}
        assert {(job.complaint_id, job.kind, job.state) for job in await gateway.jobs()} == {
            (first.id, "file", "done"), (other.id, "follow_up", "done")
        }
        (item,) = items
        followups = item["followups"]
        assert isinstance(followups, list) and len(followups) == 1, "sent as a follow-up of the first, not filed"
        assert stats[second.channel].duplicates_linked == 1
    else:
        assert other.parent_id is None and not any(i.kind == "duplicate_of" for i in record.insights)
        assert len(items) == 2
        assert sum(s.duplicates_linked for s in stats.values()) == 0


async def test_a_third_report_links_to_the_original_not_to_the_duplicate(gateway: Flow) -> None:
    await gateway.receive(sms_raw("SMchain1", SMS, minutes=0))
    await gateway.receive(sms_raw("SMchain2", SMS + " segera", minutes=10))
    await gateway.receive(email_raw(f"{SMS}\n\nBudi 081234567890", minutes=20))
    first, second, third = await gateway.complaints()
    assert (second.parent_id, third.parent_id) == (first.id, first.id)
    assert json.loads(third.record)["thread"]["relation"] == "duplicate"
