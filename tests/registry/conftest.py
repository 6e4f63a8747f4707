"""Fixtures for registry tests: a running sandbox and a client pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from gateway.registry.lapor import LaporClient
from tests.registry.sim_server import TOKEN, running_sim


@pytest.fixture
def sim_db(tmp_path: Path) -> Path:
    """Where the sandbox keeps its SQLite file."""
    return tmp_path / "registry-sim.db"


@pytest.fixture
async def sim_url(sim_db: Path) -> AsyncIterator[str]:
    """A registry-sim without faults."""
    async with running_sim(sim_db) as url:
        yield url


@pytest.fixture
async def client(sim_url: str) -> AsyncIterator[LaporClient]:
    """A LaporClient with the right token, pointed at the sandbox."""
    lapor = LaporClient(base_url=sim_url, token=TOKEN, timeout_seconds=5.0)
    yield lapor
    await lapor.aclose()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """A plain HTTP session for talking to the sandbox directly."""
    async with aiohttp.ClientSession() as session:
        yield session
