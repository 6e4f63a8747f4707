"""Graph API calls of the Meta channel: send messages, resolve media, check the token.

Errors: https://developers.facebook.com/docs/graph-api/guides/error-handling
WhatsApp error codes: https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import aiohttp

from gateway.errors import PermanentFailure, TransientFailure

# Graph error codes that mean "slow down" rather than "this will never work".
RATE_LIMIT_CODES = frozenset({4, 17, 32, 613, 80007, 130429, 131048, 131056})
# The 24-hour customer-service window has closed: only a template message may be sent.
# https://developers.facebook.com/docs/whatsapp/cloud-api/guides/send-message-templates
OUTSIDE_WINDOW_CODES = frozenset({131047})
INVALID_TOKEN_CODES = frozenset({190, 102})


class GraphError(Exception):
    """A Graph API error answer: HTTP status and Meta's error code."""

    def __init__(self, status: int, code: int | None, subcode: int | None = None) -> None:
        super().__init__(f"graph error {status} code={code}")
        self.status = status
        self.code = code
        self.subcode = subcode

    def failure(self) -> TransientFailure | PermanentFailure:
        """The gateway error this answer means for the reply outbox."""
        detail = f"{self.status} code={self.code}"
        if self.status == 429 or self.status >= 500 or self.code in RATE_LIMIT_CODES:
            return TransientFailure("provider_error", detail=detail)
        return PermanentFailure("rejected_by_provider", detail=detail)


class Graph:
    """A thin Graph API client on an aiohttp session; the token travels only in the Authorization header."""

    def __init__(self, *, session: aiohttp.ClientSession, base_url: str, version: str, token: str) -> None:
        self._session = session
        self._base = f"{base_url.rstrip('/')}/{version.strip('/')}"
        self._token = token

    @property
    def auth_headers(self) -> dict[str, str]:
        """The bearer header for Graph and media downloads."""
        return {"Authorization": f"Bearer {self._token}"}

    async def call(self, method: str, path: str, payload: Mapping[str, object] | None = None) -> dict[str, object]:
        """One Graph request; GraphError on an error answer, TransientFailure when unreachable."""
        try:
            async with self._session.request(
                method, f"{self._base}/{path.lstrip('/')}", json=payload, headers=self.auth_headers
            ) as response:
                text = await response.text()
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TransientFailure("cannot_connect", detail=type(exc).__name__) from exc
        try:
            body = json.loads(text) if text else {}
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        if status >= 400 or "error" in body:
            error = body.get("error")
            error = error if isinstance(error, dict) else {}
            code, subcode = error.get("code"), error.get("error_subcode")
            raise GraphError(status, code if isinstance(code, int) else None,
                             subcode if isinstance(subcode, int) else None)
        return body
