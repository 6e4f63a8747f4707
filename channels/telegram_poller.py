"""Long polling of getUpdates, the offset kept in the cursor store.

https://core.telegram.org/bots/api#getupdates: an offset of last update_id + 1 confirms everything before it.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable

import structlog

from channels.base import ChannelContext
from channels.signed_webhook import dump
from channels.telegram_api import BotApi, BotApiError
from channels.telegram_updates import CHANNEL, update_raw
from gateway.errors import TransientFailure
from gateway.messages import utcnow

log = structlog.get_logger(__name__)

CURSOR = "offset"
Sleep = Callable[[float], Awaitable[None]]


class TelegramPoller:
    """One getUpdates round (`poll_once`), repeated by `run` with backoff after failures."""

    def __init__(
        self,
        *,
        api: BotApi,
        context: ChannelContext,
        timeout: int,
        limit: int,
        backoff_max: float,
        idle: float,
        sleep: Sleep,
    ) -> None:
        self._api = api
        self._context = context
        self._timeout = timeout
        self._limit = limit
        self._sleep = sleep
        self._backoff_max = backoff_max
        self._idle = idle

    async def poll_once(self) -> int:
        """Fetch updates after the stored offset, store them, then move the offset past them."""
        stored = await self._context.cursors.get(CHANNEL, CURSOR)
        payload: dict[str, object] = {"timeout": self._timeout, "limit": self._limit}
        if stored:
            payload["offset"] = int(stored)
        # The HTTP timeout must outlast the long poll itself.
        result = await self._api.call("getUpdates", payload, http_timeout=self._timeout + 15)
        updates = [u for u in result if isinstance(u, dict)] if isinstance(result, list) else []
        last = None
        for update in updates:
            raw = update_raw(update, dump(update), utcnow(), {"transport": "polling"})
            await self._context.sink.submit(raw)
            if isinstance(update.get("update_id"), int):
                last = max(last or 0, int(update["update_id"]))
        if last is not None:
            await self._context.cursors.set(CHANNEL, CURSOR, str(last + 1))
        return len(updates)

    async def run(self) -> None:
        """Poll until cancelled; wait after an empty round, and after a failure (retry_after or backoff)."""
        failures = 0
        while True:
            try:
                received = await self.poll_once()
                failures = 0
                if received:
                    continue
                # An empty answer normally comes after the long-poll timeout; a server that answers at
                # once must not turn this into a hot loop.
                delay = self._idle
            except BotApiError as exc:
                failures += 1
                # 409: a webhook is set for this bot; 401/404: the token is wrong. Both need an operator.
                log.warning("telegram.poll_failed", code=exc.code, failures=failures)
                delay = exc.retry_after or self._delay(failures)
            except TransientFailure as exc:
                failures += 1
                log.warning("telegram.poll_failed", error=exc.detail, failures=failures)
                delay = exc.retry_after or self._delay(failures)
            await self._sleep(delay)

    def _delay(self, failures: int) -> float:
        """Exponential backoff with up to a second of jitter, capped: never a hot loop."""
        return min(self._backoff_max, 2.0 ** min(failures - 1, 16) + random.uniform(0, 1))
