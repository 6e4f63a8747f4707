"""How channel changes reach a running gateway without a restart.

Every change made through the CLI, the API or the console bumps the `config_version` row. Each gateway
polls it every few seconds; when it moved, the gateway lays the database's channel values over its
file and environment settings again and rebuilds only the channels whose values changed: the old
object's background work is cancelled, the new one is started, and its webhook routes take over.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import structlog
from aiohttp import web

from channels.base import Channel
from channels.registry import CHANNELS
from config.settings import Settings
from gateway.admin.channel_store import ChannelStore, overlay
from gateway.errors import ConfigurationError

if TYPE_CHECKING:
    from gateway.runtime import Gateway

log = structlog.get_logger(__name__)


def is_enabled(settings: Settings, name: str) -> bool:
    """Whether a channel's section enables it (environment values arrive as text)."""
    value: Any = settings.channel(name).get("enabled", False)
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


class ChannelRouter:
    """Serves /c/<name>/... from the routes of the current channel objects, swapped on every rebuild.

    aiohttp freezes an application's router when it starts, so each channel gets a small router of its
    own that is replaced whole; one catch-all route per gateway forwards to it.
    """

    def __init__(self) -> None:
        self._routers: dict[str, web.UrlDispatcher] = {}
        # (method, path) of the routes without parameters: the webhook path skips a second resolve.
        self._static: dict[tuple[str, str], Callable[[web.Request], Awaitable[web.StreamResponse]]] = {}

    def install(self, name: str, channel: Channel | None) -> None:
        """Route /c/<name>/ to `channel` from now on (None: the channel is gone, 404)."""
        prefix = f"/c/{name}/"
        static = {key: handler for key, handler in self._static.items() if not key[1].startswith(prefix)}
        if channel is None:
            self._routers.pop(name, None)
            self._static = static
            return
        router = web.UrlDispatcher()
        for route in channel.routes():
            path = f"/c/{name}{route.path}"
            router.add_route(route.method, path, route.handler)
            if "{" not in path:
                static[(route.method, path)] = route.handler
        self._routers[name] = router
        self._static = static

    def mount(self, app: web.Application) -> None:
        """Add the channel routes to the gateway's application.

        The routes without parameters known at start-up are added as plain routes too (aiohttp finds those by
        one dict lookup instead of matching the catch-all's pattern); they lead to `handle` all the same, so a
        channel rebuilt, added or removed later is served as it is then.
        """
        for method, path in self._static:
            app.router.add_route(method, path, self.handle)
        app.router.add_route("*", "/c/{channel}/{tail:.*}", self.handle)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Find the current channel's handler for the request, as aiohttp's own router would."""
        handler = self._static.get((request.method, request.path))
        if handler is not None:
            return await handler(request)
        # /c/<name>/...: through the catch-all route or one of the plain routes added at start-up.
        router = self._routers.get(request.path.removeprefix("/c/").partition("/")[0])
        if router is None:
            raise web.HTTPNotFound()
        match = await router.resolve(request)
        if match.http_exception is not None:
            raise match.http_exception
        # The channel's handler reads its own path parameters (e.g. jasmin's {token}) from match_info.
        request.match_info.update(match)
        return await match.handler(request)


class LiveReload:
    """Polls the config version and rebuilds changed channels in a running gateway."""

    def __init__(self, gateway: Gateway, *, base: Settings, store: ChannelStore, seconds: float) -> None:
        self.gateway = gateway
        self.base = base
        self.store = store
        self.seconds = seconds
        self.wake = asyncio.Event()
        self.version = -1
        self.reloads = 0

    async def prime(self) -> Settings:
        """The settings to start with (file, environment, database) and the version they stand for."""
        self.version = await self.store.version()
        return overlay(self.base, await self.store.load())

    async def run(self) -> None:
        """Check every few seconds (or at once when woken) until cancelled."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), self.seconds)
            self.wake.clear()
            try:
                await self.check()
            except Exception as exc:  # a database blip must not end live reloading
                log.warning("live.check_failed", error=type(exc).__name__, reason=getattr(exc, "reason", ""))

    async def check(self) -> bool:
        """Apply the database's values when the version moved; True when something was rebuilt."""
        version = await self.store.version()
        if version == self.version:
            return False
        settings = overlay(self.base, await self.store.load())
        changed = {name for name in CHANNELS
                   if settings.channel(name) != self.gateway.settings.channel(name)}
        self.gateway.settings = settings
        for name in sorted(changed):
            await self.rebuild(name)
        self.version = version
        self.reloads += 1
        log.info("live.reloaded", version=version, channels=sorted(changed))
        return bool(changed)

    async def rebuild(self, name: str) -> None:
        """Replace one channel object: stop the old one's work, build and start the new one."""
        gateway = self.gateway
        replacement: Channel | None = None
        if is_enabled(gateway.settings, name):
            try:
                replacement = gateway.make_channel(name)
            except ConfigurationError as exc:
                log.error("live.channel_invalid", channel=name, reason=exc.reason, detail=exc.detail)
                return  # keep serving with the previous object
        task_name = f"channel:{name}"
        for task in [task for task in gateway._tasks if task.get_name() == task_name]:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
            gateway._tasks.remove(task)
        if replacement is None:
            gateway.channels.pop(name, None)
        else:
            gateway.channels[name] = replacement
        if gateway.serves_ingest:
            gateway.router.install(name, replacement)
            if replacement is not None:
                gateway._spawn(replacement.run(), task_name)
        log.info("live.channel_rebuilt", channel=name, enabled=replacement is not None)
