"""The running gateway: assembles storage, channels, pipeline, dispatcher and the HTTP edge by role."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import os
import socket
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, Literal

import aiohttp
import structlog
from aiohttp import web

from channels.base import Channel, ChannelContext
from channels.registry import CHANNELS
from config.settings import Settings, channel_config
from gateway.admin.channel_store import ChannelStore
from gateway.admin.live import ChannelRouter, LiveReload
from gateway.admin.mount import mount_admin
from gateway.app import edge_errors, metrics_handler
from gateway.dispatcher import Dispatcher
from gateway.ingest import DurableSink, IngestSink
from gateway.intel.settings import IntelSettings
from gateway.lifecycle.sync import StatusSync
from gateway.logs import REDACTOR
from gateway.media import MediaWorker
from gateway.pipeline import Enricher, Pipeline
from gateway.pipeline_process import PipelineProcess
from gateway.registry.base import RegistryClient
from gateway.registry.factory import make_registry
from gateway.replies import ReplySender
from gateway.stats import deadline_states, queue_depths
from gateway.storage.archive import Archive
from gateway.storage.cursors import DatabaseCursors, DatabaseDeliveries
from gateway.storage.db import Database
from gateway.storage.lifecycle_store import LifecycleStore
from gateway.storage.migrate import upgrade
from gateway.storage.spool import Spool
from normalizers.registry import NORMALIZERS
from normalizers.text import load_language_model

log = structlog.get_logger(__name__)

Role = Literal["all", "ingest", "dispatch"]
# The shipped config/ folder, where a relative `intel.routing_rules` is found when the working directory lacks it.
PROJECT_DIR = Path(__file__).resolve().parents[1]


def routing_rules_path(intel: IntelSettings) -> Path:
    """The rules file: relative to the working directory, else to the project (the shipped example)."""
    rules = Path(intel.routing_rules)
    if not rules.is_absolute() and not rules.exists() and (PROJECT_DIR / rules).exists():
        return PROJECT_DIR / rules
    return rules


def intel_enricher(intel: IntelSettings) -> Enricher | None:
    """Classification, region, routing and spam for new complaints; None when `[intel] enabled = false`.

    The context (lexicon, gazetteer, rules, router model) is built once per process and shared.
    """
    if not intel.enabled:
        return None
    # Imported here: the router brings scikit-learn (seconds to import), which only normalizing processes need.
    from gateway.intel.context import shared_context
    from gateway.intel.enrich import enrich

    anchored = intel.model_copy(update={"routing_rules": str(routing_rules_path(intel))})
    return functools.partial(enrich, context=shared_context(anchored))


def enabled_channels(settings: Settings) -> list[str]:
    """Names of the channels whose section says enabled = true."""
    return [name for name in CHANNELS if _truthy(settings.channel(name).get("enabled", False))]


def _truthy(value: object) -> bool:
    # From the environment a value is text: "false" must not enable a channel.
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def build_pipeline(settings: Settings, db: Database) -> Pipeline:
    """The pipeline as an ingest gateway runs it, inline or in its child process (gateway.pipeline_process)."""
    return Pipeline(
        db,
        NORMALIZERS,
        enrich=intel_enricher(settings.intel),
        lease_seconds=settings.dispatch.lease_seconds,
        batch_size=20 if db.dialect == "sqlite" else 50,
        concat_window_seconds=settings.ingest.concat_window_seconds,
        lifecycle=settings.lifecycle if settings.lifecycle.enabled else None,
    )


class Gateway:
    """One gateway process. `ingest` serves channels and normalizes; `dispatch` files and replies."""

    def __init__(self, settings: Settings, *, role: Role = "all") -> None:
        self.settings = settings
        self.role = role
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}"
        self.db = Database(settings.database.url, pool_size=settings.database.pool_size)
        # Normalization runs in a child process (or inline): either way, on the raws this process stores.
        self.pipeline: Pipeline | None = None
        self.pipeline_process: PipelineProcess | None = None
        self._replayer: Pipeline | None = None
        if self.serves_ingest and settings.ingest.pipeline == "process":
            process = self.pipeline_process = PipelineProcess(settings)

            def wake_pipeline() -> None:
                # Called after each commit, while `busy` is still true: only a queue behind it is a burst.
                process.wake(pressure=self.archive.waiting)
        else:
            self.pipeline = build_pipeline(settings, self.db)
            wake_pipeline = self.pipeline.wake.set
        self.archive = Archive(self.db, max_batch=settings.ingest.group_commit_max, on_stored=wake_pipeline)
        self.spool = Spool(Path(settings.database.spool_dir))
        self.durable = DurableSink(self.archive, self.spool)
        self.durable.on_drained = wake_pipeline
        if self.pipeline is not None:
            self.pipeline.yield_to = lambda: self.archive.busy
            self.pipeline.acknowledging = lambda: self.archive.recently_active(0.25)
        self.channels: dict[str, Channel] = {}
        self.registry: RegistryClient | None = None
        self.dispatcher: Dispatcher | None = None
        self.replies: ReplySender | None = None
        self.media: MediaWorker | None = None
        self._http: aiohttp.ClientSession | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.started_at = time.monotonic()
        self.router = ChannelRouter()
        self.live: LiveReload | None = None
        self._sinks: tuple[IngestSink, IngestSink] | None = None

    @property
    def serves_ingest(self) -> bool:
        """True for roles that accept messages."""
        return self.role in ("all", "ingest")

    @property
    def serves_dispatch(self) -> bool:
        """True for roles that file complaints and send replies."""
        return self.role in ("all", "dispatch")

    def replay_pipeline(self) -> Pipeline:
        """The pipeline admin replays run through: the inline one, or one built on first use."""
        if self.pipeline is not None:
            return self.pipeline
        if self._replayer is None:
            self._replayer = build_pipeline(self.settings, self.db)
        return self._replayer

    def _build_channels(self) -> None:
        for name in enabled_channels(self.settings):
            self.channels[name] = self.make_channel(name)

    def make_channel(self, name: str) -> Channel:
        """A channel object from the current settings (at start, and when live reload rebuilds it)."""
        assert self._http is not None
        if self._sinks is None:
            rate = self.settings.ingest.sender_rate_per_minute
            self._sinks = (IngestSink(self.durable, sender_rate_per_minute=rate),
                           IngestSink(self.archive, sender_rate_per_minute=rate))
        spooling, direct = self._sinks
        cls = CHANNELS[name]
        context = ChannelContext(
            sink=spooling if cls.spools else direct,
            public_url=self.settings.server.base_url,
            cursors=DatabaseCursors(self.db),
            deliveries=DatabaseDeliveries(self.db),
            max_body_bytes=self.settings.server.max_body_bytes,
            http=self._http,
        )
        channel = cls(config=channel_config(self.settings, name, cls.config_model), context=context)
        REDACTOR.add_secrets(channel.secrets())
        return channel

    def build_app(self) -> web.Application:
        """The aiohttp application: health, metrics and every enabled channel's routes."""
        app = web.Application(client_max_size=self.settings.server.max_body_bytes, middlewares=[edge_errors])
        app.router.add_get("/healthz", self.health)
        app.router.add_get("/metrics", self.metrics)
        if self.serves_ingest:
            for name, channel in self.channels.items():
                self.router.install(name, channel)
            self.router.mount(app)  # channel routes follow live reloads (gateway.admin.live)
        mount_admin(app, self)
        return app

    async def start(self, *, migrate: bool = True) -> None:
        """Migrate, connect, start the workers and the HTTP server."""
        if self.serves_ingest:
            self.spool.open()  # refuses to start when the spool folder is not writable
        if migrate:
            await asyncio.to_thread(upgrade, self.settings.database.url)
        if self.pipeline is not None and self.serves_ingest:
            # The language model takes ~0.5 s to load; not on the first webhook's event loop turn.
            await asyncio.to_thread(load_language_model)
        REDACTOR.add_secrets([self.settings.registry.token.get_secret_value()])
        self._http = aiohttp.ClientSession()
        # Channel values stored by admins (gateway.admin) overlay the file and the environment.
        self.live = LiveReload(self, base=self.settings, store=ChannelStore(self.db),
                               seconds=self.settings.admin.reload_seconds)
        self.settings = await self.live.prime()
        self._build_channels()
        if self.serves_ingest:
            if self.pipeline_process is not None:
                self._spawn(self.pipeline_process.run(), "pipeline-process")
            elif self.pipeline is not None:
                self._spawn(self.pipeline.run(), "pipeline")
            self._spawn(self.durable.drain_forever(), "spool-drainer")
        if self.serves_dispatch:
            self.registry = make_registry(self.settings.registry, session=self._http)
            lifecycle = self.settings.lifecycle if self.settings.lifecycle.enabled else None
            self.dispatcher = Dispatcher(
                self.db, self.registry, self.settings.dispatch, worker_id=self.worker_id, lifecycle=lifecycle
            )
            self.replies = ReplySender(self.db, self.channels, self.settings.dispatch)
            self.dispatcher.on_reply_enqueued = self.replies.wake.set
            # Attachments are downloaded in the background, just before filing, never on the webhook path.
            self.media = MediaWorker(self.db, self.channels, self.settings.media)
            self.dispatcher.prepare = self.media.prepare
            self._spawn(self.dispatcher.run(), "dispatcher")
            self._spawn(self.replies.run(), "replies")
            # A webhook target keeps no status to poll (WebhookClient.supports_status).
            if lifecycle is not None and getattr(self.registry, "supports_status", True):
                sync = StatusSync(
                    repository=LifecycleStore(self.db, settings=lifecycle), registry=self.registry, settings=lifecycle
                )
                self._spawn(sync.run(self._stopping), "status-sync")
        if self.serves_ingest:
            for name, channel in self.channels.items():
                self._spawn(channel.run(), f"channel:{name}")
        self._spawn(self.live.run(), "live-reload")
        self._runner = web.AppRunner(self.build_app(), access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.settings.server.host, self.settings.server.port, reuse_address=True)
        await site.start()
        log.info("gateway.started", role=self.role, host=self.settings.server.host, port=self.settings.server.port,
                 channels=sorted(self.channels), database=self.db.dialect)

    def _spawn(self, work: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(work, name=name)
        task.add_done_callback(self._task_ended)
        self._tasks.append(task)

    @staticmethod
    def _task_ended(task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("gateway.task_failed", task=task.get_name(), error=repr(task.exception()))

    async def stop(self) -> None:
        """Stop accepting, finish queued writes, stop workers, close connections."""
        if self._runner is not None:
            await self._runner.cleanup()
        await self.archive.close()
        if self.pipeline_process is not None:
            await self.pipeline_process.stop()
        self._stopping.set()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self.registry is not None:
            await self.registry.aclose()
        if self.media is not None:
            await self.media.close()
        if self._http is not None:
            await self._http.close()
        await self.db.dispose()
        log.info("gateway.stopped")

    def dispatcher_alive(self) -> bool | None:
        """None when this role does not dispatch; otherwise whether its loop ran recently."""
        if self.dispatcher is None:
            return None
        horizon = self.settings.dispatch.poll_seconds * 3 + self.settings.dispatch.lease_seconds
        return time.monotonic() - self.dispatcher.last_cycle < horizon

    async def health(self, _request: web.Request) -> web.Response:
        """Database reachable, dispatcher alive, backlog."""
        database = await self.db.ping()
        body: dict[str, Any] = {"role": self.role, "database": database, "dispatcher_alive": self.dispatcher_alive()}
        if self.pipeline_process is not None:
            body["pipeline_alive"] = self.pipeline_process.alive
        if database:
            depths = await queue_depths(self.db)
            body["backlog"] = {
                "raw_pending": depths["raw"].get("received", 0) + depths["raw"].get("processing", 0),
                "dispatch_pending": depths["dispatch"].get("pending", 0) + depths["dispatch"].get("in_flight", 0),
                "dispatch_dead": depths["dispatch"].get("dead", 0),
                "reply_pending": depths["reply"].get("pending", 0) + depths["reply"].get("sending", 0),
            }
        body["spool"] = self.spool.size
        if body["dispatcher_alive"] is False:
            body["status"] = "degraded"
        elif database:
            body["status"] = "ok"
        elif self.serves_ingest:
            # Still accepting: webhooks go to the spool. A 503 here would make a load balancer take every
            # ingest process out of rotation exactly when the spool is what keeps messages safe.
            body["status"] = "spooling"
        else:
            body["status"] = "degraded"
        return web.json_response(body, status=503 if body["status"] == "degraded" else 200)

    async def metrics(self, request: web.Request) -> web.Response:
        """Prometheus metrics, with queue depths refreshed."""
        with contextlib.suppress(Exception):
            await queue_depths(self.db)
        with contextlib.suppress(Exception):
            await deadline_states(self.db, due_soon=self.settings.lifecycle.due_soon)
        return await metrics_handler(request)


async def serve_forever(settings: Settings, *, role: Role = "all") -> None:
    """Run a gateway until SIGINT/SIGTERM."""
    import signal

    gateway = Gateway(settings, role=role)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await gateway.start()
    # What start-up loaded lives until exit; frozen, the garbage collector stops walking it on every full
    # collection (pauses of the event loop, and of every acknowledgement waiting on it).
    gc.freeze()
    try:
        await stop.wait()
    finally:
        await gateway.stop()
