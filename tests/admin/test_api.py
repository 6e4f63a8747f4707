"""The admin API on a running gateway: 401 and 403 for every endpoint, and what each role can do."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from gateway.admin.api import ENDPOINTS, Endpoint
from gateway.admin.tokens import ROLES, role_allows
from tests.admin.stack import TWILIO_TOKEN, Stack, running_stack, start_registry

PATH_VALUES = {"name": "twilio", "key": "auth_token", "id": "01NOSUCHCOMPLAINT000000000"}
BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("PATCH", "/channels/{name}"): {},
    ("PUT", "/channels/{name}/secrets/{key}"): {"value": "Not-The-Token-000", "check": True},
    ("POST", "/dead-letters/retry"): {"ids": []},
    ("POST", "/replay"): {"dry_run": True},
}
IDS = [f"{e.method} {e.path}" for e in ENDPOINTS]


@pytest.fixture
async def stack(tmp_path: Path, vault_key: str) -> AsyncIterator[Stack]:
    async with running_stack(tmp_path) as running:
        yield running


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def call(http: aiohttp.ClientSession, stack: Stack, method: str, path: str, *, token: str | None = None,
               body: object = None, headers: dict[str, str] | None = None) -> tuple[int, Any, str]:
    """One API request: status, JSON answer, raw text."""
    sent = dict(headers or {})
    if token is not None:
        sent["Authorization"] = f"Bearer {token}"
    async with http.request(method, stack.path("/admin/api" + path), json=body, headers=sent) as response:
        text = await response.text()
        return response.status, json.loads(text) if text else None, text


def request_for(endpoint: Endpoint) -> tuple[str, object]:
    return endpoint.path.format(**PATH_VALUES), BODIES.get((endpoint.method, endpoint.path))


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=IDS)
async def test_every_endpoint_answers_401_without_a_valid_token(
    stack: Stack, http: aiohttp.ClientSession, endpoint: Endpoint
) -> None:
    path, body = request_for(endpoint)
    for headers in ({}, {"Authorization": "Bearer lgw_not-a-real-token"}, {"Authorization": "Bearer "},
                    {"Authorization": f"Bearer {stack.tokens['revoked']}"},
                    {"Authorization": f"Basic {stack.tokens['admin']}"}, {"Authorization": stack.tokens["admin"]}):
        status, answer, _ = await call(http, stack, endpoint.method, path, body=body, headers=headers)
        assert status == 401, headers
        assert answer["error"] == "unauthorized"


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=IDS)
async def test_every_endpoint_answers_403_below_its_role(
    stack: Stack, http: aiohttp.ClientSession, endpoint: Endpoint
) -> None:
    path, body = request_for(endpoint)
    seen = {}
    for role in ROLES:
        status, answer, _ = await call(http, stack, endpoint.method, path, token=stack.tokens[role], body=body)
        seen[role] = status
        if role_allows(role, endpoint.role):
            assert status not in (401, 403), (role, answer)
        else:
            assert status == 403 and answer["error"] == "forbidden", role
    # Viewer endpoints have no lower role; every other endpoint refused someone.
    assert endpoint.role == "viewer" or 403 in seen.values()


async def test_openapi_document_describes_every_endpoint(stack: Stack, http: aiohttp.ClientSession) -> None:
    status, spec, _ = await call(http, stack, "GET", "/openapi.json")
    assert status == 200 and spec["openapi"].startswith("3.")
    for endpoint in ENDPOINTS:
        operation = spec["paths"]["/admin/api" + endpoint.path][endpoint.method.lower()]
        assert operation["x-required-role"] == endpoint.role
        assert {"401", "403"} <= set(operation["responses"])
    operations = sum(len(methods) for methods in spec["paths"].values())
    assert operations == len(ENDPOINTS)


async def eventually(check: Callable[[], Awaitable[bool]], what: str, timeout: float = 15) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


async def test_operator_retries_a_dead_letter_and_it_is_filed(
    stack: Stack, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    assert await stack.send_sms(http, "SMapi1", "Lampu jalan di Jl. Merdeka mati sejak seminggu") == 200

    async def dead() -> bool:
        _, answer, _ = await call(http, stack, "GET", "/dead-letters?queue=dispatch", token=stack.tokens["viewer"])
        return len(answer["entries"]) == 1

    await eventually(dead, "a dead letter (the registry port is closed)")
    _, answer, _ = await call(http, stack, "GET", "/dead-letters", token=stack.tokens["viewer"])
    job = answer["entries"][0]
    _, complaints, _ = await call(http, stack, "GET", "/complaints", token=stack.tokens["viewer"])
    complaint_id = complaints["complaints"][0]["id"]
    assert job["complaint_id"] == complaint_id and complaints["complaints"][0]["tracking_id"] is None

    async with start_registry(stack.registry_port, tmp_path):
        status, answer, _ = await call(http, stack, "POST", "/dead-letters/retry", token=stack.tokens["operator"],
                                       body={"queue": "dispatch", "ids": [job["id"]]})
        assert (status, answer["retried"]) == (200, 1)

        async def filed() -> bool:
            _, detail, _ = await call(http, stack, "GET", f"/complaints/{complaint_id}", token=stack.tokens["viewer"])
            return bool(detail["tracking_id"])

        await eventually(filed, "the complaint filed after the retry")

    _, detail, _ = await call(http, stack, "GET", f"/complaints/{complaint_id}", token=stack.tokens["viewer"])
    assert dict(detail["raw"]["fields"])["Body"] == "Lampu jalan di Jl. Merdeka mati sejak seminggu"
    assert detail["record"]["body"]["text"] == "Lampu jalan di Jl. Merdeka mati sejak seminggu"
    _, trail, _ = await call(http, stack, "GET", "/audit", token=stack.tokens["admin"])
    retry = next(entry for entry in trail["entries"] if entry["action"] == "outbox.retry")
    assert retry["actor"].startswith("token:operator-token:") and retry["detail"]["count"] == 1

    status, replayed, _ = await call(http, stack, "POST", "/replay", token=stack.tokens["operator"],
                                     body={"channel": "twilio", "dry_run": True})
    assert status == 200 and replayed["counts"] == {"complaint": 1}
    assert replayed["results"][0]["outcome"] == "complaint"


async def test_admin_changes_reach_the_running_gateway(stack: Stack, http: aiohttp.ClientSession) -> None:
    admin = stack.tokens["admin"]
    new_token = "Rotated-Twilio-Token-77aa66bb"
    # The sandbox only knows the old token: a checked change is refused and nothing changes.
    status, answer, text = await call(http, stack, "PUT", "/channels/twilio/secrets/auth_token", token=admin,
                                      body={"value": new_token})
    assert (status, answer["error"]) == (422, "invalid_auth") and new_token not in text
    status, answer, text = await call(http, stack, "PUT", "/channels/twilio/secrets/auth_token", token=admin,
                                      body={"value": TWILIO_TOKEN})
    assert (status, answer) == (200, {"channel": "twilio", "key": "auth_token", "secret": "set", "check": "ok"})
    status, answer, text = await call(http, stack, "PUT", "/channels/twilio/secrets/auth_token", token=admin,
                                      body={"value": new_token, "check": False})
    assert status == 200 and new_token not in text

    async def signed_with_new_token() -> bool:
        return await stack.send_sms(http, "SMlive1", "Sampah menumpuk di pasar", token=new_token) == 200

    await eventually(signed_with_new_token, "the new auth token in the running channel")
    assert await stack.send_sms(http, "SMlive2", "Sampah menumpuk", token=TWILIO_TOKEN) == 403

    status, view, text = await call(http, stack, "PATCH", "/channels/twilio", token=admin, body={"enabled": False})
    assert status == 200 and view["enabled"] is False and view["secrets"] == {"auth_token": "set"}

    async def gone() -> bool:
        return await stack.send_sms(http, "SMlive3", "x", token=new_token) == 404

    await eventually(gone, "the disabled channel's routes to go")
    await call(http, stack, "PATCH", "/channels/twilio", token=admin, body={"enabled": True})

    async def back() -> bool:
        return await stack.send_sms(http, "SMlive4", "Jalan berlubang", token=new_token) == 200

    await eventually(back, "the channel enabled again")

    _, listing, text = await call(http, stack, "GET", "/channels", token=stack.tokens["viewer"])
    assert listing["channels"][0]["secrets"] == {"auth_token": "set"}
    assert new_token not in text and TWILIO_TOKEN not in text
    _, trail, text = await call(http, stack, "GET", "/audit", token=admin)
    assert new_token not in text and TWILIO_TOKEN not in text
    actions = [entry["action"] for entry in trail["entries"] if entry["actor"].startswith("token:admin-token:")]
    assert actions == ["channel.enable", "channel.disable", "channel.set_secret", "channel.set_secret"]


# (id, method, path, body, expected status, expected error)
BAD = [
    ("not_json", "PATCH", "/channels/twilio", "not json", 400, "bad_request"),
    ("secret_as_setting", "PATCH", "/channels/twilio", {"settings": {"auth_token": "x"}}, 422,
     "this_setting_is_a_secret"),
    ("invalid_setting", "PATCH", "/channels/twilio", {"settings": {"signature": "sometimes"}}, 422,
     "invalid_channel_settings"),
    ("unknown_channel", "PATCH", "/channels/pigeon", {"enabled": True}, 404, "unknown_channel"),
    ("unknown_channel_get", "GET", "/channels/pigeon", None, 404, "unknown_channel"),
    ("empty_secret", "PUT", "/channels/twilio/secrets/auth_token", {"value": ""}, 400, "bad_request"),
    ("not_a_secret", "PUT", "/channels/twilio/secrets/account_sid", {"value": "AC1"}, 422, "not_a_secret_setting"),
    ("bad_queue", "POST", "/dead-letters/retry", {"queue": "mail"}, 400, "bad_request"),
    ("naive_time", "POST", "/replay", {"since": "2026-12-01T00:00:00"}, 400, "bad_request"),
    ("no_complaint", "GET", "/complaints/01NOSUCH", None, 404, "not_found"),
]


@pytest.mark.parametrize(("method", "path", "body", "status", "error"), [row[1:] for row in BAD],
                         ids=[row[0] for row in BAD])
async def test_bad_requests(stack: Stack, http: aiohttp.ClientSession, method: str, path: str, body: object,
                            status: int, error: str) -> None:
    headers = {"Authorization": f"Bearer {stack.tokens['admin']}"}
    data = body if isinstance(body, str) else None
    async with http.request(method, stack.path("/admin/api" + path), headers=headers, data=data,
                            json=None if isinstance(body, str) else body) as response:
        answer = await response.json()
        assert (response.status, answer["error"]) == (status, error)
