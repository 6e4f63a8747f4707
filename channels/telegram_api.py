"""A minimal Telegram Bot API client on aiohttp: one POST per method, errors as the gateway's family.

https://core.telegram.org/bots/api#making-requests
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import aiohttp

from gateway.errors import PermanentFailure, TransientFailure


class BotApiError(Exception):
    """An answer with ok=false: Telegram's error code, description and retry_after (on 429)."""

    def __init__(self, code: int, description: str, retry_after: float | None = None) -> None:
        super().__init__(f"bot api error {code}: {description}")
        self.code = code
        self.description = description
        self.retry_after = retry_after

    def failure(self) -> TransientFailure | PermanentFailure:
        """The gateway error this answer means for the reply outbox."""
        if self.code == 429 or self.code >= 500:
            return TransientFailure("provider_error", detail=str(self.code), retry_after=self.retry_after)
        return PermanentFailure("rejected_by_provider", detail=f"{self.code} {self.description}")


class BotApi:
    """Calls `{base}/bot<token>/<method>`; the URL holds the token, so it is never logged or raised."""

    def __init__(self, *, session: aiohttp.ClientSession, base_url: str, token: str) -> None:
        self._session = session
        self._base = base_url.rstrip("/")
        self._token = token

    def file_url(self, file_path: str) -> str:
        """Where a file from getFile is downloaded (holds the token: pass it on, never log it)."""
        return f"{self._base}/file/bot{self._token}/{file_path.lstrip('/')}"

    async def call(
        self, method: str, payload: Mapping[str, object] | None = None, *, http_timeout: float | None = None
    ) -> object:
        """The `result` of one method; BotApiError on ok=false, TransientFailure when unreachable."""
        client_timeout = aiohttp.ClientTimeout(total=http_timeout) if http_timeout is not None else None
        try:
            async with self._session.post(
                f"{self._base}/bot{self._token}/{method}", json=dict(payload or {}), timeout=client_timeout
            ) as response:
                status, text = response.status, await response.text()
        except (aiohttp.ClientError, TimeoutError) as exc:
            # Only the type: aiohttp's message would carry the URL, and the URL carries the token.
            raise TransientFailure("cannot_connect", detail=type(exc).__name__) from None
        try:
            body = json.loads(text)
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise BotApiError(status if status >= 400 else 502, "not a Bot API answer")
        if not body.get("ok"):
            parameters = body.get("parameters")
            retry_after = parameters.get("retry_after") if isinstance(parameters, dict) else None
            code = body.get("error_code")
            return_code = code if isinstance(code, int) else status
            raise BotApiError(return_code, str(body.get("description", "")),
                              float(retry_after) if isinstance(retry_after, int | float) else None)
        return body.get("result")
