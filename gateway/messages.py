"""What a channel hands over: the raw message, stored verbatim before any acknowledgement."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Protocol


def _frozen(meta: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(meta))


@dataclass(frozen=True, slots=True)
class RawMessage:
    """Exactly what arrived on a channel, with the transport facts that matter."""

    channel: str
    event: str
    external_id: str
    received_at: datetime
    payload: bytes
    meta: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.received_at.tzinfo is None:
            raise ValueError("received_at must be timezone-aware")
        object.__setattr__(self, "meta", _frozen(self.meta))

    @property
    def sha256(self) -> str:
        """Hex digest of the payload, the content address of the raw archive."""
        return hashlib.sha256(self.payload).hexdigest()


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


class Stored(StrEnum):
    """What the sink did with a submitted raw message."""

    NEW = "new"
    DUPLICATE = "duplicate"
    SPOOLED = "spooled"


class Sink(Protocol):
    """Where channels put raw messages; `submit` returns once the message is durable."""

    async def submit(self, raw: RawMessage) -> Stored: ...
