"""Dispatch settings small enough that retries and leases run in milliseconds."""

from __future__ import annotations

from config.settings import DispatchSettings

FAST = DispatchSettings(
    max_attempts=6,
    attempts_per_claim=2,
    backoff_initial_seconds=0.05,
    backoff_max_seconds=0.2,
    lease_seconds=5.0,
    batch_size=50,
    concurrency=8,
    poll_seconds=0.05,
)
