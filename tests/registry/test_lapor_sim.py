"""LaporClient against the real registry sandbox on a loopback port: the contract end to end."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest
import structlog

from gateway.errors import ConfigurationError, PermanentFailure, TransientFailure
from gateway.registry.lapor import LaporClient
from gateway.registry.sim_store import FIRST_TRACKING_ID
from tests.registry.complaints import complaint
from tests.registry.sim_server import TOKEN, running_sim


async def _count(url: str) -> int:
    """How many complaints the sandbox holds, by paging GET /complaints."""
    total, page = 0, 1
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with aiohttp.ClientSession() as http:
        while True:
            async with http.get(f"{url}/complaints", params={"page": str(page)}, headers=headers) as response:
                assert response.status == 200
                data = await response.json()
            total += len(data["items"])
            if data["next_page"] is None:
                return total
            page = data["next_page"]


async def test_file_gives_sequential_seven_digit_tracking_ids(client: LaporClient, sim_url: str) -> None:
    first = await client.file(complaint(), idempotency_key="k-1")
    second = await client.file(complaint(record_id="01JD0000000000000000000002"), idempotency_key="k-2")
    assert (first.tracking_id, first.status) == (str(FIRST_TRACKING_ID), "baru")
    assert second.tracking_id == str(FIRST_TRACKING_ID + 1)
    assert len(first.tracking_id) == 7 and first.tracking_id.isdigit()
    assert await _count(sim_url) == 2


async def test_same_key_gives_the_same_answer_and_files_once(client: LaporClient, sim_url: str) -> None:
    answers = [await client.file(complaint(), idempotency_key="same-key") for _ in range(3)]
    assert len(set(answers)) == 1
    assert await _count(sim_url) == 1


async def test_same_key_with_another_body_is_permanent(client: LaporClient) -> None:
    await client.file(complaint(), idempotency_key="reused")
    with pytest.raises(PermanentFailure) as caught:
        await client.file(complaint(text="sesuatu yang lain sama sekali"), idempotency_key="reused")
    assert "idempotency_key_reused" in caught.value.detail


async def test_follow_up_and_fetch(client: LaporClient) -> None:
    filed = await client.file(complaint(), idempotency_key="c")
    follow = complaint(relation="follow_up", text="jalan masih rusak", record_id="01JD0000000000000000000009")
    await client.follow_up(filed.tracking_id, follow, idempotency_key="f")
    await client.follow_up(filed.tracking_id, follow, idempotency_key="f")  # a retry: not added twice
    state = await client.fetch(filed.tracking_id)
    assert state.tracking_id == filed.tracking_id
    assert state.status == "baru"
    assert state.agency == "Dinas PUPR Kabupaten Bogor"
    assert state.category == "infrastruktur"
    assert state.classification == "pengaduan"
    assert state.updated_at is not None and state.updated_at.tzinfo is not None
    assert state.followups == ("1",)
    assert state.responses == ()


@pytest.mark.parametrize(
    "call",
    ["fetch", "follow_up"],
    ids=["fetch-unknown", "follow-up-unknown"],
)
async def test_unknown_tracking_id_is_permanent(client: LaporClient, call: str) -> None:
    with pytest.raises(PermanentFailure) as caught:
        if call == "fetch":
            await client.fetch("9999999")
        else:
            await client.follow_up("9999999", complaint(), idempotency_key="x")
    assert "HTTP 404" in caught.value.detail


async def test_anonymous_complaint_is_accepted_and_stored_without_identity(client: LaporClient, sim_url: str) -> None:
    filed = await client.file(complaint(anonim=True), idempotency_key="anon")
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{sim_url}/complaints/{filed.tracking_id}", headers={"Authorization": f"Bearer {TOKEN}"}) as r,
    ):
        stored = await r.json()
    assert stored["anonim"] is True
    assert "reporter" not in stored and stored["dedup_key"] is None


@pytest.mark.parametrize(
    ("token", "status"),
    [("wrong-token", 403), (TOKEN[:-1], 403), (TOKEN + "x", 403)],
    ids=["wrong", "truncated", "extended"],
)
async def test_refused_token_is_a_configuration_error(sim_url: str, token: str, status: int) -> None:
    client = LaporClient(base_url=sim_url, token=token, timeout_seconds=5.0)
    with structlog.testing.capture_logs() as logs, pytest.raises(ConfigurationError) as caught:
        await client.file(complaint(), idempotency_key="k")
    await client.aclose()
    assert f"HTTP {status}" in caught.value.detail
    assert token not in str(caught.value) and token not in repr(logs)
    assert await _count(sim_url) == 0


async def test_throttled_request_is_transient_with_retry_after(sim_db: Path) -> None:
    async with running_sim(sim_db, throttle_every=2) as url:
        client = LaporClient(base_url=url, token=TOKEN, timeout_seconds=5.0)
        await client.file(complaint(), idempotency_key="t1")
        with pytest.raises(TransientFailure) as caught:
            await client.file(complaint(), idempotency_key="t1")
        assert caught.value.retry_after == 1.0
        assert "HTTP 429" in caught.value.detail
        assert (await client.file(complaint(), idempotency_key="t1")).tracking_id == str(FIRST_TRACKING_ID)
        await client.aclose()


async def test_failing_registry_is_transient_and_does_no_work(sim_db: Path) -> None:
    async with running_sim(sim_db, fail_rate=1.0) as url:
        client = LaporClient(base_url=url, token=TOKEN, timeout_seconds=5.0)
        for key in ("a", "b", "c"):
            with pytest.raises(TransientFailure) as caught:
                await client.file(complaint(), idempotency_key=key)
            assert "HTTP 503" in caught.value.detail
        await client.aclose()
    async with running_sim(sim_db) as url:
        assert await _count(url) == 0


async def test_failure_after_commit_then_retry_gives_the_same_tracking_id(sim_db: Path) -> None:
    async with running_sim(sim_db, fail_after_commit_rate=1.0) as url:
        client = LaporClient(base_url=url, token=TOKEN, timeout_seconds=5.0)
        with pytest.raises(TransientFailure):
            await client.file(complaint(), idempotency_key="commit-then-fail")
        retried = await client.file(complaint(), idempotency_key="commit-then-fail")
        await client.aclose()
    assert retried.tracking_id == str(FIRST_TRACKING_ID)
    async with running_sim(sim_db) as url:
        assert await _count(url) == 1


async def test_retrying_through_random_faults_files_each_complaint_exactly_once(sim_db: Path) -> None:
    """Half the answers are lost before or after the commit; retrying with the key converges."""
    async with running_sim(sim_db, fail_rate=0.3, fail_after_commit_rate=0.5, seed=11) as url:
        client = LaporClient(base_url=url, token=TOKEN, timeout_seconds=5.0)
        tracking_ids: dict[str, str] = {}
        failures = 0
        for n in range(20):
            record = complaint(record_id=f"01JD00000000000000000000{n:02d}", text=f"keluhan nomor {n}")
            for _ in range(50):
                try:
                    tracking_ids[record.id] = (await client.file(record, idempotency_key=record.id)).tracking_id
                    break
                except TransientFailure:
                    failures += 1
        await client.aclose()
    assert failures > 0
    assert len(tracking_ids) == 20
    assert len(set(tracking_ids.values())) == 20
    async with running_sim(sim_db) as url:
        assert await _count(url) == 20


async def test_slow_registry_times_out_as_transient(sim_db: Path) -> None:
    async with running_sim(sim_db, latency_ms=1000) as url:
        client = LaporClient(base_url=url, token=TOKEN, timeout_seconds=0.1)
        with pytest.raises(TransientFailure) as caught:
            await client.fetch(str(FIRST_TRACKING_ID))
        await client.aclose()
    assert caught.value.reason == "registry timed out"


async def test_state_and_idempotency_survive_a_restart(sim_db: Path) -> None:
    async with running_sim(sim_db) as url:
        client = LaporClient(base_url=url, token=TOKEN, timeout_seconds=5.0)
        before = await client.file(complaint(), idempotency_key="persist")
        await client.aclose()
    async with running_sim(sim_db) as url:
        client = LaporClient(base_url=url, token=TOKEN, timeout_seconds=5.0)
        again = await client.file(complaint(), idempotency_key="persist")
        state = await client.fetch(before.tracking_id)
        after = await client.file(complaint(record_id="01JD0000000000000000000003"), idempotency_key="next")
        await client.aclose()
        assert await _count(url) == 2
    assert again == before
    assert state.tracking_id == before.tracking_id
    assert after.tracking_id == str(int(before.tracking_id) + 1)


async def test_lifecycle_endpoints_change_what_fetch_returns(
    client: LaporClient, sim_url: str, http: aiohttp.ClientSession
) -> None:
    filed = await client.file(complaint(), idempotency_key="life")
    headers = {"Authorization": f"Bearer {TOKEN}"}
    base = f"{sim_url}/sim/complaints/{filed.tracking_id}"
    steps = [
        ({"status": "diverifikasi"}, "diverifikasi", "Dinas PUPR Kabupaten Bogor"),
        ({"status": "didisposisikan", "agency": "Dinas Bina Marga", "category": "jalan"}, "didisposisikan",
         "Dinas Bina Marga"),
        ({"status": "ditindaklanjuti"}, "ditindaklanjuti", "Dinas Bina Marga"),
    ]
    previous = (await client.fetch(filed.tracking_id)).updated_at
    for body, status, agency in steps:
        async with http.post(f"{base}/status", json=body, headers=headers) as response:
            assert response.status == 200
        state = await client.fetch(filed.tracking_id)
        assert (state.status, state.agency) == (status, agency)
        assert state.updated_at is not None and previous is not None and state.updated_at > previous
        previous = state.updated_at
    async with http.post(f"{base}/responses", json={"text": "Sudah dijadwalkan perbaikan"}, headers=headers) as r:
        assert r.status == 201
    state = await client.fetch(filed.tracking_id)
    assert [response.text for response in state.responses] == ["Sudah dijadwalkan perbaikan"]
    assert state.responses[0].at is not None
    assert state.category == "jalan"
    assert state.status == "ditindaklanjuti"
