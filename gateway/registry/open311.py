"""Open311 GeoReport v2 registry client (FixMyStreet, SeeClickFix, many city 311 systems).

Specification: https://wiki.open311.org/GeoReport_v2/ (mirrored at open311.github.io/GeoReport/v2).

Token answers: a server may answer POST /requests with a `token` instead of a
`service_request_id` while it creates the request asynchronously. `file` polls GET /tokens/{token}
a few times; if no id comes, it returns `Filed(tracking_id="token:<token>", status="pending_token",
token=<token>)` rather than raising, because raising would make the dispatcher POST again and file
the complaint twice (GeoReport v2 has no idempotency key). `fetch("token:<token>")` resolves the
token later: once the server knows the id, the returned RegistryState carries the real id as
`tracking_id`, and the status sync stores it.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from collections.abc import Mapping
from datetime import datetime
from typing import ClassVar

import aiohttp
import structlog

from config.settings import RegistrySettings
from gateway.errors import ConfigurationError, PermanentFailure, TransientFailure
from gateway.records import Complaint
from gateway.registry.base import AgencyResponse, Filed, RegistryState
from gateway.registry.http_retry import parse_retry_after

log = structlog.get_logger(__name__)

DESCRIPTION_MAX_CHARS = 4000  # GeoReport v2 POST Service Request: description "max 4,000 characters"
TOKEN_PREFIX = "token:"  # noqa: S105 - an Open311 request token, not a secret
PENDING_TOKEN_STATUS = "pending_token"  # noqa: S105 - a status word
_ELLIPSIS = "…"
# The spec's own JSON examples write numbers with leading zeros ("service_code":006), which is not
# JSON; servers built from those examples do the same. Such numbers are read as strings.
_LEADING_ZERO_NUMBER = re.compile(r"(:\s*)(0\d+)(\s*[,}\]])")


def is_pending_token(tracking_id: str) -> bool:
    """Whether a tracking ID is still an Open311 token waiting for its service_request_id."""
    return tracking_id.startswith(TOKEN_PREFIX)


def cut_description(text: str) -> str:
    """The description within the spec's 4,000 characters, an ellipsis marking a cut."""
    if len(text) <= DESCRIPTION_MAX_CHARS:
        return text
    return text[: DESCRIPTION_MAX_CHARS - len(_ELLIPSIS)] + _ELLIPSIS


def parse_json(body: bytes) -> object:
    """JSON, tolerating the spec's zero-padded numbers (read as strings)."""
    text = body.decode("utf-8", errors="replace")
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return json.loads(_LEADING_ZERO_NUMBER.sub(r'\1"\2"\3', text))


def _first(document: object) -> dict[str, object]:
    """The first element of the array GeoReport v2 answers with (a bare object is accepted too)."""
    if isinstance(document, list) and document and isinstance(document[0], dict):
        return document[0]
    if isinstance(document, dict):
        return document
    return {}


def _text(value: object) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    text = str(value).strip()
    return text or None


def _datetime(value: object) -> datetime | None:
    text = _text(value)
    if text is None:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def error_descriptions(body: bytes) -> str:
    """The `description`s of the spec's error body `[{"code", "description"}]`, else the raw text."""
    try:
        document = parse_json(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return body[:300].decode("utf-8", errors="replace")
    items = document if isinstance(document, list) else [document]
    found = [
        f"{item.get('code')}: {item.get('description')}"
        for item in items
        if isinstance(item, dict) and ("code" in item or "description" in item)
    ]
    return "; ".join(found)[:300] if found else str(document)[:300]


def state_from_request(item: Mapping[str, object], tracking_id: str) -> RegistryState:
    """A RegistryState from one GeoReport v2 service request; status_notes become the agency's response."""
    updated = _datetime(item.get("updated_datetime")) or _datetime(item.get("requested_datetime"))
    notes = _text(item.get("status_notes"))
    responses: tuple[AgencyResponse, ...] = ()
    if notes:
        digest = hashlib.sha256(notes.encode()).hexdigest()[:16]
        responses = (AgencyResponse(id=f"notes:{digest}", text=notes, at=updated),)
    return RegistryState(
        tracking_id=_text(item.get("service_request_id")) or tracking_id,
        status=(_text(item.get("status")) or "open").lower(),
        updated_at=updated,
        agency=_text(item.get("agency_responsible")),
        category=_text(item.get("service_code")),
        responses=responses,
    )


class Open311Client:
    """Files complaints as GeoReport v2 service requests and reads their status back."""

    # GeoReport v2 has no way to add to a filed request: follow-ups become dead letters.
    supports_follow_up: ClassVar[bool] = False

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str | None = None,
        jurisdiction_id: str | None = None,
        service_codes: Mapping[str, str] | None = None,
        default_service_code: str | None = None,
        service_attributes: Mapping[str, Mapping[str, str]] | None = None,
        default_address_string: str | None = None,
        file_confidential: bool = False,
        timeout_seconds: float = 10.0,
        token_poll_attempts: int = 3,
        token_poll_interval_seconds: float = 0.5,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self._base = base_url.rstrip("/")
        self._api_key = api_key
        self._jurisdiction = jurisdiction_id
        self._service_codes = {k.casefold(): v for k, v in (service_codes or {}).items()}
        self._default_service_code = default_service_code
        self._attributes = {code: dict(attrs) for code, attrs in (service_attributes or {}).items()}
        self._default_address = default_address_string
        self._file_confidential = file_confidential
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._token_attempts = token_poll_attempts
        self._token_interval = token_poll_interval_seconds
        self._session = session
        self._owns_session = session is None

    @classmethod
    def from_settings(
        cls, settings: RegistrySettings, *, session: aiohttp.ClientSession | None = None
    ) -> Open311Client:
        """A client for `[registry] kind = "open311"`."""
        return cls(
            base_url=settings.url,
            api_key=settings.api_key.get_secret_value() if settings.api_key else None,
            jurisdiction_id=settings.jurisdiction_id,
            service_codes=settings.service_codes,
            default_service_code=settings.default_service_code,
            service_attributes=settings.service_attributes,
            default_address_string=settings.default_address_string,
            file_confidential=settings.file_confidential,
            timeout_seconds=settings.timeout_seconds,
            session=session,
        )

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        return self._session

    def service_code(self, complaint: Complaint) -> str:
        """The service_code for the complaint's category, or the default; PermanentFailure if none."""
        category = complaint.target.category
        code = self._service_codes.get(category.casefold()) if category else None
        code = code or self._default_service_code
        if code is None:
            raise PermanentFailure("no open311 service_code", detail=f"category {category!r} is not mapped")
        return code

    def form(self, complaint: Complaint) -> list[tuple[str, str]]:
        """The form fields of POST /requests for a complaint (identity only when not anonymous)."""
        if complaint.privacy.rahasia and not self._file_confidential:
            # GeoReport v2 servers publish descriptions through GET /requests; nothing marks one confidential.
            raise PermanentFailure("confidential complaint", detail="not filed on a public Open311 registry")
        code = self.service_code(complaint)
        fields: list[tuple[str, str]] = []
        if self._api_key:
            fields.append(("api_key", self._api_key))
        if self._jurisdiction:
            fields.append(("jurisdiction_id", self._jurisdiction))
        fields.append(("service_code", code))
        place = complaint.location
        if place is not None and place.latitude is not None and place.longitude is not None:
            fields += [("lat", repr(place.latitude)), ("long", repr(place.longitude))]
            if place.text:
                fields.append(("address_string", place.text))
        elif place is not None and place.text:
            fields.append(("address_string", place.text))
        elif self._default_address:
            fields.append(("address_string", self._default_address))
        if not complaint.privacy.anonim:
            who = complaint.reporter
            if who.email:
                fields.append(("email", who.email))
            if who.name:
                first, _, last = who.name.strip().partition(" ")
                fields.append(("first_name", first))
                if last.strip():
                    fields.append(("last_name", last.strip()))
            if who.phone:
                fields.append(("phone", who.phone))
        fields.append(("description", cut_description(complaint.body.text)))
        media = next(
            (a.url for a in complaint.attachments if a.url and a.url.startswith(("http://", "https://"))), None
        )
        if media:
            fields.append(("media_url", media))
        for attribute, value in sorted(self._attributes.get(code, {}).items()):
            fields.append((f"attribute[{attribute}]", value))
        return fields

    def _params(self) -> dict[str, str]:
        return {"jurisdiction_id": self._jurisdiction} if self._jurisdiction else {}

    async def _call(
        self,
        method: str,
        path: str,
        *,
        data: list[tuple[str, str]] | None = None,
        headers: Mapping[str, str] | None = None,
        not_found: type[PermanentFailure | ConfigurationError] = PermanentFailure,
    ) -> object:
        url = f"{self._base}{path}"
        try:
            async with self._http().request(
                method, url, params=self._params(), data=data, headers=headers, timeout=self._timeout
            ) as response:
                body = await response.read()
                status = response.status
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TransientFailure("open311 unreachable", detail=type(exc).__name__) from exc
        log.debug("open311.response", method=method, path=path.split("/")[1], status=status)
        if 200 <= status < 300:
            try:
                return parse_json(body)
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise PermanentFailure("open311 answer is not JSON", detail=f"HTTP {status}") from exc
        detail = f"HTTP {status}: {error_descriptions(body)}"
        if status in (401, 403):
            raise ConfigurationError("open311 refused the credentials", detail=detail)
        if status == 404:
            raise not_found("open311 not found", detail=detail)
        if status in (408, 425, 429) or status >= 500:
            raise TransientFailure("open311 unavailable", detail=detail, retry_after=retry_after)
        raise PermanentFailure("open311 rejected the request", detail=detail)

    async def file(self, complaint: Complaint, *, idempotency_key: str) -> Filed:
        """POST /requests.json; a token answer is polled briefly, then kept as `token:<token>`."""
        # Not part of GeoReport v2, but harmless, and servers that honour it avoid duplicates.
        headers = {"Idempotency-Key": idempotency_key}
        answer = _first(
            await self._call(
                "POST", "/requests.json", data=self.form(complaint), headers=headers, not_found=ConfigurationError
            )
        )
        request_id = _text(answer.get("service_request_id"))
        if request_id:
            log.info("open311.filed", complaint_id=complaint.id, service_request_id=request_id)
            return Filed(tracking_id=request_id, status="open")
        token = _text(answer.get("token"))
        if token is None:
            raise PermanentFailure("open311 answer has neither service_request_id nor token")
        for attempt in range(self._token_attempts):
            if attempt:
                await asyncio.sleep(self._token_interval)
            request_id = await self._resolve_token(token)
            if request_id:
                log.info("open311.filed", complaint_id=complaint.id, service_request_id=request_id, via="token")
                return Filed(tracking_id=request_id, status="open", token=token)
        log.info("open311.token_pending", complaint_id=complaint.id)
        return Filed(tracking_id=f"{TOKEN_PREFIX}{token}", status=PENDING_TOKEN_STATUS, token=token)

    async def _resolve_token(self, token: str) -> str | None:
        """GET /tokens/{token}.json: the service_request_id once the server has one, else None."""
        try:
            answer = _first(await self._call("GET", f"/tokens/{token}.json"))
        except PermanentFailure:
            return None  # 404: the token is not processed yet (servers differ; the spec is silent)
        return _text(answer.get("service_request_id"))

    async def follow_up(self, tracking_id: str, complaint: Complaint, *, idempotency_key: str) -> None:
        """GeoReport v2 cannot add to a request: always a PermanentFailure (see supports_follow_up)."""
        raise PermanentFailure("follow-ups not supported", detail="Open311 GeoReport v2 has no follow-up call")

    async def fetch(self, tracking_id: str) -> RegistryState:
        """GET /requests/{id}.json (resolving a pending token first)."""
        request_id = tracking_id
        if is_pending_token(tracking_id):
            resolved = await self._resolve_token(tracking_id[len(TOKEN_PREFIX) :])
            if resolved is None:
                return RegistryState(tracking_id=tracking_id, status=PENDING_TOKEN_STATUS)
            request_id = resolved
        document = await self._call("GET", f"/requests/{request_id}.json")
        item = _first(document)
        if not item:
            raise PermanentFailure("open311 request not found", detail=f"empty answer for {request_id}")
        return state_from_request(item, request_id)

    async def aclose(self) -> None:
        """Close the HTTP session if this client opened it."""
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None
