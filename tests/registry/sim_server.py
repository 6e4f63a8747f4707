"""The registry sandbox started in-process on a free loopback port."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from aiohttp import web

from gateway.registry.sim import build_sim_app

TOKEN = "sim-secret-token-3f9a"


@asynccontextmanager
async def running_sim(
    db_path: Path,
    *,
    token: str = TOKEN,
    fail_rate: float = 0.0,
    latency_ms: int = 0,
    throttle_every: int = 0,
    fail_after_commit_rate: float = 0.0,
    seed: int | None = 7,
) -> AsyncIterator[str]:
    """Serve registry-sim on 127.0.0.1 (port 0) and yield its base URL."""
    app = build_sim_app(
        db_path=db_path,
        token=token,
        fail_rate=fail_rate,
        latency_ms=latency_ms,
        throttle_every=throttle_every,
        fail_after_commit_rate=fail_after_commit_rate,
        seed=seed,
    )
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()
