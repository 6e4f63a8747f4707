"""The shared poll loop: a full batch runs again at once, failures are logged and survived, wake ends a rest."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
import structlog
from sqlalchemy.exc import OperationalError
from structlog.testing import capture_logs

from gateway.polling import poll_forever

log = structlog.get_logger(__name__)


async def _run(results: list[int | Exception], *, poll_seconds: float, wake_after: float | None = None) -> int:
    """Feed `results` to the loop one step at a time; return how many steps ran before they ran out."""
    steps = 0
    done = asyncio.Event()
    wake = asyncio.Event()

    async def step() -> int:
        nonlocal steps
        steps += 1
        if steps == len(results):
            done.set()
        result = results[min(steps, len(results)) - 1]
        if isinstance(result, Exception):
            raise result
        return result

    task = asyncio.create_task(
        poll_forever(step, wake=wake, poll_seconds=poll_seconds, full_batch=10, log=log, name="test")
    )
    if wake_after is not None:
        await asyncio.sleep(wake_after)
        wake.set()
    await asyncio.wait_for(done.wait(), timeout=2)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    return steps


@pytest.mark.parametrize(
    ("results", "wake_after", "events"),
    [
        ([10, 10, 0], None, []),
        ([OperationalError("select", {}, Exception("down")), 0], None, ["test.database_unavailable"]),
        ([RuntimeError("bug"), 0], None, ["test.cycle_failed"]),
        ([0, 0], 0.05, []),
    ],
    ids=["full-batches-run-at-once", "database-down-survived", "bug-survived", "wake-ends-rest"],
)
async def test_poll_forever(results: list[int | Exception], wake_after: float | None, events: list[str]) -> None:
    # Without a wake, an idle step rests the full poll interval (60 s here): only full batches, errors
    # retried after the 0.05 s poll, or a wake may reach the last step within the 2 s the test waits.
    poll_seconds = 60.0 if wake_after is not None or results[0] == 10 else 0.05
    with capture_logs() as logs:
        steps = await _run(results, poll_seconds=poll_seconds, wake_after=wake_after)
    assert steps == len(results)
    assert [entry["event"] for entry in logs] == events


async def test_idle_step_rests_until_poll() -> None:
    # Failure row: with nothing claimed and no wake, the second step must wait for the poll interval.
    with pytest.raises(TimeoutError):
        await _run([0, 0], poll_seconds=60.0)
