"""Generic signed-webhook registry target: complaints POSTed as JSON to a URL the operator configures.

Signature scheme (what a receiver must check):

- headers `X-Lapor-Timestamp: <unix seconds>` and `X-Lapor-Signature: sha256=<hex>`, where hex is
  HMAC-SHA256 with the shared `registry.signing_secret` over the bytes `<timestamp>.` + raw body;
- compare in constant time, and refuse a timestamp more than 5 minutes from the receiver's clock:
  a captured request cannot be replayed later, and within the window the `Idempotency-Key` header
  (stable across retries of the same job) lets the receiver answer a repeat without acting twice.
- `X-Lapor-Event` says what the body is: `complaint.filed` or `complaint.follow_up`.

The receiver answers 2xx, optionally with `{"tracking_id": "...", "status": "..."}`; without a
tracking_id the gateway's own complaint id stands for it. 401/403 is a configuration error,
408/425/429/5xx are retried (Retry-After honoured), other 4xx are permanent. A webhook target keeps
no status the gateway could poll: `fetch` is a PermanentFailure and `supports_status` is False.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable, Mapping
from typing import ClassVar

import aiohttp
import structlog

from config.settings import RegistrySettings
from gateway.errors import ConfigurationError, PermanentFailure, TransientFailure
from gateway.records import Complaint
from gateway.registry.base import Filed, RegistryState
from gateway.registry.http_retry import parse_retry_after

log = structlog.get_logger(__name__)

SIGNATURE_HEADER = "X-Lapor-Signature"
TIMESTAMP_HEADER = "X-Lapor-Timestamp"
EVENT_HEADER = "X-Lapor-Event"
TOLERANCE_SECONDS = 300
SCHEMA = "lapor-gateway.webhook/v1"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The `X-Lapor-Signature` value for a body sent at `timestamp`."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(
    secret: str,
    *,
    body: bytes,
    timestamp: str | None,
    signature_header: str | None,
    now: float,
    tolerance_seconds: int = TOLERANCE_SECONDS,
) -> bool:
    """Whether a received webhook is authentic and fresh (for receivers and tests)."""
    if not timestamp or not signature_header or not timestamp.isdigit():
        return False
    sent = int(timestamp)
    if abs(now - sent) > tolerance_seconds:
        return False
    return hmac.compare_digest(signature(secret, sent, body), signature_header.strip())


def complaint_payload(complaint: Complaint) -> dict[str, object]:
    """The complaint as JSON; an anonymous one carries no reporter and no conversation key."""
    document = complaint.model_dump(mode="json", exclude={"reply_to"})
    if complaint.privacy.anonim:
        document["reporter"] = None
        thread = document.get("thread")
        if isinstance(thread, dict):
            thread["conversation_key"] = None
    return document


class WebhookClient:
    """Delivers complaints and follow-ups to a signed webhook."""

    supports_follow_up: ClassVar[bool] = True
    supports_status: ClassVar[bool] = False

    def __init__(
        self,
        *,
        url: str,
        signing_secret: str,
        timeout_seconds: float = 10.0,
        session: aiohttp.ClientSession | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not signing_secret:
            raise ConfigurationError("webhook signing secret missing", detail="set registry.signing_secret")
        self._url = url
        self._secret = signing_secret
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._session = session
        self._owns_session = session is None
        self._clock = clock

    @classmethod
    def from_settings(
        cls, settings: RegistrySettings, *, session: aiohttp.ClientSession | None = None
    ) -> WebhookClient:
        """A client for `[registry] kind = "webhook"` (url, signing_secret, timeout_seconds)."""
        secret = settings.signing_secret.get_secret_value() if settings.signing_secret else ""
        return cls(url=settings.url, signing_secret=secret, timeout_seconds=settings.timeout_seconds, session=session)

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        return self._session

    def signed_request(
        self, event: str, document: Mapping[str, object], idempotency_key: str
    ) -> tuple[bytes, dict[str, str]]:
        """The body and headers of one delivery."""
        body = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
        now = int(self._clock())
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            EVENT_HEADER: event,
            TIMESTAMP_HEADER: str(now),
            SIGNATURE_HEADER: signature(self._secret, now, body),
            "Idempotency-Key": idempotency_key,
        }
        return body, headers

    async def _deliver(self, event: str, document: Mapping[str, object], idempotency_key: str) -> dict[str, object]:
        body, headers = self.signed_request(event, document, idempotency_key)
        try:
            async with self._http().post(self._url, data=body, headers=headers, timeout=self._timeout) as response:
                status = response.status
                answer = await response.read()
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TransientFailure("webhook unreachable", detail=type(exc).__name__) from exc
        log.debug("webhook.response", webhook_event=event, status=status)
        detail = f"HTTP {status}: {answer[:200].decode('utf-8', errors='replace')}"
        if status in (401, 403):
            raise ConfigurationError("webhook refused the signature", detail=detail)
        if status in (408, 425, 429) or status >= 500:
            raise TransientFailure("webhook unavailable", detail=detail, retry_after=retry_after)
        if status == 404:
            raise ConfigurationError("webhook URL not found", detail=detail)
        if not 200 <= status < 300:
            raise PermanentFailure("webhook rejected the complaint", detail=detail)
        try:
            parsed = json.loads(answer) if answer.strip() else {}
        except (json.JSONDecodeError, UnicodeDecodeError):
            parsed = {}
        return parsed if isinstance(parsed, dict) else {}

    async def file(self, complaint: Complaint, *, idempotency_key: str) -> Filed:
        """POST the complaint; the receiver's tracking_id, else the complaint id, is the tracking ID."""
        document = {"schema": SCHEMA, "event": "complaint.filed", "complaint": complaint_payload(complaint)}
        answer = await self._deliver("complaint.filed", document, idempotency_key)
        tracking_id = answer.get("tracking_id")
        status = answer.get("status")
        return Filed(
            tracking_id=str(tracking_id) if tracking_id not in (None, "") else complaint.id,
            status=str(status) if status else "delivered",
        )

    async def follow_up(self, tracking_id: str, complaint: Complaint, *, idempotency_key: str) -> None:
        """POST a follow-up of an earlier complaint."""
        document = {
            "schema": SCHEMA,
            "event": "complaint.follow_up",
            "tracking_id": tracking_id,
            "complaint": complaint_payload(complaint),
        }
        await self._deliver("complaint.follow_up", document, idempotency_key)

    async def fetch(self, tracking_id: str) -> RegistryState:
        """A webhook keeps no status to poll."""
        raise PermanentFailure("webhook target keeps no status", detail="status sync is not available")

    async def aclose(self) -> None:
        """Close the HTTP session if this client opened it."""
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None
