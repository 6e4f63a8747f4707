"""An HTTP session for an API client: the one the core lends, or one the channel opens and closes itself."""

from __future__ import annotations

import aiohttp

from channels.base import ChannelContext


class SessionSlot:
    """The context's session when there is one; otherwise a session of our own, opened on first use."""

    def __init__(self, context: ChannelContext, *, timeout_seconds: float) -> None:
        self._context = context
        self._timeout_seconds = timeout_seconds
        self._own: aiohttp.ClientSession | None = None

    def get(self) -> aiohttp.ClientSession:
        """The session to send with."""
        if self._context.http is not None:
            return self._context.http
        if self._own is None:
            self._own = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self._timeout_seconds))
        return self._own

    @property
    def owned(self) -> bool:
        """Whether a session of our own is open (and `close` has something to do)."""
        return self._own is not None

    async def close(self) -> None:
        """Close the session we opened; the lent one belongs to the core."""
        if self._own is not None:
            await self._own.close()
            self._own = None
