"""The real registry sandbox on a loopback port, with a log of every request it answered."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.typedefs import Handler

from gateway.registry.sim import FAULTS, Faults, build_sim_app
from tests.support.ports import free_port

TOKEN = "dispatch-test-token-7c1e"


@dataclass(frozen=True, slots=True)
class Seen:
    """One request the sandbox answered: when (monotonic), what, and with which status."""

    at: float
    method: str
    path: str
    status: int
    idempotency_key: str | None


@dataclass
class SimHandle:
    """A running sandbox: its URL, its fault knobs and what it saw."""

    url: str
    app: web.Application
    seen: list[Seen] = field(default_factory=list)

    @property
    def faults(self) -> Faults:
        """The sandbox's fault settings; tests change them between phases."""
        return self.app[FAULTS]

    def posts(self, path_suffix: str = "/complaints") -> list[Seen]:
        """POST requests whose path ends with `path_suffix`."""
        return [seen for seen in self.seen if seen.method == "POST" and seen.path.endswith(path_suffix)]

    def calm(self) -> None:
        """No more injected faults (so the test's own reads are not refused)."""
        faults = self.faults
        faults.fail_rate = faults.fail_after_commit_rate = 0.0
        faults.throttle_every = faults.latency_ms = 0

    async def items(self) -> list[dict[str, Any]]:
        """Every complaint the registry holds, through GET /complaints?page=N."""
        self.calm()
        found: list[dict[str, Any]] = []
        page: int | None = 1
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"}) as http:
            while page is not None:
                async with http.get(f"{self.url}/complaints", params={"page": page, "per_page": 100}) as response:
                    assert response.status == 200, await response.text()
                    data = await response.json()
                found.extend(data["items"])
                page = data["next_page"]
        return found

    async def complaint(self, tracking_id: str) -> dict[str, Any]:
        """GET /complaints/{tracking_id}."""
        self.calm()
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"}) as http:
            async with http.get(f"{self.url}/complaints/{tracking_id}") as response:
                assert response.status == 200, await response.text()
                data: dict[str, Any] = await response.json()
                return data


def _recorder(handle: SimHandle) -> Any:
    @web.middleware
    async def record(request: web.Request, handler: Handler) -> web.StreamResponse:
        at = time.monotonic()
        key = request.headers.get("Idempotency-Key")
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            handle.seen.append(Seen(at, request.method, request.path, exc.status, key))
            raise
        handle.seen.append(Seen(at, request.method, request.path, response.status, key))
        return response

    return record


StartSim = Callable[..., Awaitable[SimHandle]]


@asynccontextmanager
async def running_sim(db_path: Path, *, front: Sequence[Any] = (), **faults: Any) -> AsyncIterator[SimHandle]:
    """build_sim_app served by AppRunner + TCPSite on a free 127.0.0.1 port; `front` middlewares answer first."""
    app = build_sim_app(db_path=db_path, token=TOKEN, seed=7, **faults)
    port = free_port()
    handle = SimHandle(url=f"http://127.0.0.1:{port}", app=app)
    # Outermost, so it also sees the throttled and failed answers the fault middleware gives.
    for position, middleware in enumerate(front, start=0):
        app.middlewares.insert(position, middleware)
    app.middlewares.insert(0, _recorder(handle))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", port).start()
        yield handle
    finally:
        await runner.cleanup()
