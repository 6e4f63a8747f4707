"""The Twilio webhook edge: a table of real-shaped requests against a running gateway."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import sqlalchemy as sa
from multidict import MultiDict

from channels.twilio import verify_signature
from config.settings import Settings
from gateway.messages import utcnow
from gateway.runtime import Gateway
from gateway.storage.tables import raw_message, reply
from tests.support.corpus import corpus_dir
from tests.support.ports import free_port
from tests.support.twilio_signing import form_body, sign_form

TOKEN = "test-auth-token-0123456789"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "twilio"
PUBLIC = "https://lapor.example.go.id/gateway"


@dataclass
class Running:
    gateway: Gateway
    url: str
    public_url: str


async def start(tmp_path: Path, **twilio: Any) -> Running:
    port = free_port()
    public_url = twilio.pop("public_url", None)
    settings = Settings(
        server={"host": "127.0.0.1", "port": port, "public_url": public_url, "max_body_bytes": 8192},
        database={"url": f"sqlite+aiosqlite:///{tmp_path / 'gw.db'}"},
        channels={"twilio": {"enabled": True, "auth_token": TOKEN, "account_sid": "ACtest", **twilio}},
    )
    gateway = Gateway(settings, role="ingest")
    await gateway.start()
    return Running(gateway, f"http://127.0.0.1:{port}", settings.server.base_url)


@pytest.fixture
async def running(tmp_path: Path) -> AsyncIterator[Running]:
    server = await start(tmp_path)
    yield server
    await server.gateway.stop()


async def stored(server: Running) -> list[Any]:
    async with server.gateway.db.connect() as connection:
        return list((await connection.execute(sa.select(raw_message))).all())


def signed(server: Running, body: bytes, path: str = "/c/twilio/receive") -> dict[str, str]:
    return {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": sign_form(TOKEN, server.public_url + path, body),
    }


GOOD = (FIXTURES / "sms_slang_emoji.txt").read_bytes()
FORM = "application/x-www-form-urlencoded"

# (id, body, headers builder, expected status, rows stored)
CASES: list[tuple[str, bytes, str, int, int]] = [
    ("good", GOOD, "signed", 200, 1),
    ("bad_signature", GOOD, "forged", 403, 0),
    ("missing_signature", GOOD, "unsigned", 403, 0),
    ("signature_of_other_body", GOOD, "other_body", 403, 0),
    ("wrong_content_type", b'{"Body": "x"}', "json", 415, 0),
    ("oversized", form_body({"MessageSid": "SMbig", "From": "+6281234567890", "Body": "x" * 9000}), "signed", 413, 0),
    ("malformed_utf8", b"MessageSid=SMbad&Body=%FF%FE", "signed", 400, 0),
    ("missing_message_sid", form_body({"From": "+6281234567890", "Body": "tanpa sid"}), "signed", 400, 0),
    ("whatsapp_media", (FIXTURES / "whatsapp_media.txt").read_bytes(), "signed", 200, 1),
    ("unknown_extra_fields", (FIXTURES / "sms_unknown_extra_fields.txt").read_bytes(), "signed", 200, 1),
    ("empty_body_is_stored", (FIXTURES / "sms_empty.txt").read_bytes(), "signed", 200, 1),
]


def headers_for(kind: str, server: Running, body: bytes) -> dict[str, str]:
    if kind == "signed":
        return signed(server, body)
    if kind == "forged":
        return {"Content-Type": FORM, "X-Twilio-Signature": "AAAAAAAAAAAAAAAAAAAAAAAAAAA="}
    if kind == "unsigned":
        return {"Content-Type": FORM}
    if kind == "other_body":
        return {"Content-Type": FORM, "X-Twilio-Signature": sign_form(TOKEN, server.public_url + "/c/twilio/receive",
                                                                      b"MessageSid=SMother&Body=lain")}
    return {"Content-Type": "application/json", **{"X-Twilio-Signature": signed(server, body)["X-Twilio-Signature"]}}


@pytest.mark.parametrize(("case", "body", "kind", "status", "rows"), CASES, ids=[c[0] for c in CASES])
async def test_receive(running: Running, case: str, body: bytes, kind: str, status: int, rows: int) -> None:
    async with aiohttp.ClientSession() as http:
        response = await http.post(running.url + "/c/twilio/receive", data=body,
                                   headers=headers_for(kind, running, body))
        text = await response.text()
    assert response.status == status, text
    if status == 200:
        assert text == '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
        assert response.content_type == "text/xml"
    saved = await stored(running)
    assert len(saved) == rows
    if rows:
        assert bytes(saved[0].payload) == body  # exactly what arrived


async def test_redelivery_is_a_duplicate(running: Running) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(3):
            response = await http.post(running.url + "/c/twilio/receive", data=GOOD, headers=signed(running, GOOD))
            assert response.status == 200
    assert len(await stored(running)) == 1


async def test_log_only_stores_and_flags(tmp_path: Path) -> None:
    server = await start(tmp_path, signature="log-only")
    try:
        async with aiohttp.ClientSession() as http:
            response = await http.post(server.url + "/c/twilio/receive", data=GOOD,
                                       headers={"Content-Type": FORM, "X-Twilio-Signature": "forged"})
            assert response.status == 200
            metrics = await (await http.get(server.url + "/metrics")).text()
        rows = await stored(server)
        assert len(rows) == 1 and rows[0].flags == "signature_unverified"
        assert 'lapor_signature_unverified_total{channel="twilio"}' in metrics
    finally:
        await server.gateway.stop()


async def test_signature_checked_against_public_url(tmp_path: Path) -> None:
    """Behind a TLS proxy Twilio signs https://public/...; a signature over our local URL must fail."""
    server = await start(tmp_path, public_url=PUBLIC)
    try:
        assert server.public_url == PUBLIC
        local_signature = sign_form(TOKEN, server.url + "/c/twilio/receive", GOOD)
        async with aiohttp.ClientSession() as http:
            forged = await http.post(server.url + "/c/twilio/receive?x=1", data=GOOD,
                                     headers={"Content-Type": FORM, "X-Twilio-Signature": local_signature})
            assert forged.status == 403
            body = GOOD
            path = "/c/twilio/receive?x=1"
            good = await http.post(server.url + path, data=body, headers=signed(server, body, path))
            assert good.status == 200
    finally:
        await server.gateway.stop()


async def test_status_callback_records_delivery(running: Running) -> None:
    now = utcnow()
    async with running.gateway.db.begin() as connection:
        await connection.execute(sa.insert(reply).values(
            id="R1", dedup="ack:x", channel="twilio", kind="ack", address="+6281234567890", text="t",
            state="sent", next_attempt_at=now, created_at=now, provider_id="SMreply1"))
    body = form_body({"MessageSid": "SMreply1", "MessageStatus": "delivered", "AccountSid": "ACtest"})
    async with aiohttp.ClientSession() as http:
        response = await http.post(running.url + "/c/twilio/status", data=body,
                                   headers=signed(running, body, "/c/twilio/status"))
        assert response.status == 200
        forged = await http.post(running.url + "/c/twilio/status", data=body,
                                 headers={"Content-Type": FORM, "X-Twilio-Signature": "x"})
        assert forged.status == 403
    async with running.gateway.db.connect() as connection:
        status = (await connection.execute(sa.select(reply.c.delivery_status))).scalar_one()
    assert status == "delivered"
    assert await stored(running) == []  # a status callback is not a complaint


def _vectors() -> list[dict[str, Any]]:
    path = corpus_dir("twilio-webhooks") / "signature_vectors.json"
    return list(json.loads(path.read_text())["vectors"])


def test_all_fourteen_signature_vectors_verify() -> None:
    vectors = _vectors()
    assert len(vectors) == 14
    token = json.loads((corpus_dir("twilio-webhooks") / "signature_vectors.json").read_text())["auth_token"]
    for vector in vectors:
        params: MultiDict[str] | str
        if "body" in vector:
            params = vector["body"]
        else:
            raw = vector["params"]
            pairs = raw if isinstance(raw, list) else list(raw.items())
            params = MultiDict((str(k), str(v)) for k, v in pairs)
        assert verify_signature(token, vector["url"], params, vector["signature"]), vector["name"]
        assert not verify_signature(token + "x", vector["url"], params, vector["signature"]), vector["name"]
