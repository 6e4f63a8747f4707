"""A local receiver for the signed-webhook registry target, checking signatures the way an integrator would.

It re-implements the documented scheme on its own (HMAC-SHA256 over `<timestamp>.` + body, a
5-minute freshness window) instead of importing the gateway's, so a test proves the two agree.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web


@dataclass
class Delivery:
    """One accepted webhook."""

    event: str
    idempotency_key: str
    document: dict[str, object]
    tracking_id: str


class FakeWebhookReceiver:
    """The receiver's state and its aiohttp application (POST /hook)."""

    def __init__(
        self,
        *,
        secret: str,
        tolerance_seconds: int = 300,
        clock: Callable[[], float] = time.time,
        answer_tracking_id: bool = True,
    ) -> None:
        self.secret = secret
        self.tolerance = tolerance_seconds
        self.clock = clock
        self.answer_tracking_id = answer_tracking_id
        self.deliveries: list[Delivery] = []
        self.rejected: list[str] = []
        self.fail_statuses: list[tuple[int, str | None]] = []
        self._by_key: dict[str, Delivery] = {}
        self._ids = itertools.count(1)

    def fail_next(self, status: int, *, retry_after: str | None = None) -> None:
        """Answer the next valid delivery with `status`."""
        self.fail_statuses.append((status, retry_after))

    def app(self) -> web.Application:
        """The aiohttp application."""
        app = web.Application()
        app.router.add_post("/hook", self._receive)
        return app

    def _authentic(self, body: bytes, timestamp: str | None, signature: str | None) -> str | None:
        if timestamp is None or signature is None:
            return "missing signature headers"
        if not timestamp.isdigit() or abs(self.clock() - int(timestamp)) > self.tolerance:
            return "stale or malformed timestamp"
        expected = (
            "sha256=" + hmac.new(self.secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        )
        if not hmac.compare_digest(expected, signature):
            return "bad signature"
        return None

    async def _receive(self, request: web.Request) -> web.Response:
        body = await request.read()
        problem = self._authentic(
            body, request.headers.get("X-Lapor-Timestamp"), request.headers.get("X-Lapor-Signature")
        )
        if problem is not None:
            self.rejected.append(problem)
            return web.json_response({"error": problem}, status=401)
        if self.fail_statuses:
            status, retry_after = self.fail_statuses.pop(0)
            headers = {"Retry-After": retry_after} if retry_after else {}
            return web.json_response({"error": "injected"}, status=status, headers=headers)
        key = request.headers.get("Idempotency-Key", "")
        if key in self._by_key:  # a retry of a delivery already taken: same answer, nothing new
            seen = self._by_key[key]
            return web.json_response({"tracking_id": seen.tracking_id, "status": "received"})
        document = json.loads(body)
        delivery = Delivery(
            event=request.headers.get("X-Lapor-Event", ""),
            idempotency_key=key,
            document=document,
            tracking_id=f"WH-{next(self._ids):05d}",
        )
        self.deliveries.append(delivery)
        self._by_key[key] = delivery
        if not self.answer_tracking_id:
            return web.Response(status=204)
        return web.json_response({"tracking_id": delivery.tracking_id, "status": "received"}, status=201)
