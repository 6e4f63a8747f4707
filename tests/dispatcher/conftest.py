"""Fixtures for the dispatcher and reply outbox: the registry sandbox and a client pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest

from gateway.registry.lapor import LaporClient
from tests.dispatcher.sim_harness import TOKEN, SimHandle, StartSim, running_sim
from tests.storage.migrated_copies import database_url, postgres_template, sqlite_template

__all__ = ["database_url", "postgres_template", "sqlite_template"]


@pytest.fixture
async def start_sim(tmp_path: Path) -> AsyncIterator[StartSim]:
    """Start registry-sandboxes with the given faults; all are stopped after the test."""
    async with AsyncExitStack() as stack:
        count = 0

        async def start(**faults: Any) -> SimHandle:
            nonlocal count
            count += 1
            return await stack.enter_async_context(running_sim(tmp_path / f"registry-sim-{count}.db", **faults))

        yield start


@pytest.fixture
async def sim(start_sim: StartSim) -> SimHandle:
    """A sandbox without faults."""
    return await start_sim()


@pytest.fixture
async def lapor(sim: SimHandle) -> AsyncIterator[LaporClient]:
    """A LaporClient with the right token, pointed at the sandbox."""
    client = LaporClient(base_url=sim.url, token=TOKEN, timeout_seconds=5.0)
    yield client
    await client.aclose()
