"""A running gateway (in process) with the registry sandbox and local fake X, Graph and Bot API servers."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import io
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import sqlalchemy as sa
import structlog
from aiohttp import web

from config.settings import Settings
from gateway import logs
from gateway.records import Complaint
from gateway.registry.sim import build_sim_app
from gateway.runtime import Gateway
from gateway.storage.tables import complaint, raw_message, reply
from tests.fakes import fake_meta, fake_telegram, fake_x
from tests.support.ports import free_port

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
REGISTRY_TOKEN = "social-e2e-registry-token-7c1d"
X_SECRETS = {
    "bearer_token": "social-e2e-x-bearer-41f2a9",
    "consumer_key": "social-e2e-x-consumer-key",
    "consumer_secret": "social-e2e-x-consumer-secret-8b3e",
    "access_token": "1708-social-e2e-x-access-token",
    "access_token_secret": "social-e2e-x-access-secret-5d6f",
}
META_APP_SECRET = "social-e2e-meta-app-secret-0a9b"
META_VERIFY_TOKEN = "social-e2e-meta-verify-3c4d"
GRAPH_TOKEN = "social-e2e-graph-token-EAAG77"
TELEGRAM_TOKEN = "6000000077:AAE-social-e2e-bot-token-zyxwvu"
TELEGRAM_SECRET = "social-e2e-telegram-secret-2e1f"
PHONE_NUMBER_ID = "106540352242922"
X_ACCOUNT = "1708"

SECRETS = (REGISTRY_TOKEN, *X_SECRETS.values(), META_APP_SECRET, META_VERIFY_TOKEN, GRAPH_TOKEN, TELEGRAM_TOKEN,
           TELEGRAM_TOKEN.split(":", 1)[1], TELEGRAM_SECRET)
JsonObject = dict[str, Any]
# The library loggers gateway.logs.configure sets to WARNING.
QUIETED = ("twilio", "aiohttp.access", "tweepy", "urllib3", "mail.log", "sqlalchemy.engine")


def fixture(channel: str, name: str) -> JsonObject:
    """A payload the project wrote, from tests/fixtures/<channel>/."""
    data = json.loads((FIXTURES / channel / name).read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def jpeg(seed: str) -> bytes:
    """Bytes that look like a small JPEG, different per seed."""
    return b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + hashlib.sha256(seed.encode()).digest() * 64 + b"\xff\xd9"


def x_signature(body: bytes) -> str:
    """The x-twitter-webhooks-signature header for a body."""
    digest = hmac.new(X_SECRETS["consumer_secret"].encode(), body, hashlib.sha256).digest()
    return "sha256=" + base64.b64encode(digest).decode()


def meta_signature(body: bytes) -> str:
    """The X-Hub-Signature-256 header for a body."""
    return "sha256=" + hmac.new(META_APP_SECRET.encode(), body, hashlib.sha256).hexdigest()


async def serve(app: web.Application) -> tuple[web.AppRunner, str]:
    """Serve an application on a free loopback port; the runner and the base URL."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return runner, f"http://127.0.0.1:{port}"


@dataclass
class Social:
    """The stack a test talks to."""

    gateway: Gateway
    gateway_url: str
    registry_url: str
    x: fake_x.FakeXState
    graph: fake_meta.FakeGraphState
    telegram: fake_telegram.FakeTelegramState
    media_dir: Path
    log: io.StringIO

    async def post(self, path: str, body: bytes, headers: Mapping[str, str]) -> int:
        """POST to the gateway; the HTTP status."""
        async with aiohttp.ClientSession() as http, http.post(
            self.gateway_url + path, data=body, headers={"Content-Type": "application/json", **headers}
        ) as response:
            return response.status

    async def complaints(self) -> list[JsonObject]:
        """Everything the registry sandbox holds."""
        items: list[JsonObject] = []
        page: int | None = 1
        async with aiohttp.ClientSession() as http:
            while page:
                async with http.get(f"{self.registry_url}/complaints", params={"page": str(page)},
                                    headers={"Authorization": f"Bearer {REGISTRY_TOKEN}"}) as response:
                    data = await response.json()
                items += data["items"]
                page = data["next_page"]
        return items

    async def raw_count(self) -> int:
        """Rows in the gateway's raw archive."""
        async with self.gateway.db.connect() as connection:
            return int((await connection.execute(sa.select(sa.func.count()).select_from(raw_message))).scalar_one())

    async def records(self) -> list[Complaint]:
        """The gateway's own complaint records."""
        async with self.gateway.db.connect() as connection:
            rows = (await connection.execute(sa.select(complaint.c.record))).all()
        return [Complaint.model_validate_json(row.record) for row in rows]

    async def replies(self) -> list[JsonObject]:
        """The reply outbox, one dict per row."""
        async with self.gateway.db.connect() as connection:
            rows = (await connection.execute(sa.select(reply))).mappings().all()
        return [dict(row) for row in rows]

    def log_output(self) -> str:
        """What the gateway logged so far."""
        return self.log.getvalue()


async def wait_until(predicate: Callable[[], Awaitable[bool]], *, what: str, timeout: float = 20) -> None:
    """Poll an async predicate until it holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def settle(seconds: float = 0.6) -> None:
    """Give the dispatcher and the reply sender a few more cycles (to see that nothing else arrives)."""
    await asyncio.sleep(seconds)


def settings_for(
    tmp_path: Path, *, registry_url: str, x_url: str, graph_url: str, telegram_url: str,
    allow_private: bool, telegram_mode: str, x_poll: bool,
) -> Settings:
    """Gateway settings with the three social channels pointed at the fakes."""
    return Settings(
        server={"port": free_port()},
        database={"url": f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}", "spool_dir": str(tmp_path / "spool")},
        registry={"url": registry_url, "token": REGISTRY_TOKEN},
        dispatch={"poll_seconds": 0.1, "backoff_initial_seconds": 0.1},
        media={"directory": str(tmp_path / "media"), "max_bytes": 1_000_000, "timeout_seconds": 3,
               "allow_private_addresses": allow_private},
        channels={
            "x": {"enabled": True, "api_base_url": x_url, **X_SECRETS, "account_id": X_ACCOUNT,
                  "account_handle": "LAPOR1708", "poll": x_poll, "poll_dms": False,
                  "poll_interval_seconds": 0.2},
            "meta": {"enabled": True, "app_secret": META_APP_SECRET, "verify_token": META_VERIFY_TOKEN,
                     "access_token": GRAPH_TOKEN, "graph_api_base_url": graph_url,
                     "whatsapp_phone_number_id": PHONE_NUMBER_ID},
            "telegram": {"enabled": True, "bot_token": TELEGRAM_TOKEN, "webhook_secret_token": TELEGRAM_SECRET,
                         "mode": telegram_mode, "api_base_url": telegram_url, "poll_timeout_seconds": 0,
                         "poll_idle_seconds": 0.1},
        },
    )


@asynccontextmanager
async def social_stack(
    tmp_path: Path, *, allow_private: bool = True, telegram_mode: str = "webhook", x_poll: bool = False,
    x_state: fake_x.FakeXState | None = None, telegram_state: fake_telegram.FakeTelegramState | None = None,
) -> AsyncIterator[Social]:
    """Start the fakes, the registry sandbox and a gateway logging (JSON, debug) into a buffer."""
    x = x_state or fake_x.FakeXState()
    x.bearer_token, x.consumer_key, x.consumer_secret = (
        X_SECRETS["bearer_token"], X_SECRETS["consumer_key"], X_SECRETS["consumer_secret"])
    x.access_token, x.access_token_secret = X_SECRETS["access_token"], X_SECRETS["access_token_secret"]
    graph = fake_meta.FakeGraphState(token=GRAPH_TOKEN)
    telegram = telegram_state or fake_telegram.FakeTelegramState()
    telegram.token = TELEGRAM_TOKEN
    runners: list[web.AppRunner] = []
    stream = io.StringIO()
    # logs.configure quiets some library loggers and sets the root level; other tests expect the defaults back.
    levels = {name: logging.getLogger(name).level for name in (*QUIETED, "")}
    logs.configure(level="debug", stream=stream)
    gateway: Gateway | None = None
    try:
        registry_runner, registry_url = await serve(build_sim_app(db_path=tmp_path / "registry.db",
                                                                  token=REGISTRY_TOKEN))
        x_runner, x_url = await serve(fake_x.build_app(x))
        graph_runner, graph_url = await serve(fake_meta.build_app(graph))
        telegram_runner, telegram_url = await serve(fake_telegram.build_app(telegram))
        runners += [registry_runner, x_runner, graph_runner, telegram_runner]
        settings = settings_for(tmp_path, registry_url=registry_url, x_url=x_url, graph_url=graph_url,
                                telegram_url=telegram_url, allow_private=allow_private,
                                telegram_mode=telegram_mode, x_poll=x_poll)
        gateway = Gateway(settings)
        await gateway.start()
        yield Social(gateway, f"http://127.0.0.1:{settings.server.port}", registry_url, x, graph, telegram,
                     tmp_path / "media", stream)
    finally:
        if gateway is not None:
            await gateway.stop()
        for runner in reversed(runners):
            await runner.cleanup()
        structlog.reset_defaults()
        logging.getLogger().handlers[:] = []
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


def assert_no_secrets(stack: Social) -> None:
    """No configured secret, and no Telegram file URL, in the gateway's log output."""
    output = stack.log_output()
    assert output, "the gateway logged nothing at all"
    leaked = [secret for secret in SECRETS if secret in output]
    assert not leaked, f"secrets in the log output: {leaked}"
    assert "/file/bot" not in output
