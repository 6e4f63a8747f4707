"""docs/registry-api.yaml describes what the sandbox answers and what the client sends."""

from __future__ import annotations

import json

import aiohttp
import pytest

from gateway.registry.contract import complaint_request, follow_up_request
from gateway.registry.lapor import LaporClient
from tests.registry.complaints import complaint
from tests.registry.openapi_check import component, load_spec, response_schema, schema_errors
from tests.registry.sim_server import TOKEN

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def test_spec_is_openapi_31_with_the_contract_paths() -> None:
    spec = load_spec()
    assert spec["openapi"] == "3.1.0"
    assert set(spec["paths"]) == {  # type: ignore[call-overload]
        "/complaints",
        "/complaints/{tracking_id}",
        "/complaints/{tracking_id}/followups",
        "/sim/complaints/{tracking_id}/status",
        "/sim/complaints/{tracking_id}/responses",
        "/healthz",
    }
    statuses = component(spec, "ComplaintStatus")["enum"]
    assert statuses == ["baru", "diverifikasi", "didisposisikan", "ditindaklanjuti", "selesai", "ditutup"]


@pytest.mark.parametrize(
    ("anonim", "rahasia"), [(False, False), (False, True), (True, False)], ids=["public", "rahasia", "anonim"]
)
def test_client_requests_fit_the_documented_schemas(anonim: bool, rahasia: bool) -> None:
    spec = load_spec()
    record = complaint(anonim=anonim, rahasia=rahasia)
    filed = json.loads(json.dumps(complaint_request(record)))
    follow = json.loads(json.dumps(follow_up_request(record)))
    assert schema_errors(spec, component(spec, "ComplaintRequest"), filed) == []
    assert schema_errors(spec, component(spec, "FollowUpRequest"), follow) == []


def test_the_checker_notices_a_bad_body() -> None:
    spec = load_spec()
    bad = {"title": 3, "body": "x", "classification": "keluhan"}
    errors = schema_errors(spec, component(spec, "ComplaintRequest"), bad)
    assert "$.title: 3 is not ['string']" in errors
    assert "$.classification: 'keluhan' not in enum" in errors
    assert "$: missing received_at" in errors


async def test_sandbox_answers_are_documented(
    client: LaporClient, sim_url: str, http: aiohttp.ClientSession
) -> None:
    """Drive every path, success and failure, and check each answer against the document."""
    filed = await client.file(complaint(), idempotency_key="doc")
    await client.follow_up(filed.tracking_id, complaint(relation="follow_up"), idempotency_key="doc-f")
    tid = filed.tracking_id
    body = json.loads(json.dumps(complaint_request(complaint())))
    calls: list[tuple[str, str, dict[str, str], object, int]] = [
        ("GET", "/healthz", {}, None, 200),
        ("POST", "/complaints", {**AUTH, "Idempotency-Key": "doc"}, body, 201),
        ("POST", "/complaints", {**AUTH, "Idempotency-Key": "doc"}, {**body, "title": "lain"}, 422),
        ("POST", "/complaints", AUTH, body, 400),
        ("POST", "/complaints", {}, body, 401),
        ("POST", "/complaints", {"Authorization": "Bearer nope"}, body, 403),
        ("GET", "/complaints", AUTH, None, 200),
        ("GET", "/complaints?page=0", AUTH, None, 400),
        ("GET", f"/complaints/{tid}", AUTH, None, 200),
        ("GET", "/complaints/1234567", AUTH, None, 404),
        ("POST", f"/complaints/{tid}/followups", {**AUTH, "Idempotency-Key": "doc-2"},
         {"body": "tambahan", "channel": "twilio", "received_at": "2026-11-30T03:00:00+00:00", "anonim": True,
          "rahasia": False}, 201),
        ("POST", "/complaints/1234567/followups", {**AUTH, "Idempotency-Key": "doc-3"},
         {"body": "x", "channel": "twilio", "received_at": "2026-11-30T03:00:00+00:00", "anonim": True,
          "rahasia": False}, 404),
        ("POST", f"/sim/complaints/{tid}/status", AUTH, {"status": "selesai", "agency": "Dinas PUPR"}, 200),
        ("POST", f"/sim/complaints/{tid}/status", AUTH, {"status": "hilang"}, 422),
        ("POST", f"/sim/complaints/{tid}/responses", AUTH, {"text": "Sudah diperbaiki"}, 201),
        ("POST", "/sim/complaints/1234567/responses", AUTH, {"text": "x"}, 404),
    ]
    spec = load_spec()
    for method, path, headers, payload, expected in calls:
        async with http.request(method, sim_url + path, headers=headers, json=payload) as response:
            answer = await response.json()
            assert response.status == expected, (method, path, answer)
        schema = response_schema(spec, method, path.split("?")[0], response.status)
        assert schema_errors(spec, schema, answer) == [], (method, path)
