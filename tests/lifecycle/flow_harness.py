"""The real parts of one gateway, in-process, for lifecycle flows: pipeline, dispatcher, status sync, replies.

Servers are real aiohttp applications on loopback ports: registry-sim (or a local Open311 server or
webhook receiver) and the Twilio sandbox the Twilio channel sends replies to.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import aiohttp
import sqlalchemy as sa
from aiohttp import web

from channels.base import ChannelContext
from channels.twilio import TwilioChannel, TwilioConfig
from config.settings import DispatchSettings
from gateway.dispatcher import Dispatcher
from gateway.lifecycle.settings import LifecycleSettings
from gateway.lifecycle.sync import StatusSync
from gateway.messages import RawMessage, utcnow
from gateway.pipeline import Pipeline
from gateway.records import Complaint
from gateway.registry.base import RegistryClient
from gateway.replies import ReplySender
from gateway.sandbox.twilio import TwilioSandbox
from gateway.storage.archive import Archive
from gateway.storage.cursors import DatabaseCursors, DatabaseDeliveries
from gateway.storage.db import Database
from gateway.storage.lifecycle_store import LifecycleStore
from gateway.storage.tables import complaint, complaint_lifecycle, dispatch_job, reply
from normalizers.registry import NORMALIZERS
from tests.support.ports import free_port

SIM_TOKEN = "lifecycle-sim-token-3b9d"
TWILIO_SID = "AC" + "5" * 32
TWILIO_TOKEN = "lifecycle-twilio-token-8e1f"

FAST = DispatchSettings(
    max_attempts=4,
    attempts_per_claim=1,
    backoff_initial_seconds=0.01,
    backoff_max_seconds=0.05,
    lease_seconds=5.0,
    batch_size=50,
    concurrency=4,
    poll_seconds=0.05,
)


@asynccontextmanager
async def serving(app: web.Application) -> AsyncIterator[str]:
    """Serve an aiohttp application on a free loopback port; yields its base URL."""
    port = free_port()
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", port).start()
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@dataclass
class Clock:
    """A settable clock for the status sync (the registry and the database keep real time)."""

    now: datetime = field(default_factory=utcnow)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        """Move the clock forward."""
        self.now += delta


@dataclass
class Flow:
    """One gateway's workers on a database, with the servers they talk to."""

    db: Database
    registry: RegistryClient
    sandbox: TwilioSandbox
    settings: LifecycleSettings
    clock: Clock
    pipeline: Pipeline
    dispatcher: Dispatcher
    sync: StatusSync
    replies: ReplySender
    store: LifecycleStore

    async def receive(self, *raws: RawMessage) -> None:
        """Archive raws and run the pipeline, the dispatcher and the reply sender until idle."""
        archive = Archive(self.db)
        try:
            for raw in raws:
                await archive.submit(raw)
        finally:
            await archive.close()
        while await self.pipeline.process_pending():
            pass
        await self.settle()

    async def settle(self) -> None:
        """Dispatch and send whatever waits."""
        while await self.dispatcher.dispatch_pending():
            pass
        while await self.replies.send_pending():
            pass

    async def poll(self) -> int:
        """One round of the status sync at the clock's time, then send the replies it queued."""
        report = await self.sync.run_once()
        while await self.replies.send_pending():
            pass
        return report.polled

    def texts(self) -> list[str]:
        """Bodies of the messages the Twilio sandbox was asked to send, in order."""
        return [str(message["body"]) for message in self.sandbox.messages]

    async def record(self, complaint_id: str) -> Complaint:
        """The stored canonical record."""
        async with self.db.connect() as connection:
            row = (await connection.execute(sa.select(complaint.c.record).where(complaint.c.id == complaint_id))).one()
        return Complaint.model_validate_json(row.record)

    async def row(self, complaint_id: str) -> Any:
        """The complaint's columns."""
        async with self.db.connect() as connection:
            return (await connection.execute(sa.select(complaint).where(complaint.c.id == complaint_id))).one()

    async def lifecycle(self, complaint_id: str) -> Any:
        """The complaint's lifecycle row."""
        async with self.db.connect() as connection:
            return (
                await connection.execute(sa.select(complaint_lifecycle).where(complaint_lifecycle.c.id == complaint_id))
            ).one()

    async def complaints(self) -> list[Any]:
        """Every complaint row, oldest first."""
        async with self.db.connect() as connection:
            return list((await connection.execute(sa.select(complaint).order_by(complaint.c.received_at))).all())

    async def jobs(self) -> list[Any]:
        """Every dispatch job."""
        async with self.db.connect() as connection:
            return list((await connection.execute(sa.select(dispatch_job).order_by(dispatch_job.c.created_at))).all())

    async def reply_rows(self) -> list[Any]:
        """Every reply in the outbox, oldest first."""
        async with self.db.connect() as connection:
            return list((await connection.execute(sa.select(reply).order_by(reply.c.created_at))).all())


@asynccontextmanager
async def twilio_sandbox() -> AsyncIterator[tuple[TwilioSandbox, str]]:
    """The Twilio stand-in on a loopback port."""
    sandbox = TwilioSandbox(account_sid=TWILIO_SID, auth_token=TWILIO_TOKEN)
    async with serving(sandbox.app()) as url:
        yield sandbox, url


@asynccontextmanager
async def flow(
    db: Database,
    registry: RegistryClient,
    *,
    settings: LifecycleSettings | None = None,
    dispatch: DispatchSettings = FAST,
) -> AsyncIterator[Flow]:
    """The gateway's workers wired as `serve` wires them, replies through the real Twilio channel."""
    lifecycle = settings or LifecycleSettings()
    clock = Clock()
    async with twilio_sandbox() as (sandbox, twilio_url), aiohttp.ClientSession() as http:
        config = TwilioConfig(enabled=True, account_sid=TWILIO_SID, auth_token=TWILIO_TOKEN, api_base_url=twilio_url,
                              timeout_seconds=5.0)
        context = ChannelContext(sink=Archive(db), public_url="https://gateway.example.go.id",
                                 cursors=DatabaseCursors(db), deliveries=DatabaseDeliveries(db), http=http)
        channel = TwilioChannel(config=config, context=context)
        store = LifecycleStore(db, settings=lifecycle)
        yield Flow(
            db=db,
            registry=registry,
            sandbox=sandbox,
            settings=lifecycle,
            clock=clock,
            pipeline=Pipeline(db, NORMALIZERS, lifecycle=lifecycle),
            dispatcher=Dispatcher(db, registry, dispatch, worker_id="lifecycle-test", lifecycle=lifecycle),
            sync=StatusSync(repository=store, registry=registry, settings=lifecycle, clock=clock),
            replies=ReplySender(db, {"twilio": channel}, dispatch),
            store=store,
        )
