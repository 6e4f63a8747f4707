"""The pipeline in a child process of an ingest gateway, so that normalizing never delays an acknowledgement.

Normalization, enrichment and the pipeline's database work cost milliseconds of CPU per message; an
acknowledgement costs a tenth of that. On one event loop (and one GIL) a backlog of normalization made every
webhook wait. The child runs at a lower CPU priority (`ingest.pipeline_nice`): under a burst the kernel gives
the CPU to acknowledgements first and the durable backlog is normalized afterwards.

The parent writes the settings the pipeline needs as one JSON line to the child's stdin, then a byte
whenever the archive stored something new (a wake-up, so no polling delay; at most one per 10 ms): a newline,
or `!` while acknowledgements queue behind the database. End of input, which is also what the child sees
when the parent is killed with SIGKILL, stops the child: no orphan keeps running.

Run by the parent as `python -m gateway.pipeline_process`; never started by hand.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import os
import signal
import sys
import time
from typing import Any

import structlog

from config.settings import DatabaseSettings, DispatchSettings, IngestSettings, LoggingSettings, Settings
from gateway import logs
from gateway.intel.settings import IntelSettings
from gateway.lifecycle.settings import LifecycleSettings

log = structlog.get_logger(__name__)

# The sections the pipeline reads; none of them holds a secret other than a password inside database.url.
SECTIONS: dict[str, type[Any]] = {
    "database": DatabaseSettings,
    "dispatch": DispatchSettings,
    "ingest": IngestSettings,
    "logging": LoggingSettings,
    "lifecycle": LifecycleSettings,
    "intel": IntelSettings,
}
RESTART_MAX_SECONDS = 30.0
WAKE, PRESSURE = b"\n", b"!"
# A wake-up this recent means webhooks are being acknowledged (see Pipeline.acknowledging); the child then
# rests between its one-message transactions. While acknowledgements queue behind the database (a burst) it
# all but stops: the backlog is durable and is normalized when the burst is over.
ACKNOWLEDGING_SECONDS = 0.25
REST_SECONDS = 0.003
REST_UNDER_PRESSURE_SECONDS = 0.5
STOP_SECONDS = 10.0
# Wake-ups closer together than this are sent as one (the last one follows when the interval is over): under
# load the archive commits hundreds of times a second, and the child only needs to know within its windows.
WAKE_INTERVAL_SECONDS = 0.01


def settings_line(settings: Settings) -> bytes:
    """The first line the child reads: the pipeline's settings as JSON."""
    sections = {name: getattr(settings, name).model_dump(mode="json") for name in SECTIONS}
    return json.dumps(sections).encode() + b"\n"


def settings_from_line(line: bytes) -> Settings:
    """The parent's settings back, validated section by section (nothing read from files or environment)."""
    data = json.loads(line)
    return Settings.model_construct(**{name: model.model_validate(data[name]) for name, model in SECTIONS.items()})


class PipelineProcess:
    """Starts the child, restarts it if it dies, wakes it up, and stops it with the gateway."""

    def __init__(self, settings: Settings) -> None:
        self._line = settings_line(settings)
        self._process: asyncio.subprocess.Process | None = None
        self._stopping = False
        self._last_wake = float("-inf")
        self._held: asyncio.TimerHandle | None = None  # a wake-up waiting for the interval to pass
        self._held_pressure = False

    @property
    def alive(self) -> bool:
        """Whether the child is running right now."""
        return self._process is not None and self._process.returncode is None

    async def run(self) -> None:
        """Keep one child running until stop(); a child that dies is restarted with a growing pause."""
        loop = asyncio.get_running_loop()
        pause = 1.0
        while not self._stopping:
            started = loop.time()
            self._process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "gateway.pipeline_process", stdin=asyncio.subprocess.PIPE
            )
            assert self._process.stdin is not None
            self._process.stdin.write(self._line)
            log.info("pipeline.process_started", pid=self._process.pid)
            code = await self._process.wait()
            if self._stopping:
                return
            if loop.time() - started > 60:
                pause = 1.0
            log.error("pipeline.process_exited", code=code, restart_in_seconds=pause)
            await asyncio.sleep(pause)
            pause = min(pause * 2, RESTART_MAX_SECONDS)

    def wake(self, *, pressure: bool = False) -> None:
        """Something new was stored: let the child look now instead of at its next poll.

        `pressure`: acknowledgements are queued behind the database right now; the child backs off further.
        """
        self._held_pressure = self._held_pressure or pressure
        if self._held is not None:
            return  # sent when the interval is over, pressure included
        loop = asyncio.get_running_loop()
        wait = self._last_wake + WAKE_INTERVAL_SECONDS - loop.time()
        if wait > 0:
            self._held = loop.call_later(wait, self._send)
        else:
            self._send()

    def _send(self) -> None:
        self._held = None
        self._last_wake = asyncio.get_running_loop().time()
        pressure, self._held_pressure = self._held_pressure, False
        process = self._process
        if process is not None and process.stdin is not None and not process.stdin.is_closing():
            process.stdin.write(PRESSURE if pressure else WAKE)

    async def stop(self) -> None:
        """SIGTERM the child (it releases its batch and exits; one still importing just ends); kill it after 10 s."""
        self._stopping = True
        if self._held is not None:
            self._held.cancel()
            self._held = None
        process = self._process
        if process is None or process.returncode is not None:
            return
        assert process.stdin is not None
        process.stdin.close()
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), timeout=STOP_SECONDS)
        except TimeoutError:
            log.warning("pipeline.process_killed", pid=process.pid)
            process.kill()
            await process.wait()


async def _read_stdin() -> asyncio.StreamReader:
    reader = asyncio.StreamReader()
    await asyncio.get_running_loop().connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    return reader


async def _serve() -> None:
    # Imported here: the parent imports this module for PipelineProcess and needs none of this.
    from gateway.runtime import build_pipeline
    from gateway.storage.db import Database
    from normalizers.text import load_language_model

    reader = await _read_stdin()
    settings = settings_from_line(await reader.readline())
    logs.configure(level=settings.logging.level, fmt=settings.logging.format)
    structlog.contextvars.bind_contextvars(process="pipeline")
    os.nice(settings.ingest.pipeline_nice)
    db = Database(settings.database.url, pool_size=1, same_thread=True)
    pipeline = build_pipeline(settings, db)
    await asyncio.to_thread(load_language_model)
    # Everything loaded so far (the language model, the intel context: millions of objects) lives until
    # exit; frozen, the collector stops walking it. Unfrozen, one full collection took ~130 ms, and when it
    # fell inside a write transaction every acknowledgement waited for it.
    gc.freeze()
    last_wake = last_pressure = time.monotonic()

    def acknowledging() -> bool:
        return time.monotonic() - last_wake < ACKNOWLEDGING_SECONDS

    def under_pressure() -> bool:
        return time.monotonic() - last_pressure < ACKNOWLEDGING_SECONDS

    def rest() -> float:
        if under_pressure():
            return REST_UNDER_PRESSURE_SECONDS
        return REST_SECONDS if acknowledging() else 0.0

    pipeline.acknowledging = acknowledging
    pipeline.under_pressure = under_pressure
    pipeline.pause_after_write = rest
    work = asyncio.create_task(pipeline.run(), name="pipeline")
    log.info("pipeline.process_ready", nice=settings.ingest.pipeline_nice)
    # SIGTERM (the parent's stop) ends the input like the parent's death does.
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, reader.feed_eof)
    try:
        while chunk := await reader.read(4096):  # b"": the parent stopped us or is gone
            last_wake = time.monotonic()
            if PRESSURE in chunk:
                last_pressure = last_wake
            pipeline.wake.set()
    finally:
        work.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await work
        await db.dispose()
        log.info("pipeline.process_stopped")


def main() -> None:
    """Entry point of the child."""
    asyncio.run(_serve())


if __name__ == "__main__":
    main()
