"""Retry policy for outboxes: tenacity inside a claim, the same backoff persisted between claims."""

from __future__ import annotations

from typing import Any

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)
from tenacity.stop import stop_base
from tenacity.wait import wait_base

from config.settings import DispatchSettings
from gateway.errors import TransientFailure

# Longer waits than this are not slept inside a claim: the job goes back to the outbox instead,
# so a worker never holds a lease while a registry asks us to come back in a minute.
INLINE_WAIT_MAX = 5.0


def _retry_after(retry_state: RetryCallState) -> float | None:
    outcome = retry_state.outcome
    if outcome is None or not outcome.failed:
        return None
    exc = outcome.exception()
    return exc.retry_after if isinstance(exc, TransientFailure) else None


class WaitRetryAfterOrBackoff(wait_base):
    """Honour a server's Retry-After; otherwise exponential backoff with jitter."""

    def __init__(self, backoff: wait_base) -> None:
        self.backoff = backoff

    def __call__(self, retry_state: RetryCallState) -> float:
        retry_after = _retry_after(retry_state)
        if retry_after is not None:
            return max(retry_after, 0.0)
        return float(self.backoff(retry_state))


class StopOnLongRetryAfter(stop_base):
    """Stop retrying inline when the server asks for a wait longer than INLINE_WAIT_MAX."""

    def __call__(self, retry_state: RetryCallState) -> bool:
        retry_after = _retry_after(retry_state)
        return retry_after is not None and retry_after > INLINE_WAIT_MAX


class RetryPolicy:
    """One backoff, used for the quick retries of a claim and for the schedule between claims."""

    def __init__(self, settings: DispatchSettings) -> None:
        self.settings = settings
        self.backoff = wait_exponential_jitter(
            multiplier=settings.backoff_initial_seconds,
            max=settings.backoff_max_seconds,
            jitter=settings.backoff_initial_seconds,
        )

    def inline(self) -> AsyncRetrying:
        """The retrying loop for one claim: a few quick tries, transient failures only."""
        return AsyncRetrying(
            stop=stop_after_attempt(self.settings.attempts_per_claim) | StopOnLongRetryAfter(),
            wait=WaitRetryAfterOrBackoff(self.backoff),
            retry=retry_if_exception_type(TransientFailure),
            reraise=True,
        )

    def next_delay(self, attempts: int, failure: TransientFailure) -> float:
        """Seconds until the next claim after `attempts` failed tries."""
        if failure.retry_after is not None:
            return max(failure.retry_after, self.settings.backoff_initial_seconds)
        state = RetryCallState(retry_object=_NO_RETRY, fn=None, args=(), kwargs={})
        state.attempt_number = attempts
        return float(self.backoff(state))


_NO_RETRY: Any = AsyncRetrying()
