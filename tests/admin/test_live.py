"""Changes made by another process (the CLI) reach a running gateway within seconds, channel by channel."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest

from config.settings import Settings
from gateway.admin.channel_store import ChannelStore
from gateway.storage.db import Database
from tests.admin.stack import Stack, running_stack

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "jasmin"
OLD = "Jasmin-Live-Secret-Old-1234"
NEW = "Jasmin-Live-Secret-New-5678"


@pytest.fixture
async def stack(tmp_path: Path, vault_key: str) -> AsyncIterator[Stack]:
    async with running_stack(tmp_path, others={"jasmin": {"enabled": True, "secret": OLD}}) as running:
        yield running


async def eventually(check: Callable[[], Awaitable[bool]], what: str, timeout: float = 10) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


async def throw(http: aiohttp.ClientSession, stack: Stack, secret: str) -> int:
    """A Jasmin MO with the secret in the path ({token} is resolved by the channel's own router)."""
    body = (FIXTURES / "mo_gsm.form").read_bytes()
    async with http.post(stack.path(f"/c/jasmin/receive/{secret}"), data=body,
                         headers={"Content-Type": "application/x-www-form-urlencoded"}) as response:
        return response.status


async def test_changes_from_another_process_are_polled(stack: Stack) -> None:
    other = Database(stack.gateway.settings.database.url)  # what `lapor-gateway channels ...` would open
    store = ChannelStore(other)
    twilio_before = stack.gateway.channels["twilio"]
    try:
        async with aiohttp.ClientSession() as http:
            assert await throw(http, stack, OLD) == 200
            assert await throw(http, stack, NEW) == 403

            await store.set_secret(Settings(), "jasmin", "secret", NEW, actor="cli:test", check=None)

            async def new_secret() -> bool:
                return await throw(http, stack, NEW) == 200

            await eventually(new_secret, "the new secret")
            assert await throw(http, stack, OLD) == 403

            await store.set_enabled(Settings(), "jasmin", False, actor="cli:test")

            async def gone() -> bool:
                return await throw(http, stack, NEW) == 404

            await eventually(gone, "jasmin disabled")
            assert "jasmin" not in stack.gateway.channels
            assert not [task for task in stack.gateway._tasks if task.get_name() == "channel:jasmin"]
    finally:
        await other.dispose()
    # Only the channel that changed was rebuilt.
    assert stack.gateway.channels["twilio"] is twilio_before
    assert stack.gateway.live is not None and stack.gateway.live.reloads >= 2


async def test_a_version_without_changes_rebuilds_nothing(stack: Stack) -> None:
    live = stack.gateway.live
    assert live is not None
    before = dict(stack.gateway.channels)
    await ChannelStore(stack.gateway.db).set_value(Settings(), "twilio", "from_number", "1708", actor="test")
    assert await live.check() is False  # from_number was 1708 already: same values, nothing to rebuild
    assert stack.gateway.channels == before
