"""The LAPOR! registry client: speaks the contract of docs/registry-api.yaml over aiohttp."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final, NoReturn
from urllib.parse import quote

import aiohttp
import structlog

from gateway.errors import ConfigurationError, PermanentFailure, TransientFailure
from gateway.registry.base import AgencyResponse, Filed, RegistryState
from gateway.registry.contract import complaint_request, follow_up_request
from gateway.registry.http_retry import parse_retry_after

if TYPE_CHECKING:
    from config.settings import RegistrySettings
    from gateway.records import Complaint

log = structlog.get_logger(__name__)

JSONObject = dict[str, object]

# 408 and 425 ask for a later retry; 409 is what the IETF idempotency-key draft answers while a
# request with the same key is still being processed, so it is worth retrying too.
# https://datatracker.ietf.org/doc/draft-ietf-httpapi-idempotency-key-header/
RETRYABLE_4XX: Final = frozenset({408, 409, 425, 429})
DETAIL_LIMIT: Final = 200


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _optional_str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _error_detail(text: str) -> str:
    """The registry's {"error", "detail"} as one short line, for the reason of a dead letter."""
    try:
        data: object = json.loads(text)
    except ValueError:
        return text[:DETAIL_LIMIT]
    if isinstance(data, dict):
        parts = [str(data[k]) for k in ("error", "detail") if data.get(k)]
        return ": ".join(parts)[:DETAIL_LIMIT]
    return text[:DETAIL_LIMIT]


def registry_state(data: JSONObject) -> RegistryState:
    """A GET /complaints/{tracking_id} answer as the lifecycle sees it."""
    target = data.get("target")
    target = target if isinstance(target, dict) else {}
    responses = data.get("responses")
    followups = data.get("followups")
    return RegistryState(
        tracking_id=str(data["tracking_id"]),
        status=str(data["status"]),
        updated_at=_parse_time(data.get("updated_at")),
        agency=_optional_str(target.get("agency")),
        category=_optional_str(target.get("category")),
        classification=_optional_str(data.get("classification")),
        responses=tuple(
            AgencyResponse(id=str(r.get("id")), text=str(r.get("text", "")), at=_parse_time(r.get("at")))
            for r in (responses if isinstance(responses, list) else [])
            if isinstance(r, dict)
        ),
        followups=tuple(
            str(f.get("id")) for f in (followups if isinstance(followups, list) else []) if isinstance(f, dict)
        ),
    )


class LaporClient:
    """RegistryClient for the LAPOR! contract; the token goes in the Authorization header and nowhere else."""

    def __init__(
        self,
        *,
        base_url: str,
        token: str,
        timeout_seconds: float,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        if not token:
            raise ConfigurationError("registry token is empty", detail="set registry.token")
        self._base_url = base_url.rstrip("/")
        self._token = token
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._session = session
        self._owns_session = session is None

    @classmethod
    def from_settings(cls, settings: RegistrySettings, *, session: aiohttp.ClientSession | None = None) -> LaporClient:
        """A client for the [registry] settings section."""
        return cls(
            base_url=settings.url,
            token=settings.token.get_secret_value(),
            timeout_seconds=settings.timeout_seconds,
            session=session,
        )

    def __repr__(self) -> str:
        return f"LaporClient(base_url={self._base_url!r})"

    async def file(self, complaint: Complaint, *, idempotency_key: str) -> Filed:
        """POST /complaints; the same key always yields the same tracking ID."""
        data = await self._call(
            "POST", "/complaints", body=dict(complaint_request(complaint)), idempotency_key=idempotency_key
        )
        tracking_id, status = data.get("tracking_id"), data.get("status")
        if not isinstance(tracking_id, str | int) or not str(tracking_id) or not isinstance(status, str):
            raise PermanentFailure("registry answer without tracking_id", detail=str(sorted(data))[:DETAIL_LIMIT])
        log.info("registry.filed", tracking_id=str(tracking_id), status=status)
        return Filed(tracking_id=str(tracking_id), status=status)

    async def follow_up(self, tracking_id: str, complaint: Complaint, *, idempotency_key: str) -> None:
        """POST /complaints/{tracking_id}/followups."""
        await self._call(
            "POST",
            f"/complaints/{quote(tracking_id, safe='')}/followups",
            body=dict(follow_up_request(complaint)),
            idempotency_key=idempotency_key,
        )
        log.info("registry.followed_up", tracking_id=tracking_id)

    async def fetch(self, tracking_id: str) -> RegistryState:
        """GET /complaints/{tracking_id}."""
        data = await self._call("GET", f"/complaints/{quote(tracking_id, safe='')}")
        try:
            return registry_state(data)
        except KeyError as exc:
            raise PermanentFailure("registry answer without field", detail=str(exc)) from None

    async def aclose(self) -> None:
        """Close the HTTP session if this client opened it."""
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self._session

    async def _call(
        self, method: str, path: str, *, body: JSONObject | None = None, idempotency_key: str | None = None
    ) -> JSONObject:
        headers = {"Authorization": f"Bearer {self._token}", "Accept": "application/json"}
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        started = time.monotonic()
        try:
            # No redirects: the contract has none, and following one would resend the token elsewhere.
            async with self._client().request(
                method,
                self._base_url + path,
                json=body,
                headers=headers,
                timeout=self._timeout,
                allow_redirects=False,
            ) as response:
                status = response.status
                text = await response.text(errors="replace")
                retry_after = response.headers.get("Retry-After")
        except TimeoutError:  # asyncio.TimeoutError is this builtin since Python 3.11
            raise TransientFailure("registry timed out", detail=f"{method} {path}") from None
        except aiohttp.ClientError as exc:
            # `from None`: aiohttp's exceptions can hold the request and its headers (the token).
            raise TransientFailure("registry unreachable", detail=f"{type(exc).__name__}: {exc}") from None
        elapsed_ms = round((time.monotonic() - started) * 1000, 1)
        log.debug("registry.request", method=method, path=path, status=status, elapsed_ms=elapsed_ms)
        if 200 <= status < 300:
            return self._object(text)
        self._raise(status, text, retry_after)

    @staticmethod
    def _object(text: str) -> JSONObject:
        try:
            data: object = json.loads(text)
        except ValueError:
            raise PermanentFailure("registry answer is not JSON", detail=text[:DETAIL_LIMIT]) from None
        if not isinstance(data, dict):
            raise PermanentFailure("registry answer is not a JSON object", detail=text[:DETAIL_LIMIT])
        return {str(k): v for k, v in data.items()}

    @staticmethod
    def _raise(status: int, text: str, retry_after_header: str | None) -> NoReturn:
        detail = f"HTTP {status}: {_error_detail(text)}"
        if status in (401, 403):
            log.warning("registry.credentials_refused", status=status)
            raise ConfigurationError("registry refused the credentials", detail=detail)
        if status in RETRYABLE_4XX or status >= 500:
            retry_after = parse_retry_after(retry_after_header)
            log.info("registry.transient", status=status, retry_after=retry_after)
            raise TransientFailure("registry busy or failing", detail=detail, retry_after=retry_after)
        log.warning("registry.rejected", status=status)
        raise PermanentFailure("registry rejected the request", detail=detail)
