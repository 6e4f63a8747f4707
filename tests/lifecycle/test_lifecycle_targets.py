"""registry.kind = open311 and webhook through the real dispatcher, status sync and reply sender.

The Open311 server is tests/fakes/fake_open311.py (written from the GeoReport v2 specification);
the webhook receiver checks signatures on its own (tests/fakes/fake_webhook_receiver.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from pydantic import SecretStr

from config.settings import RegistrySettings
from gateway.lifecycle.status import SOURCE_AGENCY
from gateway.messages import utcnow
from gateway.registry.base import RegistryClient
from gateway.registry.factory import make_registry
from gateway.registry.open311 import Open311Client
from gateway.storage.db import Database
from gateway.storage.lifecycle_store import deadline_counts
from tests.fakes.fake_open311 import FakeOpen311
from tests.fakes.fake_webhook_receiver import FakeWebhookReceiver
from tests.lifecycle.flow_harness import Flow, flow, serving
from tests.pipeline.twilio_raws import PHONE, twilio_raw

TEXT = "Sampah menumpuk di depan Pasar Anyar Bogor sejak seminggu, bau dan mengundang lalat"
WEBHOOK_SECRET = "webhook-signing-secret-6a7b8c"


def open311_settings(url: str) -> RegistrySettings:
    return RegistrySettings(
        kind="open311", url=url, api_key=SecretStr("test-api-key"), jurisdiction_id="kota.example.go.id",
        default_service_code="001", default_address_string="Kota Bogor",
    )


@pytest.fixture
async def open311() -> AsyncIterator[tuple[FakeOpen311, str]]:
    fake = FakeOpen311()
    async with serving(fake.app()) as url:
        yield fake, url


@pytest.fixture
async def open311_gateway(db: Database, open311: tuple[FakeOpen311, str]) -> AsyncIterator[Flow]:
    registry = make_registry(open311_settings(open311[1]))
    try:
        async with flow(db, registry) as running:
            yield running
    finally:
        await registry.aclose()


async def only_new(gateway: Flow) -> tuple[str, str]:
    (row,) = [row for row in await gateway.complaints() if row.relation == "new"]
    return row.id, row.tracking_id


async def test_open311_files_syncs_and_tells_the_reporter(
    open311_gateway: Flow, open311: tuple[FakeOpen311, str]
) -> None:
    fake, _ = open311
    gateway = open311_gateway
    await gateway.receive(twilio_raw("SM311a", TEXT))
    complaint_id, request_id = await only_new(gateway)
    stored = fake.requests[request_id]
    assert (stored.value("service_code"), stored.value("description")) == ("001", TEXT)
    assert (stored.value("phone"), stored.value("address_string")) == (PHONE, "Kota Bogor")
    assert gateway.texts() == [gateway.texts()[0]] and f"#{request_id}" in gateway.texts()[0]
    record = await gateway.record(complaint_id)
    assert record.status == "open" and record.deadlines.plan_by is not None, "open: the agency's plan clock runs"

    fake.update(request_id, status="closed", notes="Sampah sudah diangkut petugas DLH.", agency="DLH Kota Bogor")
    gateway.clock.advance(timedelta(minutes=10))
    assert await gateway.poll() == 1
    record = await gateway.record(complaint_id)
    assert record.status == "closed" and record.target.agency == "DLH Kota Bogor"
    assert ("responded", SOURCE_AGENCY) in [(c.status, c.source) for c in record.status_history]
    told = gateway.texts()[1:]
    assert any("diangkut" in text for text in told), "the agency's answer, quoted on a private channel"
    assert f"Laporan #{request_id} sudah selesai dan ditutup. Terima kasih telah melapor." in told
    assert len(told) == 2
    assert f"GET /requests/{request_id}.json" in fake.hits
    assert (await gateway.lifecycle(complaint_id)).finished is True


async def test_open311_follow_ups_are_not_sent(open311_gateway: Flow, open311: tuple[FakeOpen311, str]) -> None:
    fake, _ = open311
    gateway = open311_gateway
    await gateway.receive(twilio_raw("SM311b", TEXT))
    _, request_id = await only_new(gateway)
    await gateway.receive(twilio_raw("SM311c", f"#{request_id} sampah masih ada"))
    states = {(job.kind, job.state) for job in await gateway.jobs()}
    assert states == {("file", "done"), ("follow_up", "skipped")}
    assert len(fake.posts) == 1, "GeoReport v2 has no follow-up call: nothing was posted"


async def test_open311_token_is_resolved_by_the_sync_and_acknowledged_then(
    db: Database, open311: tuple[FakeOpen311, str]
) -> None:
    fake, url = open311
    fake.answer_with_tokens(polls_before_id=5)
    registry = Open311Client(base_url=url, api_key="test-api-key", jurisdiction_id="kota.example.go.id",
                             default_service_code="001", default_address_string="Kota Bogor",
                             token_poll_attempts=1, token_poll_interval_seconds=0.01)
    try:
        async with flow(db, registry) as gateway:
            await gateway.receive(twilio_raw("SM311d", TEXT))
            complaint_id, tracking_id = await only_new(gateway)
            assert tracking_id.startswith("token:")
            assert gateway.texts() == [], "no acknowledgement with a token in it"

            (token,) = fake.tokens
            request_id, _ = fake.tokens[token]
            fake.tokens[token] = (request_id, 0)
            gateway.clock.advance(timedelta(minutes=10))
            await gateway.poll()
            assert (await gateway.row(complaint_id)).tracking_id == request_id
            assert (await gateway.record(complaint_id)).external.tracking_id == request_id
            (ack,) = gateway.texts()
            assert f"#{request_id}" in ack and "token" not in ack
    finally:
        await registry.aclose()


@pytest.mark.parametrize(
    ("answer_tracking_id", "expected_prefix"), [(True, "WH-"), (False, "")], ids=["receiver-id", "own-id"]
)
async def test_webhook_files_and_follows_up_signed(
    db: Database, answer_tracking_id: bool, expected_prefix: str
) -> None:
    receiver = FakeWebhookReceiver(secret=WEBHOOK_SECRET, answer_tracking_id=answer_tracking_id)
    async with serving(receiver.app()) as url:
        registry: RegistryClient = make_registry(
            RegistrySettings(kind="webhook", url=f"{url}/hook", signing_secret=SecretStr(WEBHOOK_SECRET))
        )
        try:
            async with flow(db, registry) as gateway:
                await gateway.receive(twilio_raw("SMhook1", TEXT))
                complaint_id, tracking_id = await only_new(gateway)
                assert tracking_id.startswith(expected_prefix) and (expected_prefix or tracking_id == complaint_id)
                # Receiver ids are not numeric, so a reporter cannot cite them: a repeat is linked as duplicate.
                await gateway.receive(twilio_raw("SMhook2", TEXT + ", mohon segera"))
        finally:
            await registry.aclose()
    assert receiver.rejected == [], "every delivery was signed and fresh"
    assert [d.event for d in receiver.deliveries] == ["complaint.filed", "complaint.follow_up"]
    assert receiver.deliveries[1].document["tracking_id"] == tracking_id
    assert {(job.kind, job.state) for job in await gateway.jobs()} == {("file", "done"), ("follow_up", "done")}
    assert not getattr(registry, "supports_status", True), "no status sync against a webhook"
    assert await deadline_counts(db, now=utcnow(), due_soon=timedelta(hours=24)) == {}, "no stage to judge by"
    record = await gateway.record(complaint_id)
    assert record.deadlines.verify_by is not None, "the legal deadlines are still in the record"


async def test_webhook_without_secret_is_a_configuration_error() -> None:
    from gateway.errors import ConfigurationError

    with pytest.raises(ConfigurationError):
        make_registry(RegistrySettings(kind="webhook", url="http://127.0.0.1:9/hook"))
