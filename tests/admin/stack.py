"""A real gateway in-process with the Twilio channel, the Twilio sandbox and (optionally) registry-sim."""

from __future__ import annotations

import urllib.parse
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer

from config.settings import Settings
from gateway.admin.tokens import ROLES, Role, create_token, revoke_token
from gateway.registry.sim import build_sim_app
from gateway.runtime import Gateway
from gateway.sandbox.twilio import TwilioSandbox
from tests.support.ports import free_port
from tests.support.twilio_signing import form_body, sign_form

ACCOUNT = "ACadmin0000000000000000000000000000"
TWILIO_TOKEN = "Admin-Stack-Twilio-Token-5e4d3c"
REGISTRY_TOKEN = "Admin-Stack-Registry-Token-9a8b7c"


@dataclass
class Stack:
    """The running pieces and a token per role (plus a revoked one)."""

    gateway: Gateway
    url: str
    twilio: TwilioSandbox
    twilio_url: str
    registry_port: int
    tokens: dict[str, str]

    def path(self, path: str) -> str:
        """An absolute URL on the gateway."""
        return self.url + path

    async def send_sms(self, http: aiohttp.ClientSession, sid: str, text: str, sender: str = "+6281234567890",
                       token: str = TWILIO_TOKEN) -> int:
        """POST a signed Twilio webhook, signed against the gateway's public URL as Twilio would."""
        body = form_body({"MessageSid": sid, "AccountSid": ACCOUNT, "From": sender, "To": "1708", "Body": text})
        public = self.gateway.settings.server.base_url + "/c/twilio/receive"
        async with http.post(self.path("/c/twilio/receive"), data=body, headers={
            "Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": sign_form(token, public, body),
        }) as response:
            return response.status


@asynccontextmanager
async def start_registry(port: int, tmp_path: Path) -> AsyncIterator[web.AppRunner]:
    """registry-sim on a given port (the one the gateway was pointed at while it was closed)."""
    runner = web.AppRunner(build_sim_app(db_path=tmp_path / "registry.db", token=REGISTRY_TOKEN), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield runner
    finally:
        await runner.cleanup()


@asynccontextmanager
async def running_stack(tmp_path: Path, *, public_url: str | None = None, twilio: Mapping[str, Any] | None = None,
                        others: Mapping[str, Mapping[str, Any]] | None = None) -> AsyncIterator[Stack]:
    """Gateway (role all, SQLite) with Twilio enabled; the registry port stays closed until a test opens it."""
    sandbox = TwilioSandbox(account_sid=ACCOUNT, auth_token=TWILIO_TOKEN)
    twilio_server = TestServer(sandbox.app(), host="127.0.0.1")
    await twilio_server.start_server()
    port, registry_port = free_port(), free_port()
    settings = Settings(
        server={"host": "127.0.0.1", "port": port, "public_url": public_url},
        database={"url": f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}", "spool_dir": str(tmp_path / "spool")},
        registry={"url": f"http://127.0.0.1:{registry_port}", "token": REGISTRY_TOKEN, "timeout_seconds": 2},
        dispatch={"max_attempts": 1, "attempts_per_claim": 1, "poll_seconds": 0.1, "backoff_initial_seconds": 0.1,
                  "backoff_max_seconds": 0.2},
        admin={"reload_seconds": 0.2},
        channels={"twilio": {"enabled": True, "account_sid": ACCOUNT, "auth_token": TWILIO_TOKEN,
                             "api_base_url": str(twilio_server.make_url("")).rstrip("/"),
                             "from_number": "1708", **(twilio or {})},
                  **{name: dict(values) for name, values in (others or {}).items()}},
    )
    gateway = Gateway(settings, role="all")
    await gateway.start()
    tokens: dict[str, str] = {}
    for role in ROLES:
        checked: Role = role
        _info, tokens[role] = await create_token(gateway.db, role=checked, name=f"{role}-token", actor="test")
    revoked, tokens["revoked"] = await create_token(gateway.db, role="admin", name="gone", actor="test")
    await revoke_token(gateway.db, revoked.id, actor="test")
    try:
        yield Stack(gateway, f"http://127.0.0.1:{port}", sandbox, str(twilio_server.make_url("")).rstrip("/"),
                    registry_port, tokens)
    finally:
        await gateway.stop()
        await twilio_server.close()


def query(url: str) -> dict[str, str]:
    """The query parameters of a URL."""
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
