"""The poll loop the pipeline, the dispatcher and the reply sender share: claim a batch, rest when idle."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import structlog
from sqlalchemy.exc import SQLAlchemyError


async def poll_forever(
    step: Callable[[], Awaitable[int]],
    *,
    wake: asyncio.Event,
    poll_seconds: float,
    full_batch: int,
    log: structlog.stdlib.BoundLogger,
    name: str,
    failure: str = "cycle_failed",
) -> None:
    """Run `step` (which returns how many items it claimed) until cancelled.

    A full batch means more is waiting, so the next step runs at once; otherwise the loop rests
    until `wake` is set or `poll_seconds` pass. A database outage or a bug in one step is logged
    as `<name>.database_unavailable` or `<name>.<failure>` and never ends the loop.
    """
    while True:
        try:
            claimed = await step()
        except SQLAlchemyError as exc:
            log.warning(f"{name}.database_unavailable", error=type(exc).__name__)
            claimed = 0
        except Exception:
            log.exception(f"{name}.{failure}")
            claimed = 0
        if claimed < full_batch:
            wake.clear()
            try:
                await asyncio.wait_for(wake.wait(), timeout=poll_seconds)
            except TimeoutError:
                pass
