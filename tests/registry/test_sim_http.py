"""The sandbox over plain HTTP: what it refuses, how it pages, what its faults spare."""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp
import pytest

from gateway.registry.contract import complaint_request
from gateway.registry.sim import build_sim_app
from tests.registry.complaints import complaint
from tests.registry.sim_server import TOKEN, running_sim

AUTH = {"Authorization": f"Bearer {TOKEN}"}
GOOD = json.loads(json.dumps(complaint_request(complaint())))
ANON = json.loads(json.dumps(complaint_request(complaint(anonim=True))))


def _without(body: dict[str, object], name: str) -> dict[str, object]:
    return {k: v for k, v in body.items() if k != name}


REFUSALS = [
    # (method, path, headers, raw body, status, error code)
    ("GET", "/complaints", {}, None, 401, "unauthorized"),
    ("GET", "/complaints", {"Authorization": f"Basic {TOKEN}"}, None, 401, "unauthorized"),
    ("GET", "/complaints", {"Authorization": "Bearer "}, None, 401, "unauthorized"),
    ("GET", "/complaints", {"Authorization": "Bearer other"}, None, 403, "forbidden"),
    ("POST", "/complaints", AUTH, json.dumps(GOOD), 400, "idempotency_key_required"),
    ("POST", "/complaints", {**AUTH, "Idempotency-Key": "k" * 256}, json.dumps(GOOD), 400, "idempotency_key_invalid"),
    ("POST", "/complaints", {**AUTH, "Idempotency-Key": "k"}, "{not json", 400, "invalid_json"),
    ("POST", "/complaints", {**AUTH, "Idempotency-Key": "k"}, "", 400, "invalid_json"),
    ("POST", "/complaints", {**AUTH, "Idempotency-Key": "k"}, "[1]", 400, "invalid_json"),
    ("POST", "/complaints", {**AUTH, "Idempotency-Key": "k"}, json.dumps(_without(GOOD, "title")), 422,
     "invalid_field"),
    ("POST", "/complaints", {**AUTH, "Idempotency-Key": "k"}, json.dumps({**GOOD, "body": "   "}), 422,
     "invalid_field"),
    ("POST", "/complaints", {**AUTH, "Idempotency-Key": "k"}, json.dumps({**GOOD, "classification": "keluhan"}),
     422, "invalid_field"),
    ("POST", "/complaints", {**AUTH, "Idempotency-Key": "k"},
     json.dumps({**GOOD, "received_at": "2026-11-30T02:15:00"}), 422, "invalid_field"),
    ("POST", "/complaints", {**AUTH, "Idempotency-Key": "k"}, json.dumps({**GOOD, "anonim": "no"}), 422,
     "invalid_field"),
    ("POST", "/complaints", {**AUTH, "Idempotency-Key": "k"},
     json.dumps({**ANON, "reporter": GOOD["reporter"]}), 422, "anonymous_with_identity"),
    ("POST", "/complaints", {**AUTH, "Idempotency-Key": "k"}, json.dumps(_without(GOOD, "reporter")), 422,
     "invalid_field"),
    ("GET", "/complaints?page=0", AUTH, None, 400, "invalid_parameter"),
    ("GET", "/complaints?page=x", AUTH, None, 400, "invalid_parameter"),
    ("GET", "/complaints?per_page=501", AUTH, None, 400, "invalid_parameter"),
    ("GET", "/complaints/abc", AUTH, None, 404, "not_found"),
    ("GET", "/complaints/1916000", AUTH, None, 404, "not_found"),
    ("POST", "/sim/complaints/1916000/status", AUTH, json.dumps({"status": "selesai"}), 404, "not_found"),
    ("POST", "/sim/complaints/1916000/status", {}, json.dumps({"status": "selesai"}), 401, "unauthorized"),
]
REFUSAL_IDS = [
    "no-auth",
    "basic-auth",
    "empty-bearer",
    "wrong-token",
    "no-idempotency-key",
    "key-too-long",
    "bad-json",
    "empty-body",
    "json-array",
    "missing-title",
    "blank-body",
    "bad-classification",
    "naive-timestamp",
    "anonim-not-bool",
    "anonymous-with-reporter",
    "identified-without-reporter",
    "page-zero",
    "page-not-number",
    "per-page-too-big",
    "tracking-id-not-digits",
    "unknown-tracking-id",
    "sim-status-unknown",
    "sim-status-no-auth",
]


@pytest.mark.parametrize(("method", "path", "headers", "raw", "status", "error"), REFUSALS, ids=REFUSAL_IDS)
async def test_refusals(
    sim_url: str,
    http: aiohttp.ClientSession,
    method: str,
    path: str,
    headers: dict[str, str],
    raw: str | None,
    status: int,
    error: str,
) -> None:
    sent = {**headers, "Content-Type": "application/json"} if raw is not None else headers
    async with http.request(method, sim_url + path, headers=sent, data=raw) as response:
        body = await response.json()
        assert (response.status, body["error"]) == (status, error), body
        assert isinstance(body["detail"], str) and body["detail"]
        if status == 401:
            assert response.headers["WWW-Authenticate"].startswith("Bearer")
    async with http.get(f"{sim_url}/healthz") as health:
        assert (await health.json())["complaints"] == 0


async def test_refused_request_does_not_use_up_the_key(sim_url: str, http: aiohttp.ClientSession) -> None:
    headers = {**AUTH, "Idempotency-Key": "retry-me"}
    async with http.post(f"{sim_url}/complaints", headers=headers, json=_without(GOOD, "title")) as refused:
        assert refused.status == 422
    async with http.post(f"{sim_url}/complaints", headers=headers, json=GOOD) as accepted:
        assert accepted.status == 201
        assert "Idempotent-Replayed" not in accepted.headers
    async with http.post(f"{sim_url}/complaints", headers=headers, json=GOOD) as replayed:
        assert replayed.status == 201
        assert replayed.headers["Idempotent-Replayed"] == "true"


async def test_same_content_in_another_key_order_is_the_same_request(sim_url: str, http: aiohttp.ClientSession) -> None:
    headers = {**AUTH, "Idempotency-Key": "order", "Content-Type": "application/json"}
    first = json.dumps(GOOD)
    second = json.dumps(dict(reversed(list(GOOD.items()))), indent=2)
    answers = []
    for raw in (first, second):
        async with http.post(f"{sim_url}/complaints", headers=headers, data=raw) as response:
            answers.append((response.status, await response.json()))
    assert answers[0] == answers[1]


@pytest.mark.parametrize(
    ("filed", "per_page", "pages"),
    [(0, 3, [0]), (3, 3, [3]), (7, 3, [3, 3, 1]), (7, 50, [7])],
    ids=["empty", "exact-page", "three-pages", "default-size-fits"],
)
async def test_paging_counts_everything_once(
    sim_url: str, http: aiohttp.ClientSession, filed: int, per_page: int, pages: list[int]
) -> None:
    for n in range(filed):
        body = {**GOOD, "title": f"keluhan {n}"}
        async with http.post(f"{sim_url}/complaints", headers={**AUTH, "Idempotency-Key": f"p{n}"}, json=body) as r:
            assert r.status == 201
    seen: list[int] = []
    ids: list[str] = []
    page: int | None = 1
    while page is not None:
        url = f"{sim_url}/complaints?page={page}&per_page={per_page}"
        async with http.get(url, headers=AUTH) as response:
            data = await response.json()
        seen.append(len(data["items"]))
        ids += [item["tracking_id"] for item in data["items"]]
        page = data["next_page"]
    assert seen == pages
    assert ids == sorted(ids) and len(set(ids)) == filed


async def test_faults_spare_health_and_lifecycle_controls(sim_db: Path, http: aiohttp.ClientSession) -> None:
    async with running_sim(sim_db) as url:
        async with http.post(f"{url}/complaints", headers={**AUTH, "Idempotency-Key": "f"}, json=GOOD) as r:
            tid = (await r.json())["tracking_id"]
    async with running_sim(sim_db, fail_rate=1.0) as url:
        async with http.get(f"{url}/healthz") as health:
            assert health.status == 200
        async with http.post(f"{url}/sim/complaints/{tid}/status", headers=AUTH, json={"status": "selesai"}) as r:
            assert r.status == 200
        async with http.get(f"{url}/complaints/{tid}", headers=AUTH) as r:
            assert r.status == 503


async def test_every_nth_request_is_throttled(sim_db: Path, http: aiohttp.ClientSession) -> None:
    statuses = []
    async with running_sim(sim_db, throttle_every=3) as url:
        for _ in range(7):
            async with http.get(f"{url}/complaints", headers=AUTH) as response:
                statuses.append(response.status)
                if response.status == 429:
                    assert response.headers["Retry-After"] == "1"
    assert statuses == [200, 200, 429, 200, 200, 429, 200]


@pytest.mark.parametrize(
    "kwargs",
    [{"token": ""}, {"fail_rate": 1.5}, {"fail_after_commit_rate": -0.1}, {"latency_ms": -1}, {"throttle_every": -2}],
    ids=["no-token", "fail-rate-above-1", "commit-rate-negative", "negative-latency", "negative-throttle"],
)
def test_bad_sandbox_settings_are_refused(tmp_path: Path, kwargs: dict[str, object]) -> None:
    settings: dict[str, object] = {"db_path": tmp_path / "x.db", "token": "t", **kwargs}
    with pytest.raises(ValueError):
        build_sim_app(**settings)  # type: ignore[arg-type]
