"""A loopback HTTP server that answers every request with one scripted response and records what it got."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from aiohttp import web


@dataclass
class Script:
    """The answer to give, and the requests seen so far."""

    status: int
    body: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    seen: list[tuple[str, str, dict[str, str], bytes]] = field(default_factory=list)


@asynccontextmanager
async def scripted_registry(script: Script) -> AsyncIterator[str]:
    """Serve `script` on 127.0.0.1 (port 0) and yield the base URL."""

    async def answer(request: web.Request) -> web.Response:
        script.seen.append((request.method, request.path_qs, dict(request.headers), await request.read()))
        return web.Response(
            status=script.status, text=script.body, headers=script.headers, content_type="application/json"
        )

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answer)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()
