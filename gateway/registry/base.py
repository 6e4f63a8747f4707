"""What the dispatcher and lifecycle need from a registry, whatever registry it is."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from gateway.records import Complaint


@dataclass(frozen=True, slots=True)
class Filed:
    """The registry's answer to a filed complaint."""

    tracking_id: str
    status: str
    token: str | None = None


@dataclass(frozen=True, slots=True)
class AgencyResponse:
    """An answer the agency gave, as the registry reports it."""

    id: str
    text: str
    at: datetime | None = None


@dataclass(frozen=True, slots=True)
class RegistryState:
    """A complaint as the registry holds it now."""

    tracking_id: str
    status: str
    updated_at: datetime | None = None
    agency: str | None = None
    category: str | None = None
    classification: str | None = None
    responses: tuple[AgencyResponse, ...] = ()
    followups: tuple[str, ...] = field(default_factory=tuple)


class RegistryClient(Protocol):
    """A registry target: LAPOR! contract, Open311 GeoReport v2, or a signed webhook.

    Failures are raised as gateway.errors.TransientFailure (retry, honouring retry_after),
    PermanentFailure (dead letter) or ConfigurationError (bad credentials: dead letter, alert).
    """

    async def file(self, complaint: Complaint, *, idempotency_key: str) -> Filed: ...

    async def follow_up(self, tracking_id: str, complaint: Complaint, *, idempotency_key: str) -> None: ...

    async def fetch(self, tracking_id: str) -> RegistryState: ...

    async def aclose(self) -> None: ...
