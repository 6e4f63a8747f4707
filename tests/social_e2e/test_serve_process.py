"""A real `lapor-gateway serve` process configured from the environment: Telegram and WhatsApp in, media
stored, acknowledgements out through the fakes, and no secret in what the process wrote."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from gateway.registry.sim import build_sim_app
from tests.fakes import fake_meta, fake_telegram
from tests.social_e2e.stack import (
    GRAPH_TOKEN,
    META_APP_SECRET,
    META_VERIFY_TOKEN,
    REGISTRY_TOKEN,
    SECRETS,
    TELEGRAM_SECRET,
    TELEGRAM_TOKEN,
    fixture,
    jpeg,
    meta_signature,
    serve,
    wait_until,
)
from tests.support.ports import free_port
from tests.support.processes import Process, start

PHOTO_ID = "AgACAgUAAxkBAAMFZf_large"


@dataclass
class Served:
    gateway: Process
    gateway_url: str
    registry_url: str
    graph: fake_meta.FakeGraphState
    telegram: fake_telegram.FakeTelegramState
    media_dir: Path

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> int:
        async with aiohttp.ClientSession() as http, http.post(self.gateway_url + path, data=body,
                                                              headers=headers) as response:
            return response.status

    async def complaints(self) -> list[dict[str, Any]]:
        async with aiohttp.ClientSession() as http, http.get(
            f"{self.registry_url}/complaints", headers={"Authorization": f"Bearer {REGISTRY_TOKEN}"}
        ) as response:
            return list((await response.json())["items"])


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    graph = fake_meta.FakeGraphState(token=GRAPH_TOKEN)
    telegram = fake_telegram.FakeTelegramState(token=TELEGRAM_TOKEN)
    runners: list[web.AppRunner] = []
    for app in (build_sim_app(db_path=tmp_path / "registry.db", token=REGISTRY_TOKEN),
                fake_meta.build_app(graph), fake_telegram.build_app(telegram)):
        runner, _ = await serve(app)
        runners.append(runner)
    registry_url, graph_url, telegram_url = (f"http://127.0.0.1:{r.addresses[0][1]}" for r in runners)
    port = free_port()
    env = {
        "LAPOR_GATEWAY_SERVER__PORT": str(port),
        "LAPOR_GATEWAY_DATABASE__URL": f"sqlite:///{tmp_path / 'gateway.db'}",
        "LAPOR_GATEWAY_REGISTRY__URL": registry_url,
        "LAPOR_GATEWAY_REGISTRY__TOKEN": REGISTRY_TOKEN,
        "LAPOR_GATEWAY_DISPATCH__POLL_SECONDS": "0.2",
        "LAPOR_GATEWAY_LOGGING__LEVEL": "debug",
        "LAPOR_GATEWAY_MEDIA__DIRECTORY": str(tmp_path / "media"),
        "LAPOR_GATEWAY_MEDIA__TIMEOUT_SECONDS": "5",
        # The fakes listen on 127.0.0.1; outside tests this stays off.
        "LAPOR_GATEWAY_MEDIA__ALLOW_PRIVATE_ADDRESSES": "true",
        "LAPOR_GATEWAY_CHANNELS__TELEGRAM__ENABLED": "true",
        "LAPOR_GATEWAY_CHANNELS__TELEGRAM__BOT_TOKEN": TELEGRAM_TOKEN,
        "LAPOR_GATEWAY_CHANNELS__TELEGRAM__WEBHOOK_SECRET_TOKEN": TELEGRAM_SECRET,
        "LAPOR_GATEWAY_CHANNELS__TELEGRAM__API_BASE_URL": telegram_url,
        "LAPOR_GATEWAY_CHANNELS__META__ENABLED": "true",
        "LAPOR_GATEWAY_CHANNELS__META__APP_SECRET": META_APP_SECRET,
        "LAPOR_GATEWAY_CHANNELS__META__VERIFY_TOKEN": META_VERIFY_TOKEN,
        "LAPOR_GATEWAY_CHANNELS__META__ACCESS_TOKEN": GRAPH_TOKEN,
        "LAPOR_GATEWAY_CHANNELS__META__GRAPH_API_BASE_URL": graph_url,
    }
    # Starting blocks this loop briefly; the fakes are not needed until the first message.
    gateway = start("gateway", ["serve"], workdir=tmp_path, env=env, ready_url=f"http://127.0.0.1:{port}/healthz")
    try:
        yield Served(gateway, f"http://127.0.0.1:{port}", registry_url, graph, telegram, tmp_path / "media")
    finally:
        gateway.stop()
        for runner in runners:
            await runner.cleanup()


async def test_serve_process_files_stores_media_and_acknowledges(served: Served) -> None:
    photo = jpeg("serve-process-photo")
    served.telegram.files[PHOTO_ID] = ("photos/file_9.jpg", photo)
    telegram_body = json.dumps(fixture("telegram", "message_photo.json")).encode()
    assert await served.post("/c/telegram/webhook", telegram_body,
                             {"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET}) == 200
    meta_body = json.dumps(fixture("meta", "whatsapp_text.json")).encode()
    assert await served.post("/c/meta/webhook", meta_body, {"X-Hub-Signature-256": meta_signature(meta_body)}) == 200
    verify = f"/c/meta/webhook?hub.mode=subscribe&hub.verify_token={META_VERIFY_TOKEN}&hub.challenge=42"
    async with aiohttp.ClientSession() as http, http.get(served.gateway_url + verify) as response:
        assert (response.status, await response.text()) == (200, "42")

    async def done() -> bool:
        return len(await served.complaints()) == 2 and len(served.telegram.sent) == 1 and len(served.graph.sent) == 1

    await wait_until(done, what="two complaints and two acknowledgements", timeout=30)
    by_channel = {c["channel"]: c for c in await served.complaints()}
    assert f"#{by_channel['telegram']['tracking_id']}" in served.telegram.sent[0]["text"]
    assert f"#{by_channel['meta']['tracking_id']}" in served.graph.sent[0][1]["text"]["body"]
    digest = hashlib.sha256(photo).hexdigest()
    assert by_channel["telegram"]["attachments"][0]["sha256"] == digest
    assert (served.media_dir / digest[:2] / digest[2:4] / digest).read_bytes() == photo

    served.gateway.stop()
    output = served.gateway.output()
    assert "media.stored" in output and "dispatch.filed" in output
    leaked = [secret for secret in SECRETS if secret in output]
    assert not leaked, f"secrets in the process output: {leaked}"
    assert "/file/bot" not in output and "hub.verify_token" not in output
